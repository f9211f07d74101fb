//! Storage for shenfen: one [`SqlStore`] over SQLite (embedded default) and
//! PostgreSQL (production), with versioned migrations for both.
//!
//! [`SqlStore`]'s methods are inherent, one `impl` block per area (registry,
//! enrollment, credentials, PINs, operators, verifier, audit, short-lived
//! state) in a file of its own under `sql/`. There is no `Store` trait: it had
//! one implementation, and its `impl Future` methods made it unusable as a
//! trait object, so the server held an `Arc<SqlStore>` anyway — the trait was
//! no seam, only a second list of signatures to keep in sync. Both databases
//! sit behind the one `SqlStore` (sqlx's `Any` driver).
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
mod sql;
mod verifier_state;

pub use audit::{AuditEntry, AuditEvent, BrokenLink};
pub use error::StoreError;
pub use issuance_state::{
    Attestation, CredentialHolder, EnrollmentSession, Grant, GrantKind, Issuance, Offer, PinReservation,
};
pub use keys::{KeyProvider, LocalKeys};
pub use operator::Operator;
pub use random::random_below;
pub use sealed::{BlindIndex, RegistryEntry, SealedEntry, SealedValue};
pub use secret_hash::{
    generate_password, hash_peppered, hash_secret, verify_peppered, verify_secret, verify_secret_or_decoy,
};
pub use sql::{Backend, FRAME_PRINT_DAYS, ImportProgress, SqlStore};
pub use verifier_state::{
    Authorization, AuthorizationCode, ClientAuthentication, OpenIdClient, PresentationQuery, PresentationRequest,
    PresentationStatus, RelyingParty, SignInOrigin,
};
