//! The authority's operators: login with argon2id-checked passwords, role
//! checks, and the actions of a counter — look a citizen up, attest them in
//! person for the upgraded edition — and of a supervisor — revoke with a
//! reason, read the audit log, register relying parties. Every action is
//! audited under the operator's name, and an action on a citizen appears in
//! that citizen's own log.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shenfen_core::{CardValidity, IdNumber};
use shenfen_store::{
    Attestation, AuditEvent, BlindIndex, ClientAuthentication, Operator, RegistryEntry, RelyingParty,
    verify_secret_or_decoy,
};
use utoipa::{IntoParams, ToSchema};

use crate::app::{AppState, no_store, now};
use crate::citizen::Revoked;
use crate::error::{ApiError, PROBLEM, Problem, ProblemType};
use crate::extractors::{CounterRole, JsonBody, OperatorSession, SessionToken, SupervisorRole};
use crate::openapi::{BodyProblems, BusyProblem, OperatorProblems};
use crate::relying_party_registration::{Registered, Registration, RegistrationError};
use crate::tokens::{random_token, token_hash, transaction_code};

/// Why an operator may revoke a citizen's credentials: the reason goes into
/// the citizen's own log, so it is one of a few words they can read.
#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RevocationReason {
    Lost,
    Stolen,
    Deceased,
    FraudSuspected,
    CardReplaced,
    RegistryCorrection,
}

/// Where a citizen was seen in person for the upgraded edition.
#[derive(Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AttestationMethod {
    /// A desk with an operator.
    Counter,
    /// A supervised machine.
    Kiosk,
}

impl AttestationMethod {
    fn as_str(self) -> &'static str {
        match self {
            AttestationMethod::Counter => "counter",
            AttestationMethod::Kiosk => "kiosk",
        }
    }
}

/// An ID number as the operator typed it from the card. The document gives
/// its shape (GB 11643: 18 characters, or 15 on pre-1999 cards); the check
/// character, birth date and region are checked beyond it.
#[derive(Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(pattern = "^([0-9]{17}[0-9Xx]|[0-9]{15})$")]
pub(crate) struct TypedIdNumber(String);

/// A query parameter within its documented range, or a 400 naming both.
fn within<T: PartialOrd + std::fmt::Display>(name: &str, value: T, low: T, high: T) -> Result<T, ApiError> {
    if value < low || value > high {
        return Err(ApiError::invalid(format!("{name} is {low} to {high}, not {value}")));
    }
    Ok(value)
}

fn operator_event(operator: &Operator, kind: &str, subject: Option<BlindIndex>, details: Value) -> AuditEvent {
    AuditEvent { at: now(), kind: kind.into(), actor: format!("operator:{}", operator.username), subject, details }
}

/// An operator's credentials.
#[derive(Deserialize, ToSchema)]
pub(crate) struct LoginRequest {
    /// The operator's user name.
    username: String,
    /// The operator's password.
    password: String,
}

/// A new operator session.
// Fields in the order `json!` wrote them before (sorted), so the answer is byte
// for byte the same.
#[derive(Serialize, ToSchema)]
pub(crate) struct OperatorSessionAnswer {
    /// When the session ends (seconds since the epoch).
    expires_at: i64,
    /// `counter` or `supervisor`.
    role: &'static str,
    /// The session token, for the other /operator endpoints as Bearer.
    token: String,
    /// Who signed in.
    username: String,
}

/// `POST /operator/login` → a bearer token for the operator's session.
#[utoipa::path(post, path = "/operator/login", summary = "Operator sign-in ({username, password}) -> {token, expires_at, username, role}; send the token as Bearer to the other /operator endpoints. 10 failures per account per hour, then 429.",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "the session", body = OperatorSessionAnswer),
        (status = 401, description = "operator-unauthenticated: wrong user name or password", body = Problem, content_type = PROBLEM),
        (status = 429, description = "too many failures for this account", body = Problem, content_type = PROBLEM),
        BodyProblems, BusyProblem,
    ))]
