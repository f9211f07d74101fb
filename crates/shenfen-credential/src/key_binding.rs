//! Key binding JWTs (RFC 9901 §4.3): the holder's proof that it holds the key
//! in `cnf` and that this presentation was made for this verifier, now.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use serde_json::{Map, Value};

use crate::es256::{SigningKey, VerifyingKey};
use crate::jws::{Jws, es256_header, sign_compact};
use crate::{CredentialError, SdJwt};

/// The JWS `typ` of a key binding JWT.
pub const KB_TYP: &str = "kb+jwt";
const WHAT: &str = "key binding JWT";

/// What a verifier expects of the key binding JWT.
#[derive(Debug, Clone, Copy)]
pub struct KeyBindingCheck<'a> {
    /// This verifier's identifier; must equal `aud`.
    pub audience: &'a str,
    /// The fresh nonce this verifier issued for the request; must equal `nonce`.
    pub nonce: &'a str,
    /// How old `iat` may be, in seconds, before the presentation is stale.
    /// Exactly that: the clock skew lets a phone's clock run ahead (an `iat`
    /// up to the skew in the future), it does not lengthen the window.
    pub max_age_secs: i64,
}

/// Signs a key binding JWT over `sd_jwt` (whose key binding, if any, is
/// replaced) and returns the SD-JWT+KB.
pub fn bind(
    sd_jwt: SdJwt,
    holder: &SigningKey,
    audience: &str,
    nonce: &str,
    iat: i64,
) -> Result<SdJwt, CredentialError> {
    let unbound = sd_jwt.with_disclosures(sd_jwt.disclosures().to_vec());
    let mut claims = Map::new();
    claims.insert("iat".into(), Value::from(iat));
    claims.insert("aud".into(), Value::from(audience));
    claims.insert("nonce".into(), Value::from(nonce));
    claims.insert("sd_hash".into(), Value::from(unbound.sd_hash()));
    let kb = sign_compact(&es256_header(KB_TYP, None), &claims, holder)?;
    Ok(unbound.with_key_binding(kb))
}

/// Verifies `kb_jwt` against the holder key and the verifier's expectations;
/// returns its `iat`, from which the presentation stays valid until
/// `iat + max_age_secs` (what a verifier must remember it for).
pub(crate) fn verify_binding(
    kb_jwt: &str,
    presentation: &SdJwt,
    holder: &VerifyingKey,
    check: &KeyBindingCheck<'_>,
    now: i64,
    skew: i64,
) -> Result<i64, CredentialError> {
    let jws = Jws::parse(kb_jwt, WHAT)?;
    jws.expect_typ(KB_TYP)?;
    jws.verify(holder)?;
    let claims = jws.payload();
    let text = |name: &'static str| {
        claims.get(name).and_then(Value::as_str).ok_or(CredentialError::MissingClaim(name.to_owned()))
    };
    let aud = text("aud")?;
    if aud != check.audience {
        return Err(CredentialError::WrongAudience { expected: check.audience.to_owned(), found: aud.to_owned() });
    }
    if verify_slices_are_equal(text("nonce")?.as_bytes(), check.nonce.as_bytes()).is_err() {
        return Err(CredentialError::WrongNonce);
    }
    let iat = claims.get("iat").and_then(Value::as_i64).ok_or(CredentialError::InvalidTimeClaim("iat"))?;
    if iat > now + skew {
        return Err(CredentialError::IssuedInFuture { what: WHAT, iat, now });
    }
    if iat < now - check.max_age_secs {
        return Err(CredentialError::KeyBindingTooOld { iat, now, max_age_secs: check.max_age_secs });
    }
    if text("sd_hash")? != presentation.sd_hash() {
        return Err(CredentialError::SdHashMismatch);
    }
    Ok(iat)
}
