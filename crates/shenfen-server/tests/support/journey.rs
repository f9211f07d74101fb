//! The citizen's and the relying parties' side of the HTTP tests: a
//! registered citizen with real photos, enrollment with sessions simulated
//! from them (head turns, colour flash), OpenID4VCI issuance, self-service presentations, operators,
//! relying parties, counter devices — each step as a wallet or an RP does it.

use std::io::Cursor;

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use image::RgbImage;
use serde_json::{Value, json};
use shenfen_core::OperatorRole;
use shenfen_core::{CardValidity, CitizenRecord, IdNumber};
use shenfen_credential::{Jws, child_pointer};
use shenfen_credential::{
    KeyBindingCheck, PrivateJwk, SdJwt, StatusListToken, VerifyOptions, es256_header, present, sign_compact, verify_vc,
};
use shenfen_face::{
    Action, ChallengePolicy, FlashColour, QualityPolicy, SessionKind, decode_image, selfie_frame, simulate,
};
use shenfen_server::token_hash;
use shenfen_server::{Policy, configuration_id};
use shenfen_store::{AuditEvent, ImportProgress, Operator, RegistryEntry, RelyingParty, hash_secret};

use super::{
    Backend, FACE, ISSUER_URL, TestApp, app_on, app_sealing, app_with, body_bytes, fresh_store, json as json_of, keys,
    models_dir, retired_key, send,
};

pub(crate) const LIN: &str = "440106199003071223";

pub(crate) fn photo(name: &str) -> RgbImage {
    decode_image(&std::fs::read(models_dir().join("photos").join(name)).unwrap()).unwrap()
}

/// The enrollment policy of these tests: turn challenges (the actions that can
/// be synthesised from still photos), both liveness checks on.
pub(crate) fn policy() -> Policy {
    Policy {
        challenge_actions: vec![Action::TurnLeft, Action::TurnRight],
        challenge_length: 2,
        liveness: ChallengePolicy::default(),
        ..Policy::default()
    }
}

pub(crate) async fn registered_app() -> TestApp {
    registered_app_on(Backend::Sqlite).await
}

pub(crate) async fn registered_app_on(backend: Backend) -> TestApp {
    registered_app_with(backend, policy()).await
}

/// A fresh authority under `policy` with 林晓梅 registered.
pub(crate) async fn registered_app_with(backend: Backend, policy: Policy) -> TestApp {
    let test = app_on(policy, backend).await;
    register_lin(&test.state.store).await;
    test
}

/// A fresh authority with 林晓梅 registered that seals each credential's ID
/// number to the police's `police` key (the hotels' guest register).
pub(crate) async fn registered_app_sealing_for(police: &shenfen_credential::PublicJwk) -> TestApp {
    let (store, url) = fresh_store(Backend::Sqlite).await;
    register_lin(&store).await;
    let issuer = PrivateJwk::generate().unwrap().with_kid("authority-2026");
    let sealing = |identity: shenfen_server::Issuer| identity.with_police_key(police.clone());
    app_sealing((std::sync::Arc::new(store), url), issuer, sealing)
}

/// Two instances of one authority on one database, each with its own
/// connections, caches and pool — as two `shenfen serve` behind a load
/// balancer — with 林晓梅 registered.
pub(crate) async fn registered_pair(backend: Backend) -> (TestApp, TestApp) {
    let (store, url) = fresh_store(backend).await;
    register_lin(&store).await;
    let second = shenfen_store::SqlStore::open(&url).await.unwrap();
    let issuer = PrivateJwk::generate().unwrap().with_kid("authority-2026");
    let copy = PrivateJwk::from_value(&issuer.to_value()).unwrap();
    let one = app_with((std::sync::Arc::new(store), url.clone()), copy, vec![retired_key()], policy());
    let other = app_with((std::sync::Arc::new(second), url), issuer, vec![retired_key()], policy());
    (one, other)
}

