//! The face engine of shenfen: image → face → template, 1:1 match, liveness.
//!
//! Pipeline: decode (EXIF-aware, pixel-capped) → detect → 68 landmarks →
//! quality gate (size, blur, pose, exposure, exactly one face) → similarity
//! alignment to the 112×112 five-point template → embedding (L2-normalised)
//! → cosine similarity against a calibrated threshold. Liveness combines a
//! passive anti-spoofing model with an active, ordered challenge checked from
//! landmarks, eye state and head pose.
//!
//! Models are pretrained ONNX files from packages (`scripts/fetch-models.sh`,
//! `docs/MODELS.md`), checked against pinned SHA-256s and run in-process by
//! ONNX Runtime. Nothing here touches the network.

mod attack;
mod augment;
mod challenge;
mod decode;
mod detection;
mod embedding;
mod engine;
mod error;
mod flash;
mod frame_print;
mod geometry;
mod head_pose;
mod landmarks;
mod models;
mod passive;
mod qr;
mod quality;
mod roc;
mod runtime;
mod sampling;
mod simulated_session;
mod template;

pub use attack::Attack;
pub use augment::{Degradation, turn_head};
pub use challenge::{
    Action, ChallengePolicy, FrameObservation, LivenessDecision, StepEvidence, evaluate, parse_challenge,
};
pub use decode::{MAX_PIXELS, decode_image, decode_image_within};
pub use detection::Detection;
pub use embedding::Embedding;
pub use engine::{
    AnalysedFace, Comparison, DEFAULT_MATCH_THRESHOLD, FaceEngine, FaceReport, FlashFrames, LivenessFailure,
    LivenessReport, StageTimes,
};
pub use error::FaceError;
pub use flash::{
    FLASH_STEPS, FlashColour, FlashDecision, FlashPolicy, FlashResponse, Lighting, classify, evaluate_flash,
    flash_sequence, lighting, parse_flash,
};
pub use frame_print::{FramePrint, SAME_PICTURE_BITS};
pub use geometry::{BoundingBox, Point};
pub use head_pose::HeadPose;
pub use models::{ModelConfig, ModelFile, RgbInput};
pub use qr::scan_qr;
pub use quality::{Quality, QualityPolicy};
pub use roc::{Accuracy, RocPoint};
pub use simulated_session::{
    SELFIE_SIZE, SessionKind, SimulatedSession, colours_for, lit_by, selfie_frame, simulate, turns_for,
};
pub use template::Template;
