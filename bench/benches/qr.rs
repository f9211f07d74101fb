//! The offline QR path (divan): packing a hotel check-in presentation of the
//! upgraded edition (name, masked number, 283-byte signed face template),
//! rendering it as a QR image, finding and decoding it in that image, and
//! unpacking it — beside the in-process verification of the same
//! presentation, the work a counter cannot avoid (the baseline). And the
//! counter page's scan of a 1280×720 camera frame (`shenfen_server::scan_qr`,
//! which retries other scales when the detector finds nothing), with the code
//! in it and without (the worst case: every scale tried).
//!
//! Run: `cargo bench -p shenfen-bench --bench qr`

// Benchmark setup may panic: a broken fixture must stop the run, not be measured.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use divan::Bencher;
use shenfen_credential::{
    CachedStatusList, KeyBindingCheck, OfflinePolicy, PrivateJwk, SdJwt, StatusList, StatusListToken, StatusReference,
    TrustedIssuer, VcIssuance, VerifierCache, VerifyOptions, decode_qr_payload, encode_qr_payload, issue_vc, present,
    verify_offline, verify_vc,
};

fn main() {
    divan::main();
}

const NOW: i64 = 1_800_000_000;
const AUD: &str = "urn:shenfen:offline:hotel_checkin";

struct Fixture {
    issuer: PrivateJwk,
    presentation: SdJwt,
    payload: Vec<u8>,
    image: image::GrayImage,
    cache: VerifierCache,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let issuer = PrivateJwk::generate().unwrap();
    let holder = PrivateJwk::generate().unwrap();
    // A 283-byte int4 template's worth of bytes, as an upgraded credential carries.
    let template: Vec<u8> = (0..283u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let claims = serde_json::json!({
        "iss": "https://authority.gd.shenfen.example", "edition": "upgraded", "name": "王建国",
        "id_number_masked": "110105********0136", "age_over_18": true, "region": "Beijing",
        "face_template": URL_SAFE_NO_PAD.encode(&template),
        "record": { "id_number": "110105196108040136", "address": "北京市朝阳区建国路88号" },
    });
    let disclosable: Vec<String> = [
        "/name",
        "/id_number_masked",
        "/age_over_18",
        "/region",
        "/face_template",
        "/record",
        "/record/id_number",
        "/record/address",
    ]
    .map(String::from)
    .to_vec();
    let status = StatusReference { uri: "https://authority.gd.shenfen.example/status/1".into(), idx: 82_923 };
    let params = VcIssuance {
        vct: "urn:shenfen:id:upgraded:1",
        holder: holder.public(),
        issued_at: NOW,
        expires_at: NOW + 30 * 86_400,
        status: Some(&status),
        kid: Some("k-2026"),
        disclosable: &disclosable,
        max_decoys: 0,
    };
    let credential = issue_vc(&issuer.signing_key().unwrap(), claims.as_object().unwrap().clone(), &params).unwrap();
    let shown = ["/name", "/id_number_masked", "/face_template"].map(String::from);
    let presentation = present(&credential, &shown, &holder.signing_key().unwrap(), AUD, "bench-nonce-1", NOW).unwrap();
    let payload = encode_qr_payload(&presentation).unwrap();
    let image = qrcode::QrCode::with_error_correction_level(&payload, qrcode::EcLevel::L)
        .unwrap()
        .render::<image::Luma<u8>>()
        .module_dimensions(8, 8)
        .build();
    eprintln!(
        "hotel check-in (upgraded) payload: {} bytes; compact serialization: {} bytes",
        payload.len(),
        presentation.serialize().len()
    );
    // A counter's cache: the issuer's key and its 131,072-entry status list.
    let mut list = StatusList::new(1 << 17, 2).unwrap();
    list.set(7, 1).unwrap();
    let token = StatusListToken {
        subject: status.uri.clone(),
        issued_at: NOW,
        expires_at: Some(NOW + 86_400),
        ttl: Some(300),
        list,
    }
    .sign(&issuer.signing_key().unwrap(), Some("k-2026"))
    .unwrap();
    let cache = VerifierCache {
        synced_at: NOW,
        trusted_until: None,
        issuers: vec![TrustedIssuer {
            issuer: "https://authority.gd.shenfen.example".into(),
            keys: vec![issuer.public().clone().with_kid("k-2026").to_value()],
        }],
        status_lists: vec![CachedStatusList { uri: status.uri.clone(), token }],
    };
    Fixture { issuer, presentation, payload, image, cache }
});