pub(crate) async fn login(
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let now = now();
    let hour = now - now.rem_euclid(3600);
    let failures_key = format!("operator-login:{}", body.username);
    // A place in the pool, then the attempt counted as a failure before the
    // password is checked (taken back if it is right): parallel guesses get
    // no more checks than the hourly limit.
    let admission = state.pool.admit()?;
    if state.store.count_attempt(&failures_key, hour).await? > state.authority.policy.operator_failures_per_hour {
        return Err(ApiError::new(ProblemType::RateLimited)
            .detail("too many failed sign-ins for this account; wait an hour or ask a supervisor"));
    }
    let operator = state.store.operator(&body.username).await?.filter(|o| !o.disabled);
    // An unknown or disabled account costs the same argon2id work as a wrong password.
    let stored = operator.as_ref().map(|o| o.password_hash.clone());
    let password = body.password;
    let checked = admission.run(move |_| verify_secret_or_decoy(stored.as_deref(), &password)).await;
    state.metrics.secret_checked("operator_password");
    let (Some(operator), Ok(true)) = (operator, checked) else {
        return Err(ApiError::new(ProblemType::OperatorUnauthenticated).detail("the user name or password is wrong"));
    };
    state.store.release_attempt(&failures_key, hour).await?;
    let token = random_token().ok_or_else(ApiError::internal)?;
    let expires_at = now + state.authority.policy.operator_session_secs;
    state.store.create_operator_session(&token_hash(&token), &operator.username, expires_at).await?;
    state.store.append_audit(operator_event(&operator, "operator.login", None, json!({}))).await?;
    let session =
        OperatorSessionAnswer { expires_at, role: operator.role.as_str(), token, username: operator.username };
    Ok((no_store(), Json(session)))
}

/// `POST /operator/logout`: ends the session of the token sent.
#[utoipa::path(post, path = "/operator/logout", summary = "Ends the operator session of the Bearer token.",
    security(("operator_session" = [])),
    responses(
        (status = 204, description = "ended"),
        (status = 401, description = "operator-unauthenticated", body = Problem, content_type = PROBLEM),
    ))]
pub(crate) async fn logout(
    State(state): State<Arc<AppState>>,
    SessionToken(token): SessionToken,
) -> Result<StatusCode, ApiError> {
    state.store.end_operator_session(&token_hash(&token)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The ID number an operator typed.
#[derive(Deserialize, ToSchema)]
pub(crate) struct CitizenRequest {
    /// As on the card.
    id_number: TypedIdNumber,
}

/// The blind index and the opened registry entry (if registered) of a typed ID number.
async fn registry_entry(state: &AppState, typed: &str) -> Result<(BlindIndex, Option<RegistryEntry>), ApiError> {
    let id_number = IdNumber::parse(typed).map_err(|e| ApiError::invalid(format!("id_number: [{}] {e}", e.code())))?;
    let subject = BlindIndex::of(state.authority.keys.as_ref(), &id_number);
    let sealed = state.store.entry(&subject).await?;
    let entry = sealed.map(|s| s.open(state.authority.keys.as_ref())).transpose()?;
    Ok((subject, entry))
}

fn not_registered() -> ApiError {
    ApiError::new(ProblemType::NotRegistered).detail("no citizen with this ID number is registered; check the card")
}

/// What a counter sees of a registered card: masked fields only.
// Fields in the order `json!` wrote them before (sorted), so the answer is byte
// for byte the same.
#[derive(Serialize, ToSchema)]
pub(crate) struct MaskedRecord {
    /// `YYYY-MM-DD` or `长期`, as printed on the card.
    card_expiry: String,
    /// Whether the registry holds a face template to match enrollments against.
    has_face_template: bool,
    /// The ID number with its eight birth-date digits hidden (`440106********123X`).
    id_number_masked: String,
    /// The name with all but its first character hidden.
    name_masked: String,
    /// Always `true`: an unregistered number is a not-registered problem.
    registered: bool,
}

/// `POST /operator/lookup {id_number}`: confirms a card against the registry,
/// showing masked fields only. The lookup is audited in the citizen's log.
#[utoipa::path(post, path = "/operator/lookup", summary = "(counter) Confirms a card against the registry ({id_number}) -> masked name and number, card expiry, whether a face template exists. Audited in the citizen log.",
    request_body = CitizenRequest,
    security(("operator_session" = [])),
    responses(
        (status = 200, description = "the masked record", body = MaskedRecord),
        (status = 404, description = "not-registered", body = Problem, content_type = PROBLEM),
        BodyProblems, OperatorProblems,
    ))]
