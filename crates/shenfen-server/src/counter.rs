//! The counter: a hotel front desk, ticket gate or government counter checks
//! a citizen's offline QR code against cached issuer keys and status lists,
//! and for L3 matches the face in front of it against the credential's signed
//! template. The rules are shared by `shenfen verify` (files) and the counter
//! page (`/counter/…`, this server's own cache), so both refuse alike.
//!
//! The counter endpoints take camera frames, which cost CPU to read, so only
//! registered counter devices (a hotel's desk, registered like a relying
//! party) and signed-in operators may call them, each within a frame budget;
//! and what a counter accepted is remembered in the store, so a QR shown at
//! one instance's counter is refused at every other.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use shenfen_core::{AssuranceLevel, Edition, Purpose};
use shenfen_credential::{
    CachedStatusList, CredentialError, OfflinePolicy, TrustedIssuer, VerifiedVc, VerifierCache, decode_qr_payload,
    verify_offline,
};
pub use shenfen_face::scan_qr;
use shenfen_face::{FaceEngine, FaceError, QualityPolicy, Template, decode_image_within};
use tokio::sync::RwLock;
use utoipa::ToSchema;

use crate::app::{AppState, now};
use crate::enrollment::LIVE_FRAME_MAX_PIXELS;
use crate::error::{ApiError, PROBLEM, Problem, ProblemType};
use crate::extractors::{CounterCaller, JsonBody};
use crate::openapi::{BodyProblems, BusyProblem};
use crate::status_list::current_status_list;

/// Why a counter refuses.
#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    /// The presentation itself is refused (each reason its own code).
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// The live photo or the signed template is unusable.
    #[error(transparent)]
    Face(#[from] FaceError),
    /// The signed template was made by another face model than this counter runs.
    #[error("the credential's face template was made by {signed}, this counter runs {running}")]
    FaceModel {
        /// The template's model.
        signed: String,
        /// This counter's model.
        running: String,
    },
}

impl CounterError {
    /// The stable code (docs/ERRORS.md).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Credential(e) => e.code(),
            Self::Face(e) => e.code(),
            Self::FaceModel { .. } => "counter.face_model",
        }
    }
}

/// What the counter asks of a QR.
#[derive(Debug, Clone, Copy)]
pub struct CounterPolicy {
    /// The use the counter serves (the QR must be made for it).
    pub purpose: Purpose,
    /// The level the counter needs.
    pub level: AssuranceLevel,
    /// Now, seconds since the epoch.
    pub now: i64,
    /// How long a QR is valid after the phone made it.
    pub max_qr_age_secs: i64,
    /// How old the cache of keys and status lists may be.
    pub max_cache_age_secs: i64,
}

/// Tolerated clock difference between the phone and the counter: a QR whose
/// `iat` is up to this far in the future is accepted (the phone's clock runs
/// ahead); it does not lengthen a QR's life.
const CLOCK_SKEW_SECS: i64 = 30;

/// The face in front of the counter, with the engine that reads it.
pub struct LiveFace<'a> {
    /// The counter's face engine.
    pub engine: &'a FaceEngine,
    /// The camera frame.
    pub image: &'a RgbImage,
}

/// An accepted QR: what to show, and what to remember against replay.
pub struct CounterVerdict {
    /// The verified result (`verified`, `purpose`, `edition`, `level`, `claims`, `face`, `cache_age_secs`).
    pub result: Value,
    /// The digest of the key binding JWT's signed content, unique to one
    /// presentation whatever form its signature takes.
    pub replay_key: String,
    /// The last second the presentation verifies (its `iat` plus the QR's
    /// lifetime): remember it at least until then, inclusive.
    pub remember_until: i64,
}

