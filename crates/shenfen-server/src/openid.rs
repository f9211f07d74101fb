//! "Sign in with shenfen": an OpenID Provider (OpenID Connect Core 1.0,
//! authorization code flow with PKCE). `/authorize` checks the client and
//! its redirect URI, then opens an OpenID4VP presentation request through the
//! verifier and sends the browser to the sign-in page (`/signin/#token`),
//! which shows its QR code and polls `/authorize/poll` until the wallet has
//! answered; the poll closes the request with a code (or an error) for the
//! relying party's redirect URI. `/token` redeems the code for an id_token
//! whose `sub` is the citizen's pairwise subject for the relying party's
//! sector (§8.1), derived by the authority from the registry, and whose
//! `acr` is the level reached.
//!
//! What the authority learns on this path: which relying party the citizen
//! signed in to (like Singpass or eSignet).

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;
use aws_lc_rs::hmac;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use shenfen_core::AssuranceLevel;
use shenfen_credential::{Jws, PublicJwk, es256_header, sign_compact};
use shenfen_store::{
    AuditEvent, Authorization, AuthorizationCode, ClientAuthentication, OpenIdClient, PresentationQuery,
    PresentationRequest, PresentationStatus, RelyingParty, SealedValue, SignInOrigin,
};
use utoipa::{IntoParams, ToSchema};

use crate::app::{AppState, no_store, now};
use crate::client_address::ClientAddress;
use crate::error::{ApiError, PROBLEM, Problem, ProblemType};
use crate::extractors::{AccessToken, JsonBody};
use crate::issuance::{TokenAnswer, TokenRequest};
use crate::openapi::{BodyProblems, OAuthError};
use crate::tokens::{random_token, token_hash};
use crate::verifier::authorization_request;

/// The grant type of the authorization code flow.
pub(crate) const CODE_GRANT: &str = "authorization_code";
/// The claims a sign-in may release, by their name in the id_token (and as a
/// scope), each with the credential path it is read from and entitled as:
/// the common claims under their own names; the full ID number from the
/// upgraded edition's record, for a relying party whose law entitles it to
/// `record/id_number` (a business registry, say) and with the citizen's consent.
const SIGN_IN_CLAIMS: [(&str, &str); 5] = [
    ("name", "name"),
    ("id_number_masked", "id_number_masked"),
    ("age_over_18", "age_over_18"),
    ("region", "region"),
    ("id_number", ID_NUMBER_PATH),
];
/// The credential path of the full ID number (upgraded edition only).
const ID_NUMBER_PATH: &str = "record/id_number";

/// The names of [`SIGN_IN_CLAIMS`].
fn sign_in_claim_names() -> impl Iterator<Item = &'static str> {
    SIGN_IN_CLAIMS.iter().map(|(name, _)| *name)
}

/// The credential path of a sign-in claim `name`, if it is one.
fn sign_in_claim_path(name: &str) -> Option<&'static str> {
    SIGN_IN_CLAIMS.iter().find(|(known, _)| *known == name).map(|(_, path)| *path)
}

