//! Degraded copies of real photos, for the accuracy harness: no labelled face
//! set large enough for an accuracy figure can be had here, so genuine pairs
//! are multiplied the honest way — the same real photo rotated, shrunk,
//! recompressed, dimmed, mirrored and cropped, as phones and counters
//! degrade them — and reported separately from photo-to-photo pairs.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{RgbImage, imageops};

use crate::geometry::{Affine, BoundingBox};
use crate::sampling::resample;
use crate::{FaceError, decode_image};

/// One kind of degradation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Degradation {
    /// Rotated by this many degrees about the centre (canvas kept).
    Rotate(f32),
    /// Shrunk to this fraction of each side.
    Downscale(f32),
    /// Re-encoded as JPEG at this quality (1–100).
    Jpeg(u8),
    /// Every channel multiplied by this factor.
    Brightness(f32),
    /// Left–right mirror.
    Mirror,
    /// This fraction cut from every side.
    Crop(f32),
}

impl Degradation {
    /// The set the harness applies to every photo.
    pub const STANDARD: [Degradation; 7] = [
        Degradation::Rotate(12.0),
        Degradation::Rotate(-12.0),
        Degradation::Downscale(0.3),
        Degradation::Jpeg(12),
        Degradation::Brightness(0.45),
        Degradation::Mirror,
        Degradation::Crop(0.1),
    ];

    /// A file-name-safe label, e.g. `rotate-12`, `jpeg12`.
    pub fn label(&self) -> String {
        match self {
            Degradation::Rotate(d) => format!("rotate{d:+.0}"),
            Degradation::Downscale(f) => format!("down{:.0}pct", f * 100.0),
            Degradation::Jpeg(q) => format!("jpeg{q}"),
            Degradation::Brightness(f) => format!("dim{:.0}pct", f * 100.0),
            Degradation::Mirror => "mirror".into(),
            Degradation::Crop(f) => format!("crop{:.0}pct", f * 100.0),
        }
    }

    /// Applies the degradation.
    pub fn apply(&self, image: &RgbImage) -> Result<RgbImage, FaceError> {
        let (w, h) = (image.width() as f32, image.height() as f32);
        Ok(match *self {
            Degradation::Rotate(degrees) => {
                let (s, c) = degrees.to_radians().sin_cos();
                let (cx, cy) = (w / 2.0, h / 2.0);
                let map = Affine([c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy]);
                resample(image, &map, image.width(), image.height())
            }
            Degradation::Downscale(f) => {
                let (ow, oh) = (((w * f) as u32).max(1), ((h * f) as u32).max(1));
                imageops::resize(image, ow, oh, imageops::FilterType::Triangle)
            }
            Degradation::Jpeg(quality) => {
                let mut bytes = Cursor::new(Vec::new());
                JpegEncoder::new_with_quality(&mut bytes, quality)
                    .encode_image(image)
                    .map_err(|e| FaceError::CorruptImage(e.to_string()))?;
                decode_image(bytes.get_ref())?
            }
            Degradation::Brightness(f) => {
                let mut out = image.clone();
                out.pixels_mut().for_each(|p| p.0 = p.0.map(|v| (f32::from(v) * f).round().clamp(0.0, 255.0) as u8));
                out
            }
            Degradation::Mirror => imageops::flip_horizontal(image),
            Degradation::Crop(f) => {
                let region = BoundingBox { x1: w * f, y1: h * f, x2: w * (1.0 - f), y2: h * (1.0 - f) };
                let (ow, oh) = (region.width() as u32, region.height() as u32);
                resample(image, &Affine::crop(&region, ow as usize, oh as usize), ow, oh)
            }
        })
    }
}

/// The photo with the head turned by `degrees` about a vertical cylinder
/// through `face` (positive: towards the image's right, the person's left).
///
/// No recording of a person performing liveness actions can be had here; this
/// warp of a real portrait reads to the pose model as ±20–25° of yaw at ±45°,
/// which is what the liveness tests synthesise head turns with.
pub fn turn_head(image: &RgbImage, face: &BoundingBox, degrees: f32) -> RgbImage {
    let (cx, radius) = ((face.x1 + face.x2) / 2.0, face.width() * 0.7);
    let t = degrees.to_radians();
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let d = (x as f32 - cx) / radius;
        let sx = if d.abs() < 1.0 {
            let phi = (d.asin() - t).clamp(-std::f32::consts::FRAC_PI_2, std::f32::consts::FRAC_PI_2);
            radius * phi.sin() + cx
        } else {
            x as f32
        };
        *image.get_pixel((sx.round().max(0.0) as u32).min(image.width().saturating_sub(1)), y)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degradations_keep_sizes_and_change_pixels() {
        let image = RgbImage::from_fn(100, 80, |x, y| image::Rgb([(x * 2) as u8, (y * 3) as u8, 90]));
        for d in Degradation::STANDARD {
            let out = d.apply(&image).unwrap();
            match d {
                Degradation::Downscale(_) => assert_eq!(out.dimensions(), (30, 24)),
                Degradation::Crop(_) => assert_eq!(out.dimensions(), (80, 64)),
                _ => assert_eq!(out.dimensions(), (100, 80)),
            }
            assert_ne!(out.as_raw(), image.as_raw(), "{d:?}");
        }
        assert_eq!(Degradation::Mirror.apply(&image).unwrap().get_pixel(99, 0).0, image.get_pixel(0, 0).0);
    }
}
