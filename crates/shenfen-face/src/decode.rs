//! Turning untrusted bytes into an upright RGB image, safely.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, Limits, RgbImage};

use crate::FaceError;

/// Largest image accepted: 40 megapixels covers every phone camera; anything
/// larger is refused from its header, before a single pixel is decoded, so a
/// decompression bomb costs nothing.
pub const MAX_PIXELS: u64 = 40_000_000;
/// Smallest side accepted.
pub(crate) const MIN_SIDE: u32 = 64;

/// Decodes JPEG, PNG or WebP bytes to 8-bit RGB, applying the EXIF
/// orientation (phones store portraits sideways and say so in EXIF), and
/// dropping alpha and converting grey or 16-bit images on the way.
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage, FaceError> {
    decode_image_within(bytes, MAX_PIXELS)
}

/// [`decode_image`] with a tighter pixel cap, checked from the header: a
/// server taking live camera frames from anyone refuses a 36-megapixel
/// "frame" before decoding it, though a registry scan may be that large.
pub fn decode_image_within(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, FaceError> {
    let max_pixels = max_pixels.min(MAX_PIXELS);
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| FaceError::CorruptImage(e.to_string()))?;
    if reader.format().is_none() {
        return Err(FaceError::UnsupportedImage("unrecognised file signature".into()));
    }
    let mut decoder = reader.into_decoder().map_err(map_error)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(FaceError::ImageTooLarge { width, height, max_pixels });
    }
    if width.min(height) < MIN_SIDE {
        return Err(FaceError::ImageTooSmall { width, height, min: MIN_SIDE });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(max_pixels * 8);
    decoder.set_limits(limits).map_err(map_error)?;
    let orientation = decoder.orientation().map_err(map_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(map_error)?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

fn map_error(err: ImageError) -> FaceError {
    match err {
        ImageError::Unsupported(e) => FaceError::UnsupportedImage(e.to_string()),
        ImageError::Limits(e) => FaceError::CorruptImage(format!("exceeds decoding limits: {e}")),
        other => FaceError::CorruptImage(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgba, RgbaImage};

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn grey_alpha_and_sixteen_bit_images_become_rgb() {
        let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(80, 90, Rgba([10, 20, 30, 128])));
        let decoded = decode_image(&encode(&rgba, ImageFormat::Png)).unwrap();
        assert_eq!(decoded.dimensions(), (80, 90));
        assert_eq!(decoded.get_pixel(0, 0).0, [10, 20, 30]);
        let grey = DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(70, 70, image::Luma([65535u16])));
        assert_eq!(decode_image(&encode(&grey, ImageFormat::Png)).unwrap().get_pixel(3, 3).0, [255, 255, 255]);
    }

    #[test]
    fn a_tighter_cap_refuses_from_the_header() {
        let png = encode(&DynamicImage::new_rgb8(200, 150), ImageFormat::Png);
        assert!(decode_image_within(&png, 30_000).is_ok());
        let refused = decode_image_within(&png, 29_999).unwrap_err();
        assert!(
            matches!(refused, FaceError::ImageTooLarge { width: 200, height: 150, max_pixels: 29_999 }),
            "{refused:?}"
        );
        assert_eq!(refused.code(), "face.image.too_large");
    }

    #[test]
    fn refusals_are_typed() {
        assert!(matches!(decode_image(b"hello world"), Err(FaceError::UnsupportedImage(_))));
        let png = encode(&DynamicImage::new_rgb8(100, 100), ImageFormat::Png);
        assert!(matches!(decode_image(&png[..png.len() / 2]), Err(FaceError::CorruptImage(_))));
        let tiny = encode(&DynamicImage::new_rgb8(20, 20), ImageFormat::Png);
        assert!(matches!(decode_image(&tiny), Err(FaceError::ImageTooSmall { .. })));
    }

    #[test]
    fn decompression_bombs_are_refused_from_the_header() {
        // A valid PNG header declaring 100 000 × 100 000 pixels, with no pixel data.
        let mut png = encode(&DynamicImage::new_rgb8(64, 64), ImageFormat::Png);
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(decode_image(&png), Err(FaceError::ImageTooLarge { width: 100_000, .. })));
    }

    /// CRC-32 (ISO-HDLC) of a PNG chunk, so the forged header is otherwise valid.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
}
