//! The HTTP contract of the operations, key and nonce endpoints, through the
//! real router over a real (SQLite) store: statuses, RFC 9457 problems with
//! stable types, body limits, caching headers, metrics, the OpenAPI document.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use shenfen_server::{AppState, BODY_LIMIT};
use tower::ServiceExt;

mod support;

async fn app() -> (axum::Router, Arc<AppState>) {
    let test = support::app(shenfen_server::Policy::default()).await;
    (test.router, test.state)
}

async fn send(app: &axum::Router, method: Method, path: &str, body: Body) -> Response {
    app.clone().oneshot(Request::builder().method(method).uri(path).body(body).unwrap()).await.unwrap()
}

async fn json(response: Response) -> Value {
    serde_json::from_slice(&to_bytes(response.into_body(), 1 << 20).await.unwrap()).unwrap()
}

async fn assert_problem(response: Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    let problem = json(response).await;
    assert_eq!(problem["type"], format!("urn:shenfen:problem:{code}"));
    assert_eq!(problem["status"], status.as_u16());
    assert!(problem["title"].is_string());
}

#[tokio::test]
async fn health_and_readiness() {
    let (app, _) = app().await;
    assert_eq!(json(send(&app, Method::GET, "/healthz", Body::empty()).await).await["status"], "ok");
    assert_eq!(json(send(&app, Method::GET, "/readyz", Body::empty()).await).await["status"], "ready");
}

#[tokio::test]
async fn errors_are_problem_details_with_stable_types() {
    let (app, _) = app().await;
    assert_problem(send(&app, Method::GET, "/no/such/thing", Body::empty()).await, StatusCode::NOT_FOUND, "not-found")
        .await;
    assert_problem(
        send(&app, Method::DELETE, "/healthz", Body::empty()).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
    )
    .await;
    assert_problem(
        send(&app, Method::GET, "/nonce", Body::empty()).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
    )
    .await;
    let oversized = Request::builder()
        .method(Method::POST)
        .uri("/nonce")
        .header(header::CONTENT_LENGTH, BODY_LIMIT + 1)
        .body(Body::from(vec![b'x'; BODY_LIMIT + 1]))
        .unwrap();
    let response = app.clone().oneshot(oversized).await.unwrap();
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
}

#[tokio::test]
async fn nonces_are_fresh_uncached_and_verifiable() {
    let (app, state) = app().await;
    let first = send(&app, Method::POST, "/nonce", Body::empty()).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()[header::CACHE_CONTROL], "no-store");
    let a = json(first).await["c_nonce"].as_str().unwrap().to_owned();
    let b = json(send(&app, Method::POST, "/nonce", Body::empty()).await).await["c_nonce"].as_str().unwrap().to_owned();
    assert_ne!(a, b);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(state.nonces.check(&a, now).is_some());
}

#[tokio::test]
async fn jwks_publishes_current_and_retired_keys_with_their_kids() {
    let (app, _) = app().await;
    let response = send(&app, Method::GET, "/jwks.json", Body::empty()).await;
    assert!(response.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("max-age"));
    let keys = json(response).await;
    assert_eq!(keys["keys"][0]["kid"], "authority-2026", "the current key first");
    assert_eq!(keys["keys"][1]["kid"], "authority-2025", "rotated-out keys stay published");
    assert!(keys["keys"][0].get("d").is_none(), "never the private part");
    shenfen_credential::PublicJwk::from_value(&keys["keys"][0]).unwrap();
}

