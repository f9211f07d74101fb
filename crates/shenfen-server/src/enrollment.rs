//! Enrollment: start a session with a random liveness challenge, then submit
//! frames; liveness, registry and face are checked, and every refusal looks
//! the same whatever its reason — whether the ID number exists or not.

use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shenfen_core::{CardValidity, Edition, IdNumber, check_new_pin};
use shenfen_face::{
    Action, FLASH_STEPS, FaceError, FlashColour, FlashFrames, FramePrint, LivenessFailure, Template,
    decode_image_within, parse_challenge,
};
use shenfen_store::{
    Attestation, AuditEvent, BlindIndex, EnrollmentSession, FRAME_PRINT_DAYS, Grant, Offer, SealedEntry, SealedValue,
    StoreError, hash_peppered, random_below,
};
use utoipa::ToSchema;

use crate::app::{AppState, now};
use crate::authority::Authority;
use crate::client_address::ClientAddress;
use crate::error::{ApiError, PROBLEM, Problem, ProblemType};
use crate::extractors::JsonBody;
use crate::openapi::{BodyProblems, BusyProblem};
use crate::tokens::{TX_CODE_DIGITS, bounded_list, random_token, token_hash};
use crate::work_pool::{Admission, Interrupt};

/// Largest frames submission: a short burst of phone-camera JPEGs.
pub const FRAMES_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Largest live camera frame, in pixels: a 12-megapixel phone photo (4032 ×
/// 3024). Anything larger is refused from its header, before decoding.
pub(crate) const LIVE_FRAME_MAX_PIXELS: u64 = 12_500_000;
/// Seconds a pre-authorized code stays valid.
const OFFER_SECS: i64 = 600;
/// How long the wallet shows each flash colour before it films the face.
const FLASH_STEP_MS: u32 = 400;

/// The card details a citizen types to start.
#[derive(Deserialize, ToSchema)]
pub(crate) struct StartRequest {
    /// The 18-character resident ID number.
    id_number: String,
    /// The name as printed on the card.
    name: String,
    /// `YYYY-MM-DD`, or `长期` / `long-term`, as printed on the card.
    card_expiry: String,
    /// `lightweight` (default) or `upgraded`.
    #[serde(default = "lightweight")]
    edition: String,
}

fn lightweight() -> String {
    Edition::Lightweight.as_str().to_owned()
}

/// The frames of a session (and the chosen PIN).
#[derive(Deserialize, ToSchema)]
pub(crate) struct FramesRequest {
    /// Base64 JPEG/PNG/WebP frames in capture order.
    #[serde(deserialize_with = "bounded_list")]
    #[schema(max_items = 256)]
    frames: Vec<String>,
    /// The colour-flash frames (base64): the first taken just before the
    /// flash, then one per colour of the session's sequence.
    #[serde(default, deserialize_with = "bounded_list")]
    #[schema(max_items = 256)]
    flash_frames: Vec<String>,
    /// When the page captured each frame, `frames` then `flash_frames`, in
    /// milliseconds from its first capture.
    #[serde(default, deserialize_with = "bounded_list")]
    #[schema(max_items = 256)]
    captured_at: Vec<i64>,
    /// The PIN the citizen chooses (upgraded edition only).
    pin: Option<String>,
}

/// Shortest time between two flash frames: the screen repaints and the
/// camera exposes a frame under the new colour.
const MIN_FLASH_GAP_MS: i64 = 100;
/// How far two instances' clocks (and whole seconds) may differ when a
/// session starts at one and its frames arrive at the other.
const INSTANCE_CLOCK_SLACK_SECS: i64 = 5;

impl FramesRequest {
    /// Every frame, motion and flash, for the budget.
    fn frame_count(&self) -> usize {
        self.frames.len() + self.flash_frames.len()
    }

    /// Whether the frames and their capture times have the shape a page
    /// filming one flash session gives: a reference and one frame per
    /// colour, one time per frame, strictly increasing, the flash frames far
    /// enough apart for the screen to change between them. Checked before
    /// the session is taken: a malformed body spends nothing.
    fn shaped_for_flash(&self) -> bool {
        let times = &self.captured_at;
        let flash_start = self.frames.len();
        self.flash_frames.len() == FLASH_STEPS + 1
            && times.len() == self.frame_count()
            && times.first().is_some_and(|&t| t >= 0)
            && times.windows(2).all(|w| w[1] > w[0])
            && times.get(flash_start..).is_some_and(|flash| flash.windows(2).all(|w| w[1] - w[0] >= MIN_FLASH_GAP_MS))
    }

    /// Whether the page's clock agrees with the server's: the capture ran
    /// no longer than the session has existed, give or take the clock
    /// difference of two instances. A sanity check only — the times are the
    /// client's word.
    fn captured_within(&self, session_age_secs: i64) -> bool {
        let allowed = session_age_secs.saturating_add(INSTANCE_CLOCK_SLACK_SECS).saturating_mul(1000);
        self.captured_at.last().is_some_and(|&last| last <= allowed)
    }
}

/// The one answer every refused enrollment gets.
fn refused() -> ApiError {
    ApiError::new(ProblemType::EnrollmentRefused).detail(
        "the card details or the live face could not be confirmed; check the details, face the camera in good light, \
         and start again (the upgraded edition also needs a visit to a counter within the hour before)",
    )
}

/// A started session.
// Fields in the order `json!` wrote them before (sorted), so the answer is byte
// for byte the same.
#[derive(Serialize, ToSchema)]
pub(crate) struct Session {
    /// The movements to film, in order (`turn_left`, …); empty when the policy asks for none.
    #[schema(value_type = Vec<String>)]
    challenge: Vec<Action>,
    /// When the session expires (seconds since the epoch).
    expires_at: i64,
    /// The colour flash to film, when the policy asks for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    flash: Option<Flash>,
    /// For the frames request: `/enrollment/sessions/{session_id}/frames`.
    session_id: String,
}

/// The colours the page flashes, each for `step_ms`, filming the face under each.
#[derive(Serialize, ToSchema)]
pub(crate) struct Flash {
    /// Colour names, in order.
    colours: Vec<&'static str>,
    /// Milliseconds each colour is shown.
    step_ms: u32,
}

/// `POST /enrollment/sessions`
#[utoipa::path(post, path = "/enrollment/sessions", summary = "Starts a face-verified enrollment ({id_number, name, card_expiry, edition: lightweight|upgraded}) -> a session with a random ordered liveness challenge. The upgraded edition requires an in-person attestation (/operator/attestations) within the hour before.",
    request_body = StartRequest,
    responses(
        (status = 201, description = "a session", body = Session),
        (status = 422, description = "enrollment-refused, the same for every reason", body = Problem, content_type = PROBLEM),
        (status = 429, description = "too many attempts for this ID number or client", body = Problem, content_type = PROBLEM),
        BodyProblems,
    ))]
