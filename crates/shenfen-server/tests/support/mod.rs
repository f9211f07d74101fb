//! A real authority for the HTTP tests: a fresh SQLite store, real keys, the
//! real face engine over the models fetched by scripts/fetch-models.sh.

#![allow(dead_code)]

pub(crate) mod journey;

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request};
use axum::response::Response;
use serde_json::Value;
use shenfen_credential::PrivateJwk;
use shenfen_face::{FaceEngine, ModelConfig};
use shenfen_server::{AppState, Issuer, Policy, WebAssets, router};
use shenfen_store::{LocalKeys, SqlStore};
use tower::ServiceExt;

pub(crate) const ISSUER_URL: &str = "https://authority.shenfen.test";

pub(crate) fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

/// One engine for every test in a binary: the models load once.
pub(crate) static FACE: LazyLock<Arc<FaceEngine>> = LazyLock::new(|| {
    Arc::new(
        FaceEngine::load(ModelConfig::standard(&models_dir()))
            .unwrap_or_else(|e| panic!("{e}: run scripts/fetch-models.sh")),
    )
});

pub(crate) fn keys() -> LocalKeys {
    LocalKeys::parse(&format!("k1:{}", "61".repeat(32)), &"62".repeat(32)).unwrap()
}

/// A key rotated out of signing, still published.
pub(crate) fn retired_key() -> shenfen_credential::PublicJwk {
    PrivateJwk::generate().unwrap().with_kid("authority-2025").public().clone()
}

pub(crate) struct TestApp {
    pub router: axum::Router,
    pub state: Arc<AppState>,
    pub issuer: PrivateJwk,
    /// The database URL, for reading the rows as an attacker with a copy would.
    pub url: String,
}

/// Where a test authority keeps its state.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh schema on the PostgreSQL server (`SHENFEN_TEST_POSTGRES`,
    /// default postgres://postgres@127.0.0.1:5432/test; `.ci/run` starts it).
    Postgres,
}

pub(crate) async fn app(policy: Policy) -> TestApp {
    app_on(policy, Backend::Sqlite).await
}

/// A fresh, empty store of `backend`, and its URL (for a second instance's own connections).
pub(crate) async fn fresh_store(backend: Backend) -> (SqlStore, String) {
    let unique = format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("shenfen-http-{unique}"));
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite:{}", dir.join("s.db").display());
            (SqlStore::open(&url).await.unwrap(), url)
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let base = std::env::var("SHENFEN_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            // Named like the store suite's schemas, which sweeps those of finished runs.
            let schema = format!("shenfen_test_{unique}");
            sqlx::any::install_default_drivers();
            let mut admin =
                sqlx::AnyConnection::connect(&base).await.unwrap_or_else(|e| panic!("PostgreSQL at {base}: {e}"));
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.unwrap();
            let url = format!("{base}?options=-c%20search_path%3D{schema}");
            (SqlStore::open(&url).await.unwrap(), url)
        }
    }
}

pub(crate) async fn app_on(policy: Policy, backend: Backend) -> TestApp {
    let (store, url) = fresh_store(backend).await;
    let issuer = PrivateJwk::generate().unwrap().with_kid("authority-2026");
    app_with((Arc::new(store), url), issuer, vec![retired_key()], policy)
}

/// An instance on an existing store, signing with `issuer` and publishing
/// `retired` keys too: a second instance, or the same authority after a key rotation.
pub(crate) fn app_with(
    store: (Arc<SqlStore>, String),
    issuer: PrivateJwk,
    retired: Vec<shenfen_credential::PublicJwk>,
    policy: Policy,
) -> TestApp {
    app_at(ISSUER_URL, store, issuer, retired, policy)
}

/// As [`app_with`], for an authority whose public URL is `issuer_url` (a
/// test that serves it on a socket).
pub(crate) fn app_at(
    issuer_url: &str,
    (store, url): (Arc<SqlStore>, String),
    issuer: PrivateJwk,
    retired: Vec<shenfen_credential::PublicJwk>,
    policy: Policy,
) -> TestApp {
    let identity = Issuer::new(issuer_url, &issuer, retired).unwrap();
    built((store, url), issuer, identity, policy)
}

/// An instance at [`ISSUER_URL`] whose identity `configure` completes (a police key, say).
pub(crate) fn app_sealing(
    store: (Arc<SqlStore>, String),
    issuer: PrivateJwk,
    configure: impl FnOnce(Issuer) -> Issuer,
) -> TestApp {
    let identity = configure(Issuer::new(ISSUER_URL, &issuer, vec![retired_key()]).unwrap());
    built(store, issuer, identity, journey::policy())
}

fn built((store, url): (Arc<SqlStore>, String), issuer: PrivateJwk, identity: Issuer, policy: Policy) -> TestApp {
    let state = AppState::build(store, Arc::new(keys()), FACE.clone(), identity, policy, WebAssets::default()).unwrap();
    TestApp { router: router(state.clone()), state, issuer, url }
}

pub(crate) async fn send(
    app: &axum::Router,
    method: Method,
    path: &str,
    content_type: &str,
    body: impl Into<Body>,
) -> Response {
    let request =
        Request::builder().method(method).uri(path).header("content-type", content_type).body(body.into()).unwrap();
    app.clone().oneshot(request).await.unwrap()
}

pub(crate) async fn body_bytes(response: Response) -> Vec<u8> {
    to_bytes(response.into_body(), 1 << 24).await.unwrap().to_vec()
}

pub(crate) async fn json(response: Response) -> Value {
    let bytes = body_bytes(response).await;
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)))
}

/// Sends `bodies` to `path` all at once and returns the statuses.
pub(crate) async fn all_at_once(
    test: &TestApp,
    path: &'static str,
    content_type: &'static str,
    bodies: Vec<String>,
) -> Vec<u16> {
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let router = test.router.clone();
            tokio::spawn(async move { send(&router, Method::POST, path, content_type, body).await.status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}