/// Checks an offline QR payload: unpack, verify against the cache, hold it
/// to its purpose (the values it needs, nothing more disclosed than it
/// allows), refuse a presentation `already_seen`, match the live face for
/// L3, and require the policy's level. Nothing is remembered here: the
/// caller records the verdict's replay key once it accepts.
pub fn check_offline_qr(
    payload: &[u8],
    cache: &VerifierCache,
    policy: &CounterPolicy,
    live: Option<LiveFace<'_>>,
    already_seen: impl Fn(&str) -> bool,
) -> Result<CounterVerdict, CounterError> {
    let presentation = decode_qr_payload(payload)?;
    let audience = policy.purpose.audience();
    let required = policy.purpose.claims(Edition::Lightweight);
    let offline = OfflinePolicy {
        now: policy.now,
        clock_skew_secs: CLOCK_SKEW_SECS,
        max_age_secs: policy.max_qr_age_secs,
        max_cache_age_secs: policy.max_cache_age_secs,
        audience: &audience,
        required_claims: &required,
    };
    let vc = verify_offline(&presentation, cache, &offline)?;
    meets_purpose(&vc, policy.purpose)?;
    let replay_key = presentation.replay_key().ok_or(CredentialError::MissingKeyBinding)?;
    let remember_until = vc.key_binding_issued_at.ok_or(CredentialError::MissingKeyBinding)? + policy.max_qr_age_secs;
    if already_seen(&replay_key) {
        return Err(CredentialError::Replayed.into());
    }
    let mut claims = vc.claims;
    let mut level = AssuranceLevel::L1;
    let mut face = Value::Null;
    if let Some(Value::String(template)) = claims.remove("face_template") {
        face = json!({ "template": "signed by the issuer" });
        if let Some(live) = live {
            let (similarity, threshold) = live_similarity(&template, &live)?;
            if similarity < threshold {
                return Err(CredentialError::LiveFaceMismatch(format!("{similarity:.3} < {threshold:.3}")).into());
            }
            face = json!({ "template": "signed by the issuer", "live_similarity": similarity, "matched": true });
            level = AssuranceLevel::L3;
        }
    }
    if level < policy.level {
        return Err(CredentialError::LevelNotReached {
            reached: level.to_string(),
            needed: policy.level.to_string(),
            hint: "an upgraded credential's face template matched against the live face reaches L3 offline",
        }
        .into());
    }
    let result = json!({
        "verified": true,
        "purpose": policy.purpose.as_str(),
        "issuer": claims.get("iss"),
        "edition": claims.get("edition"),
        "level": level.to_string(),
        "claims": only_disclosed(&claims),
        "face": face,
        "cache_age_secs": policy.now - cache.synced_at,
    });
    Ok(CounterVerdict { result, replay_key, remember_until })
}

/// The purpose's values (`age_over_18` must be `true` for an age check) and
/// least disclosure: a QR that shows more than its purpose allows for its
/// edition was not made by a citizen's wallet.
fn meets_purpose(vc: &VerifiedVc, purpose: Purpose) -> Result<(), CredentialError> {
    for claim in purpose.required_true() {
        let value = vc.claims.get(*claim);
        if value != Some(&Value::Bool(true)) {
            return Err(CredentialError::PurposeUnmet {
                claim: (*claim).to_owned(),
                found: value.map_or_else(|| "missing".to_owned(), ToString::to_string),
                needed: "true".into(),
                purpose: purpose.to_string(),
            });
        }
    }
    let edition = vc.claims.get("edition").and_then(Value::as_str).and_then(|e| e.parse().ok());
    let allowed = purpose.claims(edition.unwrap_or(Edition::Lightweight));
    let extra: Vec<&str> = vc.disclosed.iter().map(String::as_str).filter(|c| !allowed.contains(c)).collect();
    if !extra.is_empty() {
        return Err(CredentialError::Overshared(extra.join(", "), purpose.to_string()));
    }
    Ok(())
}

