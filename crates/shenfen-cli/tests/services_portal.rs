//! `shenfen services` as a process beside a real `shenfen serve`, talking to
//! it over HTTP only: the government portal's refusals as a browser or a
//! script meets them — the sign-in's state bound to the browser and used
//! once, filings only for a signed-in citizen with consent and valid fields
//! (kept as a draft, then sent to the authority at L3 essential for the same
//! `sub`), a draft kept when the card does not reach L3, forms from another
//! origin refused, the clerk view behind a password whose wrong guesses are
//! limited — on the embedded SQLite database and on PostgreSQL.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod server_process;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use server_process::{exchange_raw, free_port, fresh_postgres, shenfen, spawn_services, spawn_serving, stop};

/// An HTTP answer: status, headers (lowercase names), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The value a `Set-Cookie` gives cookie `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .find_map(|(_, v)| v.split(';').next()?.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    fn problem_type(&self) -> String {
        let problem: Value = serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body));
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.body);
        assert_eq!(problem["status"], self.status);
        problem["type"].as_str().unwrap().trim_start_matches("urn:shenfen:services:").to_owned()
    }
}

/// One request over plain TCP, as a script sends it (`Accept: application/json`) unless `accept` says otherwise.
fn request(address: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut all = headers.to_vec();
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("accept")) {
        all.push(("Accept", "application/json"));
    }
    all.push(("Content-Type", "application/x-www-form-urlencoded"));
    let (status, headers, body) = exchange_raw(address, method, path, &all, body);
    Answer { status, headers, body }
}

fn get(address: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    request(address, "GET", path, headers, "")
}

fn post(address: &str, path: &str, headers: &[(&str, &str)], form: &str) -> Answer {
    request(address, "POST", path, headers, form)
}

/// A signed-in citizen's session cookie for pairwise subject `sub`, opened
/// in the services' database as the portal's callback opens one (the
/// wallet's side of a sign-in is the browser tests').
fn session_for(database_url: &str, sub: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let db = shenfen_services::Db::open(database_url).await.unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let token = shenfen_services::session::open_session(&db, "portal", sub, now).await.unwrap();
        db.close().await;
        format!("portal_session={token}")
    })
}

/// The query parameter `name` of a URL, decoded.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').filter_map(|pair| pair.split_once('=')).find(|(n, _)| *n == name).map(|(_, v)| decode(v))
}

fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

const COMPANY: &str = "company_name=%E5%B9%BF%E5%B7%9E%E6%99%93%E6%A2%85%E8%8C%B6%E9%A5%AE%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8\
    &company_type=limited_liability&registered_capital=50\
    &address=%E5%B9%BF%E4%B8%9C%E7%9C%81%E5%B9%BF%E5%B7%9E%E5%B8%82%E5%A4%A9%E6%B2%B3%E5%8C%BA%E5%A4%A9%E6%B2%B3%E8%B7%AF1%E5%8F%B7\
    &business_scope=%E8%8C%B6%E9%A5%AE%E5%88%B6%E5%94%AE";
/// 广州晓梅茶饮有限公司, as the space lists it.
const COMPANY_NAME: &str = "广州晓梅茶饮有限公司";

