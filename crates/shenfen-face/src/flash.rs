//! The colour-flash challenge: while the camera films, the phone's screen
//! lights the face in a random sequence of colours, and the frames must show
//! the face — more than what is behind it — taking on each colour in turn.
//!
//! A face 30 cm from a bright screen reflects its light; a still photo, a
//! warped still or a video of another session does not change with this
//! session's colours, a screen replay emits rather than reflects, and a print
//! filling the frame reflects the colour everywhere alike, face and surround.
//! A print held at face distance with the room visible around it does take
//! on the colours as a face would: the flash check does not stop it; the
//! motion challenge and the passive model are what stand against prints.
//! What the check reads is the **relative** change of the face's mean colour
//! against a reference frame taken without flash, minus the same change of
//! the background (so a tinted whole frame, or a change of room light, cancels
//! out). The decision logic is pure; the server derives the sequence from
//! the session's nonce and feeds it the frames.

use std::fmt;
use std::str::FromStr;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::FaceError;
use crate::geometry::BoundingBox;

/// The palette the screen paints: far apart in colour, so a response is
/// told apart from the next one even through a camera's white balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlashColour {
    /// Full red.
    Red,
    /// Full green.
    Green,
    /// Full blue.
    Blue,
    /// Red and green together.
    Yellow,
}

impl FlashColour {
    /// The palette.
    pub const ALL: [FlashColour; 4] = [FlashColour::Red, FlashColour::Green, FlashColour::Blue, FlashColour::Yellow];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FlashColour::Red => "red",
            FlashColour::Green => "green",
            FlashColour::Blue => "blue",
            FlashColour::Yellow => "yellow",
        }
    }

    /// The light it adds, per RGB channel: what a lit face's relative change points along.
    pub fn light(self) -> [f32; 3] {
        match self {
            FlashColour::Red => [1.0, 0.0, 0.0],
            FlashColour::Green => [0.0, 1.0, 0.0],
            FlashColour::Blue => [0.0, 0.0, 1.0],
            FlashColour::Yellow => [1.0, 1.0, 0.0],
        }
    }
}

impl fmt::Display for FlashColour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FlashColour {
    type Err = FaceError;
    fn from_str(s: &str) -> Result<FlashColour, FaceError> {
        FlashColour::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim())
            .ok_or_else(|| FaceError::InvalidChallenge(format!("unknown flash colour {s:?}")))
    }
}

/// How many colours a sequence has: 5 from a palette of 4 with no colour twice
/// in a row gives 4 × 3⁴ = 324 sequences, so a recording of another session,
/// played back through the camera, matches this one's by chance once in 324
/// tries. (A client posting its own frames can pick them out of order from
/// any recording that shows all four colours: pixels alone cannot stop that,
/// docs/SECURITY.md.)
pub const FLASH_STEPS: usize = 5;

/// The colour sequence of a session, derived from random bytes the caller
/// draws from the session (an HMAC of its id, say): no colour twice in a
/// row, so consecutive responses are told apart.
pub fn flash_sequence(seed: &[u8]) -> Vec<FlashColour> {
    let mut colours: Vec<FlashColour> = Vec::with_capacity(FLASH_STEPS);
    for &byte in seed.iter().cycle().take(seed.len().max(1) * 4) {
        if colours.len() == FLASH_STEPS {
            break;
        }
        let choices: Vec<FlashColour> = FlashColour::ALL.into_iter().filter(|c| colours.last() != Some(c)).collect();
        // 252 = 3 × 84 = 4 × 63: a byte below it is unbiased for 3 or 4 choices.
        if byte < 252 {
            colours.push(choices[usize::from(byte) % choices.len()]);
        }
    }
    colours
}

/// Parses `red,green,…`.
pub fn parse_flash(text: &str) -> Result<Vec<FlashColour>, FaceError> {
    text.split(',').filter(|s| !s.trim().is_empty()).map(str::parse).collect()
}

/// The mean colour of the face and of the background in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Lighting {
    /// Mean RGB of the inner face (cheeks, nose, forehead: no hair, no background).
    pub face: [f32; 3],
    /// Mean RGB of the frame's four corners, away from the face.
    pub background: [f32; 3],
}

