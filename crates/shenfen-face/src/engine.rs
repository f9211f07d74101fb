//! The face engine: models loaded once, shared by every thread, and the
//! pipelines built from them — analyse one face, compare two, check liveness.

use std::time::{Duration, Instant};

use image::RgbImage;
use serde::Serialize;

use crate::FaceError;
use crate::challenge::{Action, ChallengePolicy, FrameObservation, LivenessDecision, evaluate};
use crate::detection::{Detection, detect};
use crate::embedding::{Embedding, aligned_grey, alignment, embed};
use crate::flash::{FlashColour, FlashDecision, evaluate_flash, lighting};
use crate::geometry::{Affine, Point};
use crate::head_pose::{HeadPose, estimate};
use crate::landmarks::{Landmarks, predict};
use crate::models::{ModelConfig, Models};
use crate::passive::{eyes_closed, live_score};
use crate::quality::{Quality, QualityPolicy, brightness_and_sharpness};
use crate::template::Template;

/// A face counts toward "more than one face" when its box is at least this
/// fraction of the largest face's width; smaller ones are people far behind.
const OTHER_FACE_FRACTION: f32 = 0.4;
/// How much a flash frame's face box must overlap the first frame's (IoU):
/// a phone held still moves the face a little, not off its place.
const MIN_FLASH_FACE_OVERLAP: f32 = 0.5;

/// Cosine similarity at or above which two faces are the same person.
///
/// Calibrated with `shenfen face eval` on every labelled photo obtainable here
/// plus augmented copies (docs/MODELS.md, docs/BENCHMARKS.md): it sits between
/// the highest impostor and the lowest genuine score with margin on both
/// sides, and above the thresholds published for MobileFaceNet-class ArcFace
/// embedders at FAR 1e-4. Override per deployment.
pub const DEFAULT_MATCH_THRESHOLD: f32 = 0.32;

/// Everything measured about one face.
#[derive(Debug, Clone, Serialize)]
pub struct FaceReport {
    /// The detection.
    #[serde(flatten)]
    pub detection: Detection,
    /// Eye centres, nose tip, mouth corners.
    pub landmarks: [Point; 5],
    /// Quality measurements.
    pub quality: Quality,
}

/// A face that passed the gate, with its embedding.
#[derive(Debug, Clone)]
pub struct AnalysedFace {
    /// The measurements.
    pub report: FaceReport,
    /// The embedding.
    pub embedding: Embedding,
    landmarks: Landmarks,
}

/// What a liveness check saw and decided.
#[derive(Debug, Clone)]
pub struct LivenessReport {
    /// The verdict with per-step evidence.
    pub decision: LivenessDecision,
    /// Per-frame observations.
    pub observations: Vec<FrameObservation>,
    /// The first frame's face, analysed under the relaxed liveness-frame gate:
    /// callers matching it against a registry check it against their own gate
    /// instead of analysing the frame again.
    pub first: Option<AnalysedFace>,
    /// The colour-flash verdict, when flash frames were checked.
    pub flash: Option<FlashDecision>,
    /// Which part refused the session, if any.
    pub failure: Option<LivenessFailure>,
}

/// Which part of the liveness check refused a session: what an operator
/// reading the audit log needs to tell a photo from a bad camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LivenessFailure {
    /// The challenge frames: the asked movements, the passive model, or one face throughout.
    Challenge,
    /// The challenge passed, but the face did not take on the screen's colours in order.
    ColourFlash,
}

/// The frames of the colour-flash challenge: one taken just before the
/// flash, then one per colour of the session's sequence.
#[derive(Debug, Clone, Copy)]
pub struct FlashFrames<'a> {
    /// Lit by the room only.
    pub reference: &'a RgbImage,
    /// One per colour, in order.
    pub frames: &'a [RgbImage],
    /// The session's colours.
    pub colours: &'a [FlashColour],
}

/// Result of a 1:1 comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Comparison {
    /// Cosine similarity.
    pub similarity: f32,
    /// Whether it reaches the threshold.
    pub matched: bool,
    /// The threshold used.
    pub threshold: f32,
}

/// Time spent per pipeline stage, accumulated over calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageTimes {
    /// Detection (resize + detector).
    pub detect: Duration,
    /// 68-point landmarks.
    pub landmarks: Duration,
    /// Alignment map, aligned grey face, sharpness and brightness.
    pub quality: Duration,
    /// Head pose.
    pub pose: Duration,
    /// Aligned crop and embedding.
    pub embed: Duration,
}

fn timed<T>(slot: &mut Duration, stage: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = stage();
    *slot += start.elapsed();
    out
}