pub(crate) async fn start(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    JsonBody(body): JsonBody<StartRequest>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let id = IdNumber::parse(&body.id_number)
        .map_err(|e| ApiError::invalid_field("id_number", format!("id_number: {e}")).code(e.code()))?;
    // The claim is digested in the one spelling the registry comparison uses.
    let expiry = CardValidity::parse_expiry(&body.card_expiry)
        .map(CardValidity::expiry_label)
        .ok_or_else(|| ApiError::invalid_field("card_expiry", "card_expiry must be YYYY-MM-DD or 长期"))?;
    if body.name.trim().is_empty() || body.name.chars().count() > 64 {
        return Err(ApiError::invalid_field("name", "name must be 1 to 64 characters"));
    }
    let edition: Edition = body
        .edition
        .parse()
        .map_err(|e: shenfen_core::CoreError| ApiError::invalid_field("edition", e.to_string()).code(e.code()))?;
    let authority = &state.authority;
    let subject = BlindIndex::of(authority.keys.as_ref(), &id);
    let now = now();
    let hour = now - now.rem_euclid(3600);
    let limits = [
        (format!("start:subject:{}", subject.hex()), authority.policy.starts_per_subject_hour),
        (format!("start:client:{}", client.key()), authority.policy.starts_per_client_hour),
    ];
    for (key, limit) in limits {
        if state.store.count_attempt(&key, hour).await? > limit {
            return Err(ApiError::new(ProblemType::RateLimited).detail("wait an hour and try again"));
        }
    }
    let (Some((session_id, _)), Some(challenge)) = (
        state.session_ids.issue_for(now, authority.policy.session_secs),
        // Without the movement check, no movements are asked for: the person just looks at the camera.
        draw_challenge(
            &authority.policy.challenge_actions,
            if authority.policy.liveness.require_active { authority.policy.challenge_length } else { 0 },
        ),
    ) else {
        return Err(ApiError::internal());
    };
    let session = EnrollmentSession {
        id: session_id.clone(),
        subject,
        claim_digest: authority.claim_digest(&body.name, &expiry),
        edition,
        challenge: challenge.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(","),
        created_at: now,
        expires_at: now + authority.policy.session_secs,
    };
    state.store.create_session(&session).await?;
    // Derived from the session id: the same on every instance, nothing more to store.
    let flash = authority.policy.liveness.require_flash.then(|| Flash {
        colours: authority.flash_colours(&session_id).iter().map(|c| c.as_str()).collect(),
        step_ms: FLASH_STEP_MS,
    });
    Ok((StatusCode::CREATED, Json(Session { challenge, expires_at: session.expires_at, flash, session_id })))
}

