//! The relying party's verifier end to end, in process: an authority (keys,
//! a credential, its status list), a relying party with an attestation, and
//! a wallet answering over HTTP — with every refusal the verifier owes.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use serde_json::{Map, Value, json};
use shenfen_credential::{
    CachedStatusList, Jws, PrivateJwk, SdJwt, StatusList, StatusListToken, StatusReference, TrustedIssuer, VcIssuance,
    VerifierAttestation, VerifierCache, child_pointer, issue_vc, present,
};
use shenfen_verifier::{Verifier, VerifierConfig, response_uri, router};
use tower::ServiceExt;

const AUTHORITY: &str = "https://id.gd.example";
const RP: &str = "https://rail.example";
const PUBLIC_URL: &str = "https://verify.rail.example";
const API_KEY: &str = "backend-secret";
const NOW: i64 = 1_800_000_000;

/// A second handle on a private key (private keys are not `Clone`, so none is copied by accident).
fn copy(key: &PrivateJwk) -> PrivateJwk {
    PrivateJwk::from_value(&key.to_value()).unwrap()
}

struct World {
    authority: PrivateJwk,
    holder: PrivateJwk,
    credential: SdJwt,
    clock: Arc<AtomicI64>,
    app: Router,
}

fn status_list(authority: &PrivateJwk, revoked: bool) -> String {
    let mut list = StatusList::new(1024, 1).unwrap();
    list.set(7, u8::from(revoked)).unwrap();
    let token =
        StatusListToken { subject: format!("{AUTHORITY}/status/1"), issued_at: NOW, expires_at: None, ttl: None, list };
    token.sign(&authority.signing_key().unwrap(), Some("a1")).unwrap()
}

fn cache(authority: &PrivateJwk, revoked: bool) -> VerifierCache {
    VerifierCache {
        synced_at: NOW,
        trusted_until: None,
        issuers: vec![TrustedIssuer { issuer: AUTHORITY.into(), keys: vec![authority.public().to_value()] }],
        status_lists: vec![CachedStatusList {
            uri: format!("{AUTHORITY}/status/1"),
            token: status_list(authority, revoked),
        }],
    }
}

fn attestation(authority: &PrivateJwk, rp: &PrivateJwk, claims: &[&str]) -> String {
    VerifierAttestation {
        issuer: AUTHORITY.into(),
        client_id: RP.into(),
        name: "Rail Example".into(),
        claims: claims.iter().map(|c| (*c).to_owned()).collect(),
        redirect_uris: vec![response_uri(PUBLIC_URL)],
        key: rp.public().clone(),
        issued_at: NOW,
        expires_at: NOW + 86_400,
    }
    .sign(&authority.signing_key().unwrap(), Some("a1"))
    .unwrap()
}

fn world(revoked: bool) -> World {
    let authority = PrivateJwk::generate().unwrap().with_kid("a1");
    let holder = PrivateJwk::generate().unwrap();
    let rp = PrivateJwk::generate().unwrap();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(AUTHORITY));
    claims.insert("name".into(), json!("王建国"));
    claims.insert("age_over_18".into(), json!(true));
    claims.insert("id_number_masked".into(), json!("110105********0136"));
    claims.insert("edition".into(), json!("lightweight"));
    claims.insert("pseudonyms".into(), json!({ RP: "pairwise-rail" }));
    let status = StatusReference { uri: format!("{AUTHORITY}/status/1"), idx: 7 };
    let mut disclosable: Vec<String> =
        ["/name", "/age_over_18", "/id_number_masked", "/pseudonyms"].iter().map(|p| (*p).to_owned()).collect();
    disclosable.push(child_pointer("/pseudonyms", RP));
    let credential = issue_vc(
        &authority.signing_key().unwrap(),
        claims,
        &VcIssuance {
            vct: "urn:shenfen:id:lightweight:1",
            holder: holder.public(),
            issued_at: NOW - 100,
            expires_at: NOW + 86_400,
            status: Some(&status),
            kid: Some("a1"),
            disclosable: &disclosable,
            max_decoys: 0,
        },
    )
    .unwrap();
    let clock = Arc::new(AtomicI64::new(NOW));
    let ticking = clock.clone();
    let config = VerifierConfig {
        public_url: PUBLIC_URL.into(),
        key: copy(&rp),
        attestation: attestation(&authority, &rp, &["name", "age_over_18"]),
        api_key: API_KEY.into(),
        max_cache_age_secs: 3_600,
        capacity: 8,
    };
    let verifier =
        Verifier::new(config, cache(&authority, revoked), Arc::new(move || ticking.load(Ordering::SeqCst))).unwrap();
    World { authority, holder, credential, clock, app: router(Arc::new(verifier)) }
}

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, Value, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

