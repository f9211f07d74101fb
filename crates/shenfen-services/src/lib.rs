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
//! ([`portal`]), then hotel check-in ([`hotel`]) with the police's sealed
//! guest register ([`police`]). What they share: the authority client ([`authority`]),
//! sign-ins and sessions ([`session`]), sealing of personal data
//! ([`sealed`]), the pages' frame and refusals.

pub mod authority;
mod camera;
mod db;
mod error;
pub mod hotel;
mod key_files;
mod live_face;
pub mod police;
pub mod portal;
pub mod rail;
pub mod sealed;
mod secrets;
pub mod session;
mod staff;
#[cfg(test)]
mod test_support;
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
/// The railway's key name; its Verifier Attestation is `rail.attestation.jwt` beside it.
pub const RAIL: &str = "rail";
/// The hotel's short name.
pub const HOTEL: &str = "hotel";
/// The police's short name.
pub const POLICE: &str = "police";

/// The claim carrying the guest's ID number sealed to the police (as
/// `shenfen_core::SEALED_ID_NUMBER` names it; the services do not depend on the core).
pub(crate) const SEALED_ID_NUMBER: &str = "sealed_id_number";

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The day in China (UTC+8) at a Unix time: a guest register's night and a
/// timetable's date are China's, not UTC's (which turns at 08:00 there).
pub(crate) fn china_date(unix: i64) -> chrono::NaiveDate {
    const CHINA_STANDARD_TIME: i64 = 8 * 3600;
    chrono::DateTime::from_timestamp(unix + CHINA_STANDARD_TIME, 0).map(|d| d.date_naive()).unwrap_or_default()
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
    /// Where the railway (铁路客票) listens, if it runs: it needs its
    /// attestation in the data directory ([`rail_attestation_path`]).
    pub rail_listen: Option<SocketAddr>,
    /// The railway's public origin (its client id); default `http://` + its listen address.
    pub rail_url: Option<String>,
    /// Where the hotel's desk listens (its origin is its client id).
    pub hotel_listen: SocketAddr,
    /// The hotel's public origin; default `http://` + the listen address.
    pub hotel_url: Option<String>,
    /// Where the police's register listens.
    pub police_listen: SocketAddr,
    /// The police's public origin; default `http://` + the listen address.
    pub police_url: Option<String>,
    /// How often the hotel refreshes the authority's keys and status list
    /// (and retries forwarding the register to the police), seconds.
    pub cache_refresh_secs: u64,
    /// The face models of the hotel desk's live-face check (none: upgraded cards are refused at the desk).
    pub face_models: Option<PathBuf>,
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
    client_key(data_dir, RAIL)?;
    client_key(data_dir, HOTEL)?;
    police::police_key(data_dir)?;
    police::intake_token(data_dir)?;
    Ok(client_jwks_path(data_dir, PORTAL))
}

/// Where the railway's Verifier Attestation (`shenfen rp attest`) is kept in `data_dir`.
pub fn rail_attestation_path(data_dir: &Path) -> PathBuf {
    data_dir.join("rail.attestation.jwt")
}

/// A bound listener and the origin it serves (`given`, or `http://` + the address).
async fn bind(address: SocketAddr, given: Option<&str>) -> Result<(tokio::net::TcpListener, String), ServicesError> {
    let listen_error =
        |e: std::io::Error| ServicesError::Listen { address: address.to_string(), reason: e.to_string() };
    let listener = tokio::net::TcpListener::bind(address).await.map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    let url = given.map_or_else(|| format!("http://{bound}"), |url| url.trim_end_matches('/').to_owned());
    Ok((listener, url))
}

/// The desks' and gates' face engine from `dir`, loaded once; none (logged) when the models are missing or do not load.
async fn face_engine(dir: Option<&Path>) -> Option<Arc<shenfen_face::FaceEngine>> {
    let config = shenfen_face::ModelConfig::standard(dir?);
    if !config.runtime_library.exists() {
        tracing::warn!("no face models: the hotel's desks and the railway's gates refuse upgraded cards");
        return None;
    }
    match tokio::task::spawn_blocking(move || shenfen_face::FaceEngine::load(config)).await {
        Ok(Ok(engine)) => Some(Arc::new(engine)),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the face models did not load");
            None
        }
        Err(_) => None,
    }
}

/// Routes every service answers on its origin: health, the stylesheet, the language switch.
pub(crate) fn common_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/assets/services.css", get(web::stylesheet))
        .route("/assets/device.js", get(web::device_script))
        .route("/lang", get(web::switch_language))
}

