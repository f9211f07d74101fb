//! Random tokens, their hashes, and clerk passwords (argon2id): what the
//! services hand out and keep only as hashes.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ServicesError;

/// A fresh random token of 256 bits, base64url: sessions, drafts.
pub(crate) fn random_token() -> Result<String, ServicesError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ServicesError::Randomness)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A filing's reference as a clerk reads it out: 12 uppercase hex digits (48 random bits).
pub(crate) fn filing_reference() -> Result<String, ServicesError> {
    let mut bytes = [0u8; 6];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ServicesError::Randomness)?;
    Ok(bytes.iter().map(|b| format!("{b:02X}")).collect())
}

/// The SHA-256 of a token: what the database keeps, so a copy of it opens no session.
pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, token.as_bytes()).as_ref().to_vec()
}

/// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
fn hasher() -> Result<Argon2<'static>, ServicesError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| ServicesError::Hashing(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string of `password` under a fresh random salt.
pub(crate) fn hash_password(password: &str) -> Result<String, ServicesError> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| ServicesError::Randomness)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServicesError::Hashing(e.to_string()))?;
    let hash =
        hasher()?.hash_password(password.as_bytes(), &salt).map_err(|e| ServicesError::Hashing(e.to_string()))?;
    Ok(hash.to_string())
}

/// A PHC string with [`hasher`]'s parameters that no known password
/// matches: checked when the account is unknown, so an unknown name costs
/// the same argon2id work as a known one (no account oracle by timing).
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2VydmljZXMtZGVjb3k$m7mK1w0Yc0nZ8Kx7lJ9Qe2dC3bA4hE5fG6iH7jK8lM0";

/// Whether `password` matches the stored PHC string (argon2's comparison is
/// constant-time); with no stored hash, the same work, answering `false`.
pub(crate) fn password_matches(stored: Option<&str>, password: &str) -> bool {
    let matches = |phc: &str| {
        PasswordHash::new(phc)
            .is_ok_and(|parsed| hasher().is_ok_and(|argon| argon.verify_password(password.as_bytes(), &parsed).is_ok()))
    };
    match stored {
        Some(phc) => matches(phc),
        None => {
            let _ = matches(DECOY_HASH);
            false
        }
    }
}

/// The argon2id checks of password sign-ins, at most one per core at a
/// time. A sign-in form is open to anyone and each check costs 19 MiB and
/// tens of milliseconds: without a bound, a flood of posts would queue
/// thousands of checks (a request timed out does not stop its check). A
/// caller takes a [`PasswordCheck`] before it counts the attempt, and is
/// told "busy" when none is free.
#[derive(Clone)]
pub(crate) struct PasswordChecks(Arc<Semaphore>);

/// The right to run one password check, held until it is done.
pub(crate) struct PasswordCheck {
    _permit: OwnedSemaphorePermit,
}

impl PasswordChecks {
    /// As many concurrent checks as the machine has cores.
    pub(crate) fn new() -> PasswordChecks {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        PasswordChecks(Arc::new(Semaphore::new(cores)))
    }

    /// A free check, or `None` at once when all are busy.
    pub(crate) fn try_take(&self) -> Option<PasswordCheck> {
        self.0.clone().try_acquire_owned().ok().map(|permit| PasswordCheck { _permit: permit })
    }
}

impl PasswordCheck {
    /// [`password_matches`] on a blocking thread, the right to check given back when done.
    pub(crate) async fn run(self, stored: Option<String>, password: String) -> Result<bool, ServicesError> {
        tokio::task::spawn_blocking(move || {
            let matches = password_matches(stored.as_deref(), &password);
            drop(self);
            matches
        })
        .await
        .map_err(|_| ServicesError::Hashing("the password check did not finish".into()))
    }
}

/// A generated password of 128 bits, as 32 lowercase hex digits, printed once.
pub(crate) fn generate_password() -> Result<String, ServicesError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ServicesError::Randomness)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn password_checks_are_bounded_and_a_finished_one_frees_its_place() {
        let checks = PasswordChecks(Arc::new(Semaphore::new(2)));
        let (first, second) = (checks.try_take().unwrap(), checks.try_take().unwrap());
        assert!(checks.try_take().is_none(), "a third at once is turned away, before any work");
        let stored = hash_password("correct horse").unwrap();
        assert!(first.run(Some(stored), "correct horse".into()).await.unwrap());
        assert!(checks.try_take().is_some(), "the finished check gave its place back");
        drop(second);
    }

    #[test]
    fn a_password_matches_its_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(password_matches(Some(&hash), "correct horse"));
        assert!(!password_matches(Some(&hash), "correct hors"));
        assert!(!password_matches(None, "correct horse"));
        assert!(!password_matches(Some("not a hash"), "correct horse"));
    }

    #[test]
    fn the_decoy_is_a_well_formed_hash_of_the_same_cost() {
        let parsed = PasswordHash::new(DECOY_HASH).unwrap();
        let made = hash_password("x").unwrap();
        let made = PasswordHash::new(&made).unwrap();
        assert_eq!(parsed.algorithm, made.algorithm);
        assert_eq!(parsed.params, made.params);
    }

    #[test]
    fn tokens_are_fresh_and_hashed_to_32_bytes() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 32);
        assert_ne!(token_hash(&a), token_hash(&b));
        assert_eq!(filing_reference().unwrap().len(), 12);
    }
}
