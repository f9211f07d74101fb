//! The police's tables: the entries hotels forwarded (the ID number sealed
//! to the police's key, as the hotel got it) and every opening of one.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use shenfen_credential::{PrivateJwk, open_sealed};
use sqlx::Row;

use super::evidence::Attested;
use crate::db::Db;
use crate::error::ServicesError;

/// The longest stay the register covers (the desk's limit).
const NIGHTS_MAX: i64 = 90;

/// The longest presentation a hotel forwards (a check-in QR's is about 1.5 KB).
const PRESENTATION_MAX: usize = 16 * 1024;

/// A register entry as a hotel forwards it: the stay, and the guest's
/// presentation as shown at the desk (the evidence, with the sealed ID number).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Entry {
    pub(crate) entry_id: String,
    room: String,
    pub(crate) arrival: String,
    nights: i64,
    pub(crate) presentation: String,
}

impl Entry {
    /// Bounds on what a hotel sends; the sealed value is opened only when an officer asks.
    pub(crate) fn check(&self) -> Result<(), String> {
        let fine = !self.entry_id.is_empty()
            && self.entry_id.len() <= 64
            && !self.room.is_empty()
            && self.room.len() <= 64
            && NaiveDate::parse_from_str(&self.arrival, "%Y-%m-%d").is_ok()
            && (1..=NIGHTS_MAX).contains(&self.nights)
            && !self.presentation.is_empty()
            && self.presentation.len() <= PRESENTATION_MAX;
        if fine {
            Ok(())
        } else {
            Err(format!("entry {:?} is malformed", self.entry_id.chars().take(64).collect::<String>()))
        }
    }
}

/// An entry opened for an officer.
#[derive(Debug, Serialize)]
pub(crate) struct Opened {
    pub(crate) hotel: String,
    pub(crate) entry_id: String,
    pub(crate) room: String,
    pub(crate) arrival: String,
    pub(crate) nights: i64,
    /// `None` when the sealed value does not open with the police's key (logged).
    pub(crate) name: Option<String>,
    pub(crate) id_number: Option<String>,
}

/// Keeps the hotel's attested entries (one transaction; an entry or a
/// presentation sent again is kept once); answers how many were new.
pub(crate) async fn receive(db: &Db, hotel: &str, entries: &[Attested<'_>], now: i64) -> Result<u64, ServicesError> {
    let mut tx = db.write().await?;
    let mut received = 0;
    for attested in entries {
        let entry = attested.entry;
        received += sqlx::query(
            "INSERT INTO police_register (hotel, entry_id, room, arrival, nights, sealed_id_number, received_at, \
             shown_at, presentation_hash, guest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(hotel)
        .bind(entry.entry_id.as_str())
        .bind(entry.room.as_str())
        .bind(entry.arrival.as_str())
        .bind(entry.nights)
        .bind(attested.sealed_id_number.as_str())
        .bind(now)
        .bind(attested.shown_at)
        .bind(attested.presentation_hash.as_slice())
        .bind(attested.guest.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(received)
}

/// The guests staying the night of `night`, each sealed value opened with
/// `key`, and each opening recorded for `officer` in the same transaction.
pub(crate) async fn open_night(
    db: &Db,
    key: &PrivateJwk,
    night: NaiveDate,
    officer: &str,
    now: i64,
) -> Result<Vec<Opened>, ServicesError> {
    let earliest = night - chrono::Duration::days(NIGHTS_MAX);
    let mut tx = db.write().await?;
    let rows = sqlx::query(
        "SELECT hotel, entry_id, room, arrival, nights, sealed_id_number FROM police_register \
         WHERE arrival > $1 AND arrival <= $2 ORDER BY hotel, room, entry_id",
    )
    .bind(earliest.format("%Y-%m-%d").to_string())
    .bind(night.format("%Y-%m-%d").to_string())
    .fetch_all(&mut *tx)
    .await?;
    let mut opened = Vec::new();
    for row in rows {
        let arrival: String = row.try_get("arrival")?;
        let nights: i64 = row.try_get("nights")?;
        let start =
            NaiveDate::parse_from_str(&arrival, "%Y-%m-%d").map_err(|e| ServicesError::Corrupt(e.to_string()))?;
        if start + chrono::Duration::days(nights) <= night {
            continue;
        }
        let (hotel, entry_id): (String, String) = (row.try_get("hotel")?, row.try_get("entry_id")?);
        let identity = open_identity(key, &row.try_get::<String, _>("sealed_id_number")?);
        if identity.is_none() {
            tracing::warn!(%hotel, %entry_id, "a register entry's sealed ID number does not open with the police's key");
        }
        let (name, id_number) = identity.unzip();
        sqlx::query("INSERT INTO police_openings (hotel, entry_id, officer, opened_at) VALUES ($1, $2, $3, $4)")
            .bind(hotel.as_str())
            .bind(entry_id.as_str())
            .bind(officer)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        opened.push(Opened { hotel, entry_id, room: row.try_get("room")?, arrival, nights, name, id_number });
    }
    tx.commit().await?;
    Ok(opened)
}

/// The `{"id_number", "name"}` sealed at issuance, opened: `(name, id_number)`.
fn open_identity(key: &PrivateJwk, jwe: &str) -> Option<(String, String)> {
    let plain = open_sealed(key, jwe).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&plain).ok()?;
    let text = |name: &str| value.get(name).and_then(serde_json::Value::as_str).map(str::to_owned);
    Some((text("name")?, text("id_number")?))
}
