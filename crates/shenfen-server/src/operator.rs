//! The authority's operators: login with argon2id-checked passwords, role
//! checks, and the actions of a counter — look a citizen up, attest them in
//! person for the upgraded edition — and of a supervisor — revoke with a
//! reason, read the audit log. Every action is audited under the operator's
//! name, and an action on a citizen appears in that citizen's own log.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shenfen_core::{CardValidity, IdNumber, OperatorRole};
use shenfen_store::{
    Attestation, AuditEvent, BlindIndex, Operator, RegistryEntry, random_below, verify_secret_or_decoy,
};

use crate::app::{AppState, now};
use crate::enrollment::internal;
use crate::problem::Problem;
use crate::tokens::{bearer, invalid, json_body, random_token, token_hash};

/// Digits of the transaction code handed to an attested citizen.
pub const TX_CODE_DIGITS: usize = 6;
/// Why an operator may revoke a citizen's credentials.
pub const REVOCATION_REASONS: [&str; 6] =
    ["lost", "stolen", "deceased", "fraud_suspected", "card_replaced", "registry_correction"];

fn unauthenticated(detail: &str) -> Response {
    Problem::new(StatusCode::UNAUTHORIZED, "operator-unauthenticated", "Operator not signed in")
        .with_detail(detail)
        .into_response()
}

/// The signed-in operator if their role includes `needed`, or the response to send.
async fn signed_in(state: &AppState, headers: &HeaderMap, needed: OperatorRole) -> Result<Operator, Response> {
    let token = bearer(headers).ok_or_else(|| unauthenticated("sign in at /operator/login and send the token"))?;
    let operator = match state.store.operator_of_session(&token_hash(token), now()).await {
        Ok(Some(operator)) => operator,
        Ok(None) => return Err(unauthenticated("the session is unknown, expired or ended; sign in again")),
        Err(e) => return Err(internal(&e)),
    };
    if !operator.role.includes(needed) {
        return Err(Problem::new(StatusCode::FORBIDDEN, "operator-forbidden", "Not allowed for this role")
            .with_detail(format!("this needs the {needed} role; you are signed in as {}", operator.role))
            .into_response());
    }
    Ok(operator)
}

/// The signed-in operator (of at least `needed`) and the JSON body of their request.
async fn operator_request<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    needed: OperatorRole,
    request: Request,
) -> Result<(Operator, T), Response> {
    let operator = signed_in(state, headers, needed).await?;
    let body = json_body(request.into_body(), 4096).await.map_err(IntoResponse::into_response)?;
    Ok((operator, body))
}

fn operator_event(operator: &Operator, kind: &str, subject: Option<BlindIndex>, details: Value) -> AuditEvent {
    AuditEvent { at: now(), kind: kind.into(), actor: format!("operator:{}", operator.username), subject, details }
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

/// `POST /operator/login` → a bearer token for the operator's session.
pub async fn login(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let body: LoginRequest = match json_body(request.into_body(), 4096).await {
        Ok(body) => body,
        Err(problem) => return problem.into_response(),
    };
    let now = now();
    let hour = now - now.rem_euclid(3600);
    let failures_key = format!("operator-login:{}", body.username);
    // A place in the pool, then the attempt counted as a failure before the
    // password is checked (taken back if it is right): parallel guesses get
    // no more checks than the hourly limit.
    let admission = match state.pool.admit() {
        Ok(admission) => admission,
        Err(busy) => return busy.into_response(),
    };
    match state.store.count_attempt(&failures_key, hour).await {
        Ok(n) if n > state.authority.policy.operator_failures_per_hour => {
            return Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many attempts")
                .with_detail("too many failed sign-ins for this account; wait an hour or ask a supervisor")
                .into_response();
        }
        Ok(_) => {}
        Err(e) => return internal(&e),
    }
    let operator = match state.store.operator(&body.username).await {
        Ok(operator) => operator.filter(|o| !o.disabled),
        Err(e) => return internal(&e),
    };
    // An unknown or disabled account costs the same argon2id work as a wrong password.
    let stored = operator.as_ref().map(|o| o.password_hash.clone());
    let password = body.password;
    let checked = admission.run(move |_| verify_secret_or_decoy(stored.as_deref(), &password)).await;
    state.metrics.secret_checked("operator_password");
    let (Some(operator), Ok(true)) = (operator, checked) else {
        return unauthenticated("the user name or password is wrong");
    };
    if let Err(e) = state.store.release_attempt(&failures_key, hour).await {
        return internal(&e);
    }
    let Some(token) = random_token() else { return Problem::internal().into_response() };
    let expires_at = now + state.authority.policy.operator_session_secs;
    if let Err(e) = state.store.create_operator_session(&token_hash(&token), &operator.username, expires_at).await {
        return internal(&e);
    }
    if let Err(e) = state.store.append_audit(operator_event(&operator, "operator.login", None, json!({}))).await {
        return internal(&e);
    }
    let mut response = Json(json!({
        "token": token,
        "expires_at": expires_at,
        "username": operator.username,
        "role": operator.role.as_str(),
    }))
    .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

/// `POST /operator/logout`: ends the session of the token sent.
pub async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else { return unauthenticated("send the session token to end") };
    match state.store.end_operator_session(&token_hash(token)).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => internal(&e),
    }
}

