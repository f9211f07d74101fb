//! Hotel check-in (酒店入住): the front desk, a registered device, shows the
//! hotel's check-in link (its Verifier Attestation, so the guest's wallet
//! knows which hotel the QR is for), scans the guest's offline QR with its
//! camera (frames read here with rqrr, each counted against the desk's
//! budget before it is decoded), verifies it against the hotel's own cache
//! of the authority's keys and status list, checks an upgraded card's face
//! against the desk camera, and writes the guest register entry — with the
//! ID number only as the police's sealed JWE — then forwards it to the police.

mod checkin;
mod desk_page;
mod forward;
mod store;

use std::path::Path;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::json;
use shenfen_credential::VerifierCache;
use shenfen_face::FaceEngine;
use tokio::sync::RwLock;

pub(crate) use forward::PoliceLink;

use self::checkin::{DeskPolicy, check_guest};
use self::store::Stay;
use crate::camera::{Device, DeviceBudget, FRAME_BODY_LIMIT, decoded_frame, device_token, qr_in_frame};
use crate::db::Db;
use crate::error::{ProblemType, Refusal, ServicesError};
use crate::sealed::Sealer;
use crate::web::JsonBody;

/// The hotel's name in Chinese and English.
pub(crate) const NAME: (&str, &str) = ("酒店入住", "Hotel check-in");
/// Camera frames one desk may send a minute (a scanning desk sends ~2 a second).
const FRAMES_PER_MINUTE: u64 = 240;
/// The longest room number.
const ROOM_MAX: usize = 16;
/// The longest stay written at a desk.
const NIGHTS_MAX: i64 = 90;

/// The hotel's shared state.
pub struct Hotel {
    db: Db,
    sealer: Arc<Sealer>,
    /// Its client id (its origin) and the key binding's audience.
    client_id: String,
    audience: String,
    /// The authority's wallet link for the hotel's attestation, if it has one.
    check_in_link: Option<String>,
    /// That link as a QR code (a PNG), drawn once.
    check_in_png: Option<axum::body::Bytes>,
    /// The authority's keys and status list, refreshed by [`keep_fresh`].
    cache: RwLock<VerifierCache>,
    authority: String,
    face: Option<Arc<FaceEngine>>,
    police: Option<PoliceLink>,
    /// Camera frames per desk a minute.
    frames: DeviceBudget,
}

impl Hotel {
    /// The hotel at `origin`, checking in guests of `authority`'s cards.
    pub(crate) fn new(
        db: Db,
        sealer: Arc<Sealer>,
        origin: &str,
        authority: &str,
        attestation: Option<String>,
        face: Option<Arc<FaceEngine>>,
        police: Option<PoliceLink>,
    ) -> Hotel {
        let client_id = origin.trim_end_matches('/').to_owned();
        let check_in_link = attestation.map(|jwt| format!("{authority}/wallet/?service={}", jwt.trim()));
        let check_in_png = check_in_link.as_deref().and_then(crate::web::qr_png);
        Hotel {
            db,
            sealer,
            audience: format!("{}{client_id}", shenfen_credential::VERIFIER_ATTESTATION_PREFIX),
            client_id,
            check_in_link,
            check_in_png,
            cache: RwLock::new(VerifierCache::default()),
            authority: authority.to_owned(),
            face,
            police,
            frames: DeviceBudget::new(FRAMES_PER_MINUTE),
        }
    }

    /// The hotel at `origin` trusting `cache` as given, with no authority to
    /// refresh it from and no police to forward to: the served hotel's
    /// routes and checks, for a desk driven in process (the check-in
    /// benchmark) where the trust material is made, not fetched. Do not run
    /// [`keep_fresh`] on it.
    pub fn with_cache(
        db: Db,
        sealer: Arc<Sealer>,
        origin: &str,
        cache: VerifierCache,
        face: Option<Arc<FaceEngine>>,
    ) -> Hotel {
        Hotel { cache: RwLock::new(cache), ..Hotel::new(db, sealer, origin, "", None, face, None) }
    }
}

/// The hotel's attestation file in the data directory (`shenfen rp attest --out`), if written.
pub fn attestation_in(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join("hotel.attestation.jwt")).ok().filter(|jwt| !jwt.trim().is_empty())
}

