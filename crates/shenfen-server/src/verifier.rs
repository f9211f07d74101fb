//! The verifier service relying parties use (OpenID4VP 1.0): a registered
//! relying party asks for claims it is entitled to; the citizen's wallet
//! fetches the signed request by reference (`request_uri`), answers with
//! `direct_post`; the relying party reads the verified claims, the level
//! reached and the citizen's pairwise pseudonym — once.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use shenfen_core::{AssuranceLevel, Edition, Question, pairwise_pseudonym};
use shenfen_credential::{
    Jws, KeyBindingCheck, PublicJwk, SdJwt, VerifiedVc, VerifyOptions, es256_header, sign_compact, verify_vc,
};
use shenfen_store::{
    BlindIndex, PresentationQuery, PresentationRequest, PresentationStatus, RelyingParty, SealedValue,
};
use utoipa::{IntoParams, ToSchema};

use crate::app::{AppState, now};
use crate::citizen::ASSERTION_TYP;
use crate::error::{ApiError, PROBLEM, Problem, ProblemType};
use crate::extractors::{JsonBody, RelyingPartyKey};
use crate::issuance::vct;
use crate::openapi::{BodyProblems, OAuthError};
use crate::status_list::STATUS_LIST_ID;
use crate::tokens::random_token;

/// Seconds a presentation request stays open.
pub(crate) const REQUEST_SECS: i64 = 300;
/// Yes/no questions one request may ask: enough for a real check, too few
/// to narrow a value down by asking about each possible one.
pub(crate) const MAX_QUESTIONS: usize = 4;
/// The DCQL credential query id shenfen requests use.
pub const CREDENTIAL_QUERY_ID: &str = "shenfen_id";
/// The DCQL id prefix of a claim the verifier reads only to answer a yes/no
/// question: the wallet shows the citizen it is not passed on.
pub(crate) const QUESTION_CLAIM_PREFIX: &str = "question-";
const REQUEST_OBJECT_TYP: &str = "oauth-authz-req+jwt";

/// What a relying party asks for.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NewRequest {
    /// The relying party's registered id.
    client_id: String,
    /// Claim paths, `/`-separated below the top level (`name`, `record/id_number`).
    #[serde(default)]
    claims: Vec<String>,
    /// Claims the citizen may decline one by one (DCQL `claim_sets`); the
    /// result holds those they chose to share.
    #[serde(default)]
    optional_claims: Vec<String>,
    /// Yes/no questions (`age_over_18`, `region=Guangdong`, `edition=upgraded`):
    /// the relying party receives only the answers.
    #[serde(default)]
    questions: Vec<String>,
    /// Why, in words the citizen reads on the consent screen.
    purpose: String,
    /// `L1`, `L2` (+ the PIN, checked by the authority) or `L3` (+ a live face).
    #[serde(default = "level_one")]
    level: String,
}

fn level_one() -> String {
    "L1".into()
}

/// A presentation request just created.
// Fields in the order `json!` wrote them before (sorted), so the answer is byte
// for byte the same.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedRequest {
    /// `openid4vp://?client_id=…&request_uri=…`, for the wallet (as a link or QR code).
    authorization_request: String,
    /// When the request expires (seconds since the epoch).
    expires_at: i64,
    /// The id to read the outcome with.
    request_id: String,
    /// Where the wallet fetches the signed request object.
    request_uri: String,
}

