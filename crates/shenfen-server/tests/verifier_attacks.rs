//! "Verified" means what it says, over HTTP: a relying party cannot narrow a
//! claim down with yes/no questions, whoever reads a request link cannot close
//! the request with an answer (only decline it, as the wallet's error response
//! allows), and a QR whose signature was malleated is still a replay at the
//! counter.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use shenfen_credential::Jws;
use support::journey::*;
use support::{body_bytes, json as json_of, send};

/// The order n of P-256, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa,
    0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The QR payload with its key binding JWT's signature s replaced by n − s:
/// a second valid signature anyone can compute from the first.
fn malleated(qr_text: &str) -> String {
    let presentation =
        shenfen_credential::decode_qr_payload(&URL_SAFE_NO_PAD.decode(qr_text).unwrap()).unwrap().serialize();
    let (signed, signature) = presentation.rsplit_once('.').unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut v = i16::from(ORDER[i]) - i16::from(raw[32 + i]) - borrow;
        borrow = i16::from(v < 0);
        if v < 0 {
            v += 256;
        }
        raw[32 + i] = v as u8;
    }
    let twin = shenfen_credential::SdJwt::parse(&format!("{signed}.{}", URL_SAFE_NO_PAD.encode(raw))).unwrap();
    URL_SAFE_NO_PAD.encode(shenfen_credential::encode_qr_payload(&twin).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malleated_qr_is_a_replay_at_the_counter() {
    let test = registered_app().await;
    let desk = counter_device(&test, "front desk").await;
    let held = enroll_and_issue(&test, 1).await;
    let qr = hotel_qr_text(&held[0].0, &held[0].1, now());
    let twin = malleated(&qr);
    assert_ne!(twin, qr, "other bytes");
    let body = |qr: &str| json!({ "qr_text": qr, "purpose": "hotel_checkin" });
    assert_eq!(counter_verify(&test, &desk, body(&qr)).await.0, StatusCode::OK);
    for (case, qr) in [("the same QR", qr.as_str()), ("its malleated twin", twin.as_str())] {
        let (status, problem) = counter_verify(&test, &desk, body(qr)).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("credential.offline.replayed")),
            "{case}"
        );
    }
}

