//! The holder's side: choose what to reveal, then bind it to a verifier.

use crate::es256::SigningKey;
use crate::jws::Jws;
use crate::key_binding::bind;
use crate::processing::{Placement, Processed, process};
use crate::{CredentialError, SdJwt};

/// Keeps only the disclosures needed to reveal the claims at `pointers`
/// (JSON Pointers such as `/given_name` or `/address/locality`).
///
/// Revealing a claim reveals it whole, with every disclosure nested inside it,
/// plus the disclosures of the objects that contain it; nothing else leaves
/// the wallet. A pointer naming a claim that is always visible is accepted; one
/// naming a claim the credential does not have is an error, so a holder never
/// believes it disclosed something it did not.
pub fn select(sd_jwt: &SdJwt, pointers: &[String]) -> Result<SdJwt, CredentialError> {
    let payload = Jws::parse(sd_jwt.issuer_jwt(), "issuer-signed JWT")?.into_payload();
    let Processed { claims, placements, .. } = process(payload, sd_jwt.disclosures(), true)?;
    let claims = serde_json::Value::Object(claims);
    let mut keep = vec![false; sd_jwt.disclosures().len()];
    for pointer in pointers {
        let mut matched = false;
        for (index, placement) in placements.iter().enumerate() {
            if is_within(&placement.pointer, pointer) {
                matched = true;
                keep_with_ancestors(index, &placements, &mut keep);
            }
        }
        if !matched && claims.pointer(pointer).is_none() {
            return Err(CredentialError::NotInCredential(pointer.clone()));
        }
    }
    let chosen = sd_jwt.disclosures().iter().zip(keep).filter(|(_, keep)| *keep).map(|(d, _)| d.clone()).collect();
    Ok(sd_jwt.with_disclosures(chosen))
}

/// Selects the claims at `pointers` and adds a key binding JWT for `audience` and `nonce`.
pub fn present(
    sd_jwt: &SdJwt,
    pointers: &[String],
    holder: &SigningKey,
    audience: &str,
    nonce: &str,
    iat: i64,
) -> Result<SdJwt, CredentialError> {
    bind(select(sd_jwt, pointers)?, holder, audience, nonce, iat)
}

fn is_within(pointer: &str, prefix: &str) -> bool {
    pointer == prefix || pointer.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

fn keep_with_ancestors(mut index: usize, placements: &[Placement], keep: &mut [bool]) {
    loop {
        keep[index] = true;
        match placements[index].parent {
            Some(parent) if !keep[parent] => index = parent,
            _ => return,
        }
    }
}
