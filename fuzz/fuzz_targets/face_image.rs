//! Any bytes as a selfie: decode → detect → quality gate → embed → template →
//! template bytes → template. Must never panic, whatever the image claims.
//! Needs the models: run scripts/fetch-models.sh first.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use shenfen_face::{FaceEngine, ModelConfig, QualityPolicy, Template, decode_image};

static ENGINE: LazyLock<FaceEngine> = LazyLock::new(|| {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    FaceEngine::load(ModelConfig::standard(&models)).unwrap_or_else(|e| panic!("{e}: run scripts/fetch-models.sh"))
});

fuzz_target!(|data: &[u8]| {
    let Ok(image) = decode_image(data) else { return };
    let _ = ENGINE.detect(&image);
    if let Ok(face) = ENGINE.analyse(&image, &QualityPolicy::default()) {
        let template = ENGINE.template(&face);
        assert_eq!(Template::from_bytes(&template.to_bytes()).ok(), Some(template));
    }
});
