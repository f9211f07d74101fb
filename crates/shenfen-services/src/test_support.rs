//! What the crate's tests share: a fresh PostgreSQL schema, and an
//! authority with a device's cache trusting it and the QRs of its cards,
//! for the desk's and the gate's checks.

use serde_json::{Map, Value};
use shenfen_credential::{
    CachedStatusList, PrivateJwk, StatusList, StatusListToken, StatusReference, TrustedIssuer,
    VERIFIER_ATTESTATION_PREFIX, VcIssuance, VerifierCache, child_pointer, encode_qr_payload, issue_vc, present,
};

/// The tests' clock.
pub(crate) const NOW: i64 = 1_800_000_000;
/// The tests' authority, and the key id its cards are signed under.
pub(crate) const ISSUER: &str = "https://authority.example";
pub(crate) const KID: &str = "k-2026";
const STATUS_URI: &str = "https://authority.example/status/1";
/// The lightweight and the upgraded editions' `vct`.
pub(crate) const LIGHTWEIGHT: &str = "urn:shenfen:id:lightweight:1";
pub(crate) const UPGRADED: &str = "urn:shenfen:id:upgraded:1";

/// The authority's signing key and a device's cache trusting it (under
/// [`KID`]), with a status list in which every card is valid.
pub(crate) fn trusted_authority() -> (PrivateJwk, VerifierCache) {
    let authority = PrivateJwk::generate().unwrap();
    let token = StatusListToken {
        subject: STATUS_URI.into(),
        issued_at: NOW,
        expires_at: Some(NOW + 86_400),
        ttl: Some(300),
        list: StatusList::new(1024, 2).unwrap(),
    }
    .sign(&authority.signing_key().unwrap(), Some(KID))
    .unwrap();
    let cache = VerifierCache {
        synced_at: NOW,
        trusted_until: None,
        issuers: vec![TrustedIssuer {
            issuer: ISSUER.into(),
            keys: vec![authority.public().clone().with_kid(KID).to_value()],
        }],
        status_lists: vec![CachedStatusList { uri: STATUS_URI.into(), token }],
    };
    (authority, cache)
}

/// The QR payload of a card of edition `vct` with `claims` (each
/// disclosable), signed by `issuer` under `kid`, showing `shown` and
/// `service`'s pseudonym with a key binding to that attested service made just before [`NOW`].
pub(crate) fn service_qr(
    (issuer, kid, vct): (&PrivateJwk, &str, &str),
    claims: Map<String, Value>,
    service: &str,
    shown: &[&str],
) -> Vec<u8> {
    let holder = PrivateJwk::generate().unwrap();
    let pseudonym = child_pointer("/pseudonyms", service);
    let mut disclosable: Vec<String> = claims.keys().filter(|k| *k != "iss").map(|k| format!("/{k}")).collect();
    disclosable.push(pseudonym.clone());
    let status = StatusReference { uri: STATUS_URI.into(), idx: 5 };
    let params = VcIssuance {
        vct,
        holder: holder.public(),
        issued_at: NOW - 3600,
        expires_at: NOW + 86_400,
        status: Some(&status),
        kid: Some(kid),
        disclosable: &disclosable,
        max_decoys: 0,
    };
    let card = issue_vc(&issuer.signing_key().unwrap(), claims, &params).unwrap();
    let mut pointers: Vec<String> = shown.iter().map(|claim| format!("/{claim}")).collect();
    pointers.extend(["/pseudonyms".to_owned(), pseudonym]);
    let audience = format!("{VERIFIER_ATTESTATION_PREFIX}{service}");
    let shown = present(&card, &pointers, &holder.signing_key().unwrap(), &audience, "qr-1", NOW - 5).unwrap();
    encode_qr_payload(&shown).unwrap()
}

/// A fresh schema on the PostgreSQL server these machines run (or
/// `SHENFEN_TEST_POSTGRES`); its URL.
pub(crate) async fn fresh_postgres(name: &str) -> String {
    use sqlx::Connection;
    let base =
        std::env::var("SHENFEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("shenfen_services_{}_{name}", std::process::id());
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&base).await.expect("PostgreSQL runs for the tests");
    for statement in [format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), format!("CREATE SCHEMA {schema}")] {
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut admin).await.expect("a fresh schema");
    }
    format!("{base}?options=-c%20search_path%3D{schema}")
}
