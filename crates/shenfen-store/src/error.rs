use thiserror::Error;

/// Every way storage can fail. Messages never carry PII.
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
    /// A master key is missing, malformed or unknown.
    #[error("key error: {0}")]
    Key(String),
    /// Sealed data does not open: wrong key, or tampered with.
    #[error("sealed record {0} does not decrypt: wrong key or tampered data")]
    Unseal(&'static str),
    /// A stored value is not what this version wrote.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The stable, documented code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Database(_) => "store.database",
            Self::Migration(_) => "store.migration",
            Self::UnsupportedUrl(_) => "store.url",
            Self::Key(_) => "store.key",
            Self::Unseal(_) => "store.unseal",
            Self::Corrupt(_) => "store.corrupt",
        }
    }
}