#[derive(Deserialize)]
struct CitizenRequest {
    id_number: String,
}

/// The blind index and the opened registry entry (if registered) of a typed ID number.
async fn registry_entry(state: &AppState, typed: &str) -> Result<(BlindIndex, Option<RegistryEntry>), Response> {
    let id_number =
        IdNumber::parse(typed).map_err(|e| invalid(&format!("id_number: [{}] {e}", e.code())).into_response())?;
    let subject = BlindIndex::of(state.authority.keys.as_ref(), &id_number);
    let sealed = state.store.entry(&subject).await.map_err(|e| internal(&e))?;
    let entry = sealed.map(|s| s.open(state.authority.keys.as_ref())).transpose().map_err(|e| internal(&e))?;
    Ok((subject, entry))
}

fn not_registered() -> Response {
    Problem::new(StatusCode::NOT_FOUND, "not-registered", "Not in the registry")
        .with_detail("no citizen with this ID number is registered; check the card")
        .into_response()
}

/// `POST /operator/lookup {id_number}`: confirms a card against the registry,
/// showing masked fields only. The lookup is audited in the citizen's log.
pub async fn lookup(State(state): State<Arc<AppState>>, headers: HeaderMap, request: Request) -> Response {
    let (operator, body): (Operator, CitizenRequest) =
        match operator_request(&state, &headers, OperatorRole::Counter, request).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let (subject, entry) = match registry_entry(&state, &body.id_number).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let event = operator_event(&operator, "operator.lookup", Some(subject), json!({ "registered": entry.is_some() }));
    if let Err(e) = state.store.append_audit(event).await {
        return internal(&e);
    }
    let Some(entry) = entry else { return not_registered() };
    let record = &entry.record;
    Json(json!({
        "registered": true,
        "name_masked": record.masked_name(),
        "id_number_masked": record.id_number.masked(),
        "card_expiry": CardValidity::expiry_label(record.validity.until),
        "has_face_template": entry.face_template.is_some(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct AttestRequest {
    id_number: String,
    /// `counter` (a desk with an operator) or `kiosk` (a supervised machine).
    method: String,
}

/// `POST /operator/attestations {id_number, method}`: the operator has seen
/// the citizen and their card in person. Answers the transaction code the
/// citizen types when their phone redeems the upgraded credential offer.
pub async fn attest(State(state): State<Arc<AppState>>, headers: HeaderMap, request: Request) -> Response {
    let (operator, body): (Operator, AttestRequest) =
        match operator_request(&state, &headers, OperatorRole::Counter, request).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    if !matches!(body.method.as_str(), "counter" | "kiosk") {
        return invalid("method must be counter or kiosk").into_response();
    }
    let (subject, entry) = match registry_entry(&state, &body.id_number).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if entry.is_none() {
        return not_registered();
    }
    let Some(tx_code) = numeric_code(TX_CODE_DIGITS) else { return Problem::internal().into_response() };
    let expires_at = now() + state.authority.policy.attestation_secs;
    let attestation = Attestation {
        subject,
        operator: operator.username.clone(),
        method: body.method.clone(),
        tx_code_hash: state.authority.tx_code_hash(&tx_code),
        expires_at,
    };
    let event = operator_event(
        &operator,
        "operator.attested",
        Some(subject),
        json!({ "method": body.method, "expires_at": expires_at }),
    );
    if let Err(e) = state.store.put_attestation(&attestation, event).await {
        return internal(&e);
    }
    (StatusCode::CREATED, Json(json!({ "tx_code": tx_code, "expires_at": expires_at }))).into_response()
}

/// A random code of `digits` decimal digits.
fn numeric_code(digits: usize) -> Option<String> {
    (0..digits).map(|_| random_below(10).ok().and_then(|d| char::from_digit(u32::try_from(d).ok()?, 10))).collect()
}

#[derive(Deserialize)]
struct RevokeRequest {
    id_number: String,
    reason: String,
}

/// `POST /operator/revocations {id_number, reason}` (supervisor): revokes
/// every credential of the citizen, with the reason in their log.
pub async fn revoke(State(state): State<Arc<AppState>>, headers: HeaderMap, request: Request) -> Response {
    let (operator, body): (Operator, RevokeRequest) =
        match operator_request(&state, &headers, OperatorRole::Supervisor, request).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    if !REVOCATION_REASONS.contains(&body.reason.as_str()) {
        return invalid(&format!("reason must be one of {}", REVOCATION_REASONS.join(", "))).into_response();
    }
    let subject = match registry_entry(&state, &body.id_number).await {
        Ok((subject, Some(_))) => subject,
        Ok((_, None)) => return not_registered(),
        Err(response) => return response,
    };
    let event = operator_event(&operator, "credential.revoked", Some(subject), json!({ "reason": body.reason }));
    match state.store.revoke_subject(&subject, 1, event).await {
        Ok(revoked) => Json(json!({ "revoked": revoked })).into_response(),
        Err(e) => internal(&e),
    }
}

/// A page of the audit log.
#[derive(Deserialize)]
pub struct AuditQuery {
    /// Entries after this sequence number.
    #[serde(default)]
    after: u64,
    /// At most this many (1 to 1000).
    #[serde(default = "default_page")]
    limit: u32,
}

fn default_page() -> u32 {
    100
}

/// `GET /operator/audit?after=SEQ&limit=N` (supervisor): a page of the audit
/// log; subjects appear as blind indexes only.
pub async fn audit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Response {
    if let Err(response) = signed_in(&state, &headers, OperatorRole::Supervisor).await {
        return response;
    }
    let entries = match state.store.audit_after(query.after, query.limit.clamp(1, 1000)).await {
        Ok(entries) => entries,
        Err(e) => return internal(&e),
    };
    let listed: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "seq": e.seq,
                "at": e.event.at,
                "kind": e.event.kind,
                "actor": e.event.actor,
                "subject": e.event.subject.map(|s| s.hex()),
                "details": e.event.details,
            })
        })
        .collect();
    Json(json!({ "entries": listed })).into_response()
}

/// The window of enrollment statistics.
#[derive(Deserialize)]
pub struct StatisticsQuery {
    /// Hours back from now (1 to 168).
    #[serde(default = "default_hours")]
    hours: i64,
}

fn default_hours() -> i64 {
    24
}

/// The most decisions one statistics answer counts (a week of a megacity's
/// day-one rush is well below it).
const STATISTICS_LIMIT: u64 = 1_000_000;
/// Decisions read per page: memory stays bounded whatever the window holds.
const STATISTICS_PAGE: u32 = 5_000;

/// `GET /operator/statistics?hours=N` (supervisor): enrollment decisions per
/// hour (accepted, refused) and the refusals by reason — counts only, from
/// the audit log, read a page at a time.
pub async fn statistics(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<StatisticsQuery>,
) -> Response {
    if let Err(response) = signed_in(&state, &headers, OperatorRole::Supervisor).await {
        return response;
    }
    let hours = query.hours.clamp(1, 168);
    let first_hour = (now() / 3600 - hours + 1) * 3600;
    let mut per_hour: Vec<(u64, u64)> = vec![(0, 0); usize::try_from(hours).unwrap_or(24)];
    let mut reasons = std::collections::BTreeMap::<String, u64>::new();
    let (mut after, mut counted) = (0, 0u64);
    while counted < STATISTICS_LIMIT {
        let page =
            match state.store.audit_of_kind_since("enrollment.decision", first_hour, after, STATISTICS_PAGE).await {
                Ok(page) => page,
                Err(e) => return internal(&e),
            };
        for entry in &page {
            let Some(slot) =
                usize::try_from((entry.event.at - first_hour) / 3600).ok().and_then(|i| per_hour.get_mut(i))
            else {
                continue;
            };
            match entry.event.details["reason"].as_str() {
                None => slot.0 += 1,
                Some(reason) => {
                    slot.1 += 1;
                    *reasons.entry(reason.to_owned()).or_default() += 1;
                }
            }
        }
        counted += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == STATISTICS_PAGE as usize => after = last.seq,
            _ => break,
        }
    }
    let hours: Vec<Value> = per_hour
        .iter()
        .zip(0..)
        .map(|((accepted, refused), i)| json!({ "hour": first_hour + i * 3600, "accepted": accepted, "refused": refused }))
        .collect();
    Json(json!({ "hours": hours, "refusals": reasons, "truncated": counted >= STATISTICS_LIMIT })).into_response()
}
