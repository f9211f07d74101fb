//! The authority's trust material as a relying party holds it, made in
//! process for the relying parties' benchmarks (the railway's gate, the
//! hotel's desk): the issuer's public key and its status list, signed.

use anyhow::Result;
use serde_json::Value;
use shenfen_credential::{
    CachedStatusList, PrivateJwk, SdJwt, StatusList, StatusListToken, StatusReference, TrustedIssuer, VcIssuance,
    VerifierCache, issue_vc,
};

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

/// A card of edition `vct` with `claims` (those at `disclosable` selectively
/// disclosable) for `holder`, issued by `issuer` at `now` for 30 days, its
/// status in the list of [`trust_cache`].
pub(crate) fn issue_card(
    issuer: &PrivateJwk,
    holder: &PrivateJwk,
    (vct, claims): (&str, &Value),
    disclosable: &[String],
    now: i64,
) -> Result<SdJwt> {
    let status = StatusReference { uri: STATUS_URI.into(), idx: 82_923 };
    let params = VcIssuance {
        vct,
        holder: holder.public(),
        issued_at: now,
        expires_at: now + 30 * 86_400,
        status: Some(&status),
        kid: Some(KID),
        disclosable,
        max_decoys: 0,
    };
    let object = claims.as_object().ok_or_else(|| anyhow::anyhow!("claims"))?.clone();
    Ok(issue_vc(&issuer.signing_key()?, object, &params)?)
}