/// The claims a person reads: without the credential's machinery.
fn only_disclosed(claims: &Map<String, Value>) -> Value {
    let machinery = ["iss", "iat", "exp", "nbf", "vct", "cnf", "status", "edition"];
    Value::Object(
        claims.iter().filter(|(k, _)| !machinery.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
    )
}

/// The cosine similarity between the signed template and the live face, and the engine's match threshold.
fn live_similarity(template: &str, live: &LiveFace<'_>) -> Result<(f32, f32), CounterError> {
    let bytes = URL_SAFE_NO_PAD.decode(template).map_err(|_| CredentialError::Base64("face_template"))?;
    let signed = Template::from_bytes(&bytes)?;
    let running = live.engine.embedder_id();
    if signed.model_id() != running {
        return Err(CounterError::FaceModel { signed: signed.model_id().to_owned(), running });
    }
    let face = live.engine.analyse(live.image, &QualityPolicy::default())?;
    Ok((signed.similarity_to_live(&face.embedding)?, live.engine.match_threshold))
}

/// How often the counter page's cache is refreshed from this authority.
const REFRESH_SECS: i64 = 60;
/// How old the counter page's cache may grow (when refreshing fails) before QRs are refused.
const MAX_CACHE_AGE_SECS: i64 = 24 * 3600;
/// How long a QR is valid after the phone made it (the phone refreshes it every 30 s).
const MAX_QR_AGE_SECS: i64 = 90;

/// The counter page's verifier: this authority's keys and status list, cached
/// as an offline counter would hold them (what it accepted is in the store).
#[derive(Default)]
pub struct Counter {
    cache: RwLock<VerifierCache>,
}

/// Counts `frames` against the caller's per-minute budget before any is decoded.
async fn counter_frames_within_budget(state: &AppState, caller: &CounterCaller, frames: u64) -> Result<(), ApiError> {
    let now = now();
    let budget = state.authority.policy.counter_frames_per_minute;
    let key = format!("counter-frames:{}", caller.0);
    if state.store.count_attempts(&key, now - now.rem_euclid(60), frames).await? > budget {
        return Err(ApiError::new(ProblemType::RateLimited)
            .detail(format!("at most {budget} camera frames a minute from one counter; wait a moment")));
    }
    Ok(())
}

/// The counter's cache, refreshed from this authority when older than a minute;
/// when refreshing fails the old cache stays, and its growing age is reported.
async fn current_cache(state: &Arc<AppState>) -> VerifierCache {
    let now = now();
    {
        let cache = state.counter.cache.read().await;
        if now - cache.synced_at < REFRESH_SECS {
            return cache.clone();
        }
    }
    let mut cache = state.counter.cache.write().await;
    if now - cache.synced_at < REFRESH_SECS {
        // Another request refreshed it while this one waited for the lock.
        return cache.clone();
    }
    match current_status_list(state).await {
        Ok(token) => {
            let issuer = &state.authority.issuer;
            let keys = issuer.published_keys().map(|key| key.to_value()).collect();
            *cache = VerifierCache {
                synced_at: now,
                trusted_until: None,
                issuers: vec![TrustedIssuer { issuer: issuer.url.clone(), keys }],
                status_lists: vec![CachedStatusList { uri: issuer.status_list_uri(), token }],
            };
        }
        Err(_) => tracing::warn!(age_secs = now - cache.synced_at, "counter cache refresh failed; keeping the old one"),
    }
    cache.clone()
}

/// How fresh the counter's cache is.
// Fields in the order `json!` wrote them before (sorted), so the answer is byte
// for byte the same.
#[derive(Serialize, ToSchema)]
pub(crate) struct CacheFreshness {
    /// Seconds since the last refresh.
    age_secs: i64,
    /// The issuers whose keys are cached.
    issuers: Vec<String>,
    /// How old the cache may grow (when refreshing fails) before QRs are refused.
    max_age_secs: i64,
    /// Status lists cached.
    status_lists: usize,
    /// When the cache was last refreshed (seconds since the epoch).
    synced_at: i64,
}

/// `GET /counter/cache`: how fresh the counter's keys and status list are.
#[utoipa::path(get, path = "/counter/cache", summary = "The counter page verifier cache (this authority keys and status list, refreshed every minute): {synced_at, age_secs, max_age_secs, issuers, status_lists}.",
    security(("counter_device" = [])),
    responses(
        (status = 200, description = "freshness", body = CacheFreshness),
        (status = 401, description = "counter-unauthenticated", body = Problem, content_type = PROBLEM),
    ))]
pub(crate) async fn cache_freshness(State(state): State<Arc<AppState>>, _: CounterCaller) -> Json<CacheFreshness> {
    let cache = current_cache(&state).await;
    Json(CacheFreshness {
        age_secs: now() - cache.synced_at,
        issuers: cache.issuers.iter().map(|i| i.issuer.clone()).collect(),
        max_age_secs: MAX_CACHE_AGE_SECS,
        status_lists: cache.status_lists.len(),
        synced_at: cache.synced_at,
    })
}

/// A frame of the counter's camera.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScanRequest {
    /// A camera frame (base64 JPEG/PNG).
    frame: String,
}

/// A QR code found.
#[derive(Serialize, ToSchema)]
pub(crate) struct Scanned {
    /// Its payload, base64url.
    qr_text: String,
}

/// `POST /counter/scan {frame}`: the QR payload in a camera frame, as base64url
/// text (`qr_text`), or `qr-not-found` while the camera has not found one.
#[utoipa::path(post, path = "/counter/scan", summary = "Finds the QR code in a camera frame ({frame: base64 JPEG/PNG/WebP}) -> {qr_text: the payload, base64url}; 422 qr-not-found while there is none, qr-unreadable when it does not decode.",
    request_body = ScanRequest,
    security(("counter_device" = [])),
    responses(
        (status = 200, description = "the QR payload", body = Scanned),
        (status = 401, description = "counter-unauthenticated", body = Problem, content_type = PROBLEM),
        (status = 422, description = "qr-not-found, qr-unreadable, image-unreadable", body = Problem, content_type = PROBLEM),
        (status = 429, description = "over the device frame budget", body = Problem, content_type = PROBLEM),
        BodyProblems, BusyProblem,
    ))]
