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
use shenfen_store::{AuditEvent, BlindIndex, Store};

use crate::app::{AppState, now};
use crate::enrollment::internal;
use crate::issuance::STATUS_LIST_ID;
use crate::problem::Problem;
use crate::tokens::json_body;

#[derive(Deserialize)]
struct Proof {
    /// An SD-JWT+KB of one of the citizen's credentials, `aud` = the issuer, `nonce` = a fresh c_nonce.
    presentation: String,
}

fn unauthenticated(detail: &str) -> Response {
    Problem::new(StatusCode::UNAUTHORIZED, "citizen-unauthenticated", "Not authenticated")
        .with_detail(detail)
        .into_response()
}

/// The citizen a presentation authenticates, or the response to send.
async fn authenticate(state: &Arc<AppState>, request: Request) -> Result<BlindIndex, Response> {
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
        Ok(Some(subject)) => Ok(subject),
        Ok(None) => Err(unauthenticated("no such credential")),
        Err(e) => Err(internal(&e)),
    }
}

/// `POST /citizen/audit`: the citizen's own audit entries. Reading them is itself recorded.
pub async fn own_audit(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let subject = match authenticate(&state, request).await {
        Ok(subject) => subject,
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
        Ok(subject) => subject,
        Err(response) => return response,
    };
    let revoked = match state.store.set_status_of_subject(&subject, None, 1).await {
        Ok(n) => n,
        Err(e) => return internal(&e),
    };
    let event = AuditEvent {
        at: now(),
        kind: "credential.revoked".into(),
        actor: "citizen".into(),
        subject: Some(subject),
        details: json!({ "count": revoked, "reason": "withdrawn by the citizen" }),
    };
    if let Err(e) = state.store.append_audit(event).await {
        return internal(&e);
    }
    Json(json!({ "revoked": revoked })).into_response()
}