/// `POST /verifier/requests`: a relying party asks for claims.
#[utoipa::path(post, path = "/verifier/requests", summary = "A registered relying party (Bearer: its API key) asks for claims -> {request_id, request_uri, authorization_request: openid4vp://..., expires_at}. Claims beyond its entitlement are refused before any wallet sees the request.",
    request_body = NewRequest,
    security(("relying_party_key" = [])),
    responses(
        (status = 201, description = "request created", body = CreatedRequest),
        (status = 401, description = "relying-party-unauthenticated", body = Problem, content_type = PROBLEM),
        (status = 403, description = "not-entitled", body = Problem, content_type = PROBLEM),
        (status = 422, description = "a claim, question or level this authority does not know", body = Problem, content_type = PROBLEM),
        BodyProblems,
    ))]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    key: RelyingPartyKey,
    JsonBody(body): JsonBody<NewRequest>,
) -> Result<(StatusCode, Json<CreatedRequest>), ApiError> {
    let party = key.party(&state, &body.client_id).await?;
    if (body.claims.is_empty() && body.questions.is_empty())
        || body.purpose.trim().is_empty()
        || body.purpose.chars().count() > 200
    {
        return Err(ApiError::invalid("ask for at least one claim or question, and say why in 1 to 200 characters"));
    }
    let questions = body
        .questions
        .iter()
        .map(|q| q.parse::<Question>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::invalid(format!("[{}] {e}", e.code())))?;
    questions_within_limits(&questions).map_err(ApiError::invalid)?;
    if let Some(both) = body.optional_claims.iter().find(|c| body.claims.contains(c)) {
        return Err(ApiError::invalid(format!("{both} is asked both as required and as optional")));
    }
    entitled(&party, &body, &questions)?;
    let level: AssuranceLevel = body
        .level
        .parse()
        .map_err(|e: shenfen_core::CoreError| ApiError::invalid(format!("level: [{}] {e}", e.code())))?;
    if !questions.is_empty() {
        let now = now();
        let key = format!("questions:{}", party.client_id);
        let limit = state.authority.policy.questions_per_relying_party_hour;
        if state.store.count_attempts(&key, now - now.rem_euclid(3600), questions.len() as u64).await? > limit {
            return Err(ApiError::new(ProblemType::RateLimited)
                .detail(format!("at most {limit} yes/no questions an hour per relying party")));
        }
    }
    let (Some(id), Some(nonce), Some(request_state)) = (random_token(), random_token(), random_token()) else {
        return Err(ApiError::internal());
    };
    let expires_at = now() + REQUEST_SECS;
    let stored = PresentationRequest {
        id: id.clone(),
        client_id: party.client_id.clone(),
        nonce,
        state: request_state,
        query: PresentationQuery {
            claims: body.claims,
            optional_claims: body.optional_claims,
            questions,
            purpose: body.purpose,
            level,
            sign_in_sector: None,
            sign_in_origin: None,
        },
        expires_at,
        status: PresentationStatus::Pending,
        result: None,
        answered_at: None,
    };
    state.store.create_presentation_request(&stored).await?;
    let created = CreatedRequest {
        authorization_request: authorization_request(&state, &party.client_id, &id),
        expires_at,
        request_uri: request_uri(&state, &id),
        request_id: id,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// Where the wallet fetches the request object of request `id`.
fn request_uri(state: &AppState, id: &str) -> String {
    format!("{}/verifier/requests/{id}/object", state.authority.issuer.url)
}

/// The `openid4vp://` link (or QR code) that hands request `id` to a wallet.
pub(crate) fn authorization_request(state: &AppState, client_id: &str, id: &str) -> String {
    let request_uri = request_uri(state, id);
    let query = serde_urlencoded::to_string([("client_id", client_id), ("request_uri", request_uri.as_str())]);
    format!("openid4vp://?{}", query.unwrap_or_default())
}

/// Every claim the request needs — asked, optional, or read to answer a
/// question — must be in the relying party's entitlement.
fn entitled(party: &RelyingParty, body: &NewRequest, questions: &[Question]) -> Result<(), ApiError> {
    let needed = body
        .claims
        .iter()
        .chain(&body.optional_claims)
        .map(String::as_str)
        .chain(questions.iter().map(|q| -> &str { q.entitlement() }));
    let not_entitled: Vec<&str> = needed.filter(|c| !party.claims.iter().any(|e| e == c)).collect();
    if not_entitled.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(ProblemType::NotEntitled).detail(format!(
        "{} may ask for {}; not for {}",
        party.client_id,
        party.claims.join(", "),
        not_entitled.join(", ")
    )))
}

/// The limits on one request's questions: at most [`MAX_QUESTIONS`], each
/// once, and one `region=…` at most — asked about every province in turn, a
/// relying party entitled only to yes/no answers would learn the region.
fn questions_within_limits(questions: &[Question]) -> Result<(), String> {
    if questions.len() > MAX_QUESTIONS {
        return Err(format!("ask at most {MAX_QUESTIONS} questions in one request"));
    }
    if questions.iter().filter(|q| matches!(q, Question::Region(_))).count() > 1 {
        return Err(
            "ask at most one region=… question in one request: yes/no answers must not add up to the value".into()
        );
    }
    if questions.iter().enumerate().any(|(i, q)| questions[..i].contains(q)) {
        return Err("each question once".into());
    }
    Ok(())
}

/// The DCQL query of a stored request: the asked claims, the claims the
/// questions need (except `edition`, always visible), and the relying party's
/// own pseudonym (unless the request signs the citizen in: the authority
/// derives the subject then), from a shenfen credential of either edition. With optional
/// claims, `claim_sets` offers all of them first and the required ones alone
/// second, so a wallet may leave out any optional claim its holder declines.
fn dcql(request: &PresentationRequest) -> Value {
    let asked: Vec<&str> = request.query.claims.iter().map(String::as_str).collect();
    // Read by the verifier to answer a question, never passed on: their DCQL
    // id says so, so the consent screen can tell them apart.
    let mut for_questions: Vec<&str> = Vec::new();
    for claim in request.query.questions.iter().map(Question::claim).filter(|c| *c != "edition") {
        if !asked.contains(&claim) && !for_questions.contains(&claim) {
            for_questions.push(claim);
        }
    }
    let optional: Vec<&str> = request.query.optional_claims.iter().map(String::as_str).collect();
    // DCQL ids are letters, digits, `_` and `-`; claim paths use `/`.
    let id = |claim: &str| claim.replace('/', "-");
    let question_id = |claim: &str| format!("{QUESTION_CLAIM_PREFIX}{}", id(claim));
    let entry = |id: String, claim: &str| json!({ "id": id, "path": claim.split('/').collect::<Vec<_>>() });
    let mut claims: Vec<Value> = asked.iter().map(|c| entry(id(c), c)).collect();
    claims.extend(for_questions.iter().map(|c| entry(question_id(c), c)));
    let pseudonym = request.query.sign_in_sector.is_none().then_some("pseudonym");
    if pseudonym.is_some() {
        claims.push(json!({ "id": "pseudonym", "path": ["pseudonyms", request.client_id] }));
    }
    claims.extend(optional.iter().map(|c| entry(id(c), c)));
    let mut credential = json!({
        "id": CREDENTIAL_QUERY_ID,
        "format": "dc+sd-jwt",
        "meta": { "vct_values": [vct(Edition::Lightweight), vct(Edition::Upgraded)] },
        "claims": claims,
    });
    if !optional.is_empty() {
        let required_ids: Vec<String> = asked
            .iter()
            .map(|c| id(c))
            .chain(for_questions.iter().map(|c| question_id(c)))
            .chain(pseudonym.map(str::to_owned))
            .collect();
        let all_ids: Vec<String> = required_ids.iter().cloned().chain(optional.iter().map(|c| id(c))).collect();
        credential["claim_sets"] = json!([all_ids, required_ids]);
    }
    json!({
        "credentials": [credential],
        "credential_sets": [{ "options": [[CREDENTIAL_QUERY_ID]], "purpose": request.query.purpose }],
    })
}

fn closed() -> ApiError {
    ApiError::new(ProblemType::RequestClosed)
        .detail("the request is unknown, expired or already answered (and read); ask for a new one")
}

async fn open_request(state: &AppState, id: &str) -> Result<PresentationRequest, ApiError> {
    match state.store.presentation_request(id).await? {
        Some(request) if request.status == PresentationStatus::Pending && request.expires_at >= now() => Ok(request),
        _ => Err(closed()),
    }
}

/// `GET /verifier/requests/{id}/object`: the request object, signed by this
/// authority so a wallet that trusts its credentials trusts what it asks.
#[utoipa::path(get, path = "/verifier/requests/{id}/object", summary = "OpenID4VP 1.0 request object by reference, signed by this authority: response_type vp_token, response_mode direct_post, nonce, state, DCQL query, client_metadata.",
    params(("id" = String, Path, description = "the id the creating call answered")),
    responses(
        (status = 200, description = "signed request object", body = String, content_type = "application/oauth-authz-req+jwt"),
        (status = 404, description = "request-closed", body = Problem, content_type = PROBLEM),
    ))]
