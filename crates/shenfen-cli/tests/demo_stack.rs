//! The README's run command as a newcomer would use it: `shenfen demo` sets
//! up the demo registry and serves with the colour-flash liveness check; a
//! demo citizen's real photo (a different photograph from the registry's)
//! held up to the camera is refused, and the same face taking on the
//! screen's colours (a genuine session, simulated from that photo) enrolls
//! over real HTTP.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod server_process;

use std::io::Cursor;
use std::path::PathBuf;

use base64::Engine;
use image::RgbImage;
use serde_json::{Value, json};
use server_process::{post, spawn_serving, stop};
use shenfen_face::{FaceEngine, FlashColour, ModelConfig, SessionKind, decode_image, selfie_frame, simulate};

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

fn webp_base64(image: &RgbImage) -> String {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::WebP).unwrap();
    base64::engine::general_purpose::STANDARD.encode(out.into_inner())
}

/// The body a wallet sends for a session of `kind` made from `photo`, asked for `colours`.
fn presenting(engine: &FaceEngine, kind: SessionKind, photo: &RgbImage, colours: &[FlashColour]) -> Value {
    let frame = selfie_frame(photo, &engine.detect(photo).unwrap()[0].detection.bbox);
    let face = engine.detect(&frame).unwrap()[0].detection.bbox;
    let session = simulate(kind, &frame, &face, &[], colours, 11).unwrap();
    let flash: Vec<String> =
        std::iter::once(&session.reference).chain(&session.flash_frames).map(webp_base64).collect();
    // As short as the server allows: it refuses a capture longer than the session's age.
    let captured_at: Vec<i64> = (0..=flash.len() as i64).map(|i| i * 100).collect();
    json!({ "frames": [webp_base64(&session.frames[0])], "flash_frames": flash, "captured_at": captured_at })
}

#[test]
fn a_demo_citizen_enrolls_through_the_colour_flash_and_a_photo_does_not() {
    let engine = FaceEngine::load(ModelConfig::standard(&models_dir())).unwrap();
    let dir = std::env::temp_dir().join(format!("shenfen-demo-stack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (child, address) =
        spawn_serving(&dir, &["demo", "--listen", "127.0.0.1:0", "--data-dir", dir.to_str().unwrap()]);
    let photo = decode_image(&std::fs::read(models_dir().join("photos/obama2.jpg")).unwrap()).unwrap();
    let start = json!({ "id_number": "110105196108040136", "name": "王建国", "card_expiry": "长期" }).to_string();

    for kind in [SessionKind::Still, SessionKind::Genuine] {
        let (status, session) = post(&address, "/enrollment/sessions", &start, None);
        assert_eq!(status, 201, "{session}");
        assert_eq!(session["challenge"], json!([]), "the demo asks for no movements");
        let colours: Vec<FlashColour> = session["flash"]["colours"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().parse().unwrap())
            .collect();
        let path = format!("/enrollment/sessions/{}/frames", session["session_id"].as_str().unwrap());
        let body = presenting(&engine, kind, &photo, &colours).to_string();
        let (status, answer) = post(&address, &path, &body, None);
        if kind == SessionKind::Still {
            assert_eq!(status, 422, "a photo held up to the camera: {answer}");
            assert_eq!(answer["type"], "urn:shenfen:problem:enrollment-refused");
        } else {
            assert_eq!(status, 201, "{answer}");
            let grant = &answer["credential_offer"]["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"];
            assert!(grant["pre-authorized-code"].is_null() && grant["pre-authorized_code"].is_string());
        }
    }

    stop(child);
    let _ = std::fs::remove_dir_all(&dir);
}
