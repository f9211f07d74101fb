//! The hotel's tables: its desk devices, the QRs accepted (against replay,
//! shared by every desk on the database), and the guest register — the name
//! and the evidence sealed at rest, the ID number only as the police's JWE.

use sqlx::Row;

use super::checkin::Guest;
use crate::db::Db;
use crate::error::ServicesError;
use crate::sealed::Sealer;
use crate::secrets::{filing_reference, random_token, token_hash};

/// A stay as the desk writes it.
#[derive(Debug, Clone)]
pub(crate) struct Stay {
    pub(crate) room: String,
    /// `YYYY-MM-DD`, the night of arrival.
    pub(crate) arrival: String,
    pub(crate) nights: i64,
}

/// A register entry as it goes to the police: the stay and the guest's
/// presentation (the evidence the police verify; the ID number in it still
/// sealed to their key).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Forwarded {
    pub(crate) entry_id: String,
    pub(crate) room: String,
    pub(crate) arrival: String,
    pub(crate) nights: i64,
    pub(crate) presentation: String,
}

/// Registers desk device `name`; answers its token (shown once, kept as a hash).
pub(crate) async fn add_desk(db: &Db, name: &str, now: i64) -> Result<String, ServicesError> {
    let token = random_token()?;
    let added = sqlx::query(
        "INSERT INTO hotel_desks (token_hash, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(token_hash(&token))
    .bind(name)
    .bind(now)
    .execute(db.pool())
    .await?;
    if added.rows_affected() == 0 {
        return Err(ServicesError::ClerkExists(name.to_owned()));
    }
    Ok(token)
}

/// The desk a token belongs to. The token's SHA-256 is looked up, so no
/// comparison of the secret itself can leak its bytes by timing.
pub(crate) async fn desk_of(db: &Db, token: &str) -> Result<Option<String>, ServicesError> {
    let row = sqlx::query("SELECT name FROM hotel_desks WHERE token_hash = $1")
        .bind(token_hash(token))
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.try_get("name")).transpose()?)
}

/// Writes the guest's register entry, in one transaction with the QR's
/// replay mark: the first desk to insert the mark writes the entry; every
/// other (another desk, the same QR again) is told `None` — a replay.
pub(crate) async fn check_in(
    db: &Db,
    sealer: &Sealer,
    guest: &Guest,
    stay: &Stay,
    desk: &str,
    now: i64,
) -> Result<Option<String>, ServicesError> {
    let id = filing_reference()?;
    let mut tx = db.write().await?;
    let marked = sqlx::query(
        "INSERT INTO hotel_seen_qrs (replay_key, remember_until) VALUES ($1, $2) ON CONFLICT (replay_key) DO NOTHING",
    )
    .bind(guest.replay_key.as_str())
    .bind(guest.remember_until)
    .execute(&mut *tx)
    .await?;
    if marked.rows_affected() == 0 {
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO hotel_register (id, pseudonym, sealed_name, adult, room, arrival, nights, level, desk, \
         sealed_id_number, sealed_evidence, checked_in_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id.as_str())
    .bind(guest.pseudonym.as_str())
    .bind(sealer.seal(guest.name.as_bytes(), &format!("hotel_register/{id}/name"))?)
    .bind(i64::from(guest.adult))
    .bind(stay.room.as_str())
    .bind(stay.arrival.as_str())
    .bind(stay.nights)
    .bind(guest.level)
    .bind(desk)
    .bind(guest.sealed_id_number.as_str())
    .bind(sealer.seal(guest.presentation.as_bytes(), &format!("hotel_register/{id}/evidence"))?)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Entries not yet received by the police, oldest first (at most `limit`).
pub(crate) async fn unforwarded(db: &Db, sealer: &Sealer, limit: i64) -> Result<Vec<Forwarded>, ServicesError> {
    sqlx::query(
        "SELECT id, room, arrival, nights, sealed_evidence FROM hotel_register WHERE forwarded_at IS NULL \
         ORDER BY checked_in_at, id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|row| {
        let entry_id: String = row.try_get("id")?;
        let sealed: Vec<u8> = row.try_get("sealed_evidence")?;
        let presentation = sealer.open(&sealed, &format!("hotel_register/{entry_id}/evidence"))?;
        Ok(Forwarded {
            room: row.try_get("room")?,
            arrival: row.try_get("arrival")?,
            nights: row.try_get("nights")?,
            presentation: String::from_utf8(presentation.to_vec())
                .map_err(|e| ServicesError::Corrupt(e.to_string()))?,
            entry_id,
        })
    })
    .collect()
}

/// Marks entries the police acknowledged.
pub(crate) async fn mark_forwarded(db: &Db, ids: &[String], now: i64) -> Result<(), ServicesError> {
    let mut tx = db.write().await?;
    for id in ids {
        sqlx::query("UPDATE hotel_register SET forwarded_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Forgets accepted QRs that could no longer verify anyway.
pub(crate) async fn purge_seen(db: &Db, now: i64) -> Result<u64, ServicesError> {
    let removed =
        sqlx::query("DELETE FROM hotel_seen_qrs WHERE remember_until < $1").bind(now).execute(db.pool()).await?;
    Ok(removed.rows_affected())
}
