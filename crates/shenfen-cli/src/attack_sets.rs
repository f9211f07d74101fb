//! `shenfen face attack-sets` and `shenfen face pad-eval --sets`: whole
//! liveness sessions — motion frames and colour-flash frames — simulated
//! from real photos, written as files anyone can inspect or feed to another
//! implementation, then run through the engine as the server runs them.
//!
//! A set directory holds one folder per session kind (`genuine`, `still`,
//! `warped_still`, …) and in it one folder per session: `frame-N.webp` (the
//! motion frames), `flash-0.webp` (the reference, before the flash),
//! `flash-N.webp` (one per colour) and `session.json` (what was asked).
//! Frames are lossless WebP, as the web wallet sends them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shenfen_face::{
    Action, ChallengePolicy, Degradation, FaceEngine, FlashColour, FlashFrames, QualityPolicy, SessionKind,
    colours_for, evaluate, parse_challenge, parse_flash, selfie_frame, simulate, turns_for,
};

use crate::coded_error::{FILE_READ, coded, fail};
use crate::face_cmd::{Common, image_files, load_image};
use crate::files::print_json;

/// What `session.json` says about a session.
#[derive(Serialize, Deserialize)]
struct SessionFile {
    /// The kind's label.
    kind: String,
    /// The photo and the degradation it was taken through.
    source: String,
    /// The seed of the noise, shake and reflection strength.
    seed: u64,
    /// The actions asked, comma-separated.
    challenge: String,
    /// The screen colours asked, comma-separated.
    flash: String,
    /// Always true: these sessions are composited, not filmed.
    simulated: bool,
}

/// One photo, through one degradation, framed as a front camera would.
struct Source {
    name: String,
    frame: RgbImage,
    face: shenfen_face::BoundingBox,
}

/// Each photo and its standard degradations, framed as selfies. A genuine
/// session is someone doing what the page asks — a sharp, whole face,
/// facing the camera, eyes open and mouth closed to start — so framed
/// photos that fail the enrollment capture gate or that start (a speech
/// photo's open mouth, a turned head) are left out, and counted: they are
/// failures to acquire, not presentations.
fn sources(engine: &FaceEngine, photos: &Path) -> Result<(Vec<Source>, usize)> {
    let (mut sources, mut skipped) = (Vec::new(), 0);
    for path in image_files(photos)? {
        let photo = load_image(&path)?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("photo").to_owned();
        let mut variants = vec![(stem.clone(), photo.clone())];
        for degradation in Degradation::STANDARD {
            variants.push((format!("{stem}.{}", degradation.label()), degradation.apply(&photo).map_err(coded)?));
        }
        for (name, image) in variants {
            let frame = single_face(engine, &image).map(|face| selfie_frame(&image, &face));
            match frame.and_then(|frame| facing_the_camera(engine, &frame).map(|face| (frame, face))) {
                Some((frame, face)) => sources.push(Source { name, frame, face }),
                None => skipped += 1,
            }
        }
    }
    Ok((sources, skipped))
}

fn single_face(engine: &FaceEngine, image: &RgbImage) -> Option<shenfen_face::BoundingBox> {
    match engine.detect(image).ok()?.as_slice() {
        [only] => Some(only.detection.bbox),
        _ => None,
    }
}

/// Where the face of a frame is, if it passes the capture gate and makes the
/// challenge's start: facing the camera, eyes open, mouth closed.
/// A face partly outside the frame is left out too: the simulated head
/// turn warps the face, and cannot warp what the photo does not show.
fn facing_the_camera(engine: &FaceEngine, frame: &RgbImage) -> Option<shenfen_face::BoundingBox> {
    let face = engine.analyse(frame, &QualityPolicy::default()).ok().filter(|f| f.report.quality.outside == 0.0)?;
    let start_only = ChallengePolicy { require_passive: false, require_flash: false, ..ChallengePolicy::default() };
    let report =
        engine.liveness(std::slice::from_ref(frame), &[], None, &QualityPolicy::default(), &start_only).ok()?;
    report.decision.passed.then_some(face.report.detection.bbox)
}

