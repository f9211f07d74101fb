//! Verifying a presentation with no network: the issuers a verifier trusts,
//! their keys and their status lists come from a cache refreshed while it had
//! a connection, and the verifier refuses once that cache is older than it
//! allows.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    CredentialError, Jws, KeyBindingCheck, PublicJwk, SdJwt, StatusListToken, StatusReference, VerifiedVc,
    VerifyOptions, verify_vc,
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
    /// The `exp` of the signed trust list the issuers came from, if they
    /// came from one: past it, nothing in the cache is trusted any more.
    #[serde(default)]
    pub trusted_until: Option<i64>,
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
/// disclosed, and a VALID status in a cached list signed by that same issuer
/// and published under its URL.
pub fn verify_offline(
    presentation: &SdJwt,
    cache: &VerifierCache,
    policy: &OfflinePolicy<'_>,
) -> Result<VerifiedVc, CredentialError> {
    verify_cached(presentation, cache, policy, None)
}

/// Verifies an online answer against the cache as [`verify_offline`] does,
/// with one more check: the key binding answers this verifier's `nonce`
/// (OpenID4VP), not one the wallet picked.
pub fn verify_online(
    presentation: &SdJwt,
    cache: &VerifierCache,
    policy: &OfflinePolicy<'_>,
    nonce: &str,
) -> Result<VerifiedVc, CredentialError> {
    verify_cached(presentation, cache, policy, Some(nonce))
}

/// The checks of [`verify_offline`]; with `nonce`, the key binding must carry it.
fn verify_cached(
    presentation: &SdJwt,
    cache: &VerifierCache,
    policy: &OfflinePolicy<'_>,
    nonce: Option<&str>,
) -> Result<VerifiedVc, CredentialError> {
    let age = policy.now - cache.synced_at;
    if age > policy.max_cache_age_secs {
        return Err(CredentialError::StaleCache { age_secs: age, max_secs: policy.max_cache_age_secs });
    }
    if let Some(expired_at) = cache.trusted_until.filter(|exp| policy.now - policy.clock_skew_secs >= *exp) {
        return Err(CredentialError::TrustListExpired { expired_at, now: policy.now });
    }
    let (trusted, key) = trusted_key(presentation, &cache.issuers)?;
    // Offline there is no verifier nonce: the wallet picks one, and replays are
    // caught by the caller remembering presentations until they expire.
    let nonce = match nonce {
        Some(nonce) => nonce.to_owned(),
        None => {
            key_binding_claim(presentation, "nonce").and_then(|n| n.as_str().map(str::to_owned)).unwrap_or_default()
        }
    };
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
    // A credential a counter accepts can be revoked and expires: without a
    // visible `status` and `exp` (made disclosable and withheld, say) it is refused.
    for claim in ["exp", "status"].into_iter().chain(policy.required_claims.iter().copied()) {
        if !vc.claims.contains_key(claim) {
            return Err(CredentialError::MissingClaim(claim.to_owned()));
        }
    }
    let reference = vc.status.as_ref().ok_or_else(|| CredentialError::MissingClaim("status".into()))?;
    status_list_of(trusted, reference, cache, policy)?.require_valid(reference)?;
    Ok(vc)
}

/// The clock difference tolerated between the phone that made a key
/// binding and the authority that issued its credential (as a desk allows).
const AS_SHOWN_SKEW_SECS: i64 = 60;

