//! `shenfen-bench hotel`: a hotel front desk's check-in, end to end, on one
//! core — for each guest the desk's two requests through the hotel's real
//! router in process: `POST /desk/scan` with the camera frame a desk sends
//! (a 1280×720 lossless WebP of a scene with the phone's QR in it: decoded, searched
//! by `scan_qr`), then `POST /desk/check-in` (the payload verified offline
//! against the hotel's cache, the hotel's entitlement checked and, for an
//! upgraded card, the live face — a photo of the same person — matched
//! against the signed template by the real face engine; then the register
//! entry and the replay mark written in one transaction). Beside it, in the
//! same run and guest by guest, the bare `decode_qr_payload` +
//! `verify_offline` of the same QRs. Lightweight cards (no face) and
//! upgraded ones (face) alternate and are reported apart.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clap::Args;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};
use serde_json::{Value, json};
use shenfen_credential::{
    OfflinePolicy, PrivateJwk, SdJwt, VERIFIER_ATTESTATION_PREFIX, VerifierCache, child_pointer, decode_qr_payload,
    encode_qr_payload, present, seal, verify_offline,
};
use shenfen_face::{FaceEngine, QualityPolicy};
use shenfen_services::hotel::{self, Hotel};
use shenfen_services::sealed::Sealer;

use crate::in_process_http::post;
use crate::models::Models;
use crate::timing::{now_unix, percentile};
use crate::trust::{ISSUER, issue_card, trust_cache};

const HOTEL: &str = "https://hotel.example";
/// The desk page's camera frame (`device.js` asks for 1280×720 and sends it as lossless WebP).
const FRAME: (u32, u32) = (1280, 720);
/// The phone's QR in the frame is drawn at most this many pixels wide, quiet zone included.
const QR_SIDE_MAX: u32 = 560;
/// The scene behind the phone, and the guest's registry and live photos (one person).
const SCENE_PHOTO: &str = "biden.jpg";
const REGISTRY_PHOTO: &str = "obama.jpg";
const LIVE_PHOTO: &str = "obama2.jpg";
/// Guests a desk token serves: each takes 3 of a desk's 240 frames a minute
/// (two scans, one live face), so a desk never reaches its budget, whatever the minute.
const GUESTS_PER_DESK: usize = 80;
const JSON: &str = "application/json";

