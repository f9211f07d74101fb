//! The upgraded edition's PIN: set by the enrollment decision, and each
//! attempt reserved before it is checked, then settled.

use shenfen_core::PinLockout;
use sqlx::{AnyConnection, Row};

use super::audit::append_audit_on;
use super::{SqlStore, count, signed};
use crate::{AuditEvent, BlindIndex, PinReservation, StoreError};

/// Rounds of compare-and-set before a PIN reservation gives up under contention.
const PIN_RESERVATION_ROUNDS: usize = 64;

/// Stores the PIN an accepted upgraded enrollment chose, consuming the
/// attestation it used, inside the decision's transaction.
pub(super) async fn put_pin_on(
    conn: &mut AnyConnection,
    subject: &BlindIndex,
    pin_hash: &str,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM attestations WHERE subject = $1").bind(subject.0.to_vec()).execute(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO pins (subject, pin_hash, failures, locked_until, updated_at) VALUES ($1, $2, 0, 0, $3) \
         ON CONFLICT (subject) DO UPDATE SET pin_hash = excluded.pin_hash, failures = 0, locked_until = 0, \
         updated_at = excluded.updated_at",
    )
    .bind(subject.0.to_vec())
    .bind(pin_hash)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl SqlStore {
    /// Reserves one PIN attempt before the PIN is checked: in one statement
    /// it counts the attempt as a failure and, if that many failures lock
    /// the PIN under `lockout`, locks it — so of N parallel guesses only
    /// those the policy allows are ever checked.
    pub async fn reserve_pin_attempt(
        &self,
        subject: &BlindIndex,
        lockout: &PinLockout,
        now: i64,
    ) -> Result<PinReservation, StoreError> {
        // Compare-and-set on (failures, locked_until): the count and the lock
        // it implies land in one statement, or not at all if another attempt
        // got there first (then read again).
        for _ in 0..PIN_RESERVATION_ROUNDS {
            let row = sqlx::query("SELECT pin_hash, failures, locked_until FROM pins WHERE subject = $1")
                .bind(subject.0.to_vec())
                .fetch_optional(&self.pool)
                .await?;
            let Some(row) = row else { return Ok(PinReservation::NotSet) };
            let (stored_failures, locked_until): (i64, i64) = (row.try_get("failures")?, row.try_get("locked_until")?);
            if locked_until > now {
                return Ok(PinReservation::Locked(locked_until));
            }
            let failures = count(stored_failures) + 1;
            let locks_until = lockout.locked_until(failures, now);
            let reserved = sqlx::query(
                "UPDATE pins SET failures = $1, locked_until = $2, updated_at = $3 \
                 WHERE subject = $4 AND failures = $5 AND locked_until = $6",
            )
            .bind(signed(failures))
            .bind(locks_until.unwrap_or(0))
            .bind(now)
            .bind(subject.0.to_vec())
            .bind(stored_failures)
            .bind(locked_until)
            .execute(&self.pool)
            .await?;
            if reserved.rows_affected() == 1 {
                return Ok(PinReservation::Reserved { pin_hash: row.try_get("pin_hash")?, failures, locks_until });
            }
        }
        // Still contended after every round: refuse this one for a moment, as a lock would.
        Ok(PinReservation::Locked(now + 1))
    }

    /// Settles a reserved attempt: a right PIN clears the failures and any
    /// lock; a wrong one stays counted, and `lock_event` is appended if it
    /// was the attempt that locked.
    pub async fn settle_pin_attempt(
        &self,
        subject: &BlindIndex,
        success: bool,
        lock_event: Option<AuditEvent>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        if success {
            sqlx::query("UPDATE pins SET failures = 0, locked_until = 0, updated_at = $1 WHERE subject = $2")
                .bind(now)
                .bind(subject.0.to_vec())
                .execute(&mut *tx)
                .await?;
        } else if let Some(event) = lock_event {
            append_audit_on(&mut tx, self.backend, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
