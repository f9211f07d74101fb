//! Any text as an SD-JWT+KB presentation: parse, then verify against a fixed
//! issuer key with key binding required. Must never panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use shenfen_credential::{KeyBindingCheck, PublicJwk, SdJwt, VerifyOptions, es256::VerifyingKey, verify, select};

/// The RFC 9901 example issuer key, so the seed corpus (RFC examples) verifies.
static ISSUER: LazyLock<VerifyingKey> = LazyLock::new(|| {
    PublicJwk::from_json(include_str!("../../crates/shenfen-credential/tests/vectors/rfc9901/issuer.pub.jwk"))
        .and_then(|jwk| jwk.verifying_key())
        .unwrap_or_else(|e| panic!("vector key: {e}"))
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(sd_jwt) = SdJwt::parse(text) else { return };
    let options = VerifyOptions {
        now: 1_748_536_900,
        clock_skew_secs: 60,
        expected_typ: None,
        key_binding: Some(KeyBindingCheck { audience: "https://verifier.example.org", nonce: "1234567890", max_age_secs: 300 }),
    };
    let _ = verify(&sd_jwt, &ISSUER, &options);
    let _ = verify(&sd_jwt, &ISSUER, &VerifyOptions { key_binding: None, ..options });
    let _ = select(&sd_jwt, &["/address".into(), "/nationalities/0".into()]);
    assert_eq!(sd_jwt.serialize(), text.trim());
});
