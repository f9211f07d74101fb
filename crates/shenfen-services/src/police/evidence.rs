//! What the police check of a forwarded register entry before keeping it:
//! the presentation the guest showed the hotel, verified as it was shown
//! (`verify_as_shown`) against the authority's keys — issued by the
//! authority, bound by the guest's own device key to this hotel — and the
//! sealed ID number taken from it, not from the hotel's word. A hotel
//! cannot make up a guest (it would need the authority's and the guest's
//! keys), nor file one presentation for another stay.

use shenfen_credential::{CredentialError, SdJwt, TrustedIssuer, VERIFIER_ATTESTATION_PREFIX, verify_as_shown};

use super::store::Entry;
use crate::secrets::token_hash;

/// An entry the police keep: what the hotel sent, and what its evidence proves.
pub(crate) struct Attested<'a> {
    pub(crate) entry: &'a Entry,
    /// The JWE the authority sealed to the police, as disclosed to the hotel.
    pub(crate) sealed_id_number: String,
    /// When the guest showed the QR (the key binding's `iat`).
    pub(crate) shown_at: i64,
    /// One entry per presentation: the hash of its key binding's signed content.
    pub(crate) presentation_hash: Vec<u8>,
    /// The hotel's pseudonym of the guest (the same in every copy of their
    /// card, whose device keys differ): one stay per hotel and arrival night.
    pub(crate) guest: String,
}

/// Why an entry is not kept.
#[derive(Debug)]
pub(crate) enum Unattested {
    /// Signed by a key the police do not hold (yet): the hotel sends it again later.
    UnknownKey(String),
    /// Evidence that does not prove the entry: kept out for good.
    Refused(String),
}

/// How long after a check-in its entry may still reach the police (a hotel
/// offline for days forwards its backlog); and how far ahead of the police's
/// clock a QR may claim to have been shown.
const BACKLOG_SECS: i64 = 7 * 86_400;
const SKEW_SECS: i64 = 300;

/// Checks `entry` from `hotel` (its client id) against the authority's
/// `issuers`, received at `now`.
pub(crate) fn attested<'a>(
    entry: &'a Entry,
    hotel: &str,
    issuers: &[TrustedIssuer],
    now: i64,
) -> Result<Attested<'a>, Unattested> {
    let refused = |why: String| Unattested::Refused(why);
    let presentation = SdJwt::parse(&entry.presentation).map_err(|e| refused(e.to_string()))?;
    let audience = format!("{VERIFIER_ATTESTATION_PREFIX}{hotel}");
    let vc = verify_as_shown(&presentation, issuers, &audience).map_err(|e| match e {
        CredentialError::UntrustedIssuer(issuer) => Unattested::UnknownKey(issuer),
        other => refused(format!("[{}] {other}", other.code())),
    })?;
    let sealed_id_number = vc
        .claims
        .get(crate::SEALED_ID_NUMBER)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| refused("the presentation discloses no sealed ID number".into()))?
        .to_owned();
    let shown_at = vc.key_binding_issued_at.ok_or_else(|| refused("the presentation has no key binding".into()))?;
    // The time is the holder's to state: it must be recent by the police's own clock.
    if shown_at > now + SKEW_SECS || shown_at < now - BACKLOG_SECS {
        return Err(refused(format!("the QR claims to have been shown at {shown_at}, not within the last week")));
    }
    let guest = vc
        .claims
        .get("pseudonyms")
        .and_then(|p| p.get(hotel))
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| refused("the presentation discloses no pseudonym for this hotel".into()))?
        .to_owned();
    let shown_on = crate::china_date(shown_at);
    let arrival = chrono::NaiveDate::parse_from_str(&entry.arrival, "%Y-%m-%d")
        .map_err(|_| refused("the arrival is not a date".into()))?;
    if (arrival - shown_on).num_days().abs() > 1 {
        return Err(refused(format!("the guest showed the QR on {shown_on}, not at an arrival on {arrival}")));
    }
    let replay_key = presentation.replay_key().ok_or_else(|| refused("the presentation has no key binding".into()))?;
    Ok(Attested { entry, sealed_id_number, shown_at, presentation_hash: token_hash(&replay_key), guest })
}
