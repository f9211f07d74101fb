//! `shenfen wallet …`: the citizen's wallet on the command line — what the
//! web wallet does, for scripts and tests. The wallet PIN comes from
//! `$SHENFEN_WALLET_PIN`, or one line of standard input.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Subcommand};
use serde_json::json;
use shenfen_core::Purpose;
use shenfen_wallet::Wallet;
use shenfen_wallet::authority::{AuthorityClient, EnrollmentRequest};

use crate::clock::now_unix;
use crate::coded_error::{ARGUMENT, DECLINED, FILE_READ, FILE_WRITE, coded, fail};
use crate::files::{io_reason, print_json, read_bytes};

/// Options of every wallet command.
#[derive(Args)]
pub(crate) struct WalletArgs {
    /// The wallet's directory.
    #[arg(long)]
    wallet: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub(crate) enum WalletCommand {
    /// Create an empty wallet sealed under a new wallet PIN.
    Init(WalletArgs),
    /// Enroll with an authority and receive a batch of single-use credentials.
    Enroll {
        #[command(flatten)]
        wallet: WalletArgs,
        /// The authority's base URL.
        #[arg(long)]
        server: String,
        /// The ID number on the card.
        #[arg(long)]
        id_number: String,
        /// The name on the card.
        #[arg(long)]
        name: String,
        /// The card's expiry: YYYY-MM-DD, or 长期.
        #[arg(long)]
        card_expiry: String,
        /// Camera frames performing the challenge, in order (JPEG/PNG/WebP).
        #[arg(long, num_args = 1.., required = true)]
        frames: Vec<PathBuf>,
        /// lightweight, or upgraded (after a counter visit; the PIN for the
        /// authority comes from $SHENFEN_AUTHORITY_PIN).
        #[arg(long, default_value = "lightweight")]
        edition: String,
        /// The code on the counter's slip (upgraded edition).
        #[arg(long)]
        tx_code: Option<String>,
        /// Single-use credentials to ask for.
        #[arg(long, default_value_t = 10)]
        batch: usize,
    },
    /// List the credentials held.
    List(WalletArgs),
    /// Show the disclosure log: what went to whom, when, at which level.
    Log(WalletArgs),
    /// Answer an online OpenID4VP request (spends one credential), after a
    /// consent prompt on the terminal unless --yes.
    Present {
        #[command(flatten)]
        wallet: WalletArgs,
        /// The openid4vp:// link (or the request_uri) the relying party showed.
        #[arg(long)]
        request: String,
        /// Consent without asking.
        #[arg(long)]
        yes: bool,
        /// Share the claims the request marks optional too (least disclosure: not by default).
        #[arg(long)]
        share_optional: bool,
        /// Live frames for an L3 request (the PIN for L2/L3 comes from $SHENFEN_AUTHORITY_PIN).
        #[arg(long, num_args = 1..)]
        frames: Vec<PathBuf>,
    },
    /// Render an offline QR code for a purpose (spends one credential).
    Qr {
        #[command(flatten)]
        wallet: WalletArgs,
        /// hotel_checkin, age_check, ticket or clock_in.
        #[arg(long, required_unless_present = "service", conflicts_with = "service")]
        purpose: Option<Purpose>,
        /// A service's check-in link (`<authority>/wallet/?service=<attestation>`, as its desk shows it):
        /// the QR is bound to that service and shows what the authority entitled it to.
        #[arg(long)]
        service: Option<String>,
        /// Where to write the PNG.
        #[arg(long)]
        out: PathBuf,
    },
}

pub(crate) fn run(command: WalletCommand) -> Result<ExitCode> {
    match command {
        WalletCommand::Init(args) => {
            let pin = wallet_pin()?;
            Wallet::init(&args.wallet, &pin).map_err(coded)?;
            report(&args, &json!({ "wallet": args.wallet, "created": true }), "wallet created")?;
        }
        WalletCommand::Enroll { wallet, server, id_number, name, card_expiry, frames, edition, tx_code, batch } => {
            let mut held = open(&wallet)?;
            let frames = read_frames(&frames)?;
            let authority_pin = std::env::var("SHENFEN_AUTHORITY_PIN").ok();
            if edition == "upgraded" && authority_pin.is_none() {
                return Err(fail(
                    ARGUMENT,
                    "the upgraded edition needs the PIN to set with the authority in $SHENFEN_AUTHORITY_PIN",
                ));
            }
            let request = EnrollmentRequest {
                server: &server,
                id_number: &id_number,
                name: &name,
                card_expiry: &card_expiry,
                edition: &edition,
                frames: &frames,
                pin: authority_pin.as_deref().filter(|_| edition == "upgraded"),
                tx_code: tx_code.as_deref(),
                batch,
            };
            let issued = AuthorityClient::new(&server).enroll(&request, now_unix()).map_err(coded)?;
            let count = held.replace_credentials(issued, now_unix()).map_err(coded)?;
            report(
                &wallet,
                &json!({ "credentials": count, "edition": edition }),
                &format!("enrolled: {count} single-use credentials ({edition})"),
            )?;
        }
        WalletCommand::List(args) => {
            let held = open(&args)?;
            let listed: Vec<_> = held
                .credentials()
                .iter()
                .map(|c| json!({ "issuer": c.issuer, "edition": c.edition, "vct": c.vct, "expires_at": c.expires_at, "used": c.used }))
                .collect();
            if args.json {
                print_json(&json!({ "credentials": listed, "unused": held.unused(now_unix()) }))?;
            } else {
                println!("{} credentials, {} unused", listed.len(), held.unused(now_unix()));
                for c in held.credentials() {
                    println!(
                        "  {} {:<11} expires {} {}",
                        c.issuer,
                        c.edition,
                        c.expires_at,
                        if c.used { "used" } else { "unused" }
                    );
                }
            }
        }
        WalletCommand::Log(args) => {
            let held = open(&args)?;
            if args.json {
                print_json(&json!({ "log": held.log() }))?;
            } else {
                for r in held.log() {
                    println!("{} {} {} {} [{}]", r.at, r.channel, r.to, r.level, r.claims.join(", "));
                }
            }
        }
        WalletCommand::Present { wallet, request, yes, share_optional, frames } => {
            let mut held = open(&wallet)?;
            let issuer = next_issuer(&held)?;
            let client = AuthorityClient::new(&issuer);
            let mut asked = client.fetch_request(&request).map_err(coded)?;
            if share_optional {
                let optional = std::mem::take(&mut asked.optional_claims);
                asked.claims.extend(optional);
            }
            let claims: Vec<String> = asked.claims.iter().map(|p| p.join("/")).collect();
            if !yes && !consent(&asked, &claims)? {
                return Err(fail(DECLINED, "not shared: the citizen declined"));
            }
            let frames = read_frames(&frames)?;
            let pin = std::env::var("SHENFEN_AUTHORITY_PIN").ok();
            if asked.level != "L1" && pin.is_none() {
                let reason = format!(
                    "{} asks for {}: set the PIN in $SHENFEN_AUTHORITY_PIN (and give --frames for L3)",
                    asked.client_name, asked.level
                );
                return Err(fail(ARGUMENT, reason));
            }
            let (presentation, assertion, record) = held
                .present_online(&asked, now_unix(), |credential, key| match (&pin, asked.level.as_str()) {
                    (Some(pin), "L2" | "L3") => {
                        let frames = if asked.level == "L3" { frames.as_slice() } else { &[] };
                        client.assertion(credential, key, pin, frames, &asked, now_unix()).map(Some)
                    }
                    _ => Ok(None),
                })
                .map_err(coded)?;
            client.send_presentation(&asked, &presentation, assertion.as_deref()).map_err(coded)?;
            let summary = json!({ "to": record.to, "client_name": asked.client_name, "claims": record.claims, "level": record.level });
            report(&wallet, &summary, &format!("shared {} with {}", record.claims.join(", "), asked.client_name))?;
        }
        WalletCommand::Qr { wallet, purpose, service, out } => {
            let mut held = open(&wallet)?;
            let presentation = match (purpose, service) {
                (Some(purpose), _) => held.present_offline(purpose, now_unix()).map_err(coded)?,
                (None, Some(link)) => {
                    let issuer = next_issuer(&held)?;
                    let attestation =
                        AuthorityClient::new(&issuer).fetch_attestation(&link, now_unix()).map_err(coded)?;
                    held.present_to_service(&attestation, now_unix()).map_err(coded)?
                }
                (None, None) => return Err(fail(ARGUMENT, "give --purpose or --service")),
            };
            write_qr_png(&presentation.payload, &out)?;
            let summary = json!({
                "purpose": presentation.record.purpose,
                "to": presentation.record.to,
                "claims": presentation.record.claims,
                "payload_bytes": presentation.payload.len(),
                "payload": URL_SAFE_NO_PAD.encode(&presentation.payload),
                "out": out,
            });
            report(
                &wallet,
                &summary,
                &format!(
                    "QR for {} ({} bytes) written to {}",
                    presentation.record.purpose,
                    presentation.payload.len(),
                    out.display()
                ),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The authority of the next copy the wallet would show: the one whose keys vouch for what it is shown.
fn next_issuer(held: &Wallet) -> Result<String> {
    held.credentials()
        .iter()
        .find(|c| !c.used && c.expires_at > now_unix())
        .map(|c| c.issuer.clone())
        .ok_or_else(|| coded(shenfen_wallet::WalletError::NoCredential))
}

fn report(args: &WalletArgs, value: &serde_json::Value, text: &str) -> Result<()> {
    if args.json {
        print_json(value)
    } else {
        println!("{text}");
        Ok(())
    }
}

fn open(args: &WalletArgs) -> Result<Wallet> {
    Wallet::open(&args.wallet, &wallet_pin()?).map_err(coded)
}

/// The bytes of camera frame files, in order.
fn read_frames(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>> {
    paths.iter().map(|p| read_bytes(p)).collect()
}

/// The consent screen on a terminal: who asks, what, why, at which level.
fn consent(asked: &shenfen_wallet::authority::PresentationRequest, claims: &[String]) -> Result<bool> {
    eprintln!("{} ({}) asks for: {}", asked.client_name, asked.client_id, claims.join(", "));
    eprintln!("  why: {}", asked.purpose);
    if !asked.questions.is_empty() {
        eprintln!("  and the yes/no answers (only the answers) to: {}", asked.questions.join(", "));
    }
    if !asked.optional_claims.is_empty() {
        let optional: Vec<String> = asked.optional_claims.iter().map(|p| p.join("/")).collect();
        eprintln!("  optional, not shared (--share-optional shares them): {}", optional.join(", "));
    }
    let level = match asked.level.as_str() {
        "L2" => "L2 (this phone's key and your PIN)",
        "L3" => "L3 (this phone's key, your PIN and your face)",
        _ => "L1 (this phone's key)",
    };
    eprintln!("  level: {level}");
    eprint!("Share? [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| fail(FILE_READ, format!("cannot read the answer: {}", io_reason(&e))))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// The wallet PIN: `$SHENFEN_WALLET_PIN`, else one line of standard input.
fn wallet_pin() -> Result<String> {
    if let Ok(pin) = std::env::var("SHENFEN_WALLET_PIN") {
        return Ok(pin);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| fail(FILE_READ, format!("cannot read the wallet PIN from standard input: {}", io_reason(&e))))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Renders `payload` as a QR code (byte mode, error correction L, 8 pixels per module).
pub(crate) fn write_qr_png(payload: &[u8], out: &Path) -> Result<()> {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::L)
        .context("the payload does not fit a QR code")?;
    let image = code.render::<image::Luma<u8>>().module_dimensions(8, 8).build();
    image.save(out).map_err(|e| fail(FILE_WRITE, format!("cannot write {}: {e}", out.display())))
}
