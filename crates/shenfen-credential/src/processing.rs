//! Rebuilding the claims from an issuer payload and its disclosures
//! (RFC 9901 §7.1 step 3), shared by the verifier and by the holder, who needs
//! to know where each disclosure sits before choosing what to reveal.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::CredentialError;
use crate::disclosure::Disclosure;

/// The only digest algorithm accepted; RFC 9901 §4.1.1's default.
pub(crate) const SD_ALG: &str = "sha-256";
/// How deep processed claims may nest (objects, arrays, and disclosures
/// inside disclosures). Real credentials nest a handful of levels; without a
/// limit, a signed chain of nested disclosures would exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 64;

/// Where one disclosure landed in the processed claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    /// JSON Pointer (RFC 6901) of the disclosed value.
    pub pointer: String,
    /// Index of the disclosure whose value contains this one's digest, if any.
    pub parent: Option<usize>,
}

/// The outcome of processing.
#[derive(Debug, Clone)]
pub(crate) struct Processed {
    /// The claims with every presented disclosure substituted and all
    /// `_sd`, `_sd_alg` and undisclosed `...` entries removed.
    pub claims: Map<String, Value>,
    /// One placement per disclosure, in presented order.
    pub placements: Vec<Placement>,
    /// The top-level claim names that came from disclosures (the rest were
    /// in the issuer-signed payload itself).
    pub disclosed_top_level: Vec<String>,
}

/// Substitutes `disclosures` into `payload`, enforcing every RFC 9901 rule:
/// known `_sd_alg`, no duplicate disclosure or digest, each disclosure
/// referenced exactly once and of the right kind, no reserved or colliding names.
///
/// `track` records where each disclosure lands ([`Processed::placements`]);
/// the holder needs that to choose disclosures, a verifier does not and skips
/// the work (placements are then empty pointers).
pub(crate) fn process(
    mut payload: Map<String, Value>,
    disclosures: &[Disclosure],
    track: bool,
) -> Result<Processed, CredentialError> {
    match payload.remove("_sd_alg") {
        None => {}
        Some(Value::String(alg)) if alg == SD_ALG => {}
        Some(other) => {
            return Err(CredentialError::UnsupportedHashAlgorithm(
                other.as_str().unwrap_or("(not a string)").to_owned(),
            ));
        }
    }
    let mut table = HashMap::with_capacity(disclosures.len());
    for (index, d) in disclosures.iter().enumerate() {
        if table.insert(d.digest(), index).is_some() {
            return Err(CredentialError::DuplicateDisclosure);
        }
    }
    let mut walker = Walker {
        disclosures,
        table,
        seen: HashSet::new(),
        placements: vec![None; disclosures.len()],
        track,
        depth: 0,
        disclosed_top_level: Vec::new(),
    };
    let claims = walker.object(payload, "", None)?;
    let placements = walker
        .placements
        .into_iter()
        .map(|p| p.ok_or(CredentialError::UnreferencedDisclosure))
        .collect::<Result<_, _>>()?;
    Ok(Processed { claims, placements, disclosed_top_level: walker.disclosed_top_level })
}

struct Walker<'a> {
    disclosures: &'a [Disclosure],
    table: HashMap<&'a str, usize>,
    seen: HashSet<String>,
    placements: Vec<Option<Placement>>,
    track: bool,
    /// Nesting of the value being walked: 0 is the payload itself.
    depth: usize,
    disclosed_top_level: Vec<String>,
}