/// The verifier's verified claims (keyed by credential path) under their id_token names.
fn id_token_claims(verified: Map<String, Value>) -> Map<String, Value> {
    verified
        .into_iter()
        .map(|(path, value)| {
            let name =
                SIGN_IN_CLAIMS.iter().find(|(_, known)| *known == path).map_or(path, |(name, _)| (*name).to_owned());
            (name, value)
        })
        .collect()
}
/// Seconds an authorization code stays redeemable.
const CODE_SECS: i64 = 60;
/// Seconds an access token (for `/userinfo`) and an id_token stay valid.
const TOKEN_SECS: i64 = 300;
/// The longest a client assertion may live: its `jti` is remembered that long.
const MAX_ASSERTION_SECS: i64 = 600;
/// Seconds a sign-in's presentation request stays open: shorter than a
/// relying party's ([`crate::verifier::REQUEST_SECS`]), as the cross-device
/// BCP (RFC 10027) advises, so that a sign-in code an attacker relays to a
/// victim goes stale quickly; long enough to unlock the phone and scan.
const SIGN_IN_REQUEST_SECS: i64 = 120;
/// Seconds an authorization outlives its presentation request.
const ANSWER_GRACE_SECS: i64 = 60;
/// The longest `state`, `nonce` or `claims` parameter kept for a sign-in.
const MAX_PARAMETER_BYTES: usize = 1024;
/// The length of the sign-in page's token (256 bits, base64url).
const PAGE_TOKEN_LEN: usize = 43;
const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3).
#[derive(Serialize, ToSchema)]
pub(crate) struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    scopes_supported: Vec<&'static str>,
    response_types_supported: [&'static str; 1],
    response_modes_supported: [&'static str; 1],
    grant_types_supported: [&'static str; 1],
    subject_types_supported: [&'static str; 1],
    id_token_signing_alg_values_supported: [&'static str; 1],
    token_endpoint_auth_methods_supported: [&'static str; 2],
    token_endpoint_auth_signing_alg_values_supported: [&'static str; 1],
    code_challenge_methods_supported: [&'static str; 1],
    acr_values_supported: [&'static str; 3],
    claims_supported: Vec<&'static str>,
    claims_parameter_supported: bool,
    authorization_response_iss_parameter_supported: bool,
}

#[utoipa::path(get, path = "/.well-known/openid-configuration",
    summary = "OpenID Connect Discovery 1.0: the provider's endpoints, pairwise subjects, ES256 id_tokens, PKCE S256, acr L1/L2/L3.",
    responses((status = 200, description = "provider metadata", body = ProviderMetadata)))]
pub(crate) async fn discovery(State(state): State<Arc<AppState>>) -> Json<ProviderMetadata> {
    let url = &state.authority.issuer.url;
    let mut claims_supported = vec!["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr"];
    claims_supported.extend(sign_in_claim_names());
    Json(ProviderMetadata {
        issuer: url.clone(),
        authorization_endpoint: format!("{url}/authorize"),
        token_endpoint: format!("{url}/token"),
        userinfo_endpoint: format!("{url}/userinfo"),
        jwks_uri: format!("{url}/jwks.json"),
        scopes_supported: ["openid", "profile"].into_iter().chain(sign_in_claim_names()).collect(),
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: [CODE_GRANT],
        subject_types_supported: ["pairwise"],
        id_token_signing_alg_values_supported: ["ES256"],
        token_endpoint_auth_methods_supported: ["private_key_jwt", "client_secret_basic"],
        token_endpoint_auth_signing_alg_values_supported: ["ES256"],
        code_challenge_methods_supported: ["S256"],
        acr_values_supported: ["L1", "L2", "L3"],
        claims_supported,
        claims_parameter_supported: true,
        authorization_response_iss_parameter_supported: true,
    })
}

/// The parameters of an authorization request (OpenID Connect Core §3.1.2.1).
/// `id_token_hint` is ignored, like any parameter not read here: with no
/// session there is no signed-in citizen to compare it with, and a relying
/// party that wants the same person again asks for their `sub` as a value
/// of the `claims` parameter, which is enforced.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    acr_values: Option<String>,
    /// The `claims` parameter (§5.5), JSON. A `sub` with a `value` in its
    /// `id_token` member names the only citizen who may sign in (§5.5.1).
    claims: Option<String>,
    /// Space-separated (§3.1.2.1): `none` is answered `login_required`, as
    /// this provider keeps no session and every sign-in needs the wallet;
    /// `login`, `consent` and values it does not know change nothing.
    prompt: Option<String>,
    /// Seconds since the citizen last authenticated: every sign-in is a
    /// fresh one with the wallet, and the id_token always has `auth_time`.
    max_age: Option<String>,
}

/// What the server keeps of an authorization request until the wallet answers.
#[derive(Serialize, Deserialize)]
struct SignInRequest {
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
    /// The credential paths asked for (see [`SIGN_IN_CLAIMS`]).
    claims: Vec<String>,
    /// The level the relying party made essential: never less.
    essential_level: Option<AssuranceLevel>,
    /// The pairwise subject the relying party asked for (§5.5.1): anyone else is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    required_sub: Option<String>,
    /// When and from where the sign-in was started, for its audit entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<SignInOrigin>,
}

/// What a code grants, sealed in the store.
#[derive(Serialize, Deserialize)]
struct SignInGrant {
    sub: String,
    claims: Map<String, Value>,
    acr: AssuranceLevel,
    auth_time: i64,
    nonce: Option<String>,
    code_challenge: String,
    redirect_uri: String,
}

/// An error answered to the relying party's verified redirect URI (§3.1.2.6).
fn redirect_error(redirect_uri: &str, issuer: &str, state: Option<&str>, error: &str, description: &str) -> Response {
    let params = [("error", Some(error)), ("error_description", Some(description)), ("state", state)];
    redirect_with(redirect_uri, issuer, &params)
}

/// `redirect_uri` with the query parameters that have a value, and `iss`
/// (RFC 9207): a relying party that signs in with several providers can tell
/// which one answered, so a code cannot be mixed up between them.
fn redirect_with(redirect_uri: &str, issuer: &str, params: &[(&str, Option<&str>)]) -> Response {
    let mut present: Vec<(&str, &str)> = params.iter().filter_map(|(k, v)| v.map(|v| (*k, v))).collect();
    present.push(("iss", issuer));
    let query = serde_urlencoded::to_string(present).unwrap_or_default();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{redirect_uri}{separator}{query}")).into_response()
}

/// `GET` or `POST /authorize` (OpenID Connect Core §3.1.2.1: the parameters
/// in the query, or as a form): checks the client and its redirect URI (an
/// unknown one is answered here, never redirected to), then the request;
/// opens the presentation request and sends the browser to the sign-in page.
/// axum's `Form` reads the query of a GET and the body of a POST, so one
/// handler serves both.
#[utoipa::path(method(get, post), path = "/authorize",
    summary = "OpenID Connect authorization request (code flow, PKCE S256 required; GET with the parameters in the query, POST as a form): opens a presentation request and sends the browser to the sign-in page; errors after the client and redirect URI are verified go to that redirect URI.",
    params(AuthorizeParams),
    responses(
        (status = 303, description = "to the sign-in page, or to the relying party's redirect URI with an error"),
        (status = 400, description = "invalid-request: unknown client, or a redirect URI not registered for it (never redirected to)", body = Problem, content_type = PROBLEM),
        (status = 413, description = "payload-too-large: a POST body over the limit", body = Problem, content_type = PROBLEM),
        (status = 415, description = "unsupported-media-type: a POST that is not a form", body = Problem, content_type = PROBLEM),
        (status = 422, description = "bad-request: a parameter repeated, or not UTF-8", body = Problem, content_type = PROBLEM),
        (status = 429, description = "rate-limited: too many sign-ins from this address", body = Problem, content_type = PROBLEM),
    ))]
pub(crate) async fn authorize(
    State(state): State<Arc<AppState>>,
    client_address: ClientAddress,
    Form(params): Form<AuthorizeParams>,
) -> Result<Response, ApiError> {
    let client_id = params.client_id.as_deref().ok_or_else(|| ApiError::invalid("client_id is missing"))?;
    let party = state.relying_parties.get(&state.store, client_id).await?;
    let Some((party, client)) = party.and_then(|p| p.openid.clone().map(|c| (p, c))) else {
        return Err(ApiError::invalid("client_id is not a registered OpenID Connect client"));
    };
    let redirect_uri = params
        .redirect_uri
        .as_deref()
        .filter(|uri| client.redirect_uris.iter().any(|registered| registered == uri))
        .ok_or_else(|| ApiError::invalid("redirect_uri is missing or not registered for this client"))?;
    let now = now();
    let origin = SignInOrigin { started_at: now, address: client_address.0.map(|ip| ip.to_string()) };
    let request = match sign_in_request(&party, redirect_uri, &params) {
        Ok(request) => SignInRequest { origin: Some(origin.clone()), ..request },
        Err((error, description)) => {
            let issuer = &state.authority.issuer.url;
            return Ok(redirect_error(redirect_uri, issuer, params.state.as_deref(), error, &description));
        }
    };
    let limit_key = format!("sign-in:client:{}", client_address.key());
    if state.store.count_attempt(&limit_key, now - now.rem_euclid(3600)).await?
        > state.authority.policy.sign_ins_per_client_hour
    {
        return Err(ApiError::new(ProblemType::RateLimited).detail("too many sign-ins from this address; wait an hour"));
    }
    let level = requested_level(&params, request.essential_level);
    let (Some(request_id), Some(nonce), Some(vp_state), Some(page_token)) =
        (random_token(), random_token(), random_token(), random_token())
    else {
        return Err(ApiError::internal());
    };
    let expires_at = now + SIGN_IN_REQUEST_SECS;
    let presentation = PresentationRequest {
        id: request_id.clone(),
        client_id: party.client_id.clone(),
        nonce,
        state: vp_state,
        query: PresentationQuery {
            claims: request.claims.clone(),
            optional_claims: Vec::new(),
            questions: Vec::new(),
            purpose: format!("Sign in to {}", party.name),
            level,
            sign_in_sector: Some(client.sector_identifier.clone()),
            sign_in_origin: Some(origin),
        },
        expires_at,
        status: PresentationStatus::Pending,
        result: None,
        answered_at: None,
    };
    let kept = serde_json::to_string(&request).map_err(|_| ApiError::internal())?;
    let authorization = Authorization {
        page_token_hash: token_hash(&page_token),
        request_id,
        client_id: party.client_id,
        request: kept,
        // Outlives the presentation request, so that the page learns it expired
        // and the relying party gets its `access_denied`.
        expires_at: expires_at + ANSWER_GRACE_SECS,
    };
    state.store.start_authorization(&authorization, &presentation).await?;
    // The page's token in the fragment: never sent to a server, nor in a Referer.
    let cookie =
        binding_cookie(&state, &page_token, &authorization.page_token_hash, SIGN_IN_REQUEST_SECS + ANSWER_GRACE_SECS);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&format!("/signin/#{page_token}"))).into_response())
}

