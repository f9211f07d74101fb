//! Crash consistency: `shenfen serve` is killed with SIGKILL while enrollments
//! are in flight, over and over; afterwards the audit chain verifies and every
//! pre-authorized code has its audit entry (no half-written decision).

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod server_process;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use serde_json::json;
use server_process::spawn_serving;

fn shenfen(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shenfen"));
    cmd.current_dir(dir).env_remove("SHENFEN_DB").env_remove("SHENFEN_MASTER_KEYS");
    cmd
}

/// Best effort: the server may die mid-request, which is the point.
fn post(address: &str, path: &str, body: &str) -> Option<serde_json::Value> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    serde_json::from_str(response.split("\r\n\r\n").nth(1)?).ok()
}

fn enroll(address: &str, frame: &str) {
    let start = json!({ "id_number": "110105196108040136", "name": "王建国", "card_expiry": "长期" }).to_string();
    if let Some(session) = post(address, "/enrollment/sessions", &start) {
        let path = format!("/enrollment/sessions/{}/frames", session["session_id"].as_str().unwrap_or_default());
        post(address, &path, &json!({ "frames": [frame] }).to_string());
    }
}

#[test]
fn killing_the_server_mid_enrollment_leaves_no_half_written_state() {
    let dir = std::env::temp_dir().join(format!("shenfen-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let import = shenfen(&dir)
        .args([
            "registry",
            "import",
            "--records",
            repo.join("demo/citizens.csv").to_str().unwrap(),
            "--photos",
            repo.join("models/photos").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let frame =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(repo.join("models/photos/obama2.jpg")).unwrap());

    for round in 0..4u64 {
        let (mut server, address) = spawn_serving(&dir, &["serve", "--listen", "127.0.0.1:0", "--liveness", "passive"]);
        let clients: Vec<_> = (0..3)
            .map(|_| {
                let (address, frame) = (address.clone(), frame.clone());
                std::thread::spawn(move || {
                    for _ in 0..3 {
                        enroll(&address, &frame);
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150 + 110 * round));
        server.kill().unwrap();
        server.wait().unwrap();
        for client in clients {
            client.join().unwrap();
        }
    }

    let verify = shenfen(&dir).args(["audit", "verify"]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let counts = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); \
             g=d.execute(\"select count(*) from grants where kind='pre_authorized_code'\").fetchone()[0]; \
             a=d.execute(\"select count(*) from audit_log where kind='enrollment.decision' and details like '%accepted%'\").fetchone()[0]; \
             print(g, a)",
        )
        .arg(dir.join("shenfen-data/shenfen.db"))
        .output()
        .unwrap();
    let text = String::from_utf8(counts.stdout).unwrap();
    let numbers: Vec<u64> = text.split_whitespace().map(|n| n.parse().unwrap()).collect();
    assert_eq!(numbers.len(), 2, "{text} {}", String::from_utf8_lossy(&counts.stderr));
    assert_eq!(numbers[0], numbers[1], "every pre-authorized code has its accepted decision in the audit log");
    assert!(numbers[0] > 0, "some enrollments completed between kills");
    let _ = std::fs::remove_dir_all(&dir);
}
