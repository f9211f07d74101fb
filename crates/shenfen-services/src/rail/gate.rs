//! The gate (检票闸机): a registered device sends the ticket's number and what
//! its scanner read from the passenger's wallet QR. The QR is verified
//! offline against the railway's cache of the authority's keys and whole
//! status list — bound to this railway, at most 90 seconds old, disclosing
//! the name and the railway's pseudonym, the card not revoked — then
//! remembered (a QR passes once), and the ticket is marked used in one
//! statement if that pseudonym holds it unused.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use shenfen_credential::{
    CredentialError, OfflinePolicy, VerifiedVc, VerifierCache, decode_qr_payload, verify_offline,
};

use super::store::{self, Passage};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use super::Shared;
use crate::db::Db;
use crate::error::{ProblemType, Refusal};

/// How long a wallet's QR is good for after it was made (the wallet refreshes it every 30 s).
pub(crate) const MAX_QR_AGE_SECS: i64 = 90;
/// Tolerated clock difference with phones, seconds.
const SKEW_SECS: i64 = 60;
/// Oldest cache a gate verifies with; older, QRs are refused (fail closed).
pub const MAX_CACHE_AGE_SECS: i64 = 3600;
/// Largest QR payload a gate reads: a version-40 code holds under 3 KB.
const MAX_PAYLOAD: usize = 4096;
/// Scans one gate device may send a minute, counted before any is decoded: a
/// real gate lets ~30 passengers through a minute; a runaway or stolen
/// device cannot make the railway verify more.
pub(crate) const SCANS_PER_MINUTE: u32 = 120;

/// What a gate sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scan {
    /// The ticket's number (printed on the itinerary, or read from it).
    ticket: String,
    /// The QR's payload as the scanner read it, base64url.
    qr: String,
}

/// The gates' check, shared by every gate device of the railway: its
/// database, the trust cache it verifies QRs with, and its origin (the
/// audience a gate QR must be bound to).
pub struct Gates {
    db: Db,
    cache: Arc<RwLock<VerifierCache>>,
    origin: String,
    /// Per gate device: the minute counted and its scans so far.
    budget: Mutex<HashMap<String, (i64, u32)>>,
}

impl Gates {
    /// The gates of the railway at `origin`.
    pub fn new(db: Db, cache: Arc<RwLock<VerifierCache>>, origin: &str) -> Gates {
        Gates { db, cache, origin: origin.trim_end_matches('/').to_owned(), budget: Mutex::default() }
    }

    /// Counts one scan of `gate` in the minute of `now`; false once over [`SCANS_PER_MINUTE`].
    fn within_budget(&self, gate: &str, now: i64) -> bool {
        let minute = now.div_euclid(60);
        let mut budget = self.budget.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Registered devices are few; last minute's counts are dropped as the minute turns.
        budget.retain(|_, (counted, _)| *counted == minute);
        let (_, scans) = budget.entry(gate.to_owned()).or_insert((minute, 0));
        *scans += 1;
        *scans <= SCANS_PER_MINUTE
    }

    /// One passenger at gate `gate`: the QR (its payload, base64url) verified,
    /// remembered, and `ticket` marked used if the QR's pseudonym holds it
    /// unused — `{passed, ticket, train, name}`, or the reason it is refused.
    pub async fn pass(&self, gate: &str, ticket: &str, qr: &str, now: i64) -> Result<Value, Refusal> {
        if !self.within_budget(gate, now) {
            return Err(Refusal::new(
                ProblemType::RateLimited,
                format!("at most {SCANS_PER_MINUTE} scans a minute from one gate; wait a moment"),
            ));
        }
        if qr.len() > MAX_PAYLOAD * 4 / 3 + 4 || ticket.len() > 64 {
            return Err(Refusal::new(
                ProblemType::PayloadTooLarge,
                format!("a QR payload is at most {MAX_PAYLOAD} bytes"),
            ));
        }
        let (vc, pseudonym, qr_hash) = self.checked(qr, now)?;
        if !store::first_sight(&self.db, &qr_hash, now + MAX_QR_AGE_SECS + SKEW_SECS).await? {
            return Err(Refusal::new(ProblemType::QrReplayed, "this very QR passed a gate already"));
        }
        let name = vc.claims.get("name").cloned().unwrap_or(Value::Null);
        match store::pass(&self.db, ticket, &pseudonym, gate, (&super::date_of(now), now)).await? {
            Passage::Through(train) => {
                tracing::info!(%ticket, %gate, "a passenger passed the gate");
                Ok(json!({ "passed": true, "ticket": ticket, "train": train, "name": name }))
            }
            Passage::OtherHolder => Err(Refusal::new(ProblemType::WrongPerson, "the ticket is another passenger's")),
            Passage::Used => Err(Refusal::new(ProblemType::TicketUsed, "the ticket passed a gate already")),
            Passage::OtherDay => Err(Refusal::new(ProblemType::NoTicket, "the ticket is for a train of another day")),
            Passage::NoTicket => Err(Refusal::new(ProblemType::NoTicket, "no such ticket is bound to a passenger")),
        }
    }

