//! `shenfen`: the command line of the shenfen virtual ID card platform.
//!
//! Every subcommand is a thin shell over the domain crates: it reads files and
//! standard input, calls `shenfen-core` / `shenfen-credential`, and prints JSON
//! or a readable report. Failures print one line `error: [CODE] reason` on
//! standard error and exit 1 (refused), 2 (usage) or 3 (input or
//! environment), decided in `coded_error`, so scripts can drive every command.

mod attack_sets;
mod audit_cmd;
mod clock;
mod coded_error;
mod counter_cmd;
mod credential_cmd;
mod data_dir;
mod demo;
mod face_cmd;
mod files;
mod id_number_cmd;
mod keys_cmd;
mod operator_cmd;
mod registry_cmd;
mod registry_synth;
mod rp_cmd;
mod rp_verifier_cmd;
mod serve_cmd;
mod serve_config;
mod services_cmd;
mod status_list_cmd;
mod trust_list_cmd;
mod verify_cmd;
mod wallet_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// shenfen (身份): a virtual ID card that proves who you are without handing out your ID number.
#[derive(Parser)]
#[command(name = "shenfen", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Walk through keys → issue → present → verify → revoke, then run the whole
    /// local stack: demo registry with real photos, embedded database, server.
    Demo(demo::DemoArgs),
    /// Manage P-256 signing keys (JWK files).
    #[command(subcommand)]
    Keys(keys_cmd::KeysCommand),
    /// Issue, present and verify SD-JWT VCs.
    #[command(subcommand)]
    Credential(credential_cmd::CredentialCommand),
    /// Build and check IETF Token Status Lists.
    #[command(subcommand, name = "status-list")]
    StatusList(status_list_cmd::StatusListCommand),
    /// Run the authority's HTTP server.
    Serve(serve_cmd::ServeArgs),
    /// Run the seed's services (the government portal with business
    /// registration), relying parties of the authority over HTTP only.
    Services(services_cmd::ServicesArgs),
    /// Build and import the population registry.
    #[command(subcommand)]
    Registry(registry_cmd::RegistryCommand),
    /// Check the authority's hash-chained audit log.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// The citizen's wallet: init, enroll, list, log, offline QR.
    #[command(subcommand)]
    Wallet(wallet_cmd::WalletCommand),
    /// Keep a counter's offline cache of trusted authorities' keys and status lists, or run a relying party's own verifier.
    #[command(subcommand)]
    Verifier(verify_cmd::VerifierCommand),
    /// Verify a citizen's QR code offline, from the verifier cache.
    Verify(verify_cmd::VerifyArgs),
    /// Sign the trust list of regional authorities (the national trust anchor).
    #[command(subcommand, name = "trust-list")]
    TrustList(trust_list_cmd::TrustListCommand),
    /// Register relying parties with the verifier service.
    #[command(subcommand)]
    Rp(rp_cmd::RpCommand),
    /// Manage the authority's operator accounts.
    #[command(subcommand)]
    Operator(operator_cmd::OperatorCommand),
    /// Register counter devices (front desks, gates) that check QR codes with the authority.
    #[command(subcommand)]
    Counter(counter_cmd::CounterCommand),
    /// Detect, compare and check the liveness of faces.
    #[command(subcommand)]
    Face(face_cmd::FaceCommand),
    /// Validate resident ID numbers (GB 11643-1999).
    #[command(subcommand, name = "id-number")]
    IdNumber(id_number_cmd::IdNumberCommand),
}

fn main() -> ExitCode {
    // A reader that stops early (`shenfen … --json | head -1`) ends the
    // command as it ends `cat` or `grep`: by SIGPIPE, not by a panic on the
    // next write (Rust ignores SIGPIPE, and `println!` panics on EPIPE). A
    // state change is one transaction, so an interrupted command leaves none
    // half done.
    sigpipe::reset();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return coded_error::usage(&err, json_requested()),
    };
    let outcome = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Keys(cmd) => keys_cmd::run(cmd),
        Command::Credential(cmd) => credential_cmd::run(cmd),
        Command::StatusList(cmd) => status_list_cmd::run(cmd),
        Command::IdNumber(cmd) => id_number_cmd::run(cmd),
        Command::Face(cmd) => face_cmd::run(cmd),
        Command::Registry(cmd) => registry_cmd::run(cmd),
        Command::Serve(args) => serve_cmd::run(&args),
        Command::Services(args) => services_cmd::run(args),
        Command::Audit(cmd) => audit_cmd::run(cmd),
        Command::Operator(cmd) => operator_cmd::run(cmd),
        Command::Counter(cmd) => counter_cmd::run(cmd),
        Command::Rp(cmd) => rp_cmd::run(cmd),
        Command::TrustList(cmd) => trust_list_cmd::run(cmd),
        Command::Wallet(cmd) => wallet_cmd::run(cmd),
        Command::Verifier(cmd) => verify_cmd::run_verifier(cmd),
        Command::Verify(args) => verify_cmd::run_verify(&args),
    };
    outcome.unwrap_or_else(|err| coded_error::report(&err, json_requested()))
}

/// Whether the command line asked for JSON output.
fn json_requested() -> bool {
    std::env::args().skip(1).any(|arg| arg == "--json")
}