/// The engine.
pub struct FaceEngine {
    models: Models,
    config: ModelConfig,
    /// The match threshold in force.
    pub match_threshold: f32,
}

impl FaceEngine {
    /// Loads (and checks) every model of `config`.
    pub fn load(config: ModelConfig) -> Result<FaceEngine, FaceError> {
        Ok(FaceEngine { models: Models::load(&config)?, config, match_threshold: DEFAULT_MATCH_THRESHOLD })
    }

    /// The model identifier recorded in templates.
    pub fn embedder_id(&self) -> String {
        self.config.embedder_id()
    }

    /// Every face in the image with its measurements, best first; no gate applied.
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<FaceReport>, FaceError> {
        detect(&self.models.detector, &self.config.detector_input, image)?
            .into_iter()
            .map(|d| self.measure(image, d, &mut StageTimes::default()).map(|(report, _, _)| report))
            .collect()
    }

    /// The one face of a selfie or registry photo, gated by `policy`, embedded.
    pub fn analyse(&self, image: &RgbImage, policy: &QualityPolicy) -> Result<AnalysedFace, FaceError> {
        self.analyse_timed(image, policy, &mut StageTimes::default())
    }

    /// [`FaceEngine::analyse`], adding the time spent in each stage to `times`
    /// (for `shenfen-bench face`).
    pub fn analyse_timed(
        &self,
        image: &RgbImage,
        policy: &QualityPolicy,
        times: &mut StageTimes,
    ) -> Result<AnalysedFace, FaceError> {
        let detection = timed(&mut times.detect, || self.single_face(image))?;
        let (report, landmarks, to_source) = self.measure(image, detection, times)?;
        policy.check(&report.quality)?;
        let input = &self.config.embedder_input;
        let embedding = timed(&mut times.embed, || embed(&self.models.embedder, image, &to_source, input))?;
        Ok(AnalysedFace { report, embedding, landmarks })
    }

    /// Compares two embeddings against the threshold in force.
    pub fn compare(&self, a: &Embedding, b: &Embedding) -> Comparison {
        let similarity = a.cosine(b);
        Comparison { similarity, matched: similarity >= self.match_threshold, threshold: self.match_threshold }
    }

    /// The compact template of an analysed face.
    pub fn template(&self, face: &AnalysedFace) -> Template {
        Template::quantise(&face.embedding, &self.embedder_id())
    }

    /// Checks a burst of frames against a challenge (see `challenge`) and,
    /// given them, the colour-flash frames (see `flash`).
    pub fn liveness(
        &self,
        frames: &[RgbImage],
        challenge: &[Action],
        flash: Option<FlashFrames<'_>>,
        quality: &QualityPolicy,
        policy: &ChallengePolicy,
    ) -> Result<LivenessReport, FaceError> {
        self.liveness_interruptible(frames, challenge, flash, quality, policy, &|| false)
    }

    /// [`FaceEngine::liveness`], asking `interrupted` before each frame and
    /// stopping with [`FaceError::Interrupted`] once it says so: a server
    /// stops work nobody waits for any more.
    ///
    /// With `flash`, the colour-flash frames are checked against the face
    /// found in the first frame; when the policy requires the flash check,
    /// missing or failing flash frames fail the decision.
    pub fn liveness_interruptible(
        &self,
        frames: &[RgbImage],
        challenge: &[Action],
        flash: Option<FlashFrames<'_>>,
        quality: &QualityPolicy,
        policy: &ChallengePolicy,
        interrupted: &dyn Fn() -> bool,
    ) -> Result<LivenessReport, FaceError> {
        let frame_policy = quality.for_liveness_frames();
        let mut first: Option<AnalysedFace> = None;
        let mut observations = Vec::with_capacity(frames.len());
        for image in frames.iter().take(policy.max_frames + 1) {
            if interrupted() {
                return Err(FaceError::Interrupted);
            }
            let face = self.analyse(image, &frame_policy)?;
            let same_face = first.get_or_insert_with(|| face.clone()).embedding.cosine(&face.embedding);
            observations.push(FrameObservation {
                pose: face.report.quality.pose,
                eyes_closed: eyes_closed(&self.models.eye_state, image, &face.landmarks)?,
                mouth_opening: face.landmarks.mouth_opening(),
                same_face,
                live_score: live_score(&self.models.liveness, image, &face.report.detection.bbox)?,
            });
        }
        let mut decision = evaluate(challenge, &observations, policy);
        let flash = match (flash, &first) {
            (Some(flash), Some(face)) => {
                let size = frames.first().map(RgbImage::dimensions).unwrap_or_default();
                Some(self.flash_decision(&flash, face, size, (&frame_policy, policy), interrupted)?)
            }
            _ => None,
        };
        let mut failure = (!decision.passed).then_some(LivenessFailure::Challenge);
        if policy.require_flash && decision.passed {
            let failed = match &flash {
                None => Some("the screen's colour flashes were not filmed".to_owned()),
                Some(verdict) => verdict.reason.clone(),
            };
            if let Some(reason) = failed {
                decision.passed = false;
                decision.reason = Some(reason);
                failure = Some(LivenessFailure::ColourFlash);
            }
        }
        Ok(LivenessReport { decision, observations, first, flash, failure })
    }

