//! `shenfen credential issue|present|verify`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value;
use shenfen_credential::{
    CredentialError, Jws, PresentationPolicy, PrivateJwk, PublicJwk, SdJwt, StatusListToken, StatusReference, VcIssuer,
    present, verify_presentation,
};

use crate::clock::now_unix;
use crate::coded_error::{HOLDER_KEY, JSON, coded, fail};
use crate::files::{
    claim_pointers, print_json, read_json_file, read_private_jwk, read_public_jwk, read_stdin, read_text,
};

/// Default credential lifetime: one week. Wallets hold batches of
/// single-use credentials and refresh them, so a short life costs little.
const DEFAULT_TTL_SECS: i64 = 7 * 24 * 3600;

#[derive(Subcommand)]
pub(crate) enum CredentialCommand {
    /// Issue an SD-JWT VC; it is printed on standard output.
    Issue(IssueArgs),
    /// Read an SD-JWT VC on standard input and print a key-bound presentation of the chosen claims.
    Present(PresentArgs),
    /// Read a presentation on standard input, verify it and print the disclosed claims as JSON.
    Verify(VerifyArgs),
}

#[derive(Args)]
pub(crate) struct IssueArgs {
    /// The issuer's private JWK.
    #[arg(long)]
    issuer_key: PathBuf,
    /// The holder's public JWK, bound into the credential as cnf.jwk.
    #[arg(long)]
    holder_jwk: PathBuf,
    /// The credential type (vct).
    #[arg(long)]
    vct: String,
    /// JSON object of the credential's claims, including iss.
    #[arg(long)]
    claims: PathBuf,
    /// Top-level claims to make selectively disclosable (comma-separated or repeated; /a/b pointers for nested ones).
    #[arg(long, value_delimiter = ',')]
    sd: Vec<String>,
    /// URI of the status list that holds this credential's revocation status.
    #[arg(long, requires = "status_idx")]
    status_uri: Option<String>,
    /// Index of this credential in that status list.
    #[arg(long, requires = "status_uri")]
    status_idx: Option<u64>,
    /// Lifetime in seconds (default one week).
    #[arg(long, default_value_t = DEFAULT_TTL_SECS, value_parser = clap::value_parser!(i64).range(1..))]
    ttl: i64,
}

#[derive(Args)]
pub(crate) struct PresentArgs {
    /// The holder's private JWK (the key bound in the credential).
    #[arg(long)]
    holder_key: PathBuf,
    /// The verifier's identifier (aud of the key binding JWT).
    #[arg(long)]
    aud: String,
    /// The nonce the verifier issued for this request.
    #[arg(long)]
    nonce: String,
    /// Claims to disclose (comma-separated or repeated); nothing else is revealed.
    #[arg(long, value_delimiter = ',')]
    disclose: Vec<String>,
}

#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// The issuer's public JWK.
    #[arg(long)]
    issuer_jwk: PathBuf,
    /// This verifier's identifier; the presentation must be made for it.
    #[arg(long)]
    aud: String,
    /// The nonce this verifier issued; the presentation must carry it.
    #[arg(long)]
    nonce: String,
    /// A status list token (statuslist+jwt) to check revocation against.
    #[arg(long)]
    status_list: Option<PathBuf>,
    /// The public JWK that signed the status list (default: the issuer's).
    #[arg(long, requires = "status_list")]
    status_list_jwk: Option<PathBuf>,
    /// How old the key binding may be, in seconds.
    #[arg(long, default_value_t = 300)]
    max_age: i64,
    /// Allowed clock difference, in seconds.
    #[arg(long, default_value_t = 60)]
    clock_skew: i64,
}

pub(crate) fn run(command: CredentialCommand) -> Result<ExitCode> {
    match command {
        CredentialCommand::Issue(args) => issue_cmd(&args),
        CredentialCommand::Present(args) => present_cmd(&args),
        CredentialCommand::Verify(args) => verify_cmd(&args),
    }
}

