//! P-256 JSON Web Keys (RFC 7517/7518) and their thumbprints (RFC 7638).
//!
//! Only what shenfen signs with is accepted: `kty: EC`, `crv: P-256`. Members
//! this code does not know (`use`, `key_ops`, `x5c`, vendor extensions) are
//! tolerated and dropped, as RFC 7517 §4 asks.

use aws_lc_rs::digest;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::es256::{SigningKey, VerifyingKey};
use crate::{CredentialError, base64url};

/// A P-256 public key as it travels in `cnf.jwk`, JWKS and trust lists.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicJwk {
    x: [u8; 32],
    y: [u8; 32],
    kid: Option<String>,
}

impl std::fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicJwk({})", self.thumbprint())
    }
}

impl PublicJwk {
    /// Parses a JWK from JSON text.
    pub fn from_json(text: &str) -> Result<PublicJwk, CredentialError> {
        Self::from_value(&parse_object(text)?)
    }

    /// Reads a JWK object, checking that it is a P-256 key on the curve.
    pub fn from_value(value: &Value) -> Result<PublicJwk, CredentialError> {
        Self::from_value_with_verifier(value).map(|(jwk, _)| jwk)
    }

    /// The key named `kid` among a set of JWKs (any key when `kid` is `None`),
    /// with its verifier; entries that are not P-256 keys are skipped. How a
    /// verifier picks the key a JWS header names from a JWKS or trust list.
    pub fn find_by_kid(keys: &[Value], kid: Option<&str>) -> Option<(PublicJwk, VerifyingKey)> {
        keys.iter()
            .filter_map(|k| PublicJwk::from_value_with_verifier(k).ok())
            .find(|(jwk, _)| kid.is_none() || jwk.kid() == kid)
    }

    /// Reads a JWK and returns it with its parsed verifier, so a caller that
    /// verifies right away (the key binding check) parses the point only once.
    pub fn from_value_with_verifier(value: &Value) -> Result<(PublicJwk, VerifyingKey), CredentialError> {
        let obj = value.as_object().ok_or_else(|| invalid("a JWK must be a JSON object"))?;
        check_key_type(obj)?;
        let x = coordinate(obj, "x")?;
        let y = coordinate(obj, "y")?;
        let verifier = VerifyingKey::from_coordinates(&x, &y)?;
        let kid = match obj.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(invalid("kid must be a string")),
        };
        Ok((PublicJwk { x, y, kid }, verifier))
    }

    /// The JWK as a JSON object with only the members that define the key (and `kid`).
    pub fn to_value(&self) -> Value {
        let mut obj = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": base64url::encode(self.x),
            "y": base64url::encode(self.y),
        });
        if let (Some(kid), Some(map)) = (&self.kid, obj.as_object_mut()) {
            map.insert("kid".into(), Value::String(kid.clone()));
        }
        obj
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required members in
    /// lexicographic order, base64url-encoded. Stable whatever else the JWK holds.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            base64url::encode(self.x),
            base64url::encode(self.y)
        );
        base64url::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    }

    /// The key id, if the JWK has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The same key with another key id.
    pub fn with_kid(mut self, kid: impl Into<String>) -> PublicJwk {
        self.kid = Some(kid.into());
        self
    }

    /// A verifier for signatures made with this key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, CredentialError> {
        VerifyingKey::from_coordinates(&self.x, &self.y)
    }

    /// The key as an uncompressed SEC1 point (`04 ‖ x ‖ y`), as key agreement takes it.
    pub(crate) fn uncompressed_point(&self) -> Vec<u8> {
        [&[0x04][..], &self.x, &self.y].concat()
    }
}

/// A P-256 private key in JWK form (with `d`), as `shenfen keys generate` writes it.
pub struct PrivateJwk {
    d: Zeroizing<[u8; 32]>,
    public: PublicJwk,
}

impl PrivateJwk {
    /// Generates a fresh key pair.
    pub fn generate() -> Result<PrivateJwk, CredentialError> {
        let key = SigningKey::generate()?;
        let (x, y) = key.public_coordinates();
        Ok(PrivateJwk { d: key.scalar()?, public: PublicJwk { x, y, kid: None } })
    }

    /// Parses a private JWK from JSON text.
    pub fn from_json(text: &str) -> Result<PrivateJwk, CredentialError> {
        Self::from_value(&parse_object(text)?)
    }

    /// Reads a private JWK, checking that `d` belongs to `x`/`y`.
    pub fn from_value(value: &Value) -> Result<PrivateJwk, CredentialError> {
        let public = PublicJwk::from_value(value)?;
        let d_text =
            value.get("d").and_then(Value::as_str).ok_or_else(|| invalid("a private JWK needs a \"d\" member"))?;
        let d = Zeroizing::new(base64url::decode_array::<32>(d_text, "JWK d")?);
        SigningKey::from_scalar(&d, &public.x, &public.y)?;
        Ok(PrivateJwk { d, public })
    }

