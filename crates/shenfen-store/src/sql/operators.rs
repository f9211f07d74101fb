//! The authority's people and devices: operator accounts and sessions,
//! counter devices, and the in-person attestations operators record.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::append_audit_on;
use super::{SqlStore, bytes32, subject_of};
use crate::{Attestation, AuditEvent, BlindIndex, Operator, StoreError};

fn operator_from(row: &AnyRow) -> Result<Operator, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(Operator {
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        role: role.parse().map_err(|_| StoreError::Corrupt(format!("operator role {role:?}")))?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

fn attestation_from(row: &AnyRow) -> Result<Attestation, StoreError> {
    Ok(Attestation {
        subject: subject_of(row)?,
        operator: row.try_get("operator")?,
        method: row.try_get("method")?,
        tx_code_hash: bytes32(row, "tx_code_hash")?,
        expires_at: row.try_get("expires_at")?,
    })
}

impl SqlStore {
    /// Creates or replaces an operator account and audits it, in one transaction.
    pub async fn put_operator(&self, operator: &Operator, event: AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        sqlx::query(
            "INSERT INTO operators (username, password_hash, role, disabled, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role, \
             disabled = excluded.disabled",
        )
        .bind(operator.username.as_str())
        .bind(operator.password_hash.as_str())
        .bind(operator.role.as_str())
        .bind(i64::from(operator.disabled))
        .bind(operator.created_at)
        .execute(&mut *tx)
        .await?;
        if operator.disabled {
            sqlx::query("DELETE FROM operator_sessions WHERE username = $1")
                .bind(operator.username.as_str())
                .execute(&mut *tx)
                .await?;
        }
        append_audit_on(&mut tx, self.backend, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The operator with this user name, disabled or not.
    pub async fn operator(&self, username: &str) -> Result<Option<Operator>, StoreError> {
        let row = sqlx::query(
            "SELECT username, password_hash, role, disabled, created_at FROM operators WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(operator_from).transpose()
    }

    /// Opens an operator session under the SHA-256 of its bearer token.
    pub async fn create_operator_session(
        &self,
        token_hash: &[u8; 32],
        username: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO operator_sessions (token_hash, username, expires_at) VALUES ($1, $2, $3)")
            .bind(token_hash.to_vec())
            .bind(username)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The enabled operator an unexpired session belongs to.
    pub async fn operator_of_session(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<Operator>, StoreError> {
        let row = sqlx::query(
            "SELECT o.username, o.password_hash, o.role, o.disabled, o.created_at FROM operator_sessions s \
             JOIN operators o ON o.username = s.username \
             WHERE s.token_hash = $1 AND s.expires_at >= $2 AND o.disabled = 0",
        )
        .bind(token_hash.to_vec())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(operator_from).transpose()
    }

    /// Ends a session (logout); `true` if there was one.
    pub async fn end_operator_session(&self, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM operator_sessions WHERE token_hash = $1")
            .bind(token_hash.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Registers a counter device (a hotel's front desk, a ticket gate) under
    /// the SHA-256 of its token, and audits it, in one transaction.
    pub async fn put_counter_device(
        &self,
        token_hash: &[u8; 32],
        name: &str,
        now: i64,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        sqlx::query("INSERT INTO counter_devices (token_hash, name, disabled, created_at) VALUES ($1, $2, 0, $3)")
            .bind(token_hash.to_vec())
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        append_audit_on(&mut tx, self.backend, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The name of the enabled counter device holding this token.
    pub async fn counter_device(&self, token_hash: &[u8; 32]) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT name FROM counter_devices WHERE token_hash = $1 AND disabled = 0")
            .bind(token_hash.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("name").map_err(StoreError::from)).transpose()
    }

    /// Records an in-person verification (replacing an open one of the same
    /// citizen) and audits it, in one transaction.
    pub async fn put_attestation(&self, attestation: &Attestation, event: AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        sqlx::query(
            "INSERT INTO attestations (subject, operator, method, tx_code_hash, expires_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (subject) DO UPDATE SET operator = excluded.operator, method = excluded.method, \
             tx_code_hash = excluded.tx_code_hash, expires_at = excluded.expires_at",
        )
        .bind(attestation.subject.0.to_vec())
        .bind(attestation.operator.as_str())
        .bind(attestation.method.as_str())
        .bind(attestation.tx_code_hash.to_vec())
        .bind(attestation.expires_at)
        .execute(&mut *tx)
        .await?;
        append_audit_on(&mut tx, self.backend, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The citizen's open, unexpired attestation.
    pub async fn attestation(&self, subject: &BlindIndex, now: i64) -> Result<Option<Attestation>, StoreError> {
        let row = sqlx::query(
            "SELECT subject, operator, method, tx_code_hash, expires_at FROM attestations \
             WHERE subject = $1 AND expires_at >= $2",
        )
        .bind(subject.0.to_vec())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(attestation_from).transpose()
    }
}
