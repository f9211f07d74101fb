//! A service's memory of its citizens between requests, all in its
//! database (so several instances behind a load balancer act as one):
//! sign-ins started and not yet answered — bounded in number and time,
//! used once — and sessions, each a random token in an HttpOnly cookie kept
//! only as its hash, for the citizen's pairwise `sub` (never an ID number).

use axum::http::HeaderMap;
use sqlx::Row;

use crate::authority::Started;
use crate::db::Db;
use crate::error::ServicesError;
use crate::secrets::{random_token, token_hash};
use crate::web::cookie;

/// How long a sign-in may take: the authority's page lives two minutes and
/// its answer one more; a little beyond for the redirect back. Short, as
/// every anonymous `/login` holds a slot of [`MAX_PENDING`] that long.
pub const SIGN_IN_FOR: i64 = 300;

/// How many sign-ins may be in progress at once: `/login` is open to anyone.
pub const MAX_PENDING: i64 = 10_000;

/// How long a citizen's session lasts.
pub const SESSION_FOR: i64 = 2 * 3600;

/// A sign-in in progress, as the callback finds it.
#[derive(Debug)]
pub struct Pending {
    /// Its nonce.
    pub nonce: String,
    /// Its PKCE verifier.
    pub pkce_verifier: String,
    /// The level asked (an index in [`crate::authority::LEVELS`]).
    pub level: usize,
    /// The `sub` it re-authenticates, if any.
    pub expected_subject: Option<String>,
    /// The draft it files, if any.
    pub draft_id: Option<String>,
}

/// What a new sign-in remembers beyond its [`Started`] parts.
pub struct PendingFor<'a> {
    /// The level asked.
    pub level: usize,
    /// The `sub` it re-authenticates.
    pub expected_subject: Option<&'a str>,
    /// The draft it files.
    pub draft_id: Option<&'a str>,
}

/// How many sign-ins are in progress: the cheap check a new one passes
/// before anything else (the authority's discovery, the row itself).
pub async fn sign_ins_in_progress(db: &Db, now: i64) -> Result<i64, ServicesError> {
    let row = sqlx::query("SELECT COUNT(*) FROM sign_ins WHERE expires_at > $1").bind(now).fetch_one(db.pool()).await?;
    Ok(row.try_get::<i64, _>(0)?)
}

