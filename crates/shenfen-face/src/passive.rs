//! Passive anti-spoofing (a MiniFASNet-style model on a 2.7× face crop) and
//! eye state (open/closed), the per-frame signals of liveness.

use image::RgbImage;

use crate::FaceError;
use crate::geometry::{Affine, BoundingBox};
use crate::head_pose::softmax;
use crate::landmarks::Landmarks;
use crate::runtime::OnnxModel;
use crate::sampling::{Channels, sample};

const LIVE_SIZE: usize = 128;
const EYE_SIZE: usize = 24;

/// Probability that the face is a live person rather than a print or a screen.
pub(crate) fn live_score(model: &OnnxModel, image: &RgbImage, bbox: &BoundingBox) -> Result<f32, FaceError> {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let factor = 2.7f32.min((h - 1.0) / bbox.height()).min((w - 1.0) / bbox.width());
    let region = bbox.scaled(factor).shifted_inside(w, h);
    // The model reads raw 0–255 values in BGR order: with RGB, 17 % of the
    // labelled real photos and their copies scored below 0.5; with BGR, none did.
    let raw = Channels::Bgr { mean: [0.0; 3], scale: [1.0; 3] };
    let tensor = sample(image, &Affine::crop(&region, LIVE_SIZE, LIVE_SIZE), LIVE_SIZE, LIVE_SIZE, raw);
    let outputs = model.run([1, 3, LIVE_SIZE, LIVE_SIZE], &tensor)?;
    let logits = outputs
        .first()
        .filter(|o| o.len() >= 2)
        .ok_or_else(|| FaceError::Inference { name: "liveness", reason: "expected class logits".into() })?;
    Ok(softmax(logits)[0])
}

/// Whether both eyes are closed.
pub(crate) fn eyes_closed(model: &OnnxModel, image: &RgbImage, landmarks: &Landmarks) -> Result<bool, FaceError> {
    let mut closed = true;
    for eye in landmarks.eye_boxes() {
        let grey = Channels::Grey { mean: 0.0, scale: 1.0 / 255.0 };
        let tensor = sample(image, &Affine::crop(&eye, EYE_SIZE, EYE_SIZE), EYE_SIZE, EYE_SIZE, grey);
        let outputs = model.run([1, 1, EYE_SIZE, EYE_SIZE], &tensor)?;
        let p = outputs
            .first()
            .filter(|o| o.len() == 2)
            .map(|o| softmax(o))
            .ok_or_else(|| FaceError::Inference { name: "eye_state", reason: "expected two class logits".into() })?;
        // Class 1 is "open" (checked on the labelled photos, all eyes open).
        closed &= p[0] > p[1];
    }
    Ok(closed)
}
