//! `shenfen counter add`: register a counter device — a hotel's front desk,
//! a ticket gate, a government counter — that may send camera frames to the
//! authority's counter endpoints. Like a relying party, it gets a token once.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;
use shenfen_server::token_hash;
use shenfen_store::{AuditEvent, SqlStore, generate_password};

use crate::clock::now_unix;
use crate::coded_error::{ARGUMENT, coded, fail};
use crate::data_dir::{StoreArgs, runtime};

#[derive(Subcommand)]
pub(crate) enum CounterCommand {
    /// Register a counter device; prints its token once (the counter page
    /// takes it at /counter/#device=TOKEN and keeps it on that device).
    Add {
        /// What and where it is, for the audit log (e.g. "Hotel Example, front desk 1").
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub(crate) fn run(command: CounterCommand) -> Result<ExitCode> {
    let CounterCommand::Add { name, store } = command;
    let rt = runtime()?;
    let db = rt.block_on(store.open_store())?;
    let token = rt.block_on(add_counter_device(&db, &name))?;
    println!("counter device \"{}\" registered; token (shown once): {token}", name.trim());
    rt.block_on(db.close());
    Ok(ExitCode::SUCCESS)
}

/// Registers a counter device named `name` and returns its fresh token.
pub(crate) async fn add_counter_device(db: &SqlStore, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(fail(ARGUMENT, "a counter device's name is 1 to 100 characters"));
    }
    let token = generate_password().map_err(coded)?;
    let event = AuditEvent {
        at: now_unix(),
        kind: "counter.registered".into(),
        actor: "operator:cli".into(),
        subject: None,
        details: json!({ "name": name }),
    };
    db.put_counter_device(&token_hash(&token), name, now_unix(), event).await.map_err(coded)?;
    Ok(token)
}
