//! `shenfen verifier serve`: a relying party's own OpenID4VP verifier, on its
//! own origin, with its own key and the attestation the authority issued it
//! (`shenfen rp attest`). It fetches only the trust material, whole, on a
//! schedule; the authority never hears of a request. And `shenfen rp attest`,
//! the authority's one-time part: the attestation.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use shenfen_credential::VerifierAttestation;
use shenfen_server::check_answer_uri;
use shenfen_store::AuditEvent;
use shenfen_verifier::{Clock, Verifier, VerifierConfig, fetch_cache, keep_fresh, router};

use crate::clock::now_unix;
use crate::coded_error::{ARGUMENT, NOT_REGISTERED, coded, fail};
use crate::data_dir::{StoreArgs, issuer_key, runtime};
use crate::files::{read_private_jwk, read_public_jwk, read_text, write_file};
use crate::serve_cmd::{init_logging, shutdown_signal};
use crate::verify_cmd::TrustArgs;

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The public base URL wallets reach this verifier at (its origin); default http://LISTEN.
    #[arg(long)]
    public_url: Option<String>,
    /// The relying party's private signing JWK (its public half is the attestation's `cnf.jwk`).
    #[arg(long)]
    key_file: PathBuf,
    /// The Verifier Attestation JWT the authority issued for that key (`shenfen rp attest`).
    #[arg(long)]
    attestation: PathBuf,
    /// The secret the relying party's backend sends as a Bearer token (or $SHENFEN_VERIFIER_API_KEY).
    #[arg(long, env = "SHENFEN_VERIFIER_API_KEY", hide_env_values = true)]
    api_key: String,
    #[command(flatten)]
    trust: TrustArgs,
    /// Seconds between refreshes of the trusted keys and whole status lists.
    #[arg(long, default_value_t = 300)]
    refresh_secs: u64,
    /// Oldest keys and status lists answers are checked with, seconds; older, answers are refused.
    #[arg(long, default_value_t = 3_600)]
    max_cache_age: i64,
    /// Most requests open at once (each lives 5 minutes).
    #[arg(long, default_value_t = 10_000)]
    max_open: usize,
}

