//! Enrollment: start a session with a random liveness challenge, then submit
//! frames; liveness, registry and face are checked, and every refusal looks
//! the same whatever its reason — whether the ID number exists or not.

use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;
use shenfen_core::{CardValidity, Edition, IdNumber, check_new_pin};
use shenfen_face::{Action, FaceError, Template, decode_image_within, parse_challenge};
use shenfen_store::{AuditEvent, BlindIndex, EnrollmentSession, Grant, Offer, Store, hash_peppered, random_below};

use crate::app::{AppState, now};
use crate::authority::Authority;
use crate::client_address::ClientAddress;
use crate::operator::TX_CODE_DIGITS;
use crate::problem::Problem;
use crate::tokens::{invalid, json_body, random_token, token_hash};
use crate::work_pool::{Admission, Interrupt};

/// Largest frames submission: a short burst of phone-camera JPEGs.
pub const FRAMES_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Largest live camera frame, in pixels: a 12-megapixel phone photo (4032 ×
/// 3024). Anything larger is refused from its header, before decoding.
pub const LIVE_FRAME_MAX_PIXELS: u64 = 12_500_000;
/// Seconds a pre-authorized code stays valid.
const OFFER_SECS: i64 = 600;

#[derive(Deserialize)]
struct StartRequest {
    id_number: String,
    name: String,
    /// `YYYY-MM-DD`, or `长期` / `long-term`, as printed on the card.
    card_expiry: String,
    #[serde(default = "lightweight")]
    edition: String,
}

fn lightweight() -> String {
    Edition::Lightweight.as_str().to_owned()
}

#[derive(Deserialize)]
struct FramesRequest {
    /// Base64 JPEG/PNG/WebP frames in capture order.
    frames: Vec<String>,
    /// The PIN the citizen chooses (upgraded edition only).
    pin: Option<String>,
}

/// The one answer every refused enrollment gets.
fn refused() -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "enrollment-refused", "Enrollment refused").with_detail(
        "the card details or the live face could not be confirmed; check the details, face the camera in good light, \
         and start again (the upgraded edition also needs a visit to a counter within the hour before)",
    )
}

fn rate_limited() -> Problem {
    Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many attempts")
        .with_detail("wait an hour and try again")
}

/// `POST /enrollment/sessions`
pub async fn start(State(state): State<Arc<AppState>>, client: ClientAddress, request: Request) -> Response {
    let body: StartRequest = match json_body(request.into_body(), 16 * 1024).await {
        Ok(body) => body,
        Err(problem) => return problem.into_response(),
    };
    let id = match IdNumber::parse(&body.id_number) {
        Ok(id) => id,
        Err(e) => return invalid(&format!("id_number: {e}")).into_response(),
    };
    // The claim is digested in the one spelling the registry comparison uses.
    let Some(expiry) = CardValidity::parse_expiry(&body.card_expiry).map(CardValidity::expiry_label) else {
        return invalid("card_expiry must be YYYY-MM-DD or 长期").into_response();
    };
    if body.name.trim().is_empty() || body.name.chars().count() > 64 {
        return invalid("name must be 1 to 64 characters").into_response();
    }
    if let Err(e) = body.edition.parse::<Edition>() {
        return invalid(&e.to_string()).into_response();
    }
    let authority = &state.authority;
    let subject = BlindIndex::of(authority.keys.as_ref(), &id);
    let now = now();
    let hour = now - now.rem_euclid(3600);
    let limits = [
        (format!("start:subject:{}", subject.hex()), authority.policy.starts_per_subject_hour),
        (format!("start:client:{}", client.key()), authority.policy.starts_per_client_hour),
    ];
    for (key, limit) in limits {
        match state.store.count_attempt(&key, hour).await {
            Ok(n) if n > limit => return rate_limited().into_response(),
            Ok(_) => {}
            Err(e) => return internal(&e),
        }
    }
    let (Some((session_id, _)), Some(challenge)) = (
        state.session_ids.issue_for(now, authority.policy.session_secs),
        draw_challenge(&authority.policy.challenge_actions, authority.policy.challenge_length),
    ) else {
        return Problem::internal().into_response();
    };
    let session = EnrollmentSession {
        id: session_id.clone(),
        subject,
        claim_digest: authority.claim_digest(&body.name, &expiry),
        edition: body.edition.clone(),
        challenge: challenge.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(","),
        expires_at: now + authority.policy.session_secs,
    };
    if let Err(e) = state.store.create_session(&session).await {
        return internal(&e);
    }
    (
        StatusCode::CREATED,
        Json(json!({ "session_id": session_id, "challenge": challenge, "expires_at": session.expires_at })),
    )
        .into_response()
}

