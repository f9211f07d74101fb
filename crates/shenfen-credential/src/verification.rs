//! Verifying an SD-JWT or SD-JWT+KB (RFC 9901 §7.1 and §7.3).

use serde_json::{Map, Value};

use crate::es256::VerifyingKey;
use crate::jws::Jws;
use crate::key_binding::{KeyBindingCheck, verify_binding};
use crate::processing::process;
use crate::{CredentialError, PublicJwk, SdJwt};

const WHAT: &str = "issuer-signed JWT";

/// The verifier's policy for one verification.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// Verification time, seconds since the epoch. Passed in, never read from
    /// a clock here, so results are reproducible.
    pub now: i64,
    /// Tolerance for clocks that disagree, in seconds, applied to every time check.
    pub clock_skew_secs: i64,
    /// The `typ` header the issuer-signed JWT must carry, if any.
    pub expected_typ: Option<&'static str>,
    /// When set, a valid key binding JWT meeting these expectations is required.
    pub key_binding: Option<KeyBindingCheck<'a>>,
}

/// What a successful verification yields.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The processed claims: always-visible ones plus those disclosed.
    pub claims: Map<String, Value>,
    /// The holder key from `cnf.jwk`, if the credential is key-bound.
    pub holder_key: Option<PublicJwk>,
    /// The top-level claims that came from disclosures (what the holder chose
    /// to show), as opposed to those the issuer left always visible.
    pub disclosed: Vec<String>,
    /// The key binding's `iat`, when one was checked.
    pub key_binding_issued_at: Option<i64>,
}

/// Verifies `presentation` issued under `issuer`, in the order RFC 9901
/// prescribes: signature first, then digests, then validity, then key binding.
pub fn verify(
    presentation: &SdJwt,
    issuer: &VerifyingKey,
    options: &VerifyOptions<'_>,
) -> Result<Verified, CredentialError> {
    let jws = Jws::parse(presentation.issuer_jwt(), WHAT)?;
    if let Some(typ) = options.expected_typ {
        jws.expect_typ(typ)?;
    }
    jws.verify(issuer)?;
    let processed = process(jws.into_payload(), presentation.disclosures(), false)?;
    let claims = processed.claims;
    check_validity(&claims, options.now, options.clock_skew_secs)?;
    let holder = holder_key(&claims)?;
    let key_binding_issued_at = match &options.key_binding {
        Some(check) => {
            let kb_jwt = presentation.key_binding().ok_or(CredentialError::MissingKeyBinding)?;
            let (_, verifier) = holder.as_ref().ok_or(CredentialError::MissingHolderKey)?;
            Some(verify_binding(kb_jwt, presentation, verifier, check, options.now, options.clock_skew_secs)?)
        }
        None => None,
    };
    Ok(Verified {
        claims,
        holder_key: holder.map(|(jwk, _)| jwk),
        disclosed: processed.disclosed_top_level,
        key_binding_issued_at,
    })
}

/// Checks `exp`, `nbf` and `iat` where present (RFC 7519 §4.1).
fn check_validity(claims: &Map<String, Value>, now: i64, skew: i64) -> Result<(), CredentialError> {
    check_not_expired("credential", numeric_date(claims, "exp")?, now, skew)?;
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && now + skew < nbf
    {
        return Err(CredentialError::NotYetValid { nbf, now });
    }
    if let Some(iat) = numeric_date(claims, "iat")?
        && iat > now + skew
    {
        return Err(CredentialError::IssuedInFuture { what: WHAT, iat, now });
    }
    Ok(())
}

/// Refuses an `exp` that has passed, allowing for `skew`; the error names
/// `what` expired, so an expired list is not taken for an expired credential.
pub(crate) fn check_not_expired(
    what: &'static str,
    exp: Option<i64>,
    now: i64,
    skew: i64,
) -> Result<(), CredentialError> {
    match exp {
        Some(exp) if now - skew >= exp => Err(CredentialError::Expired { what, exp, now }),
        _ => Ok(()),
    }
}

/// Reads a NumericDate claim: absent is `None`, present but not an integer is an error.
pub(crate) fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, CredentialError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(CredentialError::InvalidTimeClaim(name)),
    }
}

fn holder_key(claims: &Map<String, Value>) -> Result<Option<(PublicJwk, VerifyingKey)>, CredentialError> {
    match claims.get("cnf") {
        None => Ok(None),
        Some(cnf) => {
            let jwk = cnf.get("jwk").ok_or(CredentialError::MissingHolderKey)?;
            PublicJwk::from_value_with_verifier(jwk).map(Some)
        }
    }
}
