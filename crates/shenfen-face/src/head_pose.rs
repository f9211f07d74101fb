//! Head pose (yaw, pitch, roll in degrees) from a Hopenet-style model: 66
//! bins of 3° per angle, read as the expectation of the softmax.

use image::RgbImage;

use crate::FaceError;
use crate::geometry::{Affine, BoundingBox};
use crate::runtime::OnnxModel;
use crate::sampling::{Channels, sample};

const SIZE: usize = 224;
/// ImageNet normalisation, on 0–255 values.
const CHANNELS: Channels = Channels::Rgb {
    mean: [0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0],
    scale: [1.0 / (0.229 * 255.0), 1.0 / (0.224 * 255.0), 1.0 / (0.225 * 255.0)],
};

/// Head orientation in degrees. Yaw is positive when the face turns towards
/// the image's left (the person's right); pitch is positive when the head tilts up.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct HeadPose {
    /// Left–right rotation.
    pub yaw: f32,
    /// Up–down rotation.
    pub pitch: f32,
    /// In-plane rotation.
    pub roll: f32,
}

/// Estimates the pose of the face in `bbox`.
pub(crate) fn estimate(model: &OnnxModel, image: &RgbImage, bbox: &BoundingBox) -> Result<HeadPose, FaceError> {
    let region = bbox.scaled(1.5);
    let tensor = sample(image, &Affine::crop(&region, SIZE, SIZE), SIZE, SIZE, CHANNELS);
    let outputs = model.run([1, 3, SIZE, SIZE], &tensor)?;
    let angle = |i: usize| {
        outputs.get(i).filter(|bins| !bins.is_empty()).map(|bins| expectation(bins) * 3.0 - 99.0).ok_or_else(|| {
            FaceError::Inference { name: "head_pose", reason: "expected three outputs of angle bins".into() }
        })
    };
    Ok(HeadPose { yaw: angle(0)?, pitch: angle(1)?, roll: angle(2)? })
}

/// Σ i·softmax(bins)ᵢ.
fn expectation(bins: &[f32]) -> f32 {
    let probabilities = softmax(bins);
    probabilities.iter().enumerate().map(|(i, p)| i as f32 * p).sum()
}

/// Numerically stable softmax.
pub(crate) fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_expectation() {
        let p = softmax(&[1.0, 1.0, 1.0, 1.0]);
        assert!(p.iter().all(|v| (v - 0.25).abs() < 1e-6));
        assert!((expectation(&[0.0, 100.0, 0.0]) - 1.0).abs() < 1e-4);
    }
}