/// The authority's keys and whole status lists, fetched now on a blocking
/// thread; `None` (logged for `who`) when they cannot be had — the caller
/// keeps what it holds.
pub(crate) async fn fetch_trust(authority: &str, who: &'static str) -> Option<shenfen_credential::VerifierCache> {
    let source = shenfen_verifier::TrustSource::Servers(vec![authority.to_owned()]);
    match tokio::task::spawn_blocking(move || shenfen_verifier::fetch_cache(&source, now())).await {
        Ok(Ok(cache)) => Some(cache),
        Ok(Err(e)) => {
            tracing::warn!(who, code = e.code(), error = %e, "the authority's keys and status list could not be fetched");
            None
        }
        Err(e) => {
            tracing::warn!(who, error = %e, "fetching the authority's keys and status list stopped");
            None
        }
    }
}

/// Runs the services until `shutdown` resolves; `ready` hears where each listens.
pub async fn serve(
    config: &ServicesConfig,
    ready: impl FnOnce(&[Listening]),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServicesError> {
    db::backend_of(&database_url(&config.data_dir, config.database_url.as_deref()))?;
    prepare(&config.data_dir)?;
    let db = Db::open(&database_url(&config.data_dir, config.database_url.as_deref())).await?;
    let sealer = Arc::new(sealed::Sealer::from_file(&config.data_dir.join("pii.key"))?);
    let authority = Arc::new(authority::Authority::new(&config.authority));
    let (portal_listener, url) = bind(config.portal_listen, config.portal_url.as_deref()).await?;
    let (hotel_listener, hotel_url) = bind(config.hotel_listen, config.hotel_url.as_deref()).await?;
    let (police_listener, police_url) = bind(config.police_listen, config.police_url.as_deref()).await?;
    let authority_origin = portal::origin_of(&config.authority);
    let key = client_key(&config.data_dir, PORTAL)?;
    let portal = portal::Portal::new(db.clone(), authority, &url, key, Arc::clone(&sealer));
    // The hotel forwards its register with the token the police take entries by (read once).
    let intake_token = police::intake_token(&config.data_dir)?;
    let police_link = hotel::PoliceLink { intake: format!("{police_url}/intake"), token: intake_token.clone() };
    // One face engine for the hotel's desks and the railway's gates.
    let face = face_engine(config.face_models.as_deref()).await;
    let hotel = Arc::new(hotel::Hotel::new(
        db.clone(),
        Arc::clone(&sealer),
        &hotel_url,
        &config.authority,
        hotel::attestation_in(&config.data_dir),
        face.clone(),
        Some(police_link),
    ));
    let police = Arc::new(police::Police::new(
        db.clone(),
        police::police_key(&config.data_dir)?,
        &[(&intake_token, &hotel_url)],
        &police_url,
        Vec::new(),
    ));
    let mut listening = vec![
        Listening { key: PORTAL, name: portal::NAME, url },
        Listening { key: HOTEL, name: hotel::NAME, url: hotel_url },
        Listening { key: POLICE, name: police::NAME, url: police_url },
    ];
    // The portal's and the railway's forms are small; the hotel desk's camera frames set their own limits.
    let forms = || DefaultBodyLimit::max(web::FORM_LIMIT);
    let mut apps = vec![
        (portal_listener, portal::router(portal).layer(forms())),
        (hotel_listener, hotel::router(Arc::clone(&hotel), &authority_origin)),
        (police_listener, police::router(Arc::clone(&police), &authority_origin)),
    ];
    if let Some(rail_listen) = config.rail_listen {
        let (listener, url, router) = rail_app(config, rail_listen, &db, (sealer, face), &authority_origin).await?;
        listening.push(Listening { key: RAIL, name: rail::NAME, url });
        apps.push((listener, router.layer(forms())));
    }
    tokio::spawn(purge_periodically(db.clone()));
    tokio::spawn(hotel::keep_fresh(hotel, config.cache_refresh_secs.max(1)));
    tokio::spawn(police::keep_fresh(police, config.authority.clone(), config.cache_refresh_secs.max(1)));
    ready(&listening);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let mut servers = tokio::task::JoinSet::new();
    for (listener, router) in apps {
        // A request slower than this (a slow client, a slow authority) is cut off, its connection freed.
        let timeout = TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30));
        let app = router.layer(timeout);
        let mut stopped = stopped.clone();
        servers.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await
        });
    }
    let mut served = Ok(());
    while let Some(ended) = servers.join_next().await {
        if let Ok(Err(e)) = ended {
            served = Err(ServicesError::Listen { address: config.portal_listen.to_string(), reason: e.to_string() });
        }
    }
    db.close().await;
    served
}