/// The cookie that ties a sign-in page to the browser that started the
/// sign-in: named for the page's token (a browser may run several sign-ins),
/// holding the server's tag of it — which a browser sent only the page's
/// link (a phishing message) does not have, so it cannot poll for the
/// wallet's request or for the code.
fn binding_cookie(state: &AppState, page_token: &str, page_token_hash: &[u8; 32], max_age: i64) -> String {
    let secure = if state.authority.issuer.url.starts_with("https://") { "; Secure" } else { "" };
    let (name, value) = binding_of(state, page_token, page_token_hash);
    format!("{name}={value}; Path=/authorize/poll; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The binding cookie's name (from the token's hash, which the store keys it
/// by) and value for a page token.
fn binding_of(state: &AppState, page_token: &str, page_token_hash: &[u8; 32]) -> (String, String) {
    let name: String = page_token_hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    let tag = hmac::sign(&state.sign_in_binding, page_token.as_bytes());
    (format!("shenfen-sign-in-{name}"), URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Whether the request carries the binding cookie of this page token.
fn bound_to_this_browser(state: &AppState, headers: &HeaderMap, page_token: &str, page_token_hash: &[u8; 32]) -> bool {
    let (name, value) = binding_of(state, page_token, page_token_hash);
    let sent = headers
        .get_all(header::COOKIE)
        .into_iter()
        .filter_map(|line| line.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(cookie, sent)| (cookie == name).then_some(sent));
    sent.is_some_and(|sent| verify_slices_are_equal(sent.as_bytes(), value.as_bytes()).is_ok())
}

/// The checks of §3.1.2.2 past the client and redirect URI, and the claims
/// asked (scope and `claims` parameter) within the relying party's entitlement.
fn sign_in_request(
    party: &RelyingParty,
    redirect_uri: &str,
    params: &AuthorizeParams,
) -> Result<SignInRequest, (&'static str, String)> {
    let oversized = [&params.state, &params.nonce, &params.claims]
        .iter()
        .any(|p| p.as_ref().is_some_and(|v| v.len() > MAX_PARAMETER_BYTES));
    if oversized {
        return Err((
            "invalid_request",
            format!("state, nonce and claims are at most {MAX_PARAMETER_BYTES} bytes each"),
        ));
    }
    if params.response_type.as_deref() != Some("code") {
        return Err(("unsupported_response_type", "only response_type=code is supported".into()));
    }
    let scopes: Vec<&str> = params.scope.as_deref().unwrap_or_default().split(' ').collect();
    if !scopes.contains(&"openid") {
        return Err(("invalid_scope", "the scope must include openid".into()));
    }
    prompt_allowed(params.prompt.as_deref())?;
    if params.max_age.as_deref().is_some_and(|age| age.parse::<u64>().is_err()) {
        return Err(("invalid_request", "max_age is a number of seconds".into()));
    }
    let code_challenge = match (params.code_challenge.as_deref(), params.code_challenge_method.as_deref()) {
        (Some(challenge), Some("S256")) if challenge.len() == 43 => challenge.to_owned(),
        _ => {
            return Err(("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256".into()));
        }
    };
    let asked: Option<Value> = params
        .claims
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|_| ("invalid_request", "the claims parameter is not JSON".to_owned()))?;
    let mut claims: Vec<String> = Vec::new();
    let scope_claims = scopes.iter().map(|s| if *s == "profile" { "name" } else { s });
    let parameter_claims = ["userinfo", "id_token"]
        .iter()
        .filter_map(|member| asked.as_ref()?.get(member)?.as_object())
        .flat_map(|object| object.keys().map(String::as_str));
    for path in scope_claims.chain(parameter_claims).filter_map(sign_in_claim_path) {
        if !claims.iter().any(|c| c == path) {
            claims.push(path.to_owned());
        }
    }
    let not_entitled: Vec<&str> =
        claims.iter().map(String::as_str).filter(|c| !party.claims.iter().any(|e| e == c)).collect();
    if !not_entitled.is_empty() {
        return Err(("invalid_scope", format!("{} is not entitled to {}", party.client_id, not_entitled.join(", "))));
    }
    let essential_acr = asked.as_ref().and_then(|a| a.pointer("/id_token/acr")).filter(|acr| acr["essential"] == true);
    let essential_level = match essential_acr {
        Some(acr) => {
            Some(essential_level(acr).ok_or(("invalid_request", "an essential acr names L1, L2 or L3".into()))?)
        }
        None => None,
    };
    // The full ID number is released only with the PIN at least: a found,
    // unlocked phone alone (L1) must not give it away.
    let least_for_claims = claims.iter().any(|c| c == ID_NUMBER_PATH).then_some(AssuranceLevel::L2);
    let essential_level = essential_level.max(least_for_claims);
    let required_sub = asked.as_ref().and_then(|a| a.pointer("/id_token/sub/value"));
    let required_sub = match required_sub {
        Some(sub) => Some(sub.as_str().ok_or(("invalid_request", "a sub value is a string".to_owned()))?.to_owned()),
        None => None,
    };
    Ok(SignInRequest {
        redirect_uri: redirect_uri.to_owned(),
        state: params.state.clone(),
        nonce: params.nonce.clone(),
        code_challenge,
        claims,
        essential_level,
        required_sub,
        origin: None,
    })
}

/// `prompt` (§3.1.2.1): `none` asks to sign in without showing anything,
/// which this provider cannot do — it keeps no session, and every sign-in
/// is the citizen answering with the wallet — so it is `login_required`
/// (§3.1.2.6); `none` with another value is a contradiction. Every other
/// value (`login`, `consent`, `select_account`, unknown ones) is met by
/// what every sign-in does anyway.
fn prompt_allowed(prompt: Option<&str>) -> Result<(), (&'static str, String)> {
    let values: Vec<&str> = prompt.unwrap_or_default().split(' ').filter(|v| !v.is_empty()).collect();
    match values.as_slice() {
        ["none"] => {
            Err(("login_required", "every sign-in needs the citizen's wallet: prompt=none cannot be met".into()))
        }
        many if many.contains(&"none") => {
            Err(("invalid_request", "prompt=none cannot be combined with other values".into()))
        }
        _ => Ok(()),
    }
}

/// The least level an essential `acr` request (`value` or `values`) accepts.
fn essential_level(acr: &Value) -> Option<AssuranceLevel> {
    let named: Vec<&Value> = match (acr.get("value"), acr.get("values").and_then(Value::as_array)) {
        (Some(value), _) => vec![value],
        (None, Some(values)) => values.iter().collect(),
        (None, None) => Vec::new(),
    };
    named.iter().filter_map(|v| v.as_str()?.parse().ok()).min()
}

/// The level the wallet is asked for: the higher of the essential one and
/// the first of `acr_values` this provider knows, else L1.
fn requested_level(params: &AuthorizeParams, essential: Option<AssuranceLevel>) -> AssuranceLevel {
    let voluntary = params.acr_values.as_deref().unwrap_or_default().split(' ').find_map(|v| v.parse().ok());
    essential.max(voluntary).unwrap_or(AssuranceLevel::L1)
}

/// The sign-in page's poll.
#[derive(Deserialize, ToSchema)]
pub(crate) struct Poll {
    /// The token from the page's fragment.
    token: String,
}

/// What the sign-in page does next.
#[derive(Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub(crate) enum PollAnswer {
    /// Waiting for the wallet: show this `openid4vp://` request.
    Pending {
        /// The request, for the QR code and the same-device button.
        authorization_request: String,
        /// Seconds since the epoch.
        expires_at: i64,
    },
    /// Answered: go to the relying party.
    Done {
        /// Its redirect URI with a code, or an error.
        location: String,
    },
}

/// `POST /authorize/poll {token}`: pending, or where to send the browser —
/// once: the answer closes the authorization request.
#[utoipa::path(post, path = "/authorize/poll",
    summary = "The sign-in page's poll: pending (with the openid4vp:// request to show), or once answered where to send the browser, once.",
    request_body = Poll,
    responses(
        (status = 200, description = "pending, or done with the location", body = PollAnswer),
        (status = 404, description = "request-closed: unknown, expired or already finished, or started in another browser (no binding cookie)", body = Problem, content_type = PROBLEM),
        BodyProblems,
    ))]
