//! `shenfen trust-list build`: the national trust anchor signs the list of
//! regional authorities verifiers accept, with the keys each may sign with.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use shenfen_credential::{TrustList, TrustedAuthority};

use crate::clock::now_unix;
use crate::coded_error::{ARGUMENT, coded, fail};
use crate::files::{read_jwks, read_private_jwk, write_file};

#[derive(Subcommand)]
pub(crate) enum TrustListCommand {
    /// Sign a trust list with the anchor's key.
    Build {
        /// The trust anchor's private JWK.
        #[arg(long)]
        anchor_key: PathBuf,
        /// An authority: `ISSUER_URL,REGION,JWKS_FILE` — its credential issuer
        /// identifier, its region, and a JWK Set of the keys it may sign with
        /// (leave a retired key out to stop its credentials verifying). Repeat per region.
        #[arg(long = "authority", required = true)]
        authorities: Vec<String>,
        /// Days until verifiers stop using the list (1 to 3650).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=3650))]
        valid_days: i64,
        /// Where to write the signed list.
        #[arg(long)]
        out: PathBuf,
    },
}

pub(crate) fn run(command: TrustListCommand) -> Result<ExitCode> {
    let TrustListCommand::Build { anchor_key, authorities, valid_days, out } = command;
    let anchor = read_private_jwk(&anchor_key)?;
    let authorities = authorities.iter().map(|a| authority(a)).collect::<Result<Vec<_>>>()?;
    let now = now_unix();
    let list = TrustList { issued_at: now, expires_at: now + valid_days * 86_400, authorities };
    let jwt = list.sign(&anchor.signing_key().map_err(coded)?, anchor.public().kid()).map_err(coded)?;
    write_file(&out, jwt)?;
    println!(
        "trust list of {} authorities, valid {valid_days} days, written to {}",
        list.authorities.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn authority(spec: &str) -> Result<TrustedAuthority> {
    let mut parts = spec.splitn(3, ',');
    let (Some(issuer), Some(region), Some(jwks)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(fail(ARGUMENT, format!("--authority takes ISSUER_URL,REGION,JWKS_FILE, not {spec}")));
    };
    if issuer.is_empty() || region.is_empty() {
        return Err(fail(ARGUMENT, format!("--authority {spec}: the issuer URL and the region must not be empty")));
    }
    let keys = read_jwks(std::path::Path::new(jwks))?;
    Ok(TrustedAuthority { issuer: issuer.to_owned(), region: region.to_owned(), keys })
}
