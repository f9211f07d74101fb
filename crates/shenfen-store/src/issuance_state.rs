//! The records of enrollment and issuance that server instances share.

use shenfen_core::Edition;

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
    /// The edition asked for.
    pub edition: Edition,
    /// Ordered liveness actions, comma-separated.
    pub challenge: String,
    /// When it started, seconds since the epoch (by the server's clock).
    pub created_at: i64,
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
    pub edition: Edition,
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

/// The outcome of reserving one PIN attempt (see [`crate::SqlStore::reserve_pin_attempt`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinReservation {
    /// The citizen has no PIN (lightweight edition).
    NotSet,
    /// No attempt may be checked before this time (`i64::MAX`: blocked).
    Locked(i64),
    /// The attempt is counted as a failure already; check it against `pin_hash`
    /// and settle it.
    Reserved {
        /// The argon2id PHC string to check against.
        pin_hash: String,
        /// Consecutive failures, this attempt included.
        failures: u64,
        /// Whether this attempt, if it fails, is the one that locks the PIN
        /// (the lock is already in place, so parallel guesses find it).
        locks_until: Option<i64>,
    },
}

/// One batch of credentials about to be issued (see [`crate::SqlStore::issue_slots`]).
#[derive(Debug, Clone, Copy)]
pub struct Issuance<'a> {
    /// SHA-256 of the access token the batch spends.
    pub access_token_hash: &'a [u8; 32],
    /// The status list the slots are drawn from.
    pub list_id: &'a str,
    /// Its number of entries.
    pub list_size: u64,
    /// The citizen.
    pub subject: &'a BlindIndex,
    /// RFC 7638 thumbprints of the device keys, one slot each.
    pub devices: &'a [String],
    /// Seconds since the epoch.
    pub now: i64,
}

/// Who holds an issued credential, and its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialHolder {
    /// Blind index of the citizen it was issued to.
    pub subject: BlindIndex,
    /// Its status-list value (0 = valid).
    pub status: u8,
}
