//! `shenfen-bench enroll`: enrollment throughput of the real server stack
//! (router, JSON + base64, sessions, rate counters, registry lookup, audit,
//! SQLite) against the face engine's standalone throughput on the same frame,
//! both on all cores, measured in the same run; with per-enrollment latency.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use serde_json::{Value, json};
use shenfen_face::{Action, ChallengePolicy, QualityPolicy, decode_image};
use shenfen_server::{Policy, router};

use crate::authority::{CITIZEN, bench_state, runtime};
use crate::in_process_http::call;
use crate::models::Models;
use crate::timing::{concurrently, cores, parallel, percentile};

#[derive(Args)]
pub(crate) struct BenchEnrollArgs {
    /// Enrollments per measurement.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(2..))]
    iterations: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    models: Models,
}

pub(crate) fn run(args: &BenchEnrollArgs) -> Result<ExitCode> {
    let n = usize::try_from(args.iterations)?;
    let cores = cores();
    let engine = Arc::new(args.models.engine(cores)?);
    let frame_bytes = args.models.read_photo("obama2.jpg")?;
    let frame_b64 = STANDARD.encode(&frame_bytes);
    let policy = Policy {
        liveness: ChallengePolicy { require_active: false, require_flash: false, ..ChallengePolicy::default() },
        starts_per_subject_hour: u64::MAX,
        starts_per_client_hour: u64::MAX,
        failures_per_subject_day: u64::MAX,
        ..Policy::default()
    };

    // Baseline: what the face engine alone does per enrollment (decode, liveness
    // on the frame, template), on every core.
    let quality = QualityPolicy::default();
    let (baseline_rate, baseline_latencies) = parallel(n, cores, || {
        let bytes = STANDARD.decode(&frame_b64)?;
        let image = decode_image(&bytes)?;
        let report = engine.liveness(&[image], &[Action::TurnLeft], None, &quality, &policy.liveness)?;
        let face = report.first.context("no face")?;
        std::hint::black_box(engine.template(&face));
        ensure!(report.decision.passed, "the frame failed passive liveness");
        Ok(())
    })?;

    let rt = runtime()?;
    let dir = std::env::temp_dir().join(format!("shenfen-bench-enroll-{}", std::process::id()));
    let state = rt.block_on(bench_state(&dir, engine.clone(), &args.models, policy))?;
    let app = router(state.clone());
    let frames = json!({ "frames": [frame_b64] }).to_string();

    let start = Instant::now();
    let per_task = n.div_ceil(cores);
    let chunks: Vec<Vec<()>> = (0..cores).map(|_| vec![(); per_task]).collect();
    let shared_frames = frames.clone();
    let latencies = rt.block_on(concurrently(chunks, move |()| {
        let (app, frames) = (app.clone(), shared_frames.clone());
        async move { enroll(&app, &frames).await }
    }))?;
    let server_rate = latencies.len() as f64 / start.elapsed().as_secs_f64();
    let impostor = json!({ "frames": [same_size_jpeg(&args.models, "biden.jpg", &frame_bytes)?] }).to_string();
    let refusals = rt.block_on(refusal_timings(&router(state), &frames, &impostor, 15))?;
    let _ = std::fs::remove_dir_all(&dir);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let report = json!({
        "enrollments": latencies.len(),
        "threads": cores,
        "server_per_sec": server_rate,
        "face_engine_per_sec": baseline_rate,
        "server_overhead": 1.0 - server_rate / baseline_rate,
        "server_latency_ms": { "p50": ms(percentile(&latencies, 0.5)), "p99": ms(percentile(&latencies, 0.99)) },
        "face_engine_latency_ms": { "p50": ms(percentile(&baseline_latencies, 0.5)), "p99": ms(percentile(&baseline_latencies, 0.99)) },
        "liveness": "passive (one frame)",
        "refusal_latency_ms": refusals.iter().map(|(label, t)| json!({ "case": label, "p50": ms(percentile(t, 0.5)), "p90": ms(percentile(t, 0.9)) })).collect::<Vec<_>>(),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "shenfen-bench enroll — {} enrollments on {cores} threads (SQLite, passive liveness, one 626×1200 JPEG frame)",
            latencies.len()
        );
        println!(
            "  face engine alone   {baseline_rate:>7.1} /s   p50 {:>6.1} ms  p99 {:>6.1} ms",
            report["face_engine_latency_ms"]["p50"].as_f64().unwrap_or_default(),
            report["face_engine_latency_ms"]["p99"].as_f64().unwrap_or_default()
        );
        println!(
            "  server enrollment   {server_rate:>7.1} /s   p50 {:>6.1} ms  p99 {:>6.1} ms",
            report["server_latency_ms"]["p50"].as_f64().unwrap_or_default(),
            report["server_latency_ms"]["p99"].as_f64().unwrap_or_default()
        );
        println!("  server overhead     {:>7.1} %", 100.0 * (1.0 - server_rate / baseline_rate));
        println!("  refusal decision latency (one thread, interleaved; an oracle would need these to differ):");
        for (label, timings) in &refusals {
            println!(
                "    {label:<24} p50 {:>6.1} ms  p90 {:>6.1} ms",
                ms(percentile(timings, 0.5)),
                ms(percentile(timings, 0.9))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts a session and submits the frame; anything but an offer is an error.
async fn enroll(app: &axum::Router, frames: &str) -> Result<()> {
    let (offer, _) = attempt(app, CITIZEN, "王建国", frames).await?;
    if offer.get("credential_offer").is_none() {
        bail!("enrollment refused: {offer}");
    }
    Ok(())
}

/// Starts a session for the claim and submits `frames`; returns the answer
/// and how long the submission (the decision) took.
async fn attempt(app: &axum::Router, id_number: &str, name: &str, frames: &str) -> Result<(Value, Duration)> {
    let start = json!({ "id_number": id_number, "name": name, "card_expiry": "长期" }).to_string();
    let session = call(app, "/enrollment/sessions", start).await?;
    let path = format!("/enrollment/sessions/{}/frames", session["session_id"].as_str().unwrap_or_default());
    let t = Instant::now();
    let answer = call(app, &path, frames.to_owned()).await?;
    Ok((answer, t.elapsed()))
}

/// Another person's photo re-encoded at the reference frame's dimensions, so
/// that timing differences cannot come from image size.
fn same_size_jpeg(models: &Models, photo: &str, reference: &[u8]) -> Result<String> {
    let (width, height) = decode_image(reference)?.dimensions();
    let resized =
        image::imageops::resize(&models.decode_photo(photo)?, width, height, image::imageops::FilterType::Triangle);
    let mut out = std::io::Cursor::new(Vec::new());
    resized.write_to(&mut out, image::ImageFormat::Jpeg)?;
    Ok(STANDARD.encode(out.into_inner()))
}

/// Decision latency of the three refusals an ID-number oracle would tell
/// apart, measured interleaved: (label, latencies).
async fn refusal_timings(
    app: &axum::Router,
    frames: &str,
    impostor: &str,
    rounds: usize,
) -> Result<Vec<(&'static str, Vec<Duration>)>> {
    let cases = [
        ("unregistered number", "11010519491231002X", "张秀英", frames),
        ("registered, wrong name", CITIZEN, "王建", frames),
        ("registered, other face", CITIZEN, "王建国", impostor),
    ];
    let mut timings: Vec<(&'static str, Vec<Duration>)> =
        cases.iter().map(|c| (c.0, Vec::with_capacity(rounds))).collect();
    for _ in 0..rounds {
        for (i, (label, id, name, frames)) in cases.iter().enumerate() {
            let (answer, took) = attempt(app, id, name, frames).await?;
            ensure!(
                answer["type"] == "urn:shenfen:problem:enrollment-refused",
                "{label}: expected a refusal, got {answer}"
            );
            timings[i].1.push(took);
        }
    }
    Ok(timings)
}
