//! The railway (`shenfen services --rail-listen`) beside a real `shenfen
//! serve`, over HTTP only, with credentials the real authority issued to two
//! citizens: the railway asks their wallets itself (its own verifier, its
//! attestation from `shenfen rp attest`) and knows them by its pseudonym; a
//! ticket bought for oneself, for a named co-traveller who accepts it (and
//! not by someone of another name), transferred by an explicit offer the
//! recipient accepts (once); one ticket per passenger and train; at the
//! gate — by the ticket's number or by the train it boards — every refusal
//! with its reason: another person's QR, a used ticket, a QR shown twice, an
//! expired QR, a QR for another audience, no ticket (the seller after a
//! transfer), a revoked card, an unregistered gate — and fifty concurrent
//! submissions of one QR on two gates pass once. On the embedded SQLite
//! database and on PostgreSQL.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod server_process;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use server_process::{
    free_port, fresh_postgres, post as post_json, post_form, shenfen, spawn_services, spawn_serving, stop,
};
use shenfen_credential::{PrivateJwk, SdJwt, encode_qr_payload, es256_header, present, sign_compact};

const WANG: (&str, &str, &str) = ("110105196108040136", "王建国", "obama2.jpg");
const LI: (&str, &str, &str) = ("440106194211200314", "李志强", "biden.jpg");

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// An HTTP answer: status, `Set-Cookie` values, body as JSON.
struct Answer {
    status: u16,
    cookies: Vec<String>,
    body: Value,
}

impl Answer {
    fn cookie(&self, name: &str) -> String {
        self.cookies
            .iter()
            .find_map(|c| c.split(';').next()?.strip_prefix(&format!("{name}=")).map(str::to_owned))
            .unwrap_or_else(|| panic!("no cookie {name}: {:?}", self.cookies))
    }

    /// The problem type's last part, checking the problem's shape.
    fn problem(&self) -> &str {
        assert_eq!(self.body["status"], self.status, "{}", self.body);
        self.body["type"].as_str().unwrap().trim_start_matches("urn:shenfen:services:")
    }
}

