//! The holder library of shenfen.
//!
//! - [`vault`]: everything a wallet holds — credentials, their device keys,
//!   the disclosure log — sealed with AES-256-GCM under a key derived from the
//!   citizen's wallet PIN by argon2id; a stolen wallet directory is ciphertext.
//! - [`Wallet`]: single-use credentials (each used once, so relying parties
//!   cannot link presentations), offline presentations by purpose, and the
//!   log of what went to whom.
//! - [`authority`]: the HTTP client of enrollment (the authority's enrollment
//!   API) and issuance (OpenID4VCI pre-authorized code flow, batch).

pub mod authority;
mod error;
pub mod vault;
mod wallet;

pub use error::WalletError;
pub use wallet::{DisclosureRecord, HeldCredential, OfflinePresentation, Wallet};