/// Decodes base64 camera frames (on a pool worker: decoding is the costly
/// part), or the problem naming the first bad one; stops between frames
/// once nobody waits for the result.
pub fn decode_frames(frames: &[String], interrupt: &Interrupt) -> Result<Vec<image::RgbImage>, Problem> {
    frames
        .iter()
        .enumerate()
        .map(|(i, frame)| {
            if interrupt.raised() {
                return Err(Problem::internal());
            }
            STANDARD
                .decode(frame.trim())
                .map_err(|_| format!("frame {i} is not base64"))
                .and_then(|bytes| {
                    decode_image_within(&bytes, LIVE_FRAME_MAX_PIXELS)
                        .map_err(|e| format!("frame {i}: [{}] {e}", e.code()))
                })
                .map_err(|detail| invalid(&detail))
        })
        .collect()
}

/// Counts `frames` against the client's per-minute budget before any is
/// decoded; the problem to answer once the budget is spent.
pub async fn frames_within_budget(state: &AppState, client: &ClientAddress, frames: usize) -> Result<(), Response> {
    let now = now();
    let key = format!("frames:{}", client.key());
    let budget = state.authority.policy.frames_per_client_minute;
    match state.store.count_attempts(&key, now - now.rem_euclid(60), frames as u64).await {
        Ok(n) if n > budget => Err(Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many attempts")
            .with_detail(format!("at most {budget} camera frames a minute from one address; wait a minute"))
            .into_response()),
        Ok(_) => Ok(()),
        Err(e) => Err(internal(&e)),
    }
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

/// Liveness over the frames, and the template of the first frame's face, which
/// must also pass the enrollment quality gate (it is the one matched).
fn analyse_frames(
    authority: &Authority,
    images: &[image::RgbImage],
    challenge: &[Action],
    interrupt: &Interrupt,
) -> Result<(bool, Template), FaceError> {
    let report = authority.face.liveness_interruptible(
        images,
        challenge,
        &authority.policy.quality,
        &authority.policy.liveness,
        &|| interrupt.raised(),
    )?;
    let face = report.first.ok_or(FaceError::NoFace)?;
    authority.policy.quality.check(&face.report.quality)?;
    Ok((report.decision.passed, authority.face.template(&face)))
}

/// Why a decision was negative: recorded in the audit log, never sent.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    Session,
    Locked,
    Liveness,
    NotRegistered,
    NoTemplate,
    Claims,
    FaceMismatch,
    NotAttested,
}

