//! The records of enrollment and issuance that server instances share.

use crate::BlindIndex;

/// An open enrollment session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentSession {
    /// Random, unguessable id.
    pub id: String,
    /// Blind index of the claimed ID number (whether or not it is registered).
    pub subject: BlindIndex,
    /// Keyed digest of the claimed name and card expiry, compared at decision time.
    pub claim_digest: [u8; 32],
    /// `lightweight` or `upgraded`.
    pub edition: String,
    /// Ordered liveness actions, comma-separated.
    pub challenge: String,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

/// What a pre-authorized code or access token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    /// OpenID4VCI pre-authorized code, exchanged at the token endpoint.
    PreAuthorizedCode,
    /// Bearer token for the credential endpoint.
    AccessToken,
}

impl GrantKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::PreAuthorizedCode => "pre_authorized_code",
            GrantKind::AccessToken => "access_token",
        }
    }
}

/// The citizen and edition a redeemed grant stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Blind index of the citizen.
    pub subject: BlindIndex,
    /// The edition enrolled.
    pub edition: String,
    /// SHA-256 of the transaction code the token request must also carry
    /// (upgraded edition: the code handed out at the counter).
    pub tx_code_hash: Option<[u8; 32]>,
}

/// An operator's in-person verification of a citizen, which an upgraded
/// enrollment needs and consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// Blind index of the citizen seen.
    pub subject: BlindIndex,
    /// The operator who saw them.
    pub operator: String,
    /// `counter` or `kiosk`.
    pub method: String,
    /// SHA-256 of the transaction code given to the citizen.
    pub tx_code_hash: [u8; 32],
    /// Seconds since the epoch.
    pub expires_at: i64,
}

/// What an accepted upgraded enrollment stores besides its offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer<'a> {
    /// SHA-256 of the pre-authorized code.
    pub code_hash: &'a [u8; 32],
    /// What the code grants.
    pub grant: &'a Grant,
    /// When the code expires.
    pub expires_at: i64,
    /// The argon2id hash of the PIN the citizen chose (upgraded edition); the
    /// attestation the enrollment used is consumed with it.
    pub pin_hash: Option<&'a str>,
}

/// A citizen's PIN and how it has been failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinState {
    /// argon2id PHC string.
    pub pin_hash: String,
    /// Consecutive failures.
    pub failures: u64,
    /// No attempt before this time (seconds since the epoch; 0 = none).
    pub locked_until: i64,
}

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
    /// What was asked: `{claims, purpose, level}`.
    pub query: serde_json::Value,
    /// Seconds since the epoch.
    pub expires_at: i64,
    /// `pending`, `verified` or `refused`.
    pub status: String,
    /// The verified claims (or the refusal), once answered.
    pub result: Option<serde_json::Value>,
}
