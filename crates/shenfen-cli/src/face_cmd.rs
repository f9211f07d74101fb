//! `shenfen face compare|detect|liveness|make-pairs|attack-sets|pad-eval|eval`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use image::RgbImage;
use serde_json::{Value, json};
use shenfen_face::{
    Accuracy, AnalysedFace, Attack, ChallengePolicy, Degradation, FaceEngine, FlashFrames, ModelConfig, QualityPolicy,
    decode_image, parse_challenge, parse_flash,
};

use crate::attack_sets;
use crate::coded_error::{ARGUMENT, FACE_NO_MATCH, FILE_READ, FORMAT, LIVENESS_FAILED, coded, fail, verdict};
use crate::files::{io_reason, print_json, read_bytes, read_text, repository_path};

#[derive(Subcommand)]
pub(crate) enum FaceCommand {
    /// Compare the faces of two images (1:1); exits 1 when they do not match.
    Compare {
        /// First image (JPEG, PNG or WebP).
        image_a: PathBuf,
        /// Second image.
        image_b: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// List the faces in an image with boxes, landmarks and quality scores.
    Detect {
        /// The image.
        image: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Check a burst of frames against a liveness challenge; exits 1 when it fails.
    Liveness {
        /// The ordered actions asked for: turn_left, turn_right, blink, nod, open_mouth.
        #[arg(long)]
        challenge: String,
        /// The frames, in capture order.
        #[arg(required = true)]
        frames: Vec<PathBuf>,
        /// Check only the active challenge (no passive anti-spoofing model).
        #[arg(long, conflicts_with = "passive_only")]
        active_only: bool,
        /// Check only the passive anti-spoofing model.
        #[arg(long)]
        passive_only: bool,
        /// The screen colours of a colour-flash challenge (red,green,blue,yellow), in order;
        /// with it, the flash frames are checked too.
        #[arg(long, requires = "flash_frame")]
        flash: Option<String>,
        /// A colour-flash frame (repeatable): the one taken before the flash first, then one per colour.
        #[arg(long = "flash-frame", requires = "flash")]
        flash_frame: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Build an evaluation set from labelled photos: degraded copies of each and every pair, as pairs.csv.
    ///
    /// A photo's person is its file name up to the first digit or underscore
    /// (`obama2.jpg`, `obama_partial.jpg` → obama).
    MakePairs {
        /// Directory of labelled photos (JPEG, PNG, WebP).
        #[arg(long)]
        photos: PathBuf,
        /// Directory to write the copies and pairs.csv to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write liveness sessions simulated from labelled photos: genuine ones and
    /// the attacks a photo makes possible (still, warped still, replay, wrong
    /// colour order, no colour, print, screen), for `pad-eval --sets`.
    AttackSets {
        /// Directory of real face photos.
        #[arg(long)]
        photos: PathBuf,
        /// Directory to write the sessions to.
        #[arg(long)]
        out: PathBuf,
        /// Sessions per framed photo and kind.
        #[arg(long, default_value_t = 1)]
        sessions: u64,
        #[command(flatten)]
        common: Common,
    },
    /// Measure presentation attack detection (APCER/BPCER, ISO/IEC 30107-3):
    /// with --photos, the passive model on the photos and their degraded copies
    /// against print and screen renderings of them; with --sets, whole sessions
    /// written by `attack-sets`, per attack kind and per check (simulated; see
    /// docs/MODELS.md).
    PadEval {
        /// Directory of real face photos.
        #[arg(long, required_unless_present = "sets", conflicts_with = "sets")]
        photos: Option<PathBuf>,
        /// Directory written by `shenfen face attack-sets`.
        #[arg(long)]
        sets: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Measure verification accuracy over labelled pairs (CSV lines `image_a,image_b,same`).
    Eval {
        /// The pairs file; image paths are relative to it.
        #[arg(long)]
        pairs: PathBuf,
        /// What the first image of each pair is compared as: the full embedding, the
        /// registry's int8 template, or the int4 template an upgraded credential signs
        /// (the second image is always a fresh full embedding, as at a verifier).
        #[arg(long, value_enum, default_value = "full")]
        template: TemplateForm,
        #[command(flatten)]
        common: Common,
    },
}

/// The representation of the enrolled side in `face eval`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum TemplateForm {
    /// The float embedding.
    Full,
    /// int8, as the registry stores it.
    Int8,
    /// int4, as an upgraded credential signs it.
    Int4,
}

impl TemplateForm {
    /// The similarity of `enrolled`, in this form, to a fresh `live` embedding.
    fn similarity(
        self,
        enrolled: &shenfen_face::Embedding,
        live: &shenfen_face::Embedding,
        model: &str,
    ) -> Result<f32> {
        let template = shenfen_face::Template::quantise(enrolled, model);
        Ok(match self {
            TemplateForm::Full => enrolled.cosine(live),
            TemplateForm::Int8 => template.similarity_to_live(live).map_err(coded)?,
            TemplateForm::Int4 => template.compact().similarity_to_live(live).map_err(coded)?,
        })
    }
}

/// Options every face command takes.
#[derive(Args, Clone)]
pub(crate) struct Common {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Directory of the model set (default: $SHENFEN_MODELS, ./models, or the repository's models/).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Match threshold (cosine similarity); default: the calibrated one.
    #[arg(long)]
    pub threshold: Option<f32>,
}

impl Common {
    /// Loads the engine from the configured model directory.
    pub(crate) fn engine(&self, sessions: usize) -> Result<FaceEngine> {
        let dir = self.model_dir();
        let mut config = ModelConfig::standard(&dir);
        if !config.runtime_library.exists() {
            return Err(fail(
                "face.model.missing",
                format!(
                    "no face models in {}: run scripts/fetch-models.sh in the shenfen checkout, or name the model \
                     directory with --models or $SHENFEN_MODELS",
                    dir.display()
                ),
            ));
        }
        config.sessions_per_model = sessions;
        let mut engine = FaceEngine::load(config).map_err(coded)?;
        if let Some(threshold) = self.threshold {
            engine.match_threshold = threshold;
        }
        Ok(engine)
    }

    /// The model directory in force.
    pub(crate) fn model_dir(&self) -> PathBuf {
        model_dir(self.models.as_deref())
    }
}

/// The model directory: `given`, else $SHENFEN_MODELS, else the repository's models/, else ./models.
pub(crate) fn model_dir(given: Option<&Path>) -> PathBuf {
    if let Some(dir) = given {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os("SHENFEN_MODELS") {
        return dir.into();
    }
    repository_path("models/SHA256SUMS")
        .and_then(|sums| sums.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("models"))
}

pub(crate) fn run(command: FaceCommand) -> Result<ExitCode> {
    match command {
        FaceCommand::Compare { image_a, image_b, common } => compare(&image_a, &image_b, &common),
        FaceCommand::Detect { image, common } => detect(&image, &common),
        FaceCommand::Liveness { challenge, frames, active_only, passive_only, flash, flash_frame, common } => {
            let policy = ChallengePolicy {
                require_passive: !active_only,
                require_active: !passive_only,
                require_flash: flash.is_some(),
                ..ChallengePolicy::default()
            };
            let flash = flash.map(|colours| (colours, flash_frame));
            liveness(&challenge, &frames, flash, &policy, &common)
        }
        FaceCommand::Eval { pairs, template, common } => eval(&pairs, template, &common),
        FaceCommand::MakePairs { photos, out } => make_pairs(&photos, &out),
        FaceCommand::AttackSets { photos, out, sessions, common } => {
            attack_sets::write_sets(&photos, &out, sessions, &common)
        }
        FaceCommand::PadEval { photos: Some(photos), common, .. } => pad_eval(&photos, &common),
        FaceCommand::PadEval { sets: Some(sets), common, .. } => attack_sets::evaluate_sets(&sets, &common),
        FaceCommand::PadEval { .. } => Err(fail(ARGUMENT, "pad-eval needs --photos or --sets")),
    }
}

/// Reads and decodes an image file, naming the file in errors.
pub(crate) fn load_image(path: &Path) -> Result<RgbImage> {
    decode_image(&read_bytes(path)?).map_err(coded).with_context(|| path.display().to_string())
}

/// Decodes and analyses the single face of an image file.
pub(crate) fn analyse_file(engine: &FaceEngine, path: &Path) -> Result<AnalysedFace> {
    let image = load_image(path)?;
    engine.analyse(&image, &QualityPolicy::default()).map_err(coded).with_context(|| path.display().to_string())
}

fn compare(a: &Path, b: &Path, common: &Common) -> Result<ExitCode> {
    let engine = common.engine(1)?;
    let (fa, fb) = (analyse_file(&engine, a)?, analyse_file(&engine, b)?);
    let result = engine.compare(&fa.embedding, &fb.embedding);
    let report = json!({
        "similarity": result.similarity,
        "match": result.matched,
        "threshold": result.threshold,
        "model": engine.embedder_id(),
    });
    let sentence = format!(
        "{}: similarity {:.3} (threshold {:.3})",
        if result.matched { "same person" } else { "different people" },
        result.similarity,
        result.threshold
    );
    if !result.matched {
        return Err(verdict(FACE_NO_MATCH, sentence, common.json.then_some(report)));
    }
    if common.json {
        print_json(&report)?;
    } else {
        println!("{sentence}");
    }
    Ok(ExitCode::SUCCESS)
}

fn detect(path: &Path, common: &Common) -> Result<ExitCode> {
    let engine = common.engine(1)?;
    let image = load_image(path)?;
    let faces = engine.detect(&image).map_err(coded)?;
    if common.json {
        print_json(&json!({ "width": image.width(), "height": image.height(), "faces": faces }))?;
    } else {
        println!("{} face(s) in {}×{}", faces.len(), image.width(), image.height());
        for (i, f) in faces.iter().enumerate() {
            let (b, q) = (&f.detection.bbox, &f.quality);
            let verdict =
                QualityPolicy::default().check(q).err().map_or("passes the quality gate".to_owned(), |e| e.to_string());
            println!(
                "  #{i}: box ({:.0},{:.0})–({:.0},{:.0}) score {:.3}; eyes {:.0} px apart, sharpness {:.0}, brightness {:.0}, yaw {:.0}°, pitch {:.0}° — {verdict}",
                b.x1,
                b.y1,
                b.x2,
                b.y2,
                f.detection.score,
                q.eye_distance,
                q.sharpness,
                q.brightness,
                q.pose.yaw,
                q.pose.pitch
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn liveness(
    challenge: &str,
    frames: &[PathBuf],
    flash: Option<(String, Vec<PathBuf>)>,
    policy: &ChallengePolicy,
    common: &Common,
) -> Result<ExitCode> {
    let challenge = parse_challenge(challenge).map_err(coded)?;
    let engine = common.engine(1)?;
    let images = frames.iter().map(|p| load_image(p)).collect::<Result<Vec<_>>>()?;
    let (colours, flash_images) = match flash {
        Some((colours, paths)) => {
            (parse_flash(&colours).map_err(coded)?, paths.iter().map(|p| load_image(p)).collect::<Result<Vec<_>>>()?)
        }
        None => (Vec::new(), Vec::new()),
    };
    let flash =
        flash_images.split_first().map(|(reference, frames)| FlashFrames { reference, frames, colours: &colours });
    let report = engine.liveness(&images, &challenge, flash, &QualityPolicy::default(), policy).map_err(coded)?;
    let (decision, observations) = (report.decision, report.observations);
    let details = json!({ "decision": decision, "frames": observations, "flash": report.flash });
    if !common.json {
        print_liveness(&decision, report.flash.as_ref());
    }
    if !decision.passed {
        let reason = format!("liveness failed: {}", decision.reason.clone().unwrap_or_default());
        return Err(verdict(LIVENESS_FAILED, reason, common.json.then_some(details)));
    }
    if common.json {
        print_json(&details)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The liveness report as sentences: the verdict, the scores, each action and colour.
fn print_liveness(decision: &shenfen_face::LivenessDecision, flash: Option<&shenfen_face::FlashDecision>) {
    let verdict = if decision.passed {
        "PASSED".to_owned()
    } else {
        format!("FAILED: {}", decision.reason.clone().unwrap_or_default())
    };
    println!("liveness {verdict}");
    println!(
        "  passive live score {:.3}; lowest same-face similarity {:.3}",
        decision.passive_score, decision.min_same_face
    );
    for step in &decision.steps {
        match (step.frame, step.value) {
            (Some(frame), Some(value)) => println!("  {:<11} seen at frame {frame} ({value:.2})", step.action),
            _ => println!("  {:<11} not seen", step.action),
        }
    }
    for response in flash.iter().flat_map(|f| &f.responses) {
        let seen = response.seen.map_or("no clear colour".to_owned(), |c| c.to_string());
        println!("  flash {:<6} seen {seen} ({:.3})", response.asked.as_str(), response.strength);
    }
}

/// The image files of a directory, sorted.
pub(crate) fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail(FILE_READ, format!("cannot read the directory {}: {}", dir.display(), io_reason(&e))))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("jpg" | "jpeg" | "png" | "webp")))
        .collect();
    entries.sort();
    Ok(entries)
}

fn pad_eval(photos: &Path, common: &Common) -> Result<ExitCode> {
    let engine = common.engine(1)?;
    let threshold = ChallengePolicy::default().min_live_score;
    let (mut bona_fide, mut attacks): (Vec<f32>, Vec<(&str, f32)>) = (Vec::new(), Vec::new());
    let mut no_face = 0usize;
    for path in image_files(photos)? {
        let photo = load_image(&path)?;
        let mut variants = vec![photo.clone()];
        for degradation in Degradation::STANDARD {
            variants.push(degradation.apply(&photo).map_err(coded)?);
        }
        for variant in &variants {
            match engine.passive_liveness(variant) {
                Ok(score) => bona_fide.push(score),
                Err(_) => no_face += 1,
            }
            for attack in Attack::ALL {
                match engine.passive_liveness(&attack.render(variant).map_err(coded)?) {
                    Ok(score) => attacks.push((attack.label(), score)),
                    Err(_) => no_face += 1,
                }
            }
        }
    }
    let bpcer = bona_fide.iter().filter(|&&s| s < threshold).count() as f64 / bona_fide.len().max(1) as f64;
    let apcer = |label: &str| {
        let scores: Vec<f32> = attacks.iter().filter(|(l, _)| *l == label).map(|(_, s)| *s).collect();
        (scores.iter().filter(|&&s| s >= threshold).count() as f64 / scores.len().max(1) as f64, scores.len())
    };
    let per_attack: Vec<Value> = Attack::ALL
        .iter()
        .map(|a| {
            let (rate, n) = apcer(a.label());
            json!({ "attack": a.label(), "presentations": n, "apcer": rate })
        })
        .collect();
    let report = json!({
        "threshold": threshold,
        "bona_fide_presentations": bona_fide.len(),
        "bpcer": bpcer,
        "attacks": per_attack,
        "no_face_found": no_face,
        "note": "attacks are simulated renderings of real photos (docs/MODELS.md), not captured print or replay attacks",
    });
    if common.json {
        print_json(&report)?;
    } else {
        println!(
            "passive anti-spoofing at live score ≥ {threshold}: BPCER {:.3} over {} bona fide presentations",
            bpcer,
            bona_fide.len()
        );
        for a in &per_attack {
            println!(
                "  APCER {:<6} {:.3} over {} simulated presentations",
                a["attack"].as_str().unwrap_or_default(),
                a["apcer"].as_f64().unwrap_or_default(),
                a["presentations"]
            );
        }
        println!(
            "  ({no_face} presentations had no detectable face; attacks are simulated renderings, not captured attacks)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn make_pairs(photos: &Path, out: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let entries = image_files(photos)?;
    let mut images: Vec<(String, String)> = Vec::new();
    for path in &entries {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        let person: String = stem.chars().take_while(|c| c.is_alphabetic()).collect();
        let image = load_image(path)?;
        let original = format!("{stem}.png");
        image.save(out.join(&original)).with_context(|| format!("cannot write {original}"))?;
        images.push((person.clone(), original));
        for degradation in Degradation::STANDARD {
            let name = format!("{stem}.{}.png", degradation.label());
            degradation
                .apply(&image)
                .map_err(coded)?
                .save(out.join(&name))
                .with_context(|| format!("cannot write {name}"))?;
            images.push((person.clone(), name));
        }
    }
    let mut csv = String::from("# image_a,image_b,same — generated by `shenfen face make-pairs`\n");
    let mut counts = [0usize; 2];
    for (i, (person_a, a)) in images.iter().enumerate() {
        for (person_b, b) in &images[i + 1..] {
            let same = person_a == person_b;
            counts[usize::from(same)] += 1;
            csv.push_str(&format!("{a},{b},{}\n", u8::from(same)));
        }
    }
    std::fs::write(out.join("pairs.csv"), csv).context("cannot write pairs.csv")?;
    println!(
        "{} images of {} photos; {} genuine and {} impostor pairs in {}",
        images.len(),
        entries.len(),
        counts[1],
        counts[0],
        out.join("pairs.csv").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// One labelled pair of the eval CSV.
struct Pair {
    a: PathBuf,
    b: PathBuf,
    same: bool,
}

fn read_pairs(path: &Path) -> Result<Vec<Pair>> {
    let base = path.parent().unwrap_or(Path::new("."));
    let text = read_text(path)?;
    let mut pairs = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [a, b, same] = fields.as_slice() else {
            return Err(fail(FORMAT, format!("{}:{}: expected image_a,image_b,same", path.display(), number + 1)));
        };
        let same = match *same {
            "1" => true,
            "0" => false,
            other => {
                let reason = format!("{}:{}: same must be 1 or 0, not {other}", path.display(), number + 1);
                return Err(fail(FORMAT, reason));
            }
        };
        pairs.push(Pair { a: base.join(a), b: base.join(b), same });
    }
    Ok(pairs)
}

fn eval(pairs_path: &Path, form: TemplateForm, common: &Common) -> Result<ExitCode> {
    let pairs = read_pairs(pairs_path)?;
    let engine = common.engine(1)?;
    let mut cache: std::collections::HashMap<PathBuf, Result<shenfen_face::Embedding, String>> = Default::default();
    let mut embedding_of = |path: &PathBuf| {
        cache
            .entry(path.clone())
            .or_insert_with(|| analyse_file(&engine, path).map(|f| f.embedding).map_err(|e| format!("{e:#}")))
            .clone()
    };
    let (mut genuine, mut impostor, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    for pair in &pairs {
        match (embedding_of(&pair.a), embedding_of(&pair.b)) {
            (Ok(a), Ok(b)) => {
                let s = form.similarity(&a, &b, &engine.embedder_id())?;
                if pair.same { genuine.push(s) } else { impostor.push(s) }
            }
            (Err(e), _) | (_, Err(e)) => failures.push(e),
        }
    }
    failures.sort();
    failures.dedup();
    let accuracy = Accuracy::from_scores(&genuine, &impostor);
    let (false_rejects, false_accepts) = Accuracy::errors_at(&genuine, &impostor, engine.match_threshold);
    let report = json!({
        "pairs": pairs.len(),
        "genuine_pairs": accuracy.genuine_pairs,
        "impostor_pairs": accuracy.impostor_pairs,
        "failures_to_enroll": failures.len(),
        "failure_reasons": failures,
        "threshold": engine.match_threshold,
        "false_rejects_at_threshold": false_rejects,
        "false_accepts_at_threshold": false_accepts,
        "min_genuine": accuracy.min_genuine,
        "max_impostor": accuracy.max_impostor,
        "margin": accuracy.margin,
        "eer": accuracy.eer,
        "tar_at_far": accuracy.tar_at_far.iter().map(|(far, tar)| json!({"far": far, "tar": tar})).collect::<Vec<Value>>(),
        "roc": accuracy.roc,
        "model": engine.embedder_id(),
    });
    if common.json {
        print_json(&report)?;
    } else {
        println!(
            "{} pairs: {} genuine, {} impostor, {} images failed to enroll",
            pairs.len(),
            accuracy.genuine_pairs,
            accuracy.impostor_pairs,
            report["failures_to_enroll"]
        );
        println!(
            "threshold {:.3}: {false_rejects} false rejects, {false_accepts} false accepts",
            engine.match_threshold
        );
        let score = |value: Option<f32>| value.map_or_else(|| "none".to_owned(), |v| format!("{v:.4}"));
        println!(
            "lowest genuine {}, highest impostor {}, margin {}",
            score(accuracy.min_genuine),
            score(accuracy.max_impostor),
            score(accuracy.margin)
        );
        println!("EER {:.4}", accuracy.eer);
        for (far, tar) in &accuracy.tar_at_far {
            match tar {
                Some(tar) => println!("TAR at FAR {far:e}: {tar:.4}"),
                None => println!(
                    "TAR at FAR {far:e}: not measurable ({} impostor pairs < {:.0})",
                    accuracy.impostor_pairs,
                    1.0 / far
                ),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