fn backend(method: &str, path: &str, body: Option<Value>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {API_KEY}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap()
}

/// Creates a request for `claims`; answers its id.
async fn ask(world: &World, claims: &[&str]) -> String {
    let (status, body, text) = call(
        &world.app,
        backend("POST", "/openid4vp/requests", Some(json!({ "claims": claims, "purpose": "ticket" }))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    body["request_id"].as_str().unwrap().to_owned()
}

/// The request object's claims, as a wallet reads them (checked against the attestation's key).
async fn request_object(world: &World, id: &str) -> Map<String, Value> {
    let get = Request::get(format!("/openid4vp/requests/{id}")).body(Body::empty()).unwrap();
    let (status, _, jwt) = call(&world.app, get).await;
    assert_eq!(status, StatusCode::OK, "{jwt}");
    let jws = Jws::parse(&jwt, "request object").unwrap();
    let attestation = jws.header()["jwt"].as_str().unwrap();
    let attested = VerifierAttestation::verify(attestation, &[world.authority.public().to_value()], NOW, 60).unwrap();
    jws.verify(&attested.key.verifying_key().unwrap()).unwrap();
    jws.payload().clone()
}

/// The wallet's presentation of `pointers`, bound to `audience` and `nonce`.
fn presentation(world: &World, pointers: &[&str], audience: &str, nonce: &str) -> String {
    let pointers: Vec<String> = pointers.iter().map(|p| (*p).to_owned()).collect();
    let signer = world.holder.signing_key().unwrap();
    present(&world.credential, &pointers, &signer, audience, nonce, world.clock.load(Ordering::SeqCst))
        .unwrap()
        .serialize()
}

async fn post_answer(world: &World, state: &str, presentation: &str) -> (StatusCode, Value) {
    let vp_token = json!({ "shenfen_id": [presentation] }).to_string();
    let form = serde_urlencoded::to_string([("vp_token", vp_token.as_str()), ("state", state)]).unwrap();
    let post = Request::post("/openid4vp/response")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, AUTHORITY)
        .body(Body::from(form))
        .unwrap();
    let (status, body, _) = call(&world.app, post).await;
    (status, body)
}

async fn read(world: &World, id: &str) -> (StatusCode, Value) {
    let (status, body, _) = call(&world.app, backend("GET", &format!("/openid4vp/requests/{id}/outcome"), None)).await;
    (status, body)
}

const AUDIENCE: &str = "verifier_attestation:https://rail.example";

#[tokio::test]
async fn a_bound_answer_is_verified_once_and_read_once() {
    let world = world(false);
    let id = ask(&world, &["name"]).await;
    assert_eq!(read(&world, &id).await.1["status"], "pending");
    let object = request_object(&world, &id).await;
    assert_eq!(object["client_id"], AUDIENCE);
    assert_eq!(object["response_uri"], "https://verify.rail.example/openid4vp/response");
    assert_eq!(object["dcql_query"]["credentials"][0]["claims"][1]["path"], json!(["pseudonyms", RP]));
    let nonce = object["nonce"].as_str().unwrap();
    let answer = presentation(&world, &["/name", &child_pointer("/pseudonyms", RP)], AUDIENCE, nonce);
    assert_eq!(post_answer(&world, &id, &answer).await, (StatusCode::OK, json!({})));
    let (status, outcome) = read(&world, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(outcome["status"], "verified", "{outcome}");
    assert_eq!(outcome["result"]["claims"], json!({ "name": "王建国" }));
    assert_eq!(outcome["result"]["pseudonym"], "pairwise-rail");
    assert_eq!(outcome["result"]["level"], "L1");
    assert_eq!(read(&world, &id).await.0, StatusCode::NOT_FOUND, "read once");
    let (replayed, error) = post_answer(&world, &id, &answer).await;
    assert_eq!(replayed, StatusCode::BAD_REQUEST, "a replayed answer is refused: {error}");
}

#[tokio::test]
async fn answers_not_bound_to_this_request_are_refused_and_leave_it_open() {
    let world = world(false);
    let id = ask(&world, &["name"]).await;
    let nonce = request_object(&world, &id).await["nonce"].as_str().unwrap().to_owned();
    let cases = [
        (presentation(&world, &["/name"], AUDIENCE, "another-nonce"), "credential.kb.nonce"),
        (presentation(&world, &["/name"], "https://rail.example", &nonce), "credential.kb.audience"),
        (
            presentation(&world, &["/name"], "verifier_attestation:https://other.example", &nonce),
            "credential.kb.audience",
        ),
    ];
    for (answer, code) in cases {
        let (status, error) = post_answer(&world, &id, &answer).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(error["error_description"].as_str().unwrap().contains(code), "{error}");
    }
    // A credential signed by a key the authority does not publish.
    let bound = presentation(&world, &["/name"], AUDIENCE, &nonce);
    let (head, rest) = bound.split_once('.').unwrap();
    let (payload, tail) = rest.split_once('.').unwrap();
    let forged = format!("{head}.{payload}.{}", tail.replacen(|c: char| c.is_ascii_alphanumeric(), "A", 3));
    let (status, error) = post_answer(&world, &id, &forged).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(post_answer(&world, &id, "not an sd-jwt").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(read(&world, &id).await.1["status"], "pending", "none of them closed the request");
}

#[tokio::test]
async fn a_revoked_credential_is_refused_for_good() {
    let world = world(true);
    let id = ask(&world, &["name"]).await;
    let nonce = request_object(&world, &id).await["nonce"].as_str().unwrap().to_owned();
    let (status, error) = post_answer(&world, &id, &presentation(&world, &["/name"], AUDIENCE, &nonce)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error_description"].as_str().unwrap().contains("credential.status.revoked"), "{error}");
    let (_, outcome) = read(&world, &id).await;
    assert_eq!(outcome["status"], "refused");
    assert!(outcome["result"]["error"].as_str().unwrap().contains("credential.status.revoked"));
}

#[tokio::test]
async fn expired_requests_and_stale_caches_answer_nothing() {
    let world = world(false);
    let id = ask(&world, &["name"]).await;
    let nonce = request_object(&world, &id).await["nonce"].as_str().unwrap().to_owned();
    let answer = presentation(&world, &["/name"], AUDIENCE, &nonce);
    world.clock.fetch_add(301, Ordering::SeqCst);
    assert_eq!(post_answer(&world, &id, &answer).await.0, StatusCode::BAD_REQUEST, "expired");
    assert_eq!(read(&world, &id).await.0, StatusCode::NOT_FOUND);
    world.clock.fetch_add(3_600, Ordering::SeqCst);
    let (status, body, _) =
        call(&world.app, backend("POST", "/openid4vp/requests", Some(json!({ "claims": ["name"], "purpose": "t" }))))
            .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "a cache past its age verifies nothing: {body}");
    assert_eq!(body["type"], "urn:shenfen:problem:unavailable");
}

#[tokio::test]
async fn the_backend_asks_only_within_the_attestation_at_l1_with_its_key() {
    let world = world(false);
    let ask_for = |body: Value| backend("POST", "/openid4vp/requests", Some(body));
    let cases = [
        (json!({ "claims": ["record/id_number"], "purpose": "t" }), StatusCode::FORBIDDEN, "not-entitled"),
        (
            json!({ "claims": ["name"], "purpose": "t", "level": "L3" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "level-unavailable",
        ),
        (json!({ "claims": ["name"], "purpose": "t", "level": "L9" }), StatusCode::BAD_REQUEST, "invalid-request"),
        (json!({ "claims": [], "purpose": "t" }), StatusCode::BAD_REQUEST, "invalid-request"),
        (
            json!({ "claims": ["name"], "purpose": "t", "questions": ["age_over_18"] }),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
    ];
    for (body, expected, kind) in cases {
        let (status, problem, text) = call(&world.app, ask_for(body)).await;
        assert_eq!(status, expected, "{text}");
        assert_eq!(problem["type"], format!("urn:shenfen:problem:{kind}"));
    }
    let anonymous =
        Request::post("/openid4vp/requests").body(Body::from(r#"{"claims":["name"],"purpose":"t"}"#)).unwrap();
    assert_eq!(call(&world.app, anonymous).await.0, StatusCode::UNAUTHORIZED);
    let big = "x".repeat(shenfen_verifier::BODY_LIMIT + 1);
    let (status, problem, _) = call(&world.app, ask_for(json!({ "claims": ["name"], "purpose": big }))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    let oversize = Request::post("/openid4vp/response")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("state=x&vp_token={big}")))
        .unwrap();
    assert_eq!(call(&world.app, oversize).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    for _ in 0..8 {
        ask(&world, &["name"]).await;
    }
    let (status, problem, _) = call(&world.app, ask_for(json!({ "claims": ["name"], "purpose": "t" }))).await;
    assert_eq!((status, problem["type"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("urn:shenfen:problem:busy")));
}

#[tokio::test]
async fn the_wallet_page_of_a_trusted_authority_may_call_across_origins() {
    let world = world(false);
    let id = ask(&world, &["name"]).await;
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/openid4vp/response")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = world.app.clone().oneshot(preflight(AUTHORITY)).await.unwrap();
    assert_eq!(allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], AUTHORITY);
    let other = world.app.clone().oneshot(preflight("https://evil.example")).await.unwrap();
    assert!(other.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let get = Request::get(format!("/openid4vp/requests/{id}"))
        .header(header::ORIGIN, AUTHORITY)
        .body(Body::empty())
        .unwrap();
    let response = world.app.clone().oneshot(get).await.unwrap();
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], AUTHORITY);
}

#[test]
fn a_verifier_refuses_an_attestation_for_another_key_or_response_uri() {
    let authority = PrivateJwk::generate().unwrap().with_kid("a1");
    let rp = PrivateJwk::generate().unwrap();
    let config = |key: &PrivateJwk, public_url: &str| VerifierConfig {
        public_url: public_url.into(),
        key: copy(key),
        attestation: attestation(&authority, &rp, &["name"]),
        api_key: API_KEY.into(),
        max_cache_age_secs: 3_600,
        capacity: 8,
    };
    let clock: shenfen_verifier::Clock = Arc::new(|| NOW);
    let other_key = PrivateJwk::generate().unwrap();
    let refused = Verifier::new(config(&other_key, PUBLIC_URL), cache(&authority, false), clock.clone()).err().unwrap();
    assert_eq!(refused.code(), "verifier.config");
    let elsewhere = Verifier::new(config(&rp, "https://elsewhere.example"), cache(&authority, false), clock.clone());
    assert_eq!(elsewhere.err().unwrap().code(), "verifier.config");
    let stranger = PrivateJwk::generate().unwrap().with_kid("a1");
    let untrusted = Verifier::new(config(&rp, PUBLIC_URL), cache(&stranger, false), clock.clone()).err().unwrap();
    assert_eq!(untrusted.code(), "credential.signature");
    assert!(Verifier::new(config(&rp, PUBLIC_URL), cache(&authority, false), clock).is_ok());
}
