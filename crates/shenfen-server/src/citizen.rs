//! Citizen self-service, authenticated by a key-bound presentation of one of
//! the citizen's own credentials ([`CitizenProof`]), disclosing nothing: read
//! one's own audit entries, withdraw every credential (an upgraded card with
//! its PIN), check the PIN, or get an assurance assertion (L2: the PIN; L3:
//! the PIN and a live face matched against the registry) for one relying
//! party's request.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};
use shenfen_core::{AssuranceLevel, Edition};
use shenfen_credential::{es256_header, sign_compact};
use shenfen_face::{ChallengePolicy, Template};
use shenfen_store::{AuditEntry, AuditEvent, BlindIndex, PinReservation, verify_peppered};
use utoipa::ToSchema;

use crate::app::{AppState, now};
use crate::client_address::ClientAddress;
use crate::enrollment::{decode_frames, frames_within_budget};
use crate::error::{ApiError, PROBLEM, Problem, ProblemType};
use crate::extractors::{CitizenProof, Proof};
use crate::openapi::{BodyProblems, BusyProblem};

/// What the citizen's own log shows of an entry: all of it, except why an
/// enrollment was refused and whether its picture was seen before — every
/// refusal answers the same to the caller, and the log must not become the
/// oracle the answer refuses to be (someone testing photo edits on their own
/// number would learn which check each edit gets past).
fn citizen_view(entry: &AuditEntry) -> Value {
    let mut details = entry.event.details.clone();
    if entry.event.kind == "enrollment.decision"
        && let Some(fields) = details.as_object_mut()
    {
        fields.remove("reason");
        fields.remove("seen_before");
    }
    details
}

/// Seconds an assurance assertion stays valid: long enough to post one answer.
const ASSERTION_SECS: i64 = 120;
/// The `typ` of assurance assertions.
pub(crate) const ASSERTION_TYP: &str = "shenfen-assurance+jwt";
/// Audit entries per page of `/citizen/audit`.
const AUDIT_PAGE: u32 = 100;

/// A page of the citizen's own audit log.
// Fields here and in `OwnEntry` in the order `json!` wrote them before
// (sorted), so the answer is byte for byte the same.
#[derive(Serialize, ToSchema)]
pub(crate) struct OwnAudit {
    /// Oldest first.
    entries: Vec<OwnEntry>,
    /// The `after` of the next page; null on the last.
    next_after: Option<u64>,
}

/// One entry of the citizen's own log.
#[derive(Serialize, ToSchema)]
pub(crate) struct OwnEntry {
    /// `citizen`, `system` or `operator:<name>`.
    actor: String,
    /// When (seconds since the epoch).
    at: i64,
    /// What the event records, less why an enrollment was refused.
    #[schema(value_type = Object)]
    details: Value,
    /// The event kind (`enrollment.decision`, `credential.revoked`, …).
    kind: String,
    /// Position in the log.
    seq: u64,
}

/// `POST /citizen/audit {presentation, after?}`: the citizen's own audit
/// entries, a page at a time (`next_after` when there are more). Reading
/// them is itself recorded.
#[utoipa::path(post, path = "/citizen/audit", summary = "The citizen own audit entries, 100 a page ({presentation, after?} -> {entries, next_after}); authenticated by {presentation}: an SD-JWT+KB of one of their valid credentials with aud = this issuer and nonce = a fresh c_nonce, disclosing nothing.",
    request_body = Proof,
    responses(
        (status = 200, description = "a page of entries", body = OwnAudit),
        (status = 401, description = "citizen-unauthenticated", body = Problem, content_type = PROBLEM),
        BodyProblems,
    ))]
pub(crate) async fn own_audit(
    State(state): State<Arc<AppState>>,
    citizen: CitizenProof,
) -> Result<Json<OwnAudit>, ApiError> {
    let subject = citizen.subject;
    let entries = state.store.audit_of(&subject, citizen.proof.after, AUDIT_PAGE).await?;
    let next_after = (entries.len() == AUDIT_PAGE as usize).then(|| entries.last().map(|e| e.seq)).flatten();
    let entries = entries
        .iter()
        .map(|e| OwnEntry {
            actor: e.event.actor.clone(),
            at: e.event.at,
            details: citizen_view(e),
            kind: e.event.kind.clone(),
            seq: e.seq,
        })
        .collect();
    state.store.append_audit(citizen_event(subject, "citizen.audit_read", json!({}), now())).await?;
    Ok(Json(OwnAudit { entries, next_after }))
}

fn citizen_event(subject: BlindIndex, kind: &str, details: Value, at: i64) -> AuditEvent {
    AuditEvent { at, kind: kind.into(), actor: "citizen".into(), subject: Some(subject), details }
}

/// How many credentials a revocation withdrew.
#[derive(Serialize, ToSchema)]
pub(crate) struct Revoked {
    /// Credentials newly revoked.
    pub(crate) revoked: u64,
}

/// A PIN that matched.
#[derive(Serialize, ToSchema)]
pub(crate) struct PinVerified {
    /// Always `true`: a wrong PIN is a problem.
    verified: bool,
}

