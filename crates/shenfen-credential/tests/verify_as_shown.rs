//! `verify_as_shown`: evidence checked after the fact (the police receiving
//! a hotel's register entry hours after the check-in). It must verify a
//! presentation long past its QR lifetime, and still refuse what a verifier
//! holding such evidence could try to pass off: another audience's
//! presentation, an issuer not trusted, a disclosure swapped for another,
//! a key binding re-signed by someone else, no key binding at all.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use serde_json::json;
use shenfen_credential::{
    CredentialError, PrivateJwk, SdJwt, StatusReference, TrustedIssuer, VcIssuance, bind, issue_vc, present,
    verify_as_shown,
};

const AUTHORITY: &str = "https://id.gd.example";
const HOTEL: &str = "verifier_attestation:https://hotel.example";
const ISSUED: i64 = 1_800_000_000;

struct Fixture {
    authority: PrivateJwk,
    holder: PrivateJwk,
    credential: SdJwt,
}

fn fixture() -> Fixture {
    let authority = PrivateJwk::generate().unwrap().with_kid("a1");
    let holder = PrivateJwk::generate().unwrap();
    let claims = json!({ "iss": AUTHORITY, "name": "王建国", "sealed_id_number": "eyJ.a.b.c.d" });
    let status = StatusReference { uri: format!("{AUTHORITY}/status/1"), idx: 3 };
    let disclosable = ["/name".to_owned(), "/sealed_id_number".to_owned()];
    let issuance = VcIssuance {
        vct: "https://id.gd.example/vct/basic",
        holder: holder.public(),
        issued_at: ISSUED,
        expires_at: ISSUED + 30 * 86_400,
        status: Some(&status),
        kid: Some("a1"),
        disclosable: &disclosable,
        max_decoys: 0,
    };
    let credential =
        issue_vc(&authority.signing_key().unwrap(), claims.as_object().unwrap().clone(), &issuance).unwrap();
    Fixture { authority, holder, credential }
}

fn trusted(authority: &PrivateJwk) -> Vec<TrustedIssuer> {
    vec![TrustedIssuer { issuer: AUTHORITY.into(), keys: vec![authority.public().to_value()] }]
}

/// The guest's QR for the hotel, shown an hour after issuance.
fn shown(f: &Fixture, audience: &str) -> SdJwt {
    let pointers = ["/name".to_owned(), "/sealed_id_number".to_owned()];
    present(&f.credential, &pointers, &f.holder.signing_key().unwrap(), audience, "wallet-nonce", ISSUED + 3600)
        .unwrap()
}

#[test]
fn a_presentation_verifies_as_shown_long_after_its_qr_expired() {
    let f = fixture();
    let verified = verify_as_shown(&shown(&f, HOTEL), &trusted(&f.authority), HOTEL).unwrap();
    assert_eq!(verified.claims["sealed_id_number"], "eyJ.a.b.c.d");
    assert_eq!(verified.key_binding_issued_at, Some(ISSUED + 3600), "the time it was shown");
}

#[test]
fn another_audience_or_an_untrusted_issuer_is_refused() {
    let f = fixture();
    let elsewhere =
        verify_as_shown(&shown(&f, "verifier_attestation:https://other.example"), &trusted(&f.authority), HOTEL);
    assert!(matches!(elsewhere, Err(CredentialError::WrongAudience { .. })), "{elsewhere:?}");
    let stranger = PrivateJwk::generate().unwrap().with_kid("a1");
    let untrusted = verify_as_shown(&shown(&f, HOTEL), &trusted(&stranger), HOTEL);
    assert!(matches!(untrusted, Err(CredentialError::BadSignature(_))), "{untrusted:?}");
}

#[test]
fn a_swapped_disclosure_a_foreign_key_binding_or_none_is_refused() {
    let f = fixture();
    let issuers = trusted(&f.authority);
    let genuine = shown(&f, HOTEL).serialize();
    // Another credential's sealed value put in place of this one's: its digest is not in the signed payload.
    let other = fixture();
    let foreign = shown(&other, HOTEL);
    let foreign_disclosure = foreign.serialize().split('~').nth(2).unwrap().to_owned();
    let mut parts: Vec<&str> = genuine.split('~').collect();
    parts[2] = &foreign_disclosure;
    let swapped = SdJwt::parse(&parts.join("~")).unwrap();
    assert!(verify_as_shown(&swapped, &issuers, HOTEL).is_err(), "a disclosure of another credential");
    // The verifier binds the credential to itself with its own key: not the holder's.
    let unbound = SdJwt::parse(&shown(&f, HOTEL).without_key_binding()).unwrap();
    let rebound =
        bind(unbound.clone(), &PrivateJwk::generate().unwrap().signing_key().unwrap(), HOTEL, "n", ISSUED).unwrap();
    assert!(verify_as_shown(&rebound, &issuers, HOTEL).is_err(), "a key binding by another key");
    let none = verify_as_shown(&unbound, &issuers, HOTEL);
    assert!(matches!(none, Err(CredentialError::MissingKeyBinding)), "{none:?}");
}
