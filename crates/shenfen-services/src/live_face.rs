//! An upgraded card's live face at a service's device (a hotel's desk, a
//! railway's gate): the face template the authority signed into the
//! credential at enrollment, against the face the device's camera sees now,
//! with the same engine and threshold as the authority's own checks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use image::RgbImage;
use shenfen_credential::VerifiedVc;
use shenfen_face::{FaceEngine, QualityPolicy, Template};

use crate::error::{ProblemType, Refusal};

/// The claim carrying the signed template (an upgraded card's).
const FACE_TEMPLATE: &str = "face_template";
/// The lightweight edition's `vct` (as shenfen-server's `issuance::vct`
/// makes it): the one edition whose card carries no face to check.
const LIGHTWEIGHT_VCT: &str = "urn:shenfen:id:lightweight:1";

/// The signed face template a device must match for this card: none for the
/// lightweight edition; for any other (failing closed) the template the QR
/// discloses — withheld, the QR is refused: an upgraded card's holder cannot
/// pass as a lightweight one by leaving their face out.
pub(crate) fn template_to_match(vc: &VerifiedVc) -> Result<Option<&str>, Refusal> {
    if vc.vct == LIGHTWEIGHT_VCT {
        return Ok(None);
    }
    match vc.claims.get(FACE_TEMPLATE).and_then(serde_json::Value::as_str) {
        Some(template) => Ok(Some(template)),
        None => Err(Refusal::new(ProblemType::FaceRequired, "an upgraded card's QR shows its face template")),
    }
}

/// The signed template (`face_template`, base64url, made by the authority
/// at enrollment) against the face on the device's camera `image`.
pub(crate) fn matches(template: &str, engine: &FaceEngine, image: &RgbImage) -> Result<(), Refusal> {
    let unusable = |detail: String| Refusal::new(ProblemType::FaceMismatch, detail);
    let bytes = URL_SAFE_NO_PAD.decode(template).map_err(|_| unusable("the face template is not base64url".into()))?;
    let signed = Template::from_bytes(&bytes).map_err(|e| unusable(e.to_string()))?;
    if signed.model_id() != engine.embedder_id() {
        return Err(unusable(format!(
            "the template was made by {}, this device runs another model",
            signed.model_id()
        )));
    }
    let face = engine
        .analyse(image, &QualityPolicy::default())
        .map_err(|e| Refusal::new(ProblemType::FaceUnusable, format!("{e}: look straight at the camera")))?;
    let similarity = signed.similarity_to_live(&face.embedding).map_err(|e| unusable(e.to_string()))?;
    if similarity < engine.match_threshold {
        return Err(unusable(format!(
            "the face at the camera is not the card's ({similarity:.3} < {:.3})",
            engine.match_threshold
        )));
    }
    Ok(())
}
