//! Hotel check-in with the police's sealed guest register, over real HTTP:
//! `shenfen demo` (the authority sealing each copy's ID number to the demo
//! police's key, the hotel registered and attested, a desk and an officer)
//! with its `shenfen services`; a CLI wallet enrolls with a real photo and
//! shows QR codes for the hotel's check-in link. The desk's refusals each
//! with its own problem type (no device, wrong audience, expired, replayed,
//! tampered), the check-in, the police opening the night's register and
//! finding the real ID number — while the hotel's database and the services'
//! log hold no ID number — and two desks on one PostgreSQL database
//! accepting one QR once out of fifty concurrent submissions.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod server_process;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use server_process::{exchange_raw as exchange, fresh_postgres, get, post, stop};

const WANG: &str = "110105196108040136";

fn photo(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/photos").join(name).display().to_string()
}

/// The repository: the demo runs there (it reads demo/ and models/ from it, whatever the target directory).
fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `shenfen ARGS` in `dir` (with `env`), expects success, answers standard output.
fn shenfen(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shenfen"));
    command.args(args).current_dir(dir).env("SHENFEN_WALLET_PIN", "wallet-pin-1");
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A process whose standard output is read line by line on a thread (so it
/// never writes to a closed pipe); `until` waits for a line with a prefix.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(dir: &Path, args: &[&str], stderr: Stdio) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shenfen"))
            .args(args)
            .current_dir(dir)
            .env_remove("SHENFEN_DB")
            .env_remove("SHENFEN_SERVICES_DB")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// The rest of the first line starting with `prefix`, waiting up to three minutes.
    fn until(&mut self, prefix: &str) -> String {
        if let Some(found) = self.seen.iter().find_map(|l| l.strip_prefix(prefix)) {
            return found.trim().to_owned();
        }
        loop {
            let line = self.lines.recv_timeout(Duration::from_secs(180)).unwrap_or_else(|_| {
                panic!("no line starting {prefix:?}; printed: {:?}", self.seen);
            });
            self.seen.push(line.clone());
            if let Some(found) = line.strip_prefix(prefix) {
                return found.trim().to_owned();
            }
        }
    }

    /// The rest of a line containing `needle`, after it, among what was printed so far (waiting for `wait` first).
    fn after(&mut self, wait: &str, needle: &str) -> String {
        self.until(wait);
        self.seen.iter().find_map(|l| l.split_once(needle).map(|(_, rest)| rest.trim().to_owned())).unwrap()
    }
}

/// The hotel's address in the demo's desk line (`  http://ADDRESS/desk/#device=…`).
fn desk_origin(demo: &Running) -> String {
    let line = demo.seen.iter().find(|l| l.contains("/desk/#device=")).unwrap();
    line.trim().trim_start_matches("http://").split("/desk/").next().unwrap().to_owned()
}

/// Waits until `address` answers `/healthz`.
fn healthy(address: &str) {
    for _ in 0..300 {
        if TcpStream::connect(address).is_ok() && get_text(address, "/healthz", &[]).0 == 200 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{address} never became healthy");
}

fn get_text(address: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let (status, _, body) = exchange(address, "GET", path, headers, "");
    (status, body)
}

/// The problem type's last part of a refusal, checking it is problem+json with the status.
fn problem(status: u16, body: &Value) -> String {
    assert_eq!(body["status"], status, "{body}");
    body["type"]
        .as_str()
        .unwrap_or_else(|| panic!("not a problem: {body}"))
        .trim_start_matches("urn:shenfen:services:")
        .to_owned()
}

/// A check-in of the QR `payload` at the desk.
fn check_in(hotel: &str, token: &str, payload: &str, room: &str) -> (u16, Value) {
    let body = json!({ "qr_text": payload, "room": room, "nights": 2 }).to_string();
    post(hotel, "/desk/check-in", &body, Some(token))
}

/// A fresh QR for the hotel's check-in link from wallet `w`; answers the wallet's summary (`payload`, `claims`, `to`).
fn qr_for(dir: &Path, link: &str, env: &[(&str, &str)]) -> Value {
    let out = shenfen(dir, &["wallet", "qr", "--wallet", "w", "--service", link, "--out", "q.png", "--json"], env);
    serde_json::from_str(&out).unwrap()
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
            found.push(path);
        }
    }
    found
}