/// How a frame is lit, measured in the inner box of `face` (the face found in
/// the challenge's first frame) and in the frame's corners.
pub fn lighting(image: &RgbImage, face: &BoundingBox) -> Result<Lighting, FaceError> {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let inner = BoundingBox {
        x1: face.x1 + 0.25 * face.width(),
        x2: face.x2 - 0.25 * face.width(),
        y1: face.y1 + 0.2 * face.height(),
        y2: face.y2 - 0.2 * face.height(),
    };
    let face = mean_rgb(image, |x, y| inner.contains(x, y));
    let corner = (0.15 * w, 0.15 * h);
    let background = mean_rgb(image, |x, y| (x < corner.0 || x > w - corner.0) && (y < corner.1 || y > h - corner.1));
    match (face, background) {
        (Some(face), Some(background)) => Ok(Lighting { face, background }),
        _ => Err(FaceError::NoFace),
    }
}

/// Mean RGB of the pixels `inside` selects, sampled every other pixel.
fn mean_rgb(image: &RgbImage, inside: impl Fn(f32, f32) -> bool) -> Option<[f32; 3]> {
    let (mut sum, mut n) = ([0f64; 3], 0u64);
    for (x, y, pixel) in image.enumerate_pixels().filter(|(x, y, _)| x % 2 == 0 && y % 2 == 0) {
        if inside(x as f32, y as f32) {
            for (s, v) in sum.iter_mut().zip(pixel.0) {
                *s += f64::from(v);
            }
            n += 1;
        }
    }
    (n > 0).then(|| sum.map(|s| (s / n as f64) as f32))
}

/// Thresholds of the flash check (calibrated with `shenfen face pad-eval`,
/// docs/MODELS.md); configuration, like the policy that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlashPolicy {
    /// Smallest response counted as a colour: the face's relative change,
    /// beyond the background's, as a vector length (0.04 = 4 %).
    pub min_response: f32,
    /// How closely a response must point along the colour's light (cosine).
    pub min_alignment: f32,
}

impl Default for FlashPolicy {
    fn default() -> FlashPolicy {
        FlashPolicy { min_response: 0.04, min_alignment: 0.85 }
    }
}

/// What one flash frame showed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FlashResponse {
    /// The colour asked for.
    pub asked: FlashColour,
    /// The colour the face took on, if any clearly.
    pub seen: Option<FlashColour>,
    /// How strongly (vector length of the relative change).
    pub strength: f32,
}

/// The verdict on the flash frames.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlashDecision {
    /// Whether every step showed its colour.
    pub passed: bool,
    /// Why not, in words a person can act on.
    pub reason: Option<String>,
    /// Per step.
    pub responses: Vec<FlashResponse>,
}

/// The face's relative change from `reference` to `frame`, beyond the
/// background's, per channel.
fn response(reference: &Lighting, frame: &Lighting) -> [f32; 3] {
    let relative = |now: f32, before: f32| now / before.max(8.0) - 1.0;
    std::array::from_fn(|c| {
        relative(frame.face[c], reference.face[c]) - relative(frame.background[c], reference.background[c])
    })
}

/// The palette colour a response points along, if it is strong and clear enough.
pub fn classify(reference: &Lighting, frame: &Lighting, policy: &FlashPolicy) -> (Option<FlashColour>, f32) {
    let r = response(reference, frame);
    let strength = r.iter().map(|v| v * v).sum::<f32>().sqrt();
    if strength < policy.min_response {
        return (None, strength);
    }
    let alignment = |colour: FlashColour| {
        let light = colour.light();
        let norm = light.iter().map(|v| v * v).sum::<f32>().sqrt();
        r.iter().zip(light).map(|(a, b)| a * b).sum::<f32>() / (strength * norm)
    };
    let best = FlashColour::ALL.into_iter().max_by(|a, b| alignment(*a).total_cmp(&alignment(*b)));
    (best.filter(|c| alignment(*c) >= policy.min_alignment), strength)
}

