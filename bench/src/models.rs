//! Where the face models are and how a benchmark loads them.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use image::RgbImage;
use shenfen_face::{FaceEngine, ModelConfig, decode_image};

/// The checkout's models (scripts/fetch-models.sh): benchmarks always run from a checkout.
const CHECKOUT_MODELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../models");

/// The `--models` option every benchmark that loads the face engine shares.
#[derive(Args)]
pub(crate) struct Models {
    /// Face models directory.
    #[arg(long = "models", env = "SHENFEN_MODELS", default_value = CHECKOUT_MODELS)]
    pub dir: PathBuf,
}

impl Models {
    /// The engine with `sessions` inference sessions per model.
    pub(crate) fn engine(&self, sessions: usize) -> Result<FaceEngine> {
        let mut config = ModelConfig::standard(&self.dir);
        config.sessions_per_model = sessions;
        FaceEngine::load(config)
            .with_context(|| format!("no models in {}: run scripts/fetch-models.sh", self.dir.display()))
    }

    /// A labelled photo fetched with the models.
    pub(crate) fn photo(&self, name: &str) -> PathBuf {
        self.dir.join("photos").join(name)
    }

    /// The bytes of a labelled photo.
    pub(crate) fn read_photo(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.photo(name);
        std::fs::read(&path).with_context(|| format!("cannot read {}: run scripts/fetch-models.sh", path.display()))
    }

    /// A labelled photo, decoded.
    pub(crate) fn decode_photo(&self, name: &str) -> Result<RgbImage> {
        decode_image(&self.read_photo(name)?).with_context(|| name.to_owned())
    }
}
