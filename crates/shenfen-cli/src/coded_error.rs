//! The command line's failure contract (docs/CLI.md): every failure is one
//! line `error: [CODE] reason` on standard error, with a code documented in
//! docs/ERRORS.md, and an exit status chosen here, in one place, from the
//! kind of failure its code names — never by the command that met it.

use std::process::ExitCode;

use serde_json::{Map, Value, json};
use shenfen_core::CoreError;
use shenfen_credential::CredentialError;
use shenfen_face::FaceError;
use shenfen_server::{BuildError, CounterError, RegistrationError};
use shenfen_store::StoreError;
use shenfen_verifier::VerifierError;
use shenfen_wallet::WalletError;

/// A file named on the command line (or the file one names) cannot be read.
pub(crate) const FILE_READ: &str = "cli.file.read";
/// A file cannot be written (or must not exist yet and does).
pub(crate) const FILE_WRITE: &str = "cli.file.write";
/// A file or standard input is not the JSON the command expects.
pub(crate) const JSON: &str = "cli.json";
/// A file is not in the format the command reads (CSV rows, a pairs list, a session directory).
pub(crate) const FORMAT: &str = "cli.format";
/// A JWK Set file is not `{"keys": [...]}` with at least one key.
pub(crate) const JWKS: &str = "cli.jwks";
/// A value the command line cannot express in its types: out of range, malformed.
pub(crate) const ARGUMENT: &str = "cli.argument";
/// An image with no QR code in it (`verify --qr`).
pub(crate) const QR_NOT_FOUND: &str = "cli.qr.not_found";
/// A QR code seen in an image that does not decode.
pub(crate) const QR_UNREADABLE: &str = "cli.qr.unreadable";
/// A private key given where only a public one may be (the police's key).
pub(crate) const PRIVATE_KEY: &str = "cli.private_key";
/// A holder key that is not the one the credential is bound to.
pub(crate) const HOLDER_KEY: &str = "cli.holder_key";
/// An operator or relying party the database does not hold.
pub(crate) const NOT_REGISTERED: &str = "cli.not_registered";
/// The citizen declined to share (`wallet present`).
pub(crate) const DECLINED: &str = "wallet.declined";
/// Clap's own refusals: an unknown flag, a missing argument, a value of the wrong type.
const USAGE: &str = "cli.usage";
/// A read or write of a file, pipe or socket failed where no code was foreseen.
const IO: &str = "cli.io";
/// A failure the command line did not foresee; its reason says what happened.
const UNEXPECTED: &str = "cli.unexpected";
/// Two faces that are not the same person (`face compare`).
pub(crate) const FACE_NO_MATCH: &str = "face.no_match";
/// A burst of frames that failed its liveness check (`face liveness`).
pub(crate) const LIVENESS_FAILED: &str = "face.liveness.failed";

/// The kinds of failure, each with its own exit status, for scripts to switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Exit 1: the answer is no — a credential or QR refused, faces that do
    /// not match, a liveness check failed, a broken audit chain, an invalid ID number.
    Refused,
    /// Exit 2: the command line itself is wrong (clap's refusals, and a
    /// flag's value the types cannot check, `cli.argument`).
    Usage,
    /// Exit 3: an input or the environment is wrong — a missing, unreadable or
    /// malformed file, a wrong kind of key, an unreachable or unknown database,
    /// no usable face in an image, missing models, a stale cache.
    Input,
}

/// Codes that mean "checked, and refused" (exit 1); a code ending in `.`
/// stands for its whole family. Every other code is an input or environment failure.
const REFUSALS: [&str; 25] = [
    "core.id_number.",
    "credential.signature",
    "credential.jws.algorithm",
    "credential.jws.typ",
    "credential.sd_alg",
    "credential.disclosure.duplicate",
    "credential.disclosure.unreferenced",
    "credential.disclosure.reserved_name",
    "credential.disclosure.collision",
    "credential.disclosure.kind",
    "credential.digest.duplicate",
    "credential.sd.",
    "credential.time.",
    "credential.kb.",
    "credential.claim.missing",
    "credential.vc.hidden_required_claim",
    "credential.status.revoked",
    "credential.status.subject",
    "credential.offline.untrusted_issuer",
    "credential.offline.replayed",
    "credential.offline.face_mismatch",
    "credential.level",
    "credential.purpose.",
    "face.no_match",
    "face.liveness.failed",
];

