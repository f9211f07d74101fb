//! The authority's Token Status List: every credential points at a random
//! slot of it. Anyone may fetch it, as often as they like, so a GET costs one
//! indexed read (has anything changed?) — the list is signed again only when
//! a status changed or the signed copy grows old.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use shenfen_credential::{StatusList, StatusListToken};
use tokio::sync::Mutex;

use crate::app::{AppState, now};
use crate::error::{ApiError, PROBLEM, Problem, ProblemType};

/// The one status list this authority publishes; 2^17 entries give herd privacy.
pub const STATUS_LIST_ID: &str = "1";
/// Entries of the list.
pub(crate) const STATUS_LIST_SIZE: u64 = 1 << 17;
/// How long verifiers may cache the list before fetching it again (`ttl`).
const STATUS_LIST_TTL: u64 = 300;
/// How long a signed copy is handed out unchanged: half the ttl, so a
/// verifier that fetches it always gets at least half a ttl of freshness.
const RESIGN_AFTER_SECS: i64 = (STATUS_LIST_TTL / 2) as i64;
/// A signed list's validity (`exp - iat`).
const VALID_SECS: i64 = 86_400;

/// The last signed copy of the list, and the store's status version it shows.
#[derive(Default)]
pub struct StatusListCache {
    signed: Mutex<Option<SignedList>>,
}

struct SignedList {
    version: u64,
    signed_at: i64,
    jwt: String,
}

/// `GET /status/{list}`: the signed Token Status List, cacheable for its ttl.
#[utoipa::path(get, path = "/status/{list}", summary = "The signed Token Status List (application/statuslist+jwt), cacheable for its ttl.",
    params(("list" = String, Path, description = "the list id (1)")),
    responses(
        (status = 200, description = "the signed list", body = String, content_type = "application/statuslist+jwt"),
        (status = 404, description = "no such list", body = Problem, content_type = PROBLEM),
    ))]
pub(crate) async fn status_list(
    State(state): State<Arc<AppState>>,
    Path(list): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    if list != STATUS_LIST_ID {
        return Err(ApiError::new(ProblemType::NotFound));
    }
    let jwt = current_status_list(&state).await?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/statuslist+jwt")),
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
    ];
    Ok((headers, jwt))
}

/// The list as a signed `statuslist+jwt`: the cached copy while no status
/// changed and it is younger than half the ttl, else freshly signed (one
/// signer at a time per instance).
pub(crate) async fn current_status_list(state: &AppState) -> Result<String, ApiError> {
    let version = state.store.status_version().await?;
    let now = now();
    let mut cached = state.status_lists.signed.lock().await;
    if let Some(signed) = cached.as_ref().filter(|s| s.version == version && now - s.signed_at < RESIGN_AFTER_SECS) {
        return Ok(signed.jwt.clone());
    }
    let jwt = sign_status_list(state, now).await?;
    *cached = Some(SignedList { version, signed_at: now, jwt: jwt.clone() });
    Ok(jwt)
}

async fn sign_status_list(state: &AppState, now: i64) -> Result<String, ApiError> {
    let entries = state.store.status_entries(STATUS_LIST_ID).await?;
    let mut statuses = StatusList::new(STATUS_LIST_SIZE, 2).map_err(|_| ApiError::internal())?;
    for (idx, status) in entries {
        if statuses.set(idx, status).is_err() {
            tracing::error!(idx, "stored status does not fit the list");
        }
    }
    let issuer = &state.authority.issuer;
    let token = StatusListToken {
        subject: issuer.status_list_uri(),
        issued_at: now,
        expires_at: Some(now + VALID_SECS),
        ttl: Some(STATUS_LIST_TTL),
        list: statuses,
    };
    token.sign(&issuer.signing_key, issuer.public.kid()).map_err(|_| ApiError::internal())
}
