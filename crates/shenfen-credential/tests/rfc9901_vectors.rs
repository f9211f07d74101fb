//! The examples of RFC 9901 (SD-JWT) as test vectors: each is decoded,
//! verified, compared with the processed payload printed in the RFC, and
//! re-encoded byte for byte. Extracted from the RFC text into `vectors/rfc9901/`.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use serde_json::Value;
use shenfen_credential::{
    CredentialError, KeyBindingCheck, PublicJwk, SdJwt, VC_TYP, VerifyOptions, es256::VerifyingKey, verify, verify_vc,
};

/// `iat` of the RFC's key binding JWTs.
const KB_IAT: i64 = 1_748_536_865;
const NONCE: &str = "1234567890";
const AUDIENCE: &str = "https://verifier.example.org";

fn vector(name: &str) -> String {
    let path = format!("{}/tests/vectors/rfc9901/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")).trim().to_owned()
}

fn issuer_key() -> VerifyingKey {
    PublicJwk::from_json(&vector("issuer.pub.jwk")).unwrap().verifying_key().unwrap()
}

fn json(name: &str) -> Value {
    serde_json::from_str(&vector(name)).unwrap()
}

fn options(key_binding: bool) -> VerifyOptions<'static> {
    VerifyOptions {
        now: KB_IAT + 30,
        clock_skew_secs: 60,
        expected_typ: None,
        key_binding: key_binding.then_some(KeyBindingCheck { audience: AUDIENCE, nonce: NONCE, max_age_secs: 300 }),
    }
}

fn check_presentation(file: &str, processed: &str, key_binding: bool) {
    let text = vector(file);
    let sd_jwt = SdJwt::parse(&text).unwrap();
    assert_eq!(sd_jwt.serialize(), text, "{file} re-encodes byte for byte");
    assert_eq!(sd_jwt.key_binding().is_some(), key_binding);
    let verified = verify(&sd_jwt, &issuer_key(), &options(key_binding)).unwrap();
    assert_eq!(Value::Object(verified.claims), json(processed), "{file}");
}

#[test]
fn section_5_2_presentation_with_key_binding() {
    check_presentation("s5_2_presentation.txt", "s5_2_processed.json", true);
}

#[test]
fn appendix_a1_simple_structured() {
    check_presentation("a1_presentation.txt", "a1_processed.json", false);
}

#[test]
fn appendix_a2_complex_structured() {
    check_presentation("a2_presentation.txt", "a2_processed.json", false);
}

#[test]
fn appendix_a3_sd_jwt_vc_with_recursive_disclosures() {
    check_presentation("a3_presentation.txt", "a3_processed.json", true);
    let sd_jwt = SdJwt::parse(&vector("a3_presentation.txt")).unwrap();
    let vc = verify_vc(&sd_jwt, &issuer_key(), &options(true)).unwrap();
    assert_eq!(vc.vct, "urn:eudi:pid:de:1");
}

#[test]
fn appendix_a4_w3c_vc() {
    check_presentation("a4_presentation.txt", "a4_processed.json", true);
}

#[test]
fn section_5_1_issuance_discloses_the_whole_input() {
    let sd_jwt = SdJwt::parse(&vector("s5_1_sd_jwt.txt")).unwrap();
    assert_eq!(sd_jwt.disclosures().len(), 10);
    let claims = verify(&sd_jwt, &issuer_key(), &options(false)).unwrap().claims;
    assert_eq!(claims["given_name"], "John");
    assert_eq!(claims["nationalities"], serde_json::json!(["US", "DE"]));
    assert_eq!(claims["address"]["locality"], "Anytown");
    assert_eq!(claims["updated_at"], 1_570_000_000);
    assert!(!claims.contains_key("_sd") && !claims.contains_key("_sd_alg"));
}

#[test]
fn appendix_a3_full_issuance_verifies_every_disclosure() {
    let sd_jwt = SdJwt::parse(&vector("a3_sd_jwt.txt")).unwrap();
    let claims = verify(&sd_jwt, &issuer_key(), &options(false)).unwrap().claims;
    assert_eq!(claims["address"]["locality"], "Köln");
    assert_eq!(claims["age_equal_or_over"]["65"], false);
    assert_eq!(claims["place_of_birth"]["locality"], "Berlin");
}

#[test]
fn typ_is_enforced_for_sd_jwt_vc() {
    // §5.2 uses typ example+sd-jwt, so as an SD-JWT VC it must be refused.
    let sd_jwt = SdJwt::parse(&vector("s5_2_presentation.txt")).unwrap();
    let err = verify_vc(&sd_jwt, &issuer_key(), &options(true)).unwrap_err();
    assert_eq!(
        err,
        CredentialError::WrongType { what: "issuer-signed JWT", found: "example+sd-jwt".into(), expected: VC_TYP }
    );
}