/// The railway: its listener, its verifier (its key, the attestation the
/// authority issued it, the authority's keys and status list fetched whole
/// and kept fresh) and its timetable.
async fn rail_app(
    config: &ServicesConfig,
    listen: SocketAddr,
    db: &Db,
    (sealer, face): (Arc<sealed::Sealer>, Option<Arc<shenfen_face::FaceEngine>>),
    authority_origin: &str,
) -> Result<(tokio::net::TcpListener, String, Router), ServicesError> {
    let (listener, url) = bind(listen, config.rail_url.as_deref()).await?;
    let path = rail_attestation_path(&config.data_dir);
    let attestation = std::fs::read_to_string(&path).map_err(|e| ServicesError::KeyFile {
        path: path.display().to_string(),
        reason: format!("{e}: the railway needs the attestation the authority issued it (shenfen rp attest)"),
    })?;
    let source = Arc::new(shenfen_verifier::TrustSource::Servers(vec![config.authority.clone()]));
    let fetched = first_cache(&source).await?;
    let verifier_config = shenfen_verifier::VerifierConfig {
        public_url: format!("{url}{}", rail::VERIFIER_PATH),
        key: client_key(&config.data_dir, RAIL)?,
        attestation: attestation.clone(),
        api_key: secrets::random_token()?,
        max_cache_age_secs: rail::MAX_CACHE_AGE_SECS,
        capacity: 10_000,
    };
    let verifier = shenfen_verifier::Verifier::new(verifier_config, fetched.clone(), Arc::new(now))
        .map_err(|e| ServicesError::KeyFile { path: path.display().to_string(), reason: e.to_string() })?;
    let verifier = Arc::new(verifier);
    let cache = Arc::new(std::sync::RwLock::new(fetched));
    tokio::spawn(rail::keep_fresh(verifier.clone(), cache.clone(), config.authority.clone(), db.clone()));
    rail::seed(db, now()).await?;
    let railway = rail::Rail::new(db.clone(), sealer, (verifier, cache, face), (&url, &config.authority, &attestation));
    Ok((listener, url, rail::router(railway, authority_origin)))
}

/// The railway's first trust cache. The authority may be starting beside
/// the services (the demo starts both): it is asked again every half second
/// for up to two minutes, then the railway gives up (nothing could be verified).
async fn first_cache(
    source: &Arc<shenfen_verifier::TrustSource>,
) -> Result<shenfen_credential::VerifierCache, ServicesError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let source = source.clone();
        let fetched = tokio::task::spawn_blocking(move || shenfen_verifier::fetch_cache(&source, now()))
            .await
            .map_err(|e| ServicesError::Authority(e.to_string()))?;
        match fetched {
            Ok(cache) => return Ok(cache),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "the authority's keys and status list are not available yet");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(ServicesError::Authority(e.to_string())),
        }
    }
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

/// Opens the database of `data_dir` (or `database_url`) for a command,
/// making the directory and the services' keys (whose public sets the
/// authority's registration and attestation need).
async fn open_for_command(data_dir: &Path, database_url: Option<&str>) -> Result<Db, ServicesError> {
    db::backend_of(&self::database_url(data_dir, database_url))?;
    prepare(data_dir)?;
    Db::open(&self::database_url(data_dir, database_url)).await
}

/// Adds a portal clerk with a generated password (argon2id-hashed); answers the password, to print once.
pub async fn add_portal_clerk(
    data_dir: &Path,
    database_url: Option<&str>,
    username: &str,
) -> Result<String, ServicesError> {
    let db = open_for_command(data_dir, database_url).await?;
    let added = match secrets::generate_password() {
        Ok(password) => staff::PORTAL_CLERKS.add(&db, username, &password, now()).await.map(|()| password),
        Err(e) => Err(e),
    };
    db.close().await;
    added
}

/// Registers a gate device of the railway; answers its token, to print once.
pub async fn add_rail_gate(data_dir: &Path, database_url: Option<&str>, name: &str) -> Result<String, ServicesError> {
    let db = open_for_command(data_dir, database_url).await?;
    let added = rail::add_gate(&db, name, now()).await;
    db.close().await;
    added
}

/// Adds a police officer with a generated password (argon2id-hashed); answers the password, to print once.
pub async fn add_police_officer(
    data_dir: &Path,
    database_url: Option<&str>,
    username: &str,
) -> Result<String, ServicesError> {
    let db = open_for_command(data_dir, database_url).await?;
    let password = secrets::generate_password()?;
    let added = police::add_officer(&db, username, &password).await;
    db.close().await;
    added.map(|()| password)
}

/// Registers a hotel front-desk device; answers its token, to print once.
pub async fn add_hotel_desk(data_dir: &Path, database_url: Option<&str>, name: &str) -> Result<String, ServicesError> {
    let db = open_for_command(data_dir, database_url).await?;
    let added = hotel::add_desk(&db, name).await;
    db.close().await;
    added
}
