//! The active liveness challenge: the server draws a random ordered sequence
//! of actions, the person performs them in front of the camera, and the engine
//! checks from the frames that they happened, in that order, by the same face.
//! This module is the decision logic only, over per-frame observations, so it
//! can be tested on exact sequences without a camera.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::FaceError;
use crate::head_pose::HeadPose;

/// One thing the person is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Turn the head to the person's left.
    TurnLeft,
    /// Turn the head to the person's right.
    TurnRight,
    /// Close both eyes briefly.
    Blink,
    /// Tilt the head down (or up) and back.
    Nod,
    /// Open the mouth.
    OpenMouth,
}

impl Action {
    /// Every action, for drawing random challenges.
    pub const ALL: [Action; 5] = [Action::TurnLeft, Action::TurnRight, Action::Blink, Action::Nod, Action::OpenMouth];

    /// The snake_case name used on the wire and in the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::TurnLeft => "turn_left",
            Action::TurnRight => "turn_right",
            Action::Blink => "blink",
            Action::Nod => "nod",
            Action::OpenMouth => "open_mouth",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = FaceError;
    fn from_str(s: &str) -> Result<Action, FaceError> {
        Action::ALL.into_iter().find(|a| a.as_str() == s.trim()).ok_or_else(|| {
            FaceError::InvalidChallenge(format!(
                "unknown action {s:?}; expected turn_left, turn_right, blink, nod or open_mouth"
            ))
        })
    }
}

/// What the engine saw in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrameObservation {
    /// Head pose.
    pub pose: HeadPose,
    /// Both eyes closed.
    pub eyes_closed: bool,
    /// Inner-lip opening over mouth width.
    pub mouth_opening: f32,
    /// Cosine similarity of this frame's face to the first frame's.
    pub same_face: f32,
    /// Passive anti-spoofing "live" probability for this frame.
    pub live_score: f32,
}

/// Thresholds and switches; which checks an edition requires is configuration
/// (a missing key keeps its default, an unknown one is refused).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChallengePolicy {
    /// Require the passive anti-spoofing model's verdict.
    pub require_passive: bool,
    /// Require the active challenge.
    pub require_active: bool,
    /// Require the colour-flash challenge (the face must take on the
    /// screen's colours in the session's order; see `flash`).
    pub require_flash: bool,
    /// Thresholds of the colour-flash check.
    pub flash: crate::flash::FlashPolicy,
    /// Mean live score needed to pass the passive check.
    pub min_live_score: f32,
    /// Yaw change from the first frame, in degrees, that counts as a turn.
    pub turn_degrees: f32,
    /// Pitch change from the first frame, in degrees, that counts as a nod.
    pub nod_degrees: f32,
    /// Mouth opening that counts as an open mouth.
    pub mouth_open: f32,
    /// The first frame must be within this yaw/pitch of frontal. 20°: the
    /// pose model reads frontal portraits at up to −16° of pitch (a camera
    /// below the eyes, as a held phone is), so 15° refused people who were
    /// doing as asked.
    pub neutral_degrees: f32,
    /// Every frame's face must be at least this similar to the first frame's.
    pub min_same_face: f32,
    /// At most this many frames are examined.
    pub max_frames: usize,
}

impl Default for ChallengePolicy {
    fn default() -> ChallengePolicy {
        ChallengePolicy {
            require_passive: true,
            require_active: true,
            require_flash: true,
            flash: crate::flash::FlashPolicy::default(),
            min_live_score: 0.5,
            turn_degrees: 15.0,
            nod_degrees: 10.0,
            mouth_open: 0.3,
            neutral_degrees: 20.0,
            min_same_face: 0.3,
            max_frames: 60,
        }
    }
}

/// Where each step of the challenge was seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepEvidence {
    /// The action asked for.
    pub action: Action,
    /// The first frame (in order, after the previous step) that shows it.
    pub frame: Option<usize>,
    /// The measurement at that frame (degrees, opening ratio, or 1 for closed eyes).
    pub value: Option<f32>,
}

/// The verdict on a burst of frames.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LivenessDecision {
    /// Whether every required check passed.
    pub passed: bool,
    /// Why not, in words a person can act on.
    pub reason: Option<String>,
    /// Per-step evidence of the active challenge.
    pub steps: Vec<StepEvidence>,
    /// Mean passive live score over the frames facing the camera as the first does.
    pub passive_score: f32,
    /// Lowest similarity of any frame's face to the first frame's.
    pub min_same_face: f32,
}