#[derive(Args)]
pub(crate) struct BenchHotelArgs {
    /// Guests of each edition (each a fresh QR, its camera frame and a register entry).
    #[arg(long, default_value_t = 150, value_parser = clap::value_parser!(u64).range(10..=5000))]
    guests: u64,
    /// The services' database: postgres://… (default: a fresh SQLite file in a temporary directory).
    #[arg(long)]
    database_url: Option<String>,
    #[command(flatten)]
    models: Models,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// One edition's card, and what the desk checks of it.
struct Card {
    edition: &'static str,
    credential: SdJwt,
    holder: PrivateJwk,
    /// The pointers the wallet shows a hotel.
    shown: Vec<String>,
    /// The desk camera's frame of the guest's face, base64 JPEG (upgraded cards).
    live_face: Option<String>,
    /// The assurance level the desk answers for a valid guest.
    level: &'static str,
}

/// Each guest's times of one edition.
#[derive(Default)]
struct Timings {
    scan: Vec<Duration>,
    check_in: Vec<Duration>,
    /// Scan + check-in: the guest at the desk.
    desk: Vec<Duration>,
    bare: Vec<Duration>,
    qr_payload_bytes: usize,
}

pub(crate) fn run(args: &BenchHotelArgs) -> Result<ExitCode> {
    let n = usize::try_from(args.guests)?;
    let dir = std::env::temp_dir().join(format!("shenfen-bench-hotel-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // One core: one inference session per model (each single-threaded) and
    // one request at a time on a current-thread runtime.
    let engine = Arc::new(args.models.engine(1)?);
    let url = args.database_url.clone().unwrap_or_else(|| format!("sqlite:{}", dir.join("services.db").display()));
    let measured = tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(measure(
        n,
        &url,
        engine,
        &args.models,
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let [lightweight, upgraded] = measured?;
    let report = json!({
        "guests_per_edition": n,
        "database": if args.database_url.is_some() { "postgres" } else { "sqlite" },
        "one_core": "current-thread runtime, one request at a time; face engine with one single-threaded session per model",
        "frame": format!("{}x{} lossless WebP", FRAME.0, FRAME.1),
        "lightweight": summary(&lightweight),
        "upgraded": summary(&upgraded),
    });
    if args.json {
        println!("{report}");
    } else {
        print_table(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// Rates and quantiles of one edition's timings.
fn summary(t: &Timings) -> Value {
    let per_second = |samples: &[Duration]| {
        (100.0 * samples.len() as f64 / samples.iter().sum::<Duration>().as_secs_f64()).round() / 100.0
    };
    let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
    json!({
        "qr_payload_bytes": t.qr_payload_bytes,
        "desk_per_second": per_second(&t.desk),
        "desk_p50_ms": ms(percentile(&t.desk, 0.5)),
        "desk_p99_ms": ms(percentile(&t.desk, 0.99)),
        "scan_p50_ms": ms(percentile(&t.scan, 0.5)),
        "check_in_p50_ms": ms(percentile(&t.check_in, 0.5)),
        "bare_verify_offline_per_second": per_second(&t.bare),
        "bare_p50_ms": ms(percentile(&t.bare, 0.5)),
        "bare_p99_ms": ms(percentile(&t.bare, 0.99)),
    })
}

fn print_table(report: &Value) {
    println!(
        "hotel desk, one guest at a time on one core ({} guests per edition, {}, frames {}):",
        report["guests_per_edition"], report["database"], report["frame"]
    );
    println!("  ({})", report["one_core"].as_str().unwrap_or_default());
    for edition in ["lightweight", "upgraded"] {
        let e = &report[edition];
        println!("  {edition} card ({} byte QR payload)", e["qr_payload_bytes"]);
        println!(
            "    scan + check-in      {:>9} /s   p50 {} ms   p99 {} ms   (scan p50 {} ms, check-in p50 {} ms)",
            e["desk_per_second"], e["desk_p50_ms"], e["desk_p99_ms"], e["scan_p50_ms"], e["check_in_p50_ms"]
        );
        println!(
            "    bare verify_offline  {:>9} /s   p50 {} ms   p99 {} ms",
            e["bare_verify_offline_per_second"], e["bare_p50_ms"], e["bare_p99_ms"]
        );
    }
}

/// The desk's and the bare check's times per guest, lightweight and upgraded.
async fn measure(n: usize, url: &str, engine: Arc<FaceEngine>, models: &Models) -> Result<[Timings; 2]> {
    let db = shenfen_services::Db::open(url).await?;
    let issuer = PrivateJwk::generate()?;
    // The cards are issued and the cache synced on the wall clock: the desk checks QRs against it.
    let cache = trust_cache(&issuer, now_unix())?;
    let template = registry_template(&engine, models)?;
    let cards =
        [card(&issuer, None)?, card(&issuer, Some((&template, STANDARD.encode(models.read_photo(LIVE_PHOTO)?))))?];
    let sealer = Arc::new(Sealer::new(&[7; 32])?);
    let app =
        hotel::router(Arc::new(Hotel::with_cache(db.clone(), sealer, HOTEL, cache.clone(), Some(engine))), ISSUER);
    let scene = DynamicImage::ImageRgb8(models.decode_photo(SCENE_PHOTO)?)
        .resize_to_fill(FRAME.0, FRAME.1, FilterType::Triangle)
        .to_rgb8();
    let mut timings = [Timings::default(), Timings::default()];
    let mut desk = String::new();
    for i in 0..n {
        if i % GUESTS_PER_DESK == 0 {
            desk = hotel::add_desk(&db, &format!("bench desk {i}")).await?;
        }
        // Alternate the editions and, per guest, the bare check and the desk,
        // so drift (CPU frequency, a neighbour's load) affects all alike.
        for (card, timings) in cards.iter().zip(&mut timings) {
            guest(&app, &desk, card, &scene, &cache, timings, i).await?;
        }
    }
    db.close().await;
    Ok(timings)
}

/// One guest of `card`'s edition: a fresh QR, its bare check, then the desk's scan and check-in.
async fn guest(
    app: &axum::Router,
    desk: &str,
    card: &Card,
    scene: &RgbImage,
    cache: &VerifierCache,
    timings: &mut Timings,
    i: usize,
) -> Result<()> {
    let now = now_unix();
    let audience = format!("{VERIFIER_ATTESTATION_PREFIX}{HOTEL}");
    let shown =
        present(&card.credential, &card.shown, &card.holder.signing_key()?, &audience, &format!("qr-{i}"), now)?;
    let payload = encode_qr_payload(&shown)?;
    timings.qr_payload_bytes = payload.len();
    let qr_text = URL_SAFE_NO_PAD.encode(&payload);
    let scan = json!({ "frame": camera_frame(scene, &payload)? }).to_string();
    let mut check_in = json!({ "qr_text": qr_text, "room": "1208", "nights": 2 });
    if let Some(face) = &card.live_face {
        check_in["live_face"] = Value::from(face.as_str());
    }
    let check_in = check_in.to_string();

    let policy = OfflinePolicy {
        now,
        clock_skew_secs: 30,
        max_age_secs: 90,
        max_cache_age_secs: 24 * 3600,
        audience: &audience,
        required_claims: &["name", "age_over_18"],
    };
    let start = Instant::now();
    verify_offline(&decode_qr_payload(&payload)?, cache, &policy)?;
    timings.bare.push(start.elapsed());

    let start = Instant::now();
    let scanned = post(app, "/desk/scan", JSON, Some(desk), scan).await?;
    let scanned_at = start.elapsed();
    let answer = post(app, "/desk/check-in", JSON, Some(desk), check_in).await?;
    let desk_time = start.elapsed();
    ensure!(scanned["qr_text"] == qr_text.as_str(), "the desk did not read the {} QR: {scanned}", card.edition);
    ensure!(answer["level"] == card.level, "a valid {} guest was refused: {answer}", card.edition);
    timings.scan.push(scanned_at);
    timings.check_in.push(desk_time - scanned_at);
    timings.desk.push(desk_time);
    Ok(())
}

/// The desk camera's frame of the phone showing `payload`: the QR (black on
/// white, with its quiet zone, at a whole number of pixels per module) in the
/// middle of `scene`, as base64 lossless WebP (what the desk page sends).
fn camera_frame(scene: &RgbImage, payload: &[u8]) -> Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::L)?;
    let modules = u32::try_from(code.width())? + 8;
    let module = (QR_SIDE_MAX / modules).max(1);
    let qr = code.render::<image::Rgb<u8>>().quiet_zone(true).module_dimensions(module, module).build();
    let at = |outer: u32, inner: u32| i64::from(outer.saturating_sub(inner) / 2);
    let (x, y) = (at(scene.width(), qr.width()), at(scene.height(), qr.height()));
    let mut frame = scene.clone();
    image::imageops::overlay(&mut frame, &qr, x, y);
    let mut webp = Vec::new();
    frame.write_with_encoder(WebPEncoder::new_lossless(&mut webp))?;
    Ok(STANDARD.encode(webp))
}

/// The compact (int4) face template the authority signs into an upgraded
/// card, made from the guest's registry photo.
fn registry_template(engine: &FaceEngine, models: &Models) -> Result<String> {
    let face = engine.analyse(&models.decode_photo(REGISTRY_PHOTO)?, &QualityPolicy::default())?;
    Ok(URL_SAFE_NO_PAD.encode(engine.template(&face).compact().to_bytes()))
}

/// A card as the authority issues it for a hotel guest — lightweight, or
/// upgraded with `face`: the signed template and the guest's live frame —
/// with the ID number sealed to the police's key and the hotel's pseudonym.
fn card(issuer: &PrivateJwk, face: Option<(&str, String)>) -> Result<Card> {
    let holder = PrivateJwk::generate()?;
    let police = PrivateJwk::generate()?;
    let edition = if face.is_some() { "upgraded" } else { "lightweight" };
    let sealed = format!("{:<160}", json!({ "id_number": "110105196108040136", "name": "王建国" }));
    let mut claims = json!({
        "iss": ISSUER, "edition": edition, "name": "王建国", "id_number_masked": "110105********0136",
        "age_over_18": true, "region": "Beijing", "sealed_id_number": seal(police.public(), sealed.as_bytes())?,
        "pseudonyms": { HOTEL: "11ab".repeat(16), "https://rail.example": "9f2c".repeat(16) },
    });
    let mut disclosable: Vec<String> =
        ["/name", "/id_number_masked", "/age_over_18", "/region", "/sealed_id_number", "/pseudonyms"]
            .map(String::from)
            .to_vec();
    disclosable.extend([child_pointer("/pseudonyms", HOTEL), child_pointer("/pseudonyms", "https://rail.example")]);
    let mut shown: Vec<String> =
        ["/name", "/age_over_18", "/sealed_id_number", "/pseudonyms"].map(String::from).to_vec();
    shown.push(child_pointer("/pseudonyms", HOTEL));
    if let Some((template, _)) = face {
        claims["face_template"] = Value::from(template);
        disclosable.push("/face_template".into());
        shown.push("/face_template".into());
    }
    let vct = if face.is_some() { "urn:shenfen:id:upgraded:1" } else { "urn:shenfen:id:lightweight:1" };
    let credential = issue_card(issuer, &holder, (vct, &claims), &disclosable, now_unix())?;
    let level = if face.is_some() { "L3" } else { "L1" };
    Ok(Card { edition, credential, holder, shown, live_face: face.map(|(_, frame)| frame), level })
}
