//! `shenfen verifier sync` and `shenfen verify --qr`: a counter that checks
//! citizens' QR codes with no network, from a cache of trusted issuers' keys
//! and status lists refreshed while online.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shenfen_core::{AssuranceLevel, Purpose};
use shenfen_credential::VerifierCache;
use shenfen_server::{CounterPolicy, LiveFace, check_offline_qr, scan_qr};
use shenfen_verifier::{TrustSource, fetch_cache};

use crate::clock::now_unix;
use crate::coded_error::{ARGUMENT, FILE_READ, FILE_WRITE, JSON, QR_NOT_FOUND, QR_UNREADABLE, coded, fail};
use crate::face_cmd::{Common, load_image};
use crate::files::{io_reason, print_json, read_public_jwk, read_text};
use crate::rp_verifier_cmd;

const CACHE_FILE: &str = "verifier.json";
const SEEN_FILE: &str = "seen.json";

#[derive(Subcommand)]
pub(crate) enum VerifierCommand {
    /// Refresh the offline cache: the trusted authorities, their keys and
    /// their status lists — from a trust list signed by the trust anchor, or
    /// (for a single authority in a demo) from the authorities named.
    Sync {
        #[command(flatten)]
        trust: TrustArgs,
        /// The cache directory.
        #[arg(long)]
        cache: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a relying party's own OpenID4VP verifier on its own origin: the
    /// authority learns nothing about where a card is used (docs/PRIVACY.md).
    Serve(Box<rp_verifier_cmd::ServeArgs>),
}

/// Which authorities a verifier trusts, and where their keys come from.
#[derive(Args)]
pub(crate) struct TrustArgs {
    /// The signed trust list (`shenfen trust-list build`): its authorities
    /// and their keys are the only ones accepted.
    #[arg(long, requires = "anchor", required_unless_present = "servers")]
    trust_list: Option<PathBuf>,
    /// The trust anchor's public JWK, which signs the trust list.
    #[arg(long)]
    anchor: Option<PathBuf>,
    /// An authority's base URL, trusted with the keys it publishes (repeat per region).
    #[arg(long = "server", conflicts_with = "trust_list")]
    servers: Vec<String>,
}

impl TrustArgs {
    /// The trust source these arguments name.
    pub(crate) fn source(&self) -> Result<TrustSource> {
        Ok(match (&self.trust_list, &self.anchor) {
            (Some(list), Some(anchor)) => TrustSource::TrustList {
                jwt: read_text(list)?,
                anchor: read_public_jwk(anchor)?.verifying_key().map_err(coded)?,
            },
            _ => TrustSource::Servers(self.servers.clone()),
        })
    }
}

#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// A PNG or JPEG of the QR code.
    #[arg(long, required_unless_present = "qr_text", conflicts_with = "qr_text")]
    qr: Option<PathBuf>,
    /// The QR payload as base64url text (as `wallet qr --json` prints it).
    #[arg(long)]
    qr_text: Option<String>,
    /// What this counter checks for: hotel_checkin, age_check, ticket or clock_in.
    #[arg(long)]
    purpose: Purpose,
    /// The cache directory `verifier sync` fills.
    #[arg(long)]
    cache: PathBuf,
    /// A photo of the person in front of the counter, matched against an
    /// upgraded credential's signed face template (reaches L3).
    #[arg(long)]
    live_face: Option<PathBuf>,
    /// The assurance level required.
    #[arg(long, default_value = "L1")]
    level: AssuranceLevel,
    /// Oldest cache accepted, seconds.
    #[arg(long, default_value_t = 86_400)]
    max_cache_age: i64,
    /// Oldest QR accepted, seconds (it refreshes every 30).
    #[arg(long, default_value_t = 90)]
    max_qr_age: i64,
    /// Face models directory (default as for `shenfen face`).
    #[arg(long)]
    models: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Presentations accepted here, remembered until they could no longer verify.
#[derive(Default, Serialize, Deserialize)]
struct Seen {
    entries: Vec<(String, i64)>,
}

pub(crate) fn run_verifier(command: VerifierCommand) -> Result<ExitCode> {
    let (trust, cache, json) = match command {
        VerifierCommand::Sync { trust, cache, json } => (trust, cache, json),
        VerifierCommand::Serve(args) => return rp_verifier_cmd::run(&args),
    };
    let synced = fetch_cache(&trust.source()?, now_unix()).map_err(coded)?;
    if !json {
        for (issuer, list) in synced.issuers.iter().zip(&synced.status_lists) {
            println!("synced {}: {} keys, status list {}", issuer.issuer, issuer.keys.len(), list.uri);
        }
    }
    write_json(&cache.join(CACHE_FILE), &synced)?;
    if json {
        let issuers: Vec<&str> = synced.issuers.iter().map(|i| i.issuer.as_str()).collect();
        print_json(&json!({ "synced_at": synced.synced_at, "issuers": issuers }))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run_verify(args: &VerifyArgs) -> Result<ExitCode> {
    let now = now_unix();
    let payload = match (&args.qr, &args.qr_text) {
        (Some(image), _) => read_qr_image(image)?,
        (None, Some(text)) => URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| fail(ARGUMENT, "--qr-text is not base64url (what `wallet qr --json` prints as payload)"))?,
        (None, None) => return Err(fail(ARGUMENT, "give --qr or --qr-text")),
    };
    let cache: VerifierCache = read_cache(&args.cache)?;
    let policy = CounterPolicy {
        purpose: args.purpose,
        level: args.level,
        now,
        max_qr_age_secs: args.max_qr_age,
        max_cache_age_secs: args.max_cache_age,
    };
    let seen_path = args.cache.join(SEEN_FILE);
    let mut seen: Seen =
        std::fs::read_to_string(&seen_path).ok().and_then(|text| read_json(&seen_path, &text).ok()).unwrap_or_default();
    // Kept through the last second the presentation could verify.
    seen.entries.retain(|(_, until)| *until >= now);
    let live_photo = args.live_face.as_deref().map(load_image).transpose()?;
    let engine = match &live_photo {
        Some(_) => Some(Common { json: false, models: args.models.clone(), threshold: None }.engine(1)?),
        None => None,
    };
    let live = engine.as_ref().zip(live_photo.as_ref()).map(|(engine, image)| LiveFace { engine, image });
    let already_seen = |key: &str| seen.entries.iter().any(|(seen_key, _)| seen_key == key);
    let verdict = check_offline_qr(&payload, &cache, &policy, live, already_seen).map_err(coded)?;
    seen.entries.push((verdict.replay_key, verdict.remember_until));
    write_json(&args.cache.join(SEEN_FILE), &seen)?;
    let result = verdict.result;
    if args.json {
        print_json(&result)?;
    } else {
        let text = |name: &str| result[name].as_str().unwrap_or("?").to_owned();
        let claims: Vec<String> = result["claims"]
            .as_object()
            .map(|claims| {
                claims
                    .iter()
                    .map(|(name, value)| {
                        format!("{name} {}", value.as_str().map_or_else(|| value.to_string(), str::to_owned))
                    })
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "verified for {}: {} edition, level {}; {}",
            args.purpose,
            text("edition"),
            text("level"),
            claims.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Finds and decodes the QR code in an image (decoded as the face engine
/// decodes photos: by content, not by the file's name).
fn read_qr_image(path: &Path) -> Result<Vec<u8>> {
    let image = image::DynamicImage::ImageRgb8(load_image(path)?).to_luma8();
    match scan_qr(image) {
        None => Err(fail(QR_NOT_FOUND, format!("no QR code found in {}", path.display()))),
        Some(Err(why)) => Err(fail(QR_UNREADABLE, format!("the QR code in {} does not decode: {why}", path.display()))),
        Some(Ok(payload)) => Ok(payload),
    }
}

/// The cache `verifier sync` wrote in `dir`.
fn read_cache(dir: &Path) -> Result<VerifierCache> {
    let path = dir.join(CACHE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        let reason = io_reason(&e);
        fail(
            FILE_READ,
            format!("no verifier cache in {} ({reason}): run `shenfen verifier sync` while online", dir.display()),
        )
    })?;
    read_json(&path, &text)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| fail(JSON, format!("{} is not what this version writes: {e}", path.display())))
}

/// Writes through a temporary file and a rename: a crash leaves the old or the new file.
fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let temporary = path.with_extension("json.tmp");
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&temporary, serde_json::to_vec_pretty(value)?))
        .and_then(|()| std::fs::rename(&temporary, path));
    written.map_err(|e| fail(FILE_WRITE, format!("cannot write {}: {}", path.display(), io_reason(&e))))
}
