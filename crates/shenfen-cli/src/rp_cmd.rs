//! `shenfen rp add`: register a relying party with the verifier service, with
//! the claims it is entitled to ask for.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::json;
use shenfen_server::token_hash;
use shenfen_store::{AuditEvent, RelyingParty, generate_password};

use crate::clock::now_unix;
use crate::coded_error::coded;
use crate::data_dir::{StoreArgs, runtime};

/// Claim paths and yes/no questions (`is:…`) a relying party may be entitled to.
const KNOWN_CLAIMS: [&str; 15] = [
    "is:age_over_18",
    "is:region",
    "is:edition",
    "name",
    "id_number_masked",
    "age_over_18",
    "region",
    "record/id_number",
    "record/sex",
    "record/birth_date",
    "record/ethnicity",
    "record/address",
    "record/issuing_authority",
    "record/card_valid_from",
    "record/card_valid_until",
];

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
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub(crate) fn run(command: RpCommand) -> Result<ExitCode> {
    let RpCommand::Add { client_id, name, claims, store } = command;
    if !(client_id.starts_with("https://") || client_id.starts_with("http://")) || client_id.contains(['?', '#']) {
        bail!("a client id is the relying party's origin, e.g. https://hotel.example");
    }
    if let Some(unknown) = claims.iter().find(|c| !KNOWN_CLAIMS.contains(&c.as_str())) {
        bail!("unknown claim {unknown:?}; one of {}", KNOWN_CLAIMS.join(", "));
    }
    let api_key = generate_password().map_err(coded)?;
    let party = RelyingParty {
        client_id: client_id.clone(),
        name,
        claims: claims.clone(),
        api_key_hash: token_hash(&api_key),
        created_at: now_unix(),
    };
    let event = AuditEvent {
        at: now_unix(),
        kind: "relying_party.saved".into(),
        actor: "operator:cli".into(),
        subject: None,
        details: json!({ "client_id": client_id, "claims": claims }),
    };
    let rt = runtime()?;
    let db = rt.block_on(store.open_store())?;
    rt.block_on(db.put_relying_party(&party, event)).map_err(coded)?;
    println!("relying party {client_id} saved; API key (shown once): {api_key}");
    Ok(ExitCode::SUCCESS)
}
