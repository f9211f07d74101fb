//! `shenfen serve` as a process: listens, answers over real TCP, and shuts
//! down cleanly on SIGTERM.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_shenfen"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .env_remove("SHENFEN_DB")
        .env_remove("SHENFEN_MASTER_KEYS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address = line.trim().rsplit("http://").next().unwrap().to_owned();

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

    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    let _ = std::fs::remove_dir_all(&dir);
}