/// A fresh directory for a test, and `shenfen demo` serving from DIR/authority
/// (passive liveness: the CLI wallet enrolls from a photo); answers both.
fn demo_in(name: &str) -> (PathBuf, Running) {
    let dir = std::env::temp_dir().join(format!("shenfen-services-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("authority");
    let demo = Running::start(
        &repository(),
        &["demo", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap(), "--liveness", "passive"],
        Stdio::null(),
    );
    (dir, demo)
}

/// A CLI wallet `w` in `dir` holding `batch` copies of the demo citizen's card from `server`.
fn enrolled_wallet(dir: &Path, server: &str, batch: &str) {
    shenfen(dir, &["wallet", "init", "--wallet", "w", "--json"], &[]);
    let frames = photo("obama2.jpg");
    let enroll = [
        "wallet",
        "enroll",
        "--wallet",
        "w",
        "--server",
        server,
        "--id-number",
        WANG,
        "--name",
        "王建国",
        "--card-expiry",
        "长期",
        "--batch",
        batch,
        "--json",
        "--frames",
        &frames,
    ];
    shenfen(dir, &enroll, &[]);
}

#[test]
fn the_desk_refuses_what_it_must_checks_in_once_and_only_the_police_read_the_id_number() {
    let (dir, mut demo) = demo_in("hotel");
    let data = dir.join("authority");
    let d = dir.as_path();
    let authority = demo.until("shenfen serving on http://");
    let desk = demo.after("shenfen serving on", "Hotel desk \"Front desk 1\" token:");
    let officer_password = demo.after("shenfen serving on", "Officer demo-officer     (police) password:");
    let hotel = desk_origin(&demo);
    let police = demo.until("Service 公安旅馆业登记 police: http://").trim_end_matches('/').to_owned();
    healthy(&hotel);
    healthy(&police);

    let server = format!("http://{authority}");
    enrolled_wallet(d, &server, "10");

    // The desk's check-in link: a registered device only.
    let (status, body) = get(&hotel, "/desk/link", None);
    assert_eq!(problem(status, &body), "desk-unauthenticated");
    let (status, body) = get(&hotel, "/desk/link", Some(&desk));
    assert_eq!(status, 200, "{body}");
    let link = body["link"].as_str().unwrap().to_owned();
    assert!(link.starts_with(&format!("{server}/wallet/?service=")), "{link}");

    // The wallet's QR for the hotel: bound to it, exactly its entitled claims the lightweight card holds.
    let shown = qr_for(d, &link, &[]);
    assert_eq!(shown["to"], format!("verifier_attestation:http://{hotel}"));
    let claims: Vec<&str> = shown["claims"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(claims, ["name", "age_over_18", "sealed_id_number", &format!("pseudonyms/http://{hotel}")]);
    let payload = shown["payload"].as_str().unwrap().to_owned();

    // Refusals, each with its own type.
    let (status, body) = check_in(&hotel, "not-a-desk", &payload, "301");
    assert_eq!((status, problem(status, &body).as_str()), (401, "desk-unauthenticated"));
    let for_a_counter =
        shenfen(d, &["wallet", "qr", "--wallet", "w", "--purpose", "hotel_checkin", "--out", "c.png", "--json"], &[]);
    let for_a_counter: Value = serde_json::from_str(&for_a_counter).unwrap();
    let (status, body) = check_in(&hotel, &desk, for_a_counter["payload"].as_str().unwrap(), "301");
    assert_eq!(
        (status, problem(status, &body).as_str()),
        (403, "wrong-audience"),
        "a QR for the authority's generic counter"
    );
    let then =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 200).to_string();
    let old = qr_for(d, &link, &[("SHENFEN_NOW", &then)]);
    let (status, body) = check_in(&hotel, &desk, old["payload"].as_str().unwrap(), "301");
    assert_eq!((status, problem(status, &body).as_str()), (422, "qr-expired"), "{body}");
    let (status, body) = check_in(&hotel, &desk, "AAAA", "301");
    assert_eq!((status, problem(status, &body).as_str()), (422, "qr-refused"), "{body}");
    let (status, body) = check_in(&hotel, &desk, &payload, "");
    assert_eq!((status, problem(status, &body).as_str()), (400, "bad-request"), "a room is needed");

    // The check-in: name, adult, the hotel's pseudonym — and the same QR again is a replay.
    let (status, body) = check_in(&hotel, &desk, &payload, "301");
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "王建国");
    assert_eq!(body["adult"], true);
    assert_eq!(body["level"], "L1");
    assert!(body["pseudonym"].as_str().is_some_and(|p| p.len() > 20), "{body}");
    assert!(!body.to_string().contains(WANG));
    let arrival = body["arrival"].as_str().unwrap().to_owned();
    let (status, body) = check_in(&hotel, &desk, &payload, "302");
    assert_eq!((status, problem(status, &body).as_str()), (409, "qr-replayed"));

    // The police: the intake takes a hotel's token only; an officer opens the night's register.
    let (status, body) = post(&police, "/intake", r#"{"hotel":"x","entries":[]}"#, Some("guess"));
    assert_eq!((status, problem(status, &body).as_str()), (401, "intake-unauthenticated"));
    let (status, body) = get(&police, &format!("/?night={arrival}"), None);
    assert_eq!((status, problem(status, &body).as_str()), (401, "officer-unauthenticated"));
    let form = format!("username=demo-officer&password={officer_password}");
    let wrong = exchange(
        &police,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
        "username=demo-officer&password=wrong",
    );
    assert_eq!(wrong.0, 401);
    let (status, headers, _) =
        exchange(&police, "POST", "/login", &[("Content-Type", "application/x-www-form-urlencoded")], &form);
    assert_eq!(status, 303);
    let cookie = headers
        .iter()
        .find(|(n, v)| n == "set-cookie" && v.starts_with("police_officer="))
        .unwrap()
        .1
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let register = (0..50)
        .find_map(|_| {
            let (status, body) = get_text(
                &police,
                &format!("/?night={arrival}"),
                &[("Cookie", &cookie), ("Accept", "application/json")],
            );
            assert_eq!(status, 200, "{body}");
            let register: Value = serde_json::from_str(&body).unwrap();
            if register["entries"].as_array().is_some_and(|e| !e.is_empty()) {
                return Some(register);
            }
            std::thread::sleep(Duration::from_millis(200));
            None
        })
        .expect("the hotel forwards the entry to the police");
    let entry = &register["entries"][0];
    assert_eq!(entry["id_number"], WANG, "the police open the sealed value: {register}");
    assert_eq!(entry["name"], "王建国");
    assert_eq!(entry["room"], "301");
    assert_eq!(entry["hotel"], format!("http://{hotel}"));
    assert_eq!(register["entries"].as_array().unwrap().len(), 1, "the replayed QR registered nobody");

    // The police keep only entries whose presentation verifies: with the hotel's own intake token, a made-up
    // guest, a batch in another hotel's name, and the same presentation (or another QR of the same guest) as a
    // second stay are all kept out.
    let intake = std::fs::read_to_string(data.join("services/police-intake.token")).unwrap();
    let presentation = shenfen_credential::decode_qr_payload(&URL_SAFE_NO_PAD.decode(&payload).unwrap()).unwrap();
    let file = |hotel: &str, entry: &str, presentation: &str| {
        let entry =
            json!({ "entry_id": entry, "room": "999", "arrival": arrival, "nights": 1, "presentation": presentation });
        let batch = json!({ "hotel": hotel, "entries": [entry] }).to_string();
        let (status, body) = post(&police, "/intake", &batch, Some(intake.trim()));
        assert_eq!(status, 200, "{body}");
        (body["received"].as_u64().unwrap(), body["refused"].as_array().unwrap().len())
    };
    assert_eq!(
        file(&format!("http://{hotel}"), "MADE-UP", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln~"),
        (0, 1),
        "a made-up guest"
    );
    // The token says which hotel sends: a batch in another hotel's name is refused whole.
    let elsewhere = json!({ "hotel": "http://other-hotel.example", "entries": [] }).to_string();
    let (status, body) = post(&police, "/intake", &elsewhere, Some(intake.trim()));
    assert_eq!((status, problem(status, &body).as_str()), (401, "intake-unauthenticated"), "another hotel's name");
    assert_eq!(file(&format!("http://{hotel}"), "SECOND-STAY", &presentation.serialize()), (0, 0), "filed once");
    // Another QR of the same guest (a desk camera catches one every 30 s) is not a second stay that night.
    let another = qr_for(d, &link, &[]);
    let another =
        shenfen_credential::decode_qr_payload(&URL_SAFE_NO_PAD.decode(another["payload"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(file(&format!("http://{hotel}"), "SAME-NIGHT", &another.serialize()), (0, 0), "one stay a night");
    let (_, again) =
        get_text(&police, &format!("/?night={arrival}"), &[("Cookie", &cookie), ("Accept", "application/json")]);
    assert_eq!(serde_json::from_str::<Value>(&again).unwrap()["entries"].as_array().unwrap().len(), 1, "{again}");

    // No ID number in the hotel's database (which the police module shares in the demo: it keeps only the sealed values).
    stop(demo.child);
    let holding = files_containing(&data.join("services"), WANG.as_bytes());
    assert!(holding.is_empty(), "the ID number in clear in {holding:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `shenfen services` on `database` as the hotel whose public origin
/// (client id) is `hotel_url` — two processes behind one name, as behind a
/// load balancer; answers the process and its hotel's own address.
fn services_on(
    dir: &Path,
    data: &Path,
    authority: &str,
    hotel_url: &str,
    database: &str,
    log: &Path,
) -> (Running, String) {
    let log = std::fs::File::create(log).unwrap();
    let own = format!("127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    let mut running = Running::start(
        dir,
        &[
            "services",
            "--authority",
            authority,
            "--portal-listen",
            "127.0.0.1:0",
            "--hotel-listen",
            &own,
            "--hotel-url",
            hotel_url,
            "--police-listen",
            "127.0.0.1:0",
            "--database-url",
            database,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        Stdio::from(log),
    );
    running.until("Service 酒店入住 hotel: http://");
    healthy(&own);
    (running, own)
}

#[test]
fn two_desks_on_one_postgres_database_accept_a_qr_once_of_fifty_submissions() {
    let (dir, mut demo) = demo_in("hotel-pg");
    let data = dir.join("authority");
    let d = dir.as_path();
    let authority = format!("http://{}", demo.until("shenfen serving on http://"));
    let hotel_of_demo = desk_origin(&demo);
    healthy(&hotel_of_demo);
    let database = fresh_postgres("hotel_desks");
    let services = data.join("services");
    // The same hotel (its keys and attestation) run twice on one database: two desks.
    let hotel_url = format!("http://{hotel_of_demo}");
    let (first, hotel_a) = services_on(d, &services, &authority, &hotel_url, &database, &dir.join("a.log"));
    let (second, hotel_b) = services_on(d, &services, &authority, &hotel_url, &database, &dir.join("b.log"));
    let desk = shenfen(
        d,
        &[
            "services",
            "hotel",
            "desk",
            "add",
            "--name",
            "Desk PG",
            "--database-url",
            &database,
            "--data-dir",
            services.to_str().unwrap(),
        ],
        &[],
    );
    let desk = desk.trim().rsplit(' ').next().unwrap().to_owned();

    enrolled_wallet(d, &authority, "2");
    let (_, body) = get(&hotel_a, "/desk/link", Some(&desk));
    let link = body["link"].as_str().unwrap().to_owned();
    let payload = qr_for(d, &link, &[])["payload"].as_str().unwrap().to_owned();

    // Both processes refresh their caches on start: ready once a QR for another audience is refused as
    // such (an empty cache refuses everything as stale).
    let for_a_counter =
        shenfen(d, &["wallet", "qr", "--wallet", "w", "--purpose", "hotel_checkin", "--out", "c.png", "--json"], &[]);
    let for_a_counter: Value = serde_json::from_str(&for_a_counter).unwrap();
    for hotel in [&hotel_a, &hotel_b] {
        let ready = (0..100).any(|_| {
            let (status, body) = check_in(hotel, &desk, for_a_counter["payload"].as_str().unwrap(), "1");
            std::thread::sleep(Duration::from_millis(100));
            status == 403 && problem(status, &body) == "wrong-audience"
        });
        assert!(ready, "{hotel} never loaded the authority's keys");
    }
    let outcomes: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let submissions: Vec<_> = (0..50)
            .map(|i| {
                let (hotel, desk, payload) = (if i % 2 == 0 { &hotel_a } else { &hotel_b }, &desk, &payload);
                scope.spawn(move || check_in(hotel, desk, payload, &format!("{}", 400 + i)))
            })
            .collect();
        submissions.into_iter().map(|s| s.join().unwrap()).collect()
    });
    let accepted = outcomes.iter().filter(|(status, _)| *status == 201).count();
    let replayed =
        outcomes.iter().filter(|(status, body)| *status == 409 && problem(*status, body) == "qr-replayed").count();
    assert_eq!((accepted, replayed), (1, 49), "{outcomes:?}");

    stop(first.child);
    stop(second.child);
    stop(demo.child);
    let logs = ["a.log", "b.log"].map(|log| std::fs::read_to_string(dir.join(log)).unwrap()).concat();
    assert_eq!(logs.matches("a guest checked in").count(), 1, "{logs}");
    assert!(!logs.contains(WANG), "the ID number in the services' log");
    std::fs::remove_dir_all(&dir).unwrap();
}
