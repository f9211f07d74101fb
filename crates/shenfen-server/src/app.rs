//! The router: operations endpoints, the authority's public keys, the
//! OpenID4VCI nonce endpoint — with body limits, timeouts, tracing without
//! PII, metrics, and RFC 9457 problems for every error.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use shenfen_face::FaceEngine;
use shenfen_store::{KeyProvider, SqlStore, StoreError};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::authority::{Authority, InvalidPolicy, Issuer, Policy};
use crate::citizen;
use crate::counter::{self, Counter};
use crate::enrollment::{self, FRAMES_BODY_LIMIT};
use crate::error::{ApiError, ProblemType, problem_for_plain_errors};
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
        let metrics = Metrics::default();
        let pool = WorkPool::new(authority.policy.cpu_workers, authority.policy.cpu_queue, metrics.pool_busy.clone());
        Ok(Arc::new(AppState {
            store,
            authority: Arc::new(authority),
            nonces,
            session_ids,
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

/// The application router.
pub fn router(state: Arc<AppState>) -> Router {
    let small_bodies = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/jwks.json", get(jwks))
        .route("/nonce", post(nonce))
        .route("/.well-known/openid-credential-issuer", get(issuance::issuer_metadata))
        .route("/.well-known/oauth-authorization-server", get(issuance::authorization_server_metadata))
        .route("/token", post(issuance::token))
        .route("/.well-known/openid-configuration", get(openid::discovery))
        .route("/authorize", get(openid::authorize))
        .route("/authorize/poll", post(openid::poll))
        .route("/userinfo", get(openid::userinfo))
        .route("/credential", post(issuance::credential))
        .route("/status/{list}", get(status_list::status_list))
        .route("/enrollment/sessions", post(enrollment::start).layer(DefaultBodyLimit::max(16 * 1024)))
        .route("/citizen/audit", post(citizen::own_audit))
        .route("/citizen/revoke", post(citizen::revoke_all))
        .route("/citizen/pin", post(citizen::check_pin))
        .route("/operator/login", post(operator::login).layer(DefaultBodyLimit::max(OPERATOR_BODY_LIMIT)))
        .route("/operator/logout", post(operator::logout))
        .route("/operator/lookup", post(operator::lookup).layer(DefaultBodyLimit::max(OPERATOR_BODY_LIMIT)))
        .route("/operator/attestations", post(operator::attest).layer(DefaultBodyLimit::max(OPERATOR_BODY_LIMIT)))
        .route("/operator/revocations", post(operator::revoke).layer(DefaultBodyLimit::max(OPERATOR_BODY_LIMIT)))
        .route("/operator/audit", get(operator::audit))
        .route("/verifier/requests", post(verifier::create).layer(DefaultBodyLimit::max(16 * 1024)))
        .route("/verifier/requests/{id}", get(verifier::outcome))
        .route("/verifier/requests/{id}/object", get(verifier::request_object))
        .route("/verifier/requests/{id}/response", post(verifier::response))
        .route("/counter/cache", get(counter::cache_freshness))
        .route("/operator/statistics", get(operator::statistics))
        .merge(web::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    let frames = Router::new()
        .route("/enrollment/sessions/{id}/frames", post(enrollment::submit))
        .route("/citizen/assertion", post(citizen::assertion))
        .route("/counter/scan", post(counter::scan))
        .route("/counter/verify", post(counter::verify))
        .layer(DefaultBodyLimit::max(FRAMES_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(FRAMES_BODY_LIMIT));
    small_bodies
        .merge(frames)
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

/// Seconds since the epoch: the server's one clock.
pub(crate) fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    match state.store.entry_count().await {
        Ok(_) => Ok(Json(json!({ "status": "ready" }))),
        Err(e) => {
            tracing::warn!(code = e.code(), "readiness check failed");
            Err(ApiError::new(ProblemType::Unavailable).detail("the database is not reachable"))
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    let issuer = &state.authority.issuer;
    let keys: Vec<Value> = issuer.published_keys().map(|key| key.to_value()).collect();
    let mut response = Json(json!({ "keys": keys })).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// OpenID4VCI 1.0 §7.2: a fresh `c_nonce`, never cached.
async fn nonce(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    let (c_nonce, _) = state.nonces.issue(now()).ok_or_else(ApiError::internal)?;
    Ok(([(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], Json(json!({ "c_nonce": c_nonce }))))
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
