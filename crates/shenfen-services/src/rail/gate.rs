//! The gate (检票闸机): a registered device films the passenger's wallet QR
//! (its frames read here, `POST /gate/frame`) and sends what it read with the
//! train it boards — or a ticket's number — to `POST /gate/scan`. The QR is
//! verified offline against the railway's cache of the authority's keys and
//! whole status list — made for this railway's gates (the wallet's link for
//! its attestation), at most 90 seconds old, disclosing the name and the
//! railway's pseudonym, the card not revoked — then remembered (a QR passes
//! once), and the ticket marked used in one statement if that pseudonym
//! holds it unused, for a train of today.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use shenfen_credential::{
    CredentialError, OfflinePolicy, VERIFIER_ATTESTATION_PREFIX, VerifiedVc, VerifierCache, decode_qr_payload,
    verify_offline,
};

use super::store::{self, Boarding, Passage};
use std::sync::{Arc, RwLock};

use super::Shared;
use crate::camera::{Device, DeviceBudget, device_token, qr_in_frame};
use crate::db::Db;
use crate::error::{ProblemType, Refusal};
use crate::web::JsonBody;

/// How long a wallet's QR is good for after it was made (the wallet refreshes it every 30 s).
pub(crate) const MAX_QR_AGE_SECS: i64 = 90;
/// Tolerated clock difference with phones, seconds.
const SKEW_SECS: i64 = 60;
/// Oldest cache a gate verifies with; older, QRs are refused (fail closed).
pub const MAX_CACHE_AGE_SECS: i64 = 3600;
/// Largest QR payload a gate reads: a version-40 code holds under 3 KB.
const MAX_PAYLOAD: usize = 4096;
/// Camera frames and scans one gate device may send a minute, counted before
/// any is decoded: a real gate lets ~30 passengers through a minute, filming
/// two frames a second; a runaway or stolen device cannot make the railway
/// decode or verify more.
pub(crate) const GATE_UNITS_PER_MINUTE: u64 = 240;

/// What a gate sends: the QR it read, and the train it boards or a ticket's number.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scan {
    /// The ticket's number (printed on the itinerary, or read from it).
    ticket: Option<String>,
    /// The train the gate boards (its id in the timetable).
    train: Option<String>,
    /// The QR's payload as the scanner read it, base64url.
    qr: String,
}

impl Scan {
    /// The ticket the scan is for: exactly one of a number and a train.
    fn boarding(&self) -> Result<Boarding<'_>, Refusal> {
        match (self.ticket.as_deref(), self.train.as_deref()) {
            (Some(ticket), None) if ticket.len() <= 64 => Ok(Boarding::Ticket(ticket)),
            (None, Some(train)) if train.len() <= 64 => Ok(Boarding::Train(train)),
            _ => Err(Refusal::new(ProblemType::BadRequest, "name either the ticket or the train the gate boards")),
        }
    }
}

/// The gates' check, shared by every gate device of the railway: its
/// database, the trust cache it verifies QRs with, and its client id.
pub struct Gates {
    db: Db,
    cache: Arc<RwLock<VerifierCache>>,
    /// The railway's client id: where its pseudonym is found in a credential.
    client_id: String,
    /// A gate QR's audience: the railway's client id with the attested prefix,
    /// as the wallet binds a QR drawn from the railway's attestation.
    audience: String,
    budget: DeviceBudget,
}

impl Gates {
    /// The gates of the railway whose client id is `origin`.
    pub fn new(db: Db, cache: Arc<RwLock<VerifierCache>>, origin: &str) -> Gates {
        let client_id = origin.trim_end_matches('/').to_owned();
        Gates {
            db,
            cache,
            audience: format!("{VERIFIER_ATTESTATION_PREFIX}{client_id}"),
            client_id,
            budget: DeviceBudget::new(GATE_UNITS_PER_MINUTE),
        }
    }

    /// One passenger at gate `gate`: the QR (its payload, base64url) verified,
    /// remembered, and the ticket `boarding` names marked used if the QR's
    /// pseudonym holds it unused — `{passed, ticket, train, name}`, or the reason it is refused.
    pub async fn pass(&self, gate: &str, boarding: Boarding<'_>, qr: &str, now: i64) -> Result<Value, Refusal> {
        self.budget.spend(gate, 1, now)?;
        if qr.len() > MAX_PAYLOAD * 4 / 3 + 4 {
            return Err(Refusal::new(
                ProblemType::PayloadTooLarge,
                format!("a QR payload is at most {MAX_PAYLOAD} bytes"),
            ));
        }
        let (vc, pseudonym, qr_hash) = self.checked(qr, now)?;
        if !store::first_sight(&self.db, &qr_hash, now + MAX_QR_AGE_SECS + SKEW_SECS).await? {
            return Err(Refusal::new(ProblemType::QrReplayed, "this very QR passed a gate already"));
        }
        let name = vc.claims.get("name").cloned().unwrap_or(Value::Null);
        match store::pass(&self.db, boarding, &pseudonym, gate, (&super::date_of(now), now)).await? {
            Passage::Through { ticket, train } => {
                tracing::info!(%ticket, %gate, "a passenger passed the gate");
                Ok(json!({ "passed": true, "ticket": ticket, "train": train, "name": name }))
            }
            Passage::OtherHolder => Err(Refusal::new(ProblemType::WrongPerson, "the ticket is another passenger's")),
            Passage::Used => Err(Refusal::new(ProblemType::TicketUsed, "the ticket passed a gate already")),
            Passage::OtherDay => Err(Refusal::new(ProblemType::NoTicket, "the ticket is for a train of another day")),
            Passage::NoTicket => Err(Refusal::new(ProblemType::NoTicket, "the passenger holds no such ticket")),
        }
    }

