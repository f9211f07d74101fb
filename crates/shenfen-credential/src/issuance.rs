//! Issuing SD-JWTs (RFC 9901 §4.1–4.2): conceal the chosen claims behind
//! salted digests, add decoys, sign.

use std::collections::HashSet;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};

use crate::disclosure::{Disclosure, digest_of, random_salt};
use crate::es256::SigningKey;
use crate::jws::{es256_header, sign_compact};
use crate::processing::{SD_ALG, child_pointer};
use crate::{CredentialError, SdJwt};

/// How an issuer shapes one SD-JWT.
#[derive(Debug, Clone)]
pub struct IssueOptions<'a> {
    /// The JWS `typ` header (`dc+sd-jwt` for SD-JWT VCs).
    pub typ: &'a str,
    /// The issuer key's id, so verifiers can pick the key from a JWKS or trust list.
    pub kid: Option<&'a str>,
    /// JSON Pointers (RFC 6901) of the claims or array elements to make
    /// selectively disclosable. Nested pointers give recursive disclosures.
    pub disclosable: &'a [String],
    /// The most decoy digests added to each `_sd` array (a random 1..=max),
    /// so the number of hidden claims is not revealed. 0 disables decoys.
    pub max_decoys: u8,
}

/// Conceals `options.disclosable` in `claims` and signs the result.
pub fn issue(
    key: &SigningKey,
    claims: Map<String, Value>,
    options: &IssueOptions<'_>,
) -> Result<SdJwt, CredentialError> {
    for reserved in ["_sd", "_sd_alg", "..."] {
        if claims.contains_key(reserved) {
            return Err(CredentialError::InvalidSdStructure(format!("input claims must not contain {reserved:?}")));
        }
    }
    let wanted: HashSet<&str> = options.disclosable.iter().map(String::as_str).collect();
    let mut concealer =
        Concealer { wanted, found: HashSet::new(), disclosures: Vec::new(), max_decoys: options.max_decoys };
    let mut payload = concealer.object(claims, "")?;
    if let Some(missing) = options.disclosable.iter().find(|p| !concealer.found.contains(p.as_str())) {
        return Err(CredentialError::NoSuchClaim(missing.clone()));
    }
    payload.insert("_sd_alg".into(), Value::from(SD_ALG));
    let jwt = sign_compact(&es256_header(options.typ, options.kid), &payload, key)?;
    Ok(SdJwt::new(jwt, concealer.disclosures))
}

struct Concealer<'a> {
    wanted: HashSet<&'a str>,
    found: HashSet<String>,
    disclosures: Vec<Disclosure>,
    max_decoys: u8,
}

impl Concealer<'_> {
    fn value(&mut self, value: Value, pointer: &str) -> Result<Value, CredentialError> {
        Ok(match value {
            Value::Object(obj) => Value::Object(self.object(obj, pointer)?),
            Value::Array(items) => Value::Array(self.array(items, pointer)?),
            other => other,
        })
    }

    fn object(&mut self, obj: Map<String, Value>, pointer: &str) -> Result<Map<String, Value>, CredentialError> {
        let mut out = Map::with_capacity(obj.len() + 1);
        let mut digests = Vec::new();
        for (name, value) in obj {
            let child = child_pointer(pointer, &name);
            let value = self.value(value, &child)?;
            if self.wanted.contains(child.as_str()) {
                let disclosure = Disclosure::property(&name, value)?;
                digests.push(Value::from(disclosure.digest()));
                self.disclosures.push(disclosure);
                self.found.insert(child);
            } else {
                out.insert(name, value);
            }
        }
        if !digests.is_empty() {
            for _ in 0..self.decoy_count()? {
                digests.push(Value::from(digest_of(&random_salt()?)));
            }
            // Sorted, so the order of digests says nothing about the order of claims.
            digests.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            out.insert("_sd".into(), Value::Array(digests));
        }
        Ok(out)
    }

    fn array(&mut self, items: Vec<Value>, pointer: &str) -> Result<Vec<Value>, CredentialError> {
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let child = child_pointer(pointer, &index.to_string());
            let item = self.value(item, &child)?;
            if self.wanted.contains(child.as_str()) {
                let disclosure = Disclosure::element(item)?;
                let mut reference = Map::new();
                reference.insert("...".into(), Value::from(disclosure.digest()));
                out.push(Value::Object(reference));
                self.disclosures.push(disclosure);
                self.found.insert(child);
            } else {
                out.push(item);
            }
        }
        Ok(out)
    }

    fn decoy_count(&self) -> Result<u8, CredentialError> {
        if self.max_decoys == 0 {
            return Ok(0);
        }
        let mut byte = [0u8; 1];
        SystemRandom::new().fill(&mut byte).map_err(|_| CredentialError::Crypto("decoy count"))?;
        Ok(1 + byte[0] % self.max_decoys)
    }
}