/// Registers a front-desk device; answers its token, to print once.
pub async fn add_desk(db: &Db, name: &str) -> Result<String, ServicesError> {
    store::add_desk(db, name, crate::now()).await
}

type Shared = State<Arc<Hotel>>;

/// The hotel's routes, framed.
pub fn router(hotel: Arc<Hotel>, authority_origin: &str) -> Router {
    let frame = Arc::new(crate::web::PageFrame::new(NAME, authority_origin));
    // The desk devices' calls: the device is checked before a body is read.
    let desks = Router::new()
        .route("/desk/link", get(link))
        .route("/desk/scan", post(scan))
        .route("/desk/check-in", post(check_in))
        .route_layer(axum::middleware::from_fn_with_state(Arc::clone(&hotel), registered_desk));
    Router::new()
        .route("/", get(desk_page::desk))
        .route("/desk/", get(desk_page::desk))
        .route("/desk/desk.js", get(desk_page::script))
        .route("/desk/check-in-link.png", get(desk_page::link_png))
        .merge(desks)
        .merge(crate::common_routes())
        .fallback(|| async { Refusal::new(ProblemType::NotFound, "no such page") })
        .with_state(hotel)
        .layer(DefaultBodyLimit::max(FRAME_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(frame, crate::web::frame))
}

/// Refreshes the hotel's cache from the authority's public endpoints (JWKS,
/// whole status list) every `every_secs`; a failed refresh keeps the old
/// cache, whose growing age the check-in refuses past a day, and so does a
/// fetched one older than it.
pub async fn keep_fresh(hotel: Arc<Hotel>, every_secs: u64) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(every_secs));
    loop {
        every.tick().await;
        if let Some(fresh) = crate::fetch_trust(&hotel.authority, "hotel").await {
            let mut held = hotel.cache.write().await;
            // Never back to older lists (replayed from before the ones held).
            if fresh.synced_at >= held.synced_at {
                *held = fresh;
            } else {
                tracing::warn!("the authority served lists older than the hotel holds; kept its own");
            }
        }
        match store::purge_seen(&hotel.db, crate::now()).await {
            Ok(removed) => tracing::debug!(removed, "forgot expired QRs"),
            Err(e) => tracing::warn!(error = %e, "could not forget expired QRs"),
        }
        forward::forward_pending(&hotel).await;
    }
}

/// Lets through requests of a registered desk device (its bearer token),
/// naming it in the request, before the body is read.
async fn registered_desk(State(hotel): Shared, mut request: Request, next: Next) -> Result<Response, Refusal> {
    let found = match device_token(request.headers()) {
        Some(token) => store::desk_of(&hotel.db, token).await?,
        None => None,
    };
    let desk = found
        .ok_or_else(|| Refusal::new(ProblemType::DeskUnauthenticated, "a registered desk device's token is needed"))?;
    request.extensions_mut().insert(Device(desk));
    Ok(next.run(request).await)
}

