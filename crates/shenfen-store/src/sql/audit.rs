//! The audit log: appending to the hash chain, reading it a page at a time,
//! verifying it.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{BATCH, Backend, SqlStore, bytes32, count, signed};
use crate::audit::{GENESIS, entry_hash, verify_chain};
use crate::{AuditEntry, AuditEvent, BlindIndex, BrokenLink, StoreError};

fn audit_from(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let hash32 = |name: &str| bytes32(row, name);
    let details_json: String = row.try_get("details")?;
    let subject: Option<Vec<u8>> = row.try_get("subject")?;
    Ok(AuditEntry {
        seq: u64::try_from(row.try_get::<i64, _>("seq")?)
            .map_err(|_| StoreError::Corrupt("negative audit seq".into()))?,
        event: AuditEvent {
            at: row.try_get("at")?,
            kind: row.try_get("kind")?,
            actor: row.try_get("actor")?,
            subject: subject.as_deref().map(BlindIndex::from_slice).transpose()?,
            details: serde_json::from_str(&details_json)
                .map_err(|e| StoreError::Corrupt(format!("audit details: {e}")))?,
        },
        details_json,
        prev_hash: hash32("prev_hash")?,
        hash: hash32("hash")?,
    })
}

/// Appends to the audit chain inside the caller's transaction, serialised on
/// the head row: every area that audits what it writes commits both at once.
pub(super) async fn append_audit_on(
    conn: &mut AnyConnection,
    backend: Backend,
    event: AuditEvent,
) -> Result<AuditEntry, StoreError> {
    let details_json =
        serde_json::to_string(&event.details).map_err(|source| StoreError::Encode { what: "audit details", source })?;
    let lock = match backend {
        Backend::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
    };
    let head = sqlx::query(lock).fetch_one(&mut *conn).await?;
    let prev_hash = bytes32(&head, "hash")?;
    let seq = count(head.try_get("seq")?) + 1;
    let hash = entry_hash(&prev_hash, seq, &event, &details_json);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, kind, actor, subject, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(signed(seq))
    .bind(event.at)
    .bind(event.kind.as_str())
    .bind(event.actor.as_str())
    .bind(event.subject.map(|s| s.0.to_vec()))
    .bind(details_json.as_str())
    .bind(prev_hash.to_vec())
    .bind(hash.to_vec())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(signed(seq))
        .bind(hash.to_vec())
        .execute(&mut *conn)
        .await?;
    Ok(AuditEntry { seq, event, details_json, prev_hash, hash })
}

impl SqlStore {
    /// Appends to the audit chain (one transaction, serialised on the chain head).
    pub async fn append_audit(&self, event: AuditEvent) -> Result<AuditEntry, StoreError> {
        let mut tx = self.write_transaction().await?;
        let entry = append_audit_on(&mut tx, self.backend, event).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Entries with `seq > after`, in order, at most `limit`.
    pub async fn audit_after(&self, after: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(signed(after))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_from).collect()
    }

    /// Entries of one `kind` at or after `since` (seconds) with `seq > after`,
    /// in order, at most `limit`: the operator console's statistics, a page at a time.
    pub async fn audit_of_kind_since(
        &self,
        kind: &str,
        since: i64,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM audit_log WHERE kind = $1 AND at >= $2 AND seq > $3 ORDER BY seq LIMIT $4")
                .bind(kind)
                .bind(since)
                .bind(signed(after))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(audit_from).collect()
    }

    /// Entries about one citizen with `seq > after`, in order, at most
    /// `limit`: what they may read of their own log, a page at a time.
    pub async fn audit_of(&self, subject: &BlindIndex, after: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE subject = $1 AND seq > $2 ORDER BY seq LIMIT $3")
            .bind(subject.0.to_vec())
            .bind(signed(after))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_from).collect()
    }

    /// Verifies the chain up to the head as it was when the check began, and
    /// that the head matches its entry: entries appended meanwhile are not
    /// read, so a check during writes sees one consistent chain.
    pub async fn verify_audit(&self) -> Result<Result<u64, BrokenLink>, StoreError> {
        // The head first: every entry up to it was committed with it, and
        // entries appended while the check runs lie beyond it and are not read.
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&self.pool).await?;
        let (head_seq, head_hash): (i64, Vec<u8>) = (head.try_get("seq")?, head.try_get("hash")?);
        let (mut prev, mut next_seq, mut verified) = (GENESIS, 1u64, 0u64);
        loop {
            let batch = sqlx::query("SELECT * FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3")
                .bind(signed(next_seq))
                .bind(head_seq)
                .bind(i64::from(BATCH))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(audit_from)
                .collect::<Result<Vec<_>, _>>()?;
            let Some(last) = batch.last().cloned() else { break };
            match verify_chain(&batch, prev, next_seq) {
                Ok(n) => verified += n,
                Err(broken) => return Ok(Err(broken)),
            }
            prev = last.hash;
            next_seq = last.seq + 1;
        }
        if count(head_seq) != next_seq - 1 || head_hash != prev {
            return Ok(Err(BrokenLink {
                seq: next_seq,
                reason: "the chain head does not match the last entry (entries were removed from the end)".into(),
            }));
        }
        Ok(Ok(verified))
    }
}
