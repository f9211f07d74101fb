//! Disclosures (RFC 9901 §4.2): the salted claims a holder reveals one by one.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::Value;

use crate::{CredentialError, base64url};

/// Salt length in bytes: 128 bits, as RFC 9901 §9.3 recommends.
const SALT_LEN: usize = 16;

/// One disclosure, keeping its original encoding: digests are computed over
/// the exact base64url text, so it must never be re-serialized.
#[derive(Debug, Clone, PartialEq)]
pub struct Disclosure {
    encoded: String,
    digest: String,
    name: Option<String>,
    value: Value,
}

impl Disclosure {
    /// A disclosure for an object property `name: value`, with a fresh salt.
    pub fn property(name: &str, value: Value) -> Result<Disclosure, CredentialError> {
        Self::encode(Value::Array(vec![Value::from(random_salt()?), Value::from(name), value]))
    }

    /// A disclosure for an array element, with a fresh salt.
    pub fn element(value: Value) -> Result<Disclosure, CredentialError> {
        Self::encode(Value::Array(vec![Value::from(random_salt()?), value]))
    }

    fn encode(array: Value) -> Result<Disclosure, CredentialError> {
        let json = serde_json::to_string(&array)
            .map_err(|e| CredentialError::Json { what: "disclosure", reason: e.to_string() })?;
        Self::parse(&base64url::encode(json))
    }

    /// Decodes a disclosure as received, checking its shape.
    pub fn parse(encoded: &str) -> Result<Disclosure, CredentialError> {
        let bytes = base64url::decode(encoded, "disclosure")?;
        let array = match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Array(array)) => array,
            Ok(_) => return Err(invalid("it is not a JSON array")),
            Err(e) => {
                return Err(CredentialError::Json { what: "disclosure", reason: e.to_string() });
            }
        };
        let mut items = array.into_iter();
        let (salt, second, third, rest) = (items.next(), items.next(), items.next(), items.next());
        if rest.is_some() {
            return Err(invalid("it has more than three elements"));
        }
        if !salt.as_ref().is_some_and(Value::is_string) {
            return Err(invalid("the salt is missing or not a string"));
        }
        let (name, value) = match (second, third) {
            (Some(Value::String(name)), Some(value)) => {
                if name == "_sd" || name == "..." {
                    return Err(CredentialError::ReservedClaimName(name));
                }
                (Some(name), value)
            }
            (Some(_), Some(_)) => return Err(invalid("the claim name is not a string")),
            (Some(value), None) => (None, value),
            _ => return Err(invalid("it has fewer than two elements")),
        };
        Ok(Disclosure { digest: digest_of(encoded), encoded: encoded.to_owned(), name, value })
    }

    /// The base64url text exactly as issued.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    /// base64url(SHA-256(encoded)), the value the issuer signed.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The claim name, or `None` for an array element.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The disclosed value.
    pub fn value(&self) -> &Value {
        &self.value
    }
}

/// The `sha-256` digest of a disclosure or of an SD-JWT for `sd_hash`.
pub(crate) fn digest_of(text: &str) -> String {
    base64url::encode(digest::digest(&digest::SHA256, text.as_bytes()))
}

/// A fresh base64url salt; also the source of decoy digests.
pub(crate) fn random_salt() -> Result<String, CredentialError> {
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new().fill(&mut salt).map_err(|_| CredentialError::Crypto("random salt"))?;
    Ok(base64url::encode(salt))
}

fn invalid(reason: &str) -> CredentialError {
    CredentialError::InvalidDisclosure(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc9901_given_name_example() {
        // RFC 9901 §5.1, claim given_name.
        let d = Disclosure::parse("WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd").unwrap();
        assert_eq!(d.digest(), "jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4");
        assert_eq!(d.name(), Some("given_name"));
        assert_eq!(d.value(), &json!("John"));
    }

    #[test]
    fn rfc9901_array_element_example() {
        let d = Disclosure::parse("WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0").unwrap();
        assert_eq!(d.digest(), "pFndjkZ_VCzmyTa6UjlZo3dh-ko8aIKQc9DlGzhaVYo");
        assert_eq!(d.name(), None);
        assert_eq!(d.value(), &json!("US"));
    }

    #[test]
    fn shapes_are_checked() {
        let enc = |v: Value| base64url::encode(v.to_string());
        assert!(Disclosure::parse(&enc(json!(["s"]))).is_err());
        assert!(Disclosure::parse(&enc(json!(["s", "a", 1, 2]))).is_err());
        assert!(Disclosure::parse(&enc(json!([1, "a", 1]))).is_err());
        assert!(Disclosure::parse(&enc(json!(["s", 5, 1]))).is_err());
        assert!(Disclosure::parse(&enc(json!({"a": 1}))).is_err());
        assert_eq!(
            Disclosure::parse(&enc(json!(["s", "_sd", 1]))),
            Err(CredentialError::ReservedClaimName("_sd".into()))
        );
        assert_eq!(
            Disclosure::parse(&enc(json!(["s", "...", 1]))),
            Err(CredentialError::ReservedClaimName("...".into()))
        );
        assert!(Disclosure::parse("not base64!").is_err());
    }

    #[test]
    fn fresh_disclosures_have_distinct_salts() {
        let a = Disclosure::property("name", json!("x")).unwrap();
        let b = Disclosure::property("name", json!("x")).unwrap();
        assert_ne!(a.digest(), b.digest());
        assert_eq!(Disclosure::parse(a.encoded()).unwrap(), a);
    }
}