/// Verifies a presentation as it was when it was shown, for evidence checked
/// later — a hotel's register entry reaching the police, possibly hours
/// after the check-in: a trusted issuer's signature over what is disclosed,
/// the credential valid and the key binding to `audience` signed by the
/// holder's key, both at the key binding's own `iat` (the time it was shown).
/// No age and no status check: the verifier that accepted it checked those
/// then; what this proves is that the authority issued it and its holder
/// showed it to `audience` — a verifier cannot make one up.
pub fn verify_as_shown(
    presentation: &SdJwt,
    issuers: &[TrustedIssuer],
    audience: &str,
) -> Result<VerifiedVc, CredentialError> {
    let (_, key) = trusted_key(presentation, issuers)?;
    let claim = |name| key_binding_claim(presentation, name).ok_or(CredentialError::MissingKeyBinding);
    let shown_at = claim("iat")?.as_i64().ok_or(CredentialError::MissingKeyBinding)?;
    let nonce = claim("nonce")?.as_str().map(str::to_owned).unwrap_or_default();
    let options = VerifyOptions {
        now: shown_at,
        clock_skew_secs: AS_SHOWN_SKEW_SECS,
        expected_typ: None,
        key_binding: Some(KeyBindingCheck { audience, nonce: &nonce, max_age_secs: 0 }),
    };
    verify_vc(presentation, &key, &options)
}

/// The issuer the presentation names, if trusted, and the key of it its header names.
fn trusted_key<'a>(
    presentation: &SdJwt,
    issuers: &'a [TrustedIssuer],
) -> Result<(&'a TrustedIssuer, crate::es256::VerifyingKey), CredentialError> {
    let issuer_jws = Jws::parse(presentation.issuer_jwt(), "issuer-signed JWT")?;
    let iss = issuer_jws.payload().get("iss").and_then(Value::as_str).unwrap_or_default();
    let kid = issuer_jws.header().get("kid").and_then(Value::as_str);
    let trusted =
        issuers.iter().find(|t| t.issuer == iss).ok_or_else(|| CredentialError::UntrustedIssuer(iss.to_owned()))?;
    let key = PublicJwk::find_by_kid(&trusted.keys, kid)
        .ok_or_else(|| CredentialError::UntrustedIssuer(format!("{iss} (key {})", kid.unwrap_or("without kid"))))?
        .1;
    Ok((trusted, key))
}

/// A claim of the presentation's key binding JWT, read before it is verified
/// (its signature is checked with the rest by the caller).
fn key_binding_claim(presentation: &SdJwt, name: &str) -> Option<Value> {
    let kb = Jws::parse(presentation.key_binding()?, "key binding JWT").ok()?;
    kb.payload().get(name).cloned()
}

/// The cached status list `reference` points into: published under the
/// issuer's own URL, and signed by one of the issuer's keys (current or
/// retired, whichever its `kid` names) — so another authority cannot publish
/// a list for this one's credentials.
fn status_list_of(
    issuer: &TrustedIssuer,
    reference: &StatusReference,
    cache: &VerifierCache,
    policy: &OfflinePolicy<'_>,
) -> Result<StatusListToken, CredentialError> {
    if !reference.uri.starts_with(&format!("{}/", issuer.issuer.trim_end_matches('/'))) {
        return Err(CredentialError::StatusListSubjectMismatch {
            expected: format!("{}/…", issuer.issuer),
            found: reference.uri.clone(),
        });
    }
    let mut refusal = CredentialError::UncachedStatusList(reference.uri.clone());
    for cached in cache.status_lists.iter().filter(|l| l.uri == reference.uri) {
        match verify_status_list(&cached.token, issuer, policy.now, policy.clock_skew_secs) {
            Ok(token) => return Ok(token),
            Err(e) => refusal = e,
        }
    }
    Err(refusal)
}

/// A status list token verified with the issuer key its header names (a
/// list is signed with the current key while credentials signed before a
/// rotation still point into it).
pub fn verify_status_list(
    token: &str,
    issuer: &TrustedIssuer,
    now: i64,
    skew: i64,
) -> Result<StatusListToken, CredentialError> {
    let kid =
        Jws::parse(token.trim(), "status list token")?.header().get("kid").and_then(Value::as_str).map(str::to_owned);
    let (_, key) = PublicJwk::find_by_kid(&issuer.keys, kid.as_deref()).ok_or_else(|| {
        CredentialError::UntrustedIssuer(format!(
            "{} (status list key {})",
            issuer.issuer,
            kid.as_deref().unwrap_or("without kid")
        ))
    })?;
    StatusListToken::verify(token, &key, now, skew)
}
