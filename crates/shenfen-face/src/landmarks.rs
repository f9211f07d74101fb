//! 68-point facial landmarks (iBUG 300-W layout) and what is measured from them.

use image::RgbImage;

use crate::FaceError;
use crate::geometry::{Affine, BoundingBox, Point};
use crate::runtime::OnnxModel;
use crate::sampling::{Channels, sample};

const SIZE: usize = 64;

/// The 68 landmarks of one face, in source pixels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Landmarks(pub Vec<Point>);

/// Predicts the landmarks inside a detected box.
pub(crate) fn predict(model: &OnnxModel, image: &RgbImage, bbox: &BoundingBox) -> Result<Landmarks, FaceError> {
    let region = bbox.shifted_inside(image.width() as f32, image.height() as f32);
    let tensor =
        sample(image, &Affine::crop(&region, SIZE, SIZE), SIZE, SIZE, Channels::Grey { mean: 0.0, scale: 1.0 / 256.0 });
    let outputs = model.run([1, 1, SIZE, SIZE], &tensor)?;
    let raw = outputs
        .first()
        .filter(|o| o.len() == 136)
        .ok_or_else(|| FaceError::Inference { name: "landmarks", reason: "expected 136 outputs".into() })?;
    let points =
        raw.chunks_exact(2).map(|p| [p[0] * region.width() + region.x1, p[1] * region.height() + region.y1]).collect();
    Ok(Landmarks(points))
}

impl Landmarks {
    fn mean(&self, indices: &[usize]) -> Point {
        let sum = indices.iter().fold([0.0, 0.0], |acc, &i| [acc[0] + self.0[i][0], acc[1] + self.0[i][1]]);
        [sum[0] / indices.len() as f32, sum[1] / indices.len() as f32]
    }

    /// The five points of the ArcFace alignment: eye centres, nose tip, mouth corners.
    pub(crate) fn five_points(&self) -> [Point; 5] {
        [self.left_eye(), self.right_eye(), self.0[30], self.mean(&[48, 60]), self.mean(&[54, 64])]
    }

    /// Centre of the eye on the image's left.
    pub(crate) fn left_eye(&self) -> Point {
        self.mean(&[37, 38, 40, 41])
    }

    /// Centre of the eye on the image's right.
    pub(crate) fn right_eye(&self) -> Point {
        self.mean(&[43, 44, 46, 47])
    }

    /// Distance between the eye centres, the scale of the face.
    pub(crate) fn eye_distance(&self) -> f32 {
        let (l, r) = (self.left_eye(), self.right_eye());
        ((l[0] - r[0]).powi(2) + (l[1] - r[1]).powi(2)).sqrt()
    }

    /// Square boxes around each eye (image left, image right), 1.6× the eye's width.
    pub(crate) fn eye_boxes(&self) -> [BoundingBox; 2] {
        let around = |centre: Point, corner_a: usize, corner_b: usize| {
            let half = (self.0[corner_b][0] - self.0[corner_a][0]).abs() * 1.6 / 2.0;
            BoundingBox { x1: centre[0] - half, y1: centre[1] - half, x2: centre[0] + half, y2: centre[1] + half }
        };
        [around(self.left_eye(), 36, 39), around(self.right_eye(), 42, 45)]
    }

    /// Inner-lip opening over mouth width: about 0 closed, above 0.3 open.
    pub(crate) fn mouth_opening(&self) -> f32 {
        let dist =
            |a: usize, b: usize| ((self.0[a][0] - self.0[b][0]).powi(2) + (self.0[a][1] - self.0[b][1]).powi(2)).sqrt();
        let width = dist(60, 64).max(1.0);
        (dist(61, 67) + dist(62, 66) + dist(63, 65)) / (3.0 * width)
    }
}