pub(crate) async fn request_object(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let request = open_request(&state, &id).await?;
    let party = state.relying_parties.get(&state.store, &request.client_id).await?.ok_or_else(closed)?;
    let issuer = &state.authority.issuer;
    let claims = json!({
        "iss": issuer.url,
        "aud": "https://self-issued.me/v2",
        "iat": now(),
        "exp": request.expires_at,
        "client_id": request.client_id,
        "response_type": "vp_token",
        "response_mode": "direct_post",
        "response_uri": format!("{}/verifier/requests/{id}/response", issuer.url),
        "nonce": request.nonce,
        "state": request.state,
        "dcql_query": dcql(&request),
        // shenfen extensions, signed with the rest: the assurance level the
        // relying party asked for, so the wallet knows to bring an assertion
        // from /citizen/assertion; and the yes/no questions it will get the
        // answers to (and nothing more of those claims), for the consent screen.
        "assurance_level": request.query.level,
        "questions": request.query.questions,
        "client_metadata": {
            "client_name": party.name,
            "vp_formats_supported": { "dc+sd-jwt": { "sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"] } },
        },
    });
    let mut claims = claims.as_object().cloned().unwrap_or_default();
    if let Some(origin) = &request.query.sign_in_origin {
        // A shenfen extension too: when and from which address a sign-in was
        // started, for the consent screen (a relayed sign-in shows another
        // place and time than the citizen's own).
        claims.insert("sign_in_origin".into(), json!(origin));
    }
    let header = es256_header(REQUEST_OBJECT_TYP, issuer.public.kid());
    let jwt = sign_compact(&header, &claims, &issuer.signing_key).map_err(|_| ApiError::internal())?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/oauth-authz-req+jwt")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    Ok((headers, jwt))
}

