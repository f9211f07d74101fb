//! An honest enrollment's latency while anonymous clients flood the server
//! with oversized frames, beside the same enrollment on an idle server,
//! measured in one run against a real `shenfen serve` on loopback; and the
//! server's memory throughout.
//!
//! Two floods, one after the other:
//! - `bogus-sessions`: every attacker sends a 6000×6000 JPEG (as many copies
//!   as fit a 16 MiB body) to a session id the server never issued.
//! - `real-sessions`: every attacker starts a session of its own (from its own
//!   address, via a trusted proxy's `X-Forwarded-For`) and sends the same
//!   frames to it, so they are decoded — what the per-client frame budget and
//!   the bounded pool are for.
//!
//! The attackers run in a second process under `nice -n 19`: on one 2-core
//! machine, pushing 16 MiB bodies through loopback costs the sender CPU that
//! a real attacker spends on their own machines, not on the server's.
//!
//! Usage: `enrollment_under_abuse SHENFEN_BINARY REPOSITORY [ATTACKERS] [ENROLLMENTS]`
//! (bench/enrollment_under_abuse.sh builds and runs it).

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use shenfen_bench::spawn_serving;

const CITIZEN: &str = "110105196108040136";
const HONEST_CLIENT: &str = "198.51.100.1";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("attack") {
        return attack_until_stdin_closes(&args[2..]);
    }
    let (Some(binary), Some(repository)) = (args.get(1), args.get(2)) else {
        bail!("usage: enrollment_under_abuse SHENFEN_BINARY REPOSITORY [ATTACKERS] [ENROLLMENTS]");
    };
    let attackers: usize = args.get(3).map_or(Ok(16), |a| a.parse())?;
    let enrollments: usize = args.get(4).map_or(Ok(10), |a| a.parse())?;
    let repository = PathBuf::from(repository);
    let dir = std::env::temp_dir().join(format!("shenfen-abuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let server = Server::start(Path::new(binary), &repository, &dir)?;
    let selfie = STANDARD.encode(std::fs::read(repository.join("models/photos/obama2.jpg"))?);
    let oversized = oversized_frames_body()?;
    let body_file = dir.join("attack-body.json");
    std::fs::write(&body_file, &oversized)?;
    println!("server pid {}, attackers {attackers}, {enrollments} enrollments per phase", server.child.id());
    println!("attack body: {} bytes of JSON (6000×6000 JPEG frames)", oversized.len());

    enroll(&server.address, &selfie)?; // warm-up: models, caches, connections
    let idle = measure(&server, &selfie, enrollments)?;
    report("idle", &idle, &idle);
    for flood in ["bogus-sessions", "real-sessions"] {
        let mut attack = Command::new("nice")
            .args(["-n", "19"])
            .arg(std::env::current_exe()?)
            .args(["attack", &server.address, flood, &attackers.to_string()])
            .arg(&body_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        thread::sleep(Duration::from_secs(2));
        let loaded = measure(&server, &selfie, enrollments)?;
        drop(attack.stdin.take());
        let mut counts = String::new();
        attack.stdout.take().context("no attack output")?.read_to_string(&mut counts)?;
        attack.wait()?;
        report(flood, &loaded, &idle);
        println!("    attack: {}", counts.trim());
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A `shenfen serve` on loopback over a fresh data directory with the demo registry.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(binary: &Path, repository: &Path, dir: &Path) -> Result<Server> {
        let records = repository.join("demo/citizens.csv");
        let photos = repository.join("models/photos");
        let status = Command::new(binary)
            .args(["registry", "import", "--records"])
            .arg(&records)
            .arg("--photos")
            .arg(&photos)
            .arg("--data-dir")
            .arg(dir)
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("registry import failed");
        }
        // The honest citizen enrolls many times in a row, and every client
        // comes through "our proxy" on loopback with its own X-Forwarded-For.
        let config = dir.join("serve.toml");
        std::fs::write(
            &config,
            "liveness = \"passive\"\n[policy]\nstarts_per_subject_hour = 1000000\nstarts_per_client_hour = 1000000\n\
             failures_per_subject_day = 1000000\ntrusted_proxies = [\"127.0.0.1/32\"]\n",
        )?;
        let (child, address) = spawn_serving(
            Command::new(binary)
                .args(["serve", "--listen", "127.0.0.1:0", "--config"])
                .arg(&config)
                .arg("--data-dir")
                .arg(dir),
        )?;
        Ok(Server { child, address })
    }

    /// Resident and peak memory of the server process, in MiB.
    fn memory_mib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .map_or(0, |kib| kib / 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection; the status and JSON body.
fn request(address: &str, path: &str, client: &str, body: &[u8]) -> Result<(u16, Value)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nX-Forwarded-For: {client}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    // The server may answer (and close) before the body is sent: what was
    // written until then is all the attacker managed to send.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    Ok((status, body))
}

/// One honest enrollment (start, then the selfie); its latency.
fn enroll(address: &str, selfie: &str) -> Result<Duration> {
    let started = Instant::now();
    let start = json!({ "id_number": CITIZEN, "name": "王建国", "card_expiry": "长期" }).to_string();
    let (status, session) = request(address, "/enrollment/sessions", HONEST_CLIENT, start.as_bytes())?;
    if status != 201 {
        bail!("start answered {status}: {session}");
    }
    let path = format!("/enrollment/sessions/{}/frames", session["session_id"].as_str().unwrap_or_default());
    let frames = json!({ "frames": [selfie] }).to_string();
    loop {
        let (status, answer) = request(address, &path, HONEST_CLIENT, frames.as_bytes())?;
        match status {
            201 => return Ok(started.elapsed()),
            // A full pool leaves the session open and says when to come back.
            503 => thread::sleep(Duration::from_secs(1)),
            _ => bail!("frames answered {status}: {answer}"),
        }
    }
}

struct Phase {
    latencies: Vec<Duration>,
    rss_mib: u64,
    peak_mib: u64,
}

fn measure(server: &Server, selfie: &str, enrollments: usize) -> Result<Phase> {
    let mut latencies = Vec::with_capacity(enrollments);
    let mut rss_mib = 0;
    for _ in 0..enrollments {
        latencies.push(enroll(&server.address, selfie)?);
        rss_mib = rss_mib.max(server.memory_mib().0);
    }
    latencies.sort_unstable();
    Ok(Phase { latencies, rss_mib, peak_mib: server.memory_mib().1 })
}

fn report(name: &str, phase: &Phase, idle: &Phase) {
    let median = |p: &Phase| p.latencies[p.latencies.len() / 2];
    let worst = |p: &Phase| p.latencies[p.latencies.len() - 1];
    println!(
        "{name:>15}: enrollment median {:>6.0} ms (×{:.2} idle), worst {:>6.0} ms; server RSS ≤ {} MiB, peak {} MiB",
        median(phase).as_secs_f64() * 1000.0,
        median(phase).as_secs_f64() / median(idle).as_secs_f64(),
        worst(phase).as_secs_f64() * 1000.0,
        phase.rss_mib,
        phase.peak_mib,
    );
}

/// The attackers' process: `attack ADDRESS FLOOD N BODY_FILE`; floods until
/// its standard input closes, then prints what it sent and what came back.
fn attack_until_stdin_closes(args: &[String]) -> Result<()> {
    let [address, flood, attackers, body_file] = args else { bail!("attack ADDRESS FLOOD N BODY_FILE") };
    let real_sessions = match flood.as_str() {
        "bogus-sessions" => false,
        "real-sessions" => true,
        other => bail!("unknown flood {other}"),
    };
    let body = Arc::new(std::fs::read(body_file)?);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..attackers.parse::<usize>()?)
        .map(|i| {
            let (address, stop, sent, body) = (address.clone(), stop.clone(), sent.clone(), body.clone());
            thread::spawn(move || {
                let client = format!("203.0.113.{}", i + 1);
                let (mut answers, mut starts_refused) = (BTreeMap::new(), BTreeMap::new());
                while !stop.load(Ordering::Relaxed) {
                    let path = if real_sessions {
                        match own_session(&address, &client) {
                            Ok(session) => format!("/enrollment/sessions/{session}/frames"),
                            Err(refused) => {
                                *starts_refused.entry(refused).or_insert(0) += 1;
                                thread::sleep(Duration::from_millis(100));
                                continue;
                            }
                        }
                    } else {
                        format!("/enrollment/sessions/bogus-{i}/frames")
                    };
                    sent.fetch_add(1, Ordering::Relaxed);
                    if let Ok((status, _)) = request(&address, &path, &client, &body) {
                        *answers.entry(status).or_insert(0) += 1;
                    }
                }
                (answers, starts_refused)
            })
        })
        .collect();
    std::io::stdin().read_to_end(&mut Vec::new())?;
    stop.store(true, Ordering::Relaxed);
    let (mut answers, mut starts_refused): (BTreeMap<u16, u64>, BTreeMap<u16, u64>) = Default::default();
    for thread in threads {
        let (sent_answers, refused) = thread.join().unwrap_or_default();
        for (status, n) in sent_answers {
            *answers.entry(status).or_insert(0) += n;
        }
        for (status, n) in refused {
            *starts_refused.entry(status).or_insert(0) += n;
        }
    }
    println!(
        "{} frame submissions sent, answered by status {answers:?}; session starts refused by status {starts_refused:?}",
        sent.load(Ordering::Relaxed)
    );
    Ok(())
}

/// A session the attacker starts for itself (a valid, unregistered number),
/// or the status its start was refused with.
fn own_session(address: &str, client: &str) -> Result<String, u16> {
    let start = json!({ "id_number": "11010519491231002X", "name": "x", "card_expiry": "长期" }).to_string();
    let (status, session) = request(address, "/enrollment/sessions", client, start.as_bytes()).map_err(|_| 0u16)?;
    session["session_id"].as_str().filter(|_| status == 201).map(str::to_owned).ok_or(status)
}

/// `{"frames": [...]}` with as many 6000×6000 JPEGs as fit under 16 MiB
/// (the body limit: a bigger body is refused from its Content-Length).
fn oversized_frames_body() -> Result<Vec<u8>> {
    let image = image::RgbImage::from_fn(6000, 6000, |x, y| {
        let grain = ((x ^ y).wrapping_mul(2_654_435_761) >> 29) as u8;
        image::Rgb([(x / 24) as u8 ^ grain, (y / 24) as u8, ((x + y) / 48) as u8])
    });
    let mut jpeg = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image).write_to(&mut jpeg, image::ImageFormat::Jpeg)?;
    let frame = STANDARD.encode(jpeg.into_inner());
    let copies = ((15 * 1024 * 1024) / frame.len()).max(1);
    let body = json!({ "frames": vec![frame; copies] }).to_string().into_bytes();
    if body.len() > 16 * 1024 * 1024 {
        bail!("one 6000×6000 frame is {} bytes: over the 16 MiB body limit", body.len());
    }
    Ok(body)
}
