//! The records of the verifier service that server instances share: who may
//! ask, what they asked, and how far each request has come.

use serde::{Deserialize, Deserializer, Serialize};
use shenfen_core::{AssuranceLevel, Question};

use crate::{SealedValue, StoreError};

/// A relying party registered with the verifier service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// Its OpenID4VP client identifier (an HTTPS origin).
    pub client_id: String,
    /// Shown to the citizen on the consent screen.
    pub name: String,
    /// Claim paths it is entitled to ask for (`name`, `record/id_number`, …).
    pub claims: Vec<String>,
    /// SHA-256 of its API key.
    pub api_key_hash: [u8; 32],
    /// Seconds since the epoch.
    pub created_at: i64,
}

/// What a relying party asked for, stored as JSON with its request so the
/// request object, the check of the answer and the result all read the same
/// question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentationQuery {
    /// Claim paths, `/`-separated below the top level (`name`, `record/id_number`).
    #[serde(default)]
    pub claims: Vec<String>,
    /// Claims the citizen may decline one by one.
    #[serde(default)]
    pub optional_claims: Vec<String>,
    /// Yes/no questions; the relying party receives only the answers.
    #[serde(default)]
    pub questions: Vec<Question>,
    /// Why, in words the citizen reads on the consent screen.
    pub purpose: String,
    /// The least assurance level the presentation must reach.
    #[serde(deserialize_with = "level_as_spelled")]
    pub level: AssuranceLevel,
}

/// Reads a level the way [`AssuranceLevel`]'s `FromStr` does: earlier
/// versions stored it as the relying party spelled it (`l2` as well as `L2`).
fn level_as_spelled<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AssuranceLevel, D::Error> {
    String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
}

/// How far a presentation request has come. Serialised (and stored) as
/// `pending`, `verified` or `refused`, the words relying parties read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PresentationStatus {
    /// Waiting for the citizen's wallet to answer.
    Pending,
    /// Answered with a presentation that passed every check.
    Verified,
    /// Answered, but the presentation failed a check (the result says which).
    Refused,
}

impl PresentationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PresentationStatus::Pending => "pending",
            PresentationStatus::Verified => "verified",
            PresentationStatus::Refused => "refused",
        }
    }

    /// The status a stored name stands for.
    pub(crate) fn from_stored(name: &str) -> Result<PresentationStatus, StoreError> {
        match name {
            "pending" => Ok(PresentationStatus::Pending),
            "verified" => Ok(PresentationStatus::Verified),
            "refused" => Ok(PresentationStatus::Refused),
            _ => Err(StoreError::Corrupt(format!("presentation status {name:?}"))),
        }
    }
}

/// An OpenID4VP authorization request and, once answered, its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct PresentationRequest {
    /// Random id, in the request and response URIs.
    pub id: String,
    /// The asking relying party.
    pub client_id: String,
    /// Fresh nonce the key binding must carry.
    pub nonce: String,
    /// Fresh state the response must carry.
    pub state: String,
    /// What was asked.
    pub query: PresentationQuery,
    /// Seconds since the epoch.
    pub expires_at: i64,
    /// How far it has come.
    pub status: PresentationStatus,
    /// The verified claims (or the refusal) as JSON, sealed, once answered.
    pub result: Option<SealedValue>,
}
