//! `shenfen serve` as a process: listens, answers over real TCP, and shuts
//! down cleanly on SIGTERM.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod server_process;

use std::io::{Read, Write};
use std::net::TcpStream;

use server_process::{spawn_serving, stop};

fn get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serves_and_shuts_down_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("shenfen-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (child, address) = spawn_serving(&dir, &["serve", "--listen", "127.0.0.1:0"]);

    let health = get(&address, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let missing = get(&address, "/nope");
    assert!(missing.starts_with("HTTP/1.1 404") && missing.contains("application/problem+json"), "{missing}");
    let jwks = get(&address, "/jwks.json");
    assert!(jwks.contains("\"kid\""), "{jwks}");
    assert!(
        dir.join("shenfen-data/issuer.jwk").exists() && dir.join("shenfen-data/keys.json").exists(),
        "zero-setup data dir"
    );

    stop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_config_file_sets_what_flags_do_not_and_typos_are_refused() {
    let dir = std::env::temp_dir().join(format!("shenfen-serve-config-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("shenfen.toml"),
        "listen = \"127.0.0.1:1\"\npublic_url = \"https://id.gd.example\"\n\n[policy]\nmax_batch = 3\n",
    )
    .unwrap();
    // The flag's listen address wins over the file's; the rest comes from the file.
    let (child, address) = spawn_serving(&dir, &["serve", "--config", "shenfen.toml", "--listen", "127.0.0.1:0"]);
    let metadata = get(&address, "/.well-known/openid-credential-issuer");
    assert!(metadata.contains("\"batch_size\":3"), "{metadata}");
    assert!(metadata.contains("\"credential_issuer\":\"https://id.gd.example\""), "{metadata}");
    stop(child);

    std::fs::write(dir.join("typo.toml"), "[policy]\nmax_bacth = 3\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shenfen"))
        .args(["serve", "--config", "typo.toml", "--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("typo.toml") && stderr.contains("max_bacth"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