/// The mean passive live score of the frames facing the camera as the first
/// does (within the neutral angle of it): the anti-spoofing model was trained
/// on frontal faces, so a turned head is outside what it can judge, not
/// evidence of a spoof.
fn frontal_live_score(frames: &[FrameObservation], policy: &ChallengePolicy) -> f32 {
    let Some(first) = frames.first() else { return 0.0 };
    let frontal: Vec<f32> = frames
        .iter()
        .filter(|f| {
            (f.pose.yaw - first.pose.yaw).abs() <= policy.neutral_degrees
                && (f.pose.pitch - first.pose.pitch).abs() <= policy.neutral_degrees
        })
        .map(|f| f.live_score)
        .collect();
    // No frontal frame (a pose the model could not read) scores nothing, not NaN.
    if frontal.is_empty() { 0.0 } else { frontal.iter().sum::<f32>() / frontal.len() as f32 }
}

/// Checks a challenge from a series of observations.
pub fn evaluate(challenge: &[Action], frames: &[FrameObservation], policy: &ChallengePolicy) -> LivenessDecision {
    let passive_score = frontal_live_score(frames, policy);
    let min_same_face = frames.iter().map(|f| f.same_face).fold(1.0, f32::min);
    let mut steps: Vec<StepEvidence> =
        challenge.iter().map(|&action| StepEvidence { action, frame: None, value: None }).collect();
    let fail = |reason: &str, steps: Vec<StepEvidence>| LivenessDecision {
        passed: false,
        reason: Some(reason.to_owned()),
        steps,
        passive_score,
        min_same_face,
    };
    let Some(first) = frames.first() else { return fail("no frames were received", steps) };
    if frames.len() > policy.max_frames {
        return fail("too many frames; send a short burst", steps);
    }
    if min_same_face < policy.min_same_face {
        return fail("the face changed between frames", steps);
    }
    // A NaN score compares as neither: it fails rather than passes.
    let live_enough = passive_score.partial_cmp(&policy.min_live_score).is_some_and(|o| o.is_ge());
    if policy.require_passive && !live_enough {
        return fail("the face looks like a photo or a screen", steps);
    }
    if policy.require_active {
        let neutral = first.pose.yaw.abs() <= policy.neutral_degrees
            && first.pose.pitch.abs() <= policy.neutral_degrees
            && !first.eyes_closed
            && first.mouth_opening < policy.mouth_open;
        if !neutral {
            return fail("start facing the camera, eyes open, mouth closed", steps);
        }
        let mut cursor = 1;
        for step in &mut steps {
            let found = frames
                .iter()
                .enumerate()
                .skip(cursor)
                .find_map(|(i, frame)| shows(step.action, frame, first, policy).map(|value| (i, value)));
            match found {
                Some((i, value)) => {
                    step.frame = Some(i);
                    step.value = Some(value);
                    cursor = i + 1;
                }
                None => {
                    let reason = format!("the movement \"{}\" was not seen in order", step.action);
                    return fail(&reason, steps);
                }
            }
        }
    }
    LivenessDecision { passed: true, reason: None, steps, passive_score, min_same_face }
}

/// The measurement showing `action` in `frame`, relative to the first frame, if it shows.
fn shows(action: Action, frame: &FrameObservation, first: &FrameObservation, policy: &ChallengePolicy) -> Option<f32> {
    let yaw = frame.pose.yaw - first.pose.yaw;
    let pitch = frame.pose.pitch - first.pose.pitch;
    match action {
        // The person's left is the image's right on a non-mirrored camera, where yaw decreases.
        Action::TurnLeft => (yaw <= -policy.turn_degrees).then_some(yaw),
        Action::TurnRight => (yaw >= policy.turn_degrees).then_some(yaw),
        Action::Nod => (pitch.abs() >= policy.nod_degrees).then_some(pitch),
        Action::Blink => frame.eyes_closed.then_some(1.0),
        Action::OpenMouth => (frame.mouth_opening >= policy.mouth_open).then_some(frame.mouth_opening),
    }
}