/// Puts 林晓梅's registry entry, with her photo's face template, into `store`.
pub(crate) async fn register_lin(store: &shenfen_store::SqlStore) {
    let face = FACE.analyse(&photo("obama.jpg"), &QualityPolicy::default()).unwrap();
    let id_number = IdNumber::parse(LIN).unwrap();
    let record = CitizenRecord {
        birth_date: id_number.birth_date(),
        sex: id_number.sex(),
        id_number,
        name: "林晓梅".into(),
        ethnicity: "汉".into(),
        address: "广东省广州市天河区天河路1号".into(),
        issuing_authority: "广州市公安局天河分局".into(),
        validity: CardValidity {
            from: time::macros::date!(2015 - 06 - 01),
            until: Some(time::macros::date!(2035 - 06 - 01)),
        },
        photo_ref: "obama.jpg".into(),
    };
    let sealed = RegistryEntry { record, face_template: Some(FACE.template(&face).to_bytes()) }.seal(&keys()).unwrap();
    store.put_entries(&[sealed], "test", ImportProgress::default(), 0).await.unwrap();
}

pub(crate) fn jpeg_base64(image: &RgbImage) -> String {
    encoded_base64(image, image::ImageFormat::Jpeg)
}

/// Lossless WebP, as the web wallet sends camera frames.
pub(crate) fn webp_base64(image: &RgbImage) -> String {
    encoded_base64(image, image::ImageFormat::WebP)
}

fn encoded_base64(image: &RgbImage, format: image::ImageFormat) -> String {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    STANDARD.encode(out.into_inner())
}

/// What an enrollment session asks of the camera: the actions in order, and
/// the screen colours (none when the server does not check them).
pub(crate) struct Challenge {
    pub actions: Vec<Value>,
    pub colours: Vec<FlashColour>,
}

/// The frames of a genuine session: `selfie`'s face doing the asked head
/// turns and taking on the screen's colours in order (simulated from the
/// still, `shenfen_face::simulate`).
pub(crate) fn performing(selfie: &RgbImage, challenge: &Challenge) -> Value {
    presenting(SessionKind::Genuine, selfie, challenge)
}

/// The body a wallet sends for a session of `kind` made from `selfie`,
/// framed as a phone's front camera does: the motion frames, then the flash
/// reference and one frame per colour. The capture times are as short as the
/// server allows (flash frames 100 ms apart), so that a test may submit at
/// once: the server refuses a capture longer than the session's age.
pub(crate) fn presenting(kind: SessionKind, selfie: &RgbImage, challenge: &Challenge) -> Value {
    let frame = selfie_frame(selfie, &FACE.detect(selfie).unwrap()[0].detection.bbox);
    let face = FACE.detect(&frame).unwrap()[0].detection.bbox;
    let actions: Vec<Action> = challenge.actions.iter().map(|a| a.as_str().unwrap().parse().unwrap()).collect();
    let session = simulate(kind, &frame, &face, &actions, &challenge.colours, 7).unwrap();
    let frames: Vec<String> = session.frames.iter().map(webp_base64).collect();
    let flash: Vec<String> = if challenge.colours.is_empty() {
        Vec::new()
    } else {
        std::iter::once(&session.reference).chain(&session.flash_frames).map(webp_base64).collect()
    };
    let motion_end = frames.len() as i64 * 10;
    let captured_at: Vec<i64> =
        (0..frames.len() as i64).map(|i| i * 10).chain((0..flash.len() as i64).map(|i| motion_end + i * 100)).collect();
    json!({ "frames": frames, "flash_frames": flash, "captured_at": captured_at })
}

pub(crate) async fn start(test: &TestApp, id_number: &str, name: &str) -> (String, Challenge) {
    start_edition(test, id_number, name, "lightweight").await
}

