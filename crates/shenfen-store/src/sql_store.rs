//! [`Store`] over SQL: SQLite for the embedded default and PostgreSQL for
//! production, through one implementation (sqlx's `Any` driver) so both run
//! the same statements and the same test suite. Only the migrations and the
//! row lock of the audit head differ.

use sqlx::any::{AnyPoolOptions, AnyRow, install_default_drivers};
use sqlx::{AnyConnection, AnyPool, Executor, Row};

use crate::audit::{AuditEntry, AuditEvent, BrokenLink, GENESIS, entry_hash, verify_chain};
use crate::crash_point::crash_point;
use crate::store::{FRAME_PRINT_DAYS, ImportProgress, Store};
use shenfen_core::PinLockout;

use crate::{
    Attestation, BlindIndex, CredentialHolder, EnrollmentSession, Grant, GrantKind, Issuance, KeyProvider, Offer,
    Operator, PinReservation, PresentationRequest, RelyingParty, SealedEntry, SealedValue, StoreError, random_below,
};

/// Rows per transaction when re-wrapping keys or verifying the chain.
const BATCH: u32 = 1000;
/// Rounds of compare-and-set before a PIN reservation gives up under contention.
const PIN_RESERVATION_ROUNDS: usize = 64;
/// Rows per multi-row INSERT: one round trip instead of hundreds, and 2,500
/// bound parameters, well under SQLite's limit of 32,766.
const ROWS_PER_INSERT: usize = 500;

/// `INSERT … VALUES ($1..$5), ($6..$10), … ON CONFLICT … DO UPDATE` for `rows`
/// entries. Only placeholders are generated; no value is ever spliced in.
fn upsert_entries_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let p = r * 5;
            format!("(${}, ${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4, p + 5)
        })
        .collect();
    format!(
        "INSERT INTO citizens (blind_index, key_id, wrapped_key, ciphertext, updated_at) VALUES {} \
         ON CONFLICT (blind_index) DO UPDATE SET key_id = excluded.key_id, wrapped_key = excluded.wrapped_key, \
         ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
        values.join(", ")
    )
}

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, WAL journal; one connection (SQLite has one writer anyway).
    Sqlite,
    /// A PostgreSQL server (or a compatible distributed SQL engine).
    Postgres,
}

