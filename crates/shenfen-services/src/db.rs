//! The services' own database: a SQLite file in the data directory by
//! default, PostgreSQL by URL — one schema, the same statements (sqlx's
//! `Any` driver), versioned migrations for each.

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

use crate::error::ServicesError;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// The database a URL names, refused before anything is created when it is neither.
pub(crate) fn backend_of(url: &str) -> Result<Backend, ServicesError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(ServicesError::UnsupportedUrl)
    }
}

/// The connection pool, migrated.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects to `sqlite:PATH` (created if missing) or `postgres://…` and
    /// applies pending migrations.
    pub async fn open(url: &str) -> Result<Db, ServicesError> {
        install_default_drivers();
        let backend = backend_of(url)?;
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") };
                // One connection: SQLite has one writer, and a second would only wait for it.
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
            Backend::Postgres => AnyPoolOptions::new().max_connections(8).connect(url).await?,
        };
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Db { pool, backend })
    }

    /// The pool, for single statements (each its own transaction).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that will write. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`), so a read-then-write cannot fail half way
    /// because another process wrote meanwhile.
    pub(crate) async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, ServicesError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Forgets expired sign-ins, sessions, attempt windows and drafts unfiled for 30 days; answers how many rows went.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, ServicesError> {
        let mut removed = 0;
        for statement in [
            "DELETE FROM sign_ins WHERE expires_at <= $1",
            "DELETE FROM sessions WHERE expires_at <= $1",
            "DELETE FROM rail_asks WHERE expires_at <= $1",
            "DELETE FROM rail_seen_qrs WHERE expires_at <= $1",
        ] {
            removed += sqlx::query(statement).bind(now).execute(&self.pool).await?.rows_affected();
        }
        for staff in [&crate::staff::PORTAL_CLERKS, &crate::staff::POLICE_OFFICERS] {
            removed += staff.purge_expired(self, now).await?;
        }
        let stale_drafts = now - crate::portal::DRAFT_FOR;
        let drafts = sqlx::query("DELETE FROM portal_drafts WHERE created_at <= $1").bind(stale_drafts);
        removed += drafts.execute(&self.pool).await?.rows_affected();
        Ok(removed)
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether a statement failed on a unique index: a state the database itself
/// refuses (two of a kind), told apart from a failure.
pub(crate) fn unique_violation<T>(result: Result<T, sqlx::Error>) -> Result<Option<T>, ServicesError> {
    match result {
        Ok(done) => Ok(Some(done)),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e.into()),
    }
}