/// Decodes base64 camera frames (on a pool worker: decoding is the costly
/// part), or the problem naming the first bad one (as `name` N); stops between frames
/// once nobody waits for the result.
pub(crate) fn decode_frames(
    frames: &[String],
    name: &str,
    interrupt: &Interrupt,
) -> Result<Vec<image::RgbImage>, ApiError> {
    frames
        .iter()
        .enumerate()
        .map(|(i, frame)| {
            if interrupt.raised() {
                return Err(ApiError::internal());
            }
            STANDARD
                .decode(frame.trim())
                .map_err(|_| format!("{name} {i} is not base64"))
                .and_then(|bytes| {
                    decode_image_within(&bytes, LIVE_FRAME_MAX_PIXELS)
                        .map_err(|e| format!("{name} {i}: [{}] {e}", e.code()))
                })
                .map_err(ApiError::invalid)
        })
        .collect()
}

/// Counts `frames` against the client's per-minute budget before any is
/// decoded; the problem to answer once the budget is spent.
pub(crate) async fn frames_within_budget(
    state: &AppState,
    client: &ClientAddress,
    frames: usize,
) -> Result<(), ApiError> {
    let now = now();
    let key = format!("frames:{}", client.key());
    let budget = state.authority.policy.frames_per_client_minute;
    if state.store.count_attempts(&key, now - now.rem_euclid(60), frames as u64).await? > budget {
        return Err(ApiError::new(ProblemType::RateLimited)
            .detail(format!("at most {budget} camera frames a minute from one address; wait a minute")));
    }
    Ok(())
}

fn draw_challenge(actions: &[Action], length: usize) -> Option<Vec<Action>> {
    let mut pool = actions.to_vec();
    let mut out = Vec::with_capacity(length);
    while out.len() < length && !pool.is_empty() {
        let pick = usize::try_from(random_below(pool.len() as u64).ok()?).ok()?;
        out.push(pool.swap_remove(pick));
    }
    Some(out)
}

/// What the frames showed.
struct Analysed {
    /// Which check refused the person as not live, if one did.
    refusal: Option<Refusal>,
    /// The template of the first frame's face (it is the one matched).
    template: Template,
    /// The perceptual print of the first frame's face.
    print: FramePrint,
}

/// What the frames showed: whether the person was live (or which check
/// refused them), the template of the first frame's face, which must also
/// pass the enrollment quality gate, and that face's print.
fn analyse_frames(
    authority: &Authority,
    images: &[image::RgbImage],
    flash_images: &[image::RgbImage],
    challenge: &[Action],
    colours: &[FlashColour],
    interrupt: &Interrupt,
) -> Result<Analysed, FaceError> {
    let flash = flash_images.split_first().map(|(reference, frames)| FlashFrames { reference, frames, colours });
    let report = authority.face.liveness_interruptible(
        images,
        challenge,
        flash,
        &authority.policy.quality,
        &authority.policy.liveness,
        &|| interrupt.raised(),
    )?;
    let face = report.first.ok_or(FaceError::NoFace)?;
    authority.policy.quality.check(&face.report.quality)?;
    let refusal = report.failure.map(|failure| match failure {
        LivenessFailure::Challenge => Refusal::Liveness,
        LivenessFailure::ColourFlash => Refusal::ColourFlash,
    });
    let print = images.first().map_or(FramePrint(0), |first| FramePrint::of(first, &face.report.detection.bbox));
    Ok(Analysed { refusal, template: authority.face.template(&face), print })
}

/// Frame prints compared per enrollment: the newest of the subject's.
const PRINTS_COMPARED: u32 = 50;

