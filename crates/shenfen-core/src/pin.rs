//! The upgraded edition's PIN: what a citizen may choose, and how failed
//! attempts slow an attacker down (NIST SP 800-63B §5.2.2: rate limiting with
//! a growing delay, and no more than 100 consecutive failures).

use serde::Deserialize;

use crate::CoreError;

/// Digits in a PIN.
pub const PIN_LENGTH: usize = 6;

/// Checks a chosen PIN: exactly six digits, and not one of the patterns an
/// attacker tries first (one repeated digit, an ascending or descending run).
pub fn check_new_pin(pin: &str) -> Result<(), CoreError> {
    let bad = |reason: &str| CoreError::InvalidPin(reason.to_owned());
    if pin.len() != PIN_LENGTH || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("a PIN is exactly 6 digits"));
    }
    let digits: Vec<i16> = pin.bytes().map(|b| i16::from(b - b'0')).collect();
    let steps: Vec<i16> = digits.windows(2).map(|w| (w[1] - w[0]).rem_euclid(10)).collect();
    if steps.iter().all(|&s| s == steps[0]) && matches!(steps[0], 0 | 1 | 9) {
        return Err(bad("a PIN of one repeated digit or a run like 123456 is guessed first; choose another"));
    }
    Ok(())
}

/// How PIN failures lock a citizen out. Deserializable so a deployment's
/// configuration can set any field, the others keeping their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PinLockout {
    /// Consecutive failures allowed before any delay.
    pub free_failures: u64,
    /// Delay after the first failure beyond the free ones, doubled with each further one.
    pub base_delay_secs: i64,
    /// Longest single delay.
    pub max_delay_secs: i64,
    /// Consecutive failures after which the PIN is blocked until the citizen enrolls again.
    pub block_after: u64,
}

impl Default for PinLockout {
    fn default() -> PinLockout {
        PinLockout { free_failures: 5, base_delay_secs: 30, max_delay_secs: 24 * 3600, block_after: 100 }
    }
}

impl PinLockout {
    /// When the next attempt may be made after `failures` consecutive
    /// failures, the last at `now`; `None` when it may be made at once and
    /// `i64::MAX` when the PIN is blocked.
    pub fn locked_until(&self, failures: u64, now: i64) -> Option<i64> {
        if failures >= self.block_after {
            return Some(i64::MAX);
        }
        let beyond = failures.checked_sub(self.free_failures)?;
        let doublings = u32::try_from(beyond).unwrap_or(u32::MAX).min(32);
        let delay = self.base_delay_secs.saturating_mul(1i64 << doublings).min(self.max_delay_secs);
        Some(now.saturating_add(delay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_six_digits_that_are_not_a_pattern() {
        for ok in ["482915", "000001", "135790", "112233"] {
            assert!(check_new_pin(ok).is_ok(), "{ok}");
        }
        for bad in ["12345", "1234567", "12a456", "１２３４５６", "000000", "123456", "654321", "890123", "098765"]
        {
            assert_eq!(check_new_pin(bad).unwrap_err().code(), "core.pin.invalid", "{bad}");
        }
    }

    #[test]
    fn delay_starts_after_five_failures_doubles_and_blocks_at_one_hundred() {
        let policy = PinLockout::default();
        assert_eq!(policy.locked_until(4, 1000), None);
        assert_eq!(policy.locked_until(5, 1000), Some(1030));
        assert_eq!(policy.locked_until(6, 1000), Some(1060));
        assert_eq!(policy.locked_until(8, 1000), Some(1240));
        assert_eq!(policy.locked_until(60, 1000), Some(1000 + 24 * 3600), "capped at a day");
        assert_eq!(policy.locked_until(100, 1000), Some(i64::MAX));
    }
}
