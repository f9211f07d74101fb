//! The railway's tables: the timetable, tickets bound to pseudonyms, the
//! requests it opened to wallets, its gate devices and the QRs gates accepted.
//! Every change of a ticket is one statement or one transaction, guarded by
//! the state it expects, so two gates or two recipients cannot both win.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::Row;

use crate::db::{Db, unique_violation};
use crate::error::ServicesError;
use crate::sealed::Sealer;
use crate::secrets::{random_token, token_hash};

/// Seconds a transfer or acceptance link stays valid.
pub(crate) const OFFER_SECS: i64 = 24 * 3600;

/// A train of the timetable.
#[derive(Debug, Clone)]
pub(crate) struct Train {
    pub(crate) id: String,
    pub(crate) number: String,
    pub(crate) date: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) departs: String,
    pub(crate) seats_left: i64,
}

/// A ticket as its holder (or buyer) sees it.
#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    pub(crate) id: String,
    pub(crate) train: String,
    pub(crate) status: String,
    /// Whether the one looking holds it (else they bought it for a co-traveller).
    pub(crate) held: bool,
}

/// The seeded timetable: the same trains every day, today and the next two.
const TIMETABLE: [(&str, &str, &str, &str, i64); 3] = [
    ("G1", "北京南 Beijing South", "上海虹桥 Shanghai Hongqiao", "09:00", 600),
    ("G79", "北京西 Beijing West", "深圳北 Shenzhen North", "10:00", 600),
    ("D301", "北京 Beijing", "长春 Changchun", "21:10", 2),
];