fn issue_cmd(args: &IssueArgs) -> Result<ExitCode> {
    let issuer = read_private_jwk(&args.issuer_key)?;
    let holder = read_public_jwk(&args.holder_jwk)?;
    let Value::Object(claims) = read_json_file(&args.claims, "an object of claims")? else {
        return Err(fail(JSON, format!("{} must hold a JSON object of claims", args.claims.display())));
    };
    if !claims.get("iss").is_some_and(Value::is_string) {
        return Err(fail(JSON, format!("{} must contain the issuer identifier as \"iss\"", args.claims.display())));
    }
    let status =
        args.status_uri.as_ref().zip(args.status_idx).map(|(uri, idx)| StatusReference { uri: uri.clone(), idx });
    let now = now_unix();
    let issuer = VcIssuer::new(&issuer).map_err(coded)?;
    let lifetime = now..now.saturating_add(args.ttl);
    let sd_jwt = issuer
        .issue(&holder, &args.vct, claims, &claim_pointers(&args.sd), status.as_ref(), lifetime)
        .map_err(coded)?;
    println!("{sd_jwt}");
    Ok(ExitCode::SUCCESS)
}

fn present_cmd(args: &PresentArgs) -> Result<ExitCode> {
    let holder = read_private_jwk(&args.holder_key)?;
    let sd_jwt = SdJwt::parse(&read_stdin()?).map_err(coded).context("standard input is not an SD-JWT")?;
    check_holder_key(&sd_jwt, &holder, &args.holder_key)?;
    let disclose = claim_pointers(&args.disclose);
    let signing_key = holder.signing_key().map_err(coded)?;
    let presentation = present(&sd_jwt, &disclose, &signing_key, &args.aud, &args.nonce, now_unix()).map_err(coded)?;
    println!("{presentation}");
    Ok(ExitCode::SUCCESS)
}

/// Refuses a holder key other than the one the credential is bound to
/// (`cnf.jwk`): every verifier would refuse the key binding it signs, so the
/// holder learns it here rather than at the counter.
fn check_holder_key(sd_jwt: &SdJwt, holder: &PrivateJwk, path: &std::path::Path) -> Result<()> {
    let issuer_jwt = Jws::parse(sd_jwt.issuer_jwt(), "issuer-signed JWT").map_err(coded)?;
    let bound = issuer_jwt
        .payload()
        .get("cnf")
        .and_then(|cnf| cnf.get("jwk"))
        .ok_or_else(|| coded(CredentialError::MissingHolderKey))?;
    let bound = PublicJwk::from_value(bound).map_err(coded).context("the credential's cnf.jwk")?;
    if bound.thumbprint() != holder.public().thumbprint() {
        return Err(fail(
            HOLDER_KEY,
            format!(
                "{} is not the key this credential is bound to (cnf.jwk {}): every verifier would refuse the \
                 presentation",
                path.display(),
                bound.thumbprint()
            ),
        ));
    }
    Ok(())
}

fn verify_cmd(args: &VerifyArgs) -> Result<ExitCode> {
    let issuer = read_public_jwk(&args.issuer_jwk)?.verifying_key().map_err(coded)?;
    let now = now_unix();
    let status_list = match &args.status_list {
        None => None,
        Some(path) => {
            let signer = match &args.status_list_jwk {
                Some(jwk) => read_public_jwk(jwk)?.verifying_key().map_err(coded)?,
                None => issuer.clone(),
            };
            let token = StatusListToken::verify(&read_text(path)?, &signer, now, args.clock_skew)
                .map_err(coded)
                .with_context(|| format!("status list {}", path.display()))?;
            Some(token)
        }
    };
    let policy = PresentationPolicy {
        audience: &args.aud,
        nonce: &args.nonce,
        max_age_secs: args.max_age,
        clock_skew_secs: args.clock_skew,
    };
    let verified = verify_presentation(&read_stdin()?, &issuer, &policy, status_list.as_ref(), now).map_err(coded)?;
    if verified.status.is_some() && status_list.is_none() {
        eprintln!("warning: revocation status not checked (pass --status-list to check it)");
    }
    print_json(&Value::Object(verified.claims))?;
    Ok(ExitCode::SUCCESS)
}
