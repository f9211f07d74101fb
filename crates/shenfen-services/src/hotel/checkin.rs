//! What the desk checks in a guest's QR, with no call to the authority: the
//! presentation verifies against the hotel's own cache of the authority's
//! keys and status list, is bound to this hotel (its attested client id)
//! within the QR's 90 seconds, discloses the hotel's pseudonym, the name, the
//! age answer and the sealed ID number — and nothing the hotel is not
//! entitled to — and, for an upgraded card, its signed face template matches
//! the face at the desk.

use image::RgbImage;
use serde_json::Value;
use shenfen_credential::{
    CredentialError, OfflinePolicy, VerifiedVc, VerifierCache, decode_qr_payload, verify_offline,
};
use shenfen_face::FaceEngine;

use crate::SEALED_ID_NUMBER as SEALED;
use crate::error::{ProblemType, Refusal};

/// How long a QR is valid after the phone made it (the phone redraws it every 30 s).
pub(crate) const MAX_QR_AGE_SECS: i64 = 90;
/// A phone's clock may run this far ahead of the desk's.
const CLOCK_SKEW_SECS: i64 = 30;
/// How old the cache of keys and status lists may grow (when refreshing fails) before QRs are refused.
pub(crate) const MAX_CACHE_AGE_SECS: i64 = 24 * 3600;
/// What every check-in QR must disclose.
const REQUIRED: [&str; 2] = ["name", "age_over_18"];
/// The claims the hotel is entitled to (its registration), besides its pseudonym.
pub(crate) const ENTITLED: [&str; 4] = ["name", "age_over_18", "sealed_id_number", "face_template"];

/// A guest the desk accepted (before the replay check, which is the register's).
#[derive(Debug)]
pub(crate) struct Guest {
    /// The hotel's pairwise pseudonym for the guest.
    pub(crate) pseudonym: String,
    pub(crate) name: String,
    pub(crate) adult: bool,
    /// `L1`, or `L3` when the live face matched the signed template.
    pub(crate) level: &'static str,
    /// The JWE only the police open.
    pub(crate) sealed_id_number: String,
    /// The presentation as shown (the evidence).
    pub(crate) presentation: String,
    /// Unique to one presentation, for the replay check.
    pub(crate) replay_key: String,
    /// Remember the replay key until then.
    pub(crate) remember_until: i64,
}

/// What the desk holds the QR to.
pub(crate) struct DeskPolicy<'a> {
    /// `verifier_attestation:<client id>`: the key binding's audience.
    pub(crate) audience: &'a str,
    /// The hotel's client id: the key of its pseudonym in the credential.
    pub(crate) client_id: &'a str,
    pub(crate) now: i64,
}

/// Checks the QR `payload` (as scanned) against `cache`; `face` is the desk's engine and camera frame.
pub(crate) fn check_guest(
    payload: &[u8],
    cache: &VerifierCache,
    policy: &DeskPolicy<'_>,
    face: Option<(&FaceEngine, &RgbImage)>,
) -> Result<Guest, Refusal> {
    let presentation = decode_qr_payload(payload).map_err(refused)?;
    let offline = OfflinePolicy {
        now: policy.now,
        clock_skew_secs: CLOCK_SKEW_SECS,
        max_age_secs: MAX_QR_AGE_SECS,
        max_cache_age_secs: MAX_CACHE_AGE_SECS,
        audience: policy.audience,
        required_claims: &REQUIRED,
    };
    let vc = verify_offline(&presentation, cache, &offline).map_err(refused)?;
    within_entitlement(&vc, policy.client_id)?;
    let text = |name: &str| vc.claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let pseudonym = vc.claims.get("pseudonyms").and_then(|p| p.get(policy.client_id)).and_then(Value::as_str);
    let pseudonym = pseudonym
        .ok_or_else(|| Refusal::new(ProblemType::QrRefused, "the QR does not carry this hotel's pseudonym"))?
        .to_owned();
    let sealed_id_number = text(SEALED).ok_or_else(|| {
        Refusal::new(ProblemType::NoSealedIdNumber, "the card carries no sealed ID number: the guest enrolls again")
    })?;
    let adult = vc.claims.get("age_over_18") == Some(&Value::Bool(true));
    if !adult {
        return Err(Refusal::new(ProblemType::NotAdult, "the guest is under 18: check in with a guardian"));
    }
    let level = match (crate::live_face::template_to_match(&vc)?, face) {
        (None, _) => "L1",
        (Some(_), None) => {
            return Err(Refusal::new(ProblemType::FaceRequired, "an upgraded card: look at the desk camera"));
        }
        (Some(template), Some((engine, image))) => {
            crate::live_face::matches(template, engine, image)?;
            "L3"
        }
    };
    let replay_key = presentation.replay_key().ok_or_else(|| refused(CredentialError::MissingKeyBinding))?;
    let issued_at = vc.key_binding_issued_at.ok_or_else(|| refused(CredentialError::MissingKeyBinding))?;
    Ok(Guest {
        pseudonym,
        name: text("name").unwrap_or_default(),
        adult,
        level,
        sealed_id_number,
        presentation: presentation.serialize(),
        replay_key,
        remember_until: issued_at + MAX_QR_AGE_SECS + CLOCK_SKEW_SECS,
    })
}

/// Least disclosure: a QR that shows more than the hotel is entitled to was
/// not made by a citizen's wallet for this hotel.
fn within_entitlement(vc: &VerifiedVc, client_id: &str) -> Result<(), Refusal> {
    let allowed = |name: &str| ENTITLED.contains(&name) || name == "pseudonyms" || name == client_id;
    let extra: Vec<&str> = vc.disclosed.iter().map(String::as_str).filter(|name| !allowed(name)).collect();
    if extra.is_empty() {
        return Ok(());
    }
    Err(Refusal::new(ProblemType::QrRefused, format!("the QR shows more than a hotel may see: {}", extra.join(", ")))
        .with(serde_json::json!({ "code": "credential.purpose.overshared" })))
}

