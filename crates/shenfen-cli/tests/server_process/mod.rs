//! Starting `shenfen serve` or `shenfen demo` as a real process for the tests
//! that talk to it over TCP.

// Each test binary includes this module and uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Runs `shenfen ARGS` in `dir` (with `--listen 127.0.0.1:0` among the args)
/// and waits for "shenfen serving on http://ADDRESS"; returns the process and the address.
pub fn spawn_serving(dir: &Path, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shenfen"))
        .args(args)
        .current_dir(dir)
        .env_remove("SHENFEN_DB")
        .env_remove("SHENFEN_MASTER_KEYS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(address) = line.strip_prefix("shenfen serving on http://") {
            return (child, address.trim().to_owned());
        }
    }
    let status = child.wait().unwrap();
    panic!("`shenfen {}` exited ({status}) without serving", args.join(" "));
}

/// SIGTERM, and the exit must be clean.
pub fn stop(mut child: Child) {
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}
