//! A short-lived in-memory copy of the relying-party registry: every step of
//! an online presentation needs the asking party, and the registry changes
//! rarely, so each instance reads an entry at most every [`TTL`] — a changed
//! entitlement or rotated key reaches every instance within that time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shenfen_store::{RelyingParty, SqlStore, StoreError};

/// How long an entry is trusted before the store is asked again.
pub(crate) const TTL: Duration = Duration::from_secs(30);

/// The cache; misses and expired entries go to the store.
#[derive(Default)]
pub struct RelyingParties {
    entries: Mutex<HashMap<String, (Option<RelyingParty>, Instant)>>,
}

impl RelyingParties {
    /// Drops `client_id`'s entry: its registration changed here.
    pub fn forget(&self, client_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(client_id);
        }
    }

    /// The relying party `client_id`, from the cache if fresh.
    pub async fn get(&self, store: &SqlStore, client_id: &str) -> Result<Option<RelyingParty>, StoreError> {
        if let Ok(entries) = self.entries.lock()
            && let Some((party, at)) = entries.get(client_id)
            && at.elapsed() < TTL
        {
            return Ok(party.clone());
        }
        let party = store.relying_party(client_id).await?;
        if let Ok(mut entries) = self.entries.lock() {
            // Unknown ids are cached too (bounded), so a flood of them costs one read each per TTL.
            if entries.len() >= 10_000 {
                entries.retain(|_, (_, at)| at.elapsed() < TTL);
            }
            if entries.len() < 10_000 {
                entries.insert(client_id.to_owned(), (party.clone(), Instant::now()));
            }
        }
        Ok(party)
    }
}
