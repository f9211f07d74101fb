//! `shenfen-bench`: end-to-end measurements of shenfen on this machine — the
//! credential pipeline, the face engine, and enrollment, issuance and online
//! presentation through the real server stack — each beside a baseline
//! measured in the same run. Not shipped: the `shenfen` binary carries none
//! of this.
//!
//! Run: `cargo run -p shenfen-bench --release -- SUBCOMMAND [--json] …`.

mod authority;
mod credential;
mod enroll;
mod face;
mod gate;
mod hotel;
mod in_process_http;
mod issue;
mod models;
mod present;
mod timing;
mod trust;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Measure shenfen's performance on this machine.
#[derive(Parser)]
#[command(name = "shenfen-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Issue, present and verify rates on one thread, beside the raw ES256 verify rate.
    Credential(credential::BenchArgs),
    /// Per-stage and end-to-end latency per selfie on one thread, throughput on all cores.
    Face(face::BenchFaceArgs),
    /// Enrollment throughput of the server stack beside the face engine's, with latency.
    Enroll(enroll::BenchEnrollArgs),
    /// Issuance rate of the server stack beside the raw ES256 rate of the same credentials.
    Issue(issue::BenchIssueArgs),
    /// A railway gate device's passengers per minute (QR unpack + verify + replay + ticket update) beside the bare offline verify.
    Gate(gate::BenchGateArgs),
    /// A hotel desk's check-ins a second on one core (frame scan + verify + face + register write) beside the bare offline verify.
    Hotel(hotel::BenchHotelArgs),
    /// Online OpenID4VP round trips through the server beside in-process present + verify.
    Present(present::BenchPresentArgs),
}

fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Credential(args) => credential::run(&args),
        Command::Face(args) => face::run(&args),
        Command::Enroll(args) => enroll::run(&args),
        Command::Issue(args) => issue::run(&args),
        Command::Present(args) => present::run(&args),
        Command::Gate(args) => gate::run(&args),
        Command::Hotel(args) => hotel::run(&args),
    }
}
