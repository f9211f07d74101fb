//! The one place the CLI reads the wall clock; the domain crates take time as an argument.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch — or `$SHENFEN_NOW` when it holds a number:
/// tests and reproducible runs (a QR checked as of a given second) set the
/// clock instead of sleeping. Never set it in production.
pub(crate) fn now_unix() -> i64 {
    if let Some(fixed) = std::env::var("SHENFEN_NOW").ok().and_then(|v| v.trim().parse().ok()) {
        return fixed;
    }
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