/// One request as a script sends it (`Accept: application/json`).
fn request(address: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("accept")) {
        head.push_str("Accept: application/json\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    stream.write_all(format!("{head}\r\n{body}").as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let cookies = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.into() };
    Answer { status, cookies, body: serde_json::from_str(&body).unwrap_or(Value::String(body)) }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// A value for a form body: every byte but unreserved ones percent-encoded.
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A citizen with a credential the real authority issued, and its device key.
struct Citizen {
    credential: SdJwt,
    key: PrivateJwk,
}

/// Enrolls (passive liveness, a photo) and receives one credential for a fresh device key.
fn enroll(authority: &str, issuer: &str, (id_number, name, photo): (&str, &str, &str)) -> Citizen {
    let start = json!({ "id_number": id_number, "name": name, "card_expiry": "长期" }).to_string();
    let (status, session) = post_json(authority, "/enrollment/sessions", &start, None);
    assert_eq!(status, 201, "{session}");
    let frames_path = format!("/enrollment/sessions/{}/frames", session["session_id"].as_str().unwrap());
    let frame = STANDARD.encode(std::fs::read(repository().join("models/photos").join(photo)).unwrap());
    let (status, offer) = post_json(authority, &frames_path, &json!({ "frames": [frame] }).to_string(), None);
    assert_eq!(status, 201, "{offer}");
    let code = offer["credential_offer"]["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
        ["pre-authorized_code"]
        .as_str()
        .unwrap();
    let form =
        format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={code}");
    let access = post_form(authority, "/token", &form).1["access_token"].as_str().unwrap().to_owned();
    let key = PrivateJwk::generate().unwrap();
    let nonce = post_json(authority, "/nonce", "", None).1["c_nonce"].as_str().unwrap().to_owned();
    let mut header = es256_header("openid4vci-proof+jwt", None);
    header.insert("jwk".into(), key.public().to_value());
    let claims = json!({ "aud": issuer, "nonce": nonce, "iat": now() });
    let proof = sign_compact(&header, claims.as_object().unwrap(), &key.signing_key().unwrap()).unwrap();
    let request =
        json!({ "credential_configuration_id": "shenfen_lightweight", "proofs": { "jwt": [proof] } }).to_string();
    let (status, issued) = post_json(authority, "/credential", &request, Some(&access));
    assert_eq!(status, 200, "{issued}");
    Citizen { credential: SdJwt::parse(issued["credentials"][0]["credential"].as_str().unwrap()).unwrap(), key }
}

/// The railway as the test meets it.
struct Railway {
    address: String,
    origin: String,
}

impl Railway {
    fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let headers: Vec<(&str, &str)> = cookie.map(|c| ("Cookie", c)).into_iter().collect();
        request(&self.address, "GET", path, &headers, "")
    }

    /// A form from the railway's own page.
    fn form(&self, path: &str, cookie: &str, form: &str) -> Answer {
        let headers = [
            ("Cookie", cookie),
            ("Origin", self.origin.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        request(&self.address, "POST", path, &headers, form)
    }

    /// The pointers disclosing the name and the railway's pseudonym (RFC 6901: `/` is `~1`).
    fn pointers(&self) -> Vec<String> {
        vec!["/name".into(), format!("/pseudonyms/{}", self.origin.replace('~', "~0").replace('/', "~1"))]
    }

    /// Opens `path` (a sign-in, an acceptance or a transfer link), answers
    /// the railway's request with `citizen`'s wallet as a wallet does, and
    /// reads the outcome in the same browser: the answer and the session cookie.
    fn answer_with(&self, path: &str, citizen: &Citizen) -> (Answer, String) {
        let asked = self.get(path, None);
        assert_eq!(asked.status, 200, "{}", asked.body);
        let ask_cookie = format!("rail_ask={}", asked.cookie("rail_ask"));
        let link = asked.body["authorization_request"].as_str().unwrap();
        let request_uri = link.split("request_uri=").nth(1).unwrap().replace("%3A", ":").replace("%2F", "/");
        let object = request(&self.address, "GET", &request_uri[self.origin.len()..], &[], "");
        let jwt = object.body.as_str().unwrap().to_owned();
        let payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
        let shown = present(
            &citizen.credential,
            &self.pointers(),
            &citizen.key.signing_key().unwrap(),
            payload["client_id"].as_str().unwrap(),
            payload["nonce"].as_str().unwrap(),
            now(),
        )
        .unwrap();
        let vp_token = json!({ "shenfen_id": [shown.serialize()] }).to_string();
        let form = format!("vp_token={}&state={}", form_encode(&vp_token), payload["state"].as_str().unwrap());
        let response_uri = payload["response_uri"].as_str().unwrap();
        let posted = request(
            &self.address,
            "POST",
            &response_uri[self.origin.len()..],
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form,
        );
        assert_eq!(posted.status, 200, "{}", posted.body);
        let answered = self.get("/answered", Some(&ask_cookie));
        let session = if answered.status == 200 {
            format!("rail_session={}", answered.cookie("rail_session"))
        } else {
            String::new()
        };
        (answered, session)
    }

    /// A gate QR of `citizen`: bound to the railway, made `age` seconds ago.
    fn qr(&self, citizen: &Citizen, audience: &str, age: i64) -> String {
        // A fresh nonce per QR, as the wallet draws one: two QRs of one second are two QRs.
        static DRAWN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let drawn = DRAWN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nonce = format!("{}-{drawn}", URL_SAFE_NO_PAD.encode(now().to_be_bytes()));
        let shown = present(
            &citizen.credential,
            &self.pointers(),
            &citizen.key.signing_key().unwrap(),
            audience,
            &nonce,
            now() - age,
        )
        .unwrap();
        URL_SAFE_NO_PAD.encode(encode_qr_payload(&shown).unwrap())
    }

    /// A gate's scan of the ticket numbered `ticket`.
    fn scan(&self, gate: &str, ticket: &str, qr: &str) -> Answer {
        self.gate_call(gate, "/gate/scan", &json!({ "ticket": ticket, "qr": qr }))
    }

    /// A gate boarding `train` scans a passenger's QR.
    fn board(&self, gate: &str, train: &str, qr: &str) -> Answer {
        self.gate_call(gate, "/gate/scan", &json!({ "train": train, "qr": qr }))
    }

    fn gate_call(&self, gate: &str, path: &str, body: &Value) -> Answer {
        let bearer = format!("Bearer {gate}");
        let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
        request(&self.address, "POST", path, &headers, &body.to_string())
    }
}

/// Train `number` in `days`: the railway seeds its timetable for today and
/// the next two days, China's date (UTC+8).
fn train_in(number: &str, days: i64) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(now() + 8 * 3600 + days * 86_400).unwrap().date();
    format!("{number}-{date}")
}

fn rail_journeys(name: &str, postgres: Option<String>) {
    let dir = std::env::temp_dir().join(format!("shenfen-services-rail-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.as_path();
    let models = repository().join("models");
    let citizens = repository().join("demo/citizens.csv");
    let photos = models.join("photos");
    let models_arg = models.to_str().unwrap();
    shenfen(
        d,
        &[
            "registry",
            "import",
            "--records",
            citizens.to_str().unwrap(),
            "--photos",
            photos.to_str().unwrap(),
            "--models",
            models_arg,
        ],
    );
    let (authority, authority_address) = spawn_serving(
        d,
        &["serve", "--listen", "127.0.0.1:0", "--models", models.to_str().unwrap(), "--liveness", "passive"],
    );
    let issuer = format!("http://{authority_address}");

    // The railway: registered for the name, its gates, its key attested for its own verifier.
    let rail_listen = format!("127.0.0.1:{}", free_port());
    let origin = format!("http://{rail_listen}");
    let services = dir.join("services");
    let services_arg = services.to_str().unwrap();
    let mut store = vec!["--data-dir", services_arg];
    if let Some(url) = &postgres {
        store.extend(["--database-url", url.as_str()]);
    }
    let gate = |name: &str| {
        let printed = shenfen(d, &[&["services", "gate", "add", "--name", name][..], &store[..]].concat());
        printed.trim().rsplit(' ').next().unwrap().to_owned()
    };
    let (gate_a, gate_b) = (gate("北京南 检票口 5"), gate("北京南 检票口 6"));
    shenfen(d, &["rp", "add", "--client-id", &origin, "--name", "铁路客票 Rail", "--claims", "name"]);
    let jwks: Value = serde_json::from_str(&std::fs::read_to_string(services.join("rail.jwks.json")).unwrap()).unwrap();
    std::fs::write(dir.join("rail.pub.jwk"), jwks["keys"][0].to_string()).unwrap();
    let response_uri = format!("{origin}/vp/openid4vp/response");
    let attestation = services.join("rail.attestation.jwt");
    shenfen(
        d,
        &[
            "rp",
            "attest",
            "--client-id",
            &origin,
            "--public-key",
            "rail.pub.jwk",
            "--response-uri",
            &response_uri,
            "--issuer",
            &issuer,
            "--out",
            attestation.to_str().unwrap(),
        ],
    );
    let portal_listen = format!("127.0.0.1:{}", free_port());
    let args = [
        &["--authority", issuer.as_str(), "--portal-listen", &portal_listen, "--rail-listen", &rail_listen][..],
        &store[..],
    ]
    .concat();
    let (services_process, address) = spawn_services(d, &args, "铁路客票 rail");
    let rail = Railway { address, origin: origin.clone() };
    // What the wallet binds a QR drawn from the railway's link to: its gates, not its bare origin.
    let gates = format!("verifier_attestation:{origin}");

    // Two citizens enroll after the railway registered: their cards carry its pseudonym.
    let wang = enroll(&authority_address, &issuer, WANG);
    let li = enroll(&authority_address, &issuer, LI);

    // Buying: signed in by the railway's own request, a session keyed by the pseudonym.
    assert_eq!(rail.get("/", None).body["signed_in"], false);
    let page = request(&rail.address, "GET", "/login", &[("Accept", "text/html")], "");
    let html = page.body.as_str().unwrap();
    assert!(page.status == 200 && html.contains("openid4vp://?client_id=") && html.contains("/answered"), "{html}");
    let (signed, wang_session) = rail.answer_with("/login", &wang);
    assert_eq!(signed.status, 200, "{}", signed.body);
    let train = train_in("G1", 0);
    let anonymous =
        request(&rail.address, "POST", "/tickets", &[("Origin", origin.as_str())], &format!("train={train}"));
    assert_eq!((anonymous.status, anonymous.problem()), (401, "not-signed-in"));
    let foreign = request(
        &rail.address,
        "POST",
        "/tickets",
        &[("Cookie", wang_session.as_str()), ("Origin", "http://evil.example")],
        &format!("train={train}"),
    );
    assert_eq!((foreign.status, foreign.problem()), (403, "cross-origin"));
    let bought = rail.form("/tickets", &wang_session, &format!("train={train}&companion="));
    assert_eq!(bought.status, 201, "{}", bought.body);
    let ticket = bought.body["ticket"].as_str().unwrap().to_owned();
    let mine = rail.get("/", Some(&wang_session));
    assert_eq!(mine.body["tickets"][0]["id"], ticket.as_str(), "{}", mine.body);
    let page = request(&rail.address, "GET", "/", &[("Accept", "text/html"), ("Cookie", wang_session.as_str())], "");
    let html = page.body.as_str().unwrap();
    assert!(html.contains(&format!("data-ticket=\"{ticket}\"")) && html.contains("action=\"/tickets\""), "{html}");
    assert_eq!(mine.body["tickets"][0]["status"], "valid");

    // The gate: refusals with their reasons, then one passage.
    let unregistered = rail.scan("not-a-gate", &ticket, &rail.qr(&wang, &gates, 0));
    assert_eq!((unregistered.status, unregistered.problem()), (401, "gate-unauthenticated"));
    let other_person = rail.scan(&gate_a, &ticket, &rail.qr(&li, &gates, 0));
    assert_eq!((other_person.status, other_person.problem()), (403, "wrong-person"), "{}", other_person.body);
    let expired = rail.scan(&gate_a, &ticket, &rail.qr(&wang, &gates, 120));
    assert_eq!((expired.status, expired.problem()), (422, "qr-expired"), "{}", expired.body);
    for audience in ["verifier_attestation:https://hotel.example", origin.as_str()] {
        let elsewhere = rail.scan(&gate_a, &ticket, &rail.qr(&wang, audience, 0));
        assert_eq!((elsewhere.status, elsewhere.problem()), (422, "qr-invalid"), "{audience}: {}", elsewhere.body);
    }
    let both = rail.gate_call(&gate_a, "/gate/scan", &json!({ "ticket": ticket, "train": train, "qr": "AAAA" }));
    assert_eq!((both.status, both.problem()), (400, "bad-request"), "a ticket or a train, not both");
    let no_frame = rail.gate_call("not-a-gate", "/gate/frame", &json!({ "frame": "AAAA" }));
    assert_eq!((no_frame.status, no_frame.problem()), (401, "gate-unauthenticated"), "frames only from a gate");
    let garbage = rail.gate_call(&gate_a, "/gate/frame", &json!({ "frame": "bm90IGEgcGljdHVyZQ" }));
    assert_eq!((garbage.status, garbage.problem()), (400, "bad-request"), "{}", garbage.body);
    let no_ticket = rail.scan(&gate_a, "T-none", &rail.qr(&wang, &gates, 0));
    assert_eq!((no_ticket.status, no_ticket.problem()), (403, "no-ticket"));
    let tomorrow = rail.form("/tickets", &wang_session, &format!("train={}", train_in("G1", 1))).body["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let early_by_a_day = rail.scan(&gate_a, &tomorrow, &rail.qr(&wang, &gates, 0));
    assert_eq!((early_by_a_day.status, early_by_a_day.problem()), (403, "no-ticket"), "tomorrow's train");
    let qr = rail.qr(&wang, &gates, 0);
    let passed = rail.scan(&gate_a, &ticket, &qr);
    assert_eq!(passed.status, 200, "{}", passed.body);
    assert_eq!((passed.body["passed"].as_bool(), passed.body["name"].as_str()), (Some(true), Some(WANG.1)));
    let twice = rail.scan(&gate_b, &ticket, &qr);
    assert_eq!((twice.status, twice.problem()), (409, "qr-replayed"));
    let used = rail.scan(&gate_b, &ticket, &rail.qr(&wang, &gates, 0));
    assert_eq!((used.status, used.problem()), (409, "ticket-used"));
    let used_by_train = rail.board(&gate_b, &train, &rail.qr(&wang, &gates, 0));
    assert_eq!((used_by_train.status, used_by_train.problem()), (409, "ticket-used"));
    let second_seat = rail.form("/tickets", &wang_session, &format!("train={train}"));
    assert_eq!((second_seat.status, second_seat.problem()), (409, "ticket-held"), "one ticket per passenger and train");

    // A co-traveller named by the buyer accepts from their own wallet; someone of another name cannot.
    let for_li = rail.form("/tickets", &wang_session, &format!("train={train}&companion=%E6%9D%8E%E5%BF%97%E5%BC%BA"));
    assert_eq!((for_li.status, for_li.body["status"].as_str()), (201, Some("pending")), "{}", for_li.body);
    let pending = for_li.body["ticket"].as_str().unwrap().to_owned();
    let accept = for_li.body["accept"].as_str().unwrap()[origin.len()..].to_owned();
    let early = rail.scan(&gate_a, &pending, &rail.qr(&li, &gates, 0));
    assert_eq!((early.status, early.problem()), (403, "no-ticket"), "not the co-traveller's before they accept");
    let (by_wang, _) = rail.answer_with(&accept, &wang);
    assert_eq!((by_wang.status, by_wang.problem()), (403, "wrong-person"), "the buyer is not the named co-traveller");
    let (accepted, li_session) = rail.answer_with(&accept, &li);
    assert_eq!((accepted.status, accepted.body["ticket"].as_str()), (200, Some(pending.as_str())), "{}", accepted.body);
    let again = rail.get(&accept, None);
    assert_eq!((again.status, again.problem()), (410, "offer-closed"), "used: no request is even opened");
    let made_up = rail.get(&format!("/transfers/{}", "A".repeat(43)), None);
    assert_eq!((made_up.status, made_up.problem()), (410, "offer-closed"));
    assert_eq!(rail.get("/", Some(&li_session)).body["tickets"][0]["id"], pending.as_str());

    // A transfer: offered by the holder, accepted once by the recipient's wallet; the seller's QR then fails.
    let g79 = train_in("G79", 0);
    let resold =
        rail.form("/tickets", &wang_session, &format!("train={g79}")).body["ticket"].as_str().unwrap().to_owned();
    let not_holder = rail.form(&format!("/tickets/{resold}/transfer"), &li_session, "");
    assert_eq!((not_holder.status, not_holder.problem()), (403, "no-ticket"));
    let offered = rail.form(&format!("/tickets/{resold}/transfer"), &wang_session, "");
    assert_eq!(offered.status, 200, "{}", offered.body);
    let link = offered.body["transfer"].as_str().unwrap()[origin.len()..].to_owned();
    let (taken, _) = rail.answer_with(&link, &li);
    assert_eq!((taken.status, taken.body["ticket"].as_str()), (200, Some(resold.as_str())), "{}", taken.body);
    let twice_taken = rail.get(&link, None);
    assert_eq!((twice_taken.status, twice_taken.problem()), (410, "offer-closed"));
    let screenshot = rail.scan(&gate_a, &resold, &rail.qr(&wang, &gates, 0));
    assert_eq!((screenshot.status, screenshot.problem()), (403, "wrong-person"), "the seller's QR no longer passes");
    let seller_boards = rail.board(&gate_a, &g79, &rail.qr(&wang, &gates, 0));
    assert_eq!((seller_boards.status, seller_boards.problem()), (403, "no-ticket"), "{}", seller_boards.body);
    // The seller may buy on that train again; the recipient, holding one, cannot take a second.
    let again_for_wang =
        rail.form("/tickets", &wang_session, &format!("train={g79}")).body["ticket"].as_str().unwrap().to_owned();
    let second_offer = rail.form(&format!("/tickets/{again_for_wang}/transfer"), &wang_session, "");
    let second_link = second_offer.body["transfer"].as_str().unwrap()[origin.len()..].to_owned();
    let (held, _) = rail.answer_with(&second_link, &li);
    assert_eq!((held.status, held.problem()), (409, "ticket-held"), "{}", held.body);
    assert!(
        rail.get("/", Some(&wang_session)).body["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["id"] != resold.as_str())
    );
    let through = rail.board(&gate_b, &g79, &rail.qr(&li, &gates, 0));
    assert_eq!((through.status, through.body["ticket"].as_str()), (200, Some(resold.as_str())), "{}", through.body);

    // Fifty concurrent submissions of one valid QR on two gates: exactly one passage.
    let d301 = train_in("D301", 0);
    let contested =
        rail.form("/tickets", &wang_session, &format!("train={d301}")).body["ticket"].as_str().unwrap().to_owned();
    let qr = rail.qr(&wang, &gates, 0);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (gate, qr, contested, rail) = (if i % 2 == 0 { &gate_a } else { &gate_b }, &qr, &contested, &rail);
                scope.spawn(move || rail.scan(gate, contested, qr).status)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49, "{statuses:?}");

    // A revoked card: 李志强 withdraws his cards at the authority; the railway,
    // restarted on the same database, fetches the status list and refuses his QR.
    let nonce = post_json(&authority_address, "/nonce", "", None).1["c_nonce"].as_str().unwrap().to_owned();
    let own = present(&li.credential, &[], &li.key.signing_key().unwrap(), &issuer, &nonce, now()).unwrap();
    let (status, revoked) =
        post_json(&authority_address, "/citizen/revoke", &json!({ "presentation": own.serialize() }).to_string(), None);
    assert_eq!(status, 200, "{revoked}");
    stop(services_process);
    let (services_process, address) = spawn_services(d, &args, "铁路客票 rail");
    let rail = Railway { address, origin: origin.clone() };
    let revoked = rail.scan(&gate_a, &pending, &rail.qr(&li, &gates, 0));
    assert_eq!((revoked.status, revoked.problem()), (403, "card-revoked"), "{}", revoked.body);

    // The railway's database holds pseudonyms, never an ID number.
    if postgres.is_none() {
        let db = std::fs::read(services.join("services.db")).unwrap();
        for id_number in [WANG.0, LI.0] {
            assert!(!db.windows(id_number.len()).any(|w| w == id_number.as_bytes()));
        }
    }
    stop(services_process);
    stop(authority);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rail_tickets_on_sqlite() {
    rail_journeys("sqlite", None);
}

#[test]
fn rail_tickets_on_postgres() {
    rail_journeys("postgres", Some(fresh_postgres("services_rail")));
}
