//! The SD-JWT compact serialization (RFC 9901 §4):
//! `<issuer-signed JWT>~<disclosure>~…~<optional KB-JWT>`.

use crate::CredentialError;
use crate::disclosure::{Disclosure, digest_of};

/// An SD-JWT or SD-JWT+KB as a holder stores it or a verifier receives it.
///
/// Parsing checks only the shape; signatures and digests are the verifier's
/// job (`crate::verify`). Every part keeps its original text, so
/// [`SdJwt::serialize`] reproduces the input byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub struct SdJwt {
    issuer_jwt: String,
    disclosures: Vec<Disclosure>,
    key_binding: Option<String>,
}

impl SdJwt {
    /// Assembles an SD-JWT from an issuer-signed JWT and its disclosures.
    pub fn new(issuer_jwt: String, disclosures: Vec<Disclosure>) -> SdJwt {
        SdJwt { issuer_jwt, disclosures, key_binding: None }
    }

    /// Parses the compact serialization.
    pub fn parse(text: &str) -> Result<SdJwt, CredentialError> {
        let text = text.trim();
        let (body, last) = text
            .rsplit_once('~')
            .ok_or_else(|| CredentialError::Malformed("no '~' separator: this is a plain JWT, not an SD-JWT".into()))?;
        let mut parts = body.split('~');
        let issuer_jwt = parts.next().unwrap_or_default();
        if issuer_jwt.is_empty() {
            return Err(CredentialError::Malformed("the issuer-signed JWT is empty".into()));
        }
        let disclosures = parts
            .map(|part| {
                if part.is_empty() {
                    Err(CredentialError::Malformed("empty disclosure between two '~'".into()))
                } else {
                    Disclosure::parse(part)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let key_binding = (!last.is_empty()).then(|| last.to_owned());
        Ok(SdJwt { issuer_jwt: issuer_jwt.to_owned(), disclosures, key_binding })
    }

    /// The compact serialization.
    pub fn serialize(&self) -> String {
        let mut out = self.without_key_binding();
        if let Some(kb) = &self.key_binding {
            out.push_str(kb);
        }
        out
    }

    /// Everything up to and including the last `~`: what a KB-JWT's `sd_hash` covers.
    pub fn without_key_binding(&self) -> String {
        let len = self.issuer_jwt.len() + 1 + self.disclosures.iter().map(|d| d.encoded().len() + 1).sum::<usize>();
        let mut out = String::with_capacity(len + self.key_binding.as_ref().map_or(0, String::len));
        out.push_str(&self.issuer_jwt);
        out.push('~');
        for d in &self.disclosures {
            out.push_str(d.encoded());
            out.push('~');
        }
        out
    }

    /// `sd_hash` for this presentation (RFC 9901 §4.3.1).
    pub fn sd_hash(&self) -> String {
        digest_of(&self.without_key_binding())
    }

    /// The issuer-signed JWT.
    pub fn issuer_jwt(&self) -> &str {
        &self.issuer_jwt
    }

    /// The disclosures, in presented order.
    pub fn disclosures(&self) -> &[Disclosure] {
        &self.disclosures
    }

    /// The key binding JWT, if any.
    pub fn key_binding(&self) -> Option<&str> {
        self.key_binding.as_deref()
    }

    /// What a verifier remembers to refuse this presentation a second time:
    /// the digest of its key binding JWT's signed content (header and
    /// payload). Not of the whole JWT: an ECDSA signature has a second valid
    /// form (s → n − s) that anyone can compute, so a key over signature bytes
    /// would let a replay pass as new; the signed content — `aud`, `nonce`,
    /// `iat` and the `sd_hash` over everything presented — cannot change.
    pub fn replay_key(&self) -> Option<String> {
        let kb = self.key_binding.as_deref()?;
        let signed = kb.rsplit_once('.').map_or(kb, |(content, _)| content);
        Some(digest_of(signed))
    }

    /// The same SD-JWT with only the given disclosures and no key binding.
    pub(crate) fn with_disclosures(&self, disclosures: Vec<Disclosure>) -> SdJwt {
        SdJwt { issuer_jwt: self.issuer_jwt.clone(), disclosures, key_binding: None }
    }

    /// Attaches a key binding JWT.
    pub(crate) fn with_key_binding(mut self, kb_jwt: String) -> SdJwt {
        self.key_binding = Some(kb_jwt);
        self
    }
}

impl std::fmt::Display for SdJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.serialize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structural_errors() {
        assert!(matches!(SdJwt::parse("a.b.c"), Err(CredentialError::Malformed(_))));
        assert!(matches!(SdJwt::parse("~"), Err(CredentialError::Malformed(_))));
        assert!(matches!(SdJwt::parse("a.b.c~~"), Err(CredentialError::Malformed(_))));
        let ok = SdJwt::parse("a.b.c~").unwrap();
        assert!(ok.disclosures().is_empty() && ok.key_binding().is_none());
        assert_eq!(ok.serialize(), "a.b.c~");
        let kb = SdJwt::parse("a.b.c~x.y.z").unwrap();
        assert_eq!(kb.key_binding(), Some("x.y.z"));
        assert_eq!(kb.without_key_binding(), "a.b.c~");
    }
}