    /// The colour-flash verdict: each flash frame must show the first
    /// frame's face — the same person, in the same place — so that nothing
    /// else (a sheet of paper, a hand, another face) can be held up to take
    /// on the colours; then its lighting, read where the first frame's face
    /// is, is compared with the reference frame's.
    fn flash_decision(
        &self,
        flash: &FlashFrames<'_>,
        face: &AnalysedFace,
        size: (u32, u32),
        (frame_policy, policy): (&QualityPolicy, &ChallengePolicy),
        interrupted: &dyn Fn() -> bool,
    ) -> Result<FlashDecision, FaceError> {
        let refused =
            |reason: &str| Ok(FlashDecision { passed: false, reason: Some(reason.to_owned()), responses: Vec::new() });
        let same_size = |image: &RgbImage| image.dimensions() == size;
        if !same_size(flash.reference) || !flash.frames.iter().all(same_size) {
            return refused("the flash frames are not the size of the other frames");
        }
        let bbox = &face.report.detection.bbox;
        for image in std::iter::once(flash.reference).chain(flash.frames) {
            if interrupted() {
                return Err(FaceError::Interrupted);
            }
            let same = self.analyse(image, frame_policy).ok().filter(|seen| {
                seen.embedding.cosine(&face.embedding) >= policy.min_same_face
                    && seen.report.detection.bbox.iou(bbox) >= MIN_FLASH_FACE_OVERLAP
            });
            if same.is_none() {
                return refused("the face left its place during the colours; hold the phone still");
            }
        }
        let measured = std::iter::once(flash.reference).chain(flash.frames).map(|f| lighting(f, bbox));
        match measured.collect::<Result<Vec<_>, _>>() {
            Ok(lit) => Ok(evaluate_flash(&lit[0], &lit[1..], flash.colours, &policy.flash)),
            Err(_) => refused("the face could not be measured under the colours"),
        }
    }

    /// Passive live score of the single face in `image`.
    pub fn passive_liveness(&self, image: &RgbImage) -> Result<f32, FaceError> {
        let detection = self.single_face(image)?;
        live_score(&self.models.liveness, image, &detection.bbox)
    }

    fn single_face(&self, image: &RgbImage) -> Result<Detection, FaceError> {
        let faces = detect(&self.models.detector, &self.config.detector_input, image)?;
        let largest = faces.iter().map(|f| f.bbox.width()).fold(0.0, f32::max);
        let count = faces.iter().filter(|f| f.bbox.width() >= OTHER_FACE_FRACTION * largest).count();
        match (faces.first(), count) {
            (None, _) => Err(FaceError::NoFace),
            (Some(_), n) if n > 1 => Err(FaceError::MultipleFaces(n)),
            (Some(best), _) => Ok(*best),
        }
    }

    fn measure(
        &self,
        image: &RgbImage,
        detection: Detection,
        times: &mut StageTimes,
    ) -> Result<(FaceReport, Landmarks, Affine), FaceError> {
        let landmarks = timed(&mut times.landmarks, || predict(&self.models.landmarks, image, &detection.bbox))?;
        let five = landmarks.five_points();
        let input = &self.config.embedder_input;
        let (to_source, brightness, sharpness) = timed(&mut times.quality, || {
            let to_source = alignment(&five, input).ok_or(FaceError::NoFace)?;
            let grey = aligned_grey(image, &to_source, input);
            let (brightness, sharpness) = brightness_and_sharpness(&grey, input.width, input.height);
            Ok::<_, FaceError>((to_source, brightness, sharpness))
        })?;
        let pose: HeadPose = timed(&mut times.pose, || estimate(&self.models.head_pose, image, &detection.bbox))?;
        let outside = detection.bbox.fraction_outside(image.width() as f32, image.height() as f32);
        let quality = Quality { eye_distance: landmarks.eye_distance(), outside, sharpness, brightness, pose };
        Ok((FaceReport { detection, landmarks: five, quality }, landmarks, to_source))
    }
}
