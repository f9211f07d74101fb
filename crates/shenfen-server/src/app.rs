//! The router: operations endpoints, the authority's public keys, the
//! OpenID4VCI nonce endpoint — with body limits, timeouts, tracing without
//! PII, metrics, and RFC 9457 problems for every error.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use shenfen_face::FaceEngine;
use shenfen_store::{KeyProvider, SqlStore, StoreError};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::ToSchema;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::authority::{Authority, InvalidPolicy, Issuer, Policy};
use crate::citizen;
use crate::counter::{self, Counter};
use crate::enrollment::{self, FRAMES_BODY_LIMIT};
use crate::error::{ApiError, PROBLEM, Problem, ProblemType, problem_for_plain_errors};
use crate::issuance;
use crate::metrics::{Metrics, RequestLabels};
use crate::nonce::NonceIssuer;
use crate::openapi::openapi_document;
use crate::openid;
use crate::operator;
use crate::relying_parties::RelyingParties;
use crate::status_list::{self, StatusListCache};
use crate::verifier;
use crate::web::{self, WebAssets};
use crate::work_pool::WorkPool;

/// Largest request body accepted (selfie frames will get their own, larger limit).
pub const BODY_LIMIT: usize = 64 * 1024;
/// Largest operator request: a user name and password, or an ID number and a word.
const OPERATOR_BODY_LIMIT: usize = 4096;
/// Longest a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler shares. Everything here but the store is per
/// instance and holds no state other instances need: caches, keys derived
/// from the shared key file, the pool, metrics.
pub struct AppState {
    /// Shared persistent state.
    pub store: Arc<SqlStore>,
    /// Face engine, keys, issuer and policies.
    pub authority: Arc<Authority>,
    /// `c_nonce` issuer.
    pub nonces: NonceIssuer,
    /// Enrollment session ids, checkable without the store.
    pub session_ids: NonceIssuer,
    /// Ties a sign-in page's token to the browser that started the sign-in
    /// (its cookie holds this key's tag of the token).
    pub sign_in_binding: hmac::Key,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// The relying-party registry, cached briefly.
    pub relying_parties: RelyingParties,
    /// The counter page's verifier cache.
    pub counter: Counter,
    /// The signed status list, re-signed when it changes.
    pub status_lists: StatusListCache,
    /// The bounded pool for CPU-heavy work.
    pub pool: WorkPool,
    /// The web pages and the browser libraries they load.
    pub web: WebAssets,
}

impl AppState {
    /// One instance, wired once for the server, the tests and the
    /// benchmarks: the authority over `face`, `keys`, `issuer` and `policy`;
    /// the secrets of `c_nonce`s and session ids derived from the keys (so
    /// every instance sharing the key file accepts what another issued);
    /// empty caches; a pool sized to the policy.
    pub fn build(
        store: Arc<SqlStore>,
        keys: Arc<dyn KeyProvider>,
        face: Arc<FaceEngine>,
        issuer: Issuer,
        policy: Policy,
        web: WebAssets,
    ) -> Result<Arc<AppState>, BuildError> {
        policy.check()?;
        warn_of_checks_switched_off(&policy);
        let authority = Authority::new(face, keys, issuer, policy)?;
        let keys: &dyn KeyProvider = authority.keys.as_ref();
        let nonces = NonceIssuer::new(&*keys.purpose_secret(b"shenfen/c-nonce/v1")?);
        let session_ids = NonceIssuer::new(&*keys.purpose_secret(b"shenfen/enrollment-session/v1")?);
        let sign_in_binding = hmac::Key::new(hmac::HMAC_SHA256, &*keys.purpose_secret(b"shenfen/sign-in-binding/v1")?);
        let metrics = Metrics::default();
        let pool = WorkPool::new(authority.policy.cpu_workers, authority.policy.cpu_queue, metrics.pool_busy.clone());
        Ok(Arc::new(AppState {
            store,
            authority: Arc::new(authority),
            nonces,
            session_ids,
            sign_in_binding,
            metrics,
            relying_parties: RelyingParties::default(),
            counter: Counter::default(),
            status_lists: StatusListCache::default(),
            pool,
            web,
        }))
    }
}

/// Why an instance could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A policy value out of its range.
    #[error("[policy] {0}")]
    Policy(#[from] InvalidPolicy),
    /// The keys could not give the instance its secrets.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BuildError {
    /// The stable code (docs/ERRORS.md).
    pub fn code(&self) -> &'static str {
        match self {
            BuildError::Policy(_) => "server.policy.invalid",
            BuildError::Store(e) => e.code(),
        }
    }
}

/// A liveness check switched off is allowed (a deployment may rely on
/// another) but never silent.
fn warn_of_checks_switched_off(policy: &Policy) {
    let liveness = &policy.liveness;
    let switches = [
        ("passive", liveness.require_passive),
        ("challenge", liveness.require_active),
        ("flash", liveness.require_flash),
    ];
    for (check, _) in switches.iter().filter(|(_, on)| !on) {
        tracing::warn!(check, "a liveness check is switched off by the policy");
    }
}

/// The application router: the API of [`api_routes`] and the web pages.
pub fn router(state: Arc<AppState>) -> Router {
    let (api, _) = api_routes(OpenApi::default()).split_for_parts();
    api.merge(web::pages().layer(DefaultBodyLimit::max(BODY_LIMIT)).layer(RequestBodyLimitLayer::new(BODY_LIMIT)))
        .fallback(|| async { ApiError::new(ProblemType::NotFound) })
        // Innermost first: limits produce plain errors, which the problem layer
        // rewrites, and metrics count the final status.
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(middleware::map_response(problem_for_plain_errors))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            // The route template only: paths and queries could carry identifiers.
            let route = request.extensions().get::<MatchedPath>().map_or("(unmatched)", MatchedPath::as_str);
            tracing::info_span!("request", method = %request.method(), route)
        }))
        .with_state(state)
}