/// Refusals of other crates' families named one by one (kept apart so the
/// families above read as the credential checks they are).
const OTHER_REFUSALS: [&str; 4] = ["store.audit.broken", "wallet.refused", "wallet.pin.wrong", DECLINED];

impl Failure {
    /// The kind of failure a code names.
    pub(crate) fn of_code(code: &str) -> Failure {
        let listed = |entry: &&str| if entry.ends_with('.') { code.starts_with(*entry) } else { code == *entry };
        if code == USAGE || code == ARGUMENT {
            Failure::Usage
        } else if REFUSALS.iter().chain(&OTHER_REFUSALS).any(listed) {
            Failure::Refused
        } else {
            Failure::Input
        }
    }

    /// The process exit status of this kind.
    pub(crate) fn exit_status(self) -> u8 {
        match self {
            Failure::Refused => 1,
            Failure::Usage => 2,
            Failure::Input => 3,
        }
    }
}

/// A failure with its stable code; what `main` prints as `error: [code] reason`.
#[derive(Debug)]
pub(crate) struct CodedError {
    code: &'static str,
    reason: String,
    /// What the command prints on standard output for this failure (its
    /// verdict's details), merged with `ok`, `code` and `reason`.
    stdout_json: Option<Map<String, Value>>,
}

impl std::fmt::Display for CodedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for CodedError {}

/// A domain error with a stable code (docs/ERRORS.md).
pub(crate) trait Coded: std::fmt::Display {
    /// The stable code.
    fn code(&self) -> &'static str;
}

macro_rules! coded_errors {
    ($($error:ty),*) => {
        $(
            impl Coded for $error {
                fn code(&self) -> &'static str {
                    <$error>::code(self)
                }
            }
        )*

        /// The code of a domain error a command passed on with `?` as it came.
        fn domain_code(err: &anyhow::Error) -> Option<&'static str> {
            err.chain().find_map(|cause| {
                $(
                    if let Some(domain) = cause.downcast_ref::<$error>() {
                        return Some(domain.code());
                    }
                )*
                None
            })
        }
    };
}

coded_errors!(
    BuildError,
    CoreError,
    CounterError,
    CredentialError,
    FaceError,
    RegistrationError,
    StoreError,
    VerifierError,
    WalletError
);

/// A domain error as a failure of the command, under its own code.
pub(crate) fn coded(err: impl Coded) -> anyhow::Error {
    fail(err.code(), err.to_string())
}

/// A failure under `code` (one of this module's, or a domain code).
pub(crate) fn fail(code: &'static str, reason: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(CodedError { code, reason: reason.into(), stdout_json: None })
}

/// A verdict that is "no" (exit 1 for a refusal code), with the details the
/// command prints as JSON on standard output, if it prints JSON.
pub(crate) fn verdict(code: &'static str, reason: impl Into<String>, stdout_json: Option<Value>) -> anyhow::Error {
    let stdout_json = stdout_json.and_then(|value| match value {
        Value::Object(map) => Some(map),
        _ => None,
    });
    anyhow::Error::new(CodedError { code, reason: reason.into(), stdout_json })
}

/// Prints `err` as the contract says and gives the exit status of its kind:
/// one line on standard error, and with `--json` (or when the command prints
/// its verdict as JSON) `{"ok": false, "code", "reason", …}` on standard output.
pub(crate) fn report(err: &anyhow::Error, json_requested: bool) -> ExitCode {
    let found = err.downcast_ref::<CodedError>();
    let (code, reason) = (code_of(err), one_line(err));
    let details = found.and_then(|e| e.stdout_json.clone());
    if json_requested || details.is_some() {
        let mut refusal = details.unwrap_or_default();
        refusal.insert("ok".into(), Value::Bool(false));
        refusal.insert("code".into(), json!(code));
        refusal.insert("reason".into(), json!(reason));
        println!("{}", Value::Object(refusal));
    }
    eprintln!("error: [{code}] {reason}");
    ExitCode::from(Failure::of_code(code).exit_status())
}