/// `POST /citizen/revoke {presentation, pin?}`: withdraws every credential
/// the citizen holds, on every phone. Withdrawing an upgraded card also
/// needs its PIN, checked as `/citizen/pin` checks it (counted, locked out):
/// the upgraded edition asks for the PIN at every use that matters, and a
/// phone found unlocked must not be enough to cancel the card it carries.
#[utoipa::path(post, path = "/citizen/revoke", summary = "Withdraws every credential the citizen holds, on every phone ({presentation, pin?}, authenticated as /citizen/audit); a presentation of the upgraded edition also needs the PIN, checked and counted as /citizen/pin does.",
    request_body = Proof,
    responses(
        (status = 200, description = "how many were revoked", body = Revoked),
        (status = 400, description = "invalid-request: an upgraded card sent no pin", body = Problem, content_type = PROBLEM),
        (status = 401, description = "citizen-unauthenticated, or pin-incorrect", body = Problem, content_type = PROBLEM),
        (status = 429, description = "pin-locked (Retry-After)", body = Problem, content_type = PROBLEM),
        BodyProblems, BusyProblem,
    ))]
pub(crate) async fn revoke_all(
    State(state): State<Arc<AppState>>,
    citizen: CitizenProof,
) -> Result<Json<Revoked>, ApiError> {
    if citizen.edition == Edition::Upgraded {
        pin_verified(&state, &citizen.subject, citizen.proof.pin).await?;
    }
    let details = json!({ "reason": "withdrawn by the citizen" });
    let event = citizen_event(citizen.subject, "credential.revoked", details, now());
    let revoked = state.store.revoke_subject(&citizen.subject, 1, event).await?;
    Ok(Json(Revoked { revoked }))
}

/// `POST /citizen/pin {presentation, pin}`: checks the PIN of an upgraded
/// enrollment. Failures count; after five, each further one doubles a delay
/// during which no attempt is checked (NIST SP 800-63B); the PIN is never logged.
#[utoipa::path(post, path = "/citizen/pin", summary = "Checks the upgraded edition PIN ({presentation, pin}, authenticated as /citizen/audit). After 5 consecutive failures each further one doubles a waiting time from 30 s (Retry-After); 100 block the PIN.",
    request_body = Proof,
    responses(
        (status = 200, description = "the PIN matches", body = PinVerified),
        (status = 401, description = "citizen-unauthenticated, or pin-incorrect", body = Problem, content_type = PROBLEM),
        (status = 409, description = "pin-not-set", body = Problem, content_type = PROBLEM),
        (status = 429, description = "pin-locked (Retry-After)", body = Problem, content_type = PROBLEM),
        BodyProblems, BusyProblem,
    ))]
pub(crate) async fn check_pin(
    State(state): State<Arc<AppState>>,
    citizen: CitizenProof,
) -> Result<Json<PinVerified>, ApiError> {
    pin_verified(&state, &citizen.subject, citizen.proof.pin).await?;
    Ok(Json(PinVerified { verified: true }))
}

/// Checks the citizen's PIN under the lockout policy: `Ok` when it matches,
/// otherwise the problem to answer (wrong, locked, not set). The attempt is
/// counted — and, if it would lock, the lock set — before argon2id runs, so
/// parallel guesses get no more checks than sequential ones.
async fn pin_verified(state: &AppState, subject: &BlindIndex, pin: Option<String>) -> Result<(), ApiError> {
    let pin = pin.ok_or_else(|| ApiError::invalid_field("pin", "send the pin"))?;
    // A place in the pool first: an attempt, once counted, is always checked.
    let admission = state.pool.admit()?;
    let now = now();
    let lockout = &state.authority.policy.pin_lockout;
    let (pin_hash, failures, locks_until) = match state.store.reserve_pin_attempt(subject, lockout, now).await? {
        PinReservation::Reserved { pin_hash, failures, locks_until } => (pin_hash, failures, locks_until),
        PinReservation::Locked(until) => return Err(pin_locked(until, now)),
        PinReservation::NotSet => {
            return Err(ApiError::new(ProblemType::PinNotSet)
                .detail("only the upgraded edition has a PIN; enroll in it at a counter"));
        }
    };
    let authority = Arc::clone(&state.authority);
    let matches = admission.run(move |_| verify_peppered(&pin_hash, &pin, authority.pin_pepper())).await?;
    state.metrics.secret_checked("pin");
    let lock_event = locks_until.filter(|_| !matches).map(|_| AuditEvent {
        at: now,
        kind: "pin.locked".into(),
        actor: "system".into(),
        subject: Some(*subject),
        details: json!({ "failures": failures }),
    });
    state.store.settle_pin_attempt(subject, matches, lock_event, now).await?;
    match (matches, locks_until) {
        (true, _) => Ok(()),
        (false, Some(until)) => Err(pin_locked(until, now)),
        (false, None) => Err(ApiError::new(ProblemType::PinIncorrect).detail(format!(
            "the PIN is wrong; {} more tries before a waiting time",
            lockout.free_failures.saturating_sub(failures)
        ))),
    }
}

