//! Verifier Attestation JWTs (OpenID4VP 1.0 §12, used by the
//! `verifier_attestation` client identifier prefix of §5.9.3): the authority
//! vouches, once, at registration, for a relying party that runs its own
//! verifier — its client identifier, its name, the claims it may ask for,
//! where its answers go, and the key it signs its request objects with. The
//! wallet checks a request against the attestation, so the authority need not
//! see the request: it learns of the registration, never of a use.

use serde_json::{Map, Value};

use crate::es256::SigningKey;
use crate::verification::{check_not_expired, numeric_date};
use crate::{CredentialError, Jws, PublicJwk, es256_header, sign_compact};

/// The `typ` of a Verifier Attestation JWT (OpenID4VP 1.0 §12).
pub const VERIFIER_ATTESTATION_TYP: &str = "verifier-attestation+jwt";
/// The client identifier prefix whose requests carry an attestation in the
/// `jwt` JOSE header (OpenID4VP 1.0 §5.9.3).
pub const VERIFIER_ATTESTATION_PREFIX: &str = "verifier_attestation:";

/// What the authority attests about a relying party.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifierAttestation {
    /// The attesting authority (`iss`): its credential issuer identifier, whose
    /// JWKS verifies the attestation.
    pub issuer: String,
    /// The relying party's registered client identifier (`sub`), without the prefix.
    pub client_id: String,
    /// Its name as registered (`client_name`), which the wallet shows.
    pub name: String,
    /// The claim paths it is entitled to ask for (`entitled_claims`).
    pub claims: Vec<String>,
    /// The response URIs its requests may name (`redirect_uris`, §5.9.3: the
    /// wallet posts answers to no other).
    pub redirect_uris: Vec<String>,
    /// The key its request objects are signed with (`cnf.jwk`).
    pub key: PublicJwk,
    /// Seconds since the epoch.
    pub issued_at: i64,
    /// After this, wallets refuse the attestation.
    pub expires_at: i64,
}

impl VerifierAttestation {
    /// The full client identifier the relying party uses in requests and
    /// key bindings: `verifier_attestation:` and its registered one (§5.9.1).
    pub fn prefixed_client_id(&self) -> String {
        format!("{VERIFIER_ATTESTATION_PREFIX}{}", self.client_id)
    }

    /// Whether the relying party may ask for the claim at `path`: its
    /// entitlement, or its own pairwise pseudonym.
    pub fn entitles(&self, path: &str) -> bool {
        self.claims.iter().any(|claim| claim == path) || path == format!("pseudonyms/{}", self.client_id)
    }

    /// Signs the attestation with the authority's key.
    pub fn sign(&self, authority: &SigningKey, kid: Option<&str>) -> Result<String, CredentialError> {
        let mut claims = Map::new();
        claims.insert("iss".into(), Value::from(self.issuer.as_str()));
        claims.insert("sub".into(), Value::from(self.client_id.as_str()));
        claims.insert("client_name".into(), Value::from(self.name.as_str()));
        claims.insert("entitled_claims".into(), Value::from(self.claims.clone()));
        claims.insert("redirect_uris".into(), Value::from(self.redirect_uris.clone()));
        claims.insert("iat".into(), Value::from(self.issued_at));
        claims.insert("exp".into(), Value::from(self.expires_at));
        let mut cnf = Map::new();
        cnf.insert("jwk".into(), self.key.to_value());
        claims.insert("cnf".into(), Value::Object(cnf));
        sign_compact(&es256_header(VERIFIER_ATTESTATION_TYP, kid), &claims, authority)
    }

