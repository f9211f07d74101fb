//! `shenfen-bench face`: per-stage and end-to-end latency per selfie on one
//! thread, throughput on all cores, and memory with the models loaded.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use shenfen_face::{QualityPolicy, StageTimes, decode_image};

use crate::models::Models;
use crate::timing::cores;

#[derive(Args)]
pub(crate) struct BenchFaceArgs {
    /// The selfie to analyse (default: the models' photos/obama.jpg).
    #[arg(long)]
    image: Option<PathBuf>,
    /// Selfies per measurement.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    iterations: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Match threshold (cosine similarity); default: the calibrated one.
    #[arg(long)]
    threshold: Option<f32>,
    #[command(flatten)]
    models: Models,
}

pub(crate) fn run(args: &BenchFaceArgs) -> Result<ExitCode> {
    let n = usize::try_from(args.iterations)?;
    let cores = cores();
    let rss_before = resident_kib();
    let mut engine = args.models.engine(cores)?;
    if let Some(threshold) = args.threshold {
        engine.match_threshold = threshold;
    }
    let rss_loaded = resident_kib();
    let path = args.image.clone().unwrap_or_else(|| args.models.photo("obama.jpg"));
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let policy = QualityPolicy::default();
    let reference = engine.analyse(&decode_image(&bytes)?, &policy)?;

    // One thread: decode → detect → landmarks → quality → pose → embed → compare, timed per stage.
    let mut stages = StageTimes::default();
    let mut decode = Duration::ZERO;
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let image = decode_image(&bytes)?;
        decode += t.elapsed();
        let face = engine.analyse_timed(&image, &policy, &mut stages)?;
        std::hint::black_box(engine.compare(&face.embedding, &reference.embedding));
    }
    let end_to_end = start.elapsed();

    // All cores: every thread runs whole selfies.
    let start = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    for _ in 0..n {
                        let image = decode_image(&bytes)?;
                        std::hint::black_box(engine.analyse(&image, &policy)?);
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().map_err(|_| anyhow::anyhow!("a bench thread panicked"))?)
    })?;
    let parallel = start.elapsed();

    let ms = |d: Duration| d.as_secs_f64() * 1000.0 / n as f64;
    let report = json!({
        "image": path.display().to_string(),
        "iterations": n,
        "single_thread_ms": {
            "decode": ms(decode),
            "detect": ms(stages.detect),
            "landmarks": ms(stages.landmarks),
            "quality": ms(stages.quality),
            "pose": ms(stages.pose),
            "embed": ms(stages.embed),
            "end_to_end": ms(end_to_end),
        },
        "threads": cores,
        "throughput_per_sec": (cores * n) as f64 / parallel.as_secs_f64(),
        "rss_mib": {
            "before_models": rss_before.map(|k| k as f64 / 1024.0),
            "models_loaded": rss_loaded.map(|k| k as f64 / 1024.0),
        },
        "model": engine.embedder_id(),
    });
    if args.json {
        println!("{report}");
    } else {
        println!("shenfen-bench face — {} ({n} selfies per measurement)", path.display());
        for stage in ["decode", "detect", "landmarks", "quality", "pose", "embed", "end_to_end"] {
            println!("  {stage:<11} {:>8.2} ms", report["single_thread_ms"][stage].as_f64().unwrap_or_default());
        }
        println!(
            "  throughput  {:>8.1} selfies/s on {cores} threads",
            report["throughput_per_sec"].as_f64().unwrap_or_default()
        );
        if let (Some(before), Some(loaded)) = (rss_before, rss_loaded) {
            println!(
                "  memory      {:>8.1} MiB resident with models loaded (+{:.1} MiB)",
                loaded as f64 / 1024.0,
                (loaded - before) as f64 / 1024.0
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Resident set size in KiB, from /proc (Linux); `None` elsewhere.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