/// `POST /enrollment/sessions/{id}/frames`: the cheap checks first — the
/// session id's MAC (before the body is even read), the form, the client's
/// frame budget, a place in the pool — then the session is taken and its
/// frames decoded and analysed in one pooled job.
pub async fn submit(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    Path(session_id): Path<String>,
    request: Request,
) -> Response {
    let now = now();
    if state.session_ids.check(&session_id, now).is_none() {
        return refused().into_response();
    }
    let body: FramesRequest = match json_body(request.into_body(), FRAMES_BODY_LIMIT).await {
        Ok(body) => body,
        Err(problem) => return problem.into_response(),
    };
    if body.frames.is_empty() || body.frames.len() > state.authority.policy.liveness.max_frames {
        return invalid(&format!("send 1 to {} frames", state.authority.policy.liveness.max_frames)).into_response();
    }
    if let Some(Err(e)) = body.pin.as_deref().map(check_new_pin) {
        return invalid(&format!("pin: [{}] {e}", e.code())).into_response();
    }
    if let Err(response) = frames_within_budget(&state, &client, body.frames.len()).await {
        return response;
    }
    // A place in the pool before the session is spent: a busy server leaves it open.
    let admission = match state.pool.admit() {
        Ok(admission) => admission,
        Err(busy) => return busy.into_response(),
    };
    let session = match state.store.take_session(&session_id, now).await {
        Ok(Some(session)) => session,
        Ok(None) => return refused().into_response(),
        Err(e) => return internal(&e),
    };
    let upgraded = session.edition == Edition::Upgraded.as_str();
    if upgraded && body.pin.is_none() {
        return invalid("the upgraded edition needs the chosen pin with the frames; start again").into_response();
    }
    let decision = match decide(&state, &session, body.frames, admission, now).await {
        Ok(decision) => decision,
        Err(error) => return error.0,
    };
    let day = now - now.rem_euclid(86_400);
    let failure_key = format!("enroll-fail:{}", session.subject.hex());
    // What an acceptance stores: the grant, under the hash of its pre-authorized code.
    let (accepted, reason) = match &decision {
        Decision::Accepted { code, tx_code_hash, .. } => {
            let grant =
                Grant { subject: session.subject, edition: session.edition.clone(), tx_code_hash: *tx_code_hash };
            (Some((grant, token_hash(code))), None)
        }
        Decision::Refused(reason) => (None, Some(*reason)),
    };
    let pin_hash = match (&accepted, body.pin.filter(|_| upgraded)) {
        (Some(_), Some(pin)) => {
            let authority = Arc::clone(&state.authority);
            match state.pool.run(move |_| hash_peppered(&pin, authority.pin_pepper())).await {
                Ok(Ok(hash)) => Some(hash),
                Ok(Err(e)) => return internal(&e),
                Err(e) => return e.into_response(),
            }
        }
        _ => None,
    };
    let offer = accepted.as_ref().map(|(grant, code_hash)| Offer {
        code_hash,
        grant,
        expires_at: now + OFFER_SECS,
        pin_hash: pin_hash.as_deref(),
    });
    let recorded = state
        .store
        .record_decision(offer, decision_event(&session, reason, now), reason.map(|_| (failure_key.as_str(), day)))
        .await;
    let failures = match recorded {
        Ok(failures) => failures,
        Err(e) => return internal(&e),
    };
    match decision {
        Decision::Accepted { offer, .. } => {
            (StatusCode::CREATED, Json(json!({ "credential_offer": offer }))).into_response()
        }
        Decision::Refused(_) => {
            if failures == state.authority.policy.failures_per_subject_day {
                audit_lock(&state, &session, failures, day).await;
            }
            refused().into_response()
        }
    }
}

/// The outcome of a submission.
enum Decision {
    /// The credential offer to return, its pre-authorized code, and the hash
    /// of the transaction code the token request must carry (upgraded edition).
    Accepted { offer: serde_json::Value, code: String, tx_code_hash: Option<[u8; 32]> },
    /// Why not (for the audit log only).
    Refused(Refusal),
}

