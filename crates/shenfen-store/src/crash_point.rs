//! Deterministic crash points for the crash-consistency tests: with
//! `SHENFEN_CRASH_POINT=NAME:N` the process aborts — as abruptly as
//! `kill -9` — the N-th time it reaches the point NAME, inside the open
//! transaction. A test then knows exactly where the crash landed instead of
//! racing a timer. Unset (always, in production) it costs one relaxed load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The armed point, read once: its name and on which hit to abort.
static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

/// Aborts the process here if `SHENFEN_CRASH_POINT` names this point and
/// this is the hit it counts to.
pub(crate) fn crash_point(name: &str) {
    let armed = ARMED.get_or_init(|| {
        let spec = std::env::var("SHENFEN_CRASH_POINT").ok()?;
        let (point, nth) = spec.rsplit_once(':').map_or((spec.as_str(), "1"), |(p, n)| (p, n));
        Some((point.to_owned(), nth.parse().unwrap_or(1)))
    });
    if let Some((point, nth)) = armed
        && point == name
        && HITS.fetch_add(1, Ordering::Relaxed) + 1 == *nth
    {
        std::process::abort();
    }
}
