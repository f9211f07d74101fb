//! `shenfen bench enroll`: enrollment throughput of the real server stack
//! (router, JSON + base64, sessions, rate counters, registry lookup, audit,
//! SQLite) against the face engine's standalone throughput on the same frame,
//! both on all cores, measured in the same run; with per-enrollment latency.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use axum::body::{Body, to_bytes};
use axum::http::Request;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use serde_json::{Value, json};
use shenfen_core::{CardValidity, CitizenRecord, IdNumber};
use shenfen_credential::PrivateJwk;
use shenfen_face::{Action, ChallengePolicy, FaceEngine, QualityPolicy, decode_image};
use shenfen_server::{AppState, Issuer, Policy, WebAssets, router};
use shenfen_store::{ImportProgress, LocalKeys, RegistryEntry, SqlStore, Store};
use tower::ServiceExt;

use crate::coded_error::coded;
use crate::data_dir::runtime;
use crate::face_cmd::{Common, load_image};

/// The registered citizen of the benchmark authority.
pub const CITIZEN: &str = "110105196108040136";
/// The benchmark authority's issuer identifier.
pub const BENCH_ISSUER: &str = "http://bench.invalid";

#[derive(Args)]
pub struct BenchEnrollArgs {
    /// Enrollments per measurement.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(2..))]
    iterations: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Face models directory (default as for `shenfen face`).
    #[arg(long)]
    models: Option<std::path::PathBuf>,
}

pub fn run(args: &BenchEnrollArgs) -> Result<ExitCode> {
    let n = usize::try_from(args.iterations)?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let face_args = Common { json: false, models: args.models.clone(), threshold: None };
    let photos = face_args.model_dir().join("photos");
    let engine = Arc::new(face_args.engine(cores)?);
    let frame_bytes = std::fs::read(photos.join("obama2.jpg")).context("run scripts/fetch-models.sh")?;
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
        let image = decode_image(&bytes).map_err(coded)?;
        let report = engine.liveness(&[image], &[Action::TurnLeft], None, &quality, &policy.liveness).map_err(coded)?;
        let face = report.first.context("no face")?;
        std::hint::black_box(engine.template(&face));
        ensure!(report.decision.passed, "the frame failed passive liveness");
        Ok(())
    })?;

    let rt = runtime()?;
    let dir = std::env::temp_dir().join(format!("shenfen-bench-enroll-{}", std::process::id()));
    let state = rt.block_on(bench_state(&dir, engine.clone(), &photos, policy))?;
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
    let impostor = json!({ "frames": [same_size_jpeg(&photos.join("biden.jpg"), &frame_bytes)?] }).to_string();
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
            "shenfen bench enroll — {} enrollments on {cores} threads (SQLite, passive liveness, one 626×1200 JPEG frame)",
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

/// The authority of a benchmark that does no face work (issuance,
/// presentation): the engine is loaded with one thread only because the
/// authority holds one; state in a fresh `shenfen-bench-<label>-<pid>`
/// directory. Returns the runtime that serves it, and the directory to remove after.
pub fn authority_without_face_work(
    label: &str,
    models: Option<std::path::PathBuf>,
    policy: Policy,
) -> Result<(tokio::runtime::Runtime, Arc<AppState>, std::path::PathBuf)> {
    let face_args = Common { json: false, models, threshold: None };
    let engine = Arc::new(face_args.engine(1)?);
    let rt = runtime()?;
    let dir = std::env::temp_dir().join(format!("shenfen-bench-{label}-{}", std::process::id()));
    let state = rt.block_on(bench_state(&dir, engine, &face_args.model_dir().join("photos"), policy))?;
    Ok((rt, state, dir))
}

