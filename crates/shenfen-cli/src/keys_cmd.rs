//! `shenfen keys …`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use shenfen_credential::PrivateJwk;

use crate::files::{print_json, write_secret};

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Generate a P-256 key: the private JWK goes to --out (mode 600), the public JWK to standard output.
    Generate {
        /// Where to write the private JWK; must not exist yet.
        #[arg(long)]
        out: PathBuf,
        /// Key id to record in the JWK (default: its RFC 7638 thumbprint).
        #[arg(long)]
        kid: Option<String>,
    },
}

pub(crate) fn run(command: KeysCommand) -> Result<ExitCode> {
    match command {
        KeysCommand::Generate { out, kid } => {
            let key = PrivateJwk::generate()?;
            let kid = kid.unwrap_or_else(|| key.public().thumbprint());
            let key = key.with_kid(kid);
            write_secret(&out, &format!("{}\n", serde_json::to_string_pretty(&key.to_value())?))?;
            print_json(&key.public().to_value())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
