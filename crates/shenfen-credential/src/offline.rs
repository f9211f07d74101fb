//! Verifying a presentation with no network: the issuers a verifier trusts,
//! their keys and their status lists come from a cache refreshed while it had
//! a connection, and the verifier refuses once that cache is older than it
//! allows.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    CredentialError, Jws, KeyBindingCheck, PublicJwk, SdJwt, StatusListToken, VerifiedVc, VerifyOptions, verify_vc,
};

/// An authority whose credentials this verifier accepts, with its keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustedIssuer {
    /// The credential issuer identifier (`iss`).
    pub issuer: String,
    /// Its signing keys (current and retired), each with a `kid`.
    pub keys: Vec<Value>,
}

/// What a verifier keeps for offline use.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerifierCache {
    /// When the cache was last refreshed (seconds since the epoch).
    pub synced_at: i64,
    /// The issuers trusted.
    pub issuers: Vec<TrustedIssuer>,
    /// Status list tokens by their URI.
    pub status_lists: Vec<CachedStatusList>,
}

/// One status list token as fetched.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedStatusList {
    /// The URI credentials point at.
    pub uri: String,
    /// The signed `statuslist+jwt`.
    pub token: String,
}

/// How strict an offline check is.
#[derive(Debug, Clone, Copy)]
pub struct OfflinePolicy<'a> {
    /// Now, seconds since the epoch.
    pub now: i64,
    /// Tolerated clock difference between phone and verifier.
    pub clock_skew_secs: i64,
    /// How old the key binding's `iat` may be: the QR's lifetime.
    pub max_age_secs: i64,
    /// How old the cache may be.
    pub max_cache_age_secs: i64,
    /// The audience the presentation must be bound to (the counter's purpose).
    pub audience: &'a str,
    /// Claims that must be disclosed.
    pub required_claims: &'a [&'a str],
}

/// Verifies `presentation` against the cache: a trusted issuer's signature,
/// key binding to the audience within the QR's lifetime, the required claims
/// disclosed, and a VALID status in the cached list.
pub fn verify_offline(
    presentation: &SdJwt,
    cache: &VerifierCache,
    policy: &OfflinePolicy<'_>,
) -> Result<VerifiedVc, CredentialError> {
    let age = policy.now - cache.synced_at;
    if age > policy.max_cache_age_secs {
        return Err(CredentialError::StaleCache { age_secs: age, max_secs: policy.max_cache_age_secs });
    }
    let issuer_jws = Jws::parse(presentation.issuer_jwt(), "issuer-signed JWT")?;
    let iss = issuer_jws.payload().get("iss").and_then(Value::as_str).unwrap_or_default();
    let kid = issuer_jws.header().get("kid").and_then(Value::as_str);
    let trusted = cache
        .issuers
        .iter()
        .find(|t| t.issuer == iss)
        .ok_or_else(|| CredentialError::UntrustedIssuer(iss.to_owned()))?;
    let key = PublicJwk::find_by_kid(&trusted.keys, kid)
        .ok_or_else(|| CredentialError::UntrustedIssuer(format!("{iss} (key {})", kid.unwrap_or("without kid"))))?
        .1;
    // Offline there is no verifier nonce: the wallet picks one, and replays are
    // caught by the caller remembering presentations until they expire.
    let nonce = presentation
        .key_binding()
        .and_then(|kb| Jws::parse(kb, "key binding JWT").ok())
        .and_then(|kb| kb.payload().get("nonce").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let options = VerifyOptions {
        now: policy.now,
        clock_skew_secs: policy.clock_skew_secs,
        expected_typ: None,
        key_binding: Some(KeyBindingCheck {
            audience: policy.audience,
            nonce: &nonce,
            max_age_secs: policy.max_age_secs,
        }),
    };
    let vc = verify_vc(presentation, &key, &options)?;
    if let Some(missing) = policy.required_claims.iter().find(|c| !vc.claims.contains_key(**c)) {
        return Err(CredentialError::MissingClaim((*missing).to_owned()));
    }
    if let Some(reference) = &vc.status {
        let cached = cache
            .status_lists
            .iter()
            .find(|l| l.uri == reference.uri)
            .ok_or_else(|| CredentialError::UncachedStatusList(reference.uri.clone()))?;
        StatusListToken::verify(&cached.token, &key, policy.now, policy.clock_skew_secs)?.require_valid(reference)?;
    }
    Ok(vc)
}