/// `shenfen face attack-sets --photos DIR --out DIR`
pub(crate) fn write_sets(photos: &Path, out: &Path, sessions: u64, common: &Common) -> Result<ExitCode> {
    let engine = common.engine(1)?;
    let (sources, skipped) = sources(&engine, photos)?;
    if sources.is_empty() {
        return Err(fail("face.quality.no_face", format!("no photo in {} shows exactly one face", photos.display())));
    }
    let total = sources.len() as u64 * sessions * SessionKind::ALL.len() as u64;
    let bar = progress(total, "sessions");
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for (index, source) in sources.iter().enumerate() {
        for n in 0..sessions {
            // The same seed for every kind: the kinds differ in what they are, not in their luck.
            let seed = index as u64 * 1_000 + n + 1;
            let (turns, colours) = (turns_for(seed), colours_for(seed));
            for kind in SessionKind::ALL {
                let session = simulate(kind, &source.frame, &source.face, &turns, &colours, seed).map_err(coded)?;
                let dir = out.join(kind.label()).join(format!("{}.s{seed}", source.name));
                let file = SessionFile {
                    kind: kind.label().to_owned(),
                    source: source.name.clone(),
                    seed,
                    challenge: joined(turns.iter().map(|a| a.as_str())),
                    flash: joined(colours.iter().map(|c| c.as_str())),
                    simulated: true,
                };
                let flash = std::iter::once(&session.reference).chain(&session.flash_frames);
                write_session(&dir, &file, &session.frames, flash)?;
                *counts.entry(kind.label()).or_default() += 1;
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    let manifest = json!({
        "generator": "shenfen face attack-sets",
        "photos": photos.display().to_string(),
        "sources": sources.len(),
        "sources_left_out": skipped,
        "sessions_per_source": sessions,
        "sessions": counts,
        "note": "simulated from still photos (docs/MODELS.md): not a certification, not captured attacks",
    });
    std::fs::write(out.join("sets.json"), serde_json::to_vec_pretty(&manifest)?).context("cannot write sets.json")?;
    println!(
        "{} sessions of {} kinds from {} framed photos ({skipped} left out: no single face passing the capture gate and making the challenge's start) in {}",
        counts.values().sum::<u64>(),
        counts.len(),
        sources.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn joined<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(",")
}

fn progress(total: u64, unit: &str) -> ProgressBar {
    ProgressBar::new(total).with_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {unit}  eta {{eta}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}

fn write_session<'a>(
    dir: &Path,
    file: &SessionFile,
    frames: &[RgbImage],
    flash: impl Iterator<Item = &'a RgbImage>,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let named = frames
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("frame-{i}.webp"), f))
        .chain(flash.enumerate().map(|(i, f)| (format!("flash-{i}.webp"), f)));
    for (name, image) in named {
        image.save(dir.join(&name)).with_context(|| format!("cannot write {}", dir.join(&name).display()))?;
    }
    std::fs::write(dir.join("session.json"), serde_json::to_vec_pretty(file)?).context("cannot write session.json")?;
    Ok(())
}

/// One session read back.
struct StoredSession {
    kind: String,
    challenge: Vec<Action>,
    colours: Vec<FlashColour>,
    frames: Vec<RgbImage>,
    flash: Vec<RgbImage>,
}

fn read_session(dir: &Path) -> Result<StoredSession> {
    let text =
        std::fs::read(dir.join("session.json")).with_context(|| format!("{}: no session.json", dir.display()))?;
    let file: SessionFile =
        serde_json::from_slice(&text).with_context(|| format!("{}: session.json", dir.display()))?;
    let numbered = |prefix: &str| -> Result<Vec<RgbImage>> {
        (0..)
            .map(|i| dir.join(format!("{prefix}-{i}.webp")))
            .take_while(|p| p.exists())
            .map(|p| load_image(&p))
            .collect()
    };
    Ok(StoredSession {
        kind: file.kind,
        challenge: parse_challenge(&file.challenge).map_err(coded)?,
        colours: parse_flash(&file.flash).map_err(coded)?,
        frames: numbered("frame")?,
        flash: numbered("flash")?,
    })
}

/// The columns of the report: the `--liveness` settings of `shenfen serve`,
/// then the colour-flash check alone.
const COLUMNS: [&str; 5] = ["all", "challenge", "flash", "passive", "flash check"];

/// What each check made of one session.
struct Verdicts {
    /// The movements, in order, one face throughout.
    motion: bool,
    /// The colours, in order.
    flash: bool,
    /// The passive model over the frames facing the camera, one face throughout.
    passive: bool,
    /// The passive model on the first frame alone: all a session sends when
    /// no movement is asked (`flash` and `passive` settings).
    passive_first: bool,
}

impl Verdicts {
    /// Whether the session is accepted under each column.
    fn accepted(&self) -> [bool; 5] {
        [
            self.motion && self.flash && self.passive,
            self.motion && self.flash,
            self.passive_first && self.flash,
            self.passive_first,
            self.flash,
        ]
    }
}

/// How the sessions of one kind were judged.
#[derive(Default)]
struct KindTally {
    sessions: u64,
    /// Sessions in which no usable face was found (failures to acquire).
    not_acquired: u64,
    /// Accepted sessions, per column.
    accepted: [u64; 5],
}

impl KindTally {
    /// The error rate per column: for an attack being accepted (APCER), for a
    /// genuine session being refused (BPCER); over the sessions acquired.
    fn error_rates(&self, attack: bool) -> [f64; 5] {
        let acquired = (self.sessions - self.not_acquired).max(1) as f64;
        self.accepted.map(|n| if attack { n as f64 / acquired } else { 1.0 - n as f64 / acquired })
    }
}

/// `shenfen face pad-eval --sets DIR`
pub(crate) fn evaluate_sets(sets: &Path, common: &Common) -> Result<ExitCode> {
    let engine = common.engine(1)?;
    let dirs = session_dirs(sets)?;
    if dirs.is_empty() {
        let reason = format!("no sessions under {}; write them with `shenfen face attack-sets`", sets.display());
        return Err(fail(FILE_READ, reason));
    }
    let policy = ChallengePolicy::default();
    let motion_only = ChallengePolicy { require_passive: false, require_flash: false, ..policy };
    let passive_only = ChallengePolicy { require_active: false, require_flash: false, ..policy };
    let bar = progress(dirs.len() as u64, "sessions");
    let mut tallies: BTreeMap<String, KindTally> = BTreeMap::new();
    let mut encodings = [(None, 0u64, 0u64), (Some(95), 0, 0), (Some(90), 0, 0), (Some(80), 0, 0)];
    for dir in &dirs {
        let session = read_session(dir)?;
        if session.kind == SessionKind::Genuine.label() {
            tally_encodings(&engine, &session.frames[..1], policy.min_live_score, &mut encodings)?;
        }
        let tally = tallies.entry(session.kind.clone()).or_default();
        tally.sessions += 1;
        bar.inc(1);
        let flash = session.flash.split_first().map(|(reference, frames)| FlashFrames {
            reference,
            frames,
            colours: &session.colours,
        });
        let Ok(report) =
            engine.liveness(&session.frames, &session.challenge, flash, &QualityPolicy::default(), &policy)
        else {
            tally.not_acquired += 1;
            continue;
        };
        let verdicts = Verdicts {
            motion: evaluate(&session.challenge, &report.observations, &motion_only).passed,
            flash: report.flash.is_some_and(|f| f.passed),
            passive: evaluate(&session.challenge, &report.observations, &passive_only).passed,
            passive_first: evaluate(&[], report.observations.get(..1).unwrap_or_default(), &passive_only).passed,
        };
        for (count, accepted) in tally.accepted.iter_mut().zip(verdicts.accepted()) {
            *count += u64::from(accepted);
        }
    }
    bar.finish_and_clear();
    report_sets(&tallies, &encodings, common.json)?;
    Ok(ExitCode::SUCCESS)
}

/// The passive model on genuine frames as sent (lossless, as the web wallet
/// sends them) and re-encoded as JPEG at the qualities phone pages use:
/// per encoding (`None` for lossless), frames scored and frames refused.
fn tally_encodings(
    engine: &FaceEngine,
    frames: &[RgbImage],
    threshold: f32,
    tallies: &mut [(Option<u8>, u64, u64)],
) -> Result<()> {
    for frame in frames {
        for (quality, scored, refused) in tallies.iter_mut() {
            let encoded = match quality {
                Some(q) => Degradation::Jpeg(*q).apply(frame).map_err(coded)?,
                None => frame.clone(),
            };
            if let Ok(score) = engine.passive_liveness(&encoded) {
                *scored += 1;
                *refused += u64::from(score < threshold);
            }
        }
    }
    Ok(())
}

/// The session folders of a set directory, sorted.
fn session_dirs(sets: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for kind in SessionKind::ALL {
        let kind_dir = sets.join(kind.label());
        let Ok(entries) = std::fs::read_dir(&kind_dir) else { continue };
        for entry in entries {
            let path = entry.with_context(|| kind_dir.display().to_string())?.path();
            if path.join("session.json").exists() {
                dirs.push(path);
            }
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// APCER per attack kind and BPCER on the genuine sessions, per setting.
fn report_sets(tallies: &BTreeMap<String, KindTally>, encodings: &[(Option<u8>, u64, u64)], json: bool) -> Result<()> {
    let rows: Vec<serde_json::Value> = SessionKind::ALL
        .iter()
        .filter_map(|kind| tallies.get(kind.label()).map(|t| (kind, t)))
        .map(|(kind, t)| {
            let rates: serde_json::Map<String, serde_json::Value> =
                COLUMNS.iter().zip(t.error_rates(kind.is_attack())).map(|(c, r)| ((*c).to_owned(), json!(r))).collect();
            json!({
                "kind": kind.label(),
                "metric": if kind.is_attack() { "APCER" } else { "BPCER" },
                "sessions": t.sessions,
                "not_acquired": t.not_acquired,
                "rates": rates,
            })
        })
        .collect();
    let passive: Vec<serde_json::Value> = encodings
        .iter()
        .map(|(quality, scored, refused)| {
            let encoding = quality.map_or("lossless".to_owned(), |q| format!("jpeg {q}"));
            json!({ "encoding": encoding, "frames": scored, "bpcer": *refused as f64 / (*scored).max(1) as f64 })
        })
        .collect();
    let note = "sessions simulated from still photos (docs/MODELS.md); ISO/IEC 30107-3 terms, not a certification";
    if json {
        return print_json(&json!({ "kinds": rows, "passive_by_encoding": passive, "note": note }));
    }
    println!("error rates under each `--liveness` setting, and of the colour-flash check alone:");
    let header = COLUMNS.map(|c| format!("{c:>12}")).join("");
    println!("{:<13} {:<6} {:>8} {:>8}{header}", "kind", "metric", "sessions", "no face");
    for row in &rows {
        let rates = COLUMNS.map(|c| format!("{:>12.3}", row["rates"][c].as_f64().unwrap_or_default())).join("");
        let (kind, metric) = (row["kind"].as_str().unwrap_or_default(), row["metric"].as_str().unwrap_or_default());
        println!("{kind:<13} {metric:<6} {:>8} {:>8}{rates}", row["sessions"], row["not_acquired"]);
    }
    println!("passive model alone on the genuine sessions' first frames, by encoding:");
    for row in &passive {
        println!(
            "  {:<9} BPCER {:.3} over {} frames",
            row["encoding"].as_str().unwrap_or_default(),
            row["bpcer"].as_f64().unwrap_or_default(),
            row["frames"]
        );
    }
    println!("({note})");
    Ok(())
}
