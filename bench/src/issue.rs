//! `shenfen-bench issue`: OpenID4VCI issuance through the real server stack
//! (token endpoint, single-use grants, key-proof checks, the c_nonce spent
//! once, random status slots, SD-JWT VC signing, audit entry, SQLite) beside
//! the raw ES256 work the same credentials need — one key-proof verification
//! and one credential signature each — both on every core, in the same run.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use clap::Args;
use serde_json::json;
use shenfen_core::{Edition, IdNumber};
use shenfen_credential::{PrivateJwk, es256_header, sign_compact};
use shenfen_server::{AppState, Policy, configuration_id, router, token_hash};
use shenfen_store::{BlindIndex, Grant, GrantKind};

use crate::authority::{BENCH_ISSUER, CITIZEN, authority_without_face_work};
use crate::in_process_http::post;
use crate::models::Models;
use crate::timing::{chunked, concurrently, cores, now_unix, parallel, percentile};

#[derive(Args)]
pub(crate) struct BenchIssueArgs {
    /// Credential requests per measurement.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(2..))]
    requests: u64,
    /// Credentials per request (key proofs in one batch).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=100))]
    batch: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// The authority loads its face engine even though issuance does not use it.
    #[command(flatten)]
    models: Models,
}

/// One prepared issuance: a pre-authorized code already granted, and key proofs over a fresh c_nonce.
pub(crate) struct Prepared {
    code: String,
    request: String,
}

pub(crate) fn run(args: &BenchIssueArgs) -> Result<ExitCode> {
    let (requests, batch) = (usize::try_from(args.requests)?, usize::try_from(args.batch)?);
    let cores = cores();
    let policy = Policy { max_batch: batch, ..Policy::default() };
    let (rt, state, dir) = authority_without_face_work("issue", &args.models, policy)?;
    let app = router(state.clone());

    // Holder-side work happens before the clock starts: grants and signed proofs.
    let holders: Vec<PrivateJwk> = (0..batch).map(|_| PrivateJwk::generate()).collect::<Result<_, _>>()?;
    let now = now_unix();
    let prepared = rt.block_on(prepare(&state, &holders, requests, now))?;
    let sample_proof = proof(&holders[0], "sample", now)?;

    let raw_before = raw_rate(requests * batch, cores, &holders[0], &sample_proof)?;
    let (server_rate, latencies) = rt.block_on(issue_all(&app, prepared, cores, batch))?;
    let raw_after = raw_rate(requests * batch, cores, &holders[0], &sample_proof)?;
    let raw = (raw_before + raw_after) / 2.0;
    let _ = std::fs::remove_dir_all(&dir);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let report = json!({
        "requests": requests,
        "batch": batch,
        "threads": cores,
        "server_credentials_per_sec": server_rate,
        "raw_es256_credentials_per_sec": raw,
        "raw_runs": [raw_before, raw_after],
        "server_vs_raw": server_rate / raw,
        "request_latency_ms": { "p50": ms(percentile(&latencies, 0.5)), "p99": ms(percentile(&latencies, 0.99)) },
    });
    if args.json {
        println!("{report}");
    } else {
        println!("shenfen-bench issue — {requests} requests × {batch} credentials on {cores} threads (SQLite)");
        println!("  raw ES256 (verify proof + sign)  {raw:>9.0} credentials/s  (runs {raw_before:.0}, {raw_after:.0})");
        println!(
            "  server (/token + /credential)    {server_rate:>9.0} credentials/s  = {:.2} × raw   p50 {:.1} ms  p99 {:.1} ms per request",
            server_rate / raw,
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99))
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `requests` issuances ready to redeem: a pre-authorized code granted to the
/// benchmark citizen, and one key proof per holder key over a fresh c_nonce.
pub(crate) async fn prepare(
    state: &AppState,
    holders: &[PrivateJwk],
    requests: usize,
    now: i64,
) -> Result<Vec<Prepared>> {
    let subject = BlindIndex::of(state.authority.keys.as_ref(), &IdNumber::parse(CITIZEN)?);
    let grant = Grant { subject, edition: Edition::Lightweight, tx_code_hash: None };
    let mut prepared = Vec::with_capacity(requests);
    for i in 0..requests {
        // Unique across calls: each call's grants live in the same store.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let code = format!("bench-code-{i}-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        state.store.put_grant(&token_hash(&code), GrantKind::PreAuthorizedCode, &grant, now + 3600).await?;
        let (nonce, _) = state.nonces.issue(now).context("no nonce")?;
        let proofs = holders.iter().map(|h| proof(h, &nonce, now)).collect::<Result<Vec<_>>>()?;
        let request = json!({ "credential_configuration_id": configuration_id(Edition::Lightweight), "proofs": { "jwt": proofs } });
        prepared.push(Prepared { code, request: request.to_string() });
    }
    Ok(prepared)
}

fn proof(holder: &PrivateJwk, nonce: &str, now: i64) -> Result<String> {
    let mut header = es256_header("openid4vci-proof+jwt", None);
    header.insert("jwk".into(), holder.public().to_value());
    let claims = json!({ "aud": BENCH_ISSUER, "nonce": nonce, "iat": now });
    let claims = claims.as_object().context("claims")?;
    Ok(sign_compact(&header, claims, &holder.signing_key()?)?)
}

/// The raw cryptography per credential on every core: verify one key proof,
/// sign one credential-sized input.
fn raw_rate(n: usize, cores: usize, holder: &PrivateJwk, sample_proof: &str) -> Result<f64> {
    let verifying = holder.public().verifying_key()?;
    let signing = holder.signing_key()?;
    let (input, signature) = sample_proof.rsplit_once('.').context("proof shape")?;
    let signature = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature)?;
    // An issuer-signed JWT of the lightweight edition is about 700 bytes before signing.
    let credential_input = "e".repeat(700);
    let (rate, _) = parallel(n, cores, || {
        ensure!(verifying.verify(input.as_bytes(), &signature), "the sample proof does not verify");
        std::hint::black_box(signing.sign(credential_input.as_bytes())?);
        Ok(())
    })?;
    Ok(rate)
}

/// Redeems every prepared grant and requests its batch, `cores` requests in
/// flight; returns credentials per second and per-request latencies.
async fn issue_all(
    app: &axum::Router,
    prepared: Vec<Prepared>,
    cores: usize,
    batch: usize,
) -> Result<(f64, Vec<Duration>)> {
    let chunks = chunked(prepared, cores);
    let start = Instant::now();
    let app = app.clone();
    let all = concurrently(chunks, move |item: Prepared| {
        let app = app.clone();
        async move { issue_one(&app, &item, batch).await.map(drop) }
    })
    .await?;
    Ok(((all.len() * batch) as f64 / start.elapsed().as_secs_f64(), all))
}

/// Redeems one prepared issuance; returns the credentials, one per holder key, in order.
pub(crate) async fn issue_one(app: &axum::Router, item: &Prepared, batch: usize) -> Result<Vec<String>> {
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={}",
        item.code
    );
    let token = post(app, "/token", "application/x-www-form-urlencoded", None, form).await?;
    let access = token["access_token"].as_str().with_context(|| format!("no access token: {token}"))?;
    let issued = post(app, "/credential", "application/json", Some(access), item.request.clone()).await?;
    let credentials: Vec<String> = issued["credentials"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["credential"].as_str().map(str::to_owned))
        .collect();
    ensure!(credentials.len() == batch, "expected {batch} credentials: {issued}");
    Ok(credentials)
}
