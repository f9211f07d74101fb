//! `shenfen-bench present`: online OpenID4VP round trips through the server
//! stack (the relying party's request, the signed request object, the
//! wallet's key-bound presentation, `direct_post`, verification against keys
//! and status, the result read once — SQLite), beside the in-process
//! present-and-verify of the same credentials, both on every core, in the
//! same run.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use clap::Args;
use serde_json::{Value, json};
use shenfen_credential::{Jws, KeyBindingCheck, PrivateJwk, SdJwt, VerifyOptions, child_pointer, present, verify_vc};
use shenfen_server::{AppState, CREDENTIAL_QUERY_ID, Policy, router, token_hash};
use shenfen_store::{AuditEvent, RelyingParty};

use crate::authority::authority_without_face_work;
use crate::in_process_http::{get_json, get_text, post};
use crate::issue::{issue_one, prepare};
use crate::models::Models;
use crate::timing::{chunked, concurrently, cores, now_unix, parallel, percentile};

const RP: &str = "https://hotel.bench.example";
const RP_KEY: &str = "bench-relying-party-key";

#[derive(Args)]
pub(crate) struct BenchPresentArgs {
    /// Round trips per round (each spends one single-use credential of the
    /// round's batch; a batch request must fit the 64 KiB body limit).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(2..=120))]
    round_trips: u64,
    /// Rounds, each with a fresh batch (a new batch revokes the previous one).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// The authority loads its face engine even though presenting does not use it.
    #[command(flatten)]
    models: Models,
}

pub(crate) fn run(args: &BenchPresentArgs) -> Result<ExitCode> {
    let n = usize::try_from(args.round_trips)?;
    let cores = cores();
    let policy = Policy { max_batch: n, ..Policy::default() };
    let (rt, state, dir) = authority_without_face_work("present", &args.models, policy)?;
    rt.block_on(register(&state))?;
    let app = router(state.clone());

    let issuer = state.authority.issuer.public.verifying_key()?;
    let in_process = |(credential, holder): &(SdJwt, PrivateJwk)| -> Result<()> {
        let pointers = ["/name".to_owned(), child_pointer("/pseudonyms", RP)];
        let presentation = present(credential, &pointers, &holder.signing_key()?, RP, "n-1", now_unix())?;
        let options = VerifyOptions {
            now: now_unix(),
            clock_skew_secs: 60,
            expected_typ: None,
            key_binding: Some(KeyBindingCheck { audience: RP, nonce: "n-1", max_age_secs: 300 }),
        };
        verify_vc(&presentation, &issuer, &options)?;
        Ok(())
    };
    // Rounds alternate the two, each on a fresh batch (the server's round uses
    // the latest batch, which is the valid one).
    let (mut baseline_time, mut server_time, mut latencies) = (Duration::ZERO, Duration::ZERO, Vec::new());
    for _ in 0..args.rounds {
        let baseline_set = rt.block_on(credentials(&app, &state, n))?;
        let next = std::sync::atomic::AtomicUsize::new(0);
        let start = Instant::now();
        parallel(n, cores, || {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            in_process(&baseline_set[i.min(n - 1)])
        })?;
        baseline_time += start.elapsed();
        let server_set = rt.block_on(credentials(&app, &state, n))?;
        let shared = app.clone();
        let start = Instant::now();
        latencies.extend(rt.block_on(concurrently(chunked(server_set, cores), move |held| {
            let app = shared.clone();
            async move { round_trip(&app, held).await }
        }))?);
        server_time += start.elapsed();
    }
    let total = (n as u64 * args.rounds) as f64;
    let baseline_rate = total / baseline_time.as_secs_f64();
    let server_rate = latencies.len() as f64 / server_time.as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let report = json!({
        "round_trips": latencies.len(),
        "threads": cores,
        "in_process_present_verify_per_sec": baseline_rate,
        "openid4vp_round_trips_per_sec": server_rate,
        "http_overhead": baseline_rate / server_rate - 1.0,
        "round_trip_latency_ms": { "p50": ms(percentile(&latencies, 0.5)), "p99": ms(percentile(&latencies, 0.99)) },
    });
    if args.json {
        println!("{report}");
    } else {
        println!("shenfen-bench present — {} OpenID4VP round trips on {cores} threads (SQLite)", latencies.len());
        println!("  in process: present + verify     {baseline_rate:>8.0} /s");
        println!(
            "  OpenID4VP over the server stack  {server_rate:>8.0} /s   = {:.0} % more time per check   p50 {:.1} ms  p99 {:.1} ms",
            100.0 * (baseline_rate / server_rate - 1.0),
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99))
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn register(state: &AppState) -> Result<()> {
    let party = RelyingParty {
        client_id: RP.into(),
        name: "Bench Hotel".into(),
        claims: vec!["name".into()],
        api_key_hash: token_hash(RP_KEY),
        created_at: now_unix(),
        openid: None,
    };
    let event = AuditEvent {
        at: now_unix(),
        kind: "relying_party.saved".into(),
        actor: "bench".into(),
        subject: None,
        details: json!({}),
    };
    Ok(state.store.put_relying_party(&party, event).await?)
}

/// `count` single-use credentials in one batch through the issuance endpoints,
/// with their keys. (A new batch revokes the citizen's earlier ones, as a new
/// phone would: the server's round trips use the last batch.)
async fn credentials(app: &axum::Router, state: &AppState, count: usize) -> Result<Vec<(SdJwt, PrivateJwk)>> {
    let holders: Vec<PrivateJwk> = (0..count).map(|_| PrivateJwk::generate()).collect::<Result<_, _>>()?;
    let item = prepare(state, &holders, 1, now_unix()).await?.pop().context("nothing prepared")?;
    let issued = issue_one(app, &item, count).await?;
    issued.iter().zip(holders).map(|(credential, holder)| Ok((SdJwt::parse(credential)?, holder))).collect()
}

/// One relying-party request answered by the wallet, verified, and read.
async fn round_trip(app: &axum::Router, (credential, holder): (SdJwt, PrivateJwk)) -> Result<()> {
    let ask = json!({ "client_id": RP, "claims": ["name"], "purpose": "bench" }).to_string();
    let created = post(app, "/verifier/requests", "application/json", Some(RP_KEY), ask).await?;
    let id = created["request_id"].as_str().with_context(|| format!("no request: {created}"))?.to_owned();
    let object = get_text(app, &format!("/verifier/requests/{id}/object")).await?;
    let claims = Jws::parse(&object, "request object")?.payload().clone();
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let pointers = ["/name".to_owned(), child_pointer("/pseudonyms", RP)];
    let presentation = present(&credential, &pointers, &holder.signing_key()?, RP, &text("nonce"), now_unix())?;
    let vp_token = json!({ CREDENTIAL_QUERY_ID: [presentation.serialize()] }).to_string();
    let form = serde_urlencoded::to_string([("vp_token", vp_token.as_str()), ("state", text("state").as_str())])?;
    let path = format!("/verifier/requests/{id}/response");
    post(app, &path, "application/x-www-form-urlencoded", None, form).await?;
    let path = format!("/verifier/requests/{id}?client_id=https%3A%2F%2Fhotel.bench.example");
    let outcome = get_json(app, &path, RP_KEY).await?;
    ensure!(outcome["status"] == "verified", "not verified: {outcome}");
    Ok(())
}