/// What the memory of a subject's earlier frames says of this session's.
struct Sighting {
    print: FramePrint,
    /// The same picture came in an earlier session of this number.
    seen_before: bool,
}

async fn sighting(state: &AppState, subject: &BlindIndex, print: FramePrint, now: i64) -> Result<Sighting, ApiError> {
    let since = now - FRAME_PRINT_DAYS * 86_400;
    let earlier = state.store.frame_prints(subject, since, PRINTS_COMPARED).await?;
    let keys = state.authority.keys.as_ref();
    let seen_before = earlier
        .iter()
        .filter_map(|sealed| sealed.open(keys, &subject.0).ok())
        .filter_map(|bytes| FramePrint::from_bytes(&bytes))
        .any(|earlier| earlier.same_picture(print));
    Ok(Sighting { print, seen_before })
}

/// Why a decision was negative: recorded in the audit log, never sent.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    Session,
    Locked,
    /// The capture ran longer than the session has existed (by the server's clock).
    Timing,
    Liveness,
    /// The face did not take on the screen's colours in the session's order.
    ColourFlash,
    NotRegistered,
    NoTemplate,
    Claims,
    FaceMismatch,
    NotAttested,
}

/// An enrollment session id whose MAC is right and which has not expired:
/// checked from the path alone, before the body is read, so a made-up id
/// costs no upload and no store read.
pub(crate) struct SessionId(String);

impl FromRequestParts<Arc<AppState>> for SessionId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| refused())?;
        state.session_ids.check(&id, now()).ok_or_else(refused)?;
        Ok(SessionId(id))
    }
}

/// `POST /enrollment/sessions/{id}/frames`: the cheap checks first — the
/// session id's MAC (before the body is even read), the form, the client's
/// frame budget, a place in the pool — then the session is taken and its
/// frames decoded and analysed in one pooled job.
#[utoipa::path(post, path = "/enrollment/sessions/{id}/frames", summary = "Submits base64 frames performing the challenge -> a credential offer, or the one refusal every failure gets. A session id this server did not issue (or that expired) is refused before the body is read; a list of more than 256 items is a 400 that leaves the session open; the frames count against the client budget (429); 503 busy (Retry-After) leaves the session open.",
    request_body = FramesRequest,
    params(("id" = String, Path, description = "the id the creating call answered")),
    responses(
        (status = 201, description = "credential_offer", body = Object),
        (status = 422, description = "enrollment-refused, the same for every reason", body = Problem, content_type = PROBLEM),
        (status = 429, description = "over the client frame budget", body = Problem, content_type = PROBLEM),
        BodyProblems, BusyProblem,
    ))]