pub(crate) async fn poll(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Poll>,
) -> Result<impl IntoResponse, ApiError> {
    // The token's shape first: a made-up one costs no store read.
    if body.token.len() != PAGE_TOKEN_LEN {
        return Err(closed());
    }
    let page_token_hash = token_hash(&body.token);
    if !bound_to_this_browser(&state, &headers, &body.token, &page_token_hash) {
        return Err(ApiError::new(ProblemType::RequestClosed)
            .detail("this sign-in was started in another browser: start it again at the service, in this browser"));
    }
    let now = now();
    let authorization = state.store.authorization(&page_token_hash, now).await?.ok_or_else(closed)?;
    let request: SignInRequest = serde_json::from_str(&authorization.request).map_err(|_| ApiError::internal())?;
    let presentation = state.store.presentation_request(&authorization.request_id).await?;
    let answered = match presentation {
        Some(p) if p.status == PresentationStatus::Pending && p.expires_at >= now => {
            let authorization_request = authorization_request(&state, &p.client_id, &p.id);
            return Ok(poll_answer(PollAnswer::Pending { authorization_request, expires_at: p.expires_at }));
        }
        Some(p) if p.status != PresentationStatus::Pending => Some(p),
        _ => None,
    };
    let issuer = &state.authority.issuer.url;
    let concluded = match answered {
        Some(presentation) => conclude(&state, &authorization, &request, &presentation, now)?,
        None => Concluded::refused(&request, issuer, "access_denied", "the citizen did not answer in time"),
    };
    let event = sign_in_event(&authorization, &request, &concluded, now);
    if !state.store.finish_authorization(&authorization, concluded.code.as_ref(), event).await? {
        return Err(closed());
    }
    Ok(poll_answer(PollAnswer::Done { location: concluded.location }))
}

