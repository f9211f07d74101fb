//! Starting `shenfen serve` or `shenfen demo` as a real process for the tests
//! that talk to it over TCP.

// Each test binary includes this module and uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Runs `shenfen ARGS` in `dir` (with `--listen 127.0.0.1:0` among the args)
/// and waits for "shenfen serving on http://ADDRESS"; returns the process and the address.
pub(crate) fn spawn_serving(dir: &Path, args: &[&str]) -> (Child, String) {
    let (child, address, _) = spawn_serving_with_output(dir, args);
    (child, address)
}

/// As [`spawn_serving`], also returning what the process printed before serving.
pub(crate) fn spawn_serving_with_output(dir: &Path, args: &[&str]) -> (Child, String, Vec<String>) {
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
    let mut printed = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(address) = line.strip_prefix("shenfen serving on http://") {
            return (child, address.trim().to_owned(), printed);
        }
        printed.push(line);
    }
    let status = child.wait().unwrap();
    panic!("`shenfen {}` exited ({status}) without serving", args.join(" "));
}

/// SIGTERM, and the exit must be clean.
pub(crate) fn stop(mut child: Child) {
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

/// POSTs JSON over a plain TCP connection (with a Bearer token if given);
/// returns the status and the JSON body.
pub(crate) fn post(address: &str, path: &str, body: &str, bearer: Option<&str>) -> (u16, Value) {
    exchange(address, "POST", path, "application/json", body, bearer)
}

/// POSTs a form (`application/x-www-form-urlencoded`, as OAuth's token endpoint takes).
pub(crate) fn post_form(address: &str, path: &str, form: &str) -> (u16, Value) {
    exchange(address, "POST", path, "application/x-www-form-urlencoded", form, None)
}

/// GETs a JSON resource (with a Bearer token if given).
pub(crate) fn get(address: &str, path: &str, bearer: Option<&str>) -> (u16, Value) {
    exchange(address, "GET", path, "application/json", "", bearer)
}

fn exchange(
    address: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
    bearer: Option<&str>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).unwrap();
    let authorization = bearer.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\n{authorization}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}")))
}

/// One request over plain TCP with the given headers (none added but Host,
/// Content-Length and Connection); the status, headers (lowercase names) and body.
pub(crate) fn exchange_raw(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    let extra: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// A fresh schema `shenfen_test_<pid>_<name>` on the PostgreSQL server these
/// machines run (or $SHENFEN_TEST_POSTGRES); its URL.
pub(crate) fn fresh_postgres(name: &str) -> String {
    use sqlx::Connection;
    let base =
        std::env::var("SHENFEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("shenfen_test_{}_{name}", std::process::id());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let mut admin =
            sqlx::AnyConnection::connect(&base).await.unwrap_or_else(|e| panic!("PostgreSQL at {base}: {e}"));
        for statement in [format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), format!("CREATE SCHEMA {schema}")] {
            sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut admin).await.unwrap();
        }
    });
    format!("{base}?options=-c%20search_path%3D{schema}")
}

/// Runs `shenfen services ARGS` in `dir` and waits for the line of `service`
/// (`政务服务 portal`, `铁路客票 rail`); answers the process and that service's address.
pub(crate) fn spawn_services(dir: &Path, args: &[&str], service: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shenfen"))
        .arg("services")
        // Free ports for the services a test does not name (their defaults may be taken).
        .args(["--hotel-listen", "127.0.0.1:0", "--police-listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let prefix = format!("Service {service}: http://");
    while let Some(line) = stdout.next() {
        if let Some(url) = line.unwrap().strip_prefix(&prefix) {
            // The other services' lines follow: read on, so the process never writes to a closed pipe.
            std::thread::spawn(move || stdout.for_each(drop));
            return (child, url.trim_end_matches('/').to_owned());
        }
    }
    panic!("shenfen services exited without serving {service}: {:?}", child.wait());
}

/// Runs `shenfen ARGS` in `dir`, expects success, returns standard output.
pub(crate) fn shenfen(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_shenfen")).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A port free now, for an origin that must be known before it serves (a client id).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
