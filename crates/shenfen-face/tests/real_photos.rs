//! The engine on real photographs: the labelled public-domain portraits that
//! the PyPI `face_recognition` sdist ships (fetched by scripts/fetch-models.sh
//! into models/photos), their degraded copies, and frames synthesised from
//! them. No recording of a real person performing liveness actions can be had
//! here, so head turns are synthesised with a cylindrical warp of a real photo
//! (a 3-D-like rotation the pose model reads as ±20–25° of yaw); blink, nod and
//! open-mouth decisions are tested on observation sequences in `challenge.rs`.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::LazyLock;

use image::{RgbImage, imageops};
use shenfen_face::{
    Action, ChallengePolicy, Degradation, FaceEngine, FaceError, FlashFrames, FramePrint, LivenessFailure, ModelConfig,
    QualityPolicy, SessionKind, Template, colours_for, decode_image, lit_by, selfie_frame, simulate, turn_head,
    turns_for,
};

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

static ENGINE: LazyLock<FaceEngine> = LazyLock::new(|| {
    FaceEngine::load(ModelConfig::standard(&models_dir()))
        .unwrap_or_else(|e| panic!("{e} — run scripts/fetch-models.sh (the README's test command does)"))
});

fn photo(name: &str) -> RgbImage {
    let path = models_dir().join("photos").join(name);
    decode_image(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// A labelled photo framed as a phone's front camera would, and where its face is.
fn framed(name: &str) -> (RgbImage, shenfen_face::BoundingBox) {
    let portrait = photo(name);
    let frame = selfie_frame(&portrait, &ENGINE.detect(&portrait).unwrap()[0].detection.bbox);
    let face = ENGINE.detect(&frame).unwrap()[0].detection.bbox;
    (frame, face)
}

fn similarity(a: &RgbImage, b: &RgbImage) -> f32 {
    let policy = QualityPolicy::default();
    let (fa, fb) = (ENGINE.analyse(a, &policy).unwrap(), ENGINE.analyse(b, &policy).unwrap());
    ENGINE.compare(&fa.embedding, &fb.embedding).similarity
}

#[test]
fn same_person_matches_and_different_people_do_not() {
    let threshold = ENGINE.match_threshold;
    for other in ["obama2.jpg", "obama3.jpg"] {
        let s = similarity(&photo("obama.jpg"), &photo(other));
        assert!(s >= threshold + 0.2, "obama vs {other}: {s}");
    }
    for obama in ["obama.jpg", "obama2.jpg", "obama3.jpg"] {
        let s = similarity(&photo(obama), &photo("biden.jpg"));
        assert!(s < threshold - 0.1, "{obama} vs biden: {s}");
    }
}

#[test]
fn degraded_copies_still_match_and_still_do_not_match_others() {
    let (reference, impostor) = (photo("obama2.jpg"), photo("biden.jpg"));
    for degradation in Degradation::STANDARD {
        let degraded = degradation.apply(&photo("obama.jpg")).unwrap();
        let genuine = similarity(&degraded, &reference);
        assert!(genuine >= ENGINE.match_threshold, "{degradation:?}: genuine {genuine}");
        let other = similarity(&degraded, &impostor);
        assert!(other < ENGINE.match_threshold, "{degradation:?}: impostor {other}");
    }
}

#[test]
fn quantised_templates_cost_little_accuracy() {
    let policy = QualityPolicy::default();
    let faces: Vec<_> =
        ["obama.jpg", "obama2.jpg", "biden.jpg"].map(|p| ENGINE.analyse(&photo(p), &policy).unwrap()).into();
    let templates: Vec<Template> = faces.iter().map(|f| ENGINE.template(f)).collect();
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        let exact = faces[i].embedding.cosine(&faces[j].embedding);
        let quantised = Template::from_bytes(&templates[i].to_bytes()).unwrap().similarity(&templates[j]).unwrap();
        assert!((exact - quantised).abs() < 0.01, "{i}-{j}: {exact} vs {quantised}");
    }
    assert!(templates[0].to_bytes().len() < 560);
}

#[test]
fn each_unusable_picture_gets_its_own_error() {
    let policy = QualityPolicy::default();
    let analyse = |image: &RgbImage| ENGINE.analyse(image, &policy).err();

    let blank = RgbImage::from_pixel(400, 400, image::Rgb([128, 128, 128]));
    assert_eq!(analyse(&blank), Some(FaceError::NoFace));

    let (a, b) = (photo("obama.jpg"), photo("biden.jpg"));
    let b = imageops::resize(
        &b,
        a.width() * b.height().min(a.height()) / b.height(),
        a.height().min(b.height()),
        imageops::FilterType::Triangle,
    );
    let mut pair = RgbImage::new(a.width() + b.width(), a.height().max(b.height()));
    imageops::replace(&mut pair, &a, 0, 0);
    imageops::replace(&mut pair, &b, i64::from(a.width()), 0);
    assert!(matches!(analyse(&pair), Some(FaceError::MultipleFaces(2))), "{:?}", analyse(&pair));

    let tiny = Degradation::Downscale(0.2).apply(&a).unwrap();
    assert!(matches!(analyse(&tiny), Some(FaceError::FaceTooSmall { .. } | FaceError::NoFace)), "{:?}", analyse(&tiny));

    let blurred = imageops::blur(&a, 9.0);
    assert!(matches!(analyse(&blurred), Some(FaceError::Blurry { .. })), "{:?}", analyse(&blurred));

    let dark = Degradation::Brightness(0.15).apply(&a).unwrap();
    assert!(matches!(analyse(&dark), Some(FaceError::BadExposure("too dark"))), "{:?}", analyse(&dark));
}

fn turned(image: &RgbImage, degrees: f32) -> RgbImage {
    turn_head(image, &ENGINE.detect(image).unwrap()[0].detection.bbox, degrees)
}

fn active_only() -> ChallengePolicy {
    ChallengePolicy { require_passive: false, require_flash: false, ..ChallengePolicy::default() }
}

#[test]
fn synthesised_head_turns_pass_the_asked_challenge() {
    let still = photo("obama.jpg");
    let frames = vec![still.clone(), turned(&still, 45.0), still.clone(), turned(&still, -45.0), still.clone()];
    let challenge = [Action::TurnLeft, Action::TurnRight];
    let report = ENGINE.liveness(&frames, &challenge, None, &QualityPolicy::default(), &active_only()).unwrap();
    let (decision, observations) = (report.decision, report.observations);
    assert!(decision.passed, "{decision:?}\n{observations:?}");
    assert_eq!(decision.steps.iter().map(|s| s.frame).collect::<Vec<_>>(), vec![Some(1), Some(3)]);
    assert!(decision.min_same_face > 0.5, "the warped frames are still recognisably the same face");
}

#[test]
fn the_same_frames_replayed_for_another_challenge_fail() {
    let still = photo("obama.jpg");
    let frames = vec![still.clone(), turned(&still, 45.0), still.clone(), turned(&still, -45.0), still.clone()];
    for challenge in
        [[Action::TurnRight, Action::TurnLeft], [Action::TurnLeft, Action::Blink], [Action::Nod, Action::TurnRight]]
    {
        let decision =
            ENGINE.liveness(&frames, &challenge, None, &QualityPolicy::default(), &active_only()).unwrap().decision;
        assert!(!decision.passed, "{challenge:?} passed on a recording made for another challenge");
    }
}

/// A still photo is refused by the active challenge itself — the asked
/// movement is never seen — not by the passive model, which the photo may
/// well pass (it stops only a quarter of simulated attacks, docs/MODELS.md).
#[test]
fn a_static_photo_fails_every_action_by_the_challenge() {
    // A frontal portrait: the neutral start passes, then nothing moves.
    let still = photo("obama3.jpg");
    let frames = vec![still.clone(), still.clone(), still.clone(), still];
    for action in Action::ALL {
        let decision =
            ENGINE.liveness(&frames, &[action], None, &QualityPolicy::default(), &active_only()).unwrap().decision;
        assert!(!decision.passed, "{action} passed on a static photo");
        assert_eq!(decision.steps[0].frame, None, "{action}: the movement was never seen");
        let reason = decision.reason.unwrap();
        assert!(reason.contains(action.as_str()) && reason.contains("not seen"), "{action}: {reason}");
    }
}

#[test]
fn a_model_whose_checksum_differs_is_refused_before_it_is_loaded() {
    // A real, loadable ONNX model in the liveness model's place: only the
    // SHA-256 check, which runs first, can tell it is the wrong file.
    let dir = std::env::temp_dir().join(format!("shenfen-swapped-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let swapped = dir.join("fr_liveness.onnx");
    std::fs::copy(models_dir().join("fr_eye.onnx"), &swapped).unwrap();
    let mut config = ModelConfig::standard(&models_dir());
    config.liveness.path = swapped;
    let refused = FaceEngine::load(config).err().expect("a swapped model must not load");
    assert_eq!(refused.code(), "face.model.load");
    assert!(refused.to_string().contains("SHA-256"), "{refused}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn another_face_mid_burst_fails() {
    let (a, b) = (photo("obama.jpg"), photo("biden.jpg"));
    let frames = vec![a.clone(), turned(&a, 45.0), b];
    let decision = ENGINE
        .liveness(&frames, &[Action::TurnLeft], None, &QualityPolicy::default(), &active_only())
        .unwrap()
        .decision;
    assert_eq!(decision.reason.as_deref(), Some("the face changed between frames"));
}

/// Sessions simulated from a real portrait, each run through the engine under
/// the default policy (passive model, head turns, colour flash): the genuine
/// one passes, and every attack a photo allows short of a print held at face
/// distance fails: the still for want of movement, the rest (a screen
/// replay too) for want of the screen's colours in order.
#[test]
fn of_the_sessions_a_photo_allows_only_the_genuine_one_passes() {
    let (frame, face) = framed("obama.jpg");
    for seed in [3, 4] {
        let (turns, colours) = (turns_for(seed), colours_for(seed));
        for kind in SessionKind::ALL.into_iter().filter(|k| *k != SessionKind::Print) {
            let session = simulate(kind, &frame, &face, &turns, &colours, seed).unwrap();
            let flash = FlashFrames { reference: &session.reference, frames: &session.flash_frames, colours: &colours };
            let report = ENGINE
                .liveness(&session.frames, &turns, Some(flash), &QualityPolicy::default(), &ChallengePolicy::default())
                .unwrap();
            let expected = match kind {
                SessionKind::Genuine => None,
                SessionKind::Still => Some(LivenessFailure::Challenge),
                _ => Some(LivenessFailure::ColourFlash),
            };
            assert_eq!(report.failure, expected, "{kind:?} seed {seed}: {:?}", report.decision.reason);
            assert_eq!(report.decision.passed, kind == SessionKind::Genuine, "{kind:?}");
        }
    }
}

/// Whatever takes on the colours must be the face that did the movements, in
/// its place: another face (an accomplice, a print of someone else) or the
/// room without a face, lit by the right colours, is refused.
#[test]
fn the_colours_must_light_the_face_that_moved() {
    let ((citizen, face), (other, other_face)) = (framed("obama.jpg"), framed("biden.jpg"));
    let (turns, colours) = (turns_for(5), colours_for(5));
    let genuine = simulate(SessionKind::Genuine, &citizen, &face, &turns, &colours, 5).unwrap();
    let accomplice = simulate(SessionKind::Genuine, &other, &other_face, &turns, &colours, 5).unwrap();
    let blank = image::RgbImage::from_pixel(citizen.width(), citizen.height(), image::Rgb([120, 110, 100]));
    let room: Vec<_> = colours.iter().map(|&c| lit_by(&blank, &face, c, 0.15, 0.0)).collect();
    for (case, reference, lit) in
        [("another face", &accomplice.reference, &accomplice.flash_frames), ("no face", &blank, &room)]
    {
        let flash = FlashFrames { reference, frames: lit, colours: &colours };
        let report = ENGINE
            .liveness(&genuine.frames, &turns, Some(flash), &QualityPolicy::default(), &ChallengePolicy::default())
            .unwrap();
        assert_eq!(report.failure, Some(LivenessFailure::ColourFlash), "{case}");
        assert!(report.decision.reason.unwrap().contains("left its place"), "{case}");
    }
}

/// The print of a face flags the same picture sent again — shaken, noised,
/// re-encoded — and no other photo, of the same person or of another.
#[test]
fn a_picture_sent_again_prints_the_same_and_another_photo_does_not() {
    let print_of = |image: &RgbImage| FramePrint::of(image, &ENGINE.detect(image).unwrap()[0].detection.bbox);
    let names = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"];
    let prints: Vec<FramePrint> = names.iter().map(|n| print_of(&framed(n).0)).collect();
    for (i, a) in prints.iter().enumerate() {
        for (j, b) in prints.iter().enumerate().skip(i + 1) {
            assert!(!a.same_picture(*b), "{} and {}: {} bits", names[i], names[j], a.distance(*b));
        }
    }
    for (name, print) in names.iter().zip(&prints) {
        let (frame, face) = framed(name);
        for seed in 1..4 {
            let again =
                &simulate(SessionKind::Genuine, &frame, &face, &[], &colours_for(seed), seed).unwrap().frames[0];
            let recompressed = Degradation::Jpeg(70).apply(again).unwrap();
            for copy in [again, &recompressed] {
                assert!(
                    print.same_picture(print_of(copy)),
                    "{name} seed {seed}: {} bits",
                    print.distance(print_of(copy))
                );
            }
        }
    }
}
