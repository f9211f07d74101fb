//! Compact JWS (RFC 7515) restricted to what SD-JWT needs: ES256, a JSON
//! object payload, and no `crit` extensions.

use serde_json::{Map, Value};

use crate::es256::{SIGNATURE_LEN, SigningKey, VerifyingKey};
use crate::{CredentialError, base64url};

/// A parsed, not yet verified, compact JWS.
#[derive(Debug, Clone)]
pub struct Jws<'a> {
    signing_input: &'a str,
    header: Map<String, Value>,
    payload: Map<String, Value>,
    signature: [u8; SIGNATURE_LEN],
    what: &'static str,
}

impl<'a> Jws<'a> {
    /// Splits and decodes `text`; `what` names the token in errors.
    ///
    /// Refuses anything but ES256 here, before any key is consulted, so that
    /// `alg: none` and algorithm-confusion tricks never reach verification.
    pub fn parse(text: &'a str, what: &'static str) -> Result<Jws<'a>, CredentialError> {
        let (signing_input, signature_b64) = text.rsplit_once('.').ok_or(CredentialError::JwsShape(what))?;
        let (header_b64, payload_b64) = signing_input.split_once('.').ok_or(CredentialError::JwsShape(what))?;
        if payload_b64.contains('.') {
            return Err(CredentialError::JwsShape(what));
        }
        let header = decode_object(header_b64, what, "header")?;
        match header.get("alg").and_then(Value::as_str) {
            Some("ES256") => {}
            other => {
                return Err(CredentialError::UnsupportedAlgorithm {
                    what,
                    alg: other.unwrap_or("(missing)").to_owned(),
                });
            }
        }
        if header.contains_key("crit") {
            return Err(CredentialError::Malformed(format!(
                "{what} has a crit header this verifier does not understand"
            )));
        }
        let payload = decode_object(payload_b64, what, "payload")?;
        let signature = base64url::decode_array::<SIGNATURE_LEN>(signature_b64, "JWS signature")?;
        Ok(Jws { signing_input, header, payload, signature, what })
    }

    /// The protected header.
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The claims.
    pub fn payload(&self) -> &Map<String, Value> {
        &self.payload
    }

    /// Takes the claims out, for processing without a copy.
    pub fn into_payload(self) -> Map<String, Value> {
        self.payload
    }

    /// Refuses a token whose `typ` header is not `expected` (explicit typing,
    /// RFC 8725 §3.11: a KB-JWT must never pass as a credential or vice versa).
    pub fn expect_typ(&self, expected: &'static str) -> Result<(), CredentialError> {
        match self.header.get("typ").and_then(Value::as_str) {
            Some(typ) if typ == expected => Ok(()),
            found => Err(CredentialError::WrongType {
                what: self.what,
                found: found.unwrap_or_default().to_owned(),
                expected,
            }),
        }
    }

    /// Checks the signature with `key`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), CredentialError> {
        if key.verify(self.signing_input.as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(CredentialError::BadSignature(self.what))
        }
    }
}

/// Signs `payload` under `header` (which must already name `alg: ES256`) and
/// returns the compact serialization.
pub fn sign_compact(
    header: &Map<String, Value>,
    payload: &Map<String, Value>,
    key: &SigningKey,
) -> Result<String, CredentialError> {
    let mut token = encode_json(header)?;
    token.push('.');
    token.push_str(&encode_json(payload)?);
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&base64url::encode(signature));
    Ok(token)
}

/// A protected header for ES256 with the given `typ` and optional `kid`.
pub fn es256_header(typ: &str, kid: Option<&str>) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("alg".into(), Value::from("ES256"));
    header.insert("typ".into(), Value::from(typ));
    if let Some(kid) = kid {
        header.insert("kid".into(), Value::from(kid));
    }
    header
}

fn encode_json(map: &Map<String, Value>) -> Result<String, CredentialError> {
    let bytes = serde_json::to_vec(map).map_err(|e| CredentialError::Json { what: "JWS", reason: e.to_string() })?;
    Ok(base64url::encode(bytes))
}

fn decode_object(b64: &str, what: &'static str, part: &'static str) -> Result<Map<String, Value>, CredentialError> {
    let bytes = base64url::decode(b64, if part == "header" { "JWS header" } else { "JWS payload" })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CredentialError::Json { what, reason: format!("the {part} is not a JSON object") }),
        Err(e) => Err(CredentialError::Json { what, reason: format!("{part}: {e}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrivateJwk;

    #[test]
    fn round_trip_and_typ_check() {
        let key = PrivateJwk::generate().unwrap();
        let mut payload = Map::new();
        payload.insert("sub".into(), Value::from("x"));
        let token = sign_compact(&es256_header("kb+jwt", None), &payload, &key.signing_key().unwrap()).unwrap();
        let jws = Jws::parse(&token, "test JWT").unwrap();
        jws.verify(&key.public().verifying_key().unwrap()).unwrap();
        jws.expect_typ("kb+jwt").unwrap();
        assert!(matches!(jws.expect_typ("dc+sd-jwt"), Err(CredentialError::WrongType { .. })));
        assert_eq!(jws.payload()["sub"], "x");
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused_before_verification() {
        for (header, signature) in [(r#"{"alg":"none"}"#, ""), (r#"{"alg":"HS256"}"#, "AAAA"), (r#"{}"#, "AAAA")] {
            let token = format!("{}.{}.{signature}", base64url::encode(header), base64url::encode("{}"));
            assert!(matches!(Jws::parse(&token, "t"), Err(CredentialError::UnsupportedAlgorithm { .. })), "{header}");
        }
    }

    #[test]
    fn shape_errors() {
        for bad in ["", "a", "a.b", "a.b.c.d", "..", "!!.e30.AA"] {
            assert!(Jws::parse(bad, "t").is_err(), "{bad}");
        }
    }
}
