use shenfen_core::CoreError;
use thiserror::Error;

/// Every way storage can fail, one variant per situation so callers and
/// operators can tell them apart by [`StoreError::code`]. Messages never
/// carry PII.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The database URL names no supported backend.
    #[error("unsupported database URL {0:?}: use sqlite:PATH or postgres://…")]
    UnsupportedUrl(String),
    /// A master key is missing, malformed or unknown, or a key operation failed.
    #[error("key error: {0}")]
    Key(String),
    /// The system's random source failed: no key, nonce, salt or draw can be made.
    #[error("the system random source failed")]
    Randomness,
    /// argon2id could not hash a secret (password or PIN).
    #[error("secret hashing failed: {0}")]
    Hashing(String),
    /// Sealed data does not open: wrong key, or tampered with.
    #[error("sealed record {0} does not decrypt: wrong key or tampered data")]
    Unseal(&'static str),
    /// A stored value does not decode into what this version writes there.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// A value could not be encoded as JSON to be stored.
    #[error("{what} could not be encoded as JSON: {source}")]
    Encode {
        /// What was being stored.
        what: &'static str,
        /// Why serde_json refused it.
        source: serde_json::Error,
    },
    /// A record to be sealed is not valid (a built-in record the code got wrong).
    #[error("invalid record: {0}")]
    InvalidRecord(#[source] CoreError),
    /// Every index of a status list is taken: issuance needs a new list.
    #[error("status list {0} has no free index left; start a new list")]
    StatusListFull(String),
    /// A random draw from an empty range (a status list of size 0, an empty pool).
    #[error("nothing to draw from: the range is empty")]
    EmptyDraw,
}

impl StoreError {
    /// The stable, documented code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Database(_) => "store.database",
            Self::Migration(_) => "store.migration",
            Self::UnsupportedUrl(_) => "store.url",
            Self::Key(_) => "store.key",
            Self::Randomness => "store.randomness",
            Self::Hashing(_) => "store.hashing",
            Self::Unseal(_) => "store.unseal",
            Self::Corrupt(_) => "store.corrupt",
            Self::Encode { .. } => "store.encode",
            Self::InvalidRecord(_) => "store.record.invalid",
            Self::StatusListFull(_) => "store.status_list.full",
            Self::EmptyDraw => "store.random.empty",
        }
    }
}
