//! Storage for shenfen: one [`Store`] over SQLite (embedded default) and
//! PostgreSQL (production), with versioned migrations for both.
//!
//! - Registry entries are sealed with AES-256-GCM under per-entry data keys
//!   wrapped by a master key from a [`KeyProvider`], and found through an HMAC
//!   [`BlindIndex`] of the ID number: the database alone reveals no PII.
//! - The audit log is an append-only hash chain ([`audit`]) with a verifier
//!   that names the first broken link.
//! - Nonces, attempt counters and import progress live here too, so server
//!   instances share them.

pub mod audit;
mod crash_point;
mod error;
mod issuance_state;
mod keys;
mod operator;
mod random;
mod sealed;
mod secret_hash;
mod sql_store;
mod store;

pub use audit::{AuditEntry, AuditEvent, BrokenLink};
pub use error::StoreError;
pub use issuance_state::{
    Attestation, CredentialHolder, EnrollmentSession, Grant, GrantKind, Issuance, Offer, PinReservation,
    PresentationRequest, RelyingParty,
};
pub use keys::{KeyProvider, LocalKeys};
pub use operator::Operator;
pub use random::random_below;
pub use sealed::{BlindIndex, RegistryEntry, SealedEntry, SealedValue};
pub use secret_hash::{
    generate_password, hash_peppered, hash_secret, verify_peppered, verify_secret, verify_secret_or_decoy,
};
pub use sql_store::{Backend, SqlStore};
pub use store::{FRAME_PRINT_DAYS, ImportProgress, Store};