pub(crate) async fn submit(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    SessionId(session_id): SessionId,
    JsonBody(mut body): JsonBody<FramesRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let now = now();
    let max_frames = state.authority.policy.liveness.max_frames;
    if body.frames.is_empty() || body.frames.len() > max_frames || body.flash_frames.len() > FLASH_STEPS + 1 {
        return Err(ApiError::invalid(format!(
            "send 1 to {max_frames} frames and at most {} flash frames",
            FLASH_STEPS + 1
        )));
    }
    if let Some(Err(e)) = body.pin.as_deref().map(check_new_pin) {
        return Err(ApiError::invalid_field("pin", format!("pin: [{}] {e}", e.code())).code(e.code()));
    }
    frames_within_budget(&state, &client, body.frame_count()).await?;
    if state.authority.policy.liveness.require_flash && !body.shaped_for_flash() {
        return Err(ApiError::invalid(format!(
            "send flash_frames (the frame before the flash, then one per colour: {}) and captured_at (one time \
             per frame in ms, strictly increasing, flash frames at least {MIN_FLASH_GAP_MS} ms apart)",
            FLASH_STEPS + 1
        )));
    }
    // A place in the pool before the session is spent: a busy server leaves it open.
    let admission = state.pool.admit()?;
    let session = state.store.take_session(&session_id, now).await?.ok_or_else(refused)?;
    let upgraded = session.edition == Edition::Upgraded;
    let pin = body.pin.take().filter(|_| upgraded);
    if upgraded && pin.is_none() {
        return Err(ApiError::invalid_field(
            "pin",
            "the upgraded edition needs the chosen pin with the frames; start again",
        ));
    }
    let (decision, sighting) = decide(&state, &session, body, admission, now).await?;
    let print = sighting
        .as_ref()
        .map(|s| SealedValue::seal(state.authority.keys.as_ref(), &s.print.to_bytes(), &session.subject.0))
        .transpose()?;
    let seen_before = sighting.is_some_and(|s| s.seen_before);
    let day = now - now.rem_euclid(86_400);
    let failure_key = format!("enroll-fail:{}", session.subject.hex());
    // What an acceptance stores: the grant, under the hash of its pre-authorized code.
    let (accepted, reason) = match &decision {
        Decision::Accepted { code, tx_code_hash, .. } => {
            let grant = Grant { subject: session.subject, edition: session.edition, tx_code_hash: *tx_code_hash };
            (Some((grant, token_hash(code))), None)
        }
        Decision::Refused(reason) => (None, Some(*reason)),
    };
    let pin_hash = match (&accepted, pin) {
        (Some(_), Some(pin)) => {
            let authority = Arc::clone(&state.authority);
            Some(state.pool.run(move |_| hash_peppered(&pin, authority.pin_pepper())).await??)
        }
        _ => None,
    };
    let offer = accepted.as_ref().map(|(grant, code_hash)| Offer {
        code_hash,
        grant,
        expires_at: now + OFFER_SECS,
        pin_hash: pin_hash.as_deref(),
    });
    let failures = state
        .store
        .record_decision(
            offer,
            decision_event(&session, reason, seen_before, now),
            reason.map(|_| (failure_key.as_str(), day)),
            print.as_ref(),
        )
        .await?;
    match decision {
        Decision::Accepted { offer, .. } => Ok((StatusCode::CREATED, Json(json!({ "credential_offer": offer })))),
        Decision::Refused(_) => {
            if failures == state.authority.policy.failures_per_subject_day {
                audit_lock(&state, &session, failures, day).await;
            }
            Err(refused())
        }
    }
}

/// The outcome of a submission.
enum Decision {
    /// The credential offer to return, its pre-authorized code, and the hash
    /// of the transaction code the token request must carry (upgraded edition).
    Accepted { offer: Value, code: String, tx_code_hash: Option<[u8; 32]> },
    /// Why not (for the audit log only).
    Refused(Refusal),
}

/// Liveness first, then registry and face: the expensive work happens whether
/// or not the ID number is registered, so timing does not tell either.
async fn decide(
    state: &Arc<AppState>,
    session: &EnrollmentSession,
    body: FramesRequest,
    admission: Admission<'_>,
    now: i64,
) -> Result<(Decision, Option<Sighting>), ApiError> {
    let authority = state.authority.clone();
    let challenge = match session.challenge.as_str() {
        "" => Vec::new(),
        asked => match parse_challenge(asked) {
            Ok(challenge) => challenge,
            Err(_) => return Ok((Decision::Refused(Refusal::Session), None)),
        },
    };
    let flash_required = authority.policy.liveness.require_flash;
    if flash_required && !body.captured_within(now - session.created_at) {
        return Ok((Decision::Refused(Refusal::Timing), None));
    }
    let colours = authority.flash_colours(&session.id);
    let analysed = admission
        .run(move |interrupt| {
            let images = decode_frames(&body.frames, "frame", interrupt)?;
            let flash_images =
                if flash_required { decode_frames(&body.flash_frames, "flash frame", interrupt)? } else { Vec::new() };
            Ok::<_, ApiError>(analyse_frames(&authority, &images, &flash_images, &challenge, &colours, interrupt))
        })
        .await?
        // The session is spent: say so beside what was wrong with the frames.
        .map_err(|problem| problem.extend_detail("; start a new enrollment session"))?;
    let day = now - now.rem_euclid(86_400);
    let failures = state.store.attempt_count(&format!("enroll-fail:{}", session.subject.hex()), day).await?;
    let entry = state.store.entry(&session.subject).await?;
    let attestation = if session.edition == Edition::Upgraded {
        Some(state.store.attestation(&session.subject, now).await?)
    } else {
        None
    };
    if failures >= state.authority.policy.failures_per_subject_day {
        return Ok((Decision::Refused(Refusal::Locked), None));
    }
    let analysed = match analysed {
        Ok(analysed) => analysed,
        Err(_) => return Ok((Decision::Refused(Refusal::Liveness), None)),
    };
    let sighting = sighting(state, &session.subject, analysed.print, now).await?;
    let matched = match analysed.refusal {
        Some(refusal) => Err(refusal),
        None => match_registry(state, session, &analysed.template, entry, attestation)?,
    };
    let decision = match matched {
        Err(refusal) => Decision::Refused(refusal),
        Ok(tx_code_hash) => accepted_offer(state, session, tx_code_hash).ok_or_else(ApiError::internal)?,
    };
    Ok((decision, Some(sighting)))
}

