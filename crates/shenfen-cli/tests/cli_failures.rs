//! Every subcommand's failures keep docs/CLI.md's contract, driven through
//! the real binary with bad inputs — missing files, malformed JSON, the
//! wrong kind of key, bad ID numbers, bad database URLs: one line
//! `error: [CODE] reason` on standard error with a code docs/ERRORS.md
//! lists, the exit status of the failure's kind (1 refused, 2 usage, 3 input
//! or environment), and under `--json` nothing but `{"ok": false, "code",
//! "reason"}` on standard output.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const ERRORS_MD: &str = include_str!("../../../docs/ERRORS.md");
const MASTER: &str = "k1:4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a";
const INDEX: &str = "5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b";
const STORE_KEYS: &[(&str, &str)] = &[("SHENFEN_MASTER_KEYS", MASTER), ("SHENFEN_INDEX_KEY", INDEX)];
const WALLET_PIN: &str = "wallet-pin-1";

/// One bad invocation and what the contract says of it.
struct Case {
    /// The arguments, separated by spaces.
    args: &'static str,
    /// Standard input.
    stdin: &'static str,
    /// Environment beyond the common one.
    env: &'static [(&'static str, &'static str)],
    code: &'static str,
    status: i32,
    /// Words the reason must contain, so it says what is wrong in a sentence.
    says: &'static str,
    /// Whether the command takes `--json` (the case is run with it too).
    json: bool,
}

const fn case(args: &'static str, code: &'static str, status: i32, says: &'static str) -> Case {
    Case { args, stdin: "", env: &[], code, status, says, json: false }
}

impl Case {
    const fn with_json(mut self) -> Case {
        self.json = true;
        self
    }

    const fn stdin(mut self, stdin: &'static str) -> Case {
        self.stdin = stdin;
        self
    }

    const fn env(mut self, env: &'static [(&'static str, &'static str)]) -> Case {
        self.env = env;
        self
    }

    fn subcommand(&self) -> &str {
        self.args.split(' ').next().unwrap_or_default()
    }
}

