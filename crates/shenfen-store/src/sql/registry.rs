//! The citizen registry: sealed entries, import progress, key rotation.

use std::collections::HashSet;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{BATCH, SqlStore, count, sealed_value_from, signed};
use crate::crash_point::crash_point;
use crate::{BlindIndex, KeyProvider, SealedEntry, StoreError};

/// Rows per multi-row INSERT: one round trip instead of hundreds, and 2,500
/// bound parameters, well under SQLite's limit of 32,766.
const ROWS_PER_INSERT: usize = 500;

/// How far a registry import has come, committed with each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportProgress {
    /// The first input line not yet processed.
    pub next_line: u64,
    /// Rows stored so far.
    pub imported: u64,
    /// Rows refused so far.
    pub rejected: u64,
}

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

fn sealed_from(row: &AnyRow) -> Result<SealedEntry, StoreError> {
    Ok(SealedEntry {
        index: BlindIndex::from_slice(&row.try_get::<Vec<u8>, _>("blind_index")?)?,
        key_id: row.try_get("key_id")?,
        wrapped_key: row.try_get("wrapped_key")?,
        ciphertext: row.try_get("ciphertext")?,
    })
}

impl SqlStore {
    /// Stores a batch of sealed entries (replacing any with the same index) and
    /// the import's progress, in one transaction: after a crash either both or
    /// neither are there.
    pub async fn put_entries(
        &self,
        batch: &[SealedEntry],
        source: &str,
        progress: ImportProgress,
        now: i64,
    ) -> Result<(), StoreError> {
        // One statement may not touch a row twice (PostgreSQL refuses it), so a
        // citizen listed twice in a batch keeps its last row, as sequential upserts would.
        let mut seen = HashSet::new();
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

    /// The sealed entry at `index`, if any.
    pub async fn entry(&self, index: &BlindIndex) -> Result<Option<SealedEntry>, StoreError> {
        let row =
            sqlx::query("SELECT blind_index, key_id, wrapped_key, ciphertext FROM citizens WHERE blind_index = $1")
                .bind(index.0.to_vec())
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(sealed_from).transpose()
    }

    /// Number of registry entries.
    pub async fn entry_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM citizens").fetch_one(&self.pool).await?.try_get("n")?;
        Ok(count(n))
    }

    /// Where the import of `source` stopped, if it ever started.
    pub async fn import_progress(&self, source: &str) -> Result<Option<ImportProgress>, StoreError> {
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

    /// Re-wraps every data key not under the provider's current master key, in
    /// batches of one transaction each; returns how many were re-wrapped.
    pub async fn rewrap(&self, keys: &dyn KeyProvider) -> Result<u64, StoreError> {
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
                let sealed = sealed_value_from(row)?;
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
}