async fn ask_questions(test: &support::TestApp, key: &str, questions: &[&str]) -> (StatusCode, Value) {
    let body = json!({ "client_id": "https://bar.example", "questions": questions, "purpose": "age and home town" });
    let response = send_bearer(test, Method::POST, "/verifier/requests", key, body).await;
    (response.status(), json_of(response).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yes_no_questions_cannot_add_up_to_the_claim_and_are_signed_into_the_request() {
    let test = registered_app().await;
    let key = register_relying_party(&test, "https://bar.example", "Bar", &["is:region", "is:age_over_18"]).await;
    let provinces = [
        "Beijing",
        "Tianjin",
        "Hebei",
        "Shanxi",
        "Inner Mongolia",
        "Liaoning",
        "Jilin",
        "Heilongjiang",
        "Shanghai",
        "Jiangsu",
        "Zhejiang",
        "Anhui",
        "Fujian",
        "Jiangxi",
        "Shandong",
        "Henan",
        "Hubei",
        "Hunan",
        "Guangdong",
        "Guangxi",
        "Hainan",
        "Chongqing",
        "Sichuan",
        "Guizhou",
        "Yunnan",
        "Tibet",
        "Shaanxi",
        "Gansu",
        "Qinghai",
        "Ningxia",
        "Xinjiang",
    ];
    let every_region: Vec<String> = provinces.iter().map(|p| format!("region={p}")).collect();
    let every_region: Vec<&str> = every_region.iter().map(String::as_str).collect();
    assert_eq!(every_region.len(), 31);
    for asked in [&every_region[..], &every_region[..2], &["age_over_18", "age_over_18"][..]] {
        let (status, problem) = ask_questions(&test, &key, asked).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{asked:?}: {problem}");
        assert_eq!(problem["type"], "urn:shenfen:problem:invalid-request");
    }
    let (status, created) = ask_questions(&test, &key, &["region=Guangdong", "age_over_18"]).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let object = send(
        &test.router,
        Method::GET,
        &format!("/verifier/requests/{}/object", created["request_id"].as_str().unwrap()),
        "",
        "",
    )
    .await;
    let jwt = String::from_utf8(body_bytes(object).await).unwrap();
    let signed = Jws::parse(&jwt, "request object").unwrap();
    signed.verify(&test.issuer.public().verifying_key().unwrap()).unwrap();
    assert_eq!(
        signed.payload()["questions"],
        json!(["region=Guangdong", "age_over_18"]),
        "the wallet shows what is signed"
    );
}

/// A hotel's pending request for 林晓梅's name, who holds `batch` credentials.
struct Asked {
    test: support::TestApp,
    /// The hotel's API key.
    key: String,
    held: Vec<(shenfen_credential::SdJwt, shenfen_credential::PrivateJwk)>,
    id: String,
    /// The signed request object, as anyone with the link reads it.
    object: serde_json::Map<String, Value>,
    /// Where the wallet answers.
    path: String,
}

async fn hotel_asks(batch: usize) -> Asked {
    let test = registered_app().await;
    let key = register_relying_party(&test, "https://hotel.example", "Hotel", &["name"]).await;
    let held = enroll_and_issue(&test, batch).await;
    let (id, object) = ask(&test, "https://hotel.example", &key, &["name"]).await;
    let path = format!("/verifier/requests/{id}/response");
    Asked { test, key, held, id, object, path }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_posted_with_the_public_state_leaves_the_request_open() {
    let Asked { test, key, held, id, object, path } = hotel_asks(2).await;
    // Anyone with the link reads the request object, state included, and posts junk with it.
    let state = object["state"].as_str().unwrap();
    for junk in [
        format!("vp_token=%7B%7D&state={state}"),
        format!("vp_token=not-json&state={state}"),
        format!("vp_token=%7B%22shenfen_id%22%3A%5B%22a~b~%22%5D%7D&state={state}"),
    ] {
        let response = send(&test.router, Method::POST, &path, "application/x-www-form-urlencoded", junk.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{junk}");
    }
    // Another citizen's presentation made for another request: not bound to this nonce either.
    assert_eq!(answer(&test, &id, &object, &held[1], Some("someone else's nonce")).await, StatusCode::BAD_REQUEST);
    assert_eq!(outcome(&test, &id, "https://hotel.example", &key).await.1["status"], "pending", "still open");
    assert_eq!(answer(&test, &id, &object, &held[0], None).await, StatusCode::OK, "the real wallet answers");
    let (_, read) = outcome(&test, &id, "https://hotel.example", &key).await;
    assert_eq!(
        (read["status"].as_str(), read["result"]["claims"]["name"].as_str()),
        (Some("verified"), Some("林晓梅"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_with_the_request_state_closes_it_as_refused_at_once() {
    let Asked { test, key, held, id, object, path } = hotel_asks(1).await;
    let state = object["state"].as_str().unwrap();
    let post = async |form: String| {
        let response = send(&test.router, Method::POST, &path, "application/x-www-form-urlencoded", form).await;
        (response.status(), json_of(response).await)
    };
    for (case, form) in [
        ("another state", "error=access_denied&state=guessed".to_owned()),
        ("no state", "error=access_denied".to_owned()),
        ("another error", format!("error=invalid_request&state={state}")),
    ] {
        let (status, body) = post(form).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{case}");
    }
    assert_eq!(outcome(&test, &id, "https://hotel.example", &key).await.1["status"], "pending", "still open");

    // OpenID4VP 1.0 §8.5: the wallet's error response, with the request's state.
    let (status, body) = post(format!("error=access_denied&state={state}")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    assert_eq!(answer(&test, &id, &object, &held[0], None).await, StatusCode::BAD_REQUEST, "declined is final");
    let (_, read) = outcome(&test, &id, "https://hotel.example", &key).await;
    assert_eq!((read["status"].as_str(), read["result"]["error"].as_str()), (Some("refused"), Some("access_denied")));
    assert!(read["result"].get("claims").is_none(), "nothing shared: {read}");
}

/// An upgraded credential whose signed face template was made by another
/// face model than the counter runs: comparing them would be meaningless, so
/// an L3 check refuses it with its own code rather than a mismatch.
#[test]
fn an_l3_counter_refuses_a_template_of_another_face_model() {
    use shenfen_credential::{
        CachedStatusList, PrivateJwk, StatusList, StatusListToken, StatusReference, TrustedIssuer, VcIssuance,
        VerifierCache, encode_qr_payload, issue_vc, present,
    };
    use shenfen_server::{CounterPolicy, LiveFace, check_offline_qr};
    let now = now();
    let issuer = PrivateJwk::generate().unwrap().with_kid("k-1");
    let holder = PrivateJwk::generate().unwrap();
    let selfie = photo("obama3.jpg");
    let face = support::FACE.analyse(&selfie, &shenfen_face::QualityPolicy::default()).unwrap();
    let foreign = shenfen_face::Template::quantise(&face.embedding, "another-model-0000").compact();
    let claims = json!({
        "iss": "https://a.shenfen.test", "edition": "upgraded", "name": "林晓梅", "id_number_masked": "440106********1223",
        "face_template": URL_SAFE_NO_PAD.encode(foreign.to_bytes()),
    });
    let status = StatusReference { uri: "https://a.shenfen.test/status/1".into(), idx: 5 };
    let disclosable: Vec<String> = ["/name", "/id_number_masked", "/face_template"].map(String::from).to_vec();
    let params = VcIssuance {
        vct: "urn:shenfen:id:upgraded:1",
        holder: holder.public(),
        issued_at: now - 60,
        expires_at: now + 86_400,
        status: Some(&status),
        kid: Some("k-1"),
        disclosable: &disclosable,
        max_decoys: 0,
    };
    let credential = issue_vc(&issuer.signing_key().unwrap(), claims.as_object().unwrap().clone(), &params).unwrap();
    let audience = shenfen_core::Purpose::HotelCheckIn.audience();
    let qr = present(&credential, &disclosable, &holder.signing_key().unwrap(), &audience, "n", now).unwrap();
    let list = StatusListToken {
        subject: status.uri.clone(),
        issued_at: now - 10,
        expires_at: Some(now + 3600),
        ttl: Some(300),
        list: StatusList::new(1024, 2).unwrap(),
    };
    let cache = VerifierCache {
        synced_at: now - 10,
        trusted_until: None,
        issuers: vec![TrustedIssuer {
            issuer: "https://a.shenfen.test".into(),
            keys: vec![issuer.public().to_value()],
        }],
        status_lists: vec![CachedStatusList {
            uri: status.uri.clone(),
            token: list.sign(&issuer.signing_key().unwrap(), Some("k-1")).unwrap(),
        }],
    };
    let policy = CounterPolicy {
        purpose: shenfen_core::Purpose::HotelCheckIn,
        level: shenfen_core::AssuranceLevel::L3,
        now,
        max_qr_age_secs: 90,
        max_cache_age_secs: 86_400,
    };
    let live = LiveFace { engine: &support::FACE, image: &selfie };
    let refused =
        check_offline_qr(&encode_qr_payload(&qr).unwrap(), &cache, &policy, Some(live), |_| false).err().unwrap();
    assert_eq!(refused.code(), "counter.face_model", "{refused}");
    assert!(refused.to_string().contains("another-model-0000"), "{refused}");
}