/// Remembers a started sign-in of `service`, unless `max` (in production
/// [`MAX_PENDING`]) are in progress: counted and inserted in one statement.
/// Answers whether it was kept.
pub async fn remember_sign_in(
    db: &Db,
    service: &str,
    started: &Started,
    pending: &PendingFor<'_>,
    now: i64,
    max: i64,
) -> Result<bool, ServicesError> {
    let level = crate::authority::LEVELS.get(pending.level).copied().unwrap_or("L1");
    let inserted = sqlx::query(
        "INSERT INTO sign_ins (state_hash, service, nonce, pkce_verifier, level, expected_subject, draft_id, expires_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE (SELECT COUNT(*) FROM sign_ins WHERE expires_at > $9) < $10",
    )
    .bind(token_hash(&started.state))
    .bind(service)
    .bind(started.nonce.as_str())
    .bind(started.pkce_verifier.as_str())
    .bind(level)
    .bind(pending.expected_subject)
    .bind(pending.draft_id)
    .bind(now + SIGN_IN_FOR)
    .bind(now)
    .bind(max)
    .execute(db.pool())
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Takes the sign-in of `state` for `service` (it is gone afterwards, used
/// or not); `None` when unknown, expired or taken already.
pub async fn take_sign_in(db: &Db, service: &str, state: &str, now: i64) -> Result<Option<Pending>, ServicesError> {
    let row = sqlx::query(
        "DELETE FROM sign_ins WHERE state_hash = $1 AND service = $2 \
         RETURNING nonce, pkce_verifier, level, expected_subject, draft_id, expires_at",
    )
    .bind(token_hash(state))
    .bind(service)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    if row.try_get::<i64, _>("expires_at")? <= now {
        return Ok(None);
    }
    let level: String = row.try_get("level")?;
    Ok(Some(Pending {
        nonce: row.try_get("nonce")?,
        pkce_verifier: row.try_get("pkce_verifier")?,
        level: crate::authority::LEVELS
            .iter()
            .position(|l| *l == level)
            .ok_or_else(|| ServicesError::Corrupt(format!("sign-in level {level:?}")))?,
        expected_subject: row.try_get("expected_subject")?,
        draft_id: row.try_get("draft_id")?,
    }))
}

/// Opens a session of `service` for `subject`; answers the cookie's token.
pub async fn open_session(db: &Db, service: &str, subject: &str, now: i64) -> Result<String, ServicesError> {
    let token = random_token()?;
    sqlx::query("INSERT INTO sessions (token_hash, service, subject, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash(&token))
        .bind(service)
        .bind(subject)
        .bind(now + SESSION_FOR)
        .execute(db.pool())
        .await?;
    Ok(token)
}

/// The `sub` of the live session whose token is in cookie `name`, if any.
pub async fn session_subject(
    db: &Db,
    service: &str,
    headers: &HeaderMap,
    name: &str,
    now: i64,
) -> Result<Option<String>, ServicesError> {
    let Some(token) = cookie(headers, name).filter(|t| t.len() == 43) else { return Ok(None) };
    let row = sqlx::query("SELECT subject FROM sessions WHERE token_hash = $1 AND service = $2 AND expires_at > $3")
        .bind(token_hash(&token))
        .bind(service)
        .bind(now)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.try_get("subject")).transpose()?)
}

/// Ends the session whose token is in cookie `name`.
pub async fn end_session(db: &Db, headers: &HeaderMap, name: &str) -> Result<(), ServicesError> {
    if let Some(token) = cookie(headers, name) {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash(&token)).execute(db.pool()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    async fn db() -> (Db, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "shenfen-services-session-{}-{}.db",
            std::process::id(),
            random_token().unwrap()
        ));
        (Db::open(&format!("sqlite:{}", path.display())).await.unwrap(), path)
    }

    fn started(state: &str) -> Started {
        Started { url: String::new(), state: state.into(), nonce: "n".into(), pkce_verifier: "v".into() }
    }

    fn with_cookie(line: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(axum::http::header::COOKIE, HeaderValue::from_str(line).unwrap());
        headers
    }

    #[tokio::test]
    async fn sign_ins_in_progress_are_bounded_and_expired_ones_do_not_count() {
        let (db, path) = db().await;
        let pending = PendingFor { level: 0, expected_subject: None, draft_id: None };
        assert!(remember_sign_in(&db, "portal", &started("a"), &pending, 1000, 2).await.unwrap());
        assert!(remember_sign_in(&db, "hotel", &started("b"), &pending, 1000, 2).await.unwrap());
        assert!(
            !remember_sign_in(&db, "portal", &started("c"), &pending, 1000, 2).await.unwrap(),
            "the third is refused"
        );
        assert!(take_sign_in(&db, "portal", "c", 1000).await.unwrap().is_none(), "and not kept");
        let later = 1000 + SIGN_IN_FOR;
        assert!(
            remember_sign_in(&db, "portal", &started("d"), &pending, later, 2).await.unwrap(),
            "the first two expired"
        );
        db.close().await;
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn a_session_lasts_its_time_for_its_service_and_ends_when_asked() {
        let (db, path) = db().await;
        let token = open_session(&db, "portal", "sub-1", 1000).await.unwrap();
        let headers = with_cookie(&format!("other=x; portal_session={token}"));
        let at = |now| session_subject(&db, "portal", &headers, "portal_session", now);
        assert_eq!(at(1000).await.unwrap().as_deref(), Some("sub-1"));
        assert_eq!(at(1000 + SESSION_FOR - 1).await.unwrap().as_deref(), Some("sub-1"));
        assert_eq!(at(1000 + SESSION_FOR).await.unwrap(), None, "expired");
        assert_eq!(session_subject(&db, "hotel", &headers, "portal_session", 1000).await.unwrap(), None);
        let forged = with_cookie(&format!("portal_session={}", random_token().unwrap()));
        assert_eq!(session_subject(&db, "portal", &forged, "portal_session", 1000).await.unwrap(), None);
        end_session(&db, &headers, "portal_session").await.unwrap();
        assert_eq!(at(1000).await.unwrap(), None, "ended");
        db.close().await;
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn a_sign_in_is_taken_once_before_it_expires() {
        let (db, path) = db().await;
        let pending = PendingFor { level: 2, expected_subject: Some("sub-1"), draft_id: Some("d") };
        assert!(remember_sign_in(&db, "portal", &started("s1"), &pending, 1000, MAX_PENDING).await.unwrap());
        assert!(take_sign_in(&db, "hotel", "s1", 1001).await.unwrap().is_none(), "another service's state");
        let taken = take_sign_in(&db, "portal", "s1", 1001).await.unwrap().unwrap();
        assert_eq!((taken.level, taken.expected_subject.as_deref()), (2, Some("sub-1")));
        assert!(take_sign_in(&db, "portal", "s1", 1001).await.unwrap().is_none(), "used once");
        assert!(remember_sign_in(&db, "portal", &started("s2"), &pending, 1000, MAX_PENDING).await.unwrap());
        assert!(take_sign_in(&db, "portal", "s2", 1000 + SIGN_IN_FOR).await.unwrap().is_none(), "expired");
        db.close().await;
        let _ = std::fs::remove_file(path);
    }
}