    /// The QR verified against the railway's cache: the credential, the
    /// railway's pseudonym it discloses, and the hash it is remembered by.
    fn checked(&self, qr: &str, now: i64) -> Result<(VerifiedVc, String, Vec<u8>), Refusal> {
        let bytes = URL_SAFE_NO_PAD
            .decode(qr.trim())
            .map_err(|_| Refusal::new(ProblemType::QrInvalid, "the QR payload is not base64url"))?;
        let presentation = decode_qr_payload(&bytes).map_err(refused)?;
        let cache = self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let policy = OfflinePolicy {
            now,
            clock_skew_secs: SKEW_SECS,
            max_age_secs: MAX_QR_AGE_SECS,
            max_cache_age_secs: MAX_CACHE_AGE_SECS,
            audience: &self.origin,
            required_claims: &["name", "pseudonyms"],
        };
        let vc = verify_offline(&presentation, &cache, &policy).map_err(refused)?;
        drop(cache);
        let pseudonym = vc
            .claims
            .get("pseudonyms")
            .and_then(|p| p.get(&self.origin))
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::new(ProblemType::NoPseudonym, "the QR discloses no pseudonym for this railway"))?
            .to_owned();
        // The signed content of the key binding, not the whole JWT: an ECDSA
        // signature's twin (s → n − s) would make a replay look new.
        let replay_key = presentation
            .replay_key()
            .ok_or_else(|| Refusal::new(ProblemType::QrInvalid, "the QR carries no key binding"))?;
        let qr_hash = crate::secrets::token_hash(&replay_key);
        Ok((vc, pseudonym, qr_hash))
    }
}

/// `POST /gate/scan` (Bearer gate token): `{passed, ticket, train, name}`, or the reason it is refused.
pub(crate) async fn scan(
    State(rail): Shared,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, Refusal> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| t.len() <= 64)
        .ok_or_else(unregistered)?;
    let gate = store::gate_named(&rail.db, token).await?.ok_or_else(unregistered)?;
    let scan: Scan =
        serde_json::from_slice(&body).map_err(|e| Refusal::new(ProblemType::BadRequest, format!("the body: {e}")))?;
    rail.gates.pass(&gate, &scan.ticket, &scan.qr, crate::now()).await.map(Json)
}

fn unregistered() -> Refusal {
    Refusal::new(ProblemType::GateUnauthenticated, "send a registered gate's token as a Bearer token")
}

/// A verification failure as the gate tells it.
fn refused(error: CredentialError) -> Refusal {
    let kind = match &error {
        CredentialError::KeyBindingTooOld { .. } | CredentialError::IssuedInFuture { .. } => ProblemType::QrExpired,
        CredentialError::Revoked(_) => ProblemType::CardRevoked,
        CredentialError::StaleCache { .. } | CredentialError::TrustListExpired { .. } => ProblemType::Busy,
        _ => ProblemType::QrInvalid,
    };
    Refusal::new(kind, format!("[{}] {error}", error.code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_gate_is_held_to_its_scans_a_minute_and_a_revoked_card_is_told_apart() {
        let path = std::env::temp_dir().join(format!("shenfen-rail-gate-{}.db", std::process::id()));
        let db = Db::open(&format!("sqlite:{}", path.display())).await.unwrap();
        let gates = Gates::new(db.clone(), Arc::default(), "http://rail.test");
        let minute = 60 * 29_000_000;
        assert!((0..SCANS_PER_MINUTE).all(|_| gates.within_budget("gate 1", minute + 5)));
        assert!(!gates.within_budget("gate 1", minute + 59), "over the budget within the minute");
        assert!(gates.within_budget("gate 2", minute + 59), "another device has its own");
        assert!(gates.within_budget("gate 1", minute + 60), "a new minute");
        let unreadable = gates.pass("gate 1", "T1", "AAAA", minute + 61).await.unwrap_err();
        assert_eq!(unreadable.kind, ProblemType::QrInvalid, "a payload that is no presentation");
        let revoked = CredentialError::Revoked(shenfen_credential::StatusType::Invalid);
        assert_eq!(refused(revoked).kind, ProblemType::CardRevoked);
        db.close().await;
        let _ = std::fs::remove_file(path);
    }
}
