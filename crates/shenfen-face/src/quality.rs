//! The quality gate: a face is only matched when it is big, sharp, frontal
//! and well lit enough for the match to mean something.

use serde::{Deserialize, Serialize};

use crate::FaceError;
use crate::head_pose::HeadPose;

/// Measurements of one face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quality {
    /// Pixels between the eye centres in the source image.
    pub eye_distance: f32,
    /// Fraction of the face box's width or height that lies outside the picture.
    pub outside: f32,
    /// Variance of the Laplacian of the aligned grey face: low means blurred.
    pub sharpness: f32,
    /// Mean grey level of the aligned face, 0–255.
    pub brightness: f32,
    /// Head pose.
    pub pose: HeadPose,
}

/// Thresholds of the gate; configuration, so each deployment (and each use:
/// enrollment, counter check, liveness frames) can set its own; a missing
/// key keeps its default, an unknown one is refused.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityPolicy {
    /// Minimum inter-eye distance in pixels.
    pub min_eye_distance: f32,
    /// Largest fraction of the face box allowed outside the picture.
    pub max_outside: f32,
    /// Minimum sharpness.
    pub min_sharpness: f32,
    /// Brightness window.
    pub brightness: (f32, f32),
    /// Largest |yaw| in degrees.
    pub max_yaw: f32,
    /// Largest |pitch| in degrees.
    pub max_pitch: f32,
}

impl Default for QualityPolicy {
    /// Enrollment-grade defaults, set from the labelled photos and their
    /// degraded copies (`shenfen face eval`; see docs/MODELS.md).
    fn default() -> QualityPolicy {
        QualityPolicy {
            min_eye_distance: 28.0,
            max_outside: 0.05,
            min_sharpness: 15.0,
            brightness: (40.0, 225.0),
            max_yaw: 35.0,
            max_pitch: 30.0,
        }
    }
}

impl QualityPolicy {
    /// A policy for liveness frames: the head is expected to turn and nod.
    pub fn for_liveness_frames(self) -> QualityPolicy {
        QualityPolicy { max_yaw: 90.0, max_pitch: 90.0, ..self }
    }

    /// Refuses the face with the first failing measurement's own error.
    pub fn check(&self, q: &Quality) -> Result<(), FaceError> {
        if q.eye_distance < self.min_eye_distance {
            return Err(FaceError::FaceTooSmall { eye_distance: q.eye_distance, min: self.min_eye_distance });
        }
        if q.outside > self.max_outside {
            return Err(FaceError::FaceCutOff(q.outside * 100.0));
        }
        if q.brightness < self.brightness.0 {
            return Err(FaceError::BadExposure("too dark"));
        }
        if q.brightness > self.brightness.1 {
            return Err(FaceError::BadExposure("too bright"));
        }
        if q.pose.yaw.abs() > self.max_yaw || q.pose.pitch.abs() > self.max_pitch {
            return Err(FaceError::BadPose { yaw: q.pose.yaw, pitch: q.pose.pitch });
        }
        if q.sharpness < self.min_sharpness {
            return Err(FaceError::Blurry { sharpness: q.sharpness, min: self.min_sharpness });
        }
        Ok(())
    }
}

/// Mean and variance of the 4-neighbour Laplacian over a grey plane.
pub(crate) fn brightness_and_sharpness(grey: &[f32], width: usize, height: usize) -> (f32, f32) {
    let mean = grey.iter().sum::<f32>() / grey.len().max(1) as f32;
    let mut values = Vec::with_capacity(width * height);
    for y in 1..height.saturating_sub(1) {
        for x in 1..width.saturating_sub(1) {
            let i = y * width + x;
            values.push(grey[i - 1] + grey[i + 1] + grey[i - width] + grey[i + width] - 4.0 * grey[i]);
        }
    }
    let n = values.len().max(1) as f32;
    let lap_mean = values.iter().sum::<f32>() / n;
    let variance = values.iter().map(|v| (v - lap_mean).powi(2)).sum::<f32>() / n;
    (mean, variance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_images_have_no_sharpness() {
        let (mean, sharp) = brightness_and_sharpness(&[100.0; 64], 8, 8);
        assert_eq!((mean, sharp), (100.0, 0.0));
        let checker: Vec<f32> = (0..64).map(|i| if (i / 8 + i % 8) % 2 == 0 { 0.0 } else { 255.0 }).collect();
        assert!(brightness_and_sharpness(&checker, 8, 8).1 > 1000.0);
    }

    #[test]
    fn each_failure_has_its_own_error() {
        let good = Quality {
            eye_distance: 60.0,
            outside: 0.0,
            sharpness: 100.0,
            brightness: 120.0,
            pose: HeadPose { yaw: 0.0, pitch: 0.0, roll: 0.0 },
        };
        let p = QualityPolicy::default();
        assert_eq!(p.check(&good), Ok(()));
        assert!(matches!(p.check(&Quality { eye_distance: 10.0, ..good }), Err(FaceError::FaceTooSmall { .. })));
        assert!(matches!(p.check(&Quality { sharpness: 1.0, ..good }), Err(FaceError::Blurry { .. })));
        assert!(matches!(p.check(&Quality { outside: 0.2, ..good }), Err(FaceError::FaceCutOff(_))));
        assert_eq!(p.check(&Quality { brightness: 5.0, ..good }), Err(FaceError::BadExposure("too dark")));
        let turned = Quality { pose: HeadPose { yaw: 60.0, pitch: 0.0, roll: 0.0 }, ..good };
        assert!(matches!(p.check(&turned), Err(FaceError::BadPose { .. })));
        assert_eq!(p.for_liveness_frames().check(&turned), Ok(()));
    }
}
