//! `shenfen operator add|disable`: the authority's operator accounts.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;
use shenfen_core::OperatorRole;
use shenfen_store::{AuditEvent, Operator, SqlStore, generate_password, hash_secret};

use crate::clock::now_unix;
use crate::coded_error::{ARGUMENT, FILE_READ, NOT_REGISTERED, coded, fail};
use crate::data_dir::{StoreArgs, runtime};
use crate::files::io_reason;

#[derive(Subcommand)]
pub(crate) enum OperatorCommand {
    /// Create an operator account, or reset its password and role. Prints a
    /// generated password unless one is given on standard input.
    Add {
        /// Login name (letters, digits, `.`, `-`, `_`).
        #[arg(long)]
        username: String,
        /// counter (lookups, in-person attestation) or supervisor (also revocation, audit log).
        #[arg(long)]
        role: OperatorRole,
        /// Read the password from standard input (at least 12 characters) instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable an operator: they can no longer sign in, and their sessions end.
    Disable {
        /// Login name.
        #[arg(long)]
        username: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub(crate) fn run(command: OperatorCommand) -> Result<ExitCode> {
    let rt = runtime()?;
    match command {
        OperatorCommand::Add { username, role, password_stdin, store } => {
            let password = if password_stdin {
                let mut typed = String::new();
                std::io::stdin()
                    .read_to_string(&mut typed)
                    .map_err(|e| fail(FILE_READ, format!("cannot read the password: {}", io_reason(&e))))?;
                let typed = typed.trim_end_matches(['\r', '\n']).to_owned();
                if typed.chars().count() < 12 {
                    return Err(fail(ARGUMENT, "an operator password has at least 12 characters"));
                }
                typed
            } else {
                generate_password().map_err(coded)?
            };
            let store = rt.block_on(store.open_store())?;
            rt.block_on(put_operator(&store, &username, role, &password, false))?;
            if password_stdin {
                println!("operator {username} ({role}) saved");
            } else {
                println!("operator {username} ({role}) saved; password (shown once): {password}");
            }
        }
        OperatorCommand::Disable { username, store } => {
            let store = rt.block_on(store.open_store())?;
            let Some(operator) = rt.block_on(store.operator(&username)).map_err(coded)? else {
                return Err(fail(NOT_REGISTERED, format!("no operator named {username}")));
            };
            rt.block_on(put_operator(&store, &username, operator.role, "", true))?;
            println!("operator {username} disabled");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Creates, resets or disables an account (a disabled one keeps no usable
/// password), audited as an action of the command line.
pub(crate) async fn put_operator(
    store: &SqlStore,
    username: &str,
    role: OperatorRole,
    password: &str,
    disabled: bool,
) -> Result<()> {
    if username.is_empty()
        || username.len() > 64
        || !username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(fail(ARGUMENT, "a user name is 1 to 64 letters, digits, '.', '-' or '_'"));
    }
    let password_hash = if disabled { String::from("!disabled") } else { hash_secret(password).map_err(coded)? };
    let operator = Operator { username: username.into(), password_hash, role, disabled, created_at: now_unix() };
    let event = AuditEvent {
        at: now_unix(),
        kind: if disabled { "operator.disabled" } else { "operator.saved" }.into(),
        actor: "operator:cli".into(),
        subject: None,
        details: json!({ "username": username, "role": role.as_str() }),
    };
    store.put_operator(&operator, event).await.map_err(coded)
}