/// The `error_description` of a wallet's error response whose card cannot
/// reach the asked level (OpenID Connect Core's name for that refusal).
const LEVEL_UNREACHABLE: &str = "unmet_authentication_requirements";

fn wallet_error(description: &str) -> ApiError {
    ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// `POST /verifier/requests/{id}/response` (form: `vp_token`, `state`): the
/// wallet's answer, verified and kept for the relying party to read once.
///
/// The request object is public (anyone with the link can read its `state`),
/// so only an answer that carries a presentation key-bound to this request's
/// nonce may close it as shared; junk is answered 400 and the request stays
/// open for the citizen's wallet. A decline (`error=access_denied`) closes it
/// as refused on the `state` alone: see [`declined`].
#[utoipa::path(post, path = "/verifier/requests/{id}/response", summary = r#"OpenID4VP direct_post response (form: vp_token = {"shenfen_id": [SD-JWT+KB]}, state, and for L2/L3 assurance = an assertion from /citizen/assertion), verified and answered once; or the wallet's error response (OpenID4VP 1.0 §8.5: error = access_denied, state) when the citizen declines, with error_description = unmet_authentication_requirements and a vp_token of the lightweight edition disclosing nothing when the card cannot reach the asked level."#,
    request_body(content = Object, description = "vp_token, state, and for L2/L3 assurance; or error = access_denied and state", content_type = "application/x-www-form-urlencoded"),
    params(("id" = String, Path, description = "the id the creating call answered")),
    responses(
        (status = 200, description = "accepted: an empty object, or for a sign-in {redirect_uri} where the wallet sends the browser (the sign-in page)", body = Object),
        (status = 400, description = "invalid_request: why the answer is refused", body = OAuthError),
        (status = 413, description = "the body is over the endpoint limit", body = Problem, content_type = PROBLEM),
        (status = 415, description = "not a form", body = Problem, content_type = PROBLEM),
    ))]
pub(crate) async fn response(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let request = open_request(&state, &id)
        .await
        .map_err(|_| wallet_error("the request is unknown, expired or already answered"))?;
    let answer_state = form.get("state").ok_or_else(|| wallet_error("state is missing"))?;
    if let Some(error) = form.get("error") {
        let cannot_reach = form.get("error_description").is_some_and(|d| d == LEVEL_UNREACHABLE)
            && proves_lightweight(&state, &request, &form);
        return declined(&state, &request, answer_state, error, cannot_reach).await;
    }
    let vc = bound_presentation(&state, &request, &form).map_err(|reason| wallet_error(&reason))?;
    let outcome = check_answer(&state, &request, &form, &vc).await;
    let (status, result) = match &outcome {
        Ok(result) => (PresentationStatus::Verified, result.clone()),
        Err(reason) => (PresentationStatus::Refused, json!({ "error": reason })),
    };
    record_answer(&state, &id, answer_state, status, &result).await?;
    outcome.map_err(|reason| wallet_error(&reason))?;
    Ok(next_step(&state, &request))
}

