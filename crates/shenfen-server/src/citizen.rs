//! Citizen self-service, authenticated by a key-bound presentation of one of
//! the citizen's own credentials (audience: this issuer, nonce: a fresh
//! `c_nonce`), disclosing nothing: read one's own audit entries, withdraw
//! every credential, check the PIN, or get an assurance assertion (L2: the
//! PIN; L3: the PIN and a live face matched against the registry) for one
//! relying party's request. No ID number, password or session is involved.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shenfen_credential::{KeyBindingCheck, PublicJwk, SdJwt, VerifyOptions, es256_header, sign_compact, verify_vc};
use shenfen_face::{ChallengePolicy, Template};
use shenfen_store::{AuditEvent, BlindIndex, PinReservation, verify_peppered};

use crate::app::{AppState, now};
use crate::client_address::ClientAddress;
use crate::enrollment::{FRAMES_BODY_LIMIT, decode_frames, frames_within_budget, internal};
use crate::problem::Problem;
use crate::status_list::STATUS_LIST_ID;
use crate::tokens::{bounded_list, invalid, json_body};

#[derive(Deserialize)]
struct Proof {
    /// An SD-JWT+KB of one of the citizen's credentials, `aud` = the issuer, `nonce` = a fresh c_nonce.
    presentation: String,
    /// The PIN, for `/citizen/pin` and `/citizen/assertion`.
    pin: Option<String>,
    /// For `/citizen/assertion`: the relying party the assertion is for.
    audience: Option<String>,
    /// For `/citizen/assertion`: that relying party's request nonce.
    nonce: Option<String>,
    /// For `/citizen/assertion` at L3: live frames (base64), matched against the registry.
    #[serde(default, deserialize_with = "bounded_list")]
    frames: Vec<String>,
    /// For `/citizen/audit`: entries after this sequence number (paging).
    #[serde(default)]
    after: u64,
}

/// What the citizen's own log shows of an entry: all of it, except why an
/// enrollment was refused and whether its picture was seen before — every
/// refusal answers the same to the caller, and the log must not become the
/// oracle the answer refuses to be (someone testing photo edits on their own
/// number would learn which check each edit gets past).
fn citizen_view(entry: &shenfen_store::AuditEntry) -> Value {
    let mut details = entry.event.details.clone();
    if entry.event.kind == "enrollment.decision"
        && let Some(fields) = details.as_object_mut()
    {
        fields.remove("reason");
        fields.remove("seen_before");
    }
    details
}

/// A citizen authenticated by a presentation.
struct Citizen {
    subject: BlindIndex,
    /// The device key the presentation was bound to.
    holder: PublicJwk,
    proof: Proof,
}

/// Seconds an assurance assertion stays valid: long enough to post one answer.
const ASSERTION_SECS: i64 = 120;
/// The `typ` of assurance assertions.
pub const ASSERTION_TYP: &str = "shenfen-assurance+jwt";
/// Audit entries per page of `/citizen/audit`.
const AUDIT_PAGE: u32 = 100;

fn unauthenticated(detail: &str) -> Response {
    Problem::new(StatusCode::UNAUTHORIZED, "citizen-unauthenticated", "Not authenticated")
        .with_detail(detail)
        .into_response()
}