/// How a sign-in ended: where the page sends the browser, the code when
/// the citizen signed in, and what the audit log keeps of it.
struct Concluded {
    location: String,
    code: Option<AuthorizationCode>,
    /// `signed_in`, or the OpenID Connect error the relying party gets.
    outcome: &'static str,
    /// The level reached, when signed in.
    acr: Option<AssuranceLevel>,
}

impl Concluded {
    /// A sign-in that ends at the relying party with `error`.
    fn refused(request: &SignInRequest, issuer: &str, error: &'static str, description: &str) -> Concluded {
        Concluded {
            location: error_location(request, issuer, error, description),
            code: None,
            outcome: error,
            acr: None,
        }
    }
}

/// The audit entry of a finished sign-in: the relying party, how it ended,
/// the level reached, and when and from which address it was started (to
/// trace a relayed sign-in back) — never who signed in, nor any claim.
fn sign_in_event(
    authorization: &Authorization,
    request: &SignInRequest,
    concluded: &Concluded,
    now: i64,
) -> AuditEvent {
    AuditEvent {
        at: now,
        kind: "oidc.sign_in".into(),
        actor: format!("relying_party:{}", authorization.client_id),
        subject: None,
        details: json!({
            "client_id": authorization.client_id,
            "outcome": concluded.outcome,
            "level": concluded.acr,
            "origin": request.origin,
        }),
    }
}