/// A fresh authority in `dir` (SQLite, random keys and issuer key) whose
/// registry holds the demo citizen 王建国 with `obama.jpg` as registry photo.
pub async fn bench_state(
    dir: &std::path::Path,
    engine: Arc<FaceEngine>,
    photos: &std::path::Path,
    policy: Policy,
) -> Result<Arc<AppState>> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let keys = LocalKeys::parse(
        &format!("k1:{}", LocalKeys::generate_secret().map_err(coded)?),
        &LocalKeys::generate_secret().map_err(coded)?,
    )
    .map_err(coded)?;
    let store = SqlStore::open(&format!("sqlite:{}", dir.join("bench.db").display())).await.map_err(coded)?;
    let registry_face =
        engine.analyse(&load_image(&photos.join("obama.jpg"))?, &QualityPolicy::default()).map_err(coded)?;
    let id_number = IdNumber::parse(CITIZEN).map_err(coded)?;
    let record = CitizenRecord {
        birth_date: id_number.birth_date(),
        sex: id_number.sex(),
        id_number,
        name: "王建国".into(),
        ethnicity: "汉".into(),
        address: "北京市朝阳区建国路88号".into(),
        issuing_authority: "北京市公安局朝阳分局".into(),
        validity: CardValidity { from: time::macros::date!(2012 - 03 - 01), until: None },
        photo_ref: "obama.jpg".into(),
    };
    let sealed = RegistryEntry { record, face_template: Some(engine.template(&registry_face).to_bytes()) }
        .seal(&keys)
        .map_err(coded)?;
    store.put_entries(&[sealed], "bench", ImportProgress::default(), 0).await.map_err(coded)?;
    let issuer = Issuer::new(BENCH_ISSUER, &PrivateJwk::generate().map_err(coded)?, Vec::new()).map_err(coded)?;
    AppState::build(Arc::new(store), Arc::new(keys), engine, issuer, policy, WebAssets::default()).map_err(coded)
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
fn same_size_jpeg(photo: &std::path::Path, reference: &[u8]) -> Result<String> {
    let (width, height) = decode_image(reference).map_err(coded)?.dimensions();
    let resized = image::imageops::resize(&load_image(photo)?, width, height, image::imageops::FilterType::Triangle);
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

/// GETs `path` through the router; the body as text.
pub async fn get_text(app: &axum::Router, path: &str) -> Result<String> {
    let response = app.clone().oneshot(Request::get(path).body(Body::empty())?).await?;
    let bytes = to_bytes(response.into_body(), 1 << 20).await?;
    Ok(String::from_utf8(bytes.to_vec())?)
}

/// GETs a JSON resource through the router (with the bench relying party's key).
pub async fn get_json(app: &axum::Router, path: &str, bearer: &str) -> Result<Value> {
    let request = Request::get(path).header("authorization", format!("Bearer {bearer}")).body(Body::empty())?;
    let response = app.clone().oneshot(request).await?;
    let bytes = to_bytes(response.into_body(), 1 << 20).await?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// POSTs a JSON body through the router and parses the JSON answer.
pub async fn call(app: &axum::Router, path: &str, body: String) -> Result<Value> {
    post(app, path, "application/json", None, body).await
}

/// POSTs `body` of `content_type` (with a Bearer token if given) through the
/// router and parses the JSON answer.
pub async fn post(
    app: &axum::Router,
    path: &str,
    content_type: &str,
    bearer: Option<&str>,
    body: String,
) -> Result<Value> {
    let mut request = Request::post(path).header("content-type", content_type);
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app.clone().oneshot(request.body(Body::from(body))?).await?;
    let bytes = to_bytes(response.into_body(), 1 << 20).await?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// Splits `items` into `parts` chunks of (nearly) equal size, in order.
pub fn chunked<T>(mut items: Vec<T>, parts: usize) -> Vec<Vec<T>> {
    let per_chunk = items.len().div_ceil(parts.max(1)).max(1);
    let mut chunks = Vec::new();
    while !items.is_empty() {
        let rest = items.split_off(per_chunk.min(items.len()));
        chunks.push(std::mem::replace(&mut items, rest));
    }
    chunks
}

/// Runs `op` on every item, one task per chunk, the chunks concurrently;
/// returns each item's latency.
pub async fn concurrently<T, F, Fut>(chunks: Vec<Vec<T>>, op: F) -> Result<Vec<Duration>>
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(chunk.len());
                for item in chunk {
                    let t = Instant::now();
                    op(item).await?;
                    latencies.push(t.elapsed());
                }
                Ok::<_, anyhow::Error>(latencies)
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}

/// Runs `op` `n` times over `threads` threads; returns (ops per second, latencies).
pub fn parallel(n: usize, threads: usize, op: impl Fn() -> Result<()> + Sync) -> Result<(f64, Vec<Duration>)> {
    let per_thread = n.div_ceil(threads);
    let start = Instant::now();
    let latencies = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut latencies = Vec::with_capacity(per_thread);
                    for _ in 0..per_thread {
                        let t = Instant::now();
                        op()?;
                        latencies.push(t.elapsed());
                    }
                    Ok::<_, anyhow::Error>(latencies)
                })
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.join().map_err(|_| anyhow::anyhow!("a bench thread panicked"))??);
        }
        Ok::<_, anyhow::Error>(all)
    })?;
    Ok((latencies.len() as f64 / start.elapsed().as_secs_f64(), latencies))
}

/// The `q` quantile of `samples`.
pub fn percentile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    sorted.get(((sorted.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default()
}