    /// Verifies an attestation against the keys of the authority (the key its
    /// header's `kid` names) and its expiry.
    pub fn verify(
        jwt: &str,
        authority_keys: &[Value],
        now: i64,
        skew: i64,
    ) -> Result<VerifierAttestation, CredentialError> {
        let jws = Jws::parse(jwt.trim(), "verifier attestation")?;
        jws.expect_typ(VERIFIER_ATTESTATION_TYP)?;
        let kid = jws.header().get("kid").and_then(Value::as_str);
        let (_, key) = PublicJwk::find_by_kid(authority_keys, kid).ok_or_else(|| {
            CredentialError::UntrustedIssuer(format!("verifier attestation key {}", kid.unwrap_or("without kid")))
        })?;
        jws.verify(&key)?;
        let claims = jws.payload();
        let expires_at = numeric_date(claims, "exp")?.ok_or(CredentialError::InvalidTimeClaim("exp"))?;
        check_not_expired("verifier attestation", Some(expires_at), now, skew)?;
        let text = |name: &str| -> Result<String, CredentialError> {
            claims
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(CredentialError::MissingClaim(name.into()))
        };
        let list = |name: &str| -> Vec<String> {
            let values = claims.get(name).and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
            values.iter().filter_map(Value::as_str).map(str::to_owned).collect()
        };
        let cnf = claims
            .get("cnf")
            .and_then(|cnf| cnf.get("jwk"))
            .ok_or_else(|| CredentialError::MissingClaim("cnf.jwk".into()))?;
        Ok(VerifierAttestation {
            issuer: text("iss")?,
            client_id: text("sub")?,
            name: text("client_name")?,
            claims: list("entitled_claims"),
            redirect_uris: list("redirect_uris"),
            key: PublicJwk::from_value(cnf)?,
            issued_at: numeric_date(claims, "iat")?.unwrap_or(0),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrivateJwk;

    fn attestation(key: &PublicJwk) -> VerifierAttestation {
        VerifierAttestation {
            issuer: "https://id.gd.example".into(),
            client_id: "https://rail.example".into(),
            name: "Rail Example".into(),
            claims: vec!["name".into(), "age_over_18".into()],
            redirect_uris: vec!["https://rail.example/openid4vp/response".into()],
            key: key.clone(),
            issued_at: 1_000,
            expires_at: 2_000,
        }
    }

    #[test]
    fn signed_attestations_verify_and_anything_else_is_refused() {
        let authority = PrivateJwk::generate().unwrap().with_kid("a1");
        let relying_party = PrivateJwk::generate().unwrap();
        let signed = attestation(relying_party.public());
        let jwt = signed.sign(&authority.signing_key().unwrap(), Some("a1")).unwrap();
        let keys = [authority.public().to_value()];
        assert_eq!(VerifierAttestation::verify(&jwt, &keys, 1_500, 60).unwrap(), signed);
        assert_eq!(signed.prefixed_client_id(), "verifier_attestation:https://rail.example");
        assert!(signed.entitles("name") && signed.entitles("pseudonyms/https://rail.example"));
        assert!(!signed.entitles("record/id_number") && !signed.entitles("pseudonyms/https://other.example"));
        let expired = VerifierAttestation::verify(&jwt, &keys, 2_100, 60).unwrap_err();
        assert_eq!(expired.code(), "credential.time.expired");
        let other = PrivateJwk::generate().unwrap().with_kid("a1");
        let forged = VerifierAttestation::verify(&jwt, &[other.public().to_value()], 1_500, 60).unwrap_err();
        assert_eq!(forged.code(), "credential.signature");
        let unknown = VerifierAttestation::verify(&jwt, &[], 1_500, 60).unwrap_err();
        assert_eq!(unknown.code(), "credential.offline.untrusted_issuer");
        let wrong_typ = sign_compact(
            &es256_header("JWT", Some("a1")),
            Jws::parse(&jwt, "t").unwrap().payload(),
            &authority.signing_key().unwrap(),
        )
        .unwrap();
        assert_eq!(VerifierAttestation::verify(&wrong_typ, &keys, 1_500, 60).unwrap_err().code(), "credential.jws.typ");
    }
}