/// `[code] reason`: a failure that does not end the command (a registry
/// row skipped), reported in the same words as one that does.
pub(crate) fn coded_line(err: &anyhow::Error) -> String {
    format!("[{}] {}", code_of(err), one_line(err))
}

/// The stable code of a failure: its own, a domain error's, or the fallback.
fn code_of(err: &anyhow::Error) -> &'static str {
    err.downcast_ref::<CodedError>().map(|e| e.code).or_else(|| domain_code(err)).unwrap_or_else(|| fallback_code(err))
}

/// The code of a failure no command coded: an I/O failure, or unexpected.
fn fallback_code(err: &anyhow::Error) -> &'static str {
    if err.chain().any(|cause| cause.is::<std::io::Error>()) { IO } else { UNEXPECTED }
}

/// The error and its causes on one line, so a script's log stays one record per failure.
fn one_line(err: &anyhow::Error) -> String {
    let joined = err.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ");
    joined.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Clap's refusal of the command line as one coded line (exit 2); help and
/// the version are printed as clap prints them (exit 0).
pub(crate) fn usage(err: &clap::Error, json_requested: bool) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    let reason = if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        "a subcommand is missing".to_owned()
    } else {
        clap_reason(&err.render().to_string())
    };
    let command: Vec<String> = std::env::args().skip(1).take_while(|arg| !arg.starts_with('-')).collect();
    let help = format!("shenfen {} --help", command.join(" "));
    report(&fail(USAGE, format!("{reason}; `{}` says more", help.replace("  ", " "))), json_requested)
}

/// The sentences of a clap error message before its usage line, on one line.
fn clap_reason(rendered: &str) -> String {
    rendered
        .split("\n\n")
        .take_while(|paragraph| !paragraph.trim_start().starts_with("Usage:"))
        .map(|paragraph| paragraph.trim().trim_start_matches("error:").trim().to_owned())
        .filter(|paragraph| !paragraph.is_empty() && !paragraph.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_exit_1_usage_2_and_everything_else_3() {
        for code in ["credential.kb.too_old", "credential.time.expired", "core.id_number.checksum", "face.no_match"] {
            assert_eq!(Failure::of_code(code), Failure::Refused, "{code}");
        }
        assert_eq!(Failure::of_code("store.audit.broken"), Failure::Refused);
        assert_eq!(Failure::of_code(USAGE), Failure::Usage);
        for code in
            ["credential.jwk.invalid", "credential.sd_jwt.malformed", "store.url", FILE_READ, "face.quality.no_face"]
        {
            assert_eq!(Failure::of_code(code), Failure::Input, "{code}");
        }
        // A family prefix does not swallow a neighbouring name.
        assert_eq!(Failure::of_code("credential.status.index"), Failure::Input);
    }

    #[test]
    fn a_clap_message_becomes_its_sentences_without_the_usage() {
        let rendered = "error: unexpected argument '--ot' found\n\n  tip: a similar argument exists: '--out'\n\n\
                        Usage: shenfen keys generate --out <OUT>\n\nFor more information, try '--help'.\n";
        assert_eq!(clap_reason(rendered), "unexpected argument '--ot' found; tip: a similar argument exists: '--out'");
        let rendered = "error: invalid value '0' for '--valid-days <VALID_DAYS>': 0 is not in 1..=3650\n\n\
                        For more information, try '--help'.\n";
        assert_eq!(clap_reason(rendered), "invalid value '0' for '--valid-days <VALID_DAYS>': 0 is not in 1..=3650");
    }

    #[test]
    fn the_line_names_the_code_once_and_the_context_before_the_cause() {
        let err = fail("store.url", "unsupported database URL \"x\"").context("cannot open the database");
        assert_eq!(err.downcast_ref::<CodedError>().map(|e| e.code), Some("store.url"));
        assert_eq!(one_line(&err), "cannot open the database: unsupported database URL \"x\"");
    }
}