/// `GET /desk/link`: the check-in link the desk shows as a QR.
async fn link(State(hotel): Shared) -> Result<Response, Refusal> {
    let link = hotel.check_in_link.clone().ok_or_else(|| {
        Refusal::new(ProblemType::NotFound, "the hotel has no attestation yet: `shenfen rp attest` it at the authority")
    })?;
    Ok(Json(json!({ "link": link, "client_id": hotel.client_id })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanRequest {
    frame: String,
}

/// `POST /desk/scan {frame}`: the QR payload in a camera frame (`qr_text`, base64url).
async fn scan(
    State(hotel): Shared,
    Extension(Device(desk)): Extension<Device>,
    JsonBody(body): JsonBody<ScanRequest>,
) -> Result<Response, Refusal> {
    hotel.frames.spend(&desk, 1, crate::now())?;
    let qr_text = qr_in_frame(body.frame).await?;
    Ok(Json(json!({ "qr_text": qr_text })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckInRequest {
    qr_text: String,
    room: String,
    nights: i64,
    /// `YYYY-MM-DD`; default today (UTC+8, the register's day).
    arrival: Option<String>,
    /// A camera frame of the guest (base64), for an upgraded card.
    live_face: Option<String>,
}

/// The stay as the desk typed it, checked.
fn stay_of(request: &CheckInRequest, now: i64) -> Result<Stay, Refusal> {
    let room = request.room.trim();
    let bad = |detail: &str| Refusal::new(ProblemType::BadRequest, detail.to_owned());
    if room.is_empty() || room.chars().count() > ROOM_MAX || room.chars().any(char::is_control) {
        return Err(bad("a room is 1 to 16 characters"));
    }
    if !(1..=NIGHTS_MAX).contains(&request.nights) {
        return Err(bad("a stay is 1 to 90 nights"));
    }
    let today = crate::china_date(now);
    let arrival = match &request.arrival {
        None => today,
        Some(text) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad("arrival is YYYY-MM-DD"))?,
    };
    if (arrival - today).num_days().abs() > 1 {
        return Err(bad("a check-in arrives today (or yesterday night)"));
    }
    Ok(Stay { room: room.to_owned(), arrival: arrival.format("%Y-%m-%d").to_string(), nights: request.nights })
}

/// `POST /desk/check-in {qr_text, room, nights, arrival?, live_face?}`: the
/// guest verified and registered → 201 `{entry, name, adult, level, pseudonym}`.
async fn check_in(
    State(hotel): Shared,
    Extension(Device(desk)): Extension<Device>,
    JsonBody(request): JsonBody<CheckInRequest>,
) -> Result<Response, Refusal> {
    let now = crate::now();
    let stay = stay_of(&request, now)?;
    let payload = URL_SAFE_NO_PAD
        .decode(request.qr_text.trim())
        .map_err(|_| Refusal::new(ProblemType::BadRequest, "qr_text is the scanned payload, base64url"))?;
    if request.live_face.is_some() {
        hotel.frames.spend(&desk, 1, now)?;
    }
    // A live face is a frame to decode and a face to analyse: it takes one of the process's frame slots.
    let slot = request.live_face.is_some().then(crate::camera::frame_slot).transpose()?;
    let cache = hotel.cache.read().await.clone();
    let verifier = Arc::clone(&hotel);
    let guest = tokio::task::spawn_blocking(move || {
        let image = request.live_face.as_deref().map(decoded_frame).transpose()?;
        let face = verifier.face.as_deref().zip(image.as_ref());
        let policy = DeskPolicy { audience: &verifier.audience, client_id: &verifier.client_id, now };
        let guest = check_guest(&payload, &cache, &policy, face);
        drop(slot);
        guest
    })
    .await
    .map_err(|_| Refusal::new(ProblemType::Internal, "the check failed"))??;
    let entry = store::check_in(&hotel.db, &hotel.sealer, &guest, &stay, &desk, now)
        .await?
        .ok_or_else(|| checkin::refused(shenfen_credential::CredentialError::Replayed))?;
    tracing::info!(%entry, %desk, level = guest.level, "a guest checked in");
    forward::forward_pending(&hotel).await;
    let answer = json!({
        "entry": entry,
        "name": guest.name,
        "adult": guest.adult,
        "level": guest.level,
        "pseudonym": guest.pseudonym,
        "room": stay.room,
        "arrival": stay.arrival,
        "nights": stay.nights,
    });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn status_of(app: &Router, token: Option<&str>, body: Vec<u8>) -> StatusCode {
        let mut request = Request::post("/desk/scan").header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        app.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap().status()
    }

    #[tokio::test]
    async fn an_anonymous_desk_call_is_refused_before_its_body_is_read() {
        let path = std::env::temp_dir().join(format!("shenfen-hotel-router-{}.db", std::process::id()));
        let db = Db::open(&format!("sqlite:{}", path.display())).await.unwrap();
        let sealer = Arc::new(Sealer::new(&[7; 32]).unwrap());
        let hotel = Hotel::new(db.clone(), sealer, "http://hotel.test", "http://id.test", None, None, None);
        let app = router(Arc::new(hotel), "http://id.test");
        let too_large = vec![b' '; FRAME_BODY_LIMIT + 1];
        let anonymous = status_of(&app, None, too_large.clone()).await;
        assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "refused as unregistered, the 4 MiB never read");
        let token = add_desk(&db, "Desk 1").await.unwrap();
        assert_eq!(
            status_of(&app, Some(&token), too_large).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "a desk's body is read"
        );
        db.close().await;
        let _ = std::fs::remove_file(path);
    }
}