/// Checks one frame per step against the asked colours, each against the
/// reference frame taken just before the flash.
pub fn evaluate_flash(
    reference: &Lighting,
    frames: &[Lighting],
    asked: &[FlashColour],
    policy: &FlashPolicy,
) -> FlashDecision {
    let responses: Vec<FlashResponse> = asked
        .iter()
        .zip(frames)
        .map(|(&asked, frame)| {
            let (seen, strength) = classify(reference, frame, policy);
            FlashResponse { asked, seen, strength }
        })
        .collect();
    let reason = if frames.len() != asked.len() {
        Some(format!("send one frame per screen colour ({}), not {}", asked.len(), frames.len()))
    } else if responses.iter().all(|r| r.seen.is_none()) {
        Some("the face did not take on the screen's colours; hold the phone close, facing the screen".to_owned())
    } else if responses.iter().any(|r| r.seen != Some(r.asked)) {
        Some("the face did not follow the screen's colours in order".to_owned())
    } else {
        None
    };
    FlashDecision { passed: reason.is_none(), reason, responses }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(face: [f32; 3], background: [f32; 3]) -> Lighting {
        Lighting { face, background }
    }

    const ROOM: [f32; 3] = [120.0, 100.0, 90.0];
    const WALL: [f32; 3] = [200.0, 200.0, 190.0];

    /// The face lit by `colour` at `strength`, the wall behind barely.
    fn flashed(colour: FlashColour, strength: f32) -> Lighting {
        let light = colour.light();
        lit(
            std::array::from_fn(|c| ROOM[c] * (1.0 + strength * light[c])),
            std::array::from_fn(|c| WALL[c] * (1.0 + 0.1 * strength * light[c])),
        )
    }

    #[test]
    fn sequences_are_five_colours_never_twice_in_a_row_and_follow_the_seed() {
        for seed in [[0u8; 32], [251; 32], [7; 32], std::array::from_fn(|i| (i * 37 % 256) as u8)] {
            let colours = flash_sequence(&seed);
            assert_eq!(colours.len(), FLASH_STEPS, "{seed:?}");
            assert!(colours.windows(2).all(|w| w[0] != w[1]), "{colours:?}");
            assert_eq!(flash_sequence(&seed), colours, "the same seed, the same sequence");
        }
        assert_ne!(flash_sequence(&[1; 32]), flash_sequence(&[2; 32]));
        let text = flash_sequence(&[9; 32]).iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",");
        assert_eq!(parse_flash(&text).unwrap(), flash_sequence(&[9; 32]));
        assert!(parse_flash("red,purple").is_err());
    }

    #[test]
    fn a_face_following_the_colours_passes_and_anything_else_fails_with_its_reason() {
        let asked = [FlashColour::Red, FlashColour::Blue, FlashColour::Yellow, FlashColour::Green, FlashColour::Red];
        let reference = lit(ROOM, WALL);
        let policy = FlashPolicy::default();
        let genuine: Vec<Lighting> = asked.iter().map(|&c| flashed(c, 0.12)).collect();
        assert!(evaluate_flash(&reference, &genuine, &asked, &policy).passed);

        let still = vec![reference; 5];
        let refused = evaluate_flash(&reference, &still, &asked, &policy);
        assert!(!refused.passed && refused.reason.unwrap().contains("did not take on"));

        let mut wrong_order = genuine.clone();
        wrong_order.swap(0, 1);
        let refused = evaluate_flash(&reference, &wrong_order, &asked, &policy);
        assert!(!refused.passed && refused.reason.unwrap().contains("in order"));

        // The whole frame tinted alike (a print filling it, or a filter): face and surround cancel out.
        let tinted: Vec<Lighting> = asked
            .iter()
            .map(|c| {
                let l = c.light();
                lit(
                    std::array::from_fn(|i| ROOM[i] * (1.0 + 0.12 * l[i])),
                    std::array::from_fn(|i| WALL[i] * (1.0 + 0.12 * l[i])),
                )
            })
            .collect();
        assert!(!evaluate_flash(&reference, &tinted, &asked, &policy).passed);

        assert!(!evaluate_flash(&reference, &genuine[..4], &asked, &policy).passed, "a frame short");
        let faint: Vec<Lighting> = asked.iter().map(|&c| flashed(c, 0.02)).collect();
        assert!(!evaluate_flash(&reference, &faint, &asked, &policy).passed, "below the response threshold");
    }

    #[test]
    fn lighting_reads_the_inner_face_and_the_corners() {
        let mut image = RgbImage::from_pixel(200, 200, image::Rgb([10, 20, 30]));
        for y in 60..140 {
            for x in 60..140 {
                image.put_pixel(x, y, image::Rgb([200, 150, 100]));
            }
        }
        let measured = lighting(&image, &BoundingBox { x1: 60.0, y1: 60.0, x2: 140.0, y2: 140.0 }).unwrap();
        assert_eq!(measured.face, [200.0, 150.0, 100.0]);
        assert_eq!(measured.background, [10.0, 20.0, 30.0]);
    }
}