/// The whole set of refusals against one services database (`None`: the embedded SQLite file).
fn the_portal_refuses(name: &str, postgres: Option<String>) {
    let dir = std::env::temp_dir().join(format!("shenfen-services-portal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let (authority, authority_address) =
        spawn_serving(&dir, &["serve", "--listen", "127.0.0.1:0", "--models", models.to_str().unwrap()]);
    let issuer = format!("http://{authority_address}");
    let portal_listen = format!("127.0.0.1:{}", free_port());
    let origin = format!("http://{portal_listen}");
    let services_dir = dir.join("services");
    let services_dir_arg = services_dir.to_str().unwrap();
    let mut store = vec!["--data-dir", services_dir_arg];
    if let Some(url) = &postgres {
        store.extend(["--database-url", url.as_str()]);
    }
    let mut args = vec!["--authority", issuer.as_str(), "--portal-listen", portal_listen.as_str()];
    args.extend(&store);
    let (services, address) = spawn_services(&dir, &args, "政务服务 portal");
    // Its key was made on first run, readable by its owner only, its public set beside it for the registration.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(services_dir.join("portal.key.jwk")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let jwks = services_dir.join("portal.jwks.json");
    assert!(!std::fs::read_to_string(&jwks).unwrap().contains("\"d\""), "no private member in the public set");
    let redirect = format!("{origin}/callback");
    shenfen(
        &dir,
        &[
            "rp",
            "add",
            "--client-id",
            &origin,
            "--name",
            "政务服务 Government portal",
            "--claims",
            "name,record/id_number",
            "--redirect-uri",
            &redirect,
            "--client-jwks",
            jwks.to_str().unwrap(),
        ],
    );
    let database_url =
        postgres.clone().unwrap_or_else(|| format!("sqlite:{}", services_dir.join("services.db").display()));

    // Anonymous: the space sends to the sign-in, which sends to the authority at L1 with PKCE, a nonce and a state in a cookie.
    let space = get(&address, "/space", &[]);
    assert_eq!((space.status, space.header("location")), (303, Some("/login")));
    let login = get(&address, "/login", &[]);
    assert_eq!(login.status, 303);
    let authorize = login.header("location").unwrap().to_owned();
    assert!(authorize.starts_with(&format!("{issuer}/authorize?")), "{authorize}");
    assert_eq!(query_param(&authorize, "client_id").as_deref(), Some(origin.as_str()));
    assert_eq!(query_param(&authorize, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(query_param(&authorize, "acr_values").as_deref(), Some("L1"));
    assert!(query_param(&authorize, "nonce").is_some_and(|n| n.len() >= 43));
    let state = query_param(&authorize, "state").unwrap();
    assert_eq!(login.cookie("portal_sign_in").as_deref(), Some(state.as_str()));
    // The authority takes the request: it knows this client and its redirect URI.
    let at_authority = get(&authority_address, &authorize[issuer.len()..], &[]);
    assert_eq!(at_authority.status, 303, "{}", at_authority.body);
    assert!(at_authority.header("location").unwrap().starts_with("/signin/"));

    // The callback: no state, a state another browser started, an unknown one, the wrong issuer, then the real one once.
    let declined = format!("error=access_denied&iss={}", decode_safe(&issuer));
    let no_state = get(&address, &format!("/callback?{declined}"), &[]);
    assert_eq!((no_state.status, no_state.problem_type().as_str()), (403, "sign-in-not-started"));
    let cookie = format!("portal_sign_in={state}");
    let foreign = get(&address, &format!("/callback?state=attackers-state&{declined}"), &[("Cookie", &cookie)]);
    assert_eq!((foreign.status, foreign.problem_type().as_str()), (403, "sign-in-not-started"));
    let attackers = "portal_sign_in=attackers-state";
    let unknown = get(&address, &format!("/callback?state=attackers-state&{declined}"), &[("Cookie", attackers)]);
    assert_eq!((unknown.status, unknown.problem_type().as_str()), (403, "sign-in-unknown"));
    let wrong_issuer = get(
        &address,
        &format!("/callback?state={state}&error=access_denied&iss=http%3A%2F%2Fevil.example"),
        &[("Cookie", &cookie)],
    );
    assert_eq!((wrong_issuer.status, wrong_issuer.problem_type().as_str()), (502, "sign-in-failed"));
    let reused = get(&address, &format!("/callback?state={state}&{declined}"), &[("Cookie", &cookie)]);
    assert_eq!(
        (reused.status, reused.problem_type().as_str()),
        (403, "sign-in-unknown"),
        "a state is used once, even by a refused answer"
    );

    // Filings: not without a session, not from another origin, not without consent, not with bad fields.
    let anonymous = post(&address, "/filings", &[], &format!("{COMPANY}&consent=yes"));
    assert_eq!((anonymous.status, anonymous.problem_type().as_str()), (401, "not-signed-in"));
    let session = session_for(&database_url, "sub-of-wang-at-the-portal");
    let own = [("Cookie", session.as_str())];
    let forged = post(
        &address,
        "/filings",
        &[("Cookie", &session), ("Origin", "http://evil.example")],
        &format!("{COMPANY}&consent=yes"),
    );
    assert_eq!((forged.status, forged.problem_type().as_str()), (403, "cross-origin"));
    let no_consent = post(&address, "/filings", &own, COMPANY);
    assert_eq!((no_consent.status, no_consent.problem_type().as_str()), (422, "consent-required"));
    let bad = post(&address, "/filings", &own, "company_name=x&company_type=bank&registered_capital=-1&consent=yes");
    assert_eq!((bad.status, bad.problem_type().as_str()), (422, "invalid-filing"));
    let fields: Vec<String> = serde_json::from_str::<Value>(&bad.body).unwrap()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["company_name", "company_type", "registered_capital", "address", "business_scope"]);
    let huge =
        post(&address, "/filings", &own, &format!("{COMPANY}&consent=yes&business_scope={}", "a".repeat(20_000)));
    assert_eq!((huge.status, huge.problem_type().as_str()), (413, "payload-too-large"));
    let browser = post(&address, "/filings", &[("Cookie", &session), ("Accept", "text/html")], COMPANY);
    assert_eq!(browser.status, 422);
    assert!(
        browser.body.contains("id=\"consent-error\"") && browser.body.contains(COMPANY_NAME),
        "the form again, as typed"
    );

    // A valid filing with consent: a draft, and the authority asked for L3, essential, for this citizen, with the legal identity.
    let filing = post(&address, "/filings", &own, &format!("{COMPANY}&consent=yes"));
    assert_eq!(filing.status, 303, "{}", filing.body);
    let authorize = filing.header("location").unwrap().to_owned();
    assert!(authorize.starts_with(&format!("{issuer}/authorize?")));
    let claims: Value = serde_json::from_str(&query_param(&authorize, "claims").unwrap()).unwrap();
    assert_eq!(claims["id_token"]["acr"], serde_json::json!({ "essential": true, "value": "L3" }));
    assert_eq!(claims["id_token"]["sub"]["value"], "sub-of-wang-at-the-portal");
    assert!(claims["id_token"]["name"].is_object() && claims["id_token"]["id_number"].is_object());
    let at_authority = get(&authority_address, &authorize[issuer.len()..], &[]);
    assert_eq!(
        at_authority.status, 303,
        "the authority takes the L3 request of an entitled portal: {}",
        at_authority.body
    );

    // The card does not reach L3: a clear refusal, the draft kept in the citizen's space.
    let state = query_param(&authorize, "state").unwrap();
    let cookie = format!("{session}; portal_sign_in={state}");
    let unmet = get(
        &address,
        &format!("/callback?state={state}&error=unmet_authentication_requirements&iss={}", decode_safe(&issuer)),
        &[("Cookie", &cookie), ("Accept", "text/html")],
    );
    assert_eq!(unmet.status, 403);
    assert!(unmet.body.contains("商事登记需要增强版身份证：请携带身份证到柜台升级"), "{}", unmet.body);
    let space = get(&address, "/space", &[("Cookie", &session), ("Accept", "text/html")]);
    assert_eq!(space.status, 200);
    assert!(space.body.contains("id=\"drafts\"") && space.body.contains(COMPANY_NAME), "{}", space.body);
    let other = session_for(&database_url, "sub-of-someone-else");
    let draft_id = space.body.split("/drafts/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let not_theirs = post(&address, &format!("/drafts/{draft_id}/file"), &[("Cookie", &other)], "");
    assert_eq!((not_theirs.status, not_theirs.problem_type().as_str()), (404, "not-found"));
    let again = post(&address, &format!("/drafts/{draft_id}/file"), &own, "");
    assert_eq!(again.status, 303, "the kept draft goes to the authority again");

    // The clerk view: not without a session; wrong passwords are refused, counted and limited, before the right one is heard.
    let clerk = get(&address, "/clerk/", &[]);
    assert_eq!((clerk.status, clerk.problem_type().as_str()), (401, "clerk-unauthenticated"));
    let mut clerk_args = vec!["services", "clerk", "add", "--username", "clerk-li"];
    clerk_args.extend(&store);
    let printed = shenfen(&dir, &clerk_args);
    let password = printed.trim().rsplit(' ').next().unwrap().to_owned();
    assert_eq!(password.len(), 32, "{printed}");
    let exists = Command::new(env!("CARGO_BIN_EXE_shenfen")).args(&clerk_args).current_dir(&dir).output().unwrap();
    assert!(!exists.status.success() && String::from_utf8_lossy(&exists.stderr).contains("services.clerk_exists"));
    for attempt in 1..=5 {
        let wrong = post(&address, "/clerk/login", &[], "username=clerk-li&password=guess");
        assert_eq!((wrong.status, wrong.problem_type().as_str()), (401, "clerk-unauthenticated"), "attempt {attempt}");
    }
    let limited = post(&address, "/clerk/login", &[], &format!("username=clerk-li&password={password}"));
    assert_eq!(
        (limited.status, limited.problem_type().as_str()),
        (429, "rate-limited"),
        "even the right password waits"
    );
    let mut other_clerk = vec!["services", "clerk", "add", "--username", "clerk-zhao"];
    other_clerk.extend(&store);
    let password = shenfen(&dir, &other_clerk).trim().rsplit(' ').next().unwrap().to_owned();
    let signed_in = post(&address, "/clerk/login", &[], &format!("username=clerk-zhao&password={password}"));
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let clerk_cookie = format!("portal_clerk={}", signed_in.cookie("portal_clerk").unwrap());
    let view = get(&address, "/clerk/", &[("Cookie", &clerk_cookie), ("Accept", "text/html")]);
    assert_eq!(view.status, 200);
    assert!(view.body.contains("clerk-zhao"));
    let citizen_cookie_at_clerk = get(&address, "/clerk/", &[("Cookie", &session)]);
    assert_eq!(citizen_cookie_at_clerk.status, 401, "a citizen's session is no clerk's");

    // English by the switch, back to the page; never off the origin.
    let switch = get(&address, "/lang?to=en&back=/clerk/", &[]);
    assert_eq!((switch.status, switch.header("location")), (303, Some("/clerk/")));
    assert_eq!(switch.cookie("shenfen_lang").as_deref(), Some("en"));
    let english = get(&address, "/clerk/", &[("Cookie", "shenfen_lang=en"), ("Accept", "text/html")]);
    assert!(english.body.contains("<html lang=\"en\">") && english.body.contains("Username"), "{}", english.body);
    for away in ["//evil.example/", "https://evil.example/", "/\\evil.example"] {
        let switched = get(&address, &format!("/lang?to=en&back={away}"), &[]);
        assert_eq!(switched.header("location"), Some("/"), "{away}");
    }

    // Every answer carries the strict policy; unknown paths are problems too.
    assert!(view.header("content-security-policy").unwrap().starts_with("default-src 'self'; script-src 'self'"));
    let missing = get(&address, "/nope", &[]);
    assert_eq!((missing.status, missing.problem_type().as_str()), (404, "not-found"));

    stop(services);
    stop(authority);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A URL as a query value.
fn decode_safe(url: &str) -> String {
    url.replace(':', "%3A").replace('/', "%2F")
}

#[test]
fn the_portal_refuses_on_sqlite() {
    the_portal_refuses("sqlite", None);
}

#[test]
fn the_portal_refuses_on_postgres() {
    the_portal_refuses("postgres", Some(fresh_postgres("services_portal")));
}
