//! The attack corpus (made by `crates/shenfen-server/tests/attack_corpus/make_corpus.mjs`
//! with Node's crypto) through `shenfen verify`, as a counter without
//! network runs it: each QR code accepted or refused with the code the
//! corpus names, one counter's memory (`seen.json`) across them all, the
//! clock fixed at the corpus's time with `SHENFEN_NOW`.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use shenfen_credential::{SdJwt, encode_qr_payload};

#[test]
fn every_qr_of_the_attack_corpus_meets_its_refusal_at_shenfen_verify() {
    let corpus_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shenfen-server/tests/attack_corpus/corpus.json");
    let corpus: Value = serde_json::from_str(&std::fs::read_to_string(corpus_path).unwrap()).unwrap();
    let now = corpus["now"].as_i64().unwrap();
    let dir = std::env::temp_dir().join(format!("shenfen-attack-corpus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut checked = 0;
    for attack in corpus["attacks"].as_array().unwrap() {
        let Some(qr) = attack["qr"].as_str() else { continue };
        let name = attack["name"].as_str().unwrap();
        // One cache directory per cache the corpus describes; the main one is the counter's own.
        let cache_name = attack["cache"].as_str().unwrap_or("main");
        let cache = dir.join(cache_name);
        std::fs::create_dir_all(&cache).unwrap();
        let mut spec = corpus["caches"][cache_name].clone();
        spec["synced_at"] = json!(now - 10);
        std::fs::write(cache.join("verifier.json"), spec.to_string()).unwrap();
        let text = URL_SAFE_NO_PAD.encode(encode_qr_payload(&SdJwt::parse(qr).unwrap()).unwrap());
        let purpose = attack["purpose"].as_str().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_shenfen"))
            .args(["verify", "--qr-text", &text, "--purpose", purpose, "--json", "--cache"])
            .arg(&cache)
            .env("SHENFEN_NOW", now.to_string())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match attack["expect"].as_str().unwrap() {
            "accepted" => assert!(out.status.success(), "{name}: {stderr}"),
            code => {
                assert!(!out.status.success(), "{name} must be refused");
                assert!(stderr.starts_with(&format!("error: [{code}]")), "{name}: {stderr}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 12, "the corpus's QR codes all ran ({checked})");
    let _ = std::fs::remove_dir_all(&dir);
}