/// Whether an error response proves its card lightweight: a presentation
/// disclosing nothing, bound to this request's nonce by the holder's key,
/// of the lightweight edition. Anyone who read the request object can post
/// an error; only the holder can bind a presentation, so without one the
/// error is a plain decline and says nothing of the citizen's edition.
fn proves_lightweight(state: &AppState, request: &PresentationRequest, form: &HashMap<String, String>) -> bool {
    form.contains_key("vp_token")
        && bound_presentation(state, request, form).is_ok_and(|vc| vc.vct == vct(Edition::Lightweight))
}

/// Where the wallet sends the browser once it has answered (OpenID4VP §8.2):
/// a sign-in's wallet on the same device goes back to the sign-in page,
/// which finds its token in the tab and goes on to the service.
fn next_step(state: &AppState, request: &PresentationRequest) -> Json<Value> {
    Json(match request.query.sign_in_sector {
        Some(_) => json!({ "redirect_uri": format!("{}/signin/", state.authority.issuer.url) }),
        None => json!({}),
    })
}

/// The wallet's error response (OpenID4VP 1.0 §8.5): the citizen declined,
/// so the request closes as refused with `access_denied` — the relying
/// party (and a sign-in's page) learns it at once, not when it expires.
///
/// Nothing but the request's `state` proves that the citizen's wallet sent
/// it, and that `state` is in the request object, which anyone holding the
/// link can fetch: that is all the proof OpenID4VP gives an error response.
/// So an attacker who read the request object could cancel the request —
/// a denial of service (the citizen starts again), not a disclosure: a
/// decline releases nothing.
///
/// A wallet whose card cannot reach the level asked (a lightweight card
/// asked for L2 or L3) says so with `error_description` =
/// [`LEVEL_UNREACHABLE`] and a presentation that proves the edition
/// ([`proves_lightweight`]): the refusal then names the level, as an answer
/// below it would (a sign-in ends in `unmet_authentication_requirements`),
/// so the service can tell the citizen to upgrade rather than wait.
async fn declined(
    state: &AppState,
    request: &PresentationRequest,
    answer_state: &str,
    error: &str,
    cannot_reach: bool,
) -> Result<Json<Value>, ApiError> {
    if error != "access_denied" {
        return Err(wallet_error("the one error a wallet answers here is access_denied: the citizen declined"));
    }
    let asked = request.query.level;
    let result = if cannot_reach && asked > AssuranceLevel::L1 {
        json!({ "error": format!(
            "[credential.level] the citizen's card cannot reach {asked}: the lightweight edition reaches L1; \
             L2 and L3 need the upgraded edition (enrolled after a visit to a counter)"
        ) })
    } else {
        json!({ "error": "access_denied", "error_description": "the citizen declined" })
    };
    record_answer(state, &request.id, answer_state, PresentationStatus::Refused, &result).await?;
    Ok(next_step(state, request))
}

/// Closes a pending request with the wallet's answer, once, if its `state`
/// is the request's; the result holds the citizen's claims, so it waits for
/// the relying party sealed.
async fn record_answer(
    state: &AppState,
    id: &str,
    answer_state: &str,
    status: PresentationStatus,
    result: &Value,
) -> Result<(), ApiError> {
    let sealed = SealedValue::seal(state.authority.keys.as_ref(), result.to_string().as_bytes(), id.as_bytes())?;
    if !state.store.answer_presentation_request(id, answer_state, now(), status, &sealed).await? {
        return Err(wallet_error("the request is already answered, expired, or the state differs"));
    }
    Ok(())
}

/// The presentation of an answer, verified: signed by one of this
/// authority's keys and key-bound to the relying party and this request's
/// nonce — proof that the holder of a credential answered this very request.
fn bound_presentation(
    state: &AppState,
    request: &PresentationRequest,
    form: &HashMap<String, String>,
) -> Result<VerifiedVc, String> {
    let token: Value = serde_json::from_str(form.get("vp_token").ok_or("vp_token is missing")?)
        .map_err(|_| "vp_token is not a JSON object".to_owned())?;
    let text = token[CREDENTIAL_QUERY_ID][0].as_str().ok_or("vp_token holds no shenfen_id presentation")?;
    let presentation = SdJwt::parse(text).map_err(|e| format!("[{}] {e}", e.code()))?;
    verify_presentation(state, &presentation, request)
}