pub(crate) async fn scan(
    State(state): State<Arc<AppState>>,
    caller: CounterCaller,
    JsonBody(body): JsonBody<ScanRequest>,
) -> Result<Json<Scanned>, ApiError> {
    counter_frames_within_budget(&state, &caller, 1).await?;
    let scanned = state
        .pool
        .run(move |_| {
            let picture = decode_frame(&body.frame)?;
            Ok::<_, ApiError>(scan_qr(image::DynamicImage::ImageRgb8(picture).to_luma8()))
        })
        .await??;
    match scanned {
        Some(Ok(payload)) => Ok(Json(Scanned { qr_text: URL_SAFE_NO_PAD.encode(payload) })),
        Some(Err(why)) => {
            Err(ApiError::new(ProblemType::QrUnreadable).detail(format!("{why}; hold the phone steady and closer")))
        }
        None => Err(ApiError::new(ProblemType::QrNotFound).detail("show the QR code to the camera")),
    }
}

/// A QR to verify, with the face in front of the counter for L3.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyRequest {
    /// The QR payload, base64url (from `/counter/scan`).
    qr_text: String,
    /// `hotel_checkin`, `age_check`, `ticket` or `clock_in`.
    purpose: String,
    /// `L1` (default) or `L3`.
    #[serde(default = "level_one")]
    #[schema(value_type = String)]
    level: AssuranceLevel,
    /// A camera frame of the person at the counter (base64), for L3.
    live_face: Option<String>,
}

fn level_one() -> AssuranceLevel {
    AssuranceLevel::L1
}

/// `POST /counter/verify {qr_text, purpose, level?, live_face?}`: the verified
/// result, or a `presentation-refused` problem whose `code` says why.
#[utoipa::path(post, path = "/counter/verify", summary = "Checks an offline QR payload as a counter with no network would, against the cached keys and status list; each presentation is accepted once -> {verified, purpose, edition, level, claims, face, cache_age_secs}, or 422 presentation-refused whose code names the reason.",
    request_body = VerifyRequest,
    security(("counter_device" = [])),
    responses(
        (status = 200, description = "verified result", body = Object),
        (status = 401, description = "counter-unauthenticated", body = Problem, content_type = PROBLEM),
        (status = 422, description = "presentation-refused, image-unreadable", body = Problem, content_type = PROBLEM),
        (status = 429, description = "over the device frame budget", body = Problem, content_type = PROBLEM),
        BodyProblems, BusyProblem,
    ))]
pub(crate) async fn verify(
    State(state): State<Arc<AppState>>,
    caller: CounterCaller,
    JsonBody(body): JsonBody<VerifyRequest>,
) -> Result<Json<Value>, ApiError> {
    let purpose: Purpose = body.purpose.parse().map_err(|e| ApiError::invalid(format!("purpose: {e}")))?;
    let payload = URL_SAFE_NO_PAD
        .decode(body.qr_text.trim())
        .map_err(|_| CounterError::from(CredentialError::Base64("qr_text")))?;
    counter_frames_within_budget(&state, &caller, u64::from(body.live_face.is_some())).await?;
    let cache = current_cache(&state).await;
    let policy = CounterPolicy {
        purpose,
        level: body.level,
        now: now(),
        max_qr_age_secs: MAX_QR_AGE_SECS,
        max_cache_age_secs: MAX_CACHE_AGE_SECS,
    };
    let authority = Arc::clone(&state.authority);
    let live_face = body.live_face;
    let verdict = state
        .pool
        .run(move |_| {
            let live_image = live_face.as_deref().map(decode_frame).transpose()?;
            let live = live_image.as_ref().map(|image| LiveFace { engine: &authority.face, image });
            // Replays are refused below, against the store every instance shares.
            Ok::<_, ApiError>(check_offline_qr(&payload, &cache, &policy, live, |_| false)?)
        })
        .await??;
    if !state.store.consume_nonce(&format!("counter:{}", verdict.replay_key), verdict.remember_until).await? {
        return Err(CounterError::from(CredentialError::Replayed).into());
    }
    Ok(Json(verdict.result))
}

fn decode_frame(frame: &str) -> Result<RgbImage, ApiError> {
    let bytes = STANDARD.decode(frame.trim()).map_err(|_| ApiError::invalid("a frame is not base64"))?;
    Ok(decode_image_within(&bytes, LIVE_FRAME_MAX_PIXELS)?)
}