pub(crate) fn run(args: &ServeArgs) -> Result<ExitCode> {
    init_logging();
    if args.refresh_secs == 0 || args.max_cache_age <= 0 || i64::try_from(args.refresh_secs)? >= args.max_cache_age {
        return Err(fail(
            ARGUMENT,
            "--refresh-secs must be positive and below --max-cache-age, or the cache goes stale between refreshes",
        ));
    }
    if args.api_key.len() < 16 {
        return Err(fail(ARGUMENT, "the API key must be at least 16 characters"));
    }
    let source = Arc::new(args.trust.source()?);
    let cache = fetch_cache(&source, now_unix()).map_err(coded)?;
    let config = VerifierConfig {
        public_url: args.public_url.clone().unwrap_or_else(|| format!("http://{}", args.listen)),
        key: read_private_jwk(&args.key_file)?,
        attestation: read_text(&args.attestation)?,
        api_key: args.api_key.clone(),
        max_cache_age_secs: args.max_cache_age,
        capacity: args.max_open,
    };
    let clock: Clock = Arc::new(now_unix);
    let verifier = Arc::new(Verifier::new(config, cache, clock.clone()).map_err(coded)?);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let every = Duration::from_secs(args.refresh_secs);
        tokio::spawn(keep_fresh(verifier.clone(), source, every, clock));
        println!(
            "shenfen verifier serving on http://{} as {} ({})",
            args.listen,
            verifier.attested().prefixed_client_id(),
            verifier.attested().name
        );
        axum::serve(listener, router(verifier)).with_graceful_shutdown(shutdown_signal()).await.context("server failed")
    })?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub(crate) struct AttestArgs {
    /// The registered relying party (`shenfen rp add`).
    #[arg(long)]
    pub(crate) client_id: String,
    /// The public JWK of its verifier's signing key.
    #[arg(long)]
    pub(crate) public_key: PathBuf,
    /// The response URI(s) its verifier receives answers at (`<public URL>/openid4vp/response`).
    #[arg(long, required = true)]
    pub(crate) response_uri: Vec<String>,
    /// This authority's public base URL (its credential issuer identifier).
    #[arg(long)]
    pub(crate) issuer: String,
    /// Days the attestation is valid: it cannot be withdrawn before, so keep
    /// it short and attest again to renew.
    #[arg(long, default_value_t = 30)]
    pub(crate) valid_days: i64,
    /// The authority's private signing JWK (default DATA_DIR/issuer.jwk).
    #[arg(long)]
    pub(crate) issuer_key: Option<PathBuf>,
    /// Where to write the attestation (default standard output).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// `shenfen rp attest`: the attestation carries the registration as the
/// authority holds it (name, claims — yes/no questions excepted, which only
/// the authority's verifier answers — and the response URIs), for one key.
pub(crate) fn attest(args: &AttestArgs) -> Result<ExitCode> {
    if !(1..=3_650).contains(&args.valid_days) {
        return Err(fail(ARGUMENT, "--valid-days is 1 to 3650"));
    }
    let jwt = attest_registered(&Attesting {
        store: &args.store,
        client_id: &args.client_id,
        key: read_public_jwk(&args.public_key)?,
        response_uris: &args.response_uri,
        issuer: &args.issuer,
        valid_days: args.valid_days,
        issuer_key: args.issuer_key.as_deref(),
    })?;
    match &args.out {
        Some(path) => write_file(path, &jwt)?,
        None => println!("{jwt}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// What an attestation is made of: the registered relying party, its verifier's key and response URIs.
pub(crate) struct Attesting<'a> {
    pub(crate) store: &'a StoreArgs,
    pub(crate) client_id: &'a str,
    pub(crate) key: shenfen_credential::PublicJwk,
    pub(crate) response_uris: &'a [String],
    pub(crate) issuer: &'a str,
    pub(crate) valid_days: i64,
    pub(crate) issuer_key: Option<&'a std::path::Path>,
}

/// Signs a Verifier Attestation for a registered relying party (its
/// registration as the authority holds it) and records it in the audit log;
/// `shenfen rp attest` and the demo's railway use it.
pub(crate) fn attest_registered(asked: &Attesting<'_>) -> Result<String> {
    for uri in asked.response_uris {
        check_answer_uri(asked.client_id, uri).map_err(coded)?;
    }
    let runtime = runtime()?;
    let store = runtime.block_on(asked.store.open_store())?;
    let party = runtime.block_on(store.relying_party(asked.client_id)).map_err(coded)?.ok_or_else(|| {
        fail(NOT_REGISTERED, format!("{} is not registered: `shenfen rp add` it first", asked.client_id))
    })?;
    let issuer_key = issuer_key(asked.store, asked.issuer_key)?;
    let now = now_unix();
    let attestation = VerifierAttestation {
        issuer: asked.issuer.trim_end_matches('/').to_owned(),
        client_id: party.client_id.clone(),
        name: party.name.clone(),
        claims: party.claims.iter().filter(|c| !c.starts_with("is:")).cloned().collect(),
        redirect_uris: asked.response_uris.to_vec(),
        key: asked.key.clone(),
        issued_at: now,
        expires_at: now + asked.valid_days * 86_400,
    };
    let jwt = attestation.sign(&issuer_key.signing_key().map_err(coded)?, issuer_key.public().kid()).map_err(coded)?;
    let event = AuditEvent {
        at: now,
        kind: "relying_party.attested".into(),
        actor: "operator:cli".into(),
        subject: None,
        details: json!({
            "client_id": party.client_id,
            "key": attestation.key.thumbprint(),
            "response_uris": attestation.redirect_uris,
            "expires_at": attestation.expires_at,
        }),
    };
    runtime.block_on(store.append_audit(event)).map_err(coded)?;
    Ok(jwt)
}
