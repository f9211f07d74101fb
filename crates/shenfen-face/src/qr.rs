//! Reading a QR code off a camera frame: a counter's or a hotel desk's
//! camera shows the guest's phone, and the frame is searched here, on the
//! server, so the page needs no decoder of its own.

use image::GrayImage;
use image::imageops::FilterType;

/// Finds and decodes the first QR code in a picture; `None` when there is none
/// (the camera has not found it yet), `Some(Err)` when one is seen but unreadable.
///
/// The detector (quirc's, in rqrr) misses dense codes at some sizes — a 1 KB
/// payload is a version 25–27 code — so a frame where it finds nothing, or
/// nothing readable, is tried again at a few other scales, as phone scanners do.
/// Then lightly blurred copies at those scales: a camera's video pipeline
/// (chroma subsampling, sharpening) leaves ringing at module edges that can
/// corrupt a dense code's version information or codewords, which a blur of
/// about a pixel smooths (the more reliably after upscaling).
pub fn scan_qr(picture: GrayImage) -> Option<Result<Vec<u8>, String>> {
    const SCALES: [f32; 5] = [1.0, 1.25, 0.8, 1.5, 0.65];
    let at = |scale: f32, filter| if scale == 1.0 { picture.clone() } else { rescaled(&picture, scale, filter) };
    let sharp = SCALES.into_iter().map(|scale| at(scale, FilterType::Triangle));
    let blurred = SCALES.into_iter().map(|scale| image::imageops::blur(&at(scale, FilterType::CatmullRom), 1.0));
    let mut unreadable = None;
    for attempt in sharp.chain(blurred) {
        match decode_first_grid(attempt) {
            Some(Ok(payload)) => return Some(Ok(payload)),
            Some(Err(why)) => unreadable = Some(Err(why)),
            None => {}
        }
    }
    unreadable
}

fn rescaled(picture: &GrayImage, scale: f32, filter: FilterType) -> GrayImage {
    let size = |n: u32| ((n as f32 * scale).round() as u32).max(1);
    image::imageops::resize(picture, size(picture.width()), size(picture.height()), filter)
}

fn decode_first_grid(picture: GrayImage) -> Option<Result<Vec<u8>, String>> {
    let mut prepared = rqrr::PreparedImage::prepare(picture);
    let grid = prepared.detect_grids().into_iter().next()?;
    let mut payload = Vec::new();
    Some(grid.decode_to(&mut payload).map(|_| payload).map_err(|e| e.to_string()))
}
