//! The authority's trust material as a relying party holds it, made in
//! process for the relying parties' benchmarks (the railway's gate, the
//! hotel's desk): the issuer's public key and its status list, signed.

use anyhow::Result;
use shenfen_credential::{CachedStatusList, PrivateJwk, StatusList, StatusListToken, TrustedIssuer, VerifierCache};

/// The authority the benchmarks' credentials come from.
pub(crate) const ISSUER: &str = "https://authority.gd.shenfen.example";
/// Its status list.
pub(crate) const STATUS_URI: &str = "https://authority.gd.shenfen.example/status/1";
/// The `kid` of its signing key.
pub(crate) const KID: &str = "k-2026";

/// A verifier's cache synced at `now`: `issuer`'s key and a 131,072-entry
/// status list (2 bits per entry, one card revoked), as the authority
/// publishes it — the list's size is what a verifier checks the status in.
pub(crate) fn trust_cache(issuer: &PrivateJwk, now: i64) -> Result<VerifierCache> {
    let mut list = StatusList::new(1 << 17, 2)?;
    list.set(7, 1)?;
    let token = StatusListToken {
        subject: STATUS_URI.into(),
        issued_at: now,
        expires_at: Some(now + 86_400),
        ttl: Some(300),
        list,
    }
    .sign(&issuer.signing_key()?, Some(KID))?;
    Ok(VerifierCache {
        synced_at: now,
        trusted_until: None,
        issuers: vec![TrustedIssuer {
            issuer: ISSUER.into(),
            keys: vec![issuer.public().clone().with_kid(KID).to_value()],
        }],
        status_lists: vec![CachedStatusList { uri: STATUS_URI.into(), token }],
    })
}