/// The citizen a presentation authenticates (with the rest of the request),
/// or the response to send. Authentication means a valid credential: signed
/// by one of the authority's published keys (current or retired), bound to
/// the device key that signed the fresh, single-use nonce, and neither
/// revoked nor suspended — a phone whose credentials were revoked opens nothing.
async fn authenticate(state: &Arc<AppState>, request: Request, limit: usize) -> Result<Citizen, Response> {
    let proof: Proof = json_body(request.into_body(), limit).await.map_err(IntoResponse::into_response)?;
    let presentation =
        SdJwt::parse(&proof.presentation).map_err(|e| unauthenticated(&format!("[{}] {e}", e.code())))?;
    let kb = presentation.key_binding().ok_or_else(|| unauthenticated("the presentation needs a key binding JWT"))?;
    let nonce = shenfen_credential::Jws::parse(kb, "key binding JWT")
        .ok()
        .and_then(|jws| jws.payload().get("nonce").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let now = now();
    // The nonce's MAC first: an anonymous caller without one costs no signature check.
    let Some(expires) = state.nonces.check(&nonce, now) else {
        return Err(unauthenticated("use a fresh c_nonce from /nonce as the key binding nonce"));
    };
    let issuer = &state.authority.issuer;
    let options = VerifyOptions {
        now,
        clock_skew_secs: 60,
        expected_typ: None,
        key_binding: Some(KeyBindingCheck { audience: &issuer.url, nonce: &nonce, max_age_secs: 300 }),
    };
    let key =
        issuer.key_for(&presentation).ok_or_else(|| unauthenticated("the credential's key is not this authority's"))?;
    let verifying = key.verifying_key().map_err(|_| Problem::internal().into_response())?;
    let vc =
        verify_vc(&presentation, &verifying, &options).map_err(|e| unauthenticated(&format!("[{}] {e}", e.code())))?;
    let holder = vc.holder_key.ok_or_else(|| unauthenticated("the credential is bound to no device key"))?;
    let reference = vc.status.ok_or_else(|| unauthenticated("the credential carries no status reference"))?;
    if reference.uri != issuer.status_list_uri() {
        return Err(unauthenticated("the credential is not from this authority's status list"));
    }
    match state.store.consume_nonce(&nonce, expires).await {
        Ok(true) => {}
        Ok(false) => return Err(unauthenticated("this c_nonce was already used")),
        Err(e) => return Err(internal(&e)),
    }
    match state.store.credential_holder(STATUS_LIST_ID, reference.idx).await {
        Ok(Some(held)) if held.status == 0 => Ok(Citizen { subject: held.subject, holder, proof }),
        Ok(Some(_)) => Err(unauthenticated(
            "this credential is revoked (the card was enrolled again on another phone, or withdrawn); \
             enroll again on this phone or use the new one",
        )),
        Ok(None) => Err(unauthenticated("no such credential")),
        Err(e) => Err(internal(&e)),
    }
}

/// `POST /citizen/audit {presentation, after?}`: the citizen's own audit
/// entries, a page at a time (`next_after` when there are more). Reading
/// them is itself recorded.
pub async fn own_audit(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let citizen = match authenticate(&state, request, 64 * 1024).await {
        Ok(citizen) => citizen,
        Err(response) => return response,
    };
    let subject = citizen.subject;
    let entries = match state.store.audit_of(&subject, citizen.proof.after, AUDIT_PAGE).await {
        Ok(entries) => entries,
        Err(e) => return internal(&e),
    };
    let next_after = (entries.len() == AUDIT_PAGE as usize).then(|| entries.last().map(|e| e.seq)).flatten();
    let listed: Vec<Value> = entries
        .iter()
        .map(|e| json!({ "seq": e.seq, "at": e.event.at, "kind": e.event.kind, "actor": e.event.actor, "details": citizen_view(e) }))
        .collect();
    let event = AuditEvent {
        at: now(),
        kind: "citizen.audit_read".into(),
        actor: "citizen".into(),
        subject: Some(subject),
        details: json!({}),
    };
    if let Err(e) = state.store.append_audit(event).await {
        return internal(&e);
    }
    Json(json!({ "entries": listed, "next_after": next_after })).into_response()
}

/// `POST /citizen/revoke`: withdraws every credential the citizen holds.
pub async fn revoke_all(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let subject = match authenticate(&state, request, 64 * 1024).await {
        Ok(citizen) => citizen.subject,
        Err(response) => return response,
    };
    let event = AuditEvent {
        at: now(),
        kind: "credential.revoked".into(),
        actor: "citizen".into(),
        subject: Some(subject),
        details: json!({ "reason": "withdrawn by the citizen" }),
    };
    match state.store.revoke_subject(&subject, 1, event).await {
        Ok(revoked) => Json(json!({ "revoked": revoked })).into_response(),
        Err(e) => internal(&e),
    }
}

/// `POST /citizen/pin {presentation, pin}`: checks the PIN of an upgraded
/// enrollment. Failures count; after five, each further one doubles a delay
/// during which no attempt is checked (NIST SP 800-63B); the PIN is never logged.
pub async fn check_pin(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let citizen = match authenticate(&state, request, 64 * 1024).await {
        Ok(citizen) => citizen,
        Err(response) => return response,
    };
    match pin_verified(&state, &citizen.subject, citizen.proof.pin).await {
        Ok(()) => Json(json!({ "verified": true })).into_response(),
        Err(response) => response,
    }
}

/// Checks the citizen's PIN under the lockout policy: `Ok` when it matches,
/// otherwise the problem to answer (wrong, locked, not set). The attempt is
/// counted — and, if it would lock, the lock set — before argon2id runs, so
/// parallel guesses get no more checks than sequential ones.
async fn pin_verified(state: &AppState, subject: &BlindIndex, pin: Option<String>) -> Result<(), Response> {
    let Some(pin) = pin else { return Err(invalid("send the pin").into_response()) };
    // A place in the pool first: an attempt, once counted, is always checked.
    let admission = state.pool.admit().map_err(IntoResponse::into_response)?;
    let now = now();
    let lockout = &state.authority.policy.pin_lockout;
    let (pin_hash, failures, locks_until) = match state.store.reserve_pin_attempt(subject, lockout, now).await {
        Ok(PinReservation::Reserved { pin_hash, failures, locks_until }) => (pin_hash, failures, locks_until),
        Ok(PinReservation::Locked(until)) => return Err(pin_locked(until, now)),
        Ok(PinReservation::NotSet) => {
            return Err(Problem::new(StatusCode::CONFLICT, "pin-not-set", "No PIN")
                .with_detail("only the upgraded edition has a PIN; enroll in it at a counter")
                .into_response());
        }
        Err(e) => return Err(internal(&e)),
    };
    let authority = Arc::clone(&state.authority);
    let matches = admission
        .run(move |_| verify_peppered(&pin_hash, &pin, authority.pin_pepper()))
        .await
        .map_err(IntoResponse::into_response)?;
    state.metrics.secret_checked("pin");
    let lock_event = locks_until.filter(|_| !matches).map(|_| AuditEvent {
        at: now,
        kind: "pin.locked".into(),
        actor: "system".into(),
        subject: Some(*subject),
        details: json!({ "failures": failures }),
    });
    if let Err(e) = state.store.settle_pin_attempt(subject, matches, lock_event, now).await {
        return Err(internal(&e));
    }
    match (matches, locks_until) {
        (true, _) => Ok(()),
        (false, Some(until)) => Err(pin_locked(until, now)),
        (false, None) => Err(Problem::new(StatusCode::UNAUTHORIZED, "pin-incorrect", "Wrong PIN")
            .with_detail(format!(
                "the PIN is wrong; {} more tries before a waiting time",
                lockout.free_failures.saturating_sub(failures)
            ))
            .into_response()),
    }
}

/// `POST /citizen/assertion {presentation, pin, audience, nonce, frames?}`:
/// a short-lived assertion, signed by the authority, that the holder of the
/// presentation's device key knew the PIN (L2) and, with frames, showed the
/// registered live face (L3) — bound to one relying party's request
/// (`aud`, `nonce`) and to the device key (`cnf.jkt`).
pub async fn assertion(State(state): State<Arc<AppState>>, client: ClientAddress, request: Request) -> Response {
    let citizen = match authenticate(&state, request, FRAMES_BODY_LIMIT).await {
        Ok(citizen) => citizen,
        Err(response) => return response,
    };
    let (Some(audience), Some(nonce)) = (citizen.proof.audience.clone(), citizen.proof.nonce.clone()) else {
        return invalid("send the relying party's client_id as audience and its request nonce").into_response();
    };
    let frames = citizen.proof.frames;
    if let Err(response) = frames_within_budget(&state, &client, frames.len()).await {
        return response;
    }
    if let Err(response) = pin_verified(&state, &citizen.subject, citizen.proof.pin).await {
        return response;
    }
    let level = if frames.is_empty() {
        "L2"
    } else {
        match live_face_matches(&state, &citizen.subject, frames).await {
            Ok(()) => "L3",
            Err(response) => return response,
        }
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
    let Ok(jwt) = sign_compact(
        &es256_header(ASSERTION_TYP, issuer.public.kid()),
        claims.as_object().unwrap_or(&serde_json::Map::new()),
        &issuer.signing_key,
    ) else {
        return Problem::internal().into_response();
    };
    let event = AuditEvent {
        at: now,
        kind: "citizen.assertion".into(),
        actor: "citizen".into(),
        subject: Some(citizen.subject),
        details: json!({ "level": level, "audience": audience }),
    };
    if let Err(e) = state.store.append_audit(event).await {
        return internal(&e);
    }
    Json(json!({ "assertion": jwt, "level": level, "expires_at": now + ASSERTION_SECS })).into_response()
}

/// Passive liveness on the frames, then the first frame's face against the
/// citizen's registry template; the frames are decoded in the same pooled job.
async fn live_face_matches(state: &Arc<AppState>, subject: &BlindIndex, frames: Vec<String>) -> Result<(), Response> {
    let entry = match state.store.entry(subject).await {
        Ok(Some(sealed)) => sealed.open(state.authority.keys.as_ref()).map_err(|e| internal(&e))?,
        Ok(None) => return Err(unauthenticated("the citizen is no longer in the registry")),
        Err(e) => return Err(internal(&e)),
    };
    let registered = entry.face_template.as_deref().and_then(|b| Template::from_bytes(b).ok());
    let authority = state.authority.clone();
    let checked = state
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
            Ok::<_, Problem>(similarity)
        })
        .await
        .map_err(IntoResponse::into_response)?;
    match checked.map_err(IntoResponse::into_response)? {
        Some(s) if s >= state.authority.face.match_threshold => Ok(()),
        _ => Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "face-not-confirmed", "Face not confirmed")
            .with_detail("the live face could not be confirmed as the registered one; face the camera in good light and try again")
            .into_response()),
    }
}

fn pin_locked(until: i64, now: i64) -> Response {
    let detail = if until == i64::MAX {
        "the PIN is blocked after too many failures; enroll again at a counter".to_owned()
    } else {
        format!("too many wrong PINs; try again in {} seconds", until - now)
    };
    let mut response =
        Problem::new(StatusCode::TOO_MANY_REQUESTS, "pin-locked", "PIN locked").with_detail(detail).into_response();
    if until != i64::MAX
        && let Ok(value) = axum::http::HeaderValue::from_str(&(until - now).to_string())
    {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}