    /// The QR verified against the railway's cache: the credential, the
    /// railway's pseudonym it discloses, and the hash it is remembered by.
    fn checked(&self, qr: &str, now: i64) -> Result<(VerifiedVc, String, Vec<u8>), Refusal> {
        let bytes = URL_SAFE_NO_PAD
            .decode(qr.trim())
            .map_err(|_| Refusal::new(ProblemType::QrInvalid, "the QR payload is not base64url"))?;
        let presentation = decode_qr_payload(&bytes).map_err(refused)?;
        let cache = self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let policy = OfflinePolicy {
            now,
            clock_skew_secs: SKEW_SECS,
            max_age_secs: MAX_QR_AGE_SECS,
            max_cache_age_secs: MAX_CACHE_AGE_SECS,
            audience: &self.audience,
            required_claims: &["name", "pseudonyms"],
        };
        let vc = verify_offline(&presentation, &cache, &policy).map_err(refused)?;
        drop(cache);
        let pseudonym = vc
            .claims
            .get("pseudonyms")
            .and_then(|p| p.get(&self.client_id))
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::new(ProblemType::NoPseudonym, "the QR discloses no pseudonym for this railway"))?
            .to_owned();
        // The signed content of the key binding, not the whole JWT: an ECDSA
        // signature's twin (s → n − s) would make a replay look new.
        let replay_key = presentation
            .replay_key()
            .ok_or_else(|| Refusal::new(ProblemType::QrInvalid, "the QR carries no key binding"))?;
        let qr_hash = crate::secrets::token_hash(&replay_key);
        Ok((vc, pseudonym, qr_hash))
    }
}

/// Lets through requests of a registered gate device (its bearer token),
/// naming it in the request, before the body is read.
pub(crate) async fn registered(State(rail): Shared, mut request: Request, next: Next) -> Result<Response, Refusal> {
    let found = match device_token(request.headers()) {
        Some(token) => store::gate_named(&rail.db, token).await?,
        None => None,
    };
    let gate = found.ok_or_else(|| {
        Refusal::new(ProblemType::GateUnauthenticated, "send a registered gate's token as a Bearer token")
    })?;
    request.extensions_mut().insert(Device(gate));
    Ok(next.run(request).await)
}

/// `POST /gate/scan {train | ticket, qr}` (a gate device): `{passed, ticket, train, name}`, or the reason it is refused.
pub(crate) async fn scan(
    State(rail): Shared,
    Extension(Device(gate)): Extension<Device>,
    JsonBody(scan): JsonBody<Scan>,
) -> Result<Json<Value>, Refusal> {
    rail.gates.pass(&gate, scan.boarding()?, &scan.qr, crate::now()).await.map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Frame {
    /// A camera frame, base64 JPEG/PNG/WebP.
    frame: String,
}

/// `POST /gate/frame {frame}` (Bearer gate token): the payload of the QR the
/// gate's camera sees (`qr_text`, base64url), counted against its budget.
pub(crate) async fn frame(
    State(rail): Shared,
    Extension(Device(gate)): Extension<Device>,
    JsonBody(body): JsonBody<Frame>,
) -> Result<Json<Value>, Refusal> {
    rail.gates.budget.spend(&gate, 1, crate::now())?;
    Ok(Json(json!({ "qr_text": qr_in_frame(body.frame).await? })))
}

/// A verification failure as the gate tells it.
fn refused(error: CredentialError) -> Refusal {
    let kind = match &error {
        CredentialError::KeyBindingTooOld { .. } | CredentialError::IssuedInFuture { .. } => ProblemType::QrExpired,
        CredentialError::Revoked(_) => ProblemType::CardRevoked,
        CredentialError::StaleCache { .. } | CredentialError::TrustListExpired { .. } => ProblemType::Busy,
        _ => ProblemType::QrInvalid,
    };
    Refusal::new(kind, format!("[{}] {error}", error.code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_payload_that_is_no_presentation_is_invalid_and_a_revoked_card_is_told_apart() {
        let path = std::env::temp_dir().join(format!("shenfen-rail-gate-{}.db", std::process::id()));
        let db = Db::open(&format!("sqlite:{}", path.display())).await.unwrap();
        let gates = Gates::new(db.clone(), Arc::default(), "http://rail.test");
        let unreadable = gates.pass("gate 1", Boarding::Train("G1"), "AAAA", 1_800_000_000).await.unwrap_err();
        assert_eq!(unreadable.kind, ProblemType::QrInvalid, "a payload that is no presentation");
        let revoked = CredentialError::Revoked(shenfen_credential::StatusType::Invalid);
        assert_eq!(refused(revoked).kind, ProblemType::CardRevoked);
        db.close().await;
        let _ = std::fs::remove_file(path);
    }
}