/// Parses `turn_left,blink,…`, refusing empty, unknown or overlong challenges.
pub fn parse_challenge(text: &str) -> Result<Vec<Action>, FaceError> {
    let actions = text.split(',').filter(|s| !s.trim().is_empty()).map(str::parse).collect::<Result<Vec<_>, _>>()?;
    if actions.is_empty() || actions.len() > 8 {
        return Err(FaceError::InvalidChallenge(format!("a challenge has 1 to 8 actions, not {}", actions.len())));
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(yaw: f32, pitch: f32, eyes_closed: bool, mouth: f32) -> FrameObservation {
        FrameObservation {
            pose: HeadPose { yaw, pitch, roll: 0.0 },
            eyes_closed,
            mouth_opening: mouth,
            same_face: 0.9,
            live_score: 0.9,
        }
    }

    fn neutral() -> FrameObservation {
        frame(2.0, -3.0, false, 0.05)
    }

    fn performing(action: Action) -> FrameObservation {
        match action {
            Action::TurnLeft => frame(-30.0, -3.0, false, 0.05),
            Action::TurnRight => frame(30.0, -3.0, false, 0.05),
            Action::Nod => frame(2.0, -25.0, false, 0.05),
            Action::Blink => frame(2.0, -3.0, true, 0.05),
            Action::OpenMouth => frame(2.0, -3.0, false, 0.6),
        }
    }

    /// A recording of someone performing `actions` in order, returning to neutral between.
    fn recording(actions: &[Action]) -> Vec<FrameObservation> {
        let mut frames = vec![neutral(), neutral()];
        for &a in actions {
            frames.extend([performing(a), performing(a), neutral()]);
        }
        frames
    }

    #[test]
    fn the_asked_sequence_passes_with_evidence() {
        let challenge = [Action::TurnLeft, Action::Blink, Action::OpenMouth];
        let d = evaluate(&challenge, &recording(&challenge), &ChallengePolicy::default());
        assert!(d.passed, "{d:?}");
        assert_eq!(d.steps.iter().map(|s| s.frame).collect::<Vec<_>>(), vec![Some(2), Some(5), Some(8)]);
    }

    #[test]
    fn a_static_photo_fails() {
        let still = vec![neutral(); 12];
        for action in Action::ALL {
            let d = evaluate(&[action], &still, &ChallengePolicy::default());
            assert!(!d.passed, "{action}");
        }
    }

    #[test]
    fn a_recording_made_for_another_challenge_fails() {
        let recorded = recording(&[Action::TurnLeft, Action::Nod, Action::Blink]);
        let asked = [Action::Blink, Action::TurnLeft, Action::Nod];
        let d = evaluate(&asked, &recorded, &ChallengePolicy::default());
        assert!(!d.passed);
        assert_eq!(d.reason.as_deref(), Some("the movement \"turn_left\" was not seen in order"));
        let asked_right = [Action::TurnRight];
        assert!(!evaluate(&asked_right, &recorded, &ChallengePolicy::default()).passed);
    }

    #[test]
    fn a_face_swap_mid_burst_fails() {
        let challenge = [Action::TurnRight];
        let mut frames = recording(&challenge);
        frames[2].same_face = 0.05;
        let d = evaluate(&challenge, &frames, &ChallengePolicy::default());
        assert_eq!(d.reason.as_deref(), Some("the face changed between frames"));
    }

    #[test]
    fn passive_and_active_checks_are_configuration() {
        let challenge = [Action::Nod];
        let mut frames = recording(&challenge);
        for f in &mut frames {
            f.live_score = 0.1;
        }
        assert!(!evaluate(&challenge, &frames, &ChallengePolicy::default()).passed);
        let active_only =
            ChallengePolicy { require_passive: false, require_flash: false, ..ChallengePolicy::default() };
        assert!(evaluate(&challenge, &frames, &active_only).passed);
        let passive_only =
            ChallengePolicy { require_active: false, require_flash: false, ..ChallengePolicy::default() };
        assert!(!evaluate(&challenge, &frames, &passive_only).passed);
        assert!(evaluate(&challenge, &[neutral(); 3], &passive_only).passed);
    }

    #[test]
    fn the_passive_model_judges_the_frames_facing_the_camera() {
        let challenge = [Action::TurnLeft];
        let mut frames = recording(&challenge);
        for f in frames.iter_mut().filter(|f| f.pose.yaw.abs() > 15.0) {
            f.live_score = 0.0;
        }
        let d = evaluate(&challenge, &frames, &ChallengePolicy::default());
        assert!(d.passed, "turned frames are outside the model's reach: {d:?}");
        assert!((d.passive_score - 0.9).abs() < 1e-6, "{}", d.passive_score);
        let mut unreadable = frames.clone();
        unreadable.iter_mut().for_each(|f| f.live_score = f32::NAN);
        let passive_only = ChallengePolicy { require_active: false, ..ChallengePolicy::default() };
        assert!(!evaluate(&challenge, &unreadable, &passive_only).passed, "a NaN score fails");
        frames[0].live_score = 0.0;
        frames[1].live_score = 0.0;
        let d = evaluate(&challenge, &frames, &ChallengePolicy::default());
        assert_eq!(d.reason.as_deref(), Some("the face looks like a photo or a screen"), "{}", d.passive_score);
    }

    #[test]
    fn starting_mid_action_fails() {
        let mut frames = recording(&[Action::TurnLeft]);
        frames[0] = performing(Action::TurnLeft);
        assert!(!evaluate(&[Action::TurnLeft], &frames, &ChallengePolicy::default()).passed);
    }

    #[test]
    fn challenges_parse_strictly() {
        assert_eq!(parse_challenge("turn_left, blink").unwrap(), vec![Action::TurnLeft, Action::Blink]);
        assert!(parse_challenge("").is_err());
        assert!(parse_challenge("smile").is_err());
        assert!(parse_challenge(&["nod"; 9].join(",")).is_err());
    }
}
