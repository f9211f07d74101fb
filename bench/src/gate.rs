//! `shenfen-bench gate`: a railway gate device's throughput — for each
//! passenger the gate's whole check as the services process runs it (the QR
//! payload unpacked, `verify_offline` against a cache holding the issuer's
//! key and a 131,072-entry status list, the QR remembered against replay,
//! the ticket marked used in the database) — beside the bare
//! `decode_qr_payload` + `verify_offline` of the same QRs, in the same run.
//! One gate device is one passenger at a time, so the gate runs sequentially.

use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Args;
use serde_json::json;
use shenfen_credential::{
    OfflinePolicy, PrivateJwk, SdJwt, VERIFIER_ATTESTATION_PREFIX, decode_qr_payload, encode_qr_payload, present,
    verify_offline,
};
use shenfen_services::rail::{Boarding, Bought, Gates, seed, sell};
use shenfen_services::sealed::Sealer;

use crate::timing::percentile;
use crate::trust::{ISSUER, issue_card, trust_cache};

const NOW: i64 = 1_800_000_000;
const RAILWAY: &str = "https://rail.example";

#[derive(Args)]
pub(crate) struct BenchGateArgs {
    /// Passengers through the gate (each a fresh ticket and QR; the train has 600 seats).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(10..=600))]
    passengers: u64,
    /// The services' database: postgres://… (default: a fresh SQLite file in a temporary directory).
    #[arg(long)]
    database_url: Option<String>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// One passenger: when they reach the gate, their ticket and the QR they show.
struct Passenger {
    at: i64,
    ticket: String,
    qr: String,
}

pub(crate) fn run(args: &BenchGateArgs) -> Result<ExitCode> {
    let n = usize::try_from(args.passengers)?;
    let dir = std::env::temp_dir().join(format!("shenfen-bench-gate-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let measured = tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(measure(
        n,
        &dir,
        args.database_url.as_deref(),
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let (gate, bare) = measured?;
    let per_minute =
        |samples: &[Duration]| 60.0 * samples.len() as f64 / samples.iter().sum::<Duration>().as_secs_f64();
    let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
    let report = json!({
        "passengers": n,
        "database": if args.database_url.is_some() { "postgres" } else { "sqlite" },
        "gate_per_minute": per_minute(&gate).round(),
        "gate_p50_ms": ms(percentile(&gate, 0.5)),
        "gate_p99_ms": ms(percentile(&gate, 0.99)),
        "bare_verify_offline_per_minute": per_minute(&bare).round(),
        "bare_p50_ms": ms(percentile(&bare, 0.5)),
        "bare_p99_ms": ms(percentile(&bare, 0.99)),
    });
    if args.json {
        println!("{report}");
    } else {
        println!("gate device, one passenger at a time ({n} passengers, {}):", report["database"]);
        println!(
            "  whole gate check   {:>10} /min   p50 {} ms   p99 {} ms",
            report["gate_per_minute"], report["gate_p50_ms"], report["gate_p99_ms"]
        );
        println!(
            "  bare verify_offline {:>9} /min   p50 {} ms   p99 {} ms",
            report["bare_verify_offline_per_minute"], report["bare_p50_ms"], report["bare_p99_ms"]
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The gate's and the bare check's time per passenger.
async fn measure(
    n: usize,
    dir: &std::path::Path,
    database_url: Option<&str>,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let url = database_url.map_or_else(|| format!("sqlite:{}", dir.join("services.db").display()), str::to_owned);
    let db = shenfen_services::Db::open(&url).await?;
    seed(&db, NOW).await?;
    let sealer = Sealer::new(&[7; 32])?;
    let train = format!("G1-{}", time::OffsetDateTime::from_unix_timestamp(NOW)?.date());
    let issuer = PrivateJwk::generate()?;
    let cache = trust_cache(&issuer, NOW)?;
    let mut passengers = Vec::with_capacity(n);
    let gate_audience = format!("{VERIFIER_ATTESTATION_PREFIX}{RAILWAY}");
    let pointers = ["/name".to_owned(), format!("/pseudonyms/{}", RAILWAY.replace('/', "~1"))];
    for i in 0..n {
        // The seeded G1 has 600 seats, hence at most 600 passengers, each
        // their own card: a passenger holds one ticket per train.
        let pseudonym = format!("{i:064x}");
        let (credential, holder) = passenger_card(&issuer, &pseudonym)?;
        let Bought::Ticket(ticket) = sell(&db, &sealer, &train, &pseudonym, None, NOW).await? else {
            anyhow::bail!("passenger {i} got no ticket");
        };
        // One passenger a second at the gate's clock, within the device's budget of scans a minute.
        let at = NOW + i64::try_from(i)?;
        let shown = present(&credential, &pointers, &holder.signing_key()?, &gate_audience, &format!("qr-{i}"), at)?;
        passengers.push(Passenger { at, ticket, qr: URL_SAFE_NO_PAD.encode(encode_qr_payload(&shown)?) });
    }
    let cache = Arc::new(RwLock::new(cache));
    let gates = Gates::new(db.clone(), cache.clone(), RAILWAY, None);
    let (mut gate, mut bare) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for passenger in &passengers {
        let policy = OfflinePolicy {
            now: passenger.at,
            clock_skew_secs: 60,
            max_age_secs: 90,
            max_cache_age_secs: 3600,
            audience: &gate_audience,
            required_claims: &["name", "pseudonyms"],
        };
        // Alternate the two, so drift (CPU frequency, a neighbour's load) affects both alike.
        let start = Instant::now();
        let payload = URL_SAFE_NO_PAD.decode(&passenger.qr)?;
        let presentation = decode_qr_payload(&payload)?;
        let cache = cache.read().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
        verify_offline(&presentation, &cache, &policy)?;
        bare.push(start.elapsed());
        let start = Instant::now();
        let passed =
            gates.pass("bench gate", Boarding::Ticket(&passenger.ticket), (&passenger.qr, None), passenger.at).await;
        gate.push(start.elapsed());
        ensure!(passed.is_ok_and(|p| p["passed"] == true), "a valid passenger was refused");
    }
    db.close().await;
    Ok((gate, bare))
}

/// A passenger's card from `issuer` with the railway's `pseudonym`, and its holder key.
fn passenger_card(issuer: &PrivateJwk, pseudonym: &str) -> Result<(SdJwt, PrivateJwk)> {
    let holder = PrivateJwk::generate()?;
    let claims = json!({
        "iss": ISSUER, "edition": "lightweight", "name": "王建国", "id_number_masked": "110105********0136",
        "age_over_18": true, "pseudonyms": { RAILWAY: pseudonym, "https://hotel.example": "11ab".repeat(16) },
    });
    let disclosable: Vec<String> = vec![
        "/name".into(),
        "/id_number_masked".into(),
        "/age_over_18".into(),
        "/pseudonyms".into(),
        format!("/pseudonyms/{}", RAILWAY.replace('/', "~1")),
        "/pseudonyms/https:~1~1hotel.example".into(),
    ];
    let credential = issue_card(issuer, &holder, ("urn:shenfen:id:lightweight:1", &claims), &disclosable, NOW)?;
    Ok((credential, holder))
}
