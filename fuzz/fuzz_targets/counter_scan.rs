//! Any bytes as a counter camera frame: a grey picture whose size comes from
//! the first two bytes and whose pixels are the rest, scanned for a QR code
//! at every retry scale, and any payload found unpacked. Must never panic:
//! the frame comes from whoever stands at the counter.
#![no_main]

use image::GrayImage;
use libfuzzer_sys::fuzz_target;
use shenfen_credential::decode_qr_payload;
use shenfen_server::scan_qr;

fuzz_target!(|data: &[u8]| {
    let [w, h, pixels @ ..] = data else { return };
    let (width, height) = (u32::from(*w).max(1), u32::from(*h).max(1));
    let mut frame = GrayImage::new(width, height);
    for (pixel, value) in frame.pixels_mut().zip(pixels.iter().cycle()) {
        pixel.0 = [*value];
    }
    if let Some(Ok(payload)) = scan_qr(frame) {
        let _ = decode_qr_payload(&payload);
    }
});
