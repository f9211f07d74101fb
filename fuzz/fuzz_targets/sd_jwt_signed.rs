//! Behind the signature: any issuer payload (first line, JSON) and any
//! disclosures (the following lines) are signed here with a fixed test key,
//! then verified — so the disclosure processing that only a signed
//! credential reaches (nesting, digests, collisions, reserved names, the
//! SD-JWT VC rules) is fuzzed too. Must never panic or overflow the stack.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use shenfen_credential::es256::{SigningKey, VerifyingKey};
use shenfen_credential::{PrivateJwk, SdJwt, VerifyOptions, es256_header, sign_compact, verify_vc};

/// A key made for this target only (its private half is public, here).
const TEST_KEY: &str = r#"{"crv":"P-256","d":"fzS4Cc6Fa8cg_fUgoEiofofrmTR8PHKczA9Zaacma88","kty":"EC","x":"10O8VsJ16F-U8MC3FuI2K-D65S_1dWt9ytZswD3G_7g","y":"9rzGjqUbuIVBFI1RLz53Z20Puir1418UgH01Oaduokw"}"#;

static KEYS: LazyLock<(SigningKey, VerifyingKey)> = LazyLock::new(|| {
    let key = PrivateJwk::from_json(TEST_KEY).unwrap_or_else(|e| panic!("test key: {e}"));
    let verifying = key.public().verifying_key().unwrap_or_else(|e| panic!("test key: {e}"));
    (key.signing_key().unwrap_or_else(|e| panic!("test key: {e}")), verifying)
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.lines();
    let Some(Ok(serde_json::Value::Object(payload))) = lines.next().map(serde_json::from_str) else { return };
    let Ok(issuer_jwt) = sign_compact(&es256_header("dc+sd-jwt", None), &payload, &KEYS.0) else { return };
    let mut sd_jwt = issuer_jwt;
    sd_jwt.push('~');
    for disclosure in lines.filter(|l| !l.is_empty()) {
        sd_jwt.push_str(disclosure.trim());
        sd_jwt.push('~');
    }
    let Ok(parsed) = SdJwt::parse(&sd_jwt) else { return };
    let options = VerifyOptions { now: 1_800_000_000, clock_skew_secs: 60, expected_typ: None, key_binding: None };
    let _ = verify_vc(&parsed, &KEYS.1, &options);
});