pub(crate) async fn start_edition(test: &TestApp, id_number: &str, name: &str, edition: &str) -> (String, Challenge) {
    let body =
        json!({ "id_number": id_number, "name": name, "card_expiry": "2035-06-01", "edition": edition }).to_string();
    let response = send(&test.router, Method::POST, "/enrollment/sessions", "application/json", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let session = json_of(response).await;
    let colours = session["flash"]["colours"]
        .as_array()
        .map(|c| c.iter().map(|c| c.as_str().unwrap().parse().unwrap()).collect())
        .unwrap_or_default();
    let challenge = Challenge { actions: session["challenge"].as_array().unwrap().clone(), colours };
    (session["session_id"].as_str().unwrap().to_owned(), challenge)
}

pub(crate) async fn submit(test: &TestApp, session: &str, frames: &Value) -> axum::response::Response {
    send(
        &test.router,
        Method::POST,
        &format!("/enrollment/sessions/{session}/frames"),
        "application/json",
        frames.to_string(),
    )
    .await
}

/// Enrolls and goes through token and credential endpoints; returns the credentials and holder keys.
pub(crate) async fn enroll_and_issue(test: &TestApp, batch: usize) -> Vec<(SdJwt, PrivateJwk)> {
    let (session, challenge) = start(test, LIN, "林晓梅").await;
    let offer = accepted(test, submit(test, &session, &performing(&photo("obama3.jpg"), &challenge)).await).await;
    let access = access_token(test, &pre_authorized_code(&offer), None).await.unwrap();
    issue(test, &access, "lightweight", batch).await
}

/// The offer of an accepted enrollment (panics with the audit log otherwise).
pub(crate) async fn accepted(test: &TestApp, response: axum::response::Response) -> Value {
    let status = response.status();
    let offer = json_of(response).await;
    if status != StatusCode::CREATED {
        let log = test.state.store.audit_after(0, 100).await.unwrap();
        panic!("{offer}\n{:?}", log.iter().map(|e| e.details_json.clone()).collect::<Vec<_>>());
    }
    assert_eq!(offer["credential_offer"]["credential_issuer"], ISSUER_URL);
    offer
}

pub(crate) fn pre_authorized_code(offer: &Value) -> String {
    offer["credential_offer"]["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The token endpoint's answer: the access token, or the OAuth error code.
pub(crate) async fn access_token(test: &TestApp, code: &str, tx_code: Option<&str>) -> Result<String, String> {
    let mut form =
        format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={code}");
    if let Some(tx_code) = tx_code {
        form.push_str(&format!("&tx_code={tx_code}"));
    }
    let token =
        json_of(send(&test.router, Method::POST, "/token", "application/x-www-form-urlencoded", form.clone()).await)
            .await;
    let Some(access) = token["access_token"].as_str() else { return Err(token["error"].as_str().unwrap().to_owned()) };
    let replayed =
        json_of(send(&test.router, Method::POST, "/token", "application/x-www-form-urlencoded", form).await).await;
    assert_eq!(replayed["error"], "invalid_grant", "a pre-authorized code works once");
    Ok(access.to_owned())
}

/// A batch of credentials of `edition` for fresh holder keys.
pub(crate) async fn issue(test: &TestApp, access: &str, edition: &str, batch: usize) -> Vec<(SdJwt, PrivateJwk)> {
    let c_nonce = fresh_c_nonce(test).await;
    let holders: Vec<PrivateJwk> = (0..batch).map(|_| PrivateJwk::generate().unwrap()).collect();
    let (status, issued) = credential_request(test, access, edition, &holders, &c_nonce).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    let (_, again) = credential_request(test, access, edition, &holders, &fresh_c_nonce(test).await).await;
    assert_eq!(again["error"], "invalid_token", "an access token works once");
    issued["credentials"]
        .as_array()
        .unwrap_or_else(|| panic!("{issued}"))
        .iter()
        .zip(holders)
        .map(|(c, h)| (SdJwt::parse(c["credential"].as_str().unwrap()).unwrap(), h))
        .collect()
}

/// A `c_nonce` from the nonce endpoint.
pub(crate) async fn fresh_c_nonce(test: &TestApp) -> String {
    json_of(send(&test.router, Method::POST, "/nonce", "application/json", "").await).await["c_nonce"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `POST /credential` with one key proof per holder key, all carrying `c_nonce`.
pub(crate) async fn credential_request(
    test: &TestApp,
    access: &str,
    edition: &str,
    holders: &[PrivateJwk],
    c_nonce: &str,
) -> (StatusCode, Value) {
    let proofs: Vec<String> = holders
        .iter()
        .map(|h| {
            let mut header = es256_header("openid4vci-proof+jwt", None);
            header.insert("jwk".into(), h.public().to_value());
            let claims = json!({ "aud": ISSUER_URL, "nonce": c_nonce, "iat": now() });
            sign_compact(&header, claims.as_object().unwrap(), &h.signing_key().unwrap()).unwrap()
        })
        .collect();
    let request = json!({ "credential_configuration_id": configuration_id(edition.parse().unwrap()), "proofs": { "jwt": proofs } });
    let response = send_bearer(test, Method::POST, "/credential", access, request).await;
    (response.status(), json_of(response).await)
}

pub(crate) async fn published_status(test: &TestApp) -> StatusListToken {
    let response = send(&test.router, Method::GET, "/status/1", "text/plain", "").await;
    assert_eq!(response.headers()["content-type"], "application/statuslist+jwt");
    let jwt = String::from_utf8(body_bytes(response).await).unwrap();
    StatusListToken::verify(&jwt, &test.issuer.public().verifying_key().unwrap(), now(), 60).unwrap()
}

/// The audit entries about the registered citizen: what they may read themselves.
pub(crate) async fn own_log(test: &TestApp) -> Vec<shenfen_store::AuditEntry> {
    let subject = shenfen_store::BlindIndex::of(&keys(), &IdNumber::parse(LIN).unwrap());
    test.state.store.audit_of(&subject, 0, 1000).await.unwrap()
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

pub(crate) fn verified_claims(
    test: &TestApp,
    credential: &SdJwt,
    holder: &PrivateJwk,
    status: &StatusListToken,
) -> Result<Value, String> {
    let presentation = present(
        credential,
        &["/age_over_18".into()],
        &holder.signing_key().unwrap(),
        "https://hotel.example",
        "n-1",
        now(),
    )
    .unwrap();
    let options = VerifyOptions {
        now: now(),
        clock_skew_secs: 60,
        expected_typ: None,
        key_binding: Some(KeyBindingCheck { audience: "https://hotel.example", nonce: "n-1", max_age_secs: 300 }),
    };
    let vc = verify_vc(&presentation, &test.issuer.public().verifying_key().unwrap(), &options)
        .map_err(|e| e.to_string())?;
    status.require_valid(vc.status.as_ref().unwrap()).map_err(|e| e.to_string())?;
    Ok(Value::Object(vc.claims))
}

/// A key-bound presentation disclosing nothing, for the authority itself.
pub(crate) async fn self_presentation(test: &TestApp, credential: &SdJwt, holder: &PrivateJwk) -> String {
    let nonce_response = send(&test.router, Method::POST, "/nonce", "application/json", "").await;
    let c_nonce = json_of(nonce_response).await["c_nonce"].as_str().unwrap().to_owned();
    present(credential, &[], &holder.signing_key().unwrap(), ISSUER_URL, &c_nonce, now()).unwrap().serialize()
}

pub(crate) async fn send_bearer(
    test: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
) -> axum::response::Response {
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    test.router.clone().oneshot(request).await.unwrap()
}

/// The audit event of something a test sets up directly in the store.
fn setup_event(kind: &str) -> AuditEvent {
    AuditEvent { at: now(), kind: kind.into(), actor: "test".into(), subject: None, details: json!({}) }
}

/// Creates an operator with a password and signs them in; returns the session token.
pub(crate) async fn signed_in_operator(test: &TestApp, username: &str, role: OperatorRole) -> String {
    let password = format!("{username}-correct horse");
    let operator = Operator {
        username: username.into(),
        password_hash: hash_secret(&password).unwrap(),
        role,
        disabled: false,
        created_at: now(),
    };
    test.state.store.put_operator(&operator, setup_event("operator.saved")).await.unwrap();
    let login = json!({ "username": username, "password": password }).to_string();
    let session = json_of(send(&test.router, Method::POST, "/operator/login", "application/json", login).await).await;
    assert_eq!(session["role"], role.as_str());
    session["token"].as_str().unwrap().to_owned()
}

/// A counter clerk attests the citizen; the citizen enrolls in the upgraded
/// edition with PIN 482915. Returns the offer and the slip's code.
pub(crate) async fn attested_offer(test: &TestApp, selfie: &RgbImage) -> (Value, String) {
    let clerk = signed_in_operator(test, "wang.counter", OperatorRole::Counter).await;
    let body = json!({ "id_number": LIN, "method": "counter" });
    let response = send_bearer(test, Method::POST, "/operator/attestations", &clerk, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let tx_code = json_of(response).await["tx_code"].as_str().unwrap().to_owned();
    let (session, challenge) = start_edition(test, LIN, "林晓梅", "upgraded").await;
    let frames = with_pin(performing(selfie, &challenge), "482915");
    (accepted(test, submit(test, &session, &frames).await).await, tx_code)
}

/// A phone of the upgraded edition: attested at a counter, enrolled with PIN
/// 482915 and the face of obama3.jpg, `copies` credentials issued.
pub(crate) async fn upgraded_phone(test: &TestApp, copies: usize) -> Vec<(SdJwt, PrivateJwk)> {
    let (offer, tx_code) = attested_offer(test, &photo("obama3.jpg")).await;
    let access = access_token(test, &pre_authorized_code(&offer), Some(&tx_code)).await.unwrap();
    issue(test, &access, "upgraded", copies).await
}

pub(crate) fn with_pin(mut frames: Value, pin: &str) -> Value {
    frames["pin"] = json!(pin);
    frames
}

pub(crate) async fn pin_check(
    test: &TestApp,
    credential: &SdJwt,
    holder: &PrivateJwk,
    pin: &str,
) -> axum::response::Response {
    let body = json!({ "presentation": self_presentation(test, credential, holder).await, "pin": pin }).to_string();
    send(&test.router, Method::POST, "/citizen/pin", "application/json", body).await
}

pub(crate) async fn register_relying_party(test: &TestApp, client_id: &str, name: &str, claims: &[&str]) -> String {
    let api_key = format!("key-of-{name}");
    let party = RelyingParty {
        client_id: client_id.into(),
        name: name.into(),
        claims: claims.iter().map(|c| (*c).to_owned()).collect(),
        api_key_hash: token_hash(&api_key),
        created_at: now(),
        openid: None,
    };
    test.state.store.put_relying_party(&party, setup_event("rp.saved")).await.unwrap();
    api_key
}

/// A relying party's request, and the request object the wallet fetches.
pub(crate) async fn ask(
    test: &TestApp,
    client_id: &str,
    api_key: &str,
    claims: &[&str],
) -> (String, serde_json::Map<String, Value>) {
    ask_at(test, client_id, api_key, claims, "L1").await
}

pub(crate) async fn ask_at(
    test: &TestApp,
    client_id: &str,
    api_key: &str,
    claims: &[&str],
    level: &str,
) -> (String, serde_json::Map<String, Value>) {
    let body = json!({ "client_id": client_id, "claims": claims, "purpose": "check-in", "level": level });
    let created = json_of(send_bearer(test, Method::POST, "/verifier/requests", api_key, body).await).await;
    let id = created["request_id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    assert!(created["authorization_request"].as_str().unwrap().starts_with("openid4vp://?client_id="));
    let response = send(&test.router, Method::GET, &format!("/verifier/requests/{id}/object"), "text/plain", "").await;
    assert_eq!(response.headers()["content-type"], "application/oauth-authz-req+jwt");
    let jwt = String::from_utf8(body_bytes(response).await).unwrap();
    let jws = Jws::parse(&jwt, "request object").unwrap();
    jws.verify(&test.issuer.public().verifying_key().unwrap()).unwrap();
    (id, jws.payload().clone())
}

/// The wallet's direct_post answer with `credential`, disclosing the asked claims.
pub(crate) async fn answer(
    test: &TestApp,
    id: &str,
    object: &serde_json::Map<String, Value>,
    held: &(SdJwt, PrivateJwk),
    nonce: Option<&str>,
) -> StatusCode {
    answer_with(test, id, object, held, nonce, None).await
}

/// As [`answer`], with an assurance assertion.
pub(crate) async fn answer_with(
    test: &TestApp,
    id: &str,
    object: &serde_json::Map<String, Value>,
    held: &(SdJwt, PrivateJwk),
    nonce: Option<&str>,
    assurance: Option<&str>,
) -> StatusCode {
    let pointers: Vec<String> = object["dcql_query"]["credentials"][0]["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["path"].as_array().unwrap().iter().fold(String::new(), |p, n| child_pointer(&p, n.as_str().unwrap()))
        })
        .collect();
    let client_id = object["client_id"].as_str().unwrap();
    let nonce = nonce.unwrap_or(object["nonce"].as_str().unwrap());
    let presentation = present(&held.0, &pointers, &held.1.signing_key().unwrap(), client_id, nonce, now()).unwrap();
    let vp_token = json!({ "shenfen_id": [presentation.serialize()] }).to_string();
    let mut form = vec![("vp_token", vp_token.as_str()), ("state", object["state"].as_str().unwrap())];
    if let Some(assurance) = assurance {
        form.push(("assurance", assurance));
    }
    let form = serde_urlencoded::to_string(form).unwrap();
    let path = format!("/verifier/requests/{id}/response");
    send(&test.router, Method::POST, &path, "application/x-www-form-urlencoded", form).await.status()
}

pub(crate) async fn outcome(test: &TestApp, id: &str, client_id: &str, api_key: &str) -> (StatusCode, Value) {
    let path = format!("/verifier/requests/{id}?client_id={}", urlencode(client_id));
    let response = send_bearer(test, Method::GET, &path, api_key, json!({})).await;
    let status = response.status();
    (status, json_of(response).await)
}

pub(crate) fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("v", text)]).unwrap().trim_start_matches("v=").to_owned()
}

/// The wallet's assurance assertion for one request: the PIN (and live frames for L3).
pub(crate) async fn assurance(
    test: &TestApp,
    held: &(SdJwt, PrivateJwk),
    object: &serde_json::Map<String, Value>,
    frames: &[String],
) -> (StatusCode, Value) {
    let body = json!({
        "presentation": self_presentation(test, &held.0, &held.1).await,
        "pin": "482915",
        "audience": object["client_id"],
        "nonce": object["nonce"],
        "frames": frames,
    });
    let response = send(&test.router, Method::POST, "/citizen/assertion", "application/json", body.to_string()).await;
    let status = response.status();
    (status, json_of(response).await)
}

/// A hotel check-in QR payload (base64url) made from `credential` the way a wallet makes it.
pub(crate) fn hotel_qr_text(credential: &SdJwt, holder: &PrivateJwk, iat: i64) -> String {
    let pointers = ["/name".to_owned(), "/id_number_masked".to_owned()];
    let audience = shenfen_core::Purpose::HotelCheckIn.audience();
    let presentation = present(credential, &pointers, &holder.signing_key().unwrap(), &audience, "n-1", iat).unwrap();
    URL_SAFE_NO_PAD.encode(shenfen_credential::encode_qr_payload(&presentation).unwrap())
}

/// `POST /counter/verify` from the counter device holding `device`.
pub(crate) async fn counter_verify(test: &TestApp, device: &str, body: Value) -> (StatusCode, Value) {
    let response = send_bearer(test, Method::POST, "/counter/verify", device, body).await;
    (response.status(), json_of(response).await)
}

/// Registers a counter device (a hotel's front desk) and returns its token.
pub(crate) async fn counter_device(test: &TestApp, name: &str) -> String {
    let token = format!("counter-device-{name}-{}", now());
    let event = setup_event("counter.registered");
    test.state.store.put_counter_device(&token_hash(&token), name, now(), event).await.unwrap();
    token
}