/// The table: at least one case per subcommand `shenfen --help` lists.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    vec![
        case("demo --listen not-an-address", "cli.usage", 2, "invalid value"),
        case("keys generate --out issuer.jwk", "cli.file.write", 3, "never overwritten"),
        case("keys generate --out no-such-dir/k.jwk", "cli.file.write", 3, "no such file"),
        case("keys", "cli.usage", 2, "subcommand is missing"),
        case("credential issue --holder-jwk holder.pub.jwk --vct v --issuer-key missing.jwk --claims claims.json", "cli.file.read", 3, "cannot read missing.jwk"),
        case("credential issue --holder-jwk holder.pub.jwk --vct v --issuer-key issuer.pub.jwk --claims claims.json", "credential.jwk.invalid", 3, "not a private P-256 JWK"),
        case("credential issue --holder-jwk holder.pub.jwk --vct v --issuer-key issuer.jwk --claims bad.json", "cli.json", 3, "bad.json is not valid JSON"),
        case("credential issue --holder-jwk holder.pub.jwk --vct v --issuer-key issuer.jwk --claims array.json", "cli.json", 3, "object of claims"),
        case("credential issue --holder-jwk holder.pub.jwk --vct v --issuer-key issuer.jwk --claims claims.json --sd email", "credential.issue.no_such_claim", 3, "email"),
        case("credential present --holder-key holder.jwk --aud a --nonce n", "credential.sd_jwt.malformed", 3, "not an SD-JWT").stdin("not an sd-jwt"),
        case("credential verify --issuer-jwk other.pub.jwk --aud a --nonce n", "credential.signature", 1, "signature").stdin("@presentation"),
        case("credential verify --issuer-jwk issuer.pub.jwk --aud a --nonce n --status-list expired.jwt", "credential.time.expired", 1, "the status list expired").stdin("@presentation"),
        case("credential verify --issuer-jwk issuer.pub.jwk --aud a --nonce n --status-list revoked.jwt", "credential.status.revoked", 1, "").stdin("@presentation"),
        case("status-list build --issuer-key issuer.jwk --uri u --revoked 200000", "credential.status.index", 3, "--revoked 200000"),
        case("status-list build --issuer-key issuer.jwk --uri u --suspended 3", "cli.argument", 2, "--bits 2"),
        case("status-list build --issuer-key issuer.jwk --uri u --exp-in 0", "cli.usage", 2, "--exp-in"),
        case("status-list check --issuer-jwk issuer.pub.jwk --token missing.jwt --idx 1", "cli.file.read", 3, "missing.jwt"),
        case("status-list check --issuer-jwk issuer.pub.jwk --token revoked.jwt --idx 99", "credential.status.revoked", 1, "entry 99"),
        case("status-list check --issuer-jwk issuer.pub.jwk --token expired.jwt --idx 1", "credential.time.expired", 1, "the status list expired"),
        case("serve --key-file no-keys.json --data-dir serve-data --listen 127.0.0.1:0", "store.key_file", 3, "no-keys.json"),
        case("serve --db sqlite:no-such.db --listen 127.0.0.1:0", "store.not_found", 3, "no-such.db"),
        case("serve --models /nonexistent-models --data-dir serve-data --listen 127.0.0.1:0", "face.model.missing", 3, "fetch-models.sh"),
        case("serve --config bad.json --listen 127.0.0.1:0", "cli.format", 3, "bad.json is not a valid config"),
        case("serve --police-key issuer.jwk --data-dir serve-data --listen 127.0.0.1:0", "cli.private_key", 3, "holds a private key"),
        case("registry import --no-faces --records missing.csv --db sqlite:r.db", "cli.file.read", 3, "missing.csv").env(STORE_KEYS).with_json(),
        case("registry import --no-faces --records records.csv --db mysql://db.example/x", "store.url", 3, "unsupported database URL").env(STORE_KEYS).with_json(),
        case("registry import --no-faces --records records.csv --db postgres://db:port/x", "store.database", 3, "invalid port").env(STORE_KEYS).with_json(),
        case("registry import --no-faces --records bad-rows.csv --db sqlite:r.db", "cli.format", 3, "no row of bad-rows.csv").env(STORE_KEYS),
        case("registry import --no-faces --records bad-rows.csv --db sqlite:r2.db --json", "cli.format", 3, "no row of bad-rows.csv").env(STORE_KEYS),
        case("registry synth --count 1 --out claims.json/x", "cli.file.write", 3, "cannot write"),
        case("services --authority not-a-url", "cli.usage", 2, "not a URL"),
        case("services --authority ftp://authority.example", "cli.usage", 2, "http(s) URL"),
        case("services --authority http://127.0.0.1:9 --database-url mysql://db.example/x --data-dir services-data", "services.database_url", 3, "unsupported database URL"),
        case("services clerk add --username a --database-url mysql://db.example/x --data-dir services-data", "services.database_url", 3, "unsupported database URL"),
        case("services clerk add", "cli.usage", 2, "--username"),
        case("audit verify --data-dir nowhere", "store.not_found", 3, "no database at"),
        case("audit verify --db mysql://db.example/x", "store.url", 3, "unsupported database URL").env(STORE_KEYS),
        case("wallet list --wallet no-wallet", "wallet.location", 3, "wallet init").with_json(),
        case("wallet list --wallet w", "wallet.pin.wrong", 1, "PIN").env(&[("SHENFEN_WALLET_PIN", "wallet-pin-2")]).with_json(),
        case("wallet init --wallet w2", "wallet.pin.weak", 3, "PIN").env(&[("SHENFEN_WALLET_PIN", "1")]).with_json(),
        case("wallet enroll --wallet w --server http://127.0.0.1:1 --id-number 110105194912310021 --name x --card-expiry 长期 --frames missing.jpg", "cli.file.read", 3, "missing.jpg").with_json(),
        case("wallet qr --wallet w --purpose hotel_checkin --out q.png", "wallet.no_credential", 3, "enroll again").with_json(),
        case("verifier sync --trust-list missing.jwt --anchor anchor.pub.jwk --cache c", "cli.file.read", 3, "missing.jwt").with_json(),
        case("verifier sync --trust-list expired-trust.jwt --anchor anchor.pub.jwk --cache c", "credential.time.expired", 1, "the trust list expired").with_json(),
        case("verifier sync --trust-list expired-trust.jwt --anchor bad.json --cache c", "credential.json", 3, "bad.json is not a P-256 JWK").with_json(),
        case("verifier sync --server http://127.0.0.1:1 --cache c", "verifier.network", 3, "http://127.0.0.1:1").with_json(),
        case("verify --qr-text AAAA --purpose hotel_checkin --cache nowhere", "cli.file.read", 3, "verifier sync").with_json(),
        case("verify --qr claims.json --purpose hotel_checkin --cache cache", "face.image.unsupported", 3, "claims.json").with_json(),
        case("verify --qr blank.png --purpose hotel_checkin --cache cache", "cli.qr.not_found", 3, "no QR code").with_json(),
        case("verify --qr-text not-base64! --purpose hotel_checkin --cache cache", "cli.argument", 2, "base64url").with_json(),
        case("verify --qr-text AAAA --purpose hotel_checkin --cache cache", "credential.qr.invalid", 3, "").with_json(),
        case("verify --qr-text AAAA --purpose sightseeing --cache cache", "cli.usage", 2, "sightseeing").with_json(),
        case("trust-list build --anchor-key anchor.jwk --out t.jwt --authority https://gd.example,Guangdong,issuer.pub.jwk", "cli.jwks", 3, "holds a single JWK; a JWK Set is expected"),
        case("trust-list build --anchor-key anchor.jwk --out t.jwt --authority https://gd.example,Guangdong,empty.jwks", "cli.jwks", 3, "has no keys"),
        case("trust-list build --anchor-key anchor.jwk --out t.jwt --authority https://gd.example,Guangdong,issuer.jwks --valid-days 0", "cli.usage", 2, "--valid-days"),
        case("trust-list build --anchor-key anchor.jwk --out t.jwt --authority https://gd.example", "cli.argument", 2, "ISSUER_URL,REGION,JWKS_FILE"),
        case("rp add --client-id hotel --name Hotel --claims name --db sqlite:r.db", "relying_party.client_id", 3, "hotel").env(STORE_KEYS),
        case("rp add --client-id https://hotel.example --name Hotel --claims name --db mysql://db.example/x", "store.url", 3, "unsupported database URL").env(STORE_KEYS),
        case("rp add --client-id https://hotel.example --name Hotel --claims name --redirect-uri https://hotel.example/cb --client-jwks bad.json --db sqlite:r.db", "cli.json", 3, "JWK Set").env(STORE_KEYS),
        case("operator add --username desk-1 --role counter --password-stdin --db sqlite:r.db", "cli.argument", 2, "12 characters").stdin("short").env(STORE_KEYS),
        case("operator add --username desk-1 --role janitor --db sqlite:r.db", "cli.usage", 2, "janitor").env(STORE_KEYS),
        case("counter add --name= --db sqlite:r.db", "cli.argument", 2, "1 to 100 characters").env(STORE_KEYS),
        case("counter add --name desk --db postgres://db:port/x", "store.database", 3, "invalid port").env(STORE_KEYS),
        case("face compare missing.jpg blank.png", "cli.file.read", 3, "missing.jpg").with_json(),
        case("face compare claims.json blank.png", "face.image.unsupported", 3, "claims.json").with_json(),
        case("face compare blank.png blank.png", "face.quality.no_face", 3, "blank.png").with_json(),
        case("face compare @photos/obama2.jpg @photos/biden.jpg", "face.no_match", 1, "different people").with_json(),
        case("face detect blank.png --models /nonexistent-models", "face.model.missing", 3, "fetch-models.sh").with_json(),
        case("face liveness --challenge moonwalk blank.png", "face.liveness.challenge", 3, "moonwalk").with_json(),
        case("face eval --pairs bad-rows.csv", "cli.format", 3, "expected image_a,image_b,same").with_json(),
        case("id-number check 110105194912310021", "core.id_number.checksum", 1, "check character"),
        case("id-number check 12345", "core.id_number.length", 1, "18 characters"),
    ]
}

