//! Alignment to the standard 112×112 five-point template and the face embedding.

use image::RgbImage;

use crate::FaceError;
use crate::geometry::{Affine, Point};
use crate::models::RgbInput;
use crate::runtime::OnnxModel;
use crate::sampling::{Channels, sample};

/// Where the five points land in the 112×112 aligned face (the ArcFace /
/// InsightFace reference the embedders were trained on).
pub(crate) const ALIGNED_POINTS: [Point; 5] =
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/// An L2-normalised face embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(pub Vec<f32>);

impl Embedding {
    /// Normalises a raw embedding to unit length.
    pub fn normalised(raw: Vec<f32>) -> Embedding {
        let norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt().max(f32::EPSILON);
        Embedding(raw.into_iter().map(|v| v / norm).collect())
    }

    /// Cosine similarity in [-1, 1].
    pub fn cosine(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }
}

/// The map from aligned-face pixels to source pixels for these five points.
pub(crate) fn alignment(points: &[Point; 5], input: &RgbInput) -> Option<Affine> {
    let sx = input.width as f32 / 112.0;
    let sy = input.height as f32 / 112.0;
    let target: Vec<Point> = ALIGNED_POINTS.iter().map(|p| [p[0] * sx, p[1] * sy]).collect();
    Affine::similarity(&target, points)
}

/// The aligned face as a grey 112×112 plane (0–255), for quality measures.
pub(crate) fn aligned_grey(image: &RgbImage, to_source: &Affine, input: &RgbInput) -> Vec<f32> {
    sample(image, to_source, input.width, input.height, Channels::Grey { mean: 0.0, scale: 1.0 })
}

/// Embeds the face that `to_source` aligns.
pub(crate) fn embed(
    model: &OnnxModel,
    image: &RgbImage,
    to_source: &Affine,
    input: &RgbInput,
) -> Result<Embedding, FaceError> {
    let tensor = sample(image, to_source, input.width, input.height, input.channels());
    let outputs = model.run(input.shape(), &tensor)?;
    let raw = outputs
        .into_iter()
        .next()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| FaceError::Inference { name: "embedder", reason: "no embedding output".into() })?;
    Ok(Embedding::normalised(raw))
}