/// The SQL store.
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

    /// Re-wraps the frame prints' data keys under the current master key,
    /// batch by batch (each row found by its wrapped key, which is random).
    async fn rewrap_frame_prints(&self, keys: &dyn KeyProvider) -> Result<u64, StoreError> {
        let current = keys.current_key_id().to_owned();
        let mut total = 0;
        loop {
            let mut tx = self.write_transaction().await?;
            let rows =
                sqlx::query("SELECT key_id, wrapped_key, ciphertext FROM frame_prints WHERE key_id <> $1 LIMIT $2")
                    .bind(current.as_str())
                    .bind(i64::from(BATCH))
                    .fetch_all(&mut *tx)
                    .await?;
            if rows.is_empty() {
                return Ok(total);
            }
            for row in &rows {
                let sealed = SealedValue {
                    key_id: row.try_get("key_id")?,
                    wrapped_key: row.try_get("wrapped_key")?,
                    ciphertext: row.try_get("ciphertext")?,
                };
                let fresh = sealed.rewrapped(keys)?;
                sqlx::query("UPDATE frame_prints SET key_id = $1, wrapped_key = $2 WHERE wrapped_key = $3")
                    .bind(fresh.key_id.as_str())
                    .bind(fresh.wrapped_key.as_slice())
                    .bind(sealed.wrapped_key.as_slice())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            total += rows.len() as u64;
        }
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

fn sealed_from(row: &AnyRow) -> Result<SealedEntry, StoreError> {
    Ok(SealedEntry {
        index: BlindIndex::from_slice(&row.try_get::<Vec<u8>, _>("blind_index")?)?,
        key_id: row.try_get("key_id")?,
        wrapped_key: row.try_get("wrapped_key")?,
        ciphertext: row.try_get("ciphertext")?,
    })
}

/// A column that holds a SHA-256 or HMAC-SHA-256 value.
fn bytes32(row: &AnyRow, name: &str) -> Result<[u8; 32], StoreError> {
    row.try_get::<Vec<u8>, _>(name)?.try_into().map_err(|_| StoreError::Corrupt(format!("{name} is not 32 bytes")))
}

fn optional_bytes32(row: &AnyRow, name: &str) -> Result<Option<[u8; 32]>, StoreError> {
    let value: Option<Vec<u8>> = row.try_get(name)?;
    value.map(|v| v.try_into().map_err(|_| StoreError::Corrupt(format!("{name} is not 32 bytes")))).transpose()
}

fn subject_of(row: &AnyRow) -> Result<BlindIndex, StoreError> {
    BlindIndex::from_slice(&row.try_get::<Vec<u8>, _>("subject")?)
}

fn status_of(row: &AnyRow) -> Result<u8, StoreError> {
    u8::try_from(row.try_get::<i64, _>("status")?).map_err(|_| StoreError::Corrupt("status out of range".into()))
}

fn grant_from(row: &AnyRow) -> Result<Grant, StoreError> {
    Ok(Grant {
        subject: subject_of(row)?,
        edition: row.try_get("edition")?,
        tx_code_hash: optional_bytes32(row, "tx_code_hash")?,
    })
}

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

fn json_column(row: &AnyRow, name: &str) -> Result<serde_json::Value, StoreError> {
    let text: String = row.try_get(name)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

fn relying_party_from(row: &AnyRow) -> Result<RelyingParty, StoreError> {
    let claims = serde_json::from_value(json_column(row, "claims")?)
        .map_err(|e| StoreError::Corrupt(format!("relying party claims: {e}")))?;
    Ok(RelyingParty {
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        claims,
        api_key_hash: bytes32(row, "api_key_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

fn presentation_request_from(row: &AnyRow) -> Result<PresentationRequest, StoreError> {
    let key_id: Option<String> = row.try_get("result_key_id")?;
    let wrapped_key: Option<Vec<u8>> = row.try_get("result_wrapped_key")?;
    let ciphertext: Option<Vec<u8>> = row.try_get("result_ciphertext")?;
    let result = match (key_id, wrapped_key, ciphertext) {
        (Some(key_id), Some(wrapped_key), Some(ciphertext)) => Some(SealedValue { key_id, wrapped_key, ciphertext }),
        (None, None, None) => None,
        _ => return Err(StoreError::Corrupt("a presentation result is partly stored".into())),
    };
    Ok(PresentationRequest {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        nonce: row.try_get("nonce")?,
        state: row.try_get("state")?,
        query: json_column(row, "query")?,
        expires_at: row.try_get("expires_at")?,
        status: row.try_get("status")?,
        result,
    })
}

/// The columns of a presentation request, result included.
const PRESENTATION_REQUEST_COLUMNS: &str =
    "id, client_id, nonce, state, query, expires_at, status, result_key_id, result_wrapped_key, result_ciphertext";

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

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store for SqlStore {
    async fn put_entries(
        &self,
        batch: &[SealedEntry],
        source: &str,
        progress: ImportProgress,
        now: i64,
    ) -> Result<(), StoreError> {
        // One statement may not touch a row twice (PostgreSQL refuses it), so a
        // citizen listed twice in a batch keeps its last row, as sequential upserts would.
        let mut seen = std::collections::HashSet::new();
        let mut unique: Vec<&SealedEntry> = batch.iter().rev().filter(|e| seen.insert(e.index)).collect();
        unique.reverse();
        let mut tx = self.write_transaction().await?;
        for chunk in unique.chunks(ROWS_PER_INSERT) {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(upsert_entries_sql(chunk.len())));
            for entry in chunk {
                query = query
                    .bind(entry.index.0.to_vec())
                    .bind(entry.key_id.as_str())
                    .bind(entry.wrapped_key.as_slice())
                    .bind(entry.ciphertext.as_slice())
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        crash_point("import:before-progress");
        sqlx::query(
            "INSERT INTO import_progress (source, next_line, imported, rejected) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (source) DO UPDATE SET next_line = excluded.next_line, imported = excluded.imported, rejected = excluded.rejected",
        )
        .bind(source)
        .bind(signed(progress.next_line))
        .bind(signed(progress.imported))
        .bind(signed(progress.rejected))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn entry(&self, index: &BlindIndex) -> Result<Option<SealedEntry>, StoreError> {
        let row =
            sqlx::query("SELECT blind_index, key_id, wrapped_key, ciphertext FROM citizens WHERE blind_index = $1")
                .bind(index.0.to_vec())
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(sealed_from).transpose()
    }

    async fn entry_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM citizens").fetch_one(&self.pool).await?.try_get("n")?;
        Ok(count(n))
    }

    async fn import_progress(&self, source: &str) -> Result<Option<ImportProgress>, StoreError> {
        let row = sqlx::query("SELECT next_line, imported, rejected FROM import_progress WHERE source = $1")
            .bind(source)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(ImportProgress {
                next_line: count(r.try_get("next_line")?),
                imported: count(r.try_get("imported")?),
                rejected: count(r.try_get("rejected")?),
            })
        })
        .transpose()
    }

    async fn rewrap(&self, keys: &dyn KeyProvider) -> Result<u64, StoreError> {
        let current = keys.current_key_id().to_owned();
        let mut total = 0;
        loop {
            let mut tx = self.write_transaction().await?;
            let rows = sqlx::query(
                "SELECT blind_index, key_id, wrapped_key, ciphertext FROM citizens WHERE key_id <> $1 LIMIT $2",
            )
            .bind(current.as_str())
            .bind(i64::from(BATCH))
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                // The records are done: end this transaction before the prints' own.
                tx.commit().await?;
                return Ok(total + self.rewrap_frame_prints(keys).await?);
            }
            for row in &rows {
                let fresh = sealed_from(row)?.rewrapped(keys)?;
                sqlx::query("UPDATE citizens SET key_id = $1, wrapped_key = $2 WHERE blind_index = $3")
                    .bind(fresh.key_id.as_str())
                    .bind(fresh.wrapped_key.as_slice())
                    .bind(fresh.index.0.to_vec())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            total += rows.len() as u64;
        }
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<AuditEntry, StoreError> {
        let mut tx = self.write_transaction().await?;
        let entry = append_audit_on(&mut tx, self.backend, event).await?;
        tx.commit().await?;
        Ok(entry)
    }

    async fn audit_after(&self, after: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(signed(after))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_from).collect()
    }

    async fn audit_of_kind_since(
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

    async fn audit_of(&self, subject: &BlindIndex, after: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE subject = $1 AND seq > $2 ORDER BY seq LIMIT $3")
            .bind(subject.0.to_vec())
            .bind(signed(after))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_from).collect()
    }

    async fn verify_audit(&self) -> Result<Result<u64, BrokenLink>, StoreError> {
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

    async fn consume_nonce(&self, nonce: &str, expires_at: i64) -> Result<bool, StoreError> {
        let result =
            sqlx::query("INSERT INTO nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING")
                .bind(nonce)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        // Attempt windows are at most a day long; two days keeps every live one.
        let statements: [(&str, i64); 8] = [
            ("DELETE FROM nonces WHERE expires_at < $1", now),
            ("DELETE FROM enrollment_sessions WHERE expires_at < $1", now),
            ("DELETE FROM grants WHERE expires_at < $1", now),
            ("DELETE FROM operator_sessions WHERE expires_at < $1", now),
            ("DELETE FROM attestations WHERE expires_at < $1", now),
            ("DELETE FROM presentation_requests WHERE expires_at < $1", now),
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

    async fn count_attempt(&self, key: &str, window_start: i64) -> Result<u64, StoreError> {
        self.count_attempts(key, window_start, 1).await
    }

    async fn count_attempts(&self, key: &str, window_start: i64, n: u64) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        count_attempts_on(&mut conn, key, window_start, n).await
    }

    async fn release_attempt(&self, key: &str, window_start: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE attempts SET count = count - 1 WHERE key = $1 AND window_start = $2 AND count > 0")
            .bind(key)
            .bind(window_start)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn attempt_count(&self, key: &str, window_start: i64) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT count FROM attempts WHERE key = $1 AND window_start = $2")
            .bind(key)
            .bind(window_start)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<i64, _>("count")).transpose()?.map_or(0, count))
    }

    async fn create_session(&self, session: &EnrollmentSession) -> Result<(), StoreError> {
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

    async fn take_session(&self, id: &str, now: i64) -> Result<Option<EnrollmentSession>, StoreError> {
        let row = sqlx::query(
            "UPDATE enrollment_sessions SET consumed = 1 WHERE id = $1 AND consumed = 0 AND expires_at >= $2 \
             RETURNING id, subject, claim_digest, edition, challenge, created_at, expires_at",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(EnrollmentSession {
                id: r.try_get("id")?,
                subject: subject_of(&r)?,
                claim_digest: bytes32(&r, "claim_digest")?,
                edition: r.try_get("edition")?,
                challenge: r.try_get("challenge")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    async fn put_grant(
        &self,
        token_hash: &[u8; 32],
        kind: GrantKind,
        grant: &Grant,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        put_grant_on(&mut conn, token_hash, kind, grant, expires_at).await
    }

    async fn peek_grant(&self, token_hash: &[u8; 32], kind: GrantKind, now: i64) -> Result<Option<Grant>, StoreError> {
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

    async fn redeem_grant(
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

    async fn record_decision(
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
                let subject = offer.grant.subject.0.to_vec();
                sqlx::query("DELETE FROM attestations WHERE subject = $1")
                    .bind(subject.clone())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO pins (subject, pin_hash, failures, locked_until, updated_at) VALUES ($1, $2, 0, 0, $3) \
                     ON CONFLICT (subject) DO UPDATE SET pin_hash = excluded.pin_hash, failures = 0, locked_until = 0, \
                     updated_at = excluded.updated_at",
                )
                .bind(subject)
                .bind(pin_hash)
                .bind(event.at)
                .execute(&mut *tx)
                .await?;
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

    async fn frame_prints(&self, subject: &BlindIndex, since: i64, limit: u32) -> Result<Vec<SealedValue>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_id, wrapped_key, ciphertext FROM frame_prints WHERE subject = $1 AND seen_at >= $2 \
             ORDER BY seen_at DESC LIMIT $3",
        )
        .bind(subject.0.to_vec())
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SealedValue {
                    key_id: row.try_get("key_id")?,
                    wrapped_key: row.try_get("wrapped_key")?,
                    ciphertext: row.try_get("ciphertext")?,
                })
            })
            .collect()
    }

    async fn issue_slots(&self, issuance: Issuance<'_>, mut event: AuditEvent) -> Result<Option<Vec<u64>>, StoreError> {
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

    async fn revoke_subject(&self, subject: &BlindIndex, status: u8, mut event: AuditEvent) -> Result<u64, StoreError> {
        let mut tx = self.write_transaction().await?;
        let changed = set_status_on(&mut tx, subject, status).await?;
        if let serde_json::Value::Object(details) = &mut event.details {
            details.insert("count".into(), serde_json::Value::from(changed));
        }
        append_audit_on(&mut tx, self.backend, event).await?;
        tx.commit().await?;
        Ok(changed)
    }

    async fn credential_holder(&self, list_id: &str, idx: u64) -> Result<Option<CredentialHolder>, StoreError> {
        let row = sqlx::query("SELECT subject, status FROM credentials WHERE list_id = $1 AND idx = $2")
            .bind(list_id)
            .bind(signed(idx))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(CredentialHolder { subject: subject_of(&r)?, status: status_of(&r)? })).transpose()
    }

    async fn status_version(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT version FROM status_version WHERE id = 1").fetch_one(&self.pool).await?;
        Ok(count(row.try_get("version")?))
    }

    async fn status_entries(&self, list_id: &str) -> Result<Vec<(u64, u8)>, StoreError> {
        let rows = sqlx::query("SELECT idx, status FROM credentials WHERE list_id = $1 AND status <> 0 ORDER BY idx")
            .bind(list_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((count(r.try_get("idx")?), status_of(r)?))).collect()
    }

    async fn put_operator(&self, operator: &Operator, event: AuditEvent) -> Result<(), StoreError> {
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

    async fn operator(&self, username: &str) -> Result<Option<Operator>, StoreError> {
        let row = sqlx::query(
            "SELECT username, password_hash, role, disabled, created_at FROM operators WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(operator_from).transpose()
    }

    async fn create_operator_session(
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

    async fn operator_of_session(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<Operator>, StoreError> {
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

    async fn end_operator_session(&self, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM operator_sessions WHERE token_hash = $1")
            .bind(token_hash.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn put_attestation(&self, attestation: &Attestation, event: AuditEvent) -> Result<(), StoreError> {
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

    async fn attestation(&self, subject: &BlindIndex, now: i64) -> Result<Option<Attestation>, StoreError> {
        let row = sqlx::query(
            "SELECT subject, operator, method, tx_code_hash, expires_at FROM attestations \
             WHERE subject = $1 AND expires_at >= $2",
        )
        .bind(subject.0.to_vec())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Attestation {
                subject: subject_of(&r)?,
                operator: r.try_get("operator")?,
                method: r.try_get("method")?,
                tx_code_hash: bytes32(&r, "tx_code_hash")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    async fn reserve_pin_attempt(
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

    async fn settle_pin_attempt(
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

    async fn put_counter_device(
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

    async fn counter_device(&self, token_hash: &[u8; 32]) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT name FROM counter_devices WHERE token_hash = $1 AND disabled = 0")
            .bind(token_hash.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("name").map_err(StoreError::from)).transpose()
    }

    async fn put_relying_party(&self, party: &RelyingParty, event: AuditEvent) -> Result<(), StoreError> {
        let claims = serde_json::to_string(&party.claims).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.write_transaction().await?;
        sqlx::query(
            "INSERT INTO relying_parties (client_id, name, claims, api_key_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, claims = excluded.claims, \
             api_key_hash = excluded.api_key_hash",
        )
        .bind(party.client_id.as_str())
        .bind(party.name.as_str())
        .bind(claims)
        .bind(party.api_key_hash.to_vec())
        .bind(party.created_at)
        .execute(&mut *tx)
        .await?;
        append_audit_on(&mut tx, self.backend, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn relying_party(&self, client_id: &str) -> Result<Option<RelyingParty>, StoreError> {
        let row = sqlx::query(
            "SELECT client_id, name, claims, api_key_hash, created_at FROM relying_parties WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(relying_party_from).transpose()
    }

    async fn relying_parties(&self) -> Result<Vec<RelyingParty>, StoreError> {
        let rows = sqlx::query(
            "SELECT client_id, name, claims, api_key_hash, created_at FROM relying_parties ORDER BY client_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(relying_party_from).collect()
    }

    async fn create_presentation_request(&self, request: &PresentationRequest) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO presentation_requests (id, client_id, nonce, state, query, expires_at, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(request.id.as_str())
        .bind(request.client_id.as_str())
        .bind(request.nonce.as_str())
        .bind(request.state.as_str())
        .bind(request.query.to_string())
        .bind(request.expires_at)
        .bind(request.status.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn presentation_request(&self, id: &str) -> Result<Option<PresentationRequest>, StoreError> {
        let statement = format!("SELECT {PRESENTATION_REQUEST_COLUMNS} FROM presentation_requests WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(statement)).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(presentation_request_from).transpose()
    }

    async fn answer_presentation_request(
        &self,
        id: &str,
        state: &str,
        now: i64,
        status: &str,
        result: &SealedValue,
    ) -> Result<bool, StoreError> {
        let answered = sqlx::query(
            "UPDATE presentation_requests SET status = $1, result_key_id = $2, result_wrapped_key = $3, \
             result_ciphertext = $4 WHERE id = $5 AND state = $6 AND status = 'pending' AND expires_at >= $7",
        )
        .bind(status)
        .bind(result.key_id.as_str())
        .bind(result.wrapped_key.as_slice())
        .bind(result.ciphertext.as_slice())
        .bind(id)
        .bind(state)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(answered.rows_affected() == 1)
    }

    async fn take_answered_request(
        &self,
        id: &str,
        client_id: &str,
    ) -> Result<Option<PresentationRequest>, StoreError> {
        let statement = format!(
            "DELETE FROM presentation_requests WHERE id = $1 AND client_id = $2 AND status <> 'pending' \
             RETURNING {PRESENTATION_REQUEST_COLUMNS}"
        );
        let row =
            sqlx::query(sqlx::AssertSqlSafe(statement)).bind(id).bind(client_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(presentation_request_from).transpose()
    }

    async fn credential_status(&self, list_id: &str, idx: u64) -> Result<Option<u8>, StoreError> {
        let row = sqlx::query("SELECT status FROM credentials WHERE list_id = $1 AND idx = $2")
            .bind(list_id)
            .bind(signed(idx))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(status_of).transpose()
    }
}

/// Appends to the audit chain inside the caller's transaction, serialised on the head row.
async fn append_audit_on(
    conn: &mut AnyConnection,
    backend: Backend,
    event: AuditEvent,
) -> Result<AuditEntry, StoreError> {
    let details_json = serde_json::to_string(&event.details).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let lock = match backend {
        Backend::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
    };
    let head = sqlx::query(lock).fetch_one(&mut *conn).await?;
    let prev_hash: [u8; 32] = head
        .try_get::<Vec<u8>, _>("hash")?
        .try_into()
        .map_err(|_| StoreError::Corrupt("audit head hash is not 32 bytes".into()))?;
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

async fn count_attempts_on(conn: &mut AnyConnection, key: &str, window_start: i64, n: u64) -> Result<u64, StoreError> {
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
    Err(StoreError::Corrupt(format!("status list {list_id} has no free index left; start a new list")))
}
