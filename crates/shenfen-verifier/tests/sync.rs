//! `fetch_cache` against an authority served over real HTTP (a small server
//! on a local port): a cache is as old as the status list it holds was
//! signed, so a list served again long after it was signed — a stale proxy,
//! or a copy replayed from before a revocation — makes verifiers that hold
//! their cache to a maximum age fail closed, instead of counting from the fetch.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use serde_json::json;
use shenfen_credential::{
    CredentialError, OfflinePolicy, PrivateJwk, StatusList, StatusListToken, StatusReference, VcIssuance, issue_vc,
    present, verify_offline,
};
use shenfen_verifier::{TrustSource, fetch_cache};

const NOW: i64 = 1_800_000_000;

/// Serves the authority's metadata, JWKS and `status` at `/status/1` on a
/// local port, for as many requests as come; answers its origin.
fn authority_serving(authority: &PrivateJwk, status: impl Fn(&str) -> String + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let metadata = json!({ "credential_issuer": origin }).to_string();
    let jwks = json!({ "keys": [authority.public().to_value()] }).to_string();
    let issuer = origin.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
            let body = match path.as_str() {
                "/.well-known/openid-credential-issuer" => metadata.clone(),
                "/jwks.json" => jwks.clone(),
                "/status/1" => status(&issuer),
                _ => String::new(),
            };
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes()));
        }
    });
    origin
}

/// The authority's status list, signed at `signed_at` (valid a day from then).
fn status_list(authority: &PrivateJwk, issuer: &str, signed_at: i64) -> String {
    let list = StatusList::new(1024, 1).unwrap();
    let token = StatusListToken {
        subject: format!("{issuer}/status/1"),
        issued_at: signed_at,
        expires_at: Some(signed_at + 86_400),
        ttl: Some(300),
        list,
    };
    token.sign(&authority.signing_key().unwrap(), Some("a1")).unwrap()
}

#[test]
fn a_list_signed_two_hours_ago_makes_a_cache_two_hours_old_and_a_verifier_fails_closed() {
    let authority = PrivateJwk::generate().unwrap().with_kid("a1");
    let key = authority.to_value();
    let signed_at = NOW - 7200;
    let origin = authority_serving(&authority, move |issuer| {
        status_list(&PrivateJwk::from_value(&key).unwrap(), issuer, signed_at)
    });
    let cache = fetch_cache(&TrustSource::Servers(vec![origin.clone()]), NOW).unwrap();
    assert_eq!(cache.synced_at, signed_at, "the list's signing time, not the fetch");

    // A QR the cache would otherwise verify is refused by a verifier allowing an hour.
    let holder = PrivateJwk::generate().unwrap();
    let claims = json!({ "iss": origin, "name": "王建国" }).as_object().unwrap().clone();
    let status = StatusReference { uri: format!("{origin}/status/1"), idx: 7 };
    let issuance = VcIssuance {
        vct: "https://id.example/vct/basic",
        holder: holder.public(),
        issued_at: NOW - 60,
        expires_at: NOW + 86_400,
        status: Some(&status),
        kid: Some("a1"),
        disclosable: &["/name".to_owned()],
        max_decoys: 0,
    };
    let credential = issue_vc(&authority.signing_key().unwrap(), claims, &issuance).unwrap();
    let shown = present(&credential, &["/name".to_owned()], &holder.signing_key().unwrap(), "gate", "n", NOW).unwrap();
    let policy = |max_cache_age_secs| OfflinePolicy {
        now: NOW,
        clock_skew_secs: 60,
        max_age_secs: 90,
        max_cache_age_secs,
        audience: "gate",
        required_claims: &["name"],
    };
    let refused = verify_offline(&shown, &cache, &policy(3600)).unwrap_err();
    assert!(matches!(refused, CredentialError::StaleCache { age_secs: 7200, .. }), "{refused:?}");
    assert!(verify_offline(&shown, &cache, &policy(24 * 3600)).is_ok(), "within a day's allowance it verifies");
}

#[test]
fn a_freshly_signed_list_makes_a_fresh_cache() {
    let authority = PrivateJwk::generate().unwrap().with_kid("a1");
    let key = authority.to_value();
    let origin =
        authority_serving(&authority, move |issuer| status_list(&PrivateJwk::from_value(&key).unwrap(), issuer, NOW));
    let cache = fetch_cache(&TrustSource::Servers(vec![origin]), NOW + 20).unwrap();
    assert_eq!(cache.synced_at, NOW, "signed twenty seconds before the fetch");
}