    /// The private JWK as JSON, `d` included. Write it only where secrets belong.
    pub fn to_value(&self) -> Value {
        let mut value = self.public.to_value();
        if let Some(map) = value.as_object_mut() {
            map.insert("d".into(), Value::String(base64url::encode(*self.d)));
        }
        value
    }

    /// The public half.
    pub fn public(&self) -> &PublicJwk {
        &self.public
    }

    /// The same key with another key id.
    pub fn with_kid(self, kid: impl Into<String>) -> PrivateJwk {
        PrivateJwk { d: self.d, public: self.public.with_kid(kid) }
    }

    /// The private scalar, for key agreement ([`crate::open_sealed`]).
    pub(crate) fn scalar_bytes(&self) -> &[u8] {
        self.d.as_slice()
    }

    /// A signer for this key.
    pub fn signing_key(&self) -> Result<SigningKey, CredentialError> {
        SigningKey::from_scalar(&self.d, &self.public.x, &self.public.y)
    }
}

impl std::fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateJwk({}, d: ..)", self.public.thumbprint())
    }
}

fn parse_object(text: &str) -> Result<Value, CredentialError> {
    serde_json::from_str(text).map_err(|e| CredentialError::Json { what: "JWK", reason: e.to_string() })
}

fn check_key_type(obj: &Map<String, Value>) -> Result<(), CredentialError> {
    match obj.get("kty").and_then(Value::as_str) {
        Some("EC") => {}
        Some(other) => {
            return Err(invalid(&format!("kty is {other:?}; only EC keys are supported")));
        }
        None => return Err(invalid("kty is missing")),
    }
    match obj.get("crv").and_then(Value::as_str) {
        Some("P-256") => {}
        Some(other) => {
            return Err(invalid(&format!("crv is {other:?}; only P-256 is supported")));
        }
        None => return Err(invalid("crv is missing")),
    }
    match obj.get("alg") {
        None => Ok(()),
        Some(Value::String(alg)) if alg == "ES256" => Ok(()),
        Some(other) => Err(invalid(&format!("alg is {other}; a P-256 key here is used only with ES256"))),
    }
}

fn coordinate(obj: &Map<String, Value>, name: &'static str) -> Result<[u8; 32], CredentialError> {
    let text =
        obj.get(name).and_then(Value::as_str).ok_or_else(|| invalid(&format!("{name} is missing or not a string")))?;
    base64url::decode_array::<32>(text, if name == "x" { "JWK x" } else { "JWK y" })
}

fn invalid(reason: &str) -> CredentialError {
    CredentialError::InvalidJwk(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The issuer key of RFC 9901 Appendix A.5.
    const RFC9901_ISSUER: &str = r#"{"kty":"EC","crv":"P-256","x":"b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ","y":"Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}"#;

    #[test]
    fn thumbprint_matches_an_independent_computation() {
        // Python: base64url(sha256(json.dumps({crv,kty,x,y}, sort_keys=True, separators=(",", ":"))))
        let jwk = PublicJwk::from_json(RFC9901_ISSUER).unwrap();
        assert_eq!(jwk.thumbprint(), "Q5yTSREAbvZL131ynDBhalXJcF9fL0foJlMN8u6ldiY");
    }

    #[test]
    fn unknown_members_are_tolerated_and_dropped() {
        let with_extras = r#"{"kty":"EC","crv":"P-256","use":"sig","key_ops":["verify"],"ext":true,"kid":"k1",
            "x":"b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ","y":"Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}"#;
        let jwk = PublicJwk::from_json(with_extras).unwrap();
        assert_eq!(jwk.kid(), Some("k1"));
        assert_eq!(jwk.thumbprint(), PublicJwk::from_json(RFC9901_ISSUER).unwrap().thumbprint());
        assert!(jwk.to_value().get("use").is_none());
    }

    #[test]
    fn private_jwk_round_trips() {
        let key = PrivateJwk::generate().unwrap().with_kid("issuer-1");
        let text = key.to_value().to_string();
        let again = PrivateJwk::from_json(&text).unwrap();
        assert_eq!(again.public(), key.public());
        assert_eq!(again.to_value(), key.to_value());
    }

    #[test]
    fn mismatched_private_key_is_refused() {
        let a = PrivateJwk::generate().unwrap();
        let b = PrivateJwk::generate().unwrap();
        let mut forged = a.to_value();
        forged["d"] = b.to_value()["d"].clone();
        assert!(matches!(PrivateJwk::from_value(&forged), Err(CredentialError::InvalidJwk(_))));
    }

    #[test]
    fn wrong_key_types_each_say_why() {
        let cases = [
            (r#"{"kty":"RSA","n":"x","e":"AQAB"}"#, "kty"),
            (r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}"#, "crv"),
            (r#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}"#, "JWK x"),
            (r#"{"kty":"EC","crv":"P-256","alg":"ES384"}"#, "alg"),
            (r#"[1,2]"#, "object"),
        ];
        for (text, needle) in cases {
            let err = PublicJwk::from_json(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
