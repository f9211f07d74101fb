//! A perceptual print of the face in a frame: 64 bits that stay (nearly)
//! the same when the same picture comes back re-encoded, resized, shifted a
//! few pixels or tinted, and differ when the picture is another capture. The
//! server remembers the prints of each number's recent enrollment frames, so
//! that a picture sent again — the same photo fed to session after session —
//! is flagged for the operators even when each session's other checks pass.
//!
//! It is a difference hash (each bit: is a pixel darker than its right
//! neighbour, on a 9 × 8 grey thumbnail of the face box). Hand-written: it
//! is twelve lines, and the crates that offer it bring their own image
//! pipelines; this one reads the face box the engine already found.

use image::imageops::{self, FilterType};
use image::{GrayImage, RgbImage};

use crate::geometry::BoundingBox;

/// Prints this many bits apart or fewer are "the same picture again": measured
/// on the labelled photos framed as selfies, a shaken, noised or JPEG-70 copy
/// stays within 5 bits; other photos are 12 (two people in one photo shoot)
/// to 42 bits away, the same person's other photos 29 or more
/// (`tests/real_photos.rs`).
pub const SAME_PICTURE_BITS: u32 = 8;

/// The print of one face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramePrint(pub u64);

impl FramePrint {
    /// The print of the face inside `face` in `image`.
    pub fn of(image: &RgbImage, face: &BoundingBox) -> FramePrint {
        let (w, h) = image.dimensions();
        let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max.saturating_sub(1));
        let (x, y) = (clamp(face.x1, w), clamp(face.y1, h));
        let (cw, ch) =
            ((clamp(face.x2, w) + 1).saturating_sub(x).max(1), (clamp(face.y2, h) + 1).saturating_sub(y).max(1));
        let grey: GrayImage = imageops::grayscale(&imageops::crop_imm(image, x, y, cw, ch).to_image());
        let thumb = imageops::resize(&grey, 9, 8, FilterType::Triangle);
        let mut bits = 0u64;
        for row in 0..8 {
            for col in 0..8 {
                let darker = thumb.get_pixel(col, row).0[0] < thumb.get_pixel(col + 1, row).0[0];
                bits = (bits << 1) | u64::from(darker);
            }
        }
        FramePrint(bits)
    }

    /// How many bits two prints differ in.
    pub fn distance(self, other: FramePrint) -> u32 {
        (self.0 ^ other.0).count_ones()
    }

    /// Whether `other` is the same picture again.
    pub fn same_picture(self, other: FramePrint) -> bool {
        self.distance(other) <= SAME_PICTURE_BITS
    }

    /// Big-endian bytes, to store.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// From stored bytes; `None` unless exactly eight.
    pub fn from_bytes(bytes: &[u8]) -> Option<FramePrint> {
        Some(FramePrint(u64::from_be_bytes(bytes.try_into().ok()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(seed: u32) -> RgbImage {
        RgbImage::from_fn(200, 200, |x, y| {
            let v = ((x * 7 + y * 3 + seed * 31) % 256) as u8 ^ ((x * y / 50 + seed) % 256) as u8;
            image::Rgb([v, v / 2, 255 - v])
        })
    }

    #[test]
    fn the_same_picture_prints_the_same_and_bytes_round_trip() {
        let face = BoundingBox { x1: 20.0, y1: 20.0, x2: 180.0, y2: 180.0 };
        let a = FramePrint::of(&gradient(1), &face);
        assert_eq!(a, FramePrint::of(&gradient(1), &face));
        assert_eq!(FramePrint::from_bytes(&a.to_bytes()), Some(a));
        assert_eq!(FramePrint::from_bytes(&[1, 2, 3]), None);
        assert!(!a.same_picture(FramePrint(!a.0)));
        // A box reaching outside the picture is clamped, not a panic.
        let outside = BoundingBox { x1: -50.0, y1: 150.0, x2: 400.0, y2: 900.0 };
        let _ = FramePrint::of(&gradient(2), &outside);
    }
}
