//! `shenfen status-list build|check`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use shenfen_credential::{StatusList, StatusListToken, StatusReference};

use crate::clock::now_unix;
use crate::coded_error::{ARGUMENT, coded, fail, verdict};
use crate::files::{print_json, read_private_jwk, read_public_jwk, read_text};

#[derive(Subcommand)]
pub(crate) enum StatusListCommand {
    /// Build and sign a status list token (statuslist+jwt); it is printed on standard output.
    Build(BuildArgs),
    /// Verify a status list token and print one credential's status; exits non-zero unless VALID.
    Check(CheckArgs),
}

#[derive(Args)]
pub(crate) struct BuildArgs {
    /// The issuer's private JWK.
    #[arg(long)]
    issuer_key: PathBuf,
    /// The URI the list is published at (the token's sub).
    #[arg(long)]
    uri: String,
    /// Number of entries. Large lists give herd privacy: a credential's index says little.
    #[arg(long, default_value_t = 131_072)]
    size: u64,
    /// Bits per entry: 1, 2, 4 or 8.
    #[arg(long, default_value_t = 1)]
    bits: u8,
    /// Indices to mark INVALID (revoked), comma-separated or repeated.
    #[arg(long, value_delimiter = ',')]
    revoked: Vec<u64>,
    /// Indices to mark SUSPENDED (needs --bits 2 or more).
    #[arg(long, value_delimiter = ',')]
    suspended: Vec<u64>,
    /// Seconds until the token expires.
    #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(i64).range(1..))]
    exp_in: i64,
    /// Seconds verifiers may cache the token (ttl).
    #[arg(long, default_value_t = 3_600)]
    ttl: u64,
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// The public JWK that signed the token.
    #[arg(long)]
    issuer_jwk: PathBuf,
    /// The status list token file.
    #[arg(long)]
    token: PathBuf,
    /// The credential's index in the list.
    #[arg(long)]
    idx: u64,
    /// The URI the credential references (default: the token's own sub).
    #[arg(long)]
    uri: Option<String>,
}

pub(crate) fn run(command: StatusListCommand) -> Result<ExitCode> {
    match command {
        StatusListCommand::Build(args) => build(&args),
        StatusListCommand::Check(args) => check(&args),
    }
}

fn build(args: &BuildArgs) -> Result<ExitCode> {
    let issuer = read_private_jwk(&args.issuer_key)?;
    let mut list = StatusList::new(args.size, args.bits).map_err(coded)?;
    for &idx in &args.revoked {
        list.set(idx, 1).map_err(coded).with_context(|| format!("--revoked {idx}"))?;
    }
    for &idx in &args.suspended {
        if args.bits < 2 {
            return Err(fail(ARGUMENT, "--suspended needs --bits 2 or more (1-bit lists only say valid or invalid)"));
        }
        list.set(idx, 2).map_err(coded).with_context(|| format!("--suspended {idx}"))?;
    }
    let now = now_unix();
    let token = StatusListToken {
        subject: args.uri.clone(),
        issued_at: now,
        expires_at: Some(now.saturating_add(args.exp_in)),
        ttl: Some(args.ttl),
        list,
    };
    let signed = token.sign(&issuer.signing_key().map_err(coded)?, issuer.public().kid()).map_err(coded)?;
    println!("{signed}");
    Ok(ExitCode::SUCCESS)
}

fn check(args: &CheckArgs) -> Result<ExitCode> {
    let key = read_public_jwk(&args.issuer_jwk)?.verifying_key().map_err(coded)?;
    let token = StatusListToken::verify(&read_text(&args.token)?, &key, now_unix(), 60).map_err(coded)?;
    let reference = StatusReference { uri: args.uri.clone().unwrap_or_else(|| token.subject.clone()), idx: args.idx };
    let status = token.status_of(&reference).map_err(coded)?;
    let value = token.list.get(args.idx).map_err(coded)?;
    let report = json!({
        "uri": token.subject,
        "idx": args.idx,
        "value": value,
        "status": status.to_string(),
        "valid": value == 0,
        "issued_at": token.issued_at,
        "expires_at": token.expires_at,
        "ttl": token.ttl,
    });
    if value != 0 {
        let reason = format!("entry {} of {} is {status}", args.idx, token.subject);
        return Err(verdict("credential.status.revoked", reason, Some(report)));
    }
    print_json(&report)?;
    Ok(ExitCode::SUCCESS)
}
