//! Keeps docs/ERRORS.md true: every stable error code in the source of
//! the domain, store and verifier crates must be documented there.

const DOCS: &str = include_str!("../../../docs/ERRORS.md");
const SOURCES: [&str; 9] = [
    include_str!("../../shenfen-server/src/app.rs"),
    include_str!("../../shenfen-server/src/relying_party_registration.rs"),
    include_str!("../../shenfen-server/src/counter.rs"),
    include_str!("../../shenfen-wallet/src/error.rs"),
    include_str!("../../shenfen-store/src/error.rs"),
    include_str!("../src/error.rs"),
    include_str!("../../shenfen-core/src/error.rs"),
    include_str!("../../shenfen-face/src/error.rs"),
    include_str!("../../shenfen-verifier/src/error.rs"),
];

#[test]
fn error_codes_are_documented() {
    let codes: Vec<&str> = SOURCES
        .iter()
        .flat_map(|source| source.lines())
        .filter_map(|line| line.split_once("=> \"").map(|(_, rest)| rest.trim_end_matches("\",")))
        .collect();
    assert!(codes.len() > 55, "found only {} codes; did the source layout change?", codes.len());
    let missing: Vec<&&str> = codes.iter().filter(|code| !DOCS.contains(&format!("`{code}`"))).collect();
    assert!(missing.is_empty(), "undocumented error codes: {missing:?}");
}