/// A refused presentation: the reasons a desk must tell apart have their own
/// problem types; every other carries the credential library's code.
pub(crate) fn refused(error: CredentialError) -> Refusal {
    let kind = match &error {
        CredentialError::WrongAudience { .. } => ProblemType::WrongAudience,
        CredentialError::KeyBindingTooOld { .. } | CredentialError::IssuedInFuture { .. } => ProblemType::QrExpired,
        CredentialError::Revoked(_) => ProblemType::CardRevoked,
        CredentialError::UntrustedIssuer(_) => ProblemType::UntrustedIssuer,
        CredentialError::Replayed => ProblemType::QrReplayed,
        _ => ProblemType::QrRefused,
    };
    Refusal::new(kind, error.to_string()).with(serde_json::json!({ "code": error.code() }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};
    use shenfen_credential::{PrivateJwk, VERIFIER_ATTESTATION_PREFIX};

    use super::*;
    use crate::test_support::{ISSUER, KID, LIGHTWEIGHT, NOW, service_qr, trusted_authority};

    const HOTEL: &str = "https://hotel.example";

    /// An adult's lightweight card as the authority issues it to a hotel guest.
    fn adult_guest() -> Map<String, Value> {
        let claims = json!({
            "iss": ISSUER, "edition": "lightweight", "name": "林晓梅", "age_over_18": true,
            "birth_date": "1990-05-17", SEALED: "eyJhbGciOiJFQ0RILUVTIn0..sealed-to-the-police",
            "pseudonyms": { HOTEL: "11ab".repeat(16) },
        });
        claims.as_object().unwrap().clone()
    }

    /// The QR payload of a lightweight card with `claims`, signed by `issuer` under `kid`, showing `shown` to the hotel.
    fn qr(issuer: &PrivateJwk, kid: &str, claims: Map<String, Value>, shown: &[&str]) -> Vec<u8> {
        service_qr((issuer, kid, LIGHTWEIGHT), claims, HOTEL, shown)
    }

    /// The desk's check of `qr` at [`NOW`], without a face engine.
    fn check(qr: &[u8], cache: &VerifierCache) -> Result<Guest, Refusal> {
        let audience = format!("{VERIFIER_ATTESTATION_PREFIX}{HOTEL}");
        check_guest(qr, cache, &DeskPolicy { audience: &audience, client_id: HOTEL, now: NOW }, None)
    }

    /// What a lightweight card shows a hotel.
    const SHOWN: [&str; 3] = ["name", "age_over_18", SEALED];

    #[test]
    fn an_adults_card_showing_what_the_hotel_may_see_is_accepted() {
        let (authority, cache) = trusted_authority();
        let guest = check(&qr(&authority, KID, adult_guest(), &SHOWN), &cache).unwrap();
        assert_eq!((guest.name.as_str(), guest.adult, guest.level), ("林晓梅", true, "L1"));
        assert_eq!(guest.pseudonym, "11ab".repeat(16));
        assert_eq!(guest.sealed_id_number, adult_guest()[SEALED]);
    }

    #[test]
    fn a_card_signed_by_a_key_the_cache_does_not_hold_is_from_an_untrusted_issuer() {
        let (_, cache) = trusted_authority();
        let forger = PrivateJwk::generate().unwrap();
        let unknown_key = check(&qr(&forger, "k-forged", adult_guest(), &SHOWN), &cache).unwrap_err();
        assert_eq!(unknown_key.kind, ProblemType::UntrustedIssuer, "{}", unknown_key.detail);
        let mut elsewhere = adult_guest();
        elsewhere.insert("iss".into(), json!("https://authority.forged.example"));
        let unknown_issuer = check(&qr(&forger, KID, elsewhere, &SHOWN), &cache).unwrap_err();
        assert_eq!(unknown_issuer.kind, ProblemType::UntrustedIssuer, "{}", unknown_issuer.detail);
    }

    #[test]
    fn a_card_without_a_sealed_id_number_is_refused_as_such() {
        let (authority, cache) = trusted_authority();
        let mut older = adult_guest();
        older.remove(SEALED);
        let refused = check(&qr(&authority, KID, older, &["name", "age_over_18"]), &cache).unwrap_err();
        assert_eq!(refused.kind, ProblemType::NoSealedIdNumber, "{}", refused.detail);
    }

    #[test]
    fn a_guest_under_18_is_refused_as_not_adult() {
        let (authority, cache) = trusted_authority();
        let mut minor = adult_guest();
        minor.insert("age_over_18".into(), json!(false));
        let refused = check(&qr(&authority, KID, minor, &SHOWN), &cache).unwrap_err();
        assert_eq!(refused.kind, ProblemType::NotAdult, "{}", refused.detail);
    }

    #[test]
    fn a_qr_showing_more_than_the_hotel_is_entitled_to_is_overshared() {
        let (authority, cache) = trusted_authority();
        let refused =
            check(&qr(&authority, KID, adult_guest(), &[&SHOWN[..], &["birth_date"]].concat()), &cache).unwrap_err();
        assert_eq!(refused.kind, ProblemType::QrRefused, "{}", refused.detail);
        assert_eq!(refused.extra, Some(json!({ "code": "credential.purpose.overshared" })));
        assert!(refused.detail.contains("birth_date"), "{}", refused.detail);
    }
}
