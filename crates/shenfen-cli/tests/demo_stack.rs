//! The README's run command as a newcomer would use it: `shenfen demo` sets
//! up the demo registry and serves; a demo citizen's real photo (a different
//! photograph from the registry's) enrolls over real HTTP.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod server_process;

use std::path::PathBuf;

use base64::Engine;
use serde_json::json;
use server_process::{post, spawn_serving, stop};

#[test]
fn a_demo_citizen_enrolls_with_a_real_photo() {
    let dir = std::env::temp_dir().join(format!("shenfen-demo-stack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (child, address) =
        spawn_serving(&dir, &["demo", "--listen", "127.0.0.1:0", "--data-dir", dir.to_str().unwrap()]);

    let start = json!({ "id_number": "110105196108040136", "name": "王建国", "card_expiry": "长期" }).to_string();
    let (status, session) = post(&address, "/enrollment/sessions", &start, None);
    assert_eq!(status, 201, "{session}");
    let photo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/photos/obama2.jpg");
    let frame = base64::engine::general_purpose::STANDARD.encode(std::fs::read(photo).unwrap());
    let path = format!("/enrollment/sessions/{}/frames", session["session_id"].as_str().unwrap());
    let (status, offer) = post(&address, &path, &json!({ "frames": [frame] }).to_string(), None);
    assert_eq!(status, 201, "{offer}");
    assert!(offer["credential_offer"]["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"].is_string());

    stop(child);
    let _ = std::fs::remove_dir_all(&dir);
}
