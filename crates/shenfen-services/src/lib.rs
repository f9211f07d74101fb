//! The seed's relying parties, as an independent deployment would run them:
//! their own process (`shenfen services`), their own database (SQLite in the
//! data directory by default, PostgreSQL by URL), their own pages, each
//! service on its own origin — so each is a separate OpenID Connect client
//! of the authority with its own pairwise subjects. They talk to the
//! authority only over HTTP (discovery, `/authorize`, `/token`, JWKS) and
//! never link its server or store.
//!
//! One module per service, each with its routes, pages, tables and tests;
//! the first is the government portal with business registration
//! ([`portal`]). What they share: the authority client ([`authority`]),
//! sign-ins and sessions ([`session`]), sealing of personal data
//! ([`sealed`]), the pages' frame and refusals.

pub mod authority;
mod db;
mod error;
mod key_files;
pub mod portal;
pub mod sealed;
mod secrets;
pub mod session;
mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use tower_http::timeout::TimeoutLayer;

pub use db::Db;
pub use error::{ProblemType, Refusal, ServicesError};
pub use key_files::{client_jwks_path, client_key, client_key_path};

/// The service names a data directory holds keys for.
pub const PORTAL: &str = "portal";

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// What `shenfen services` is told.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// The authority's issuer URL.
    pub authority: String,
    /// Where the government portal listens.
    pub portal_listen: SocketAddr,
    /// The portal's public origin (its client id); default `http://` + the listen address.
    pub portal_url: Option<String>,
    /// Keys and the embedded database.
    pub data_dir: PathBuf,
    /// PostgreSQL (`postgres://…`) instead of the embedded SQLite file.
    pub database_url: Option<String>,
}

/// Where a service listens, once bound.
#[derive(Debug, Clone)]
pub struct Listening {
    /// Its short name (`portal`).
    pub key: &'static str,
    /// The service's name in Chinese and English.
    pub name: (&'static str, &'static str),
    /// Its origin.
    pub url: String,
}

/// The database of `data_dir`, unless a URL is given.
pub fn database_url(data_dir: &Path, given: Option<&str>) -> String {
    given.map_or_else(|| format!("sqlite:{}", data_dir.join("services.db").display()), str::to_owned)
}

/// Makes the data directory and every service's client key (0600) with its
/// public JWK Set beside it; answers the portal's JWKS file, for the
/// authority's registration (`shenfen rp add --client-jwks`).
pub fn prepare(data_dir: &Path) -> Result<PathBuf, ServicesError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| ServicesError::KeyFile { path: data_dir.display().to_string(), reason: e.to_string() })?;
    client_key(data_dir, PORTAL)?;
    Ok(client_jwks_path(data_dir, PORTAL))
}

/// Routes every service answers on its origin: health, the stylesheet, the language switch.
pub(crate) fn common_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/assets/services.css", get(web::stylesheet))
        .route("/lang", get(web::switch_language))
}

/// Runs the services until `shutdown` resolves; `ready` hears where each listens.
pub async fn serve(
    config: &ServicesConfig,
    ready: impl FnOnce(&[Listening]),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServicesError> {
    prepare(&config.data_dir)?;
    let db = Db::open(&database_url(&config.data_dir, config.database_url.as_deref())).await?;
    let sealer = Arc::new(sealed::Sealer::from_file(&config.data_dir.join("pii.key"))?);
    let authority = Arc::new(authority::Authority::new(&config.authority));
    let listen_error =
        |e: std::io::Error| ServicesError::Listen { address: config.portal_listen.to_string(), reason: e.to_string() };
    let listener = tokio::net::TcpListener::bind(config.portal_listen).await.map_err(listen_error)?;
    let address = listener.local_addr().map_err(listen_error)?;
    let url = config.portal_url.clone().unwrap_or_else(|| format!("http://{address}"));
    let key = client_key(&config.data_dir, PORTAL)?;
    let portal = portal::Portal::new(db.clone(), authority, &url, key, sealer);
    // A request slower than this (a slow client, a slow authority) is cut off, its connection freed.
    let timeout = TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30));
    let app = portal::router(portal).layer(DefaultBodyLimit::max(web::FORM_LIMIT)).layer(timeout);
    tokio::spawn(purge_periodically(db.clone()));
    ready(&[Listening { key: PORTAL, name: portal::NAME, url }]);
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    db.close().await;
    served.map_err(listen_error)
}

/// Forgets expired sign-ins, sessions and attempt windows every ten minutes.
async fn purge_periodically(db: Db) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        match db.purge_expired(now()).await {
            Ok(removed) => tracing::debug!(removed, "purged expired state"),
            Err(e) => tracing::warn!(error = %e, "could not purge expired state"),
        }
    }
}

/// Adds a portal clerk with a generated password (argon2id-hashed); answers the password, to print once.
pub async fn add_portal_clerk(
    data_dir: &Path,
    database_url: Option<&str>,
    username: &str,
) -> Result<String, ServicesError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| ServicesError::KeyFile { path: data_dir.display().to_string(), reason: e.to_string() })?;
    let db = Db::open(&self::database_url(data_dir, database_url)).await?;
    let password = secrets::generate_password()?;
    let added = portal::add_clerk(&db, username, &password, now()).await;
    db.close().await;
    added.map(|()| password)
}