#[tokio::test]
async fn metrics_count_requests_by_route_not_by_path() {
    let (app, _) = app().await;
    send(&app, Method::POST, "/nonce", Body::empty()).await;
    send(&app, Method::GET, "/secret-looking/440106199003071223", Body::empty()).await;
    let text = String::from_utf8(
        to_bytes(send(&app, Method::GET, "/metrics", Body::empty()).await.into_body(), 1 << 20).await.unwrap().to_vec(),
    )
    .unwrap();
    assert!(text.contains(r#"shenfen_http_requests_total{route="/nonce",status="2xx"} 1"#), "{text}");
    assert!(text.contains(r#"route="(unmatched)",status="4xx""#), "{text}");
    assert!(!text.contains("440106199003071223"), "a path must never become a label");
}

/// The router and the document come from the same declarations
/// (utoipa-axum's `routes!`); this checks what that promises: every
/// documented operation is served, and at each documented path the router
/// serves no method the document does not name.
#[tokio::test]
async fn the_router_serves_exactly_the_documented_operations() {
    let (app, _) = app().await;
    let doc = json(send(&app, Method::GET, "/openapi.json", Body::empty()).await).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 30, "{} paths", paths.len());
    for (path, operations) in paths {
        let concrete = path.replace("{list}", "1").replace("{id}", "no-such-session");
        for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let operation = &operations[method.as_str().to_lowercase()];
            let response = send(&app, method.clone(), &concrete, Body::empty()).await;
            let status = response.status();
            // A route may answer 404 for an unknown id, but with its own problem type.
            let unrouted =
                status == StatusCode::NOT_FOUND && json(response).await["type"] == "urn:shenfen:problem:not-found";
            if operation.is_null() {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is served but not documented");
            } else {
                assert!(
                    !unrouted && status != StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is documented but not served"
                );
                assert!(operation["summary"].is_string(), "{method} {path} has no summary");
            }
        }
    }
}

#[tokio::test]
async fn pages_are_served_under_a_strict_content_security_policy() {
    let (app, _) = app().await;
    for (path, script) in
        [("/wallet/", "/app/wallet.js"), ("/counter/", "/app/counter.js"), ("/console/", "/app/console.js")]
    {
        let response = send(&app, Method::GET, path, Body::empty()).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        let html = String::from_utf8(to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
        assert!(html.contains(&format!(r#"<script type="module" src="{script}">"#)), "{path}");
        let module = send(&app, Method::GET, script, Body::empty()).await;
        assert_eq!(module.headers()["content-type"], "text/javascript; charset=utf-8", "{script}");
    }
    let missing = send(&app, Method::GET, "/app/../Cargo.toml", Body::empty()).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // Without `npm ci --prefix web` the library is a script that says what to run.
    let library = send(&app, Method::GET, "/vendor/fflate.js", Body::empty()).await;
    let text = String::from_utf8(to_bytes(library.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(text.contains("npm ci --prefix web"), "{text}");
}

/// The served offline format against the checked-in fixture: what wallets
/// already in people's phones were built against (docs/CREDENTIALS.md's
/// table), not the constants the route serialises.
#[tokio::test]
async fn the_offline_format_is_the_one_wallets_were_built_against() {
    use base64::Engine;
    let (app, _) = app().await;
    let served = json(send(&app, Method::GET, "/web/offline-format.json", Body::empty()).await).await;
    let fixture: Value = serde_json::from_str(include_str!("fixtures/offline-format.json")).unwrap();
    assert_eq!(served["version"], fixture["version"]);
    assert_eq!(served["purposes"], fixture["purposes"], "purposes, audiences and claims per edition, in order");
    let dictionary = base64::engine::general_purpose::STANDARD.decode(served["dictionary"].as_str().unwrap()).unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &dictionary);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, fixture["dictionary_sha256"], "the preset dictionary every wallet packs with");
}

#[tokio::test]
async fn page_files_are_compressed_and_api_answers_are_not() {
    let (app, _) = app().await;
    let ask =
        |path: &str| Request::builder().uri(path).header(header::ACCEPT_ENCODING, "gzip").body(Body::empty()).unwrap();
    let script = app.clone().oneshot(ask("/app/wallet.js")).await.unwrap();
    assert_eq!(script.headers()[header::CONTENT_ENCODING], "gzip");
    let answer = app.clone().oneshot(ask("/jwks.json")).await.unwrap();
    assert!(
        answer.headers().get(header::CONTENT_ENCODING).is_none(),
        "secrets beside reflected input stay uncompressed"
    );
}
