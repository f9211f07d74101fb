//! The railway's tables: the timetable, tickets bound to pseudonyms, the
//! requests it opened to wallets, its gate devices and the QRs gates accepted.
//! Every change of a ticket is one statement or one transaction, guarded by
//! the state it expects, so two gates or two recipients cannot both win.

use sqlx::Row;

use crate::db::Db;
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

/// Trains from `date` on, with the seats not yet sold.
pub(crate) async fn trains(db: &Db, date: &str) -> Result<Vec<Train>, ServicesError> {
    let rows = sqlx::query(
        "SELECT t.id, t.number, t.travel_date, t.from_station, t.to_station, t.departs, \
         t.seats - (SELECT COUNT(*) FROM rail_tickets k WHERE k.train_id = t.id) AS seats_left \
         FROM rail_trains t WHERE t.travel_date >= $1 ORDER BY t.travel_date, t.departs",
    )
    .bind(date)
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
}

/// Sells a seat on `train` to `buyer`, or for the co-traveller `named` (their
/// name sealed until they accept): counting the seats and taking one is one transaction.
pub async fn sell(
    db: &Db,
    sealer: &Sealer,
    train: &str,
    buyer: &str,
    named: Option<&str>,
    now: i64,
) -> Result<Bought, ServicesError> {
    let mut tx = db.write().await?;
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
    sqlx::query(
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
    .await?;
    tx.commit().await?;
    Ok(match accept {
        None => Bought::Ticket(id),
        Some(token) => Bought::Pending(id, token),
    })
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

/// Rebinds the ticket offered under `token` to `recipient`, in one statement:
/// the offer is used up, the old binding gone; `None` if the offer is
/// unknown, expired, used, the ticket no longer valid, or the recipient its holder already.
pub(crate) async fn accept_transfer(
    db: &Db,
    token: &str,
    recipient: &str,
    now: i64,
) -> Result<Option<String>, ServicesError> {
    let row = sqlx::query(
        "UPDATE rail_tickets SET holder = $1, transfer_hash = NULL, transfer_expires = NULL \
         WHERE transfer_hash = $2 AND transfer_expires > $3 AND status = 'valid' AND holder <> $1 RETURNING id",
    )
    .bind(recipient)
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
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

/// How an acceptance by a named co-traveller ended.
#[derive(Debug, PartialEq)]
pub(crate) enum Accepted {
    /// Bound to them.
    Bound(String),
    /// The disclosed name is not the one the buyer named.
    OtherName,
    /// No such pending ticket (or accepted meanwhile).
    Closed,
}

/// Binds the pending ticket of acceptance `token` to `passenger` if
/// `disclosed_name` is the name the buyer gave; one transaction, used once.
pub(crate) async fn accept_ticket(
    db: &Db,
    sealer: &Sealer,
    token: &str,
    passenger: &str,
    disclosed_name: &str,
    now: i64,
) -> Result<Accepted, ServicesError> {
    let mut tx = db.write().await?;
    let row = sqlx::query(
        "SELECT id, sealed_name FROM rail_tickets WHERE accept_hash = $1 AND status = 'pending' AND bought_at > $2",
    )
    .bind(token_hash(token))
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
    .await?;
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

/// How a ticket fared at the gate.
#[derive(Debug, PartialEq)]
pub(crate) enum Passage {
    /// Through: the train it is for.
    Through(String),
    /// Held by another pseudonym.
    OtherHolder,
    /// Used already.
    Used,
    /// The passenger's, but for a train of another day.
    OtherDay,
    /// No such ticket, or not bound to anyone yet.
    NoTicket,
}

/// Marks `ticket` used if `passenger` holds it unused for a train of `date`
/// — one statement, so of two gates on one database one passage wins;
/// otherwise says why not.
pub(crate) async fn pass(
    db: &Db,
    ticket: &str,
    passenger: &str,
    gate: &str,
    (date, now): (&str, i64),
) -> Result<Passage, ServicesError> {
    let passed = sqlx::query(
        "UPDATE rail_tickets SET status = 'used', used_at = $1, used_gate = $2, transfer_hash = NULL \
         WHERE id = $3 AND holder = $4 AND status = 'valid' \
         AND train_id IN (SELECT id FROM rail_trains WHERE travel_date = $5) RETURNING train_id",
    )
    .bind(now)
    .bind(gate)
    .bind(ticket)
    .bind(passenger)
    .bind(date)
    .fetch_optional(db.pool())
    .await?;
    if let Some(row) = passed {
        return Ok(Passage::Through(row.try_get("train_id")?));
    }
    let row = sqlx::query("SELECT holder, status FROM rail_tickets WHERE id = $1")
        .bind(ticket)
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
