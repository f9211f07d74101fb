//! The model set: which files, with which checksums and input conventions.
//!
//! Everything is configuration, so a deployment can swap in its own
//! certified models without a code change. Each file is checked against its
//! SHA-256 before it is loaded: a model is code, and a swapped one must not
//! load silently.

use std::path::{Path, PathBuf};

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};

use crate::FaceError;
use crate::runtime::{OnnxModel, environment};
use crate::sampling::Channels;

/// One model file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    /// Path of the ONNX file.
    pub path: PathBuf,
    /// Its expected SHA-256, lowercase hex.
    pub sha256: String,
}

/// Input convention of an RGB model: size and per-channel normalisation.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct RgbInput {
    /// Input width in pixels.
    pub width: usize,
    /// Input height in pixels.
    pub height: usize,
    /// Subtracted from each 0–255 channel value.
    pub mean: [f32; 3],
    /// Multiplied after subtracting.
    pub scale: [f32; 3],
}

impl RgbInput {
    /// The sampling convention of this input.
    pub fn channels(&self) -> Channels {
        Channels::Rgb { mean: self.mean, scale: self.scale }
    }

    /// The NCHW shape of one input.
    pub fn shape(&self) -> [usize; 4] {
        [1, 3, self.height, self.width]
    }
}

/// The whole set of models the engine runs, and where ONNX Runtime lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelConfig {
    /// The ONNX Runtime shared library.
    pub runtime_library: PathBuf,
    /// Face detector (boxes and scores).
    pub detector: ModelFile,
    /// Detector input convention.
    pub detector_input: RgbInput,
    /// 68-point landmark model on a 64×64 grey crop.
    pub landmarks: ModelFile,
    /// Embedding model on the aligned face.
    pub embedder: ModelFile,
    /// Embedder input convention (size must match the alignment template).
    pub embedder_input: RgbInput,
    /// Passive anti-spoofing model on a 2.7× face crop.
    pub liveness: ModelFile,
    /// Eye open/closed model on 24×24 grey eye crops.
    pub eye_state: ModelFile,
    /// Head pose (yaw, pitch, roll bins) model.
    pub head_pose: ModelFile,
    /// Sessions per model: 1 for a single thread, the core count for throughput.
    pub sessions_per_model: usize,
}

impl ModelConfig {
    /// The default model set of `scripts/fetch-models.sh`, in `dir`
    /// (see `docs/MODELS.md` for origin, licence and checksums).
    pub fn standard(dir: &Path) -> ModelConfig {
        let file = |name: &str, sha256: &str| ModelFile { path: dir.join(name), sha256: sha256.into() };
        let centred = RgbInput { width: 320, height: 240, mean: [127.0; 3], scale: [1.0 / 128.0; 3] };
        ModelConfig {
            runtime_library: dir.join("libonnxruntime.so.1.32.0"),
            detector: file("fr_detect.onnx", "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854"),
            detector_input: centred,
            landmarks: file("fr_landmark.onnx", "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258"),
            embedder: file("fr_feature.onnx", "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"),
            embedder_input: RgbInput { width: 112, height: 112, ..centred },
            liveness: file("fr_liveness.onnx", "afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d"),
            eye_state: file("fr_eye.onnx", "1afcea006abc1ccac3c517022abde0aa092bed74ff3c9fe6878483ef9e6e38de"),
            head_pose: file("fr_pose.onnx", "72d032ec941b7153bf8d3f2c03a4c165453cc7e63d479041ec7c6ef087e5839d"),
            sessions_per_model: 1,
        }
    }

    /// The identifier templates carry: the embedder's file name and the start
    /// of its checksum, so templates of different models are never compared.
    pub fn embedder_id(&self) -> String {
        let stem = self.embedder.path.file_stem().and_then(|s| s.to_str()).unwrap_or("embedder");
        format!("{stem}-{}", self.embedder.sha256.get(..8).unwrap_or(&self.embedder.sha256))
    }
}

/// Loaded models.
pub(crate) struct Models {
    pub(crate) detector: OnnxModel,
    pub(crate) landmarks: OnnxModel,
    pub(crate) embedder: OnnxModel,
    pub(crate) liveness: OnnxModel,
    pub(crate) eye_state: OnnxModel,
    pub(crate) head_pose: OnnxModel,
}

impl Models {
    /// Loads every model after checking its checksum.
    pub(crate) fn load(config: &ModelConfig) -> Result<Models, FaceError> {
        let env = environment(&config.runtime_library)?;
        let n = config.sessions_per_model;
        let load = |name: &'static str, file: &ModelFile| OnnxModel::load(&env, name, &read_verified(name, file)?, n);
        Ok(Models {
            detector: load("detector", &config.detector)?,
            landmarks: load("landmarks", &config.landmarks)?,
            embedder: load("embedder", &config.embedder)?,
            liveness: load("liveness", &config.liveness)?,
            eye_state: load("eye_state", &config.eye_state)?,
            head_pose: load("head_pose", &config.head_pose)?,
        })
    }
}

fn read_verified(name: &'static str, file: &ModelFile) -> Result<Vec<u8>, FaceError> {
    let fail = |reason: String| FaceError::Model { name: name.into(), reason };
    let bytes = std::fs::read(&file.path)
        .map_err(|e| fail(format!("cannot read {} ({e}); run scripts/fetch-models.sh", file.path.display())))?;
    let actual: String = digest::digest(&digest::SHA256, &bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect();
    if !actual.eq_ignore_ascii_case(&file.sha256) {
        return Err(fail(format!("{} has SHA-256 {actual}, expected {}", file.path.display(), file.sha256)));
    }
    Ok(bytes)
}
