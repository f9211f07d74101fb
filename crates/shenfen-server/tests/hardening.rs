//! The authority attacked as an outsider would: a stolen phone whose
//! credentials were revoked, anonymous callers sending work to sessions that
//! do not exist, fifty guesses at once against every lockout, a wallet told
//! to retry, two instances on one database, and a copy of that database.
//! Each test names the attack it makes and the refusal it expects.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::future::IntoFuture;

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use shenfen_core::OperatorRole;
use shenfen_credential::{PrivateJwk, SdJwt, StatusListToken};
use shenfen_server::Policy;
use shenfen_store::verify_secret;
use shenfen_wallet::authority::AuthorityClient;
use sqlx::{Connection, Row};
use support::journey::*;
use support::{Backend, TestApp, all_at_once, app_at, app_with, body_bytes, fresh_store, json as json_of, send};

/// A policy whose pool admits fifty requests at once, so what limits fifty
/// parallel guesses below is the lockout, not the pool.
fn roomy_policy() -> Policy {
    Policy { cpu_queue: 64, ..policy() }
}

async fn post_json(test: &TestApp, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = send(&test.router, Method::POST, path, "application/json", body.to_string()).await;
    (response.status(), json_of(response).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_whose_credentials_were_revoked_opens_nothing() {
    let test = registered_app().await;
    let old_phone = upgraded_phone(&test, 3).await;
    // The citizen enrolls again on a new phone: the old phone's credentials are revoked.
    let new_phone = upgraded_phone(&test, 2).await;
    let (credential, holder) = &old_phone[0];
    for path in ["/citizen/revoke", "/citizen/audit", "/citizen/pin"] {
        let body = json!({ "presentation": self_presentation(&test, credential, holder).await, "pin": "482915" });
        let (status, problem) = post_json(&test, path, &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {problem}");
        assert_eq!(problem["type"], "urn:shenfen:problem:citizen-unauthenticated", "{path}");
        assert!(problem["detail"].as_str().unwrap().contains("revoked"), "{path}: {problem}");
    }
    let assertion = json!({
        "presentation": self_presentation(&test, &old_phone[1].0, &old_phone[1].1).await,
        "pin": "482915",
        "audience": "https://bank.example",
        "nonce": "n-1",
        "frames": [jpeg_base64(&photo("obama3.jpg"))],
    });
    let (status, problem) = post_json(&test, "/citizen/assertion", &assertion).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("urn:shenfen:problem:citizen-unauthenticated"))
    );

    // The thief's attempts changed nothing: the new phone works and is valid.
    assert_eq!(pin_check(&test, &new_phone[0].0, &new_phone[0].1, "482915").await.status(), StatusCode::OK);
    let status = published_status(&test).await;
    assert!(verified_claims(&test, &new_phone[1].0, &new_phone[1].1, &status).is_ok(), "the new phone stays valid");
    assert!(verified_claims(&test, &old_phone[2].0, &old_phone[2].1, &status).is_err(), "the old one is revoked");
    let kinds: Vec<String> = own_log(&test).await.into_iter().map(|e| e.event.kind).collect();
    assert!(!kinds.iter().any(|k| k == "citizen.audit_read" || k == "credential.revoked"), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_service_works_after_the_signing_key_is_rotated() {
    let before = registered_app().await;
    let phone = enroll_and_issue(&before, 1).await;
    // The authority rotates its key: a new current key, the old one published as retired.
    let new_key = PrivateJwk::generate().unwrap().with_kid("authority-2027");
    let after = app_with(
        (before.state.store.clone(), before.url.clone()),
        new_key,
        vec![before.issuer.public().clone()],
        policy(),
    );
    let body = json!({ "presentation": self_presentation(&after, &phone[0].0, &phone[0].1).await });
    let (status, log) = post_json(&after, "/citizen/audit", &body).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert!(log["entries"].as_array().unwrap().iter().any(|e| e["kind"] == "credential.issued"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_for_a_forged_session_are_refused_before_they_are_read() {
    let test = registered_app().await;
    // Frames that would take a decoder's time, or fail it: neither is reached.
    let flash = vec![STANDARD.encode(b"not an image"); 6];
    let times: Vec<i64> = (0..8).map(|i| i * 100).collect();
    let garbage = json!({ "frames": ["not base64!", STANDARD.encode(b"not an image")], "flash_frames": flash, "captured_at": times });
    let (real, _) = start(&test, LIN, "林晓梅").await;
    // Another character of the id's own alphabet: it parses, but its MAC fails.
    let mut forged = real.clone().into_bytes();
    forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
    for session in ["anything", std::str::from_utf8(&forged).unwrap()] {
        let response = submit(&test, session, &garbage).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{session}");
        assert_eq!(json_of(response).await["type"], "urn:shenfen:problem:enrollment-refused", "{session}");
    }
    // Not even JSON: still the same refusal, the body never read.
    let path = "/enrollment/sessions/anything/frames";
    let response = send(&test.router, Method::POST, path, "application/json", "{{{{").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The real session is untouched by all this, and still decides.
    let (session, challenge) = start(&test, LIN, "林晓梅").await;
    accepted(&test, submit(&test, &session, &performing(&photo("obama3.jpg"), &challenge)).await).await;
    let own = submit(&test, &real, &garbage).await;
    assert_eq!(own.status(), StatusCode::BAD_REQUEST, "its own frames are read");
    assert!(json_of(own).await["detail"].as_str().unwrap().contains("frame 0 is not base64"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_s_frames_are_counted_against_its_budget_before_any_is_decoded() {
    let test = registered_app_with(Backend::Sqlite, Policy { frames_per_client_minute: 8, ..policy() }).await;
    let (session, _) = start(&test, LIN, "林晓梅").await;
    let nine = json!({ "frames": vec!["not base64!"; 9] });
    let response = submit(&test, &session, &nine).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json_of(response).await["type"], "urn:shenfen:problem:rate-limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_turns_work_away_and_counts_no_pin_attempt() {
    let test = registered_app_with(Backend::Sqlite, Policy { cpu_workers: 1, cpu_queue: 0, ..policy() }).await;
    let phone = upgraded_phone(&test, 1).await;
    // Something else holds the only worker.
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let state = test.state.clone();
    let busy = tokio::spawn(async move {
        state
            .pool
            .run(move |_| {
                let _ = started_tx.send(());
                let _ = wait.recv();
            })
            .await
    });
    started.await.unwrap();
    let response = pin_check(&test, &phone[0].0, &phone[0].1, "135790").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(json_of(response).await["type"], "urn:shenfen:problem:busy");
    release.send(()).unwrap();
    busy.await.unwrap().unwrap();
    // The refused request was never counted: the first real wrong PIN leaves four more tries.
    let problem = json_of(pin_check(&test, &phone[0].0, &phone[0].1, "135790").await).await;
    assert!(problem["detail"].as_str().unwrap().contains("4 more tries"), "{problem}");
}

/// Fifty presentations of `phone`'s first copy with a wrong PIN, sent to
/// `path` at once: each refused (wrong or locked), argon2id run for the five
/// free attempts only.
async fn fifty_wrong_pins_at_once(test: &TestApp, phone: &[(SdJwt, PrivateJwk)], path: &'static str) {
    let mut bodies = Vec::new();
    for _ in 0..50 {
        let presentation = self_presentation(test, &phone[0].0, &phone[0].1).await;
        bodies.push(json!({ "presentation": presentation, "pin": "135790" }).to_string());
    }
    let statuses = all_at_once(test, path, "application/json", bodies).await;
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{path}: {statuses:?}");
    assert_eq!(test.state.metrics.secrets_checked("pin"), 5, "{path}: argon2id ran for the five free attempts only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_wrong_pins_at_once_get_the_five_checks_the_lockout_allows() {
    let test = registered_app_with(Backend::Sqlite, roomy_policy()).await;
    let phone = upgraded_phone(&test, 1).await;
    fifty_wrong_pins_at_once(&test, &phone, "/citizen/pin").await;
    let right = pin_check(&test, &phone[0].0, &phone[0].1, "482915").await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS, "locked, even for the right PIN");
    assert_eq!(test.state.metrics.secrets_checked("pin"), 5);
}

/// Withdrawal of `phone`'s card, proven by its copy `copy`, with `pin` (none when `None`).
async fn withdraw(
    test: &TestApp,
    phone: &[(SdJwt, PrivateJwk)],
    copy: usize,
    pin: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({ "presentation": self_presentation(test, &phone[copy].0, &phone[copy].1).await });
    if let Some(pin) = pin {
        body["pin"] = json!(pin);
    }
    post_json(test, "/citizen/revoke", &body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_found_phone_cannot_withdraw_an_upgraded_card_without_its_pin() {
    let test = registered_app().await;
    let phone = upgraded_phone(&test, 6).await;
    // Whoever finds the phone unlocked tries to cancel the card: without the PIN, refused, naming the field.
    let (status, problem) = withdraw(&test, &phone, 0, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(
        (problem["type"].as_str(), problem["field"].as_str()),
        (Some("urn:shenfen:problem:invalid-request"), Some("pin"))
    );
    // Guesses are counted as at /citizen/pin: the same refusal, the same countdown.
    let (status, problem) = withdraw(&test, &phone, 1, Some("135790")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert_eq!(problem["type"], "urn:shenfen:problem:pin-incorrect");
    assert!(problem["detail"].as_str().unwrap().contains("4 more tries"), "{problem}");
    let problem = json_of(pin_check(&test, &phone[2].0, &phone[2].1, "135790").await).await;
    assert!(problem["detail"].as_str().unwrap().contains("3 more tries"), "one counter for both: {problem}");
    assert_eq!(
        test.state.metrics.secrets_checked("pin"),
        2,
        "argon2id ran for each counted guess, not for the missing PIN"
    );
    // Nothing was withdrawn by the refusals: the card is still valid everywhere.
    let status_list = published_status(&test).await;
    assert!(verified_claims(&test, &phone[3].0, &phone[3].1, &status_list).is_ok(), "still valid");
    // The holder, with the PIN: every credential withdrawn, the failures forgotten.
    let (status, revoked) = withdraw(&test, &phone, 3, Some("482915")).await;
    assert_eq!((status, revoked["revoked"].as_u64()), (StatusCode::OK, Some(6)), "{revoked}");
    let status_list = published_status(&test).await;
    assert!(verified_claims(&test, &phone[4].0, &phone[4].1, &status_list).is_err(), "revoked");
    let kinds: Vec<String> = own_log(&test).await.into_iter().map(|e| e.event.kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "credential.revoked").count(), 1, "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_withdrawals_with_wrong_pins_at_once_get_five_checks_and_a_lightweight_one_needs_none() {
    let test = registered_app_with(Backend::Sqlite, roomy_policy()).await;
    let phone = upgraded_phone(&test, 7).await;
    fifty_wrong_pins_at_once(&test, &phone, "/citizen/revoke").await;
    // Locked: a waiting time, which even the right PIN sits out; nothing was withdrawn.
    let (status, problem) = withdraw(&test, &phone, 5, Some("482915")).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("urn:shenfen:problem:pin-locked"))
    );
    let status_list = published_status(&test).await;
    assert!(verified_claims(&test, &phone[6].0, &phone[6].1, &status_list).is_ok(), "still valid");

    // The lightweight edition has no PIN: its withdrawal needs none, and a PIN sent is ignored.
    let light = registered_app().await;
    let phone = enroll_and_issue(&light, 1).await;
    let (status, revoked) = withdraw(&light, &phone, 0, None).await;
    assert_eq!((status, revoked["revoked"].as_u64()), (StatusCode::OK, Some(1)), "{revoked}");
    assert_eq!(light.state.metrics.secrets_checked("pin"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_wrong_transaction_codes_at_once_get_five_checks_then_the_offer_is_void() {
    let test = registered_app_with(Backend::Sqlite, roomy_policy()).await;
    let (offer, tx_code) = attested_offer(&test, &photo("obama3.jpg")).await;
    let code = pre_authorized_code(&offer);
    let bodies: Vec<String> = (0..50)
        .map(|n| format!("{:06}", 100_000 + n))
        .filter(|guess| *guess != tx_code)
        .take(50)
        .map(|guess| {
            format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={code}&tx_code={guess}"
            )
        })
        .collect();
    let statuses = all_at_once(&test, "/token", "application/x-www-form-urlencoded", bodies).await;
    assert!(statuses.iter().all(|s| *s == 400), "{statuses:?}");
    assert_eq!(test.state.metrics.secrets_checked("tx_code"), 5);
    assert_eq!(access_token(&test, &code, Some(&tx_code)).await.unwrap_err(), "invalid_grant", "the offer is void");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_wrong_passwords_at_once_get_the_ten_checks_of_the_hour() {
    let test = registered_app_with(Backend::Sqlite, roomy_policy()).await;
    signed_in_operator(&test, "wang.counter", OperatorRole::Counter).await;
    let before = test.state.metrics.secrets_checked("operator_password");
    let bodies = vec![json!({ "username": "wang.counter", "password": "guess" }).to_string(); 50];
    let statuses = all_at_once(&test, "/operator/login", "application/json", bodies).await;
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    assert_eq!(test.state.metrics.secrets_checked("operator_password") - before, 10);
    let right = json!({ "username": "wang.counter", "password": "wang.counter-correct horse" });
    assert_eq!(post_json(&test, "/operator/login", &right).await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_told_invalid_nonce_retries_with_a_fresh_one_and_the_same_token() {
    let test = registered_app().await;
    let (session, challenge) = start(&test, LIN, "林晓梅").await;
    let offer = accepted(&test, submit(&test, &session, &performing(&photo("obama3.jpg"), &challenge)).await).await;
    let access = access_token(&test, &pre_authorized_code(&offer), None).await.unwrap();
    let holders = vec![PrivateJwk::generate().unwrap(), PrivateJwk::generate().unwrap()];
    // A nonce the wallet kept from earlier, spent meanwhile.
    let stale = fresh_c_nonce(&test).await;
    assert!(test.state.store.consume_nonce(&stale, now() + 300).await.unwrap());
    let (status, error) = credential_request(&test, &access, "lightweight", &holders, &stale).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_nonce")), "{error}");
    let (status, issued) =
        credential_request(&test, &access, "lightweight", &holders, &fresh_c_nonce(&test).await).await;
    assert_eq!(status, StatusCode::OK, "the access token survived the refused request: {issued}");
    assert_eq!(issued["credentials"].as_array().unwrap().len(), 2);
    let (status, spent) =
        credential_request(&test, &access, "lightweight", &holders, &fresh_c_nonce(&test).await).await;
    assert_eq!((status, spent["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_client_retries_a_refused_nonce_with_the_same_token() {
    // The authority on a socket, as the wallet's HTTP client reaches it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (store, db_url) = fresh_store(Backend::Sqlite).await;
    register_lin(&store).await;
    let issuer = PrivateJwk::generate().unwrap().with_kid("authority-2026");
    let test = app_at(&url, (std::sync::Arc::new(store), db_url), issuer, Vec::new(), policy());
    tokio::spawn(axum::serve(listener, test.router.clone()).into_future());
    let (session, challenge) = start(&test, LIN, "林晓梅").await;
    let offer = json_of(submit(&test, &session, &performing(&photo("obama3.jpg"), &challenge)).await).await;
    let access = access_token(&test, &pre_authorized_code(&offer), None).await.unwrap();
    let stale = fresh_c_nonce(&test).await;
    assert!(test.state.store.consume_nonce(&stale, now() + 300).await.unwrap());
    let issued = tokio::task::spawn_blocking(move || {
        let keys = [PrivateJwk::generate().unwrap(), PrivateJwk::generate().unwrap()];
        AuthorityClient::new(&url).request_credentials(&access, "shenfen_lightweight", &keys, Some(stale), now())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(issued.len(), 2, "refused once for the spent nonce, issued on the retry");
}

async fn status_list_text(test: &TestApp) -> String {
    String::from_utf8(body_bytes(send(&test.router, Method::GET, "/status/1", "", "").await).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_list_is_signed_again_only_when_a_status_changes() {
    let test = registered_app().await;
    let phone = enroll_and_issue(&test, 1).await;
    let first = status_list_text(&test).await;
    assert_eq!(status_list_text(&test).await, first, "unchanged: the same signed copy");
    let body = json!({ "presentation": self_presentation(&test, &phone[0].0, &phone[0].1).await });
    assert_eq!(post_json(&test, "/citizen/revoke", &body).await.0, StatusCode::OK);
    let after = status_list_text(&test).await;
    assert_ne!(after, first, "a revocation is published at once");
    let token = StatusListToken::verify(&after, &test.issuer.public().verifying_key().unwrap(), now(), 60).unwrap();
    let reference = shenfen_credential::Jws::parse(phone[0].0.issuer_jwt(), "credential").unwrap().payload()["status"]
        ["status_list"]["idx"]
        .as_u64()
        .unwrap();
    assert_eq!(token.list.get(reference).unwrap(), 1, "revoked in the list now served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_registered_counter_devices_and_counter_operators_may_send_frames() {
    let test = registered_app().await;
    // A phone-camera-sized frame (the photo itself is 1434 × 2333): the scan
    // tries five scales, and this test is about who may ask, not about speed.
    let camera = image::imageops::thumbnail(&photo("obama3.jpg"), 480, 780);
    let frame = json!({ "frame": jpeg_base64(&camera) });
    for path in ["/counter/scan", "/counter/verify"] {
        let (status, problem) = post_json(&test, path, &frame).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {problem}");
        assert_eq!(problem["type"], "urn:shenfen:problem:counter-unauthenticated", "{path}");
        let response = send_bearer(&test, Method::POST, path, "made-up", frame.clone()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(send(&test.router, Method::GET, "/counter/cache", "", "").await.status(), StatusCode::UNAUTHORIZED);
    let clerk = signed_in_operator(&test, "wang.counter", OperatorRole::Counter).await;
    let response = send_bearer(&test, Method::POST, "/counter/scan", &clerk, frame.clone()).await;
    assert_eq!(json_of(response).await["type"], "urn:shenfen:problem:qr-not-found", "a counter operator may scan");
    let desk = counter_device(&test, "front desk").await;
    let response = send_bearer(&test, Method::POST, "/counter/scan", &desk, frame).await;
    assert_eq!(json_of(response).await["type"], "urn:shenfen:problem:qr-not-found", "a registered desk may scan");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_database_share_every_single_use_item_and_limit() {
    let (a, b) = registered_pair(Backend::Postgres).await;
    // A session started at A decides once, wherever the frames arrive.
    let (session, challenge) = start(&a, LIN, "林晓梅").await;
    let frames = performing(&photo("obama3.jpg"), &challenge);
    let offer = accepted(&b, submit(&b, &session, &frames).await).await;
    assert_eq!(submit(&a, &session, &frames).await.status(), StatusCode::UNPROCESSABLE_ENTITY, "decided at B");
    // A pre-authorized code redeemed at B is dead at A.
    let code = pre_authorized_code(&offer);
    let form =
        format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={code}");
    let token = |test: &TestApp| {
        let (router, form) = (test.router.clone(), form.clone());
        async move { json_of(send(&router, Method::POST, "/token", "application/x-www-form-urlencoded", form).await).await }
    };
    let access = token(&b).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token(&a).await["error"], "invalid_grant");
    // A c_nonce spent at A is dead at B; the access token spent at A is dead at B.
    let holders = vec![PrivateJwk::generate().unwrap()];
    let nonce = fresh_c_nonce(&b).await;
    let (status, issued) = credential_request(&a, &access, "lightweight", &holders, &nonce).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    let access_again = access.clone();
    let (_, reused) = credential_request(&b, &access_again, "lightweight", &holders, &nonce).await;
    assert_eq!(reused["error"], "invalid_token");
    let credential = SdJwt::parse(issued["credentials"][0]["credential"].as_str().unwrap()).unwrap();
    let held = (credential, PrivateJwk::from_value(&holders[0].to_value()).unwrap());
    // A QR accepted at A's counter is refused at B's.
    let desk = counter_device(&a, "front desk").await;
    let qr = json!({ "qr_text": hotel_qr_text(&held.0, &held.1, now()), "purpose": "hotel_checkin" });
    assert_eq!(counter_verify(&a, &desk, qr.clone()).await.0, StatusCode::OK);
    let (status, problem) = counter_verify(&b, &desk, qr).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("credential.offline.replayed"))
    );
    // Wrong transaction codes at A and at B add up to the one limit of five.
    let (offer, tx_code) = attested_offer(&a, &photo("obama3.jpg")).await;
    let code = pre_authorized_code(&offer);
    let wrong = if tx_code == "000000" { "000001" } else { "000000" };
    for (n, test) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
        assert_eq!(access_token(test, &code, Some(wrong)).await.unwrap_err(), "invalid_grant", "guess {n}");
    }
    assert_eq!(access_token(&b, &code, Some(&tx_code)).await.unwrap_err(), "invalid_grant", "void after five");
    // Enrollment starts per number per hour: ten in all, whichever instance counts them.
    let mut started = 0;
    for test in [&a, &b].into_iter().cycle().take(30) {
        let body = json!({ "id_number": LIN, "name": "林晓梅", "card_expiry": "2035-06-01" }).to_string();
        let response = send(&test.router, Method::POST, "/enrollment/sessions", "application/json", body).await;
        if response.status() != StatusCode::CREATED {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            break;
        }
        started += 1;
    }
    // Two were started above: the lightweight enrollment's and the upgraded one's.
    assert_eq!(started + 2, 10, "the limit of ten holds across both instances");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_database_gives_away_no_pin_code_or_verified_claim() {
    let test = registered_app().await;
    let (offer, tx_code) = attested_offer(&test, &photo("obama3.jpg")).await;
    let mut db = sqlx::AnyConnection::connect(&test.url).await.unwrap();
    let pin_hash: String = sqlx::query("SELECT pin_hash FROM pins").fetch_one(&mut db).await.unwrap().get("pin_hash");
    assert!(!verify_secret(&pin_hash, "482915"), "the PIN hash needs the server's secret as well");
    let stored: Vec<u8> = sqlx::query("SELECT tx_code_hash FROM grants WHERE kind = 'pre_authorized_code'")
        .fetch_one(&mut db)
        .await
        .unwrap()
        .get("tx_code_hash");
    // Every six-digit code, hashed as an attacker without the key would: none matches.
    let sha = |code: &str| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, code.as_bytes()).as_ref().to_vec();
    assert!((0..1_000_000).all(|n| sha(&format!("{n:06}")) != stored), "the transaction code hash is keyed");
    // A verified result waiting for its relying party is sealed.
    let key = register_relying_party(&test, "https://hotel.example", "Hotel", &["name"]).await;
    let access = access_token(&test, &pre_authorized_code(&offer), Some(&tx_code)).await.unwrap();
    let phone = issue(&test, &access, "upgraded", 1).await;
    let (id, object) = ask(&test, "https://hotel.example", &key, &["name"]).await;
    assert_eq!(answer(&test, &id, &object, &phone[0], None).await, StatusCode::OK);
    let row = sqlx::query("SELECT * FROM presentation_requests").fetch_one(&mut db).await.unwrap();
    for column in 0..row.len() {
        let bytes: Vec<u8> = row
            .try_get::<Vec<u8>, _>(column)
            .or_else(|_| row.try_get::<String, _>(column).map(String::into_bytes))
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("林晓梅"), "column {column} holds the name in clear");
    }
    assert_eq!(outcome(&test, &id, "https://hotel.example", &key).await.1["result"]["claims"]["name"], "林晓梅");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_transaction_codes_void_the_offer_for_good() {
    let test = registered_app().await;
    let (offer, tx_code) = attested_offer(&test, &photo("obama3.jpg")).await;
    let code = pre_authorized_code(&offer);
    for guess in 0..5 {
        let wrong = format!("{:06}", (tx_code.parse::<u32>().unwrap() + 1 + guess) % 1_000_000);
        assert_eq!(access_token(&test, &code, Some(&wrong)).await.unwrap_err(), "invalid_grant", "guess {guess}");
    }
    assert_eq!(access_token(&test, &code, Some(&tx_code)).await.unwrap_err(), "invalid_grant", "void after five");
    assert_eq!(access_token(&test, &code, Some(&tx_code)).await.unwrap_err(), "invalid_grant", "and stays void");
    assert_eq!(test.state.metrics.secrets_checked("tx_code"), 5, "the right code was never even compared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_operator_name_costs_the_same_and_locks_the_same() {
    let test = registered_app().await;
    signed_in_operator(&test, "wang.counter", OperatorRole::Counter).await;
    for username in ["wang.counter", "nobody"] {
        let before = test.state.metrics.secrets_checked("operator_password");
        let body = json!({ "username": username, "password": "guess" });
        let statuses: Vec<StatusCode> = futures_of(11, || post_json(&test, "/operator/login", &body)).await;
        assert_eq!(&statuses[..10], &[StatusCode::UNAUTHORIZED; 10], "{username}");
        assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS, "{username}: the eleventh waits out the hour");
        let checks = test.state.metrics.secrets_checked("operator_password") - before;
        assert_eq!(checks, 10, "{username}: argon2id runs for a name that does not exist as for one that does");
    }
}

/// Runs `make` `n` times one after the other; the statuses.
async fn futures_of<'a, F, Fut>(n: usize, make: F) -> Vec<StatusCode>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (StatusCode, Value)> + 'a,
{
    let mut statuses = Vec::with_capacity(n);
    for _ in 0..n {
        statuses.push(make().await.0);
    }
    statuses
}

/// A key proof for `holder` with the claims and header the test chooses.
fn key_proof_with(holder: &PrivateJwk, typ: Option<&str>, claims: Value, signer: &PrivateJwk) -> String {
    let mut header = shenfen_credential::es256_header(typ.unwrap_or("openid4vci-proof+jwt"), None);
    if typ.is_none() {
        header.remove("typ");
    }
    header.insert("jwk".into(), holder.public().to_value());
    shenfen_credential::sign_compact(&header, claims.as_object().unwrap(), &signer.signing_key().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_key_proof_is_refused_with_its_oauth_error() {
    let test = registered_app_with(Backend::Sqlite, Policy { max_batch: 2, ..policy() }).await;
    let (session, challenge) = start(&test, LIN, "林晓梅").await;
    let offer = accepted(&test, submit(&test, &session, &performing(&photo("obama3.jpg"), &challenge)).await).await;
    let access = access_token(&test, &pre_authorized_code(&offer), None).await.unwrap();
    let holder = PrivateJwk::generate().unwrap();
    let thief = PrivateJwk::generate().unwrap();
    let spent = fresh_c_nonce(&test).await;
    assert!(test.state.store.consume_nonce(&spent, now() + 300).await.unwrap());
    let claims = |aud: &str, iat: i64, nonce: &str| json!({ "aud": aud, "iat": iat, "nonce": nonce });
    let request = |proofs: Vec<String>| json!({ "credential_configuration_id": "shenfen_lightweight", "proofs": { "jwt": proofs } });
    let mut cases: Vec<(&str, Vec<String>, &str)> = Vec::new();
    let nonce = fresh_c_nonce(&test).await;
    let good =
        |h: &PrivateJwk| key_proof_with(h, Some("openid4vci-proof+jwt"), claims(support::ISSUER_URL, now(), &nonce), h);
    cases.push((
        "another audience",
        vec![key_proof_with(
            &holder,
            Some("openid4vci-proof+jwt"),
            claims("https://other.example", now(), &nonce),
            &holder,
        )],
        "invalid_proof",
    ));
    cases.push((
        "made an hour ago",
        vec![key_proof_with(
            &holder,
            Some("openid4vci-proof+jwt"),
            claims(support::ISSUER_URL, now() - 3600, &nonce),
            &holder,
        )],
        "invalid_proof",
    ));
    cases.push((
        "made in an hour",
        vec![key_proof_with(
            &holder,
            Some("openid4vci-proof+jwt"),
            claims(support::ISSUER_URL, now() + 3600, &nonce),
            &holder,
        )],
        "invalid_proof",
    ));
    cases.push((
        "signed by another key than the one it names",
        vec![key_proof_with(&holder, Some("openid4vci-proof+jwt"), claims(support::ISSUER_URL, now(), &nonce), &thief)],
        "invalid_proof",
    ));
    cases.push((
        "a spent c_nonce",
        vec![key_proof_with(
            &holder,
            Some("openid4vci-proof+jwt"),
            claims(support::ISSUER_URL, now(), &spent),
            &holder,
        )],
        "invalid_nonce",
    ));
    cases.push((
        "no typ",
        vec![key_proof_with(&holder, None, claims(support::ISSUER_URL, now(), &nonce), &holder)],
        "invalid_proof",
    ));
    cases.push((
        "another typ",
        vec![key_proof_with(&holder, Some("JWT"), claims(support::ISSUER_URL, now(), &nonce), &holder)],
        "invalid_proof",
    ));
    let three: Vec<String> = (0..3).map(|_| good(&PrivateJwk::generate().unwrap())).collect();
    cases.push(("more proofs than the batch size", three, "invalid_proof"));
    for (case, proofs, error) in cases {
        let response = send_bearer(&test, Method::POST, "/credential", &access, request(proofs)).await;
        let status = response.status();
        let body = json_of(response).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some(error)), "{case}: {body}");
    }
    // None of them spent the access token or the nonce: the right proof still gets its credential.
    let response = send_bearer(&test, Method::POST, "/credential", &access, request(vec![good(&holder)])).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", json_of(response).await);
}
