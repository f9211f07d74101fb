//! Two `shenfen serve` processes behind one public URL, on one PostgreSQL
//! database, as a load balancer would spread one citizen's requests over
//! them: every single-use item used at one is dead at the other, a QR code
//! accepted at one's counter is refused at the other's, and a limit counted
//! at both is one limit.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod server_process;

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use server_process::{fresh_postgres, get, post, post_form, shenfen, spawn_serving, stop};
use shenfen_core::Purpose;
use shenfen_credential::{PrivateJwk, SdJwt, encode_qr_payload, es256_header, present, sign_compact};

const WANG: &str = "110105196108040136";
/// The one credential issuer identifier both instances answer for.
const PUBLIC_URL: &str = "https://authority.shenfen.test";

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// One OpenID4VCI key proof for `key` with `nonce`.
fn key_proof(key: &PrivateJwk, nonce: &str) -> String {
    let mut header = es256_header("openid4vci-proof+jwt", None);
    header.insert("jwk".into(), key.public().to_value());
    let claims = json!({ "aud": PUBLIC_URL, "nonce": nonce, "iat": now() });
    sign_compact(&header, claims.as_object().unwrap(), &key.signing_key().unwrap()).unwrap()
}

#[test]
fn two_serve_processes_on_one_postgres_database_act_as_one_authority() {
    let dir = std::env::temp_dir().join(format!("shenfen-two-instances-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.as_path();
    let db = fresh_postgres("two_instances");
    let keys = json!({ "master_keys": format!("k1:{}", "5a".repeat(32)), "index_key": "6b".repeat(32) });
    std::fs::write(dir.join("keys.json"), keys.to_string()).unwrap();
    shenfen(d, &["keys", "generate", "--out", "issuer.jwk"]);
    let store = ["--db", db.as_str(), "--key-file", "keys.json"];
    let citizens = repository().join("demo/citizens.csv");
    let photos = repository().join("models/photos");
    let import = ["registry", "import", "--records", citizens.to_str().unwrap(), "--photos", photos.to_str().unwrap()];
    shenfen(d, &[&import[..], &store[..]].concat());
    let desk = shenfen(d, &[&["counter", "add", "--name", "front desk"][..], &store[..]].concat());
    let desk = desk.trim().rsplit(' ').next().unwrap().to_owned();
    let serve = [
        &["serve", "--listen", "127.0.0.1:0", "--issuer-key", "issuer.jwk", "--liveness", "passive"][..],
        &["--public-url", PUBLIC_URL],
        &store[..],
    ]
    .concat();
    let (first, a) = spawn_serving(d, &serve);
    let (second, b) = spawn_serving(d, &serve);

    // A session started at A decides once, wherever its frames arrive.
    let start = json!({ "id_number": WANG, "name": "王建国", "card_expiry": "长期" }).to_string();
    let (status, session) = post(&a, "/enrollment/sessions", &start, None);
    assert_eq!(status, 201, "{session}");
    let frames_path = format!("/enrollment/sessions/{}/frames", session["session_id"].as_str().unwrap());
    let frame = STANDARD.encode(std::fs::read(photos.join("obama2.jpg")).unwrap());
    let frames = json!({ "frames": [frame] }).to_string();
    let (status, offer) = post(&b, &frames_path, &frames, None);
    assert_eq!(status, 201, "{offer}");
    assert_eq!(post(&a, &frames_path, &frames, None).0, 422, "already decided at B");

    // The pre-authorized code redeemed at B is dead at A.
    let code = offer["credential_offer"]["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
        ["pre-authorized_code"]
        .as_str()
        .unwrap();
    let form =
        format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={code}");
    let access = post_form(&b, "/token", &form).1["access_token"].as_str().unwrap().to_owned();
    assert_eq!(post_form(&a, "/token", &form).1["error"], "invalid_grant");

    // A c_nonce from A works at B, once; the access token spent at B is dead at A.
    let holder = PrivateJwk::generate().unwrap();
    let nonce = post(&a, "/nonce", "", None).1["c_nonce"].as_str().unwrap().to_owned();
    let request = json!({ "credential_configuration_id": "shenfen_lightweight", "proofs": { "jwt": [key_proof(&holder, &nonce)] } });
    let (status, issued) = post(&b, "/credential", &request.to_string(), Some(&access));
    assert_eq!(status, 200, "{issued}");
    let fresh = post(&a, "/nonce", "", None).1;
    let again = json!({ "credential_configuration_id": "shenfen_lightweight", "proofs": { "jwt": [key_proof(&holder, fresh["c_nonce"].as_str().unwrap())] } });
    assert_eq!(post(&a, "/credential", &again.to_string(), Some(&access)).1["error"], "invalid_token");
    let credential = SdJwt::parse(issued["credentials"][0]["credential"].as_str().unwrap()).unwrap();
    let nonce = post(&b, "/nonce", "", None).1["c_nonce"].as_str().unwrap().to_owned();
    let own = present(&credential, &[], &holder.signing_key().unwrap(), PUBLIC_URL, &nonce, now()).unwrap();
    let own = json!({ "presentation": own.serialize() }).to_string();
    assert_eq!(post(&a, "/citizen/audit", &own, None).0, 200);
    let (status, replayed) = post(&b, "/citizen/audit", &own, None);
    assert_eq!(status, 401, "the nonce spent at A is dead at B: {replayed}");

    // A QR code accepted at A's counter is refused at B's.
    let pointers = ["/name".to_owned(), "/id_number_masked".to_owned()];
    let audience = Purpose::HotelCheckIn.audience();
    let shown = present(&credential, &pointers, &holder.signing_key().unwrap(), &audience, "qr", now()).unwrap();
    let qr =
        json!({ "qr_text": URL_SAFE_NO_PAD.encode(encode_qr_payload(&shown).unwrap()), "purpose": "hotel_checkin" })
            .to_string();
    let (status, verified) = post(&a, "/counter/verify", &qr, Some(&desk));
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["claims"]["name"], "王建国");
    let (status, refused) = post(&b, "/counter/verify", &qr, Some(&desk));
    assert_eq!((status, refused["code"].as_str()), (422, Some("credential.offline.replayed")));
    let (status, _) = get(&b, "/counter/cache", None);
    assert_eq!(status, 401, "and only a registered counter asks");

    // Enrollment starts per number per hour (ten) are one limit across both.
    let mut started = 1;
    for address in [&a, &b].into_iter().cycle().take(30) {
        match post(address, "/enrollment/sessions", &start, None).0 {
            201 => started += 1,
            status => {
                assert_eq!(status, 429);
                break;
            }
        }
    }
    assert_eq!(started, 10);
    stop(first);
    stop(second);
}
