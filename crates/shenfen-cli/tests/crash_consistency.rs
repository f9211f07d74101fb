//! Crash consistency: `shenfen serve` dies inside a decision's and inside an
//! issuance's transaction — at a deterministic crash point
//! (`SHENFEN_CRASH_POINT`, as abrupt as `kill -9`), between the state change
//! and its audit entry; afterwards neither is half there: the audit chain
//! verifies, every pre-authorized code has its accepted decision, every
//! issued slot its issuance entry, and the restarted server carries on.
//! (bench/kill_nine.sh does the same with 100 random SIGKILLs.)

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod server_process;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use shenfen_credential::{PrivateJwk, es256_header, sign_compact};

fn shenfen(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shenfen"));
    cmd.current_dir(dir).env_remove("SHENFEN_DB").env_remove("SHENFEN_MASTER_KEYS");
    cmd
}

/// `shenfen serve` (passive liveness, so one photo enrolls), armed with a crash point if given.
fn serve(dir: &Path, crash_point: Option<&str>) -> (Child, String) {
    let mut command = shenfen(dir);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--liveness", "passive"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(point) = crash_point {
        command.env("SHENFEN_CRASH_POINT", point);
    }
    let mut child = command.spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        if let Some(address) = line.unwrap().strip_prefix("shenfen serving on http://") {
            return (child, address.trim().to_owned());
        }
    }
    let status = child.wait();
    panic!("shenfen serve did not start: {status:?}");
}

/// Best effort: the server may die under the request, which is the point.
fn post(address: &str, path: &str, content_type: &str, body: &str, bearer: Option<&str>) -> Option<Value> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let authorization = bearer.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n{authorization}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    serde_json::from_str(response.split("\r\n\r\n").nth(1)?).ok()
}

/// Enrollment to credentials: `None` as soon as the server is gone.
fn enroll_and_issue(address: &str, frame: &str) -> Option<()> {
    let start = json!({ "id_number": "110105196108040136", "name": "王建国", "card_expiry": "长期" }).to_string();
    let session = post(address, "/enrollment/sessions", "application/json", &start, None)?;
    let path = format!("/enrollment/sessions/{}/frames", session["session_id"].as_str()?);
    let offer = post(address, &path, "application/json", &json!({ "frames": [frame] }).to_string(), None)?;
    let grant = &offer["credential_offer"]["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"];
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={}",
        grant["pre-authorized_code"].as_str()?
    );
    let token = post(address, "/token", "application/x-www-form-urlencoded", &form, None)?;
    let nonce = post(address, "/nonce", "application/json", "", None)?["c_nonce"].as_str()?.to_owned();
    let holder = PrivateJwk::generate().ok()?;
    let mut header = es256_header("openid4vci-proof+jwt", None);
    header.insert("jwk".into(), holder.public().to_value());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    let claims = json!({ "aud": format!("http://{address}"), "nonce": nonce, "iat": now });
    let proof = sign_compact(&header, claims.as_object()?, &holder.signing_key().ok()?).ok()?;
    let request = json!({ "credential_configuration_id": "shenfen_lightweight", "proofs": { "jwt": [proof] } });
    let issued =
        post(address, "/credential", "application/json", &request.to_string(), token["access_token"].as_str())?;
    issued.get("credentials").map(|_| ())
}

/// (pre-authorized codes, accepted decisions, issued slots, slots the audit log issued).
fn state_against_audit(db: &Path) -> (u64, u64, u64, u64) {
    let script = "import sqlite3,sys,json; d=sqlite3.connect(sys.argv[1]); q=lambda s: d.execute(s).fetchone()[0]; \
                  issued=sum(json.loads(r[0]).get('count',0) for r in d.execute(\"select details from audit_log where kind='credential.issued'\")); \
                  print(q(\"select count(*) from grants where kind='pre_authorized_code'\"), \
                  q(\"select count(*) from audit_log where kind='enrollment.decision' and details like '%accepted%'\"), \
                  q('select count(*) from credentials'), issued)";
    let out = Command::new("python3").args(["-c", script]).arg(db).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let n: Vec<u64> = text.split_whitespace().map(|n| n.parse().unwrap()).collect();
    assert_eq!(n.len(), 4, "{text} {}", String::from_utf8_lossy(&out.stderr));
    (n[0], n[1], n[2], n[3])
}

#[test]
fn a_crash_between_a_state_change_and_its_audit_entry_leaves_neither() {
    let dir = std::env::temp_dir().join(format!("shenfen-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let import = shenfen(&dir)
        .args(["registry", "import", "--records"])
        .arg(repo.join("demo/citizens.csv"))
        .arg("--photos")
        .arg(repo.join("models/photos"))
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let frame =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(repo.join("models/photos/obama2.jpg")).unwrap());
    let db = dir.join("shenfen-data/shenfen.db");

    // The third decision dies after its code is written and before its audit
    // entry; then the second issuance after its slots and before its entry.
    for (point, completed) in [("decision:before-audit:3", 2), ("issuance:before-audit:2", 1)] {
        let (mut server, address) = serve(&dir, Some(point));
        let done = (0..10).take_while(|_| enroll_and_issue(&address, &frame).is_some()).count();
        let status = server.wait().unwrap();
        assert!(!status.success(), "{point}: the server died at its crash point ({status})");
        assert_eq!(done, completed, "{point}: the crash landed where the point says");
        let (codes, accepted, slots, audited_slots) = state_against_audit(&db);
        assert_eq!(codes, accepted, "{point}: every pre-authorized code has its accepted decision");
        assert_eq!(slots, audited_slots, "{point}: every issued slot has its issuance entry");
        let verify = shenfen(&dir).args(["audit", "verify"]).output().unwrap();
        assert!(verify.status.success(), "{point}: {}", String::from_utf8_lossy(&verify.stderr));
    }
    // Restarted without a crash point, the authority carries on.
    let (server, address) = serve(&dir, None);
    assert!(enroll_and_issue(&address, &frame).is_some(), "enrollment and issuance work after the crashes");
    server_process::stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