/// An assurance assertion.
// Fields in the order `json!` wrote them before (sorted), so the answer is byte
// for byte the same.
#[derive(Serialize, ToSchema)]
pub(crate) struct Assertion {
    /// The signed JWT (`typ` shenfen-assurance+jwt) for the relying party.
    assertion: String,
    /// When it expires (seconds since the epoch).
    expires_at: i64,
    /// `L2` or `L3`.
    #[schema(value_type = String)]
    level: AssuranceLevel,
}

/// `POST /citizen/assertion {presentation, pin, audience, nonce, frames?}`:
/// a short-lived assertion, signed by the authority, that the holder of the
/// presentation's device key knew the PIN (L2) and, with frames, showed the
/// registered live face (L3) — bound to one relying party's request
/// (`aud`, `nonce`) and to the device key (`cnf.jkt`).
#[utoipa::path(post, path = "/citizen/assertion", summary = "An assurance assertion for one relying party request ({presentation, pin, audience, nonce, frames?}, authenticated as /citizen/audit): the PIN reaches L2; with live frames matched against the registry template L3. Answers {assertion, level, expires_at}.",
    request_body = Proof,
    responses(
        (status = 200, description = "the assertion", body = Assertion),
        (status = 401, description = "citizen-unauthenticated, or pin-incorrect", body = Problem, content_type = PROBLEM),
        (status = 409, description = "pin-not-set", body = Problem, content_type = PROBLEM),
        (status = 422, description = "face-not-confirmed, image-unreadable", body = Problem, content_type = PROBLEM),
        (status = 429, description = "pin-locked, or over the frame budget", body = Problem, content_type = PROBLEM),
        BodyProblems, BusyProblem,
    ))]
pub(crate) async fn assertion(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    citizen: CitizenProof,
) -> Result<Json<Assertion>, ApiError> {
    let proof = citizen.proof;
    let (Some(audience), Some(nonce)) = (proof.audience, proof.nonce) else {
        return Err(ApiError::invalid("send the relying party's client_id as audience and its request nonce"));
    };
    frames_within_budget(&state, &client, proof.frames.len()).await?;
    pin_verified(&state, &citizen.subject, proof.pin).await?;
    let level = if proof.frames.is_empty() {
        AssuranceLevel::L2
    } else {
        live_face_matches(&state, &citizen.subject, proof.frames).await?;
        AssuranceLevel::L3
    };
    let now = now();
    let issuer = &state.authority.issuer;
    let claims = json!({
        "iss": issuer.url,
        "aud": audience,
        "nonce": nonce,
        "iat": now,
        "exp": now + ASSERTION_SECS,
        "level": level,
        "cnf": { "jkt": citizen.holder.thumbprint() },
    });
    let jwt = sign_compact(
        &es256_header(ASSERTION_TYP, issuer.public.kid()),
        claims.as_object().unwrap_or(&serde_json::Map::new()),
        &issuer.signing_key,
    )
    .map_err(|_| ApiError::internal())?;
    let details = json!({ "level": level, "audience": audience });
    state.store.append_audit(citizen_event(citizen.subject, "citizen.assertion", details, now)).await?;
    Ok(Json(Assertion { assertion: jwt, expires_at: now + ASSERTION_SECS, level }))
}

/// Passive liveness on the frames, then the first frame's face against the
/// citizen's registry template; the frames are decoded in the same pooled job.
async fn live_face_matches(state: &Arc<AppState>, subject: &BlindIndex, frames: Vec<String>) -> Result<(), ApiError> {
    let entry = match state.store.entry(subject).await? {
        Some(sealed) => sealed.open(state.authority.keys.as_ref())?,
        None => {
            return Err(
                ApiError::new(ProblemType::CitizenUnauthenticated).detail("the citizen is no longer in the registry")
            );
        }
    };
    let registered = entry.face_template.as_deref().and_then(|b| Template::from_bytes(b).ok());
    let authority = state.authority.clone();
    let similarity = state
        .pool
        .run(move |interrupt| {
            let images = decode_frames(&frames, "frame", interrupt)?;
            // The live face of an assertion: passive only (the page shows no challenge there).
            let policy = ChallengePolicy { require_active: false, require_flash: false, ..authority.policy.liveness };
            let similarity = authority
                .face
                .liveness_interruptible(&images, &[], None, &authority.policy.quality, &policy, &|| interrupt.raised())
                .ok()
                .and_then(|report| report.first.filter(|_| report.decision.passed))
                .and_then(|face| registered?.similarity(&authority.face.template(&face)).ok());
            Ok::<_, ApiError>(similarity)
        })
        .await??;
    match similarity {
        Some(s) if s >= state.authority.face.match_threshold => Ok(()),
        _ => Err(ApiError::new(ProblemType::FaceNotConfirmed).detail(
            "the live face could not be confirmed as the registered one; face the camera in good light and try again",
        )),
    }
}

fn pin_locked(until: i64, now: i64) -> ApiError {
    let locked = ApiError::new(ProblemType::PinLocked);
    if until == i64::MAX {
        locked.detail("the PIN is blocked after too many failures; enroll again at a counter")
    } else {
        locked.detail(format!("too many wrong PINs; try again in {} seconds", until - now)).retry_after(until - now)
    }
}