/// Adds the timetable's trains for `dates` (`YYYY-MM-DD`) that are not there yet.
pub(crate) async fn seed_timetable(db: &Db, dates: &[String]) -> Result<(), ServicesError> {
    let mut tx = db.write().await?;
    for date in dates {
        for (number, from, to, departs, seats) in TIMETABLE {
            sqlx::query(
                "INSERT INTO rail_trains (id, number, travel_date, from_station, to_station, departs, seats) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(format!("{number}-{date}"))
            .bind(number)
            .bind(date)
            .bind(from)
            .bind(to)
            .bind(departs)
            .bind(seats)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Trains from `date` on, with the seats not yet sold (a co-traveller's
/// ticket not accepted within [`OFFER_SECS`] no longer holds its seat).
pub(crate) async fn trains(db: &Db, date: &str, now: i64) -> Result<Vec<Train>, ServicesError> {
    let rows = sqlx::query(
        "SELECT t.id, t.number, t.travel_date, t.from_station, t.to_station, t.departs, \
         t.seats - (SELECT COUNT(*) FROM rail_tickets k WHERE k.train_id = t.id \
         AND NOT (k.status = 'pending' AND k.bought_at <= $2)) AS seats_left \
         FROM rail_trains t WHERE t.travel_date >= $1 ORDER BY t.travel_date, t.departs",
    )
    .bind(date)
    .bind(now - OFFER_SECS)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Train {
                id: r.try_get("id")?,
                number: r.try_get("number")?,
                date: r.try_get("travel_date")?,
                from: r.try_get("from_station")?,
                to: r.try_get("to_station")?,
                departs: r.try_get("departs")?,
                seats_left: r.try_get("seats_left")?,
            })
        })
        .collect()
}

/// What a purchase made.
#[derive(Debug)]
pub enum Bought {
    /// A ticket bound to the buyer.
    Ticket(String),
    /// A ticket waiting for the named co-traveller: its id and the acceptance token.
    Pending(String, String),
    /// No seat left, or no such train.
    SoldOut,
    /// The buyer holds a ticket on this train already (one per passenger and train).
    Held,
}

/// Sells a seat on `train` to `buyer`, or for the co-traveller `named` (their
/// name sealed until they accept): releasing the train's expired pending
/// seats, taking one and writing the ticket is one transaction.
pub async fn sell(
    db: &Db,
    sealer: &Sealer,
    train: &str,
    buyer: &str,
    named: Option<&str>,
    now: i64,
) -> Result<Bought, ServicesError> {
    let mut tx = db.write().await?;
    release_expired_pending(&mut tx, train, now).await?;
    // The seat is taken by one guarded update, which the database serialises
    // per train row: a count read first would let two buyers share the last seat.
    let taken = sqlx::query("UPDATE rail_trains SET sold = sold + 1 WHERE id = $1 AND sold < seats")
        .bind(train)
        .execute(&mut *tx)
        .await?;
    if taken.rows_affected() == 0 {
        return Ok(Bought::SoldOut);
    }
    let id = format!("T{}", &random_token()?[..12]);
    let (holder, status, sealed, accept) = match named {
        None => (Some(buyer), "valid", None, None),
        Some(name) => {
            let token = random_token()?;
            (None, "pending", Some(sealer.seal(name.as_bytes(), &id)?), Some(token))
        }
    };
    let written = sqlx::query(
        "INSERT INTO rail_tickets (id, train_id, buyer, holder, status, sealed_name, accept_hash, bought_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(train)
    .bind(buyer)
    .bind(holder)
    .bind(status)
    .bind(sealed)
    .bind(accept.as_deref().map(token_hash))
    .bind(now)
    .execute(&mut *tx)
    .await;
    // The unique (train, holder) index refuses a second ticket of the buyer's
    // own; the transaction is dropped, so the seat is not taken.
    if unique_violation(written)?.is_none() {
        return Ok(Bought::Held);
    }
    tx.commit().await?;
    Ok(match accept {
        None => Bought::Ticket(id),
        Some(token) => Bought::Pending(id, token),
    })
}

/// Gives back the seats of `train`'s tickets whose named co-traveller did
/// not accept within [`OFFER_SECS`]: they are removed, and the train's count
/// lowered by as many, in the caller's transaction.
async fn release_expired_pending(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    train: &str,
    now: i64,
) -> Result<(), ServicesError> {
    let expired =
        sqlx::query("DELETE FROM rail_tickets WHERE train_id = $1 AND status = 'pending' AND bought_at <= $2")
            .bind(train)
            .bind(now - OFFER_SECS)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if expired > 0 {
        sqlx::query("UPDATE rail_trains SET sold = sold - $1 WHERE id = $2")
            .bind(i64::try_from(expired).unwrap_or(i64::MAX))
            .bind(train)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The tickets `passenger` holds or bought for someone else.
pub(crate) async fn tickets_of(db: &Db, passenger: &str) -> Result<Vec<Ticket>, ServicesError> {
    let rows = sqlx::query(
        "SELECT k.id, t.number || ' ' || t.travel_date || ' ' || t.departs || ' ' || t.from_station || ' → ' || \
         t.to_station AS train, k.status, k.holder FROM rail_tickets k JOIN rail_trains t ON t.id = k.train_id \
         WHERE k.holder = $1 OR (k.buyer = $1 AND k.status = 'pending') ORDER BY t.travel_date, t.departs, k.id",
    )
    .bind(passenger)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let holder: Option<String> = r.try_get("holder")?;
            Ok(Ticket {
                id: r.try_get("id")?,
                train: r.try_get("train")?,
                status: r.try_get("status")?,
                held: holder.as_deref() == Some(passenger),
            })
        })
        .collect()
}

/// Offers `ticket` for transfer if `holder` holds it unused: answers the
/// link's token (a new offer replaces an older one).
pub(crate) async fn offer_transfer(
    db: &Db,
    ticket: &str,
    holder: &str,
    now: i64,
) -> Result<Option<String>, ServicesError> {
    let token = random_token()?;
    let offered = sqlx::query(
        "UPDATE rail_tickets SET transfer_hash = $1, transfer_expires = $2 \
         WHERE id = $3 AND holder = $4 AND status = 'valid'",
    )
    .bind(token_hash(&token))
    .bind(now + OFFER_SECS)
    .bind(ticket)
    .bind(holder)
    .execute(db.pool())
    .await?;
    Ok((offered.rows_affected() == 1).then_some(token))
}

/// What a wallet request opened for an offer link remembers of it: the
/// link's token hashed, as the ticket holds it — never the token, a bearer
/// secret that a copy of the requests table would otherwise hand out.
pub(crate) fn offer_digest(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(token_hash(token))
}

/// The hash an [`offer_digest`] holds (empty, matching nothing, if it is not one).
fn digest_bytes(digest: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(digest).unwrap_or_default()
}

/// Rebinds the ticket offered under the link of `digest` to `recipient`, in
/// one statement: the offer is used up, the old binding gone. Closed if the
/// offer is unknown, expired, used, the ticket no longer valid, or the
/// recipient its holder already; held if the recipient holds a ticket on that train.
pub(crate) async fn accept_transfer(
    db: &Db,
    digest: &str,
    recipient: &str,
    now: i64,
) -> Result<Accepted, ServicesError> {
    let row = sqlx::query(
        "UPDATE rail_tickets SET holder = $1, transfer_hash = NULL, transfer_expires = NULL \
         WHERE transfer_hash = $2 AND transfer_expires > $3 AND status = 'valid' AND holder <> $1 RETURNING id",
    )
    .bind(recipient)
    .bind(digest_bytes(digest))
    .bind(now)
    .fetch_optional(db.pool())
    .await;
    Ok(match unique_violation(row)? {
        None => Accepted::Held,
        Some(None) => Accepted::Closed,
        Some(Some(row)) => Accepted::Bound(row.try_get("id")?),
    })
}

/// Whether a link's token still names an open offer: a transfer (`transfer`)
/// or a co-traveller's acceptance (`accept`) — checked before the railway
/// asks a wallet, so a made-up link costs one indexed read.
pub(crate) async fn offer_open(db: &Db, intent: &str, token: &str, now: i64) -> Result<bool, ServicesError> {
    let (statement, since) = match intent {
        "transfer" => ("SELECT 1 AS open_ FROM rail_tickets WHERE transfer_hash = $1 AND transfer_expires > $2", now),
        _ => (
            "SELECT 1 AS open_ FROM rail_tickets WHERE accept_hash = $1 AND status = 'pending' AND bought_at > $2",
            now - OFFER_SECS,
        ),
    };
    let row = sqlx::query(statement).bind(token_hash(token)).bind(since).fetch_optional(db.pool()).await?;
    Ok(row.is_some())
}

/// How taking a ticket offered by a link ended (a named co-traveller's or a transfer).
#[derive(Debug, PartialEq)]
pub(crate) enum Accepted {
    /// Bound to them.
    Bound(String),
    /// The disclosed name is not the one the buyer named.
    OtherName,
    /// No such open offer (or taken meanwhile).
    Closed,
    /// They hold a ticket on that train already.
    Held,
}

/// Binds the pending ticket of the acceptance link of `digest` to
/// `passenger` if `disclosed_name` is the name the buyer gave; one transaction, used once.
pub(crate) async fn accept_ticket(
    db: &Db,
    sealer: &Sealer,
    digest: &str,
    passenger: &str,
    disclosed_name: &str,
    now: i64,
) -> Result<Accepted, ServicesError> {
    let mut tx = db.write().await?;
    let row = sqlx::query(
        "SELECT id, sealed_name FROM rail_tickets WHERE accept_hash = $1 AND status = 'pending' AND bought_at > $2",
    )
    .bind(digest_bytes(digest))
    .bind(now - OFFER_SECS)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(Accepted::Closed) };
    let id: String = row.try_get("id")?;
    let sealed: Vec<u8> = row.try_get("sealed_name")?;
    let named = sealer.open(&sealed, &id)?;
    if named.as_slice() != disclosed_name.as_bytes() {
        return Ok(Accepted::OtherName);
    }
    let bound = sqlx::query(
        "UPDATE rail_tickets SET holder = $1, status = 'valid', sealed_name = NULL, accept_hash = NULL \
         WHERE id = $2 AND status = 'pending'",
    )
    .bind(passenger)
    .bind(&id)
    .execute(&mut *tx)
    .await;
    let Some(bound) = unique_violation(bound)? else { return Ok(Accepted::Held) };
    tx.commit().await?;
    Ok(if bound.rows_affected() == 1 { Accepted::Bound(id) } else { Accepted::Closed })
}

/// Remembers the wallet request `request_id` opened for `intent` (and its
/// `target` offer), for the browser holding `browser_secret` alone.
pub(crate) async fn remember_ask(
    db: &Db,
    browser_secret: &str,
    request_id: &str,
    intent: &str,
    target: Option<&str>,
    expires_at: i64,
) -> Result<(), ServicesError> {
    sqlx::query(
        "INSERT INTO rail_asks (browser_hash, request_id, intent, target, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash(browser_secret))
    .bind(request_id)
    .bind(intent)
    .bind(target)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// What the browser holding `browser_secret` asked, if still open: the
/// request's id, its intent and target.
pub(crate) async fn ask_of(
    db: &Db,
    browser_secret: &str,
    now: i64,
) -> Result<Option<(String, String, Option<String>)>, ServicesError> {
    let row =
        sqlx::query("SELECT request_id, intent, target FROM rail_asks WHERE browser_hash = $1 AND expires_at > $2")
            .bind(token_hash(browser_secret))
            .bind(now)
            .fetch_optional(db.pool())
            .await?;
    row.map(|r| Ok((r.try_get("request_id")?, r.try_get("intent")?, r.try_get("target")?))).transpose()
}

/// Forgets the ask of `browser_secret` once its answer was used.
pub(crate) async fn forget_ask(db: &Db, browser_secret: &str) -> Result<(), ServicesError> {
    sqlx::query("DELETE FROM rail_asks WHERE browser_hash = $1")
        .bind(token_hash(browser_secret))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Registers a gate device; answers its token (kept only as a hash).
pub async fn add_gate(db: &Db, name: &str, now: i64) -> Result<String, ServicesError> {
    let token = random_token()?;
    sqlx::query("INSERT INTO rail_gates (token_hash, name, added_at) VALUES ($1, $2, $3)")
        .bind(token_hash(&token))
        .bind(name)
        .bind(now)
        .execute(db.pool())
        .await?;
    Ok(token)
}

/// The name of the gate whose token this is.
pub(crate) async fn gate_named(db: &Db, token: &str) -> Result<Option<String>, ServicesError> {
    let row = sqlx::query("SELECT name FROM rail_gates WHERE token_hash = $1")
        .bind(token_hash(token))
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.try_get("name")).transpose()?)
}

/// Whether a QR was accepted already (read only).
pub(crate) async fn seen(db: &Db, qr_hash: &[u8]) -> Result<bool, ServicesError> {
    let row = sqlx::query("SELECT 1 AS seen FROM rail_seen_qrs WHERE qr_hash = $1")
        .bind(qr_hash)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.is_some())
}

/// Remembers a QR until `expires_at`; false if it was seen already (a replay).
pub(crate) async fn first_sight(db: &Db, qr_hash: &[u8], expires_at: i64) -> Result<bool, ServicesError> {
    let inserted =
        sqlx::query("INSERT INTO rail_seen_qrs (qr_hash, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(qr_hash)
            .bind(expires_at)
            .execute(db.pool())
            .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Which ticket a gate scan is for.
#[derive(Debug, Clone, Copy)]
pub enum Boarding<'a> {
    /// The ticket of this number (read from the itinerary).
    Ticket(&'a str),
    /// The passenger's ticket on the train of this id, the one the gate boards
    /// (a passenger holds at most one per train).
    Train(&'a str),
}

impl<'a> Boarding<'a> {
    /// The ticket column the scan names and its value. The column is a fixed
    /// name, never input: it is written into the statement.
    fn named(self) -> (&'static str, &'a str) {
        match self {
            Boarding::Ticket(id) => ("id", id),
            Boarding::Train(id) => ("train_id", id),
        }
    }
}

/// How a ticket fared at the gate.
#[derive(Debug, PartialEq)]
pub(crate) enum Passage {
    /// Through: the ticket and the train it is for.
    Through { ticket: String, train: String },
    /// Held by another pseudonym.
    OtherHolder,
    /// Used already.
    Used,
    /// The passenger's, but for a train of another day.
    OtherDay,
    /// No such ticket, not bound to anyone yet, or (by train) none of the passenger's.
    NoTicket,
}

/// Marks the ticket `boarding` names used if `passenger` holds it unused for
/// a train of `date` — one statement, so of two gates on one database one
/// passage wins; otherwise says why not.
pub(crate) async fn pass(
    db: &Db,
    boarding: Boarding<'_>,
    passenger: &str,
    gate: &str,
    (date, now): (&str, i64),
) -> Result<Passage, ServicesError> {
    let (column, named) = boarding.named();
    // Safe to format: `column` is one of two fixed names, never input.
    let passed = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE rail_tickets SET status = 'used', used_at = $1, used_gate = $2, transfer_hash = NULL \
         WHERE {column} = $3 AND holder = $4 AND status = 'valid' \
         AND train_id IN (SELECT id FROM rail_trains WHERE travel_date = $5) RETURNING id, train_id"
    )))
    .bind(now)
    .bind(gate)
    .bind(named)
    .bind(passenger)
    .bind(date)
    .fetch_optional(db.pool())
    .await?;
    if let Some(row) = passed {
        return Ok(Passage::Through { ticket: row.try_get("id")?, train: row.try_get("train_id")? });
    }
    // Why not: by number, whoever holds it; by train, only whether the
    // passenger used their ticket on it today — a gate learns nothing of
    // their tickets on other trains or days.
    let row = match boarding {
        Boarding::Ticket(id) => sqlx::query("SELECT holder, status FROM rail_tickets WHERE id = $1").bind(id),
        Boarding::Train(train) => sqlx::query(
            "SELECT holder, status FROM rail_tickets WHERE train_id = $1 AND holder = $2 AND status = 'used' \
             AND train_id IN (SELECT id FROM rail_trains WHERE travel_date = $3)",
        )
        .bind(train)
        .bind(passenger)
        .bind(date),
    }
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(Passage::NoTicket) };
    let (holder, status): (Option<String>, String) = (row.try_get("holder")?, row.try_get("status")?);
    Ok(match (holder, status.as_str()) {
        (Some(holder), _) if holder != passenger => Passage::OtherHolder,
        (Some(_), "used") => Passage::Used,
        (Some(_), "valid") => Passage::OtherDay,
        _ => Passage::NoTicket,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fresh_postgres;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn twenty_buyers_of_a_two_seat_train_at_once_get_two_tickets_on_postgres() {
        let db = Db::open(&fresh_postgres("rail_seats").await).await.unwrap();
        seed_timetable(&db, &["2026-11-29".to_owned()]).await.unwrap();
        let sealer = std::sync::Arc::new(Sealer::new(&[7; 32]).unwrap());
        let sales = (0..20).map(|i| {
            let (db, sealer) = (db.clone(), sealer.clone());
            tokio::spawn(async move { sell(&db, &sealer, "D301-2026-11-29", &format!("buyer-{i}"), None, 100).await })
        });
        let mut sold = 0;
        for sale in sales {
            if matches!(sale.await.unwrap().unwrap(), Bought::Ticket(_)) {
                sold += 1;
            }
        }
        assert_eq!(sold, 2, "the train has two seats");
        db.close().await;
    }
}