/// A poll's answer carries a code: never cached.
fn poll_answer(answer: PollAnswer) -> impl IntoResponse {
    (no_store(), Json(answer))
}

fn closed() -> ApiError {
    ApiError::new(ProblemType::RequestClosed)
        .detail("the sign-in is unknown, expired or already finished; start again at the service")
}

fn error_location(request: &SignInRequest, issuer: &str, error: &str, description: &str) -> String {
    location_of(redirect_error(&request.redirect_uri, issuer, request.state.as_deref(), error, description))
}

fn location_of(response: Response) -> String {
    response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// The outcome of an answered presentation: a code for the relying party,
/// or the OpenID Connect error that says why not.
fn conclude(
    state: &AppState,
    authorization: &Authorization,
    request: &SignInRequest,
    presentation: &PresentationRequest,
    now: i64,
) -> Result<Concluded, ApiError> {
    let issuer = &state.authority.issuer.url;
    let sealed = presentation.result.as_ref().ok_or_else(ApiError::internal)?;
    let opened = sealed.open(state.authority.keys.as_ref(), presentation.id.as_bytes())?;
    let result: Value = serde_json::from_slice(&opened).map_err(|_| ApiError::internal())?;
    if presentation.status == PresentationStatus::Refused {
        let reason = result["error"].as_str().unwrap_or_default();
        let (error, description) = match reason {
            "access_denied" => ("access_denied", "the citizen declined"),
            level if level.starts_with("[credential.level]") => {
                ("unmet_authentication_requirements", "the presentation was refused")
            }
            _ => ("access_denied", "the presentation was refused"),
        };
        return Ok(Concluded::refused(request, issuer, error, description));
    }
    let acr: AssuranceLevel = result["level"].as_str().and_then(|l| l.parse().ok()).ok_or_else(ApiError::internal)?;
    if request.essential_level.is_some_and(|essential| acr < essential) {
        let description = format!("the citizen reached {acr}, less than the essential level");
        return Ok(Concluded::refused(request, issuer, "unmet_authentication_requirements", &description));
    }
    let sub = result["pseudonym"].as_str().ok_or_else(ApiError::internal)?;
    if request.required_sub.as_deref().is_some_and(|required| required != sub) {
        // §5.5.1: the relying party asked for one citizen (re-authentication); another answered.
        let description = "the citizen who answered is not the one the relying party asked for";
        return Ok(Concluded::refused(request, issuer, "access_denied", description));
    }
    let grant = SignInGrant {
        sub: sub.to_owned(),
        claims: id_token_claims(result["claims"].as_object().cloned().unwrap_or_default()),
        acr,
        // When the wallet's answer was verified: the citizen authenticated
        // then, however long the page took to ask.
        auth_time: presentation.answered_at.ok_or_else(ApiError::internal)?,
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        redirect_uri: request.redirect_uri.clone(),
    };
    let code = random_token().ok_or_else(ApiError::internal)?;
    let code_hash = token_hash(&code);
    let grant_json = serde_json::to_vec(&grant).map_err(|_| ApiError::internal())?;
    let stored = AuthorizationCode {
        code_hash,
        client_id: authorization.client_id.clone(),
        grant: SealedValue::seal(state.authority.keys.as_ref(), &grant_json, &code_hash)?,
        expires_at: now + CODE_SECS,
        redeemed_at: None,
    };
    let location = location_of(redirect_with(
        &request.redirect_uri,
        issuer,
        &[("code", Some(&code)), ("state", request.state.as_deref())],
    ));
    Ok(Concluded { location, code: Some(stored), outcome: "signed_in", acr: Some(acr) })
}

fn invalid_client(description: &str) -> ApiError {
    ApiError::oauth(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

fn invalid_grant(description: &str) -> ApiError {
    ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// The claims of an id_token.
#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    acr: AssuranceLevel,
    amr: Vec<&'static str>,
    #[serde(flatten)]
    claims: &'a Map<String, Value>,
}

/// `POST /token` with `grant_type=authorization_code`: the client
/// authenticated, the code its own, unredeemed and unexpired, the redirect
/// URI the same, the PKCE verifier right — then the tokens.
pub(crate) async fn code_token(
    state: &AppState,
    headers: &HeaderMap,
    form: &TokenRequest,
) -> Result<Response, ApiError> {
    let party = authenticated_client(state, headers, form).await?;
    let code = form
        .code
        .as_deref()
        .ok_or_else(|| ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", "code is missing"))?;
    let code_hash = token_hash(code);
    let now = now();
    let stored = state.store.authorization_code(&code_hash).await?;
    let stored =
        stored.filter(|c| c.client_id == party.client_id).ok_or_else(|| invalid_grant("the code is unknown"))?;
    if stored.redeemed_at.is_some() {
        // RFC 6749 §4.1.2: a code used twice may be stolen; what it gave is withdrawn.
        let revoked = state.store.revoke_code_tokens(&code_hash).await?;
        tracing::warn!(revoked, "an authorization code was presented again; its access tokens are revoked");
        return Err(invalid_grant("the code was already used"));
    }
    let opened = stored.grant.open(state.authority.keys.as_ref(), &code_hash)?;
    let grant: SignInGrant = serde_json::from_slice(&opened).map_err(|_| ApiError::internal())?;
    if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(invalid_grant("redirect_uri differs from the authorization request's"));
    }
    let verifier = form.code_verifier.as_deref().unwrap_or_default();
    let computed = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    if !(43..=128).contains(&verifier.len())
        || verify_slices_are_equal(computed.as_bytes(), grant.code_challenge.as_bytes()).is_err()
    {
        return Err(invalid_grant("the PKCE code_verifier does not match the code_challenge"));
    }
    let access_token = random_token().ok_or_else(ApiError::internal)?;
    if !state.store.redeem_authorization_code(&code_hash, now, &token_hash(&access_token), now + TOKEN_SECS).await? {
        // Lost a race with another redemption of the same code: withdraw what it gave, as above.
        state.store.revoke_code_tokens(&code_hash).await?;
        return Err(invalid_grant("the code has expired or was already used"));
    }
    let issuer = &state.authority.issuer;
    // RFC 8176: the wallet's device key is a software key (WebCrypto), then the PIN, then the face.
    let amr = ["swk", "pin", "face"];
    let factors = match grant.acr {
        AssuranceLevel::L1 => 1,
        AssuranceLevel::L2 => 2,
        AssuranceLevel::L3 => 3,
    };
    let claims = IdTokenClaims {
        iss: &issuer.url,
        sub: &grant.sub,
        aud: &party.client_id,
        iat: now,
        exp: now + TOKEN_SECS,
        auth_time: grant.auth_time,
        nonce: grant.nonce.as_deref(),
        acr: grant.acr,
        amr: amr[..factors].to_vec(),
        claims: &grant.claims,
    };
    let payload = serde_json::to_value(&claims).map_err(|_| ApiError::internal())?;
    let id_token = sign_compact(
        &es256_header("JWT", issuer.public.kid()),
        payload.as_object().ok_or_else(ApiError::internal)?,
        &issuer.signing_key,
    )
    .map_err(|_| ApiError::internal())?;
    let body = TokenAnswer { access_token, expires_in: TOKEN_SECS, id_token: Some(id_token), token_type: "Bearer" };
    Ok((no_store(), Json(body)).into_response())
}

/// The OpenID Connect client a token request authenticates as:
/// `client_secret_basic` or `private_key_jwt` (RFC 7523 §2.2), as registered.
async fn authenticated_client(
    state: &AppState,
    headers: &HeaderMap,
    form: &TokenRequest,
) -> Result<RelyingParty, ApiError> {
    match basic_header(headers) {
        Some(encoded) => {
            // RFC 6749 §5.2: a client that tried the Authorization header is
            // answered 401 with the challenge of the scheme it used.
            let realm = format!("Basic realm=\"{}\"", state.authority.issuer.url);
            secret_client(state, encoded).await.map_err(|e| e.challenge(realm))
        }
        None => assertion_client(state, form).await,
    }
}

/// `client_secret_basic`: the client id and secret of the header, compared
/// with the registered secret's hash in constant time.
async fn secret_client(state: &AppState, encoded: &str) -> Result<RelyingParty, ApiError> {
    let (client_id, secret) =
        basic_credentials(encoded).ok_or_else(|| invalid_client("the Basic credentials do not decode"))?;
    let (party, client) = openid_client(state, &client_id).await?;
    let ClientAuthentication::ClientSecretBasic { secret_hash } = &client.authentication else {
        return Err(invalid_client("this client authenticates with private_key_jwt"));
    };
    verify_slices_are_equal(&token_hash(&secret), secret_hash).map_err(|_| invalid_client("wrong client secret"))?;
    Ok(party)
}

/// `private_key_jwt`: a client assertion signed by one of the client's
/// registered keys, for this provider, short-lived and used once.
async fn assertion_client(state: &AppState, form: &TokenRequest) -> Result<RelyingParty, ApiError> {
    if form.client_assertion_type.as_deref() != Some(CLIENT_ASSERTION_TYPE) {
        return Err(invalid_client("authenticate with client_secret_basic or private_key_jwt"));
    }
    let assertion = form.client_assertion.as_deref().ok_or_else(|| invalid_client("client_assertion is missing"))?;
    let jws = Jws::parse(assertion, "client assertion").map_err(|e| invalid_client(&e.to_string()))?;
    let claims = jws.payload();
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let client_id = text("sub");
    if client_id.is_empty() || text("iss") != client_id || form.client_id.as_deref().is_some_and(|c| c != client_id) {
        return Err(invalid_client("the client assertion's iss and sub must both be the client_id"));
    }
    let (party, client) = openid_client(state, client_id).await?;
    let ClientAuthentication::PrivateKeyJwt { jwks } = &client.authentication else {
        return Err(invalid_client("this client authenticates with client_secret_basic"));
    };
    let keys: Value = serde_json::from_str(jwks).map_err(|_| ApiError::internal())?;
    let kid = jws.header().get("kid").and_then(Value::as_str);
    let (_, verifier) = PublicJwk::find_by_kid(keys["keys"].as_array().map_or(&[], Vec::as_slice), kid)
        .ok_or_else(|| invalid_client("no registered key of this client has the assertion's kid"))?;
    jws.verify(&verifier).map_err(|_| invalid_client("the client assertion's signature does not verify"))?;
    if !for_this_provider(claims.get("aud"), &state.authority.issuer.url) {
        return Err(invalid_client(
            "the client assertion's aud must be this provider's issuer identifier or token endpoint, alone",
        ));
    }
    let now = now();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp < now || exp > now + MAX_ASSERTION_SECS {
        return Err(invalid_client("the client assertion has expired or lives longer than 10 minutes"));
    }
    let jti = text("jti");
    if jti.is_empty() || !state.store.consume_nonce(&format!("client-assertion:{client_id}:{jti}"), exp).await? {
        return Err(invalid_client("the client assertion has no jti, or was used before"));
    }
    Ok(party)
}

/// Whether a client assertion's `aud` names this provider, and only it.
///
/// The audience is one value — a string, or an array of one — that is the
/// issuer identifier or the token endpoint URL, compared as simple strings.
/// The issuer identifier is what the update of RFC 7523
/// (draft-ietf-oauth-rfc7523bis) says a client should use and a server must
/// accept; the token endpoint URL is what OpenID Connect Core §9 says clients
/// SHOULD use, and what stock libraries send. An assertion naming several
/// audiences was made for others too — the confusion that update closes, where
/// one server replays an assertion made for it at another — so it is refused,
/// as is any other endpoint of this provider.
fn for_this_provider(aud: Option<&Value>, issuer: &str) -> bool {
    let sole = match aud {
        Some(Value::String(one)) => Some(one.as_str()),
        Some(Value::Array(many)) if many.len() == 1 => many[0].as_str(),
        _ => None,
    };
    sole.is_some_and(|aud| aud == issuer || aud == format!("{issuer}/token"))
}

/// The credentials of an `Authorization: Basic` header, still encoded.
fn basic_header(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Basic ").map(str::trim)
}

/// The client id and secret of Basic credentials, each form-urlencoded
/// before it was joined (RFC 6749 §2.3.1).
fn basic_credentials(encoded: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let form: HashMap<String, String> = serde_urlencoded::from_str(&format!("id={id}&secret={secret}")).ok()?;
    Some((form.get("id")?.clone(), form.get("secret")?.clone()))
}

async fn openid_client(state: &AppState, client_id: &str) -> Result<(RelyingParty, OpenIdClient), ApiError> {
    let party = state.relying_parties.get(&state.store, client_id).await?;
    party.and_then(|p| p.openid.clone().map(|client| (p, client))).ok_or_else(|| invalid_client("unknown client"))
}

/// What `/userinfo` answers: the subject and the granted claims.
#[derive(Serialize, ToSchema)]
pub(crate) struct UserInfo {
    sub: String,
    #[serde(flatten)]
    claims: Map<String, Value>,
}

/// `GET` or `POST /userinfo` with the access token (Bearer): OpenID Connect
/// Core §5.3.1 lets the client use either.
#[utoipa::path(method(get, post), path = "/userinfo",
    summary = "OpenID Connect UserInfo: the pairwise sub and the claims the sign-in granted.",
    security(("access_token" = [])),
    responses(
        (status = 200, description = "the subject and its claims", body = UserInfo),
        (status = 401, description = "invalid_token: unknown, expired or revoked", body = OAuthError),
    ))]
pub(crate) async fn userinfo(
    State(state): State<Arc<AppState>>,
    AccessToken(access_token_hash): AccessToken,
) -> Result<Json<UserInfo>, ApiError> {
    let code = state.store.code_of_access_token(&access_token_hash, now()).await?.ok_or_else(|| {
        ApiError::oauth(StatusCode::UNAUTHORIZED, "invalid_token", "the access token is unknown, expired or revoked")
    })?;
    let opened = code.grant.open(state.authority.keys.as_ref(), &code.code_hash)?;
    let grant: SignInGrant = serde_json::from_slice(&opened).map_err(|_| ApiError::internal())?;
    Ok(Json(UserInfo { sub: grant.sub, claims: grant.claims }))
}