struct Workspace {
    dir: PathBuf,
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn checkout() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shenfen"));
    command
        .args(args)
        .current_dir(dir)
        .env("SHENFEN_WALLET_PIN", WALLET_PIN)
        .env("SHENFEN_MODELS", checkout().join("models"))
        .env_remove("SHENFEN_DB")
        .env_remove("SHENFEN_DATA_DIR")
        .env_remove("SHENFEN_KEY_FILE")
        .env_remove("SHENFEN_MASTER_KEYS")
        .env_remove("SHENFEN_INDEX_KEY");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

fn run(dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child =
        command(dir, args, env).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> String {
    let out = run(dir, args, stdin, env);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The files the cases name, made with the binary itself.
fn workspace(name: &str) -> Workspace {
    let dir = std::env::temp_dir().join(format!("shenfen-cli-failures-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.as_path();
    let write = |name: &str, contents: &str| std::fs::write(d.join(name), contents).unwrap();
    for key in ["issuer", "holder", "other", "anchor"] {
        let public = ok(d, &["keys", "generate", "--out", &format!("{key}.jwk")], "", &[]);
        write(&format!("{key}.pub.jwk"), &public);
    }
    let issuer_pub = std::fs::read_to_string(d.join("issuer.pub.jwk")).unwrap();
    write("issuer.jwks", &format!("{{\"keys\":[{issuer_pub}]}}"));
    write("empty.jwks", "{\"keys\":[]}");
    write("claims.json", r#"{"iss":"https://authority.example","name":"林晓梅","age_over_18":true}"#);
    write("bad.json", "{");
    write("array.json", "[1, 2]");
    write("bad-rows.csv", "id_number,name\nnot,a record\n");
    let uri = "https://authority.example/status/1";
    let issue = [
        "credential",
        "issue",
        "--issuer-key",
        "issuer.jwk",
        "--holder-jwk",
        "holder.pub.jwk",
        "--vct",
        "v",
        "--claims",
        "claims.json",
        "--sd",
        "name",
        "--status-uri",
        uri,
        "--status-idx",
        "99",
    ];
    let credential = ok(d, &issue, "", &[]);
    write("credential.sd-jwt", &credential);
    let present = ["credential", "present", "--holder-key", "holder.jwk", "--aud", "a", "--nonce", "n"];
    write("presentation.txt", &ok(d, &present, &credential, &[]));
    let list = |extra: &[&str], env: &[(&str, &str)]| {
        let args = [&["status-list", "build", "--issuer-key", "issuer.jwk", "--uri", uri][..], extra].concat();
        ok(d, &args, "", env)
    };
    write("revoked.jwt", &list(&["--revoked", "99"], &[]));
    write("expired.jwt", &list(&[], &[("SHENFEN_NOW", "1000")]));
    let trust = ["trust-list", "build", "--anchor-key", "anchor.jwk", "--authority"];
    let trust =
        [&trust[..], &["https://authority.example,Guangdong,issuer.jwks", "--out", "expired-trust.jwt"]].concat();
    ok(d, &trust, "", &[("SHENFEN_NOW", "1000")]);
    ok(d, &["registry", "synth", "--count", "3", "--out", "."], "", &[]);
    ok(d, &["wallet", "init", "--wallet", "w"], "", &[]);
    std::fs::create_dir_all(d.join("cache")).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    write("cache/verifier.json", &format!("{{\"synced_at\":{now},\"issuers\":[],\"status_lists\":[]}}"));
    image::GrayImage::from_pixel(320, 240, image::Luma([128])).save(d.join("blank.png")).unwrap();
    Workspace { dir }
}

/// The codes docs/ERRORS.md lists: the first cell of each table row.
fn documented_codes() -> BTreeSet<&'static str> {
    ERRORS_MD
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(code, _)| code))
        .collect()
}

/// `error: [code] reason` as one line, or the reason it is not. Only the
/// documented per-row reports of `registry import` (`FILE:LINE: skipped:
/// reason`) may come before it.
fn parse_line(stderr: &str) -> Result<(&str, &str), String> {
    let text = stderr.strip_suffix('\n').ok_or("no final newline")?;
    let (before, line) = text.rsplit_once('\n').unwrap_or(("", text));
    if before.lines().any(|report| !report.contains(": skipped: ")) {
        return Err("more than one line".into());
    }
    let (code, reason) =
        line.strip_prefix("error: [").and_then(|rest| rest.split_once("] ")).ok_or("not `error: [code] reason`")?;
    let well_formed = !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || "_.".contains(c));
    if !well_formed || reason.trim().is_empty() {
        return Err(format!("code {code:?} is not [a-z_.]+, or the reason is empty"));
    }
    Ok((code, reason))
}

/// The case's arguments and input, with `@photos/…` and `@presentation` resolved.
fn resolve(ws: &Workspace, case: &Case) -> (Vec<String>, String) {
    let photos = checkout().join("models/photos");
    let args = case
        .args
        .split(' ')
        .map(|arg| match arg.strip_prefix("@photos/") {
            Some(name) => photos.join(name).display().to_string(),
            None => arg.to_owned(),
        })
        .collect();
    let stdin = match case.stdin {
        "@presentation" => std::fs::read_to_string(ws.dir.join("presentation.txt")).unwrap(),
        other => other.to_owned(),
    };
    (args, stdin)
}

/// Checks one run against the case; returns what is wrong, if anything.
fn judge(case: &Case, json: bool, out: &Output, documented: &BTreeSet<&str>) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (code, reason) = parse_line(&stderr).map_err(|why| format!("{why}: {stderr:?}"))?;
    if code != case.code {
        return Err(format!("code {code}, expected {}: {stderr}", case.code));
    }
    if !documented.contains(code) {
        return Err(format!("{code} is not in docs/ERRORS.md"));
    }
    if !reason.contains(case.says) {
        return Err(format!("the reason does not say {:?}: {reason}", case.says));
    }
    if ["Object {", "String(", "Some(", "(\"", "\"."].iter().any(|debug| reason.contains(debug)) {
        return Err(format!("debug notation in the reason: {reason}"));
    }
    if out.status.code() != Some(case.status) {
        return Err(format!("exit {:?}, expected {}", out.status.code(), case.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    if json || stdout.trim_start().starts_with('{') {
        let refusal: Value =
            serde_json::from_str(&stdout).map_err(|e| format!("stdout is not one JSON value ({e}): {stdout:?}"))?;
        if refusal["ok"] != false || refusal["code"] != code || refusal["reason"] != reason {
            return Err(format!("stdout is not the refusal {{ok: false, code, reason}}: {refusal}"));
        }
    }
    Ok(())
}

#[test]
fn every_failure_of_every_subcommand_is_one_coded_line_with_the_status_of_its_kind() {
    let ws = workspace("table");
    let documented = documented_codes();
    assert!(documented.len() > 100, "docs/ERRORS.md parsed to only {} codes", documented.len());
    let mut failures = Vec::new();
    let cases = cases();
    for case in &cases {
        let (args, stdin) = resolve(&ws, case);
        let mut runs = vec![(args.clone(), false)];
        if case.json {
            runs.push(([args, vec!["--json".to_owned()]].concat(), true));
        }
        for (args, json) in runs {
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = run(&ws.dir, &argv, &stdin, case.env);
            if let Err(why) = judge(case, json, &out, &documented) {
                failures.push(format!("shenfen {}{}: {why}", case.args, if json { " --json" } else { "" }));
            }
        }
    }
    assert!(failures.is_empty(), "{} broken:\n{}", failures.len(), failures.join("\n"));
    assert!(
        !ws.dir.join("serve-data").exists() && !ws.dir.join("no-such.db").exists(),
        "a refused serve creates nothing"
    );
    assert!(!ws.dir.join("nowhere").exists(), "audit verify creates nothing");
    assert!(!ws.dir.join("services-data").exists(), "a refused services command creates nothing");

    // Every subcommand the binary lists has its cases.
    let help = ok(&ws.dir, &["--help"], "", &[]);
    let listed: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .and_then(|rest| rest.split("Options:").next())
        .unwrap()
        .lines()
        // A name stands two spaces in; a description wrapped to the terminal's
        // width (clap's wrap_help, enabled when the workspace builds together) deeper.
        .filter_map(|line| line.strip_prefix("  ").filter(|rest| !rest.starts_with(' ')))
        .filter_map(|entry| entry.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(listed.len() >= 16, "{listed:?}");
    let untested: Vec<&&str> = listed.iter().filter(|name| !cases.iter().any(|c| c.subcommand() == **name)).collect();
    assert!(untested.is_empty(), "subcommands without failure cases: {untested:?}");
}

#[test]
fn a_verdict_under_json_keeps_its_fields_beside_the_refusal() {
    let ws = workspace("verdicts");
    let photos = checkout().join("models/photos");
    let (a, b) = (photos.join("obama2.jpg"), photos.join("biden.jpg"));
    let out = run(&ws.dir, &["face", "compare", a.to_str().unwrap(), b.to_str().unwrap(), "--json"], "", &[]);
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((verdict["ok"].as_bool(), verdict["match"].as_bool()), (Some(false), Some(false)), "{verdict}");
    assert!(verdict["similarity"].as_f64().unwrap() < verdict["threshold"].as_f64().unwrap());
    let same = photos.join("obama3.jpg");
    let out = run(&ws.dir, &["face", "compare", a.to_str().unwrap(), same.to_str().unwrap(), "--json"], "", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["match"], true);

    let out = run(
        &ws.dir,
        &["status-list", "check", "--issuer-jwk", "issuer.pub.jwk", "--token", "revoked.jwt", "--idx", "99"],
        "",
        &[],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["ok"].as_bool(), report["valid"].as_bool()), (Some(false), Some(false)));
    assert_eq!(report["status"], "INVALID (revoked)");
    let out = run(&ws.dir, &["id-number", "check", "110105194912310021"], "", &[]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["valid"].as_bool(), report["code"].as_str()), (Some(false), Some("core.id_number.checksum")));
}

#[test]
fn the_wrong_holder_key_presents_nothing() {
    let ws = workspace("holder");
    let credential = std::fs::read_to_string(ws.dir.join("credential.sd-jwt")).unwrap();
    for key in ["other.jwk", "issuer.jwk"] {
        let out = run(
            &ws.dir,
            &["credential", "present", "--holder-key", key, "--aud", "a", "--nonce", "n"],
            &credential,
            &[],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.starts_with(&format!("error: [cli.holder_key] {key} is not the key this credential is bound to")),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "no presentation printed");
    }
}

#[test]
fn json_output_is_only_json_and_a_closed_pipe_ends_a_command_by_sigpipe() {
    use std::os::unix::process::ExitStatusExt;
    let ws = workspace("pipes");
    ok(&ws.dir, &["registry", "synth", "--count", "50", "--out", "r"], "", &[]);
    let args = ["registry", "import", "--records", "r/records.csv", "--no-faces", "--db", "sqlite:r.db", "--json"];
    let first: Value = serde_json::from_str(&ok(&ws.dir, &args, "", STORE_KEYS)).unwrap();
    assert_eq!((first["imported"].as_u64(), first["registry_citizens"].as_u64()), (Some(50), Some(50)), "{first}");
    let again: Value = serde_json::from_str(&ok(&ws.dir, &args, "", STORE_KEYS)).unwrap();
    assert_eq!(
        (again["imported"].as_u64(), again["skipped_already_imported"].as_u64()),
        (Some(0), Some(50)),
        "{again}"
    );
    let text = ok(&ws.dir, &args[..args.len() - 1], "", STORE_KEYS);
    assert!(text.starts_with("nothing to import: the 50 rows of r/records.csv were imported before"), "{text}");

    // The reader of stdout, or of stderr, goes away before the command writes.
    let closed = |args: &[&str], stdout: bool| {
        let mut child = command(&ws.dir, args, &[])
            .stdin(Stdio::null())
            .stdout(if stdout { Stdio::piped() } else { Stdio::null() })
            .stderr(if stdout { Stdio::null() } else { Stdio::piped() })
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().unwrap()
    };
    for (args, stdout) in [
        (&["wallet", "list", "--wallet", "w", "--json"][..], true),
        (&["status-list", "build", "--issuer-key", "issuer.jwk", "--uri", "u"][..], true),
        (&["keys", "generate", "--out", "issuer.jwk"][..], false),
    ] {
        let status = closed(args, stdout);
        assert_eq!(status.signal(), Some(13), "{args:?} ended by SIGPIPE, not a panic (101): {status:?}");
    }
}