/// The live face against the registry: the details typed at the start, the
/// registered face, and for the upgraded edition the counter's attestation.
/// `Ok(Ok(tx_code_hash))` when everything matches (the hash of the slip's
/// code for the upgraded edition), else why not.
fn match_registry(
    state: &AppState,
    session: &EnrollmentSession,
    live_template: &Template,
    entry: Option<SealedEntry>,
    attestation: Option<Option<Attestation>>,
) -> Result<Result<Option<[u8; 32]>, Refusal>, StoreError> {
    // An unregistered number takes the same path through a decoy entry (unseal,
    // digest, compare), so the registry lookup adds no timing difference.
    let registered_entry = entry.is_some();
    let sealed = match entry {
        Some(sealed) => sealed,
        None => state.authority.decoy_entry()?.clone(),
    };
    let registered = sealed.open(state.authority.keys.as_ref())?;
    let expiry = CardValidity::expiry_label(registered.record.validity.until);
    let expected = state.authority.claim_digest(&registered.record.name, &expiry);
    let claims_match = verify_slices_are_equal(&expected, &session.claim_digest).is_ok();
    if !registered_entry {
        return Ok(Err(Refusal::NotRegistered));
    }
    if !claims_match {
        return Ok(Err(Refusal::Claims));
    }
    let Some(template) = registered.face_template.as_deref().and_then(|b| Template::from_bytes(b).ok()) else {
        return Ok(Err(Refusal::NoTemplate));
    };
    let Ok(similarity) = template.similarity(live_template) else { return Ok(Err(Refusal::NoTemplate)) };
    if similarity < state.authority.face.match_threshold {
        return Ok(Err(Refusal::FaceMismatch));
    }
    Ok(match attestation {
        None => Ok(None),
        Some(Some(attestation)) => Ok(Some(attestation.tx_code_hash)),
        Some(None) => Err(Refusal::NotAttested),
    })
}

/// The credential offer of an accepted enrollment, under a fresh pre-authorized code.
fn accepted_offer(state: &AppState, session: &EnrollmentSession, tx_code_hash: Option<[u8; 32]>) -> Option<Decision> {
    let code = random_token()?;
    let mut grant = json!({ "pre-authorized_code": code });
    if tx_code_hash.is_some() {
        grant["tx_code"] = json!({
            "input_mode": "numeric",
            "length": TX_CODE_DIGITS,
            "description": "the code on the slip from the counter / 柜台凭条上的验证码",
        });
    }
    let offer = json!({
        "credential_issuer": state.authority.issuer.url,
        "credential_configuration_ids": [crate::issuance::configuration_id(session.edition)],
        "grants": { "urn:ietf:params:oauth:grant-type:pre-authorized_code": grant }
    });
    Some(Decision::Accepted { offer, code, tx_code_hash })
}

/// The audit entry of a decision; `seen_before` marks frames whose picture
/// came in an earlier session of the same number (for the operators to look at).
fn decision_event(session: &EnrollmentSession, reason: Option<Refusal>, seen_before: bool, now: i64) -> AuditEvent {
    let mut details = match reason {
        None => json!({ "outcome": "accepted", "edition": session.edition }),
        Some(r) => json!({ "outcome": "refused", "reason": format!("{r:?}"), "edition": session.edition }),
    };
    if seen_before {
        details["seen_before"] = json!(true);
    }
    AuditEvent {
        at: now,
        kind: "enrollment.decision".into(),
        actor: "citizen".into(),
        subject: Some(session.subject),
        details,
    }
}

async fn audit_lock(state: &Arc<AppState>, session: &EnrollmentSession, failures: u64, day: i64) {
    let event = AuditEvent {
        at: now(),
        kind: "enrollment.locked".into(),
        actor: "system".into(),
        subject: Some(session.subject),
        details: json!({ "failures": failures, "until": day + 86_400 }),
    };
    if let Err(e) = state.store.append_audit(event).await {
        tracing::error!(code = e.code(), "could not audit a lockout");
    }
}
