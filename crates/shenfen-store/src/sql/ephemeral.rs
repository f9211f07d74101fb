//! Short-lived state the instances share: used nonces, attempt counters,
//! and the purge of everything that expires.

use sqlx::{AnyConnection, Row};

use super::{SqlStore, count, signed};
use crate::StoreError;

/// How long the prints of enrollment frames are remembered, in days: long
/// enough to see one photo fed to sessions over weeks, short enough to keep
/// little of anyone's face.
pub const FRAME_PRINT_DAYS: i64 = 30;

/// Counts `n` attempts under `key` inside the caller's transaction (an
/// enrollment decision counts its failure with the rest of it).
pub(super) async fn count_attempts_on(
    conn: &mut AnyConnection,
    key: &str,
    window_start: i64,
    n: u64,
) -> Result<u64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO attempts (key, window_start, count) VALUES ($1, $2, $3) \
         ON CONFLICT (key, window_start) DO UPDATE SET count = attempts.count + excluded.count RETURNING count",
    )
    .bind(key)
    .bind(window_start)
    .bind(signed(n))
    .fetch_one(&mut *conn)
    .await?;
    Ok(count(row.try_get("count")?))
}

impl SqlStore {
    /// Records a nonce as used. `true` the first time, `false` for a replay.
    pub async fn consume_nonce(&self, nonce: &str, expires_at: i64) -> Result<bool, StoreError> {
        let result =
            sqlx::query("INSERT INTO nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING")
                .bind(nonce)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Forgets what expired before `now` — nonces, enrollment sessions, grants,
    /// operator sessions, attestations, presentation requests and their results,
    /// sign-in requests, codes (an hour late) and access tokens —
    /// attempt windows older than two days and frame prints older than
    /// [`FRAME_PRINT_DAYS`]; returns how many rows went.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        // Attempt windows are at most a day long; two days keeps every live one.
        let statements: [(&str, i64); 11] = [
            ("DELETE FROM nonces WHERE expires_at < $1", now),
            ("DELETE FROM enrollment_sessions WHERE expires_at < $1", now),
            ("DELETE FROM grants WHERE expires_at < $1", now),
            ("DELETE FROM operator_sessions WHERE expires_at < $1", now),
            ("DELETE FROM attestations WHERE expires_at < $1", now),
            ("DELETE FROM oidc_authorizations WHERE expires_at < $1", now),
            ("DELETE FROM presentation_requests WHERE expires_at < $1", now),
            ("DELETE FROM oidc_access_tokens WHERE expires_at < $1", now),
            // Kept an hour past expiry: a reuse within it revokes the tokens.
            ("DELETE FROM oidc_codes WHERE expires_at < $1", now - 3600),
            ("DELETE FROM attempts WHERE window_start < $1", now - 2 * 86_400),
            ("DELETE FROM frame_prints WHERE seen_at < $1", now - FRAME_PRINT_DAYS * 86_400),
        ];
        let mut tx = self.write_transaction().await?;
        let mut removed = 0;
        for (statement, before) in statements {
            removed += sqlx::query(statement).bind(before).execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// Counts one attempt under `key` in the window starting at `window_start`
    /// and returns the count including it (rate limits, lockouts).
    pub async fn count_attempt(&self, key: &str, window_start: i64) -> Result<u64, StoreError> {
        self.count_attempts(key, window_start, 1).await
    }

    /// Counts `n` attempts at once (frames of one submission against a
    /// per-minute budget) and returns the count including them.
    pub async fn count_attempts(&self, key: &str, window_start: i64, n: u64) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        count_attempts_on(&mut conn, key, window_start, n).await
    }

    /// Takes back one attempt counted under `key` (a sign-in counted before
    /// its check turned out right).
    pub async fn release_attempt(&self, key: &str, window_start: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE attempts SET count = count - 1 WHERE key = $1 AND window_start = $2 AND count > 0")
            .bind(key)
            .bind(window_start)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The count under `key` in a window, without adding to it.
    pub async fn attempt_count(&self, key: &str, window_start: i64) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT count FROM attempts WHERE key = $1 AND window_start = $2")
            .bind(key)
            .bind(window_start)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<i64, _>("count")).transpose()?.map_or(0, count))
    }
}
