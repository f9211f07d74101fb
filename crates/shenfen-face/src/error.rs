use thiserror::Error;

/// Every way the face engine can refuse an image, a model or a template.
///
/// Quality refusals are separate variants so a capture screen can tell the
/// person what to change ("move closer", "hold still", "more light"). Each has
/// a stable code ([`FaceError::code`]) documented in `docs/ERRORS.md`.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FaceError {
    /// The bytes are not an image of a supported format (JPEG, PNG, WebP).
    #[error("not a supported image (JPEG, PNG or WebP): {0}")]
    UnsupportedImage(String),
    /// The image is truncated or corrupt.
    #[error("the image is corrupt or truncated: {0}")]
    CorruptImage(String),
    /// The image declares more pixels than the engine will decode.
    #[error("the image is {width}×{height}, more than the {max_pixels} pixels accepted; send a smaller photo")]
    ImageTooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The cap.
        max_pixels: u64,
    },
    /// The image is too small to hold a usable face.
    #[error("the image is {width}×{height}; at least {min}×{min} pixels are needed")]
    ImageTooSmall {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// Minimum side.
        min: u32,
    },
    /// No face was found.
    #[error("no face found; face the camera in good light")]
    NoFace,
    /// More than one face was found where exactly one is required.
    #[error("{0} faces found; only the person enrolling may be in the picture")]
    MultipleFaces(usize),
    /// The face is too small in the frame.
    #[error("the face is too small ({eye_distance:.0} px between the eyes, {min:.0} needed); move closer")]
    FaceTooSmall {
        /// Measured inter-eye distance.
        eye_distance: f32,
        /// Required minimum.
        min: f32,
    },
    /// Part of the face lies outside the picture.
    #[error("the face is not entirely in the picture ({0:.0} % outside); centre it")]
    FaceCutOff(f32),
    /// The face is blurred.
    #[error("the face is blurred (sharpness {sharpness:.0}, {min:.0} needed); hold still and clean the lens")]
    Blurry {
        /// Variance of the Laplacian on the face.
        sharpness: f32,
        /// Required minimum.
        min: f32,
    },
    /// The head is turned too far from frontal.
    #[error("the head is turned too far (yaw {yaw:.0}°, pitch {pitch:.0}°); look straight at the camera")]
    BadPose {
        /// Degrees left/right.
        yaw: f32,
        /// Degrees up/down.
        pitch: f32,
    },
    /// The face is too dark or too bright.
    #[error("the face is {0}; find even lighting")]
    BadExposure(&'static str),
    /// A model file could not be loaded or does not match its checksum.
    #[error("face model {name}: {reason}")]
    Model {
        /// Which model.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// Inference failed at run time.
    #[error("face model {name} failed to run: {reason}")]
    Inference {
        /// Which model.
        name: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// A template's bytes are not a template this engine can read.
    #[error("invalid face template: {0}")]
    InvalidTemplate(String),
    /// Two templates come from different models and cannot be compared.
    #[error("templates from different models ({0} and {1}) cannot be compared")]
    TemplateMismatch(String, String),
    /// A liveness challenge is malformed (unknown action, empty, too long).
    #[error("invalid liveness challenge: {0}")]
    InvalidChallenge(String),
    /// The caller stopped waiting, so the work stopped between frames.
    #[error("the check was stopped: nobody waits for its result any more")]
    Interrupted,
}

impl FaceError {
    /// The stable, documented code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedImage(_) => "face.image.unsupported",
            Self::CorruptImage(_) => "face.image.corrupt",
            Self::ImageTooLarge { .. } => "face.image.too_large",
            Self::ImageTooSmall { .. } => "face.image.too_small",
            Self::NoFace => "face.quality.no_face",
            Self::MultipleFaces(_) => "face.quality.multiple_faces",
            Self::FaceTooSmall { .. } => "face.quality.too_small",
            Self::FaceCutOff(_) => "face.quality.cut_off",
            Self::Blurry { .. } => "face.quality.blurry",
            Self::BadPose { .. } => "face.quality.pose",
            Self::BadExposure(_) => "face.quality.exposure",
            Self::Model { .. } => "face.model.load",
            Self::Inference { .. } => "face.model.inference",
            Self::InvalidTemplate(_) => "face.template.invalid",
            Self::TemplateMismatch(..) => "face.template.mismatch",
            Self::InvalidChallenge(_) => "face.liveness.challenge",
            Self::Interrupted => "face.interrupted",
        }
    }
}