#[divan::bench]
fn verify_in_process_baseline(bencher: Bencher) {
    let fixture = &*FIXTURE;
    let key = fixture.issuer.public().verifying_key().unwrap();
    let options = VerifyOptions {
        now: NOW,
        clock_skew_secs: 60,
        expected_typ: None,
        key_binding: Some(KeyBindingCheck { audience: AUD, nonce: "bench-nonce-1", max_age_secs: 90 }),
    };
    bencher.bench(|| verify_vc(black_box(&fixture.presentation), &key, &options).unwrap());
}

/// What `shenfen verify --qr-text` does with a payload: unpack, then the whole
/// offline check (trusted issuer, signature, key binding, purpose claims, the
/// cached status list verified and consulted).
#[divan::bench]
fn verify_offline_from_payload(bencher: Bencher) {
    let fixture = &*FIXTURE;
    let policy = OfflinePolicy {
        now: NOW,
        clock_skew_secs: 30,
        max_age_secs: 90,
        max_cache_age_secs: 86_400,
        audience: AUD,
        required_claims: &["name", "id_number_masked"],
    };
    bencher.bench(|| {
        let presentation = decode_qr_payload(black_box(&fixture.payload)).unwrap();
        verify_offline(&presentation, &fixture.cache, &policy).unwrap()
    });
}

#[divan::bench]
fn encode_payload(bencher: Bencher) {
    bencher.bench(|| encode_qr_payload(black_box(&FIXTURE.presentation)).unwrap());
}

#[divan::bench]
fn decode_payload(bencher: Bencher) {
    bencher.bench(|| decode_qr_payload(black_box(&FIXTURE.payload)).unwrap());
}

#[divan::bench]
fn render_qr_image(bencher: Bencher) {
    bencher.bench(|| {
        qrcode::QrCode::with_error_correction_level(black_box(&FIXTURE.payload), qrcode::EcLevel::L)
            .unwrap()
            .render::<image::Luma<u8>>()
            .module_dimensions(8, 8)
            .build()
    });
}

#[divan::bench]
fn scan_qr_image(bencher: Bencher) {
    bencher.bench(|| {
        let mut prepared = rqrr::PreparedImage::prepare(black_box(FIXTURE.image.clone()));
        let grid = prepared.detect_grids().into_iter().next().unwrap();
        let mut out = Vec::new();
        grid.decode_to(&mut out).unwrap();
        out
    });
}

/// A 1280×720 counter camera frame: the code at its own size on the left, grey "scenery" on the right.
fn counter_frame(with_code: bool) -> image::GrayImage {
    let mut frame = image::GrayImage::from_fn(1280, 720, |x, y| {
        image::Luma([if x < 700 { 255 } else { ((x ^ y) % 97 + 80) as u8 }])
    });
    if with_code {
        let code = qrcode::QrCode::with_error_correction_level(&FIXTURE.payload, qrcode::EcLevel::L)
            .unwrap()
            .render::<image::Luma<u8>>()
            .module_dimensions(4, 4)
            .build();
        image::imageops::overlay(&mut frame, &code, 20, 20);
    }
    frame
}

#[divan::bench(args = [true, false])]
fn scan_counter_frame(bencher: Bencher, with_code: bool) {
    let frame = counter_frame(with_code);
    bencher.bench(|| shenfen_server::scan_qr(black_box(frame.clone())).map(|scanned| scanned.is_ok()));
}
