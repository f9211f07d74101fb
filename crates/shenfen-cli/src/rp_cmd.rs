//! `shenfen rp add` and `rp attest`: register a relying party with the verifier service, with
//! the claims it is entitled to ask for — and, with redirect URIs, as an
//! OpenID Connect client of "Sign in with shenfen".

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use shenfen_server::{Registered, Registration};

use crate::clock::now_unix;
use crate::coded_error::{JSON, coded, fail};
use crate::data_dir::{StoreArgs, runtime};
use crate::files::read_text;
use crate::rp_verifier_cmd;

#[derive(Subcommand)]
pub(crate) enum RpCommand {
    /// Register a relying party (or replace its entitlement and API key);
    /// prints its API key once. New credentials carry its pairwise pseudonym.
    Add {
        /// Its client identifier: its HTTPS origin, e.g. https://hotel.example.
        #[arg(long)]
        client_id: String,
        /// Its name, shown to citizens on the consent screen.
        #[arg(long)]
        name: String,
        /// Claims it may ask for, comma-separated (e.g. name,age_over_18; the
        /// full ID number is record/id_number and needs a legal basis), and
        /// yes/no questions it may ask (is:age_over_18, is:region, is:edition).
        #[arg(long, value_delimiter = ',', required = true)]
        claims: Vec<String>,
        /// Makes it an OpenID Connect client: the redirect URIs `/authorize`
        /// accepts (exact match), comma-separated.
        #[arg(long, value_delimiter = ',')]
        redirect_uri: Vec<String>,
        /// The sector its pairwise `sub` is derived for; by default the host
        /// of its redirect URIs (which must then share one host).
        #[arg(long, requires = "redirect_uri")]
        sector_identifier: Option<String>,
        /// Authenticate at /token with private_key_jwt, with the ES256 keys of
        /// this JWK Set file; without it, client_secret_basic with a secret
        /// printed once.
        #[arg(long, requires = "redirect_uri")]
        client_jwks: Option<PathBuf>,
        /// Replace the registration of this client id (its secrets, redirect
        /// URIs and sector too); without it an existing one is refused.
        #[arg(long)]
        replace: bool,
        /// Share the sector with the relying parties already registered for
        /// it (one organisation's services: they see the same `sub`).
        #[arg(long, requires = "sector_identifier")]
        share_sector: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Issue a registered relying party a Verifier Attestation (OpenID4VP
    /// 1.0 §12) for the key of its own verifier (`shenfen verifier serve`):
    /// wallets then accept its requests on its own origin, and the authority
    /// hears of none of them.
    Attest(rp_verifier_cmd::AttestArgs),
}

pub(crate) fn run(command: RpCommand) -> Result<ExitCode> {
    match command {
        RpCommand::Add {
            client_id,
            name,
            claims,
            redirect_uri,
            sector_identifier,
            client_jwks,
            replace,
            share_sector,
            store,
        } => {
            let registration = Registration {
                client_id,
                name,
                claims,
                redirect_uris: redirect_uri,
                sector_identifier,
                client_jwks: None,
                replace,
                share_sector,
            };
            add(registration, client_jwks.as_deref(), &store)
        }
        RpCommand::Attest(args) => rp_verifier_cmd::attest(&args),
    }
}

/// Registers (or replaces) the relying party and prints its secrets once.
fn add(registration: Registration, client_jwks: Option<&Path>, store: &StoreArgs) -> Result<ExitCode> {
    let Registered { party, api_key, client_secret, .. } = save_registration(registration, client_jwks, store)?;
    println!("relying party {} saved; API key (shown once): {api_key}", party.client_id);
    if let Some(secret) = client_secret {
        println!("OpenID Connect client secret (client_secret_basic, shown once): {secret}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Registers (or replaces) the relying party, with its client keys read from
/// `client_jwks`, as the administrator at the command line (`shenfen demo`
/// registers its services this way too).
pub(crate) fn save_registration(
    mut registration: Registration,
    client_jwks: Option<&Path>,
    store: &StoreArgs,
) -> Result<Registered> {
    if let Some(path) = client_jwks {
        let text = read_text(path)?;
        let jwks = serde_json::from_str(&text)
            .map_err(|e| fail(JSON, format!("{} is not valid JSON (a JWK Set expected): {e}", path.display())))?;
        registration.client_jwks = Some(jwks);
    }
    let registered = registration.register(now_unix()).map_err(coded)?;
    let rt = runtime()?;
    let db = rt.block_on(store.open_store())?;
    let saved = rt.block_on(registered.save(&db, "operator:cli".into(), now_unix())).map_err(coded);
    rt.block_on(db.close());
    saved?;
    Ok(registered)
}
