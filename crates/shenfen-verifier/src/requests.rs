//! The open requests of one verifier process, in memory: each is created by
//! the relying party's backend, answered once by a wallet, and read once by
//! the backend. Bounded, so an anonymous caller cannot fill memory, and
//! forgotten when it expires — a restart forgets every open request, which
//! the relying party then asks again (one process per relying party; see
//! docs/PRIVACY.md).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

/// What a request asked for.
#[derive(Debug, Clone)]
pub(crate) struct Asked {
    /// Claim paths, `/`-separated below the top level.
    pub(crate) claims: Vec<String>,
    /// Why, in the citizen's words.
    pub(crate) purpose: String,
}

/// Where a request is in its life.
#[derive(Debug, Clone)]
pub(crate) enum Stage {
    /// Waiting for the wallet.
    Pending,
    /// A wallet answered: the verified result, or why it was refused.
    Answered { verified: bool, result: Value },
}

/// One request.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The nonce the key binding must carry.
    pub(crate) nonce: String,
    /// What was asked.
    pub(crate) asked: Asked,
    /// Seconds since the epoch after which it is gone.
    pub(crate) expires_at: i64,
    /// Pending or answered.
    pub(crate) stage: Stage,
}

/// The open requests, by id (the `state` the wallet posts back).
pub(crate) struct Requests {
    open: Mutex<HashMap<String, Request>>,
    capacity: usize,
}

/// Why a request could not be stored.
#[derive(Debug, PartialEq)]
pub(crate) struct Full;

impl Requests {
    /// A store holding at most `capacity` unexpired requests.
    pub(crate) fn new(capacity: usize) -> Requests {
        Requests { open: Mutex::new(HashMap::new()), capacity }
    }

    /// Runs `f` on the map after dropping what expired before `now`. A
    /// poisoned lock (a panic elsewhere while holding it) still holds
    /// consistent data: every change below is a single map operation.
    fn with<T>(&self, now: i64, f: impl FnOnce(&mut HashMap<String, Request>) -> T) -> T {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.retain(|_, request| request.expires_at >= now);
        f(&mut open)
    }

    /// Stores a new pending request under `id`, unless the store is full.
    pub(crate) fn insert(&self, id: String, request: Request, now: i64) -> Result<(), Full> {
        self.with(now, |open| {
            if open.len() >= self.capacity {
                return Err(Full);
            }
            open.insert(id, request);
            Ok(())
        })
    }

    /// The request `id`, if it is still waiting for a wallet.
    pub(crate) fn pending(&self, id: &str, now: i64) -> Option<Request> {
        self.with(now, |open| open.get(id).filter(|r| matches!(r.stage, Stage::Pending)).cloned())
    }

    /// Records the answer to a pending request; false if it is no longer
    /// pending (answered meanwhile, or expired): a request is answered once.
    pub(crate) fn answer(&self, id: &str, verified: bool, result: Value, now: i64) -> bool {
        self.with(now, |open| match open.get_mut(id) {
            Some(request) if matches!(request.stage, Stage::Pending) => {
                request.stage = Stage::Answered { verified, result };
                true
            }
            _ => false,
        })
    }

    /// The request `id` for its relying party: an answer is handed over once
    /// and forgotten; a pending one stays.
    pub(crate) fn read(&self, id: &str, now: i64) -> Option<Request> {
        self.with(now, |open| match open.get(id)?.stage {
            Stage::Pending => open.get(id).cloned(),
            Stage::Answered { .. } => open.remove(id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(expires_at: i64) -> Request {
        Request {
            nonce: "n".into(),
            asked: Asked { claims: vec!["name".into()], purpose: "p".into() },
            expires_at,
            stage: Stage::Pending,
        }
    }

    #[test]
    fn requests_are_bounded_answered_once_read_once_and_expire() {
        let requests = Requests::new(2);
        requests.insert("a".into(), request(100), 0).unwrap();
        requests.insert("b".into(), request(50), 0).unwrap();
        assert_eq!(requests.insert("c".into(), request(100), 0), Err(Full));
        assert!(requests.pending("b", 60).is_none(), "expired");
        requests.insert("c".into(), request(100), 60).unwrap();
        assert!(requests.answer("a", true, Value::Null, 60));
        assert!(!requests.answer("a", true, Value::Null, 60), "answered once");
        assert!(requests.pending("a", 60).is_none());
        assert!(matches!(requests.read("c", 60).map(|r| r.stage), Some(Stage::Pending)));
        assert!(matches!(requests.read("a", 60).map(|r| r.stage), Some(Stage::Answered { verified: true, .. })));
        assert!(requests.read("a", 60).is_none(), "read once");
        assert!(requests.read("c", 101).is_none());
    }
}