#[test]
fn key_binding_expectations_are_enforced_on_the_rfc_example() {
    let sd_jwt = SdJwt::parse(&vector("s5_2_presentation.txt")).unwrap();
    let key = issuer_key();
    let with = |audience: &'static str, nonce: &'static str, now: i64| {
        let opts = VerifyOptions {
            now,
            key_binding: Some(KeyBindingCheck { audience, nonce, max_age_secs: 300 }),
            ..options(true)
        };
        verify(&sd_jwt, &key, &opts).map(|_| ())
    };
    assert!(with(AUDIENCE, NONCE, KB_IAT).is_ok());
    assert!(matches!(with("https://other.example", NONCE, KB_IAT), Err(CredentialError::WrongAudience { .. })));
    assert_eq!(with(AUDIENCE, "1234567891", KB_IAT), Err(CredentialError::WrongNonce));
    assert!(matches!(with(AUDIENCE, NONCE, KB_IAT + 3600), Err(CredentialError::KeyBindingTooOld { .. })));
    assert!(matches!(with(AUDIENCE, NONCE, KB_IAT - 3600), Err(CredentialError::IssuedInFuture { .. })));
    // The issuer JWT expires at 1883000000.
    let expired = with(AUDIENCE, NONCE, 1_883_000_000 + 61).unwrap_err();
    assert!(matches!(expired, CredentialError::Expired { what: "credential", .. }), "{expired}");
    assert!(expired.to_string().starts_with("the credential expired at 1883000000"), "{expired}");
}

#[test]
fn the_key_binding_window_is_exactly_max_age_and_the_skew_only_forgives_a_future_iat() {
    let sd_jwt = SdJwt::parse(&vector("s5_2_presentation.txt")).unwrap();
    let key = issuer_key();
    let at = |now: i64| {
        let check = KeyBindingCheck { audience: AUDIENCE, nonce: NONCE, max_age_secs: 90 };
        let opts = VerifyOptions { now, clock_skew_secs: 60, key_binding: Some(check), ..options(true) };
        verify(&sd_jwt, &key, &opts).map(|_| ())
    };
    assert!(at(KB_IAT + 89).is_ok());
    assert!(at(KB_IAT + 90).is_ok(), "90 s old is still within 90 s");
    assert!(
        matches!(at(KB_IAT + 91), Err(CredentialError::KeyBindingTooOld { max_age_secs: 90, .. })),
        "the 60 s skew does not stretch the 90 s window"
    );
    assert!(at(KB_IAT - 60).is_ok(), "a holder clock 60 s ahead is forgiven");
    assert!(matches!(at(KB_IAT - 61), Err(CredentialError::IssuedInFuture { .. })));
}

#[test]
fn every_single_character_change_is_refused() {
    // Tamper test over the whole SD-JWT+KB: issuer JWT, every disclosure,
    // the separators and the key binding JWT.
    let text = vector("s5_2_presentation.txt");
    let key = issuer_key();
    let opts = options(true);
    for (position, original) in text.char_indices() {
        let replacement = if original == 'A' { 'B' } else { 'A' };
        let mut tampered = text.clone();
        tampered.replace_range(position..position + 1, &replacement.to_string());
        let outcome = SdJwt::parse(&tampered).and_then(|p| verify(&p, &key, &opts));
        assert!(outcome.is_err(), "changing position {position} ({original:?}) was not detected");
    }
}

#[test]
fn dropping_or_duplicating_disclosures_is_detected() {
    let text = vector("s5_2_presentation.txt");
    let sd_jwt = SdJwt::parse(&text).unwrap();
    let key = issuer_key();
    let opts = options(false);
    // Dropping a disclosure without a key binding is the holder's right.
    let parts: Vec<&str> = text.split('~').collect();
    let fewer = format!("{}~{}~", parts[0], parts[2..parts.len() - 1].join("~"));
    assert!(verify(&SdJwt::parse(&fewer).unwrap(), &key, &opts).is_ok());
    // But under a key binding, sd_hash covers the exact selection.
    let fewer_kb = format!("{}{}", fewer, parts[parts.len() - 1]);
    assert_eq!(
        verify(&SdJwt::parse(&fewer_kb).unwrap(), &key, &options(true)).unwrap_err(),
        CredentialError::SdHashMismatch
    );
    let first = sd_jwt.disclosures()[0].encoded();
    let doubled = format!("{}~{first}~{first}~", parts[0]);
    assert_eq!(
        verify(&SdJwt::parse(&doubled).unwrap(), &key, &opts).unwrap_err(),
        CredentialError::DuplicateDisclosure
    );
    let missing_kb = sd_jwt.without_key_binding();
    assert_eq!(
        verify(&SdJwt::parse(&missing_kb).unwrap(), &key, &options(true)).unwrap_err(),
        CredentialError::MissingKeyBinding
    );
}
