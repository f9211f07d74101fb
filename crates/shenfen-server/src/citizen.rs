//! Citizen self-service, authenticated by a key-bound presentation of one of
//! the citizen's own credentials (audience: this issuer, nonce: a fresh
//! `c_nonce`), disclosing nothing: read one's own audit entries, or withdraw
//! every credential. No ID number, password or session is involved.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shenfen_credential::{KeyBindingCheck, SdJwt, VerifyOptions, verify_vc};
use shenfen_store::{AuditEvent, BlindIndex, Store, verify_secret};

use crate::app::{AppState, now};
use crate::enrollment::internal;
use crate::issuance::STATUS_LIST_ID;
use crate::problem::Problem;
use crate::tokens::{invalid, json_body};

#[derive(Deserialize)]
struct Proof {
    /// An SD-JWT+KB of one of the citizen's credentials, `aud` = the issuer, `nonce` = a fresh c_nonce.
    presentation: String,
    /// The PIN, for `/citizen/pin`.
    pin: Option<String>,
}

fn unauthenticated(detail: &str) -> Response {
    Problem::new(StatusCode::UNAUTHORIZED, "citizen-unauthenticated", "Not authenticated")
        .with_detail(detail)
        .into_response()
}

/// The citizen a presentation authenticates (and the PIN sent along, if
/// any), or the response to send.
async fn authenticate(state: &Arc<AppState>, request: Request) -> Result<(BlindIndex, Option<String>), Response> {
    let proof: Proof = json_body(request.into_body(), 64 * 1024).await.map_err(IntoResponse::into_response)?;
    let presentation =
        SdJwt::parse(&proof.presentation).map_err(|e| unauthenticated(&format!("[{}] {e}", e.code())))?;
    let kb = presentation.key_binding().ok_or_else(|| unauthenticated("the presentation needs a key binding JWT"))?;
    let nonce = shenfen_credential::Jws::parse(kb, "key binding JWT")
        .ok()
        .and_then(|jws| jws.payload().get("nonce").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let now = now();
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
    let verifying = issuer.public.verifying_key().map_err(|_| Problem::internal().into_response())?;
    let vc =
        verify_vc(&presentation, &verifying, &options).map_err(|e| unauthenticated(&format!("[{}] {e}", e.code())))?;
    let reference = vc.status.ok_or_else(|| unauthenticated("the credential carries no status reference"))?;
    let expected_uri = format!("{}/status/{STATUS_LIST_ID}", issuer.url);
    if reference.uri != expected_uri {
        return Err(unauthenticated("the credential is not from this authority's status list"));
    }
    match state.store.consume_nonce(&nonce, expires).await {
        Ok(true) => {}
        Ok(false) => return Err(unauthenticated("this c_nonce was already used")),
        Err(e) => return Err(internal(&e)),
    }
    match state.store.credential_subject(STATUS_LIST_ID, reference.idx).await {
        Ok(Some(subject)) => Ok((subject, proof.pin)),
        Ok(None) => Err(unauthenticated("no such credential")),
        Err(e) => Err(internal(&e)),
    }
}

/// `POST /citizen/audit`: the citizen's own audit entries. Reading them is itself recorded.
pub async fn own_audit(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let subject = match authenticate(&state, request).await {
        Ok((subject, _)) => subject,
        Err(response) => return response,
    };
    let entries = match state.store.audit_of(&subject).await {
        Ok(entries) => entries,
        Err(e) => return internal(&e),
    };
    let listed: Vec<Value> = entries
        .iter()
        .map(|e| json!({ "seq": e.seq, "at": e.event.at, "kind": e.event.kind, "actor": e.event.actor, "details": e.event.details }))
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
    Json(json!({ "entries": listed })).into_response()
}

/// `POST /citizen/revoke`: withdraws every credential the citizen holds.
pub async fn revoke_all(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let subject = match authenticate(&state, request).await {
        Ok((subject, _)) => subject,
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
    let (subject, pin) = match authenticate(&state, request).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Some(pin) = pin else { return invalid("send the pin").into_response() };
    let now = now();
    let pin_state = match state.store.pin_state(&subject).await {
        Ok(Some(pin_state)) => pin_state,
        Ok(None) => {
            return Problem::new(StatusCode::CONFLICT, "pin-not-set", "No PIN")
                .with_detail("only the upgraded edition has a PIN; enroll in it at a counter")
                .into_response();
        }
        Err(e) => return internal(&e),
    };
    if pin_state.locked_until > now {
        return pin_locked(pin_state.locked_until, now);
    }
    let stored = pin_state.pin_hash;
    let matches = tokio::task::spawn_blocking(move || verify_secret(&stored, &pin)).await.unwrap_or(false);
    let lock_event = AuditEvent {
        at: now,
        kind: "pin.locked".into(),
        actor: "system".into(),
        subject: Some(subject),
        details: json!({ "failures": pin_state.failures + 1 }),
    };
    let lockout = &state.authority.policy.pin_lockout;
    match state.store.record_pin_attempt(&subject, matches, lockout, now, lock_event).await {
        Ok(_) if matches => Json(json!({ "verified": true })).into_response(),
        Ok(after) if after.locked_until > now => pin_locked(after.locked_until, now),
        Ok(after) => Problem::new(StatusCode::UNAUTHORIZED, "pin-incorrect", "Wrong PIN")
            .with_detail(format!(
                "the PIN is wrong; {} more tries before a waiting time",
                lockout.free_failures.saturating_sub(after.failures)
            ))
            .into_response(),
        Err(e) => internal(&e),
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
