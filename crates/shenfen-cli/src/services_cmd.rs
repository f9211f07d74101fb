//! `shenfen services`: the seed's relying parties (the government portal
//! first) as their own process, talking to the authority only over HTTP;
//! and `shenfen services clerk add`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use shenfen_services::{ServicesConfig, add_portal_clerk, serve};

use crate::data_dir::runtime;
use crate::serve_cmd::{init_logging, shutdown_signal};

/// The data directory used when nothing else is configured.
const DEFAULT_DIR: &str = "shenfen-services-data";

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct ServicesArgs {
    #[command(subcommand)]
    command: Option<ServicesCommand>,
    /// The authority's issuer URL (its OpenID Connect discovery document is under it).
    #[arg(long, env = "SHENFEN_AUTHORITY")]
    authority: Option<String>,
    /// Where the government portal (政务服务) listens; its origin is its client id.
    #[arg(long, default_value = "127.0.0.1:8081")]
    portal_listen: SocketAddr,
    /// The portal's public origin when it is served behind a proxy (default http://PORTAL-LISTEN).
    #[arg(long)]
    portal_url: Option<String>,
    #[command(flatten)]
    store: ServicesStore,
}

/// Where the services keep their state.
#[derive(Args, Clone)]
pub(crate) struct ServicesStore {
    /// The services' data directory: client keys (0600) and their public JWK Sets, the data key, the SQLite database.
    #[arg(long, env = "SHENFEN_SERVICES_DATA_DIR", default_value = DEFAULT_DIR)]
    data_dir: PathBuf,
    /// PostgreSQL instead of the embedded SQLite file: postgres://… (or sqlite:PATH).
    #[arg(long, env = "SHENFEN_SERVICES_DB")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum ServicesCommand {
    /// The registration clerks of the portal's business registration.
    #[command(subcommand)]
    Clerk(ClerkCommand),
}

#[derive(Subcommand)]
enum ClerkCommand {
    /// Adds a clerk with a generated password, printed once.
    Add {
        /// The clerk's username.
        #[arg(long)]
        username: String,
        #[command(flatten)]
        store: ServicesStore,
    },
}

pub(crate) fn run(args: ServicesArgs) -> Result<ExitCode> {
    match args.command {
        Some(ServicesCommand::Clerk(ClerkCommand::Add { username, store })) => {
            let password = add_clerk(&store.data_dir, store.database_url.as_deref(), &username)?;
            println!("Clerk {username} password: {password}");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let authority = args.authority.context("--authority URL is required to serve")?;
            let config = ServicesConfig {
                authority,
                portal_listen: args.portal_listen,
                portal_url: args.portal_url,
                data_dir: args.store.data_dir,
                database_url: args.store.database_url,
            };
            serve_services(&config)
        }
    }
}

/// Adds a portal clerk; answers the generated password.
pub(crate) fn add_clerk(data_dir: &std::path::Path, database_url: Option<&str>, username: &str) -> Result<String> {
    let username = username.trim();
    anyhow::ensure!(!username.is_empty() && username.len() <= 64, "a clerk's username has 1 to 64 bytes");
    Ok(runtime()?.block_on(add_portal_clerk(data_dir, database_url, username))?)
}

fn serve_services(config: &ServicesConfig) -> Result<ExitCode> {
    init_logging();
    let rt = runtime()?;
    rt.block_on(serve(
        config,
        |listening| {
            for service in listening {
                println!("Service {} {}: {}/", service.name.0, service.key, service.url);
            }
        },
        shutdown_signal(),
    ))?;
    Ok(ExitCode::SUCCESS)
}
