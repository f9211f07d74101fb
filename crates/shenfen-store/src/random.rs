//! Uniform random choices for the server's draws (status-list slots,
//! challenge actions, numeric codes): one helper, without modulo bias.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::StoreError;

/// A uniformly random integer in `0..bound`, by rejection sampling: values in
/// the last, incomplete run of `bound` are drawn again, so no result is more
/// likely than another.
pub fn random_below(bound: u64) -> Result<u64, StoreError> {
    if bound == 0 {
        return Err(StoreError::EmptyDraw);
    }
    let zone = u64::MAX - (u64::MAX % bound);
    loop {
        let mut bytes = [0u8; 8];
        SystemRandom::new().fill(&mut bytes).map_err(|_| StoreError::Randomness)?;
        let value = u64::from_be_bytes(bytes);
        if value < zone {
            return Ok(value % bound);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_below_the_bound_and_reach_every_value() {
        assert!(matches!(random_below(0), Err(StoreError::EmptyDraw)));
        assert_eq!(random_below(1).unwrap(), 0);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[usize::try_from(random_below(10).unwrap()).unwrap()] += 1;
        }
        // Each digit is expected 1,000 times; 800 is more than 6 standard deviations below.
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }
}
