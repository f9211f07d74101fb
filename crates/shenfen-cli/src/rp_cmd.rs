//! `shenfen rp add` and `rp attest`: register a relying party with the verifier service, with
//! the claims it is entitled to ask for — and, with redirect URIs, as an
//! OpenID Connect client of "Sign in with shenfen".

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::json;
use shenfen_server::{Registered, Registration};
use shenfen_store::AuditEvent;

use crate::clock::now_unix;
use crate::coded_error::coded;
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
    let (client_id, name, claims, redirect_uri, sector_identifier, client_jwks, store) = match command {
        RpCommand::Add { client_id, name, claims, redirect_uri, sector_identifier, client_jwks, store } => {
            (client_id, name, claims, redirect_uri, sector_identifier, client_jwks, store)
        }
        RpCommand::Attest(args) => return rp_verifier_cmd::attest(&args),
    };
    let client_jwks = match client_jwks {
        Some(path) => {
            Some(serde_json::from_str(&read_text(&path)?).with_context(|| format!("{} is not JSON", path.display()))?)
        }
        None => None,
    };
    let registration =
        Registration { client_id, name, claims, redirect_uris: redirect_uri, sector_identifier, client_jwks };
    let Registered { party, api_key, client_secret } = registration.register(now_unix()).map_err(coded)?;
    let event = AuditEvent {
        at: now_unix(),
        kind: "relying_party.saved".into(),
        actor: "operator:cli".into(),
        subject: None,
        details: json!({ "client_id": party.client_id, "claims": party.claims }),
    };
    let rt = runtime()?;
    let db = rt.block_on(store.open_store())?;
    rt.block_on(db.put_relying_party(&party, event)).map_err(coded)?;
    println!("relying party {} saved; API key (shown once): {api_key}", party.client_id);
    if let Some(secret) = client_secret {
        println!("OpenID Connect client secret (client_secret_basic, shown once): {secret}");
    }
    Ok(ExitCode::SUCCESS)
}
