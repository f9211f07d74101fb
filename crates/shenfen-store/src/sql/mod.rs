//! [`SqlStore`] over SQL: SQLite for the embedded default and PostgreSQL for
//! production, through one implementation (sqlx's `Any` driver) so both run
//! the same statements and the same test suite. Only the migrations and the
//! row lock of the audit head differ.
//!
//! This file holds the plumbing every area shares (the connection, the
//! migrations, write transactions, column decoding); each area's methods are
//! an `impl SqlStore` block in a file of its own.

mod audit;
mod credentials;
mod enrollment;
mod ephemeral;
mod openid;
mod operators;
mod pins;
mod registry;
mod verifier;

use sqlx::any::{AnyPoolOptions, AnyRow, install_default_drivers};
use sqlx::{AnyPool, Executor, Row};

use crate::{BlindIndex, SealedValue, StoreError};

pub use ephemeral::FRAME_PRINT_DAYS;
pub use registry::ImportProgress;

/// Rows per transaction when re-wrapping keys or verifying the chain.
const BATCH: u32 = 1000;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, WAL journal; one connection (SQLite has one writer anyway).
    Sqlite,
    /// A PostgreSQL server (or a compatible distributed SQL engine).
    Postgres,
}

/// Persistent, shared state: every piece of state that several server
/// instances must share lives here, so N stateless instances behave as one.
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

impl SqlStore {
    /// Connects to `sqlite:PATH` (created if missing) or `postgres://…`, and
    /// applies pending migrations.
    pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.split('@').next_back().unwrap_or_default().to_owned()));
        };
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") };
                AnyPoolOptions::new()
                    .max_connections(1)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
                            )
                            .await
                            .map(|_| ())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => AnyPoolOptions::new().max_connections(16).connect(url).await?,
        };
        let store = SqlStore { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&self.pool).await?,
        }
        Ok(())
    }

    /// A transaction that will write. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`): a deferred transaction that reads first and
    /// writes later fails with "database is locked" when another process (a
    /// second `shenfen` command, another server) wrote meanwhile, where an
    /// immediate one waits its turn under the busy timeout.
    async fn write_transaction(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A column that holds a SHA-256 or HMAC-SHA-256 value.
fn bytes32(row: &AnyRow, name: &str) -> Result<[u8; 32], StoreError> {
    row.try_get::<Vec<u8>, _>(name)?.try_into().map_err(|_| StoreError::Corrupt(format!("{name} is not 32 bytes")))
}

fn optional_bytes32(row: &AnyRow, name: &str) -> Result<Option<[u8; 32]>, StoreError> {
    let value: Option<Vec<u8>> = row.try_get(name)?;
    value.map(|v| v.try_into().map_err(|_| StoreError::Corrupt(format!("{name} is not 32 bytes")))).transpose()
}

/// A sealed value kept in `key_id`, `wrapped_key` and `ciphertext` columns.
fn sealed_value_from(row: &AnyRow) -> Result<SealedValue, StoreError> {
    Ok(SealedValue {
        key_id: row.try_get("key_id")?,
        wrapped_key: row.try_get("wrapped_key")?,
        ciphertext: row.try_get("ciphertext")?,
    })
}

fn subject_of(row: &AnyRow) -> Result<BlindIndex, StoreError> {
    BlindIndex::from_slice(&row.try_get::<Vec<u8>, _>("subject")?)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
