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
}
