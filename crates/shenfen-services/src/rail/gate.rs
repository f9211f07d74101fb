//! The gate (检票闸机): a registered device films the passenger's wallet QR
//! (its frames read here, `POST /gate/frame`) and sends what it read with the
//! train it boards — or a ticket's number — to `POST /gate/scan`. The QR is
//! verified offline against the railway's cache of the authority's keys and
//! whole status list — made for this railway's gates (the wallet's link for
//! its attestation), at most 90 seconds old, disclosing the name and the
//! railway's pseudonym, the card not revoked — then remembered (a QR passes
//! once), and the ticket marked used in one statement if that pseudonym
//! holds it unused, for a train of today. An upgraded card's QR carries its
//! signed face template: the passenger's live face on the gate's camera must
//! match it (a lightweight card passes on its QR alone).

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

use shenfen_face::FaceEngine;

use super::store::{self, Boarding, Passage};
use std::sync::{Arc, RwLock};

use super::Shared;
use crate::camera::{Device, DeviceBudget, decoded_frame, device_token, frame_slot, qr_in_frame};
use crate::db::Db;
use crate::error::{ProblemType, Refusal};
use crate::live_face;
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
/// What a live-face match costs of that budget: an inference is worth several frames.
const FACE_UNITS: u64 = 4;

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
    /// A camera frame of the passenger (base64), for an upgraded card's face.
    live_face: Option<String>,
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
    /// The face engine upgraded cards' live faces are matched with (none: they are refused).
    face: Option<Arc<FaceEngine>>,
}

impl Gates {
    /// The gates of the railway whose client id is `origin`, matching upgraded cards' faces with `face`.
    pub fn new(db: Db, cache: Arc<RwLock<VerifierCache>>, origin: &str, face: Option<Arc<FaceEngine>>) -> Gates {
        let client_id = origin.trim_end_matches('/').to_owned();
        Gates {
            db,
            cache,
            audience: format!("{VERIFIER_ATTESTATION_PREFIX}{client_id}"),
            client_id,
            budget: DeviceBudget::new(GATE_UNITS_PER_MINUTE),
            face,
        }
    }

