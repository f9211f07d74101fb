//! Crash consistency at scale: `shenfen serve` is killed with SIGKILL a
//! hundred times while clients enroll, get credentials and withdraw them;
//! afterwards the audit chain verifies and the state agrees with its audit
//! entries exactly — every pre-authorized code with its accepted decision,
//! every issued slot with its issuance entry, every revoked slot with the
//! issuance or withdrawal that revoked it.
//!
//! Usage: `kill_nine SHENFEN_BINARY REPOSITORY sqlite|postgres [ROUNDS] [CLIENTS]`
//! (bench/kill_nine.sh builds and runs it on both backends).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use shenfen_bench::spawn_serving;
use shenfen_credential::{PrivateJwk, SdJwt, es256_header, present, sign_compact};
use sqlx::{Connection, Row};

const PUBLIC_URL: &str = "https://authority.shenfen.test";
const CITIZENS: [&str; 2] = ["110105196108040136", "440106194211200314"];
const NAMES: [&str; 2] = ["王建国", "李志强"];
const PHOTOS: [&str; 2] = ["obama2.jpg", "biden.jpg"];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(binary), Some(repository), Some(backend)) = (args.get(1), args.get(2), args.get(3)) else {
        bail!("usage: kill_nine SHENFEN_BINARY REPOSITORY sqlite|postgres [ROUNDS] [CLIENTS]");
    };
    let rounds: u32 = args.get(4).map_or(Ok(100), |a| a.parse())?;
    let clients: usize = args.get(5).map_or(Ok(4), |a| a.parse())?;
    let repository = PathBuf::from(repository);
    // The commands run in the data directory: the binary is named absolutely.
    let binary = &std::fs::canonicalize(binary).with_context(|| format!("no shenfen binary at {binary}"))?;
    let dir = std::env::temp_dir().join(format!("shenfen-kill-nine-{backend}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = database(backend, &dir)?;
    setup(binary, &repository, &dir, &db)?;

    let address = Arc::new(RwLock::new(String::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicU64::new(0));
    let frames: Vec<String> = PHOTOS
        .iter()
        .map(|p| std::fs::read(repository.join("models/photos").join(p)).map(|b| STANDARD.encode(b)))
        .collect::<Result<_, _>>()?;
    let workers: Vec<_> = (0..clients)
        .map(|i| {
            let (address, stop, completed, frame) =
                (address.clone(), stop.clone(), completed.clone(), frames[i % 2].clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let at = address.read().map(|a| a.clone()).unwrap_or_default();
                    if at.is_empty() || life_cycle(&at, i % 2, &frame).is_none() {
                        thread::sleep(Duration::from_millis(20));
                    } else {
                        completed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    let mut seed = u64::from(std::process::id());
    for round in 0..rounds {
        let mut server = serve(binary, &dir, &db)?;
        *address.write().map_err(|_| anyhow::anyhow!("lock"))? = server.1.clone();
        // A kill somewhere in the first 1.5 s of work: mid-enrollment, mid-issuance, mid-withdrawal.
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        thread::sleep(Duration::from_millis(200 + (seed >> 33) % 1300));
        server.0.kill()?;
        server.0.wait()?;
        if round % 10 == 9 {
            println!("{backend}: {} kills, {} life cycles completed", round + 1, completed.load(Ordering::Relaxed));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    let elapsed = started.elapsed();
    let verify = Command::new(binary)
        .args(["audit", "verify", "--db", &db, "--key-file"])
        .arg(dir.join("keys.json"))
        .output()?;
    println!("{}", String::from_utf8_lossy(&verify.stdout).trim());
    if !verify.status.success() {
        bail!("audit verify failed: {}", String::from_utf8_lossy(&verify.stderr));
    }
    let report = consistency(&db, elapsed)?;
    println!(
        "{backend}: {rounds} SIGKILLs in {:.0} s, {} complete life cycles; {report}",
        elapsed.as_secs_f64(),
        completed.load(Ordering::Relaxed)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The database URL: a file in `dir`, or a fresh schema on the local PostgreSQL.
fn database(backend: &str, dir: &Path) -> Result<String> {
    match backend {
        "sqlite" => Ok(format!("sqlite:{}", dir.join("shenfen.db").display())),
        "postgres" => {
            let base = std::env::var("SHENFEN_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let schema = format!("shenfen_kill_nine_{}", std::process::id());
            tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
                sqlx::any::install_default_drivers();
                let mut admin = sqlx::AnyConnection::connect(&base).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await?;
                Ok::<_, anyhow::Error>(())
            })?;
            Ok(format!("{base}?options=-c%20search_path%3D{schema}"))
        }
        other => bail!("unknown backend {other}"),
    }
}

/// Keys, an issuer key and the demo registry (with faces).
fn setup(binary: &Path, repository: &Path, dir: &Path, db: &str) -> Result<()> {
    let keys = json!({ "master_keys": format!("k1:{}", "3c".repeat(32)), "index_key": "4d".repeat(32) });
    std::fs::write(dir.join("keys.json"), keys.to_string())?;
    let run = |args: &[&str]| -> Result<()> {
        let out = Command::new(binary).args(args).current_dir(dir).output()?;
        if !out.status.success() {
            bail!("{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    };
    run(&["keys", "generate", "--out", "issuer.jwk"])?;
    let records = repository.join("demo/citizens.csv");
    let photos = repository.join("models/photos");
    run(&[
        "registry",
        "import",
        "--records",
        &records.display().to_string(),
        "--photos",
        &photos.display().to_string(),
        "--db",
        db,
        "--key-file",
        "keys.json",
    ])
}

/// `shenfen serve` on loopback, limits raised so only the kills interrupt the clients.
fn serve(binary: &Path, dir: &Path, db: &str) -> Result<(Child, String)> {
    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        "liveness = \"passive\"\n[policy]\nstarts_per_subject_hour = 100000000\nstarts_per_client_hour = 100000000\n\
         failures_per_subject_day = 100000000\nframes_per_client_minute = 100000000\n",
    )?;
    spawn_serving(
        Command::new(binary)
            .args(["serve", "--listen", "127.0.0.1:0", "--issuer-key", "issuer.jwk", "--key-file", "keys.json"])
            .args(["--public-url", PUBLIC_URL, "--db", db, "--config"])
            .arg(&config)
            .current_dir(dir),
    )
}

/// One request; `None` when the server died under it (the point of the exercise).
fn request(address: &str, path: &str, content_type: &str, body: &str, bearer: Option<&str>) -> Option<Value> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let authorization = bearer.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n{authorization}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    serde_json::from_str(response.split("\r\n\r\n").nth(1)?).ok()
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Enroll, redeem, get two credentials, withdraw them: every state change the
/// server makes for a citizen. `None` as soon as a step fails.
fn life_cycle(address: &str, citizen: usize, frame: &str) -> Option<()> {
    let start = json!({ "id_number": CITIZENS[citizen], "name": NAMES[citizen], "card_expiry": "长期" }).to_string();
    let session = request(address, "/enrollment/sessions", "application/json", &start, None)?;
    let path = format!("/enrollment/sessions/{}/frames", session["session_id"].as_str()?);
    let offer = request(address, &path, "application/json", &json!({ "frames": [frame] }).to_string(), None)?;
    let code = offer["credential_offer"]["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
        ["pre-authorized_code"]
        .as_str()?;
    let form =
        format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={code}");
    let token = request(address, "/token", "application/x-www-form-urlencoded", &form, None)?;
    let access = token["access_token"].as_str()?;
    let holders = [PrivateJwk::generate().ok()?, PrivateJwk::generate().ok()?];
    let nonce = request(address, "/nonce", "application/json", "", None)?["c_nonce"].as_str()?.to_owned();
    let proofs: Vec<String> = holders
        .iter()
        .map(|h| {
            let mut header = es256_header("openid4vci-proof+jwt", None);
            header.insert("jwk".into(), h.public().to_value());
            let claims = json!({ "aud": PUBLIC_URL, "nonce": nonce, "iat": now() });
            sign_compact(&header, claims.as_object()?, &h.signing_key().ok()?).ok()
        })
        .collect::<Option<_>>()?;
    let request_body = json!({ "credential_configuration_id": "shenfen_lightweight", "proofs": { "jwt": proofs } });
    let issued = request(address, "/credential", "application/json", &request_body.to_string(), Some(access))?;
    let credential = SdJwt::parse(issued["credentials"][0]["credential"].as_str()?).ok()?;
    let nonce = request(address, "/nonce", "application/json", "", None)?["c_nonce"].as_str()?.to_owned();
    let proof = present(&credential, &[], &holders[0].signing_key().ok()?, PUBLIC_URL, &nonce, now()).ok()?;
    let withdrawn = request(
        address,
        "/citizen/revoke",
        "application/json",
        &json!({ "presentation": proof.serialize() }).to_string(),
        None,
    )?;
    withdrawn.get("revoked").map(|_| ())
}

/// The state against its audit entries; a line for the report, or the first disagreement.
fn consistency(db: &str, elapsed: Duration) -> Result<String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(db).await?;
        let count = |sql: &'static str| sqlx::query(sql);
        let codes: i64 = count("SELECT COUNT(*) AS n FROM grants WHERE kind = 'pre_authorized_code'").fetch_one(&mut conn).await?.get("n");
        let slots: i64 = count("SELECT COUNT(*) AS n FROM credentials").fetch_one(&mut conn).await?.get("n");
        let revoked: i64 = count("SELECT COUNT(*) AS n FROM credentials WHERE status = 1").fetch_one(&mut conn).await?.get("n");
        let rows = count("SELECT kind, details FROM audit_log WHERE kind IN ('enrollment.decision', 'credential.issued', 'credential.revoked')")
            .fetch_all(&mut conn)
            .await?;
        let (mut accepted, mut issued, mut revoked_by_events) = (0i64, 0i64, 0i64);
        for row in &rows {
            let kind: String = row.get("kind");
            let details: Value = serde_json::from_str(&row.get::<String, _>("details"))?;
            let field = |name: &str| details[name].as_i64().unwrap_or(0);
            match kind.as_str() {
                "enrollment.decision" => accepted += i64::from(details["outcome"] == "accepted"),
                "credential.issued" => {
                    issued += field("count");
                    revoked_by_events += field("previous_revoked");
                }
                _ => revoked_by_events += field("count"),
            }
        }
        if slots != issued {
            bail!("{slots} issued slots but the audit log issued {issued}");
        }
        if revoked != revoked_by_events {
            bail!("{revoked} revoked slots but the audit log revoked {revoked_by_events}");
        }
        // Pre-authorized codes are purged 600 s after they expire: compared exactly within that time.
        if elapsed < Duration::from_secs(600) && codes != accepted {
            bail!("{codes} pre-authorized codes but {accepted} accepted decisions in the audit log");
        }
        Ok(format!(
            "consistent: {accepted} accepted decisions = {codes} pre-authorized codes, {slots} slots issued = audited, \
             {revoked} revoked = audited"
        ))
    })
}
