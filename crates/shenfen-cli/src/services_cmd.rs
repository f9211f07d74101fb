//! `shenfen services`: the seed's relying parties (the government portal
//! first) as their own process, talking to the authority only over HTTP;
//! `shenfen services clerk add`, `gate add`, `hotel desk add`, `police officer add`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use shenfen_services::{ServicesConfig, add_hotel_desk, add_police_officer, add_portal_clerk, add_rail_gate, serve};

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
    #[arg(long, env = "SHENFEN_AUTHORITY", value_parser = authority_url)]
    authority: Option<String>,
    /// Where the government portal (政务服务) listens; its origin is its client id.
    #[arg(long, default_value = "127.0.0.1:8081")]
    portal_listen: SocketAddr,
    /// The portal's public origin when it is served behind a proxy (default http://PORTAL-LISTEN).
    #[arg(long)]
    portal_url: Option<String>,
    /// Where the railway (铁路客票) listens; it runs only when given, with
    /// DATA_DIR/rail.attestation.jwt from `shenfen rp attest`.
    #[arg(long)]
    rail_listen: Option<SocketAddr>,
    /// The railway's public origin when it is served behind a proxy (default http://RAIL-LISTEN).
    #[arg(long, requires = "rail_listen")]
    rail_url: Option<String>,
    /// Where the hotel's front desk (酒店入住) listens; its origin is its client id.
    #[arg(long, default_value = "127.0.0.1:8082")]
    hotel_listen: SocketAddr,
    /// The hotel's public origin behind a proxy (default http://HOTEL-LISTEN).
    #[arg(long)]
    hotel_url: Option<String>,
    /// Where the police's guest register listens.
    #[arg(long, default_value = "127.0.0.1:8083")]
    police_listen: SocketAddr,
    /// The police's public origin behind a proxy (default http://POLICE-LISTEN).
    #[arg(long)]
    police_url: Option<String>,
    /// How often the hotel refreshes the authority's keys and whole status
    /// list, and retries forwarding its register to the police (seconds).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    cache_refresh_secs: u64,
    /// Face models for the hotel desk's live-face check (default as for `shenfen face`).
    #[arg(long)]
    models: Option<PathBuf>,
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
    /// The railway's gate devices.
    #[command(subcommand)]
    Gate(GateCommand),
    /// The hotel's front-desk devices.
    #[command(subcommand)]
    Hotel(HotelCommand),
    /// The police officers who open the guest register.
    #[command(subcommand)]
    Police(PoliceCommand),
}

#[derive(Subcommand)]
enum HotelCommand {
    /// Registers a front-desk device; its token (for the desk page's link) is printed once.
    #[command(subcommand)]
    Desk(DeskCommand),
}

#[derive(Subcommand)]
enum DeskCommand {
    /// Adds a desk device.
    Add {
        /// The desk's name, e.g. "Front desk 1".
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: ServicesStore,
    },
}

#[derive(Subcommand)]
enum PoliceCommand {
    /// The officers' accounts.
    #[command(subcommand)]
    Officer(OfficerCommand),
}

#[derive(Subcommand)]
enum OfficerCommand {
    /// Adds an officer with a generated password, printed once.
    Add {
        /// The officer's username.
        #[arg(long)]
        username: String,
        #[command(flatten)]
        store: ServicesStore,
    },
}

#[derive(Subcommand)]
enum GateCommand {
    /// Registers a gate device; its token is printed once.
    Add {
        /// Where the gate stands (e.g. "北京南 检票口 5").
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: ServicesStore,
    },
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
        Some(ServicesCommand::Gate(GateCommand::Add { name, store })) => {
            let token = add_gate(&store.data_dir, store.database_url.as_deref(), &name)?;
            println!("Gate \"{}\" token: {token}", name.trim());
            Ok(ExitCode::SUCCESS)
        }
        Some(ServicesCommand::Hotel(HotelCommand::Desk(DeskCommand::Add { name, store }))) => {
            let token = add_desk(&store.data_dir, store.database_url.as_deref(), &name)?;
            println!("Hotel desk \"{name}\" token: {token}");
            Ok(ExitCode::SUCCESS)
        }
        Some(ServicesCommand::Police(PoliceCommand::Officer(OfficerCommand::Add { username, store }))) => {
            let password = add_officer(&store.data_dir, store.database_url.as_deref(), &username)?;
            println!("Officer {username} password: {password}");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let authority = args.authority.context("--authority URL is required to serve")?;
            let config = ServicesConfig {
                authority,
                portal_listen: args.portal_listen,
                portal_url: args.portal_url,
                rail_listen: args.rail_listen,
                rail_url: args.rail_url,
                hotel_listen: args.hotel_listen,
                hotel_url: args.hotel_url,
                police_listen: args.police_listen,
                police_url: args.police_url,
                cache_refresh_secs: args.cache_refresh_secs,
                face_models: Some(crate::face_cmd::model_dir(args.models.as_deref())),
                data_dir: args.store.data_dir,
                database_url: args.store.database_url,
            };
            serve_services(&config)
        }
    }
}

/// An http(s) URL with a host: discovery runs at the first sign-in, so a
/// mistyped authority is refused here rather than when a citizen arrives.
fn authority_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{text:?} is not an http(s) URL with a host"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// A staff name or a desk name: 1 to 64 bytes once trimmed.
fn account_name(name: &str) -> Result<&str> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty() && name.len() <= 64, "a username or desk name has 1 to 64 bytes");
    Ok(name)
}

/// Adds a portal clerk; answers the generated password.
pub(crate) fn add_clerk(data_dir: &std::path::Path, database_url: Option<&str>, username: &str) -> Result<String> {
    Ok(runtime()?.block_on(add_portal_clerk(data_dir, database_url, account_name(username)?))?)
}

/// Adds a police officer; answers the generated password.
pub(crate) fn add_officer(data_dir: &std::path::Path, database_url: Option<&str>, username: &str) -> Result<String> {
    Ok(runtime()?.block_on(add_police_officer(data_dir, database_url, account_name(username)?))?)
}

/// Registers a hotel desk device; answers its token.
pub(crate) fn add_desk(data_dir: &std::path::Path, database_url: Option<&str>, name: &str) -> Result<String> {
    Ok(runtime()?.block_on(add_hotel_desk(data_dir, database_url, account_name(name)?))?)
}

/// Registers a railway gate device; answers its token.
pub(crate) fn add_gate(data_dir: &std::path::Path, database_url: Option<&str>, name: &str) -> Result<String> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty() && name.chars().count() <= 64, "a gate's name has 1 to 64 characters");
    Ok(runtime()?.block_on(add_rail_gate(data_dir, database_url, name))?)
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