pub(crate) async fn lookup(
    State(state): State<Arc<AppState>>,
    session: OperatorSession<CounterRole>,
    JsonBody(body): JsonBody<CitizenRequest>,
) -> Result<Json<MaskedRecord>, ApiError> {
    let (subject, entry) = registry_entry(&state, &body.id_number.0).await?;
    let details = json!({ "registered": entry.is_some() });
    state.store.append_audit(operator_event(&session.operator, "operator.lookup", Some(subject), details)).await?;
    let entry = entry.ok_or_else(not_registered)?;
    let record = &entry.record;
    Ok(Json(MaskedRecord {
        card_expiry: CardValidity::expiry_label(record.validity.until),
        has_face_template: entry.face_template.is_some(),
        id_number_masked: record.id_number.masked(),
        name_masked: record.masked_name(),
        registered: true,
    }))
}

/// An in-person check.
#[derive(Deserialize, ToSchema)]
pub(crate) struct AttestRequest {
    /// As on the card.
    id_number: TypedIdNumber,
    method: AttestationMethod,
}

/// The code of an in-person check.
#[derive(Serialize, ToSchema)]
pub(crate) struct Attested {
    /// When the code stops being accepted.
    expires_at: i64,
    /// The code the citizen types when redeeming the upgraded credential offer.
    tx_code: String,
}

/// `POST /operator/attestations {id_number, method}`: the operator has seen
/// the citizen and their card in person. Answers the transaction code the
/// citizen types when their phone redeems the upgraded credential offer.
#[utoipa::path(post, path = "/operator/attestations", summary = "(counter) Records that the operator has seen the citizen and their card in person ({id_number, method: counter|kiosk}) -> {tx_code, expires_at}. Audited in the citizen log.",
    request_body = AttestRequest,
    security(("operator_session" = [])),
    responses(
        (status = 201, description = "the transaction code", body = Attested),
        (status = 404, description = "not-registered", body = Problem, content_type = PROBLEM),
        BodyProblems, OperatorProblems,
    ))]
pub(crate) async fn attest(
    State(state): State<Arc<AppState>>,
    session: OperatorSession<CounterRole>,
    JsonBody(body): JsonBody<AttestRequest>,
) -> Result<(StatusCode, Json<Attested>), ApiError> {
    let (subject, entry) = registry_entry(&state, &body.id_number.0).await?;
    entry.ok_or_else(not_registered)?;
    let tx_code = transaction_code().ok_or_else(ApiError::internal)?;
    let expires_at = now() + state.authority.policy.attestation_secs;
    let attestation = Attestation {
        subject,
        operator: session.operator.username.clone(),
        method: body.method.as_str().to_owned(),
        tx_code_hash: state.authority.tx_code_hash(&tx_code),
        expires_at,
    };
    let details = json!({ "method": body.method, "expires_at": expires_at });
    let event = operator_event(&session.operator, "operator.attested", Some(subject), details);
    state.store.put_attestation(&attestation, event).await?;
    Ok((StatusCode::CREATED, Json(Attested { expires_at, tx_code })))
}

/// A supervisor's revocation.
#[derive(Deserialize, ToSchema)]
pub(crate) struct RevokeRequest {
    /// As on the card.
    id_number: TypedIdNumber,
    reason: RevocationReason,
}

/// `POST /operator/revocations {id_number, reason}` (supervisor): revokes
/// every credential of the citizen, with the reason in their log.
#[utoipa::path(post, path = "/operator/revocations", summary = "(supervisor) Revokes every credential of a citizen ({id_number, reason}) -> {revoked: n}; the reason is in the citizen log.",
    request_body = RevokeRequest,
    security(("operator_session" = [])),
    responses(
        (status = 200, description = "how many were revoked", body = Revoked),
        (status = 404, description = "not-registered", body = Problem, content_type = PROBLEM),
        BodyProblems, OperatorProblems,
    ))]
