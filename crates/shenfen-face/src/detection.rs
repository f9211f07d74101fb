//! Face detection: the Ultra-Light-Fast-Generic (RFB-320) detector, whose
//! ONNX graph already decodes its priors into normalised corner boxes.

use image::RgbImage;

use crate::FaceError;
use crate::geometry::{Affine, BoundingBox};
use crate::models::RgbInput;
use crate::runtime::OnnxModel;
use crate::sampling::{box_downscale, sample};

/// Detections below this score are dropped.
pub(crate) const MIN_SCORE: f32 = 0.7;
/// Overlapping detections above this IoU are one face.
const NMS_IOU: f32 = 0.4;

/// One detected face.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Detection {
    /// Where the face is, in source pixels.
    #[serde(rename = "box")]
    pub bbox: BoundingBox,
    /// Detector confidence, 0–1.
    pub score: f32,
}

/// Every face in `image`, best first.
pub(crate) fn detect(model: &OnnxModel, input: &RgbInput, image: &RgbImage) -> Result<Vec<Detection>, FaceError> {
    let (w, h) = (image.width() as f32, image.height() as f32);
    // Shrink large photos by an integer factor first, so the resize to the
    // detector's 320×240 averages pixels instead of skipping them.
    let factor = ((w / input.width as f32).min(h / input.height as f32) / 2.0).floor().max(1.0) as u32;
    let small;
    let source = if factor > 1 {
        small = box_downscale(image, factor);
        &small
    } else {
        image
    };
    let whole = BoundingBox { x1: 0.0, y1: 0.0, x2: source.width() as f32, y2: source.height() as f32 };
    let tensor =
        sample(source, &Affine::crop(&whole, input.width, input.height), input.width, input.height, input.channels());
    let outputs = model.run(input.shape(), &tensor)?;
    let (scores, boxes) = match outputs.as_slice() {
        [scores, boxes, ..] => (scores, boxes),
        _ => return Err(FaceError::Inference { name: "detector", reason: "expected scores and boxes outputs".into() }),
    };
    let mut found: Vec<Detection> = scores
        .chunks_exact(2)
        .zip(boxes.chunks_exact(4))
        .filter(|(s, _)| s[1] >= MIN_SCORE)
        .map(|(s, b)| Detection {
            bbox: BoundingBox { x1: b[0] * w, y1: b[1] * h, x2: b[2] * w, y2: b[3] * h },
            score: s[1],
        })
        .filter(|d| d.bbox.width() > 1.0 && d.bbox.height() > 1.0)
        .collect();
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(non_maximum_suppression(found))
}

fn non_maximum_suppression(sorted: Vec<Detection>) -> Vec<Detection> {
    let mut kept: Vec<Detection> = Vec::new();
    for candidate in sorted {
        if kept.iter().all(|k| k.bbox.iou(&candidate.bbox) < NMS_IOU) {
            kept.push(candidate);
        }
    }
    kept
}
