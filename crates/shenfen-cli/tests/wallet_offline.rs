//! The citizen's wallet and a counter's offline verifier as a script drives
//! them, against `shenfen demo` over real HTTP: enroll with a real photo,
//! show a QR code, check it with the network's cache only — and every attack
//! of the offline path refused with its own code.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod server_process;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use server_process::{get, post, spawn_serving_with_output, stop};

const WANG: &str = "110105196108040136";

fn photo(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/photos").join(name).display().to_string()
}

fn shenfen(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shenfen"));
    command.args(args).current_dir(dir).env("SHENFEN_WALLET_PIN", "wallet-pin-1");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// Runs and expects success; returns the JSON it printed.
fn ok(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
    let out = shenfen(dir, args, env);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Runs and expects failure with `code`.
fn refused(dir: &Path, args: &[&str], code: &str) {
    let out = shenfen(dir, args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(stderr.starts_with(&format!("error: [{code}]")), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
}

fn verify<'a>(qr: &'a str, purpose: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["verify", "--qr", qr, "--purpose", purpose, "--cache", "cache", "--json"];
    args.extend_from_slice(extra);
    args
}

#[test]
fn enroll_show_a_qr_and_verify_it_offline() {
    let dir = std::env::temp_dir().join(format!("shenfen-wallet-offline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("authority");
    let (child, address, printed) =
        // A CLI wallet enrolls from photo files: the demo's `passive` setting, which lets a still stand in for a camera.
        spawn_serving_with_output(
            &dir,
            &["demo", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap(), "--liveness", "passive"],
        );
    let server = format!("http://{address}");
    let d = dir.as_path();
    // A hotel registers with the verifier service before the citizen enrolls,
    // so the credentials carry its pairwise pseudonym.
    let data_dir = data.to_str().unwrap();
    let rp = shenfen(
        d,
        &[
            "rp",
            "add",
            "--client-id",
            "https://hotel.example",
            "--name",
            "Hotel Example",
            "--claims",
            "name,id_number_masked",
            "--data-dir",
            data_dir,
        ],
        &[],
    );
    assert!(rp.status.success(), "{}", String::from_utf8_lossy(&rp.stderr));
    let rp_out = String::from_utf8(rp.stdout).unwrap();
    let api_key = rp_out.trim().rsplit(' ').next().unwrap().to_owned();

    ok(d, &["wallet", "init", "--wallet", "w", "--json"], &[]);
    let out = shenfen(d, &["wallet", "list", "--wallet", "w"], &[("SHENFEN_WALLET_PIN", "wallet-pin-2")]);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: [wallet.pin.wrong]"));
    let enroll = |frames: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "wallet",
            "enroll",
            "--wallet",
            "w",
            "--server",
            &server,
            "--id-number",
            WANG,
            "--name",
            "王建国",
            "--card-expiry",
            "长期",
            "--batch",
            "4",
            "--json",
            "--frames",
            frames,
        ];
        args.extend_from_slice(extra);
        shenfen(d, &args, env)
    };
    let impostor = enroll(&photo("biden.jpg"), &[], &[]);
    assert!(
        String::from_utf8_lossy(&impostor.stderr)
            .starts_with("error: [wallet.refused] the authority refused (enrollment-refused)")
    );
    let enrolled = enroll(&photo("obama2.jpg"), &[], &[]);
    assert!(enrolled.status.success(), "{}", String::from_utf8_lossy(&enrolled.stderr));
    assert_eq!(ok(d, &["wallet", "list", "--wallet", "w", "--json"], &[])["unused"], 4);

    // Online: the hotel asks, the wallet answers after consent, the hotel reads the result once.
    let ask =
        json!({ "client_id": "https://hotel.example", "claims": ["name"], "purpose": "guest register" }).to_string();
    let (status, created) = post(&address, "/verifier/requests", &ask, Some(&api_key));
    assert_eq!(status, 201, "{created}");
    let link = created["authorization_request"].as_str().unwrap();
    let mut declined = Command::new(env!("CARGO_BIN_EXE_shenfen"));
    declined
        .args(["wallet", "present", "--wallet", "w", "--request", link])
        .current_dir(d)
        .env("SHENFEN_WALLET_PIN", "wallet-pin-1");
    let declined = declined.stdin(std::process::Stdio::null()).output().unwrap();
    assert!(String::from_utf8_lossy(&declined.stderr).contains("not shared"), "no consent, no presentation");
    let shared = ok(d, &["wallet", "present", "--wallet", "w", "--request", link, "--yes", "--json"], &[]);
    assert_eq!(shared["claims"], json!(["name", "pseudonyms/https://hotel.example"]));
    let path =
        format!("/verifier/requests/{}?client_id=https%3A%2F%2Fhotel.example", created["request_id"].as_str().unwrap());
    let (_, outcome) = get(&address, &path, Some(&api_key));
    assert_eq!(outcome["status"], "verified", "{outcome}");
    assert_eq!(outcome["result"]["claims"]["name"], "王建国");
    assert_eq!(outcome["result"]["pseudonym"].as_str().unwrap().len(), 64);

    // A hotel check-in QR, verified with the cache only.
    let qr =
        ok(d, &["wallet", "qr", "--wallet", "w", "--purpose", "hotel_checkin", "--out", "hotel.png", "--json"], &[]);
    assert!(qr["payload_bytes"].as_u64().unwrap() <= 1200, "{qr}");
    ok(d, &["verifier", "sync", "--server", &server, "--cache", "cache", "--json"], &[]);
    let result = ok(d, &verify("hotel.png", "hotel_checkin", &[]), &[]);
    assert_eq!(result["claims"], json!({ "name": "王建国", "id_number_masked": "110105********0136" }));
    assert_eq!(result["level"], "L1");
    assert_eq!(result["edition"], "lightweight");

    // The same check from a signed trust list: the anchor vouches for the
    // authority and its keys; a list without the authority's key refuses it.
    let anchor = shenfen(d, &["keys", "generate", "--out", "anchor.jwk", "--kid", "cn-anchor-1"], &[]);
    std::fs::write(dir.join("anchor.pub.jwk"), &anchor.stdout).unwrap();
    let (_, jwks) = get(&address, "/jwks.json", None);
    std::fs::write(dir.join("gd.jwks"), jwks.to_string()).unwrap();
    let entry = format!("{server},Beijing,gd.jwks");
    assert!(
        shenfen(
            d,
            &["trust-list", "build", "--anchor-key", "anchor.jwk", "--authority", &entry, "--out", "trust.jwt"],
            &[]
        )
        .status
        .success()
    );
    let anchored = [
        "verifier",
        "sync",
        "--trust-list",
        "trust.jwt",
        "--anchor",
        "anchor.pub.jwk",
        "--cache",
        "anchored",
        "--json",
    ];
    ok(d, &anchored, &[]);
    let qr0 =
        ok(d, &["wallet", "qr", "--wallet", "w", "--purpose", "hotel_checkin", "--out", "hotel0.png", "--json"], &[]);
    assert!(qr0["payload_bytes"].is_number());
    let args = ["verify", "--qr", "hotel0.png", "--purpose", "hotel_checkin", "--cache", "anchored", "--json"];
    ok(d, &args, &[]);
    // The trust list's expiry holds offline: past its 30 days the same cache
    // is refused, however long the counter lets its cache live.
    let month_later = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        + 31 * 86_400)
        .to_string();
    let late = [
        "verify",
        "--qr",
        "hotel0.png",
        "--purpose",
        "hotel_checkin",
        "--cache",
        "anchored",
        "--max-cache-age",
        "99999999",
    ];
    let out = shenfen(d, &late, &[("SHENFEN_NOW", month_later.as_str())]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: [credential.offline.trust_list_expired]"), "{stderr}");
    let other = shenfen(d, &["keys", "generate", "--out", "other.jwk", "--kid", "not-the-authority"], &[]);
    std::fs::write(dir.join("other.jwks"), format!("{{\"keys\":[{}]}}", String::from_utf8_lossy(&other.stdout)))
        .unwrap();
    let entry = format!("{server},Beijing,other.jwks");
    assert!(
        shenfen(
            d,
            &["trust-list", "build", "--anchor-key", "anchor.jwk", "--authority", &entry, "--out", "rotated.jwt"],
            &[]
        )
        .status
        .success()
    );
    let rotated =
        ["verifier", "sync", "--trust-list", "rotated.jwt", "--anchor", "anchor.pub.jwk", "--cache", "rotated"];
    let out = shenfen(d, &rotated, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.starts_with("error: [credential.offline.untrusted_issuer]"),
        "a status list signed with a key off the list is refused at sync: {stderr}"
    );
    // A real key that is not the anchor's: the list's signature does not verify under it.
    std::fs::write(dir.join("other.pub.jwk"), &other.stdout).unwrap();
    let forged_anchor =
        ["verifier", "sync", "--trust-list", "trust.jwt", "--anchor", "other.pub.jwk", "--cache", "forged"];
    refused(d, &forged_anchor, "credential.signature");

    // The offline attack suite.
    refused(d, &verify("hotel.png", "hotel_checkin", &[]), "credential.offline.replayed");
    let qr2 =
        ok(d, &["wallet", "qr", "--wallet", "w", "--purpose", "hotel_checkin", "--out", "hotel2.png", "--json"], &[]);
    refused(d, &verify("hotel2.png", "age_check", &[]), "credential.kb.audience");
    refused(d, &verify("hotel2.png", "hotel_checkin", &["--level", "L3"]), "credential.level");
    // One character of the key binding JWT's signature changed, packed again as a wallet would.
    let tampered = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let packed = b64.decode(qr2["payload"].as_str().unwrap()).unwrap();
        let mut text = shenfen_credential::decode_qr_payload(&packed).unwrap().serialize();
        let at = text.rfind('.').unwrap() + 20;
        let flipped = if &text[at..=at] == "A" { "B" } else { "A" };
        text.replace_range(at..=at, flipped);
        let sd_jwt = shenfen_credential::SdJwt::parse(&text).unwrap();
        b64.encode(shenfen_credential::encode_qr_payload(&sd_jwt).unwrap())
    };
    let args = ["verify", "--qr-text", &tampered, "--purpose", "hotel_checkin", "--cache", "cache"];
    let out = shenfen(d, &args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.starts_with("error: [credential.signature]"),
        "a tampered payload is refused for its signature: {stderr}"
    );
    // The cache a second older than allowed, by the clock rather than by sleeping.
    let a_second_later = (now() + 1).to_string();
    let stale = verify("hotel2.png", "hotel_checkin", &["--max-cache-age", "0"]);
    let out = shenfen(d, &stale, &[("SHENFEN_NOW", a_second_later.as_str())]);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: [credential.offline.stale_cache]"));
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    let foreign = json!({ "synced_at": now(), "issuers": [], "status_lists": [] });
    std::fs::write(dir.join("elsewhere/verifier.json"), foreign.to_string()).unwrap();
    let args = ["verify", "--qr", "hotel2.png", "--purpose", "hotel_checkin", "--cache", "elsewhere"];
    refused(d, &args, "credential.offline.untrusted_issuer");

    // The upgraded edition: a counter attests, the wallet enrolls with the slip's code,
    // and the counter at the hotel matches the live face offline (L3).
    let password = printed.iter().find_map(|l| l.strip_prefix("Operator demo-counter")).unwrap();
    let password = password.rsplit(' ').next().unwrap();
    let login = json!({ "username": "demo-counter", "password": password }).to_string();
    let (status, session) = post(&address, "/operator/login", &login, None);
    assert_eq!(status, 200, "{session}");
    let attest = json!({ "id_number": WANG, "method": "counter" }).to_string();
    let (_, slip) = post(&address, "/operator/attestations", &attest, session["token"].as_str());
    let tx_code = slip["tx_code"].as_str().unwrap();
    let upgraded = enroll(
        &photo("obama2.jpg"),
        &["--edition", "upgraded", "--tx-code", tx_code],
        &[("SHENFEN_AUTHORITY_PIN", "482915")],
    );
    assert!(upgraded.status.success(), "{}", String::from_utf8_lossy(&upgraded.stderr));
    ok(d, &["verifier", "sync", "--server", &server, "--cache", "cache", "--json"], &[]);
    // Re-enrollment revoked the first batch, QR codes already shown included.
    refused(d, &verify("hotel2.png", "hotel_checkin", &[]), "credential.status.revoked");
    let up = ok(d, &["wallet", "qr", "--wallet", "w", "--purpose", "hotel_checkin", "--out", "up.png", "--json"], &[]);
    assert!(up["payload_bytes"].as_u64().unwrap() <= 1200, "the face template fits the budget: {up}");
    let l3 = ok(d, &verify("up.png", "hotel_checkin", &["--live-face", &photo("obama3.jpg"), "--level", "L3"]), &[]);
    assert_eq!(l3["level"], "L3");
    assert_eq!(l3["face"]["matched"], true);
    ok(d, &["wallet", "qr", "--wallet", "w", "--purpose", "hotel_checkin", "--out", "up2.png", "--json"], &[]);
    refused(
        d,
        &verify("up2.png", "hotel_checkin", &["--live-face", &photo("biden.jpg")]),
        "credential.offline.face_mismatch",
    );

    // Online at L3: the PIN and a live face, checked by the authority for this one request.
    let ask =
        json!({ "client_id": "https://hotel.example", "claims": ["name"], "purpose": "late check-in", "level": "L3" });
    let (_, created) = post(&address, "/verifier/requests", &ask.to_string(), Some(&api_key));
    let link = created["authorization_request"].as_str().unwrap();
    let frame = photo("obama3.jpg");
    let args = ["wallet", "present", "--wallet", "w", "--request", link, "--yes", "--json", "--frames", &frame];
    let shared = ok(d, &args, &[("SHENFEN_AUTHORITY_PIN", "482915")]);
    assert_eq!(shared["level"], "L3");
    let path =
        format!("/verifier/requests/{}?client_id=https%3A%2F%2Fhotel.example", created["request_id"].as_str().unwrap());
    let (_, outcome) = get(&address, &path, Some(&api_key));
    assert_eq!(outcome["result"]["level"], "L3", "{outcome}");

    let log = ok(d, &["wallet", "log", "--wallet", "w", "--json"], &[]);
    let entries = log["log"].as_array().unwrap();
    assert_eq!(entries.len(), 7);
    assert_eq!(entries[0]["channel"], "online");
    assert!(entries[1..6].iter().all(|e| e["channel"] == "offline_qr" && e["purpose"] == "hotel_checkin"));
    assert_eq!((entries[6]["channel"].as_str(), entries[6]["level"].as_str()), (Some("online"), Some("L3")));
    let wallet_file = std::fs::read_to_string(dir.join("w/wallet.json")).unwrap();
    assert!(!wallet_file.contains("王建国") && !wallet_file.contains(WANG), "the wallet file is sealed");

    stop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