/// Checks a bound presentation against what was asked (status, claims,
/// answers, level); the relying party's result.
async fn check_answer(
    state: &AppState,
    request: &PresentationRequest,
    form: &HashMap<String, String>,
    vc: &VerifiedVc,
) -> Result<Value, String> {
    let reference = vc.status.as_ref().ok_or("the credential has no status")?;
    if reference.uri != state.authority.issuer.status_list_uri() {
        return Err("the credential is not on this authority's status list".into());
    }
    let holder = match state.store.credential_holder(STATUS_LIST_ID, reference.idx).await {
        Ok(Some(holder)) if holder.status == 0 => holder,
        Ok(_) => return Err("[credential.status.revoked] the credential is revoked".into()),
        Err(e) => {
            tracing::error!(code = e.code(), "status lookup failed");
            return Err("the status could not be checked".into());
        }
    };
    let disclosed = Value::Object(vc.claims.clone());
    let mut claims = Map::new();
    for path in &request.query.claims {
        let value = disclosed.pointer(&format!("/{path}")).cloned();
        claims.insert(
            path.to_owned(),
            value.ok_or_else(|| format!("[credential.claim.missing] {path} was not disclosed"))?,
        );
    }
    for path in &request.query.optional_claims {
        if let Some(value) = disclosed.pointer(&format!("/{path}")) {
            claims.insert(path.to_owned(), value.clone());
        }
    }
    let mut answers = Map::new();
    for question in &request.query.questions {
        let value = vc
            .claims
            .get(question.claim())
            .ok_or_else(|| format!("[credential.claim.missing] {} was not disclosed", question.claim()))?;
        let answer =
            question.answer(value).ok_or_else(|| format!("{} does not answer {question}", question.claim()))?;
        answers.insert(question.to_string(), Value::Bool(answer));
    }
    let pseudonym = match &request.query.sign_in_sector {
        Some(sector) => Some(Value::from(sign_in_subject(state, &holder.subject, sector).await?)),
        None => vc.claims.get("pseudonyms").and_then(|p| p.get(&request.client_id)).cloned(),
    };
    let asked = request.query.level;
    let level = match form.get("assurance") {
        Some(assertion) => assurance_of(state, assertion, request, vc)?,
        None => AssuranceLevel::L1,
    };
    if level < asked {
        return Err(format!(
            "[credential.level] the presentation reaches {level}, the relying party asked for {asked}: \
             get an assertion from /citizen/assertion (PIN for L2, PIN and live face for L3)"
        ));
    }
    Ok(json!({
        "claims": claims,
        "answers": answers,
        "pseudonym": pseudonym.ok_or("[credential.claim.missing] the pairwise pseudonym was not disclosed")?,
        "level": level.to_string(),
        "edition": vc.claims.get("edition"),
        "issuer": vc.claims.get("iss"),
    }))
}

/// The pairwise subject of the citizen `subject` for `sector` (OpenID
/// Connect Core §8.1), from their registry entry: the same for every
/// credential, phone and enrollment of theirs, and for a relying party
/// registered after their credentials were issued.
async fn sign_in_subject(state: &AppState, subject: &BlindIndex, sector: &str) -> Result<String, String> {
    let failed = |code: &str| {
        tracing::error!(code, "the registry entry of a sign-in could not be read");
        "the citizen could not be looked up".to_owned()
    };
    let sealed = state.store.entry(subject).await.map_err(|e| failed(e.code()))?;
    let entry = sealed.ok_or("the citizen is no longer in the registry")?.open(state.authority.keys.as_ref());
    let entry = entry.map_err(|e| failed(e.code()))?;
    let sector = format!("{SIGN_IN_SECTOR_PREFIX}{}", sector.to_ascii_lowercase());
    Ok(pairwise_pseudonym(&state.authority.pseudonyms, &entry.record.id_number, &sector))
}

/// What a sector is prefixed with before its pairwise subject is derived:
/// sign-in subjects and the credential's pseudonyms (keyed by client_id)
/// come from the same key, and a relying party naming another's client_id
/// as its sector must not get that party's pseudonyms.
const SIGN_IN_SECTOR_PREFIX: &str = "oidc-sector:";

fn verify_presentation(
    state: &AppState,
    presentation: &SdJwt,
    request: &PresentationRequest,
) -> Result<VerifiedVc, String> {
    let key = state.authority.issuer.key_for(presentation).ok_or("the credential's key is not this authority's")?;
    let verifying = PublicJwk::verifying_key(key).map_err(|e| e.to_string())?;
    let options = VerifyOptions {
        now: now(),
        clock_skew_secs: 60,
        expected_typ: None,
        key_binding: Some(KeyBindingCheck { audience: &request.client_id, nonce: &request.nonce, max_age_secs: 300 }),
    };
    verify_vc(presentation, &verifying, &options).map_err(|e| format!("[{}] {e}", e.code()))
}

