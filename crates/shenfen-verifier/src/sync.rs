//! The trust material a verifier fetches, always whole and never about a
//! citizen: the trusted authorities and their keys (from a trust list signed
//! by the trust anchor, or from the authorities' own JWKS in a demo) and each
//! authority's whole status list. An authority serving these sees only that
//! some verifier refreshed — the same request every verifier makes (herd
//! privacy).

use std::sync::Once;
use std::time::Duration;

use serde_json::Value;
use shenfen_credential::es256::VerifyingKey;
use shenfen_credential::{CachedStatusList, TrustList, TrustedIssuer, VerifierCache, verify_status_list};
use ureq::Agent;

use crate::VerifierError;

/// Where the trusted authorities come from.
pub enum TrustSource {
    /// A signed trust list and the trust anchor's key: exactly the listed
    /// authorities, with exactly their listed keys.
    TrustList {
        /// The signed list (`shenfen trust-list build`).
        jwt: String,
        /// The anchor's public key.
        anchor: VerifyingKey,
    },
    /// Authorities trusted with the keys their JWKS publishes (a demo with one authority).
    Servers(Vec<String>),
}

/// Clock skew tolerated on fetched lists, seconds.
const SKEW_SECS: i64 = 60;
/// The path every authority serves its status list at.
const STATUS_LIST_PATH: &str = "/status/1";

/// Fetches the trusted authorities, their keys and their whole status lists;
/// each list must verify with its authority's keys and be published under its URL.
/// The cache counts as synced when its oldest list was signed, not when it
/// was fetched: an old list served again (a stale proxy, a replay from
/// before a revocation) ages the cache as it should, and verifiers holding
/// it to a maximum age fail closed.
pub fn fetch_cache(source: &TrustSource, now: i64) -> Result<VerifierCache, VerifierError> {
    let (issuers, trusted_until) = match source {
        TrustSource::TrustList { jwt, anchor } => {
            let list = TrustList::verify(jwt, anchor, now, SKEW_SECS)?;
            let issuers = list.authorities.into_iter().map(|a| TrustedIssuer { issuer: a.issuer, keys: a.keys });
            (issuers.collect(), Some(list.expires_at))
        }
        TrustSource::Servers(servers) => {
            (servers.iter().map(|server| published_keys(server)).collect::<Result<Vec<_>, _>>()?, None)
        }
    };
    let mut cache = VerifierCache { synced_at: now, trusted_until, ..VerifierCache::default() };
    for issuer in issuers {
        let token = get_text(&format!("{}{STATUS_LIST_PATH}", issuer.issuer.trim_end_matches('/')))?;
        let list = verify_status_list(&token, &issuer, now, SKEW_SECS)?;
        if !list.subject.starts_with(&format!("{}/", issuer.issuer.trim_end_matches('/'))) {
            return Err(VerifierError::ForeignStatusList { issuer: issuer.issuer, subject: list.subject });
        }
        cache.synced_at = signed_no_later(cache.synced_at, list.issued_at);
        cache.issuers.push(issuer);
        cache.status_lists.push(CachedStatusList { uri: list.subject, token });
    }
    Ok(cache)
}

/// When a cache synced at `synced_at` holding a list signed at `issued_at`
/// is as fresh as: the older of the two (a list dated ahead, within the
/// tolerated skew, does not make the cache younger than its fetch).
fn signed_no_later(synced_at: i64, issued_at: i64) -> i64 {
    synced_at.min(issued_at)
}

/// An authority trusted on its own word: its issuer identifier and the keys its JWKS publishes.
fn published_keys(server: &str) -> Result<TrustedIssuer, VerifierError> {
    let base = server.trim_end_matches('/');
    let metadata = get_json(&format!("{base}/.well-known/openid-credential-issuer"))?;
    let issuer = metadata["credential_issuer"].as_str().ok_or_else(|| VerifierError::Network {
        url: base.to_owned(),
        reason: "the issuer metadata names no credential_issuer".into(),
    })?;
    let jwks = get_json(&format!("{base}/jwks.json"))?;
    Ok(TrustedIssuer { issuer: issuer.to_owned(), keys: jwks["keys"].as_array().cloned().unwrap_or_default() })
}

/// GETs `url` as JSON.
pub(crate) fn get_json(url: &str) -> Result<Value, VerifierError> {
    serde_json::from_str(&get_text(url)?)
        .map_err(|e| VerifierError::Network { url: url.to_owned(), reason: format!("not JSON: {e}") })
}

/// Largest body accepted from an authority: a status list of a megacity's
/// credentials compresses far below this.
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// GETs `url` and returns the body; anything but a 2xx is an error.
fn get_text(url: &str) -> Result<String, VerifierError> {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Another part of the process may have installed one already; either is fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
    let agent: Agent = Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let failed = |reason: String| VerifierError::Network { url: url.to_owned(), reason };
    let mut response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    let body = response.body_mut().with_config().limit(MAX_BODY).read_to_string().map_err(|e| failed(e.to_string()))?;
    if !status.is_success() {
        return Err(failed(format!("answered {status}")));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_is_as_old_as_its_oldest_list_never_younger_than_its_fetch() {
        let fetched = 1_800_000_000;
        assert_eq!(signed_no_later(fetched, fetched - 120), fetched - 120, "a list re-signed two minutes ago");
        assert_eq!(signed_no_later(fetched, fetched - 7200), fetched - 7200, "a list replayed from two hours ago");
        assert_eq!(signed_no_later(fetched, fetched + 30), fetched, "a list dated ahead within the skew");
        let two = signed_no_later(signed_no_later(fetched, fetched - 10), fetched - 900);
        assert_eq!(two, fetched - 900, "of two authorities' lists, the older");
    }
}
