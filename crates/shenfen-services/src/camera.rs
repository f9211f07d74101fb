//! Camera frames from the services' registered devices — a hotel's front
//! desk, a railway's gate: each device is known by a bearer token, each
//! frame is counted against the device's budget a minute *before* it is
//! decoded (a runaway or stolen device cannot make the service decode more),
//! decoded within a pixel cap, and searched for a QR code with the face
//! engine's `scan_qr` (the authority's counter reads QRs the same way).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use shenfen_face::{decode_image_within, scan_qr};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ProblemType, Refusal};

/// The largest camera frame read, in pixels: a 1080p frame (the pages ask
/// their cameras for 720p). A frame's cost grows with its pixels — the QR
/// scan tries several scales and blurs — so this bounds each frame's work.
const FRAME_MAX_PIXELS: u64 = 1920 * 1080;
/// The largest request carrying a camera frame (base64, a lossless 720p frame is well under).
pub(crate) const FRAME_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// The longest device token read (they are 43 characters).
const TOKEN_MAX: usize = 64;

/// The registered device a request came from (its name), put into the
/// request by the service's device check, which runs before the body is
/// read: an anonymous caller's frame is never buffered or parsed.
#[derive(Clone, Debug)]
pub(crate) struct Device(pub(crate) String);

/// The bearer token a device sent, if it looks like one (checked against the
/// database by the caller: this is only the cheap part).
pub(crate) fn device_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty() && t.len() <= TOKEN_MAX)
}

/// What each device may send a minute: frames (and scans) are counted here
/// before any is decoded or verified. Per process: two instances on one
/// database each allow a device this much.
pub(crate) struct DeviceBudget {
    per_minute: u64,
    /// Per device: the minute counted and what it sent in it.
    counts: Mutex<HashMap<String, (i64, u64)>>,
}

impl DeviceBudget {
    /// A budget of `per_minute` units per device.
    pub(crate) fn new(per_minute: u64) -> DeviceBudget {
        DeviceBudget { per_minute, counts: Mutex::default() }
    }

    /// Counts `units` of `device` in the minute of `now`; refused once over the budget.
    pub(crate) fn spend(&self, device: &str, units: u64, now: i64) -> Result<(), Refusal> {
        let minute = now.div_euclid(60);
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Registered devices are few; the last minute's counts go as the minute turns.
        counts.retain(|_, (counted, _)| *counted == minute);
        let (_, spent) = counts.entry(device.to_owned()).or_insert((minute, 0));
        *spent += units;
        if *spent > self.per_minute {
            return Err(Refusal::new(
                ProblemType::RateLimited,
                format!("at most {} camera frames and scans a minute from one device; wait a moment", self.per_minute),
            ));
        }
        Ok(())
    }
}

/// Frames decoded and scanned at once, process-wide: one per core. Budgets
/// bound each device's frames a minute; this bounds what all devices
/// together (a stolen token, many desks at once) make the process do.
static FRAME_SLOTS: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new(std::thread::available_parallelism().map_or(1, usize::from))));

/// The right to decode and scan one frame, or `busy` at once when every core is at it.
pub(crate) fn frame_slot() -> Result<OwnedSemaphorePermit, Refusal> {
    FRAME_SLOTS
        .clone()
        .try_acquire_owned()
        .map_err(|_| Refusal::new(ProblemType::Busy, "every camera-frame slot is taken; send the next frame"))
}

/// A camera frame, base64 JPEG/PNG/WebP, decoded within the pixel cap.
pub(crate) fn decoded_frame(frame: &str) -> Result<image::RgbImage, Refusal> {
    let bytes = STANDARD
        .decode(frame.trim())
        .map_err(|_| Refusal::new(ProblemType::BadRequest, "a camera frame is base64 JPEG, PNG or WebP"))?;
    decode_image_within(&bytes, FRAME_MAX_PIXELS)
        .map_err(|e| Refusal::new(ProblemType::BadRequest, format!("the camera frame is unreadable: {e}")))
}

/// The payload of the QR code a camera frame shows, base64url — on a
/// blocking thread, as decoding and scanning take tens of milliseconds.
pub(crate) async fn qr_in_frame(frame: String) -> Result<String, Refusal> {
    let slot = frame_slot()?;
    let scanned = tokio::task::spawn_blocking(move || {
        let scanned = decoded_frame(&frame).map(|picture| scan_qr(image::DynamicImage::ImageRgb8(picture).to_luma8()));
        drop(slot);
        scanned
    })
    .await
    .map_err(|_| Refusal::new(ProblemType::Internal, "the scan failed"))??;
    match scanned {
        Some(Ok(payload)) => Ok(URL_SAFE_NO_PAD.encode(payload)),
        Some(Err(why)) => {
            Err(Refusal::new(ProblemType::QrUnreadable, format!("{why}; hold the phone steady and closer")))
        }
        None => Err(Refusal::new(ProblemType::QrNotFound, "show the QR code to the camera")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_held_to_its_budget_a_minute_and_each_device_has_its_own() {
        let budget = DeviceBudget::new(10);
        let minute = 60 * 29_000_000;
        assert!((0..10).all(|_| budget.spend("gate 1", 1, minute + 5).is_ok()));
        let over = budget.spend("gate 1", 1, minute + 59).unwrap_err();
        assert_eq!(over.kind, ProblemType::RateLimited, "over the budget within the minute");
        assert!(budget.spend("gate 2", 1, minute + 59).is_ok(), "another device has its own");
        assert!(budget.spend("gate 1", 1, minute + 60).is_ok(), "a new minute");
        assert!(budget.spend("desk", 11, minute + 60).is_err(), "several units at once count as several");
    }

    #[tokio::test]
    async fn a_frame_that_is_no_picture_or_shows_no_qr_is_told_apart() {
        let garbage = qr_in_frame("bm90IGFuIGltYWdl".into()).await.unwrap_err();
        assert_eq!(garbage.kind, ProblemType::BadRequest);
        let mut blank = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(640, 480, image::Rgb([200, 200, 200]))
            .write_to(&mut blank, image::ImageFormat::Png)
            .unwrap();
        let nothing = qr_in_frame(STANDARD.encode(blank.into_inner())).await.unwrap_err();
        assert_eq!(nothing.kind, ProblemType::QrNotFound);
    }
}
