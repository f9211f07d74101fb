//! The CLI contract that other tools and scripts rely on, exercised through
//! the real binary: file formats, standard streams and exit codes.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn shenfen(args: &[&str], stdin: Option<&str>) -> Output {
    shenfen_with(args, stdin, &[])
}

fn shenfen_with(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shenfen"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn ok(args: &[&str], stdin: Option<&str>) -> String {
    let out = shenfen(args, stdin);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn refused(args: &[&str], stdin: Option<&str>) -> String {
    let out = shenfen(args, stdin);
    assert!(!out.status.success(), "{args:?} should have failed");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "one-line reason expected, got {stderr:?}");
    stderr
}

struct Workspace {
    dir: PathBuf,
}

impl Workspace {
    fn new(name: &str) -> Workspace {
        let dir = std::env::temp_dir().join(format!("shenfen-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Workspace { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    fn write(&self, name: &str, contents: &str) -> String {
        std::fs::write(self.dir.join(name), contents).unwrap();
        self.path(name)
    }

    fn keys(&self, name: &str) -> (String, String) {
        let private = self.path(&format!("{name}.jwk"));
        let public = ok(&["keys", "generate", "--out", &private], None);
        (private, self.write(&format!("{name}.pub.jwk"), &public))
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const CLAIMS: &str = r#"{"iss":"https://authority.example","name":"林晓梅","id_number_masked":"440106********1223","age_over_18":true,"region":"Guangdong"}"#;

fn issue(ws: &Workspace, issuer: &str, holder_pub: &str, extra: &[&str]) -> String {
    let claims = ws.write("claims.json", CLAIMS);
    let mut args = vec![
        "credential",
        "issue",
        "--issuer-key",
        issuer,
        "--holder-jwk",
        holder_pub,
        "--vct",
        "urn:shenfen:id:lightweight:1",
        "--claims",
        &claims,
        "--sd",
        "name,id_number_masked,age_over_18",
    ];
    args.extend_from_slice(extra);
    ok(&args, None)
}

#[test]
fn keys_issue_present_verify_end_to_end() {
    let ws = Workspace::new("e2e");
    let (issuer, issuer_pub) = ws.keys("issuer");
    let (holder, holder_pub) = ws.keys("holder");
    let private: Value = serde_json::from_str(&std::fs::read_to_string(&issuer).unwrap()).unwrap();
    let public: Value = serde_json::from_str(&std::fs::read_to_string(&issuer_pub).unwrap()).unwrap();
    assert!(private.get("d").is_some() && public.get("d").is_none());
    assert_eq!(private["kid"], public["kid"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&issuer).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let sd_jwt = issue(&ws, &issuer, &holder_pub, &[]);
    assert!(sd_jwt.trim().ends_with('~'));
    let presentation = ok(
        &[
            "credential",
            "present",
            "--holder-key",
            &holder,
            "--aud",
            "https://hotel.example",
            "--nonce",
            "n1",
            "--disclose",
            "age_over_18",
        ],
        Some(&sd_jwt),
    );
    let verified = ok(
        &["credential", "verify", "--issuer-jwk", &issuer_pub, "--aud", "https://hotel.example", "--nonce", "n1"],
        Some(&presentation),
    );
    let claims: Value = serde_json::from_str(&verified).unwrap();
    assert_eq!(claims["age_over_18"], true);
    assert_eq!(claims["region"], "Guangdong");
    assert_eq!(claims["vct"], "urn:shenfen:id:lightweight:1");
    assert!(claims.get("name").is_none() && claims.get("id_number_masked").is_none());

    let wrong_nonce = refused(
        &["credential", "verify", "--issuer-jwk", &issuer_pub, "--aud", "https://hotel.example", "--nonce", "n2"],
        Some(&presentation),
    );
    assert!(wrong_nonce.contains("credential.kb.nonce"), "{wrong_nonce}");
    let wrong_aud = refused(
        &["credential", "verify", "--issuer-jwk", &issuer_pub, "--aud", "https://rail.example", "--nonce", "n1"],
        Some(&presentation),
    );
    assert!(wrong_aud.contains("credential.kb.audience"), "{wrong_aud}");
    let (_, other_pub) = ws.keys("other");
    let wrong_issuer = refused(
        &["credential", "verify", "--issuer-jwk", &other_pub, "--aud", "https://hotel.example", "--nonce", "n1"],
        Some(&presentation),
    );
    assert!(wrong_issuer.contains("credential.signature"), "{wrong_issuer}");
    let garbage = refused(
        &["credential", "verify", "--issuer-jwk", &issuer_pub, "--aud", "a", "--nonce", "n"],
        Some("not an sd-jwt"),
    );
    assert!(garbage.contains("credential.sd_jwt.malformed"), "{garbage}");
}

#[test]
fn revocation_through_status_lists() {
    let ws = Workspace::new("status");
    let (issuer, issuer_pub) = ws.keys("issuer");
    let (holder, holder_pub) = ws.keys("holder");
    let uri = "https://authority.example/status/7";
    let sd_jwt = issue(&ws, &issuer, &holder_pub, &["--status-uri", uri, "--status-idx", "99"]);
    let presentation = ok(
        &["credential", "present", "--holder-key", &holder, "--aud", "rp", "--nonce", "n", "--disclose", "name"],
        Some(&sd_jwt),
    );
    let list_revoking = |revoked: &str| {
        let token = ok(&["status-list", "build", "--issuer-key", &issuer, "--uri", uri, "--revoked", revoked], None);
        ws.write(&format!("revoked-{revoked}.jwt"), &token)
    };
    let (valid, revoked) = (list_revoking("98,100"), list_revoking("99"));
    let verify = |list: &str| {
        shenfen(
            &[
                "credential",
                "verify",
                "--issuer-jwk",
                &issuer_pub,
                "--aud",
                "rp",
                "--nonce",
                "n",
                "--status-list",
                list,
            ],
            Some(&presentation),
        )
    };
    assert!(verify(&valid).status.success());
    let out = verify(&revoked);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("credential.status.revoked"));

    let check = |token: &str, idx: &str| {
        shenfen(&["status-list", "check", "--issuer-jwk", &issuer_pub, "--token", token, "--idx", idx], None)
    };
    let out = check(&revoked, "99");
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "INVALID (revoked)");
    let out = check(&revoked, "98");
    assert!(out.status.success());
    let out = check(&revoked, "999999999");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("credential.status.index"));
}

#[test]
fn issuing_refuses_what_must_stay_visible_and_bad_inputs() {
    let ws = Workspace::new("issue-errors");
    let (issuer, _) = ws.keys("issuer");
    let (_, holder_pub) = ws.keys("holder");
    let claims = ws.write("claims.json", CLAIMS);
    let not_json = ws.write("bad.json", "{");
    let issue_with = |key: &str, claims: &str, extra: &[&str]| {
        let base =
            ["credential", "issue", "--issuer-key", key, "--holder-jwk", &holder_pub, "--vct", "v", "--claims", claims];
        refused(&[&base[..], extra].concat(), None)
    };
    assert!(issue_with(&issuer, &claims, &["--sd", "iss"]).contains("must not be selectively disclosable"));
    assert!(issue_with(&issuer, &claims, &["--sd", "email"]).contains("no such claim"));
    assert!(issue_with(&issuer, &not_json, &[]).contains("not valid JSON"));
    assert!(issue_with(&holder_pub, &claims, &[]).contains("not a private P-256 JWK"));
    let existing = ws.path("issuer.jwk");
    assert!(refused(&["keys", "generate", "--out", &existing], None).contains("a key is never overwritten"));
}

#[test]
fn id_number_check_contract() {
    let out: Value = serde_json::from_str(&ok(&["id-number", "check", "11010519491231002X"], None)).unwrap();
    assert_eq!(out["valid"], true);
    assert_eq!(out["birth_date"], "1949-12-31");
    assert_eq!(out["sex"], "female");
    assert_eq!(out["masked"], "110105********002X");
    assert_eq!(out["region"]["province_en"], "Beijing");
    let legacy: Value = serde_json::from_str(&ok(&["id-number", "check", "110105491231002"], None)).unwrap();
    assert_eq!(legacy["converted_from_15_digits"], true);
    assert_eq!(legacy["masked"], "110105********002X");

    let out = shenfen(&["id-number", "check", "110105194912310021"], None);
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["code"], "core.id_number.checksum");
}

#[test]
fn demo_runs_to_the_end() {
    let ws = Workspace::new("demo");
    let data = ws.path("data");
    let out = ok(&["demo", "--no-serve", "--data-dir", &data], None);
    assert!(out.contains("the registry holds 1002 citizens"), "{out}");
    assert!(out.contains("railway says") && out.contains("credential.kb.audience"));
    assert!(out.contains("credential.status.revoked"));
    assert!(!out.contains("440106199003071223"), "the demo must never print the full ID number");
}

#[test]
fn a_reader_that_closes_the_pipe_early_ends_the_command_without_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_shenfen"))
        .args(["id-number", "check", "11010519491231002X"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reading end is closed before the command writes: its first write meets a closed pipe.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.signal(), Some(13), "ended by SIGPIPE, as cat or grep are: {:?}", output.status);
}

#[test]
fn audit_verify_and_a_named_key_file_refuse_what_is_missing_and_create_nothing() {
    let ws = Workspace::new("missing-store");
    let data_dir = ws.path("nowhere");
    let out = shenfen(&["audit", "verify", "--data-dir", &data_dir], None);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: [store.not_found] no database at "), "{stderr}");
    assert!(!std::path::Path::new(&data_dir).exists(), "nothing created");

    let keys = ws.path("no-such-keys.json");
    let records = ws.write("records.csv", "id_number,name\n");
    let import =
        ["registry", "import", "--records", &records, "--no-faces", "--data-dir", &data_dir, "--key-file", &keys];
    let out = shenfen(&import, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: [store.key_file] no key file at "), "{stderr}");
    assert!(!std::path::Path::new(&keys).exists() && !std::path::Path::new(&data_dir).exists(), "nothing created");
}

#[test]
fn a_refusal_under_json_is_json_on_stdout_too() {
    let out = shenfen(
        &["verify", "--qr-text", "AAAA", "--purpose", "hotel_checkin", "--cache", "/nonexistent", "--json"],
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    let refusal: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((refusal["ok"].as_bool(), refusal["code"].as_str()), (Some(false), Some("cli.file.read")));
    assert!(refusal["reason"].as_str().unwrap().starts_with("no verifier cache in /nonexistent"), "{refusal}");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: [cli.file.read] no verifier cache"));
}

#[test]
fn a_face_command_without_models_says_how_to_fetch_them() {
    let out = shenfen(&["face", "detect", "photo.jpg", "--models", "/nonexistent-models"], None);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(
            "error: [face.model.missing] no face models in /nonexistent-models: run scripts/fetch-models.sh"
        ),
        "{stderr}"
    );
}

/// A lightweight credential's claims as the authority issues them.
const QR_CLAIMS: &str = r#"{"iss":"https://authority.example","edition":"lightweight","name":"林晓梅","id_number_masked":"440106********1223","age_over_18":true,"region":"Guangdong"}"#;

#[test]
fn max_qr_age_is_exactly_the_age_and_the_clock_skew_only_forgives_a_future_iat() {
    use base64::Engine;
    const T: i64 = 1_900_000_000;
    let ws = Workspace::new("qr-age");
    let (issuer, issuer_pub) = ws.keys("issuer");
    let (holder, holder_pub) = ws.keys("holder");
    let at = |offset: i64| (T + offset).to_string();
    let run_at = |offset: i64, args: &[&str], stdin: Option<&str>| {
        let out = shenfen_with(args, stdin, &[("SHENFEN_NOW", at(offset).as_str())]);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let uri = "https://authority.example/status/1";
    let credential = run_at(
        0,
        &[
            &[
                "credential",
                "issue",
                "--issuer-key",
                &issuer,
                "--holder-jwk",
                &holder_pub,
                "--vct",
                "urn:shenfen:id:lightweight:1",
            ][..],
            &[
                "--claims",
                &ws.write("claims.json", QR_CLAIMS),
                "--sd",
                "name,id_number_masked,age_over_18",
                "--status-uri",
                uri,
                "--status-idx",
                "5",
            ],
        ]
        .concat(),
        None,
    );
    // The QR as a wallet draws it at T: a presentation bound to the counter's purpose.
    let present = [
        "credential",
        "present",
        "--holder-key",
        &holder,
        "--aud",
        "urn:shenfen:offline:hotel_checkin",
        "--nonce",
        "n",
    ];
    let presentation = run_at(0, &[&present[..], &["--disclose", "name,id_number_masked"]].concat(), Some(&credential));
    let sd_jwt = shenfen_credential::SdJwt::parse(presentation.trim()).unwrap();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(shenfen_credential::encode_qr_payload(&sd_jwt).unwrap());
    let list = run_at(0, &["status-list", "build", "--issuer-key", &issuer, "--uri", uri], None);
    let issuer_jwk: Value = serde_json::from_str(&std::fs::read_to_string(&issuer_pub).unwrap()).unwrap();
    let cache = serde_json::json!({
        "synced_at": T,
        "issuers": [{ "issuer": "https://authority.example", "keys": [issuer_jwk] }],
        "status_lists": [{ "uri": uri, "token": list.trim() }],
    });
    // Each check at its own counter (a fresh cache): an accepted QR is remembered against replay.
    let check = |offset: i64, extra: &[&str]| {
        let dir = ws.path(&format!("counter{offset}{}", extra.join("")));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/verifier.json"), cache.to_string()).unwrap();
        let args =
            [&["verify", "--qr-text", &payload, "--purpose", "hotel_checkin", "--cache", &dir][..], extra].concat();
        shenfen_with(&args, None, &[("SHENFEN_NOW", at(offset).as_str())])
    };
    let accepted = |offset: i64, extra: &[&str]| {
        let out = check(offset, extra);
        assert!(out.status.success(), "{offset} s {extra:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let refused_as = |offset: i64, extra: &[&str], code: &str| {
        let out = check(offset, extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{offset} s {extra:?}: {stderr}");
        assert!(stderr.starts_with(&format!("error: [{code}]")), "{offset} s {extra:?}: {stderr}");
    };
    accepted(89, &[]);
    let text = check(60, &[]);
    assert_eq!(
        String::from_utf8_lossy(&text.stdout).trim(),
        "verified for hotel_checkin: lightweight edition, level L1; id_number_masked 440106********1223, name 林晓梅, region Guangdong",
        "text mode is a sentence"
    );
    accepted(90, &[]);
    refused_as(91, &[], "credential.kb.too_old");
    refused_as(100, &[], "credential.kb.too_old");
    accepted(10, &["--max-qr-age", "10"]);
    refused_as(11, &["--max-qr-age", "10"], "credential.kb.too_old");
    refused_as(40, &["--max-qr-age", "10"], "credential.kb.too_old");
    // A phone whose clock runs up to 30 s ahead of the counter's.
    accepted(-30, &[]);
    refused_as(-31, &[], "credential.time.future_iat");
}

/// The first `sh` block under README.md's "Using the CLI".
fn readme_cli_block() -> String {
    let readme = include_str!("../../../README.md");
    let section = readme.split("## Using the CLI").nth(1).expect("a \"Using the CLI\" section");
    let block = section.split("```sh\n").nth(1).and_then(|rest| rest.split("\n```").next()).expect("an sh block");
    block.to_owned()
}

#[test]
fn the_readme_cli_block_runs_as_written_in_an_empty_directory() {
    let ws = Workspace::new("readme");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_shenfen")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let block = readme_cli_block();
    let out = Command::new("sh")
        .args(["-e", "-x", "-c", &block])
        .current_dir(&ws.dir)
        .env("PATH", path)
        .env_remove("SHENFEN_DATA_DIR")
        .env_remove("SHENFEN_DB")
        .env_remove("SHENFEN_KEY_FILE")
        .env_remove("SHENFEN_MASTER_KEYS")
        .env_remove("SHENFEN_INDEX_KEY")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "a step failed (the trace ends with it):\n{stderr}");
    let steps = block.lines().filter(|l| l.starts_with("shenfen ")).count();
    assert!(steps >= 9, "the block runs the CLI: {block}");
    assert!(stdout.contains("\"age_over_18\": true") && !stdout.contains("\"name\":"), "the verified claims: {stdout}");
    assert!(stdout.contains("\"valid\": true"), "the ID number check: {stdout}");
    assert!(stdout.contains("imported 1000 and rejected 0 rows"), "{stdout}");
    assert!(stdout.contains("audit chain intact: 1 entry verified"), "{stdout}");
}
