//! The trust list: which authorities (one per region) a verifier accepts,
//! with the keys each may sign with, signed by a national trust anchor. A
//! region joins by being added; a key rotated out or removed stops verifying
//! when verifiers refresh the list.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::es256::{SigningKey, VerifyingKey};
use crate::verification::{check_not_expired, numeric_date};
use crate::{CredentialError, Jws, PublicJwk, es256_header, sign_compact};

/// The `typ` of a signed trust list.
pub const TRUST_LIST_TYP: &str = "shenfen-trust-list+jwt";

/// One trusted authority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrustedAuthority {
    /// Its credential issuer identifier (`iss` of its credentials).
    pub issuer: String,
    /// The region it registers (e.g. `Guangdong`).
    pub region: String,
    /// Its signing keys, each with a `kid`: only these verify its credentials.
    pub keys: Vec<Value>,
}

/// A trust list as signed.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustList {
    /// Seconds since the epoch.
    pub issued_at: i64,
    /// After this, verifiers stop using the list.
    pub expires_at: i64,
    /// The authorities.
    pub authorities: Vec<TrustedAuthority>,
}

impl TrustList {
    /// Signs the list with the trust anchor's key.
    pub fn sign(&self, anchor: &SigningKey, kid: Option<&str>) -> Result<String, CredentialError> {
        for authority in &self.authorities {
            for key in &authority.keys {
                PublicJwk::from_value_with_verifier(key)?;
            }
        }
        let mut claims = Map::new();
        claims.insert("iat".into(), Value::from(self.issued_at));
        claims.insert("exp".into(), Value::from(self.expires_at));
        let authorities = serde_json::to_value(&self.authorities)
            .map_err(|_| CredentialError::Json { what: "trust list", reason: "not serialisable".into() })?;
        claims.insert("authorities".into(), authorities);
        sign_compact(&es256_header(TRUST_LIST_TYP, kid), &claims, anchor)
    }

    /// Verifies a signed list against the trust anchor's key and its expiry.
    pub fn verify(jwt: &str, anchor: &VerifyingKey, now: i64, skew: i64) -> Result<TrustList, CredentialError> {
        let jws = Jws::parse(jwt.trim(), "trust list")?;
        jws.expect_typ(TRUST_LIST_TYP)?;
        jws.verify(anchor)?;
        let claims = jws.payload();
        let issued_at = numeric_date(claims, "iat")?.ok_or(CredentialError::InvalidTimeClaim("iat"))?;
        let expires_at = numeric_date(claims, "exp")?.ok_or(CredentialError::InvalidTimeClaim("exp"))?;
        check_not_expired("trust list", Some(expires_at), now, skew)?;
        let authorities: Vec<TrustedAuthority> = serde_json::from_value(
            claims.get("authorities").cloned().ok_or_else(|| CredentialError::MissingClaim("authorities".into()))?,
        )
        .map_err(|e| CredentialError::Json { what: "trust list authorities", reason: e.to_string() })?;
        Ok(TrustList { issued_at, expires_at, authorities })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrivateJwk;

    fn list(key: &PrivateJwk) -> TrustList {
        TrustList {
            issued_at: 1_000,
            expires_at: 2_000,
            authorities: vec![TrustedAuthority {
                issuer: "https://id.gd.example".into(),
                region: "Guangdong".into(),
                keys: vec![key.public().clone().with_kid("gd-2026").to_value()],
            }],
        }
    }

    #[test]
    fn signed_lists_verify_and_anything_else_is_refused() {
        let anchor = PrivateJwk::generate().unwrap();
        let authority = PrivateJwk::generate().unwrap();
        let jwt = list(&authority).sign(&anchor.signing_key().unwrap(), Some("anchor-1")).unwrap();
        let anchor_key = anchor.public().verifying_key().unwrap();
        assert_eq!(TrustList::verify(&jwt, &anchor_key, 1_500, 60).unwrap(), list(&authority));
        let expired = TrustList::verify(&jwt, &anchor_key, 2_100, 60).unwrap_err();
        assert_eq!(expired.code(), "credential.time.expired");
        assert!(expired.to_string().starts_with("the trust list expired at"), "not the credential: {expired}");
        let other = PrivateJwk::generate().unwrap().public().verifying_key().unwrap();
        assert_eq!(TrustList::verify(&jwt, &other, 1_500, 60).unwrap_err().code(), "credential.signature");
        let bad_key = TrustList {
            authorities: vec![TrustedAuthority {
                keys: vec![serde_json::json!({"kty": "EC"})],
                ..list(&authority).authorities[0].clone()
            }],
            ..list(&authority)
        };
        assert_eq!(bad_key.sign(&anchor.signing_key().unwrap(), None).unwrap_err().code(), "credential.jwk.invalid");
    }
}
