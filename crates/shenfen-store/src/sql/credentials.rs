//! Issued credentials and their status: slots drawn on the status list,
//! revocation, and what the status list and the verifier read back.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::audit::append_audit_on;
use super::{SqlStore, count, signed, subject_of};
use crate::crash_point::crash_point;
use crate::{AuditEvent, BlindIndex, CredentialHolder, GrantKind, Issuance, StoreError, random_below};

fn status_of(row: &AnyRow) -> Result<u8, StoreError> {
    u8::try_from(row.try_get::<i64, _>("status")?).map_err(|_| StoreError::Corrupt("status out of range".into()))
}

/// Sets the status of every credential of `subject` and, if any changed,
/// bumps the status version in the same transaction.
async fn set_status_on(conn: &mut AnyConnection, subject: &BlindIndex, status: u8) -> Result<u64, StoreError> {
    let result = sqlx::query("UPDATE credentials SET status = $1 WHERE subject = $2 AND status <> $1")
        .bind(i64::from(status))
        .bind(subject.0.to_vec())
        .execute(&mut *conn)
        .await?;
    if result.rows_affected() > 0 {
        sqlx::query("UPDATE status_version SET version = version + 1 WHERE id = 1").execute(&mut *conn).await?;
    }
    Ok(result.rows_affected())
}

/// Draws a free random slot of the list for one device key and takes it.
async fn allocate_on(conn: &mut AnyConnection, issuance: &Issuance<'_>, device_key: &str) -> Result<u64, StoreError> {
    let Issuance { list_id, list_size, subject, now, .. } = *issuance;
    for _ in 0..64 {
        let idx = random_below(list_size)?;
        let inserted = sqlx::query(
            "INSERT INTO credentials (list_id, idx, subject, device_key, issued_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (list_id, idx) DO NOTHING",
        )
        .bind(list_id)
        .bind(signed(idx))
        .bind(subject.0.to_vec())
        .bind(device_key)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(idx);
        }
    }
    Err(StoreError::StatusListFull(list_id.to_owned()))
}

impl SqlStore {
    /// One issuance as one transaction: redeems the access token (`None` if
    /// it is already spent or expired, and nothing else happens), revokes
    /// every credential the subject held, allocates a random slot of the list
    /// per device key, and appends `event` (whose JSON object details gain
    /// `count` and `previous_revoked`).
    pub async fn issue_slots(
        &self,
        issuance: Issuance<'_>,
        mut event: AuditEvent,
    ) -> Result<Option<Vec<u64>>, StoreError> {
        let mut tx = self.write_transaction().await?;
        let redeemed = sqlx::query(
            "UPDATE grants SET used = 1 WHERE token_hash = $1 AND kind = $2 AND used = 0 AND expires_at >= $3",
        )
        .bind(issuance.access_token_hash.to_vec())
        .bind(GrantKind::AccessToken.as_str())
        .bind(issuance.now)
        .execute(&mut *tx)
        .await?;
        if redeemed.rows_affected() != 1 {
            return Ok(None);
        }
        let revoked = set_status_on(&mut tx, issuance.subject, 1).await?;
        let mut slots = Vec::with_capacity(issuance.devices.len());
        for device in issuance.devices {
            slots.push(allocate_on(&mut tx, &issuance, device).await?);
        }
        if let serde_json::Value::Object(details) = &mut event.details {
            details.insert("previous_revoked".into(), serde_json::Value::from(revoked));
            details.insert("count".into(), serde_json::Value::from(slots.len()));
        }
        crash_point("issuance:before-audit");
        append_audit_on(&mut tx, self.backend, event).await?;
        tx.commit().await?;
        Ok(Some(slots))
    }

    /// Sets `status` on every valid credential of `subject` and appends
    /// `event` (whose JSON object details gain `count`), in one transaction;
    /// returns how many changed (lost phone, operator revocation).
    pub async fn revoke_subject(
        &self,
        subject: &BlindIndex,
        status: u8,
        mut event: AuditEvent,
    ) -> Result<u64, StoreError> {
        let mut tx = self.write_transaction().await?;
        let changed = set_status_on(&mut tx, subject, status).await?;
        if let serde_json::Value::Object(details) = &mut event.details {
            details.insert("count".into(), serde_json::Value::from(changed));
        }
        append_audit_on(&mut tx, self.backend, event).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// The citizen a credential was issued to and its current status, from
    /// its status-list slot.
    pub async fn credential_holder(&self, list_id: &str, idx: u64) -> Result<Option<CredentialHolder>, StoreError> {
        let row = sqlx::query("SELECT subject, status FROM credentials WHERE list_id = $1 AND idx = $2")
            .bind(list_id)
            .bind(signed(idx))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(CredentialHolder { subject: subject_of(&r)?, status: status_of(&r)? })).transpose()
    }

    /// The status of one credential's slot, if it was issued.
    pub async fn credential_status(&self, list_id: &str, idx: u64) -> Result<Option<u8>, StoreError> {
        let row = sqlx::query("SELECT status FROM credentials WHERE list_id = $1 AND idx = $2")
            .bind(list_id)
            .bind(signed(idx))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(status_of).transpose()
    }

    /// A number that changes with every status change (revocation,
    /// suspension): a signed status list is re-signed only when it changed.
    pub async fn status_version(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT version FROM status_version WHERE id = 1").fetch_one(&self.pool).await?;
        Ok(count(row.try_get("version")?))
    }

    /// The non-VALID entries of a list, as (index, status).
    pub async fn status_entries(&self, list_id: &str) -> Result<Vec<(u64, u8)>, StoreError> {
        let rows = sqlx::query("SELECT idx, status FROM credentials WHERE list_id = $1 AND status <> 0 ORDER BY idx")
            .bind(list_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((count(r.try_get("idx")?), status_of(r)?))).collect()
    }
}