pub(crate) async fn revoke(
    State(state): State<Arc<AppState>>,
    session: OperatorSession<SupervisorRole>,
    JsonBody(body): JsonBody<RevokeRequest>,
) -> Result<Json<Revoked>, ApiError> {
    let (subject, entry) = registry_entry(&state, &body.id_number.0).await?;
    entry.ok_or_else(not_registered)?;
    let details = json!({ "reason": body.reason });
    let event = operator_event(&session.operator, "credential.revoked", Some(subject), details);
    let revoked = state.store.revoke_subject(&subject, 1, event).await?;
    Ok(Json(Revoked { revoked }))
}

/// A page of the audit log.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Entries after this sequence number.
    #[serde(default)]
    #[param(minimum = 0)]
    after: i64,
    /// At most this many.
    #[serde(default = "default_page")]
    #[param(minimum = 1, maximum = 1000)]
    limit: u32,
}

fn default_page() -> u32 {
    100
}

/// `GET /operator/audit?after=SEQ&limit=N` (supervisor): a page of the audit
/// log; subjects appear as blind indexes only.
#[utoipa::path(get, path = "/operator/audit", summary = "(supervisor) A page of the audit log; citizens appear as blind indexes only.",
    params(AuditQuery),
    security(("operator_session" = [])),
    responses(
        (status = 200, description = "entries", body = Object),
        (status = 400, description = "invalid-request: a query parameter is not a number, after is negative, or limit is not 1 to 1000", body = Problem, content_type = PROBLEM),
        OperatorProblems,
    ))]
pub(crate) async fn audit(
    State(state): State<Arc<AppState>>,
    _: OperatorSession<SupervisorRole>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = within("limit", query.limit, 1, 1000)?;
    let after = u64::try_from(query.after).map_err(|_| ApiError::invalid("after is a sequence number, 0 or more"))?;
    let entries = state.store.audit_after(after, limit).await?;
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
    Ok(Json(json!({ "entries": listed })))
}

/// The window of enrollment statistics.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatisticsQuery {
    /// Hours back from now.
    #[serde(default = "default_hours")]
    #[param(minimum = 1, maximum = 168)]
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
#[utoipa::path(get, path = "/operator/statistics", summary = "(supervisor) Enrollment decisions of the last N hours, from the audit log: {hours: [{hour, accepted, refused}], refusals: {reason: n}, truncated}. Counts only.",
    params(StatisticsQuery),
    security(("operator_session" = [])),
    responses(
        (status = 200, description = "statistics", body = Object),
        (status = 400, description = "hours out of 1 to 168, or not a number", body = Problem, content_type = PROBLEM),
        OperatorProblems,
    ))]
pub(crate) async fn statistics(
    State(state): State<Arc<AppState>>,
    _: OperatorSession<SupervisorRole>,
    Query(query): Query<StatisticsQuery>,
) -> Result<Json<Value>, ApiError> {
    let hours = within("hours", query.hours, 1, 168)?;
    let first_hour = (now() / 3600 - hours + 1) * 3600;
    let mut per_hour: Vec<(u64, u64)> = vec![(0, 0); usize::try_from(hours).unwrap_or(24)];
    let mut reasons = std::collections::BTreeMap::<String, u64>::new();
    let (mut after, mut counted) = (0, 0u64);
    while counted < STATISTICS_LIMIT {
        let page = state.store.audit_of_kind_since("enrollment.decision", first_hour, after, STATISTICS_PAGE).await?;
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
    Ok(Json(json!({ "hours": hours, "refusals": reasons, "truncated": counted >= STATISTICS_LIMIT })))
}

/// What the console shows of a registered relying party: never a secret.
#[derive(Serialize, ToSchema)]
pub(crate) struct RelyingPartySummary {
    client_id: String,
    name: String,
    /// The claims and questions it is entitled to.
    claims: Vec<String>,
    /// Its redirect URIs, if it signs citizens in with OpenID Connect.
    redirect_uris: Vec<String>,
    /// The sector of its pairwise subjects, if it signs citizens in.
    sector_identifier: Option<String>,
    /// `client_secret_basic` or `private_key_jwt`, if it signs citizens in.
    token_endpoint_auth_method: Option<&'static str>,
    /// Seconds since the epoch.
    created_at: i64,
}

impl From<RelyingParty> for RelyingPartySummary {
    fn from(party: RelyingParty) -> RelyingPartySummary {
        let openid = party.openid;
        RelyingPartySummary {
            client_id: party.client_id,
            name: party.name,
            claims: party.claims,
            redirect_uris: openid.as_ref().map(|c| c.redirect_uris.clone()).unwrap_or_default(),
            sector_identifier: openid.as_ref().map(|c| c.sector_identifier.clone()),
            token_endpoint_auth_method: openid.map(|c| match c.authentication {
                ClientAuthentication::ClientSecretBasic { .. } => "client_secret_basic",
                ClientAuthentication::PrivateKeyJwt { .. } => "private_key_jwt",
            }),
            created_at: party.created_at,
        }
    }
}

/// `GET /operator/relying-parties` (supervisor): the registry of relying parties.
#[utoipa::path(get, path = "/operator/relying-parties", summary = "(supervisor) The registered relying parties: entitlement, OpenID Connect redirect URIs, sector and client authentication; never a secret.",
    security(("operator_session" = [])),
    responses(
        (status = 200, description = "by client id", body = [RelyingPartySummary]),
        OperatorProblems,
    ))]
