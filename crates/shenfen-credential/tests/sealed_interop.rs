//! Sealed values against an independent JOSE implementation: Python's
//! joserfc (PyPI, installed by scripts/test.sh with the Python relying
//! party's requirements) opens what [`seal`] seals, and [`open_sealed`]
//! opens what joserfc seals — ECDH-ES with A256GCM on P-256 both ways.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};

use shenfen_credential::{PrivateJwk, open_sealed, seal};

/// Runs `script` with `input` on stdin; answers its stdout.
fn python(script: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "joserfc failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

const OPEN: &str = r#"
import json, sys
from joserfc import jwe
from joserfc.jwk import ECKey
given = json.load(sys.stdin)
key = ECKey.import_key(given["key"])
opened = jwe.decrypt_compact(given["jwe"], key, algorithms=["ECDH-ES", "A256GCM"])
sys.stdout.write(opened.plaintext.decode())
"#;

const SEAL: &str = r#"
import json, sys
from joserfc import jwe
from joserfc.jwk import ECKey
given = json.load(sys.stdin)
key = ECKey.import_key(given["key"])
sys.stdout.write(jwe.encrypt_compact({"alg": "ECDH-ES", "enc": "A256GCM"}, given["plaintext"].encode(), key,
                                     algorithms=["ECDH-ES", "A256GCM"]))
"#;

#[test]
fn joserfc_opens_what_shenfen_seals() {
    let police = PrivateJwk::generate().unwrap().with_kid("police-1");
    let sealed = seal(police.public(), "440106199003071223 林晓梅".as_bytes()).unwrap();
    let input = serde_json::json!({ "key": police.to_value(), "jwe": sealed }).to_string();
    assert_eq!(python(OPEN, &input), "440106199003071223 林晓梅");
}

#[test]
fn shenfen_opens_what_joserfc_seals_and_only_with_the_right_key() {
    let police = PrivateJwk::generate().unwrap();
    let input =
        serde_json::json!({ "key": police.public().to_value(), "plaintext": "room 1208, 2026-11-29" }).to_string();
    let sealed = python(SEAL, &input);
    assert_eq!(open_sealed(&police, &sealed).unwrap().as_slice(), b"room 1208, 2026-11-29");
    let other = PrivateJwk::generate().unwrap();
    assert_eq!(open_sealed(&other, &sealed).unwrap_err().code(), "credential.sealed.unopenable");
}
