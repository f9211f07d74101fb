//! What can go wrong on the relying party's side before a wallet is involved:
//! fetching the trust material, and a configuration that cannot work.

use shenfen_credential::CredentialError;

/// A failure of the verifier's setup or of a refresh, each with a stable code
/// (docs/ERRORS.md).
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    /// An authority could not be reached or answered something unexpected.
    #[error("{url}: {reason}")]
    Network {
        /// What was fetched.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// An authority publishes its status list outside its own URL.
    #[error("{issuer}: its status list is published for {subject}, not under its own URL; not cached")]
    ForeignStatusList {
        /// The authority.
        issuer: String,
        /// The list's `sub`.
        subject: String,
    },
    /// The verifier's own configuration contradicts itself (the attestation is
    /// for another key, names no response URI, or the level asked cannot be reached here).
    #[error("{0}")]
    Config(String),
    /// A fetched trust list, key set, status list or attestation does not verify.
    #[error(transparent)]
    Credential(#[from] CredentialError),
}

impl VerifierError {
    /// The stable code of this error (docs/ERRORS.md).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Network { .. } => "verifier.network",
            Self::ForeignStatusList { .. } => "verifier.status_list.foreign",
            Self::Config(_) => "verifier.config",
            Self::Credential(e) => e.code(),
        }
    }
}
