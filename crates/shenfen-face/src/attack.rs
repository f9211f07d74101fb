//! Presentation-attack material rendered from real photos, for measuring the
//! passive anti-spoofing model (ISO/IEC 30107-3 APCER/BPCER). No print or
//! replay attack images can be had here, so the two common attacks are
//! simulated from what distinguishes them from a live capture: a print
//! (paper border, lost contrast, ink tint, slight blur, recaptured as JPEG)
//! and a screen replay (bezel, moiré from pixel grids beating, blue cast,
//! glare, recaptured). These are approximations; the figures they give are
//! stated as such wherever they are reported.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage, imageops};

use crate::{FaceError, decode_image};

/// A simulated presentation attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// A printed photo held up to the camera.
    Print,
    /// The photo shown on a phone or tablet screen.
    Screen,
}

impl Attack {
    /// Both attacks.
    pub const ALL: [Attack; 2] = [Attack::Print, Attack::Screen];

    /// A file-name-safe label.
    pub fn label(self) -> &'static str {
        match self {
            Attack::Print => "print",
            Attack::Screen => "screen",
        }
    }

    /// Renders the attack as the camera would capture it.
    pub fn render(self, photo: &RgbImage) -> Result<RgbImage, FaceError> {
        let (w, h) = photo.dimensions();
        let border = (w.min(h) / 12).max(4);
        let (frame, inner): (Rgb<u8>, RgbImage) = match self {
            Attack::Print => {
                let mut paper = imageops::blur(photo, 1.2);
                paper.pixels_mut().for_each(|p| {
                    let [r, g, b] = p.0.map(f32::from);
                    p.0 = [r * 0.78 + 40.0, g * 0.76 + 36.0, b * 0.70 + 30.0].map(|v| v.clamp(0.0, 255.0) as u8);
                });
                (Rgb([236, 234, 226]), paper)
            }
            Attack::Screen => {
                let mut screen = photo.clone();
                for (x, y, p) in screen.enumerate_pixels_mut() {
                    let (xf, yf) = (x as f32, y as f32);
                    let moire = 9.0 * ((xf * 0.93 + yf * 0.37) * 1.7).sin() * ((yf * 1.05 - xf * 0.21) * 1.3).sin();
                    let glare =
                        40.0 * (-(((xf / w as f32 - 0.7).powi(2) + (yf / h as f32 - 0.25).powi(2)) / 0.04)).exp();
                    let [r, g, b] = p.0.map(f32::from);
                    p.0 = [r * 0.88 + moire + glare, g * 0.92 + moire + glare, b * 1.0 + 18.0 + moire + glare]
                        .map(|v| v.clamp(0.0, 255.0) as u8);
                }
                (Rgb([12, 12, 14]), screen)
            }
        };
        let mut canvas = RgbImage::from_pixel(w + 2 * border, h + 2 * border, frame);
        imageops::replace(&mut canvas, &inner, i64::from(border), i64::from(border));
        let recaptured =
            imageops::resize(&canvas, canvas.width() * 3 / 4, canvas.height() * 3 / 4, imageops::FilterType::Triangle);
        let mut bytes = Cursor::new(Vec::new());
        JpegEncoder::new_with_quality(&mut bytes, 70)
            .encode_image(&recaptured)
            .map_err(|e| FaceError::CorruptImage(e.to_string()))?;
        decode_image(bytes.get_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacks_frame_and_recapture_the_photo() {
        let photo = RgbImage::from_fn(200, 240, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 120]));
        for attack in Attack::ALL {
            let out = attack.render(&photo).unwrap();
            assert_eq!(out.dimensions(), ((200 + 2 * 16) * 3 / 4, (240 + 2 * 16) * 3 / 4), "{attack:?}");
        }
        let print = Attack::Print.render(&photo).unwrap();
        assert!(print.get_pixel(2, 2).0.iter().all(|&c| c > 200), "white paper border");
        let screen = Attack::Screen.render(&photo).unwrap();
        assert!(screen.get_pixel(2, 2).0.iter().all(|&c| c < 40), "black bezel");
    }
}