pub(crate) async fn relying_parties(
    State(state): State<Arc<AppState>>,
    _: OperatorSession<SupervisorRole>,
) -> Result<Json<Vec<RelyingPartySummary>>, ApiError> {
    let parties = state.store.relying_parties().await?;
    Ok(Json(parties.into_iter().map(RelyingPartySummary::from).collect()))
}

/// The secrets of a registration, shown once: only their hashes are kept.
#[derive(Serialize, ToSchema)]
pub(crate) struct RegisteredAnswer {
    client_id: String,
    /// The verifier API key (Bearer for /verifier/requests).
    api_key: String,
    /// The OpenID Connect client secret, when it authenticates with `client_secret_basic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

/// `POST /operator/relying-parties` (supervisor): registers a relying party,
/// or replaces the entitlement and secrets of one, as `shenfen rp add` does.
#[utoipa::path(post, path = "/operator/relying-parties", summary = "(supervisor) Registers a relying party ({client_id, name, claims, redirect_uris?, sector_identifier?, client_jwks?, share_sector?}), or with replace: true replaces one -> its API key and client secret, shown once. Audited with what changed.",
    request_body = Registration,
    security(("operator_session" = [])),
    responses(
        (status = 201, description = "registered: the secrets, shown once", body = RegisteredAnswer),
        (status = 400, description = "invalid-request: a rule of registration is broken (code relying_party.*)", body = Problem, content_type = PROBLEM),
        (status = 409, description = "already-registered: the client id is registered and replace was not asked", body = Problem, content_type = PROBLEM),
        BodyProblems, OperatorProblems,
    ))]
pub(crate) async fn register_relying_party(
    State(state): State<Arc<AppState>>,
    session: OperatorSession<SupervisorRole>,
    JsonBody(body): JsonBody<Registration>,
) -> Result<impl IntoResponse, ApiError> {
    let refused = |refused: RegistrationError| match refused {
        RegistrationError::Store(e) => ApiError::from(e),
        RegistrationError::Exists(_) => {
            ApiError::new(ProblemType::AlreadyRegistered).detail(refused.to_string()).code(refused.code())
        }
        refused => ApiError::invalid(refused.to_string()).code(refused.code()),
    };
    let registered = body.register(now()).map_err(refused)?;
    registered.save(&state.store, format!("operator:{}", session.operator.username), now()).await.map_err(refused)?;
    // This instance stops answering with the old registration at once; others within their cache's 30 s.
    state.relying_parties.forget(&registered.party.client_id);
    let Registered { party, api_key, client_secret, .. } = registered;
    let answer = RegisteredAnswer { client_id: party.client_id, api_key, client_secret };
    Ok((StatusCode::CREATED, no_store(), Json(answer)))
}