impl Walker<'_> {
    /// The JSON Pointer of a child, or nothing when placements are not tracked.
    fn child(&self, pointer: &str, token: impl FnOnce() -> String) -> String {
        if self.track { child_pointer(pointer, &token()) } else { String::new() }
    }

    fn value(&mut self, value: Value, pointer: &str, parent: Option<usize>) -> Result<Value, CredentialError> {
        if !matches!(value, Value::Object(_) | Value::Array(_)) {
            return Ok(value);
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(CredentialError::TooDeep(MAX_DEPTH));
        }
        let walked = match value {
            Value::Object(obj) => Value::Object(self.object(obj, pointer, parent)?),
            Value::Array(items) => Value::Array(self.array(items, pointer, parent)?),
            other => other,
        };
        self.depth -= 1;
        Ok(walked)
    }

    fn object(
        &mut self,
        mut obj: Map<String, Value>,
        pointer: &str,
        parent: Option<usize>,
    ) -> Result<Map<String, Value>, CredentialError> {
        let digests = obj.remove("_sd");
        let mut out = Map::with_capacity(obj.len());
        for (name, value) in obj {
            let child = self.child(pointer, || name.clone());
            out.insert(name, self.value(value, &child, parent)?);
        }
        let Some(digests) = digests else {
            return Ok(out);
        };
        let Value::Array(digests) = digests else {
            return Err(CredentialError::InvalidSdStructure("_sd is not an array".into()));
        };
        for digest in digests {
            let Value::String(digest) = digest else {
                return Err(CredentialError::InvalidSdStructure("_sd holds a non-string entry".into()));
            };
            let Some(index) = self.claim(digest)? else {
                continue;
            };
            let disclosure = &self.disclosures[index];
            let Some(name) = disclosure.name() else {
                return Err(CredentialError::DisclosureKindMismatch {
                    expected: "an object property",
                    found: "array element",
                });
            };
            if out.contains_key(name) {
                return Err(CredentialError::ClaimCollision(name.to_owned()));
            }
            let child = self.child(pointer, || name.to_owned());
            let value = self.value(disclosure.value().clone(), &child, Some(index))?;
            self.placements[index] = Some(Placement { pointer: child, parent });
            if self.depth == 0 {
                self.disclosed_top_level.push(name.to_owned());
            }
            out.insert(name.to_owned(), value);
        }
        Ok(out)
    }

    fn array(
        &mut self,
        items: Vec<Value>,
        pointer: &str,
        parent: Option<usize>,
    ) -> Result<Vec<Value>, CredentialError> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let child = self.child(pointer, || out.len().to_string());
            match array_digest(&item)? {
                Some(digest) => {
                    let Some(index) = self.claim(digest.to_owned())? else {
                        continue;
                    };
                    let disclosure = &self.disclosures[index];
                    if disclosure.name().is_some() {
                        return Err(CredentialError::DisclosureKindMismatch {
                            expected: "an array element",
                            found: "object property",
                        });
                    }
                    let value = self.value(disclosure.value().clone(), &child, Some(index))?;
                    self.placements[index] = Some(Placement { pointer: child, parent });
                    out.push(value);
                }
                None => out.push(self.value(item, &child, parent)?),
            }
        }
        Ok(out)
    }

    /// Records that `digest` occurs here, refusing a second occurrence
    /// anywhere, and returns the disclosure it references, if presented.
    fn claim(&mut self, digest: String) -> Result<Option<usize>, CredentialError> {
        if self.seen.contains(&digest) {
            return Err(CredentialError::DuplicateDigest(digest));
        }
        let index = self.table.get(digest.as_str()).copied();
        self.seen.insert(digest);
        Ok(index)
    }
}

/// The digest of an array element of the form `{"...": "<digest>"}`.
fn array_digest(item: &Value) -> Result<Option<&str>, CredentialError> {
    let Value::Object(obj) = item else {
        return Ok(None);
    };
    let Some(digest) = obj.get("...") else {
        return Ok(None);
    };
    match digest {
        Value::String(digest) if obj.len() == 1 => Ok(Some(digest)),
        Value::String(_) => {
            Err(CredentialError::InvalidSdStructure("an array digest object has other keys beside \"...\"".into()))
        }
        _ => Err(CredentialError::InvalidSdStructure("\"...\" does not hold a digest string".into())),
    }
}

/// RFC 6901 escaping: `~` → `~0`, `/` → `~1`.
pub fn child_pointer(parent: &str, token: &str) -> String {
    let mut out = String::with_capacity(parent.len() + token.len() + 1);
    out.push_str(parent);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}
