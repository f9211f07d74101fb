//! Interoperability with an independent SD-JWT implementation, the OpenWallet
//! Foundation's TypeScript `@sd-jwt/sd-jwt-vc` (driven by
//! `interop/sd-jwt-js/interop.mjs`), in both directions and including Token
//! Status Lists. Requires Node.js and `npm ci --prefix interop/sd-jwt-js`,
//! which the README's test command runs.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const AUD: &str = "https://hotel.example";

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/sd-jwt-js")
}

fn run(program: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn theirs(args: &[&str], stdin: &str) -> Output {
    let script = interop_dir().join("interop.mjs");
    assert!(
        interop_dir().join("node_modules/@sd-jwt/sd-jwt-vc").is_dir(),
        "the independent implementation is not installed: run `npm ci --prefix interop/sd-jwt-js`"
    );
    run("node", &[&[script.to_str().unwrap()], args].concat(), stdin)
}

fn ours(args: &[&str], stdin: &str) -> Output {
    run(env!("CARGO_BIN_EXE_shenfen"), args, stdin)
}

fn success(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shenfen-interop-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn their_presentation_verifies_with_ours() {
    let dir = temp_dir("theirs-to-ours");
    let d = |f: &str| dir.join(f).to_string_lossy().into_owned();
    success(theirs(&["issue", "--out", &d(""), "--aud", AUD, "--nonce", "n-js-1"], ""), "their issue");
    let presentation = std::fs::read_to_string(d("presentation.txt")).unwrap();
    let verify = |nonce: &str, aud: &str| {
        ours(
            &[
                "credential",
                "verify",
                "--issuer-jwk",
                &d("issuer.pub.jwk"),
                "--aud",
                aud,
                "--nonce",
                nonce,
                "--status-list",
                &d("status_list.jwt"),
            ],
            &presentation,
        )
    };
    let claims: Value = serde_json::from_str(&success(verify("n-js-1", AUD), "our verify")).unwrap();
    assert_eq!(claims["age_over_18"], true);
    assert_eq!(claims["vct"], "urn:shenfen:id:lightweight:1");
    assert!(claims.get("name").is_none() && claims.get("id_number_masked").is_none(), "{claims}");
    // Refused for the reason, not for any reason: another nonce, another audience.
    for ((nonce, aud), code) in
        [(("n-js-2", AUD), "credential.kb.nonce"), (("n-js-1", "https://rail.example"), "credential.kb.audience")]
    {
        let out = verify(nonce, aud);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.starts_with(&format!("error: [{code}]")), "{nonce} {aud}: {stderr}");
    }

    // Their status list, read by our status-list check: idx 7 revoked, idx 42 valid.
    let check = |idx: &str| {
        ours(
            &[
                "status-list",
                "check",
                "--issuer-jwk",
                &d("issuer.pub.jwk"),
                "--token",
                &d("status_list.jwt"),
                "--idx",
                idx,
            ],
            "",
        )
    };
    let revoked: Value = serde_json::from_slice(&check("7").stdout).unwrap();
    assert_eq!(revoked["value"], 1);
    assert!(check("42").status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn our_presentation_verifies_with_theirs() {
    let dir = temp_dir("ours-to-theirs");
    let d = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let issuer_pub = success(ours(&["keys", "generate", "--out", &d("issuer.jwk")], ""), "keys");
    std::fs::write(d("issuer.pub.jwk"), issuer_pub).unwrap();
    let holder_pub = success(ours(&["keys", "generate", "--out", &d("holder.jwk")], ""), "keys");
    std::fs::write(d("holder.pub.jwk"), holder_pub).unwrap();
    std::fs::write(
        d("claims.json"),
        r#"{"iss":"https://authority.example","name":"林晓梅","age_over_18":true,"address":{"city":"广州"}}"#,
    )
    .unwrap();
    let uri = "https://authority.example/status/1";
    let credential = success(
        ours(
            &[
                "credential",
                "issue",
                "--issuer-key",
                &d("issuer.jwk"),
                "--holder-jwk",
                &d("holder.pub.jwk"),
                "--vct",
                "urn:shenfen:id:upgraded:1",
                "--claims",
                &d("claims.json"),
                "--sd",
                "name,age_over_18,/address/city",
                "--status-uri",
                uri,
                "--status-idx",
                "5",
            ],
            "",
        ),
        "our issue",
    );
    let presentation = success(
        ours(
            &[
                "credential",
                "present",
                "--holder-key",
                &d("holder.jwk"),
                "--aud",
                AUD,
                "--nonce",
                "n-rs-1",
                "--disclose",
                "name,/address/city",
            ],
            &credential,
        ),
        "our present",
    );
    let list = |revoked: &str| {
        let token = success(
            ours(&["status-list", "build", "--issuer-key", &d("issuer.jwk"), "--uri", uri, "--revoked", revoked], ""),
            "status list",
        );
        let path = d(&format!("status-{revoked}.jwt"));
        std::fs::write(&path, token).unwrap();
        path
    };
    let (valid, revoked) = (list("4"), list("5"));
    let verify = |nonce: &str, status: &str| {
        theirs(
            &["verify", "--issuer-jwk", &d("issuer.pub.jwk"), "--aud", AUD, "--nonce", nonce, "--status-list", status],
            &presentation,
        )
    };
    let claims: Value = serde_json::from_str(&success(verify("n-rs-1", &valid), "their verify")).unwrap();
    assert_eq!(claims["name"], "林晓梅");
    assert_eq!(claims["address"]["city"], "广州");
    assert!(claims.get("age_over_18").is_none(), "{claims}");
    assert_eq!(claims["vct"], "urn:shenfen:id:upgraded:1");
    let other_nonce = verify("n-rs-2", &valid);
    assert!(!other_nonce.status.success(), "their verifier must refuse another nonce");
    assert!(String::from_utf8_lossy(&other_nonce.stderr).contains("Invalid Nonce"), "for the nonce");
    let out = verify("n-rs-1", &revoked);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Status is not valid"),
        "their status list decoder read our revocation"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