/// Liveness first, then registry and face: the expensive work happens whether
/// or not the ID number is registered, so timing does not tell either.
async fn decide(
    state: &Arc<AppState>,
    session: &EnrollmentSession,
    frames: Vec<String>,
    admission: Admission<'_>,
    now: i64,
) -> Result<Decision, ErrorResponse> {
    let authority = state.authority.clone();
    let Ok(challenge) = parse_challenge(&session.challenge) else { return Ok(Decision::Refused(Refusal::Session)) };
    let analysed = admission
        .run(move |interrupt| {
            let images = decode_frames(&frames, interrupt)?;
            Ok::<_, Problem>(analyse_frames(&authority, &images, &challenge, interrupt))
        })
        .await
        .map_err(|e| ErrorResponse(e.into_response()))?
        .map_err(|mut problem| {
            // The session is spent: say so beside what was wrong with the frames.
            problem.detail = problem.detail.map(|d| format!("{d}; start a new enrollment session"));
            ErrorResponse(problem.into_response())
        })?;
    let day = now - now.rem_euclid(86_400);
    let failures = state
        .store
        .attempt_count(&format!("enroll-fail:{}", session.subject.hex()), day)
        .await
        .map_err(|e| ErrorResponse::from(&e))?;
    let entry = state.store.entry(&session.subject).await.map_err(|e| ErrorResponse::from(&e))?;
    let attestation = if session.edition == Edition::Upgraded.as_str() {
        Some(state.store.attestation(&session.subject, now).await.map_err(|e| ErrorResponse::from(&e))?)
    } else {
        None
    };
    if failures >= state.authority.policy.failures_per_subject_day {
        return Ok(Decision::Refused(Refusal::Locked));
    }
    let (live, live_template) = match analysed {
        Ok(result) => result,
        Err(_) => return Ok(Decision::Refused(Refusal::Liveness)),
    };
    if !live {
        return Ok(Decision::Refused(Refusal::Liveness));
    }
    // An unregistered number takes the same path through a decoy entry (unseal,
    // digest, compare), so the registry lookup adds no timing difference.
    let registered_entry = entry.is_some();
    let sealed = match entry {
        Some(sealed) => sealed,
        None => state.authority.decoy_entry().map_err(|e| ErrorResponse::from(&e))?.clone(),
    };
    let registered = sealed.open(state.authority.keys.as_ref()).map_err(|e| ErrorResponse::from(&e))?;
    let expiry = CardValidity::expiry_label(registered.record.validity.until);
    let expected = state.authority.claim_digest(&registered.record.name, &expiry);
    let claims_match = verify_slices_are_equal(&expected, &session.claim_digest).is_ok();
    if !registered_entry {
        return Ok(Decision::Refused(Refusal::NotRegistered));
    }
    if !claims_match {
        return Ok(Decision::Refused(Refusal::Claims));
    }
    let Some(template) = registered.face_template.as_deref().and_then(|b| Template::from_bytes(b).ok()) else {
        return Ok(Decision::Refused(Refusal::NoTemplate));
    };
    let Ok(similarity) = template.similarity(&live_template) else { return Ok(Decision::Refused(Refusal::NoTemplate)) };
    if similarity < state.authority.face.match_threshold {
        return Ok(Decision::Refused(Refusal::FaceMismatch));
    }
    let tx_code_hash = match attestation {
        None => None,
        Some(Some(attestation)) => Some(attestation.tx_code_hash),
        Some(None) => return Ok(Decision::Refused(Refusal::NotAttested)),
    };
    let code = random_token().ok_or_else(|| ErrorResponse(Problem::internal().into_response()))?;
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
        "credential_configuration_ids": [crate::issuance::configuration_id(&session.edition)],
        "grants": { "urn:ietf:params:oauth:grant-type:pre-authorized_code": grant }
    });
    Ok(Decision::Accepted { offer, code, tx_code_hash })
}

fn decision_event(session: &EnrollmentSession, reason: Option<Refusal>, now: i64) -> AuditEvent {
    let details = match reason {
        None => json!({ "outcome": "accepted", "edition": session.edition }),
        Some(r) => json!({ "outcome": "refused", "reason": format!("{r:?}"), "edition": session.edition }),
    };
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

/// A failure that is not a decision (the store is down, unreadable frames).
pub struct ErrorResponse(Response);

impl From<&shenfen_store::StoreError> for ErrorResponse {
    fn from(e: &shenfen_store::StoreError) -> ErrorResponse {
        ErrorResponse(internal(e))
    }
}

/// Logs a store failure and answers 500 without internals.
pub fn internal(e: &shenfen_store::StoreError) -> Response {
    tracing::error!(code = e.code(), "store failure");
    Problem::internal().into_response()
}
