//! `shenfen serve`: the authority's HTTP server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use shenfen_server::{AppState, Issuer, WebAssets, router};

use crate::coded_error::coded;
use crate::data_dir::{StoreArgs, issuer_key, runtime};
use crate::face_cmd::Common;
use crate::files::{read_public_jwk, read_public_only_jwk};
use crate::serve_config::{Liveness, ServeConfig, unless_set};

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// TOML file with any of these settings and a [policy] table (docs/CLI.md);
    /// flags and environment variables override it.
    #[arg(long, env = "SHENFEN_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (default $SHENFEN_LISTEN, else the config file's, else 127.0.0.1:8080).
    #[arg(long, env = "SHENFEN_LISTEN")]
    listen: Option<SocketAddr>,
    /// The authority's private signing JWK (default shenfen-data/issuer.jwk).
    #[arg(long, env = "SHENFEN_ISSUER_KEY")]
    issuer_key: Option<PathBuf>,
    /// Public JWKs of signing keys rotated out, still published in the JWKS
    /// until the credentials they signed expire (repeatable).
    #[arg(long = "retired-issuer-jwk")]
    retired_issuer_jwk: Vec<PathBuf>,
    /// The police's public JWK for the hotels' guest register: every
    /// credential then carries the ID number sealed to it (docs/PRIVACY.md).
    #[arg(long, env = "SHENFEN_POLICE_KEY")]
    pub(crate) police_key: Option<PathBuf>,
    /// The public base URL (the credential issuer identifier); default http://LISTEN.
    #[arg(long, env = "SHENFEN_PUBLIC_URL")]
    public_url: Option<String>,
    /// Liveness checks for enrollment (default: the config file's `liveness`,
    /// else its `[policy.liveness]` switches, which default to all).
    #[arg(long, value_enum)]
    liveness: Option<Liveness>,
    /// Face models directory (default as for `shenfen face`).
    #[arg(long)]
    models: Option<PathBuf>,
    /// The `node_modules` directory holding the pages' browser libraries
    /// (default: the checkout's web/node_modules, filled by `npm ci --prefix web`).
    #[arg(long, env = "SHENFEN_WEB_LIBRARIES")]
    web_libraries: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

impl ServeArgs {
    /// The embedded server of `shenfen demo`: data in `store`, enrollment
    /// liveness as the demo was asked (documented in demo/README.md).
    pub(crate) fn demo(listen: SocketAddr, store: StoreArgs, liveness: Liveness) -> ServeArgs {
        ServeArgs {
            config: None,
            listen: Some(listen),
            issuer_key: None,
            retired_issuer_jwk: Vec::new(),
            police_key: None,
            public_url: None,
            liveness: Some(liveness),
            models: None,
            web_libraries: None,
            store,
        }
    }
}

pub(crate) fn run(args: &ServeArgs) -> Result<ExitCode> {
    init_logging();
    let config = args.config.as_deref().map(ServeConfig::load).transpose()?.unwrap_or_default();
    let mut store_args = args.store.clone();
    store_args.db = unless_set(store_args.db, "SHENFEN_DB", config.db.clone());
    store_args.key_file = unless_set(store_args.key_file, "SHENFEN_KEY_FILE", config.key_file.clone());
    let listen = args.listen.or(config.listen).unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
    let retired =
        if args.retired_issuer_jwk.is_empty() { &config.retired_issuer_jwks } else { &args.retired_issuer_jwk };
    // Everything named is checked before anything is created: a missing
    // database, key file, issuer or police key or model set leaves no empty database behind.
    store_args.require_existing_database(true)?;
    let retired = retired.iter().map(|p| read_public_jwk(p)).collect::<Result<_>>()?;
    let police_key = args.police_key.as_deref().or(config.police_key.as_deref());
    let police = police_key.map(|path| read_public_only_jwk(path, "the police's key")).transpose()?;
    let models = args.models.clone().or(config.models.clone());
    let face = Common { json: false, models, threshold: None }.engine(cores())?;
    let keys = store_args.keys()?;
    let issuer = issuer_key(&store_args, args.issuer_key.as_deref().or(config.issuer_key.as_deref()))?;
    let rt = runtime()?;
    rt.block_on(async {
        let store = Arc::new(store_args.open_store().await?);
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let address = listener.local_addr()?;
        let url = args.public_url.clone().or(config.public_url.clone()).unwrap_or_else(|| format!("http://{address}"));
        let web_libraries = args
            .web_libraries
            .clone()
            .or(config.web_libraries.clone())
            .unwrap_or_else(|| WebAssets::checkout_dir().to_path_buf());
        let mut policy = config.policy.clone();
        if let Some(liveness) = args.liveness.or(config.liveness) {
            liveness.apply(&mut policy.liveness);
        }
        let mut identity = Issuer::new(url, &issuer, retired).map_err(coded)?;
        if let Some(police) = police {
            identity = identity.with_police_key(police);
        }
        let web = WebAssets::load(&web_libraries);
        let state =
            AppState::build(store.clone(), Arc::new(keys), Arc::new(face), identity, policy, web).map_err(coded)?;
        tokio::spawn(purge_periodically(store.clone()));
        tracing::info!(%address, "shenfen serving");
        println!("shenfen serving on http://{address}");
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.context("server failed")?;
        store.close().await;
        tracing::info!("shut down cleanly");
        Ok(ExitCode::SUCCESS)
    })
}

/// Forgets expired nonces, sessions, grants and attempt windows every ten
/// minutes, so those tables stay the size of what is live. Every instance may
/// run it; the deletes are idempotent.
async fn purge_periodically(store: Arc<shenfen_store::SqlStore>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        match store.purge_expired(crate::clock::now_unix()).await {
            Ok(removed) => tracing::debug!(removed, "purged expired state"),
            Err(e) => tracing::warn!(code = e.code(), "could not purge expired state"),
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Structured logs on standard error; `RUST_LOG` sets the level (default info).
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colour).with_writer(std::io::stderr).try_init();
}

/// Resolves on SIGINT or SIGTERM, letting in-flight requests finish.
pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
