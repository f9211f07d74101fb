//! Enrollment and the grants it hands out: sessions, pre-authorized codes and
//! access tokens, the decision transaction, and the frame prints it keeps.

use shenfen_core::Edition;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::audit::append_audit_on;
use super::ephemeral::count_attempts_on;
use super::pins::put_pin_on;
use super::{SqlStore, bytes32, optional_bytes32, sealed_value_from, subject_of};
use crate::crash_point::crash_point;
use crate::{AuditEvent, BlindIndex, EnrollmentSession, Grant, GrantKind, Offer, SealedValue, StoreError};

/// The stored edition name, as the edition it names.
fn edition_of(row: &AnyRow) -> Result<Edition, StoreError> {
    let name: String = row.try_get("edition")?;
    name.parse().map_err(|e| StoreError::Corrupt(format!("edition: {e}")))
}

fn grant_from(row: &AnyRow) -> Result<Grant, StoreError> {
    Ok(Grant {
        subject: subject_of(row)?,
        edition: edition_of(row)?,
        tx_code_hash: optional_bytes32(row, "tx_code_hash")?,
    })
}

fn session_from(row: &AnyRow) -> Result<EnrollmentSession, StoreError> {
    Ok(EnrollmentSession {
        id: row.try_get("id")?,
        subject: subject_of(row)?,
        claim_digest: bytes32(row, "claim_digest")?,
        edition: edition_of(row)?,
        challenge: row.try_get("challenge")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

async fn put_grant_on(
    conn: &mut AnyConnection,
    token_hash: &[u8; 32],
    kind: GrantKind,
    grant: &Grant,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO grants (token_hash, kind, subject, edition, expires_at, tx_code_hash) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash.to_vec())
    .bind(kind.as_str())
    .bind(grant.subject.0.to_vec())
    .bind(grant.edition.as_str())
    .bind(expires_at)
    .bind(grant.tx_code_hash.map(|h| h.to_vec()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl SqlStore {
    /// Opens an enrollment session.
    pub async fn create_session(&self, session: &EnrollmentSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO enrollment_sessions (id, subject, claim_digest, edition, challenge, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(session.id.as_str())
        .bind(session.subject.0.to_vec())
        .bind(session.claim_digest.to_vec())
        .bind(session.edition.as_str())
        .bind(session.challenge.as_str())
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes an open, unexpired session, marking it consumed in the same
    /// statement: a session decides once, so a replayed submission finds nothing.
    pub async fn take_session(&self, id: &str, now: i64) -> Result<Option<EnrollmentSession>, StoreError> {
        let row = sqlx::query(
            "UPDATE enrollment_sessions SET consumed = 1 WHERE id = $1 AND consumed = 0 AND expires_at >= $2 \
             RETURNING id, subject, claim_digest, edition, challenge, created_at, expires_at",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(session_from).transpose()
    }

    /// Stores a grant under the SHA-256 of its token.
    pub async fn put_grant(
        &self,
        token_hash: &[u8; 32],
        kind: GrantKind,
        grant: &Grant,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        put_grant_on(&mut conn, token_hash, kind, grant, expires_at).await
    }

    /// The unused, unexpired grant of `kind` under `token_hash`, without
    /// redeeming it (the credential endpoint checks the proofs first).
    pub async fn peek_grant(
        &self,
        token_hash: &[u8; 32],
        kind: GrantKind,
        now: i64,
    ) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(
            "SELECT subject, edition, tx_code_hash FROM grants \
             WHERE token_hash = $1 AND kind = $2 AND used = 0 AND expires_at >= $3",
        )
        .bind(token_hash.to_vec())
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(grant_from).transpose()
    }

    /// Redeems an unused, unexpired grant of `kind` once — if it asks for a
    /// transaction code, only together with the hash of the right one.
    pub async fn redeem_grant(
        &self,
        token_hash: &[u8; 32],
        kind: GrantKind,
        tx_code_hash: Option<&[u8; 32]>,
        now: i64,
    ) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(
            "UPDATE grants SET used = 1 WHERE token_hash = $1 AND kind = $2 AND used = 0 AND expires_at >= $3 \
             AND (tx_code_hash IS NULL OR tx_code_hash = $4) RETURNING subject, edition, tx_code_hash",
        )
        .bind(token_hash.to_vec())
        .bind(kind.as_str())
        .bind(now)
        .bind(tx_code_hash.map_or_else(Vec::new, |h| h.to_vec()))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(grant_from).transpose()
    }

    /// One enrollment decision as one transaction: the offer (if accepted:
    /// its pre-authorized code; for the upgraded edition also the PIN, and the
    /// consumed attestation), the failure count (if refused; returned), the
    /// sealed print of the frames (remembered under the event's subject, at
    /// its time), the audit entry.
    pub async fn record_decision(
        &self,
        offer: Option<Offer<'_>>,
        event: AuditEvent,
        failure: Option<(&str, i64)>,
        print: Option<&SealedValue>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.write_transaction().await?;
        if let (Some(print), Some(subject)) = (print, &event.subject) {
            sqlx::query(
                "INSERT INTO frame_prints (subject, key_id, wrapped_key, ciphertext, seen_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(subject.0.to_vec())
            .bind(print.key_id.clone())
            .bind(print.wrapped_key.clone())
            .bind(print.ciphertext.clone())
            .bind(event.at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(offer) = offer {
            put_grant_on(&mut tx, offer.code_hash, GrantKind::PreAuthorizedCode, offer.grant, offer.expires_at).await?;
            if let Some(pin_hash) = offer.pin_hash {
                put_pin_on(&mut tx, &offer.grant.subject, pin_hash, event.at).await?;
            }
        }
        let failures = match failure {
            Some((key, window)) => count_attempts_on(&mut tx, key, window, 1).await?,
            None => 0,
        };
        crash_point("decision:before-audit");
        append_audit_on(&mut tx, self.backend, event).await?;
        tx.commit().await?;
        Ok(failures)
    }

    /// The sealed frame prints remembered for `subject` since `since`, newest
    /// first, at most `limit`.
    pub async fn frame_prints(
        &self,
        subject: &BlindIndex,
        since: i64,
        limit: u32,
    ) -> Result<Vec<SealedValue>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_id, wrapped_key, ciphertext FROM frame_prints WHERE subject = $1 AND seen_at >= $2 \
             ORDER BY seen_at DESC LIMIT $3",
        )
        .bind(subject.0.to_vec())
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(sealed_value_from).collect()
    }
}