/// The level an assurance assertion vouches for: signed by this authority,
/// for this relying party's request (`aud`, `nonce`), unexpired, and bound to
/// the same device key as the presentation.
fn assurance_of(
    state: &AppState,
    assertion: &str,
    request: &PresentationRequest,
    vc: &VerifiedVc,
) -> Result<AssuranceLevel, String> {
    let jws = Jws::parse(assertion.trim(), "assurance assertion").map_err(|e| e.to_string())?;
    jws.expect_typ(ASSERTION_TYP).map_err(|e| e.to_string())?;
    let issuer = &state.authority.issuer;
    jws.verify(&issuer.public.verifying_key().map_err(|e| e.to_string())?)
        .map_err(|e| format!("[{}] {e}", e.code()))?;
    let claims = jws.payload();
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    if text("aud") != request.client_id || text("nonce") != request.nonce {
        return Err("the assurance assertion is for another request".into());
    }
    if claims.get("exp").and_then(Value::as_i64).is_none_or(|exp| exp < now()) {
        return Err("the assurance assertion has expired".into());
    }
    let holder = vc.holder_key.as_ref().map(PublicJwk::thumbprint);
    let bound = claims.get("cnf").and_then(|c| c.get("jkt")).and_then(Value::as_str);
    if holder.is_none() || holder.as_deref() != bound {
        return Err("the assurance assertion is bound to another device key".into());
    }
    text("level").parse().map_err(|_| "the assurance assertion names no level".into())
}

/// Whose request's outcome is read.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ResultQuery {
    /// The asking relying party.
    client_id: String,
}

/// What a relying party reads of its request: the answer (once), or that it is
/// still pending.
// Fields in the order `json!` wrote them before (sorted), so the answer is byte
// for byte the same; each variant requires the field the other lacks, so an
// answer matches exactly one.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum Outcome {
    /// The wallet answered.
    Answered {
        /// The verified claims and answers, or `{error}` when refused; null if it could not be read.
        #[schema(value_type = Option<Object>, required = true)]
        result: Option<Value>,
        /// `verified` or `refused`.
        #[schema(value_type = String)]
        status: PresentationStatus,
    },
    /// No answer yet.
    Pending {
        /// When the request expires (seconds since the epoch).
        expires_at: i64,
        /// `pending`.
        #[schema(value_type = String)]
        status: PresentationStatus,
    },
}

/// `GET /verifier/requests/{id}?client_id=…` (the relying party's Bearer
/// key): `pending`, or the outcome — returned once, then forgotten.
#[utoipa::path(get, path = "/verifier/requests/{id}", summary = "The relying party reads the outcome: {status: pending, expires_at} or {status: verified|refused, result} - returned once, then forgotten.",
    params(("id" = String, Path, description = "the id the creating call answered"), ResultQuery),
    security(("relying_party_key" = [])),
    responses(
        (status = 200, description = "outcome", body = Outcome),
        (status = 400, description = "bad-request: client_id is missing", body = Problem, content_type = PROBLEM),
        (status = 401, description = "relying-party-unauthenticated", body = Problem, content_type = PROBLEM),
        (status = 404, description = "request-closed", body = Problem, content_type = PROBLEM),
    ))]
pub(crate) async fn outcome(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    key: RelyingPartyKey,
    Query(query): Query<ResultQuery>,
) -> Result<Json<Outcome>, ApiError> {
    key.party(&state, &query.client_id).await?;
    // The common last call finds the answer: take it first (one statement).
    if let Some(answered) = state.store.take_answered_request(&id, &query.client_id).await? {
        let opened = answered.result.as_ref().map(|sealed| sealed.open(state.authority.keys.as_ref(), id.as_bytes()));
        let result = opened.transpose()?.and_then(|json| serde_json::from_slice::<Value>(&json).ok());
        return Ok(Json(Outcome::Answered { result, status: answered.status }));
    }
    match state.store.presentation_request(&id).await? {
        Some(request) if request.client_id == query.client_id && request.status == PresentationStatus::Pending => {
            Ok(Json(Outcome::Pending { expires_at: request.expires_at, status: PresentationStatus::Pending }))
        }
        _ => Err(closed()),
    }
}