    /// One passenger at gate `gate`: the QR (its payload, base64url)
    /// verified, an upgraded card's face matched on `live_face` (a camera
    /// frame, base64), the QR remembered, and the ticket `boarding` names
    /// marked used if the QR's pseudonym holds it unused — `{passed, ticket,
    /// train, name}`, or the reason it is refused.
    pub async fn pass(
        &self,
        gate: &str,
        boarding: Boarding<'_>,
        (qr, live_face): (&str, Option<String>),
        now: i64,
    ) -> Result<Value, Refusal> {
        self.budget.spend(gate, 1, now)?;
        if qr.len() > MAX_PAYLOAD * 4 / 3 + 4 {
            return Err(Refusal::new(
                ProblemType::PayloadTooLarge,
                format!("a QR payload is at most {MAX_PAYLOAD} bytes"),
            ));
        }
        let (vc, pseudonym, qr_hash) = self.checked(qr, now)?;
        if let Some(template) = live_face::template_to_match(&vc)? {
            // A QR seen already is refused before the face costs an inference (read only:
            // a face the camera did not catch well is tried again with the same QR).
            if store::seen(&self.db, &qr_hash).await? {
                return Err(replayed());
            }
            self.budget.spend(gate, FACE_UNITS, now)?;
            self.face_matches(template.to_owned(), live_face).await?;
        }
        if !store::first_sight(&self.db, &qr_hash, now + MAX_QR_AGE_SECS + SKEW_SECS).await? {
            return Err(replayed());
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

    /// An upgraded card's signed `template` against the passenger's face on the gate's camera `frame`.
    async fn face_matches(&self, template: String, frame: Option<String>) -> Result<(), Refusal> {
        let (Some(engine), Some(frame)) = (self.face.clone(), frame) else {
            return Err(Refusal::new(ProblemType::FaceRequired, "an upgraded card: look at the gate's camera"));
        };
        let slot = frame_slot()?;
        tokio::task::spawn_blocking(move || {
            let matched = decoded_frame(&frame).and_then(|image| live_face::matches(&template, &engine, &image));
            drop(slot);
            matched
        })
        .await
        .map_err(|_| Refusal::new(ProblemType::Internal, "the face check failed"))?
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
    let boarding = scan.boarding()?;
    rail.gates.pass(&gate, boarding, (&scan.qr, scan.live_face.clone()), crate::now()).await.map(Json)
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

fn replayed() -> Refusal {
    Refusal::new(ProblemType::QrReplayed, "this very QR passed a gate already")
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
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;
    use shenfen_face::{ModelConfig, QualityPolicy, Template};

    use super::*;
    use crate::rail::store::{Bought, seed_timetable, sell};
    use crate::sealed::Sealer;
    use crate::test_support::{ISSUER, KID, NOW, UPGRADED, service_qr, trusted_authority};

    const RAILWAY: &str = "http://rail.test";

    #[tokio::test]
    async fn a_payload_that_is_no_presentation_is_invalid_and_a_revoked_card_is_told_apart() {
        let path = std::env::temp_dir().join(format!("shenfen-rail-gate-{}.db", std::process::id()));
        let db = Db::open(&format!("sqlite:{}", path.display())).await.unwrap();
        let gates = Gates::new(db.clone(), Arc::default(), RAILWAY, None);
        let unreadable = gates.pass("gate 1", Boarding::Train("G1"), ("AAAA", None), NOW).await.unwrap_err();
        assert_eq!(unreadable.kind, ProblemType::QrInvalid, "a payload that is no presentation");
        let revoked = CredentialError::Revoked(shenfen_credential::StatusType::Invalid);
        assert_eq!(refused(revoked).kind, ProblemType::CardRevoked);
        db.close().await;
        let _ = std::fs::remove_file(path);
    }

    /// A photo of the test set, fitted into a 1080p camera frame, as a gate sends it (base64 PNG).
    fn camera_frame(photo: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/photos").join(photo);
        let picture = image::open(path).unwrap().resize(1920, 1080, image::imageops::FilterType::Triangle);
        let mut png = std::io::Cursor::new(Vec::new());
        picture.to_rgb8().write_to(&mut png, image::ImageFormat::Png).unwrap();
        STANDARD.encode(png.into_inner())
    }

    #[tokio::test]
    async fn an_upgraded_card_passes_the_gate_only_with_its_holders_live_face() {
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
        let engine = Arc::new(shenfen_face::FaceEngine::load(ModelConfig::standard(&models)).unwrap());
        let enrolled = image::open(models.join("photos/obama2.jpg")).unwrap().to_rgb8();
        let face = engine.analyse(&enrolled, &QualityPolicy::default()).unwrap();
        let template = URL_SAFE_NO_PAD.encode(Template::quantise(&face.embedding, &engine.embedder_id()).to_bytes());
        let (authority, cache) = trusted_authority();
        let card =
            json!({ "iss": ISSUER, "name": "王建国", "face_template": template, "pseudonyms": { RAILWAY: "p-wang" } });
        let boarding_code = |shown: &[&str]| {
            let payload = service_qr((&authority, KID, UPGRADED), card.as_object().unwrap().clone(), RAILWAY, shown);
            URL_SAFE_NO_PAD.encode(payload)
        };

        let path = std::env::temp_dir().join(format!("shenfen-rail-gate-face-{}.db", std::process::id()));
        let db = Db::open(&format!("sqlite:{}", path.display())).await.unwrap();
        let today = super::super::date_of(NOW);
        seed_timetable(&db, std::slice::from_ref(&today)).await.unwrap();
        let sealer = Sealer::new(&[7; 32]).unwrap();
        let Bought::Ticket(ticket) = sell(&db, &sealer, &format!("G1-{today}"), "p-wang", None, NOW).await.unwrap()
        else {
            panic!("a seat on G1");
        };
        let gates = Gates::new(db.clone(), Arc::new(RwLock::new(cache)), RAILWAY, Some(engine));
        let qr = boarding_code(&["name", "face_template"]);
        let train = format!("G1-{today}");
        let board = |live_face: Option<String>| gates.pass("gate 1", Boarding::Train(&train), (&qr, live_face), NOW);

        // The holder's own QR leaving the template out does not make the upgraded card a lightweight one.
        let faceless = boarding_code(&["name"]);
        let withheld =
            gates.pass("gate 1", Boarding::Train(&train), (&faceless, Some(camera_frame("obama3.jpg"))), NOW);
        assert_eq!(withheld.await.unwrap_err().kind, ProblemType::FaceRequired, "the template withheld");
        let without = board(None).await.unwrap_err();
        assert_eq!(without.kind, ProblemType::FaceRequired, "{}", without.detail);
        let someone_else = board(Some(camera_frame("biden.jpg"))).await.unwrap_err();
        assert_eq!(someone_else.kind, ProblemType::FaceMismatch, "{}", someone_else.detail);
        // The refusals did not spend the QR: the holder, in front of the camera, passes with it.
        let through = board(Some(camera_frame("obama3.jpg"))).await.unwrap();
        assert_eq!((through["passed"].as_bool(), through["ticket"].as_str()), (Some(true), Some(ticket.as_str())));
        db.close().await;
        let _ = std::fs::remove_file(path);
    }
}
