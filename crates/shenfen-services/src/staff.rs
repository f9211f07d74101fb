//! Staff accounts of a service — the portal's registration clerks, the
//! police's officers: argon2id passwords, wrong passwords counted per name
//! before the check and limited per window, sessions kept as token hashes.
//! One set of statements; each kind of staff has its own three tables,
//! named by constants here (never by input), hence `AssertSqlSafe`.

use std::sync::LazyLock;

use sqlx::{AssertSqlSafe, Row};

use crate::db::Db;
use crate::error::ServicesError;
use crate::secrets::{PasswordChecks, hash_password, random_token, token_hash};

/// How long a staff session lasts.
pub(crate) const SESSION_FOR: i64 = 8 * 3600;
/// Wrong passwords allowed per name in one window.
pub(crate) const ATTEMPTS: i64 = 5;
/// The window of [`ATTEMPTS`].
pub(crate) const WINDOW: i64 = 15 * 60;

/// The tables of one kind of staff (fixed names, never from input).
pub(crate) struct Staff {
    /// `username, password_hash, created_at`.
    accounts: &'static str,
    /// `token_hash, username, expires_at`.
    sessions: &'static str,
    /// `username, attempts, window_ends`.
    failures: &'static str,
}

/// The portal's registration clerks.
pub(crate) const PORTAL_CLERKS: Staff =
    Staff { accounts: "portal_clerks", sessions: "portal_clerk_sessions", failures: "portal_clerk_failures" };
/// The police's officers who open the guest register.
pub(crate) const POLICE_OFFICERS: Staff =
    Staff { accounts: "police_officers", sessions: "police_officer_sessions", failures: "police_officer_failures" };

/// How a sign-in ended.
pub(crate) enum SignIn {
    /// The password matched: a session's token.
    Session(String),
    /// A wrong name or password (or one out of bounds).
    Wrong,
    /// More than [`ATTEMPTS`] in the window: refused before the password is checked.
    TooMany,
    /// Every argon2id slot is taken: refused before anything is counted (503).
    Busy,
}

/// The password checks of every staff sign-in of this process, bounded by
/// the cores ([`PasswordChecks`]).
static PASSWORD_CHECKS: LazyLock<PasswordChecks> = LazyLock::new(PasswordChecks::new);

impl Staff {
    /// A sign-in: the attempt is counted before the password is checked (one
    /// statement), so a guesser meets the limit without the argon2id cost
    /// deciding anything; an unknown name costs the same work as a known one.
    pub(crate) async fn sign_in(
        &self,
        db: &Db,
        username: &str,
        password: &str,
        now: i64,
    ) -> Result<SignIn, ServicesError> {
        if username.is_empty() || username.len() > 64 || password.len() > 256 {
            return Ok(SignIn::Wrong);
        }
        // A free argon2id slot first, then the attempt counted: a flood is
        // turned away before it costs a count, a row or a hash.
        let Some(check) = PASSWORD_CHECKS.try_take() else {
            return Ok(SignIn::Busy);
        };
        if self.count_attempt(db, username, now).await? > ATTEMPTS {
            return Ok(SignIn::TooMany);
        }
        let stored = self.password_hash(db, username).await?;
        let matches = check.run(stored, password.to_owned()).await?;
        if !matches {
            tracing::info!(staff = self.accounts, "a staff sign-in was refused");
            return Ok(SignIn::Wrong);
        }
        Ok(SignIn::Session(self.open_session(db, username, now).await?))
    }

    /// Creates `username` with `password` (argon2id); refuses an existing name.
    pub(crate) async fn add(&self, db: &Db, username: &str, password: &str, now: i64) -> Result<(), ServicesError> {
        let hash = hash_password(password)?;
        let statement = format!(
            "INSERT INTO {} (username, password_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING",
            self.accounts
        );
        let added =
            sqlx::query(AssertSqlSafe(statement)).bind(username).bind(hash).bind(now).execute(db.pool()).await?;
        if added.rows_affected() == 0 {
            return Err(ServicesError::ClerkExists(username.to_owned()));
        }
        Ok(())
    }

    /// `username`'s password hash, if the account exists.
    async fn password_hash(&self, db: &Db, username: &str) -> Result<Option<String>, ServicesError> {
        let statement = format!("SELECT password_hash FROM {} WHERE username = $1", self.accounts);
        let row = sqlx::query(AssertSqlSafe(statement)).bind(username).fetch_optional(db.pool()).await?;
        Ok(row.map(|r| r.try_get("password_hash")).transpose()?)
    }

    /// Counts a sign-in attempt of `username` before its password is
    /// checked, in one statement; answers the attempts in the current window.
    async fn count_attempt(&self, db: &Db, username: &str, now: i64) -> Result<i64, ServicesError> {
        let statement = format!(
            "INSERT INTO {t} (username, attempts, window_ends) VALUES ($1, 1, $2) \
             ON CONFLICT (username) DO UPDATE SET \
             attempts = CASE WHEN {t}.window_ends <= $3 THEN 1 ELSE {t}.attempts + 1 END, \
             window_ends = CASE WHEN {t}.window_ends <= $3 THEN $2 ELSE {t}.window_ends END \
             RETURNING attempts",
            t = self.failures
        );
        let row = sqlx::query(AssertSqlSafe(statement))
            .bind(username)
            .bind(now + WINDOW)
            .bind(now)
            .fetch_one(db.pool())
            .await?;
        Ok(row.try_get("attempts")?)
    }

    /// A right password: the attempts are forgotten and a session opens; answers its token.
    async fn open_session(&self, db: &Db, username: &str, now: i64) -> Result<String, ServicesError> {
        let token = random_token()?;
        let mut tx = db.write().await?;
        let forget = format!("DELETE FROM {} WHERE username = $1", self.failures);
        sqlx::query(AssertSqlSafe(forget)).bind(username).execute(&mut *tx).await?;
        let open = format!("INSERT INTO {} (token_hash, username, expires_at) VALUES ($1, $2, $3)", self.sessions);
        sqlx::query(AssertSqlSafe(open))
            .bind(token_hash(&token))
            .bind(username)
            .bind(now + SESSION_FOR)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The account of a live session token.
    pub(crate) async fn of_session(&self, db: &Db, token: &str, now: i64) -> Result<Option<String>, ServicesError> {
        let statement = format!("SELECT username FROM {} WHERE token_hash = $1 AND expires_at > $2", self.sessions);
        let row =
            sqlx::query(AssertSqlSafe(statement)).bind(token_hash(token)).bind(now).fetch_optional(db.pool()).await?;
        Ok(row.map(|r| r.try_get("username")).transpose()?)
    }

    /// Ends a session.
    pub(crate) async fn end_session(&self, db: &Db, token: &str) -> Result<(), ServicesError> {
        let statement = format!("DELETE FROM {} WHERE token_hash = $1", self.sessions);
        sqlx::query(AssertSqlSafe(statement)).bind(token_hash(token)).execute(db.pool()).await?;
        Ok(())
    }

    /// Forgets expired sessions and attempt windows; answers how many rows went.
    pub(crate) async fn purge_expired(&self, db: &Db, now: i64) -> Result<u64, ServicesError> {
        let sessions = format!("DELETE FROM {} WHERE expires_at <= $1", self.sessions);
        let failures = format!("DELETE FROM {} WHERE window_ends <= $1", self.failures);
        let mut removed = sqlx::query(AssertSqlSafe(sessions)).bind(now).execute(db.pool()).await?.rows_affected();
        removed += sqlx::query(AssertSqlSafe(failures)).bind(now).execute(db.pool()).await?.rows_affected();
        Ok(removed)
    }
}