/// Every JSON endpoint, each declared once for both the router and the
/// OpenAPI document (`base` holds the document's shared parts), in the
/// group whose body limit fits.
pub(crate) fn api_routes(base: OpenApi) -> OpenApiRouter<Arc<AppState>> {
    let operator_body = || DefaultBodyLimit::max(OPERATOR_BODY_LIMIT);
    let small_bodies = OpenApiRouter::with_openapi(base)
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
        .routes(routes!(jwks))
        .routes(routes!(nonce))
        .routes(routes!(issuance::issuer_metadata))
        .routes(routes!(issuance::authorization_server_metadata))
        .routes(routes!(issuance::token))
        .routes(routes!(openid::discovery))
        .routes(routes!(openid::authorize))
        .routes(routes!(openid::poll))
        .routes(routes!(openid::userinfo))
        .routes(routes!(issuance::credential))
        .routes(routes!(status_list::status_list))
        .routes(routes!(enrollment::start).layer(DefaultBodyLimit::max(16 * 1024)))
        .routes(routes!(citizen::own_audit))
        .routes(routes!(citizen::revoke_all))
        .routes(routes!(citizen::check_pin))
        .routes(routes!(operator::login).layer(operator_body()))
        .routes(routes!(operator::logout))
        .routes(routes!(operator::lookup).layer(operator_body()))
        .routes(routes!(operator::attest).layer(operator_body()))
        .routes(routes!(operator::revoke).layer(operator_body()))
        .routes(routes!(operator::audit))
        .routes(
            routes!(operator::relying_parties, operator::register_relying_party)
                .layer(DefaultBodyLimit::max(16 * 1024)),
        )
        .routes(routes!(verifier::create).layer(DefaultBodyLimit::max(16 * 1024)))
        .routes(routes!(verifier::outcome))
        .routes(routes!(verifier::request_object))
        .routes(routes!(verifier::response))
        .routes(routes!(counter::cache_freshness))
        .routes(routes!(operator::statistics))
        .routes(routes!(web::offline_format).layer(web::compressed()))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    let frames = OpenApiRouter::new()
        .routes(routes!(enrollment::submit))
        .routes(routes!(citizen::assertion))
        .routes(routes!(counter::scan))
        .routes(routes!(counter::verify))
        .layer(DefaultBodyLimit::max(FRAMES_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(FRAMES_BODY_LIMIT));
    small_bodies.merge(frames)
}

/// The header of an answer that carries a secret (a token, a nonce, a
/// code): never cached (RFC 6749 §5.1).
pub(crate) fn no_store() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

/// Seconds since the epoch: the server's one clock.
pub(crate) fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A liveness or readiness answer.
#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok` (alive) or `ready` (the database answers).
    status: &'static str,
}

#[utoipa::path(get, path = "/healthz", summary = "Liveness: the process is up.",
    responses((status = 200, description = "up", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[utoipa::path(get, path = "/readyz", summary = "Readiness: the database answers.", responses(
    (status = 200, description = "ready", body = Health),
    (status = 503, description = "the database is not reachable", body = Problem, content_type = PROBLEM),
))]
async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<Health>, ApiError> {
    match state.store.entry_count().await {
        Ok(_) => Ok(Json(Health { status: "ready" })),
        Err(e) => {
            tracing::warn!(code = e.code(), "readiness check failed");
            Err(ApiError::new(ProblemType::Unavailable).detail("the database is not reachable"))
        }
    }
}

#[utoipa::path(get, path = "/metrics", summary = "Prometheus / OpenMetrics exposition.", responses(
    (status = 200, description = "metrics", body = String, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
))]
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

#[utoipa::path(get, path = "/openapi.json", summary = "This document (OpenAPI 3.1).",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// A JWK Set.
#[derive(Serialize, ToSchema)]
struct Jwks {
    /// Public JWKs (EC P-256, ES256, with `kid`).
    #[schema(value_type = Vec<Object>)]
    keys: Vec<Value>,
}

#[utoipa::path(get, path = "/jwks.json",
    summary = "The authority's credential-signing public keys (ES256, with kid): the current one first, then keys rotated out whose credentials may still be valid.",
    responses((status = 200, description = "JWK Set", body = Jwks)))]
async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    let issuer = &state.authority.issuer;
    let keys: Vec<Value> = issuer.published_keys().map(|key| key.to_value()).collect();
    let mut response = Json(Jwks { keys }).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// A fresh `c_nonce`.
#[derive(Serialize, ToSchema)]
struct Nonce {
    /// For key proofs and key binding JWTs: valid 300 s, single use.
    c_nonce: String,
}

/// OpenID4VCI 1.0 §7.2: a fresh `c_nonce`, never cached.
#[utoipa::path(post, path = "/nonce",
    summary = "OpenID4VCI 1.0 nonce endpoint: a fresh c_nonce for key proofs, valid 300 s, single use.",
    responses((status = 200, description = "a fresh c_nonce", body = Nonce)))]
async fn nonce(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    let (c_nonce, _) = state.nonces.issue(now()).ok_or_else(ApiError::internal)?;
    Ok((no_store(), Json(Nonce { c_nonce })))
}

async fn record_metrics(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "(unmatched)".to_owned(), |p| p.as_str().to_owned());
    let start = Instant::now();
    let response = next.run(request).await;
    let labels = RequestLabels { route, status: format!("{}xx", response.status().as_u16() / 100) };
    state.metrics.requests.get_or_create(&labels).inc();
    state.metrics.latency.get_or_create(&labels).observe(start.elapsed().as_secs_f64());
    response
}
