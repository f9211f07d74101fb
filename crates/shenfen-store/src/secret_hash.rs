//! argon2id for the secrets people choose — operator passwords and citizen
//! PINs — so a copy of the database does not hand them out. Hashing is CPU
//! work only; callers on an async runtime run it on a blocking thread.
//!
//! A six-digit PIN has a million values: argon2id alone only slows a
//! brute force of a stolen database down. PINs are therefore hashed with a
//! server-held secret (argon2's "secret" input, a pepper from the
//! `KeyProvider`), so the database copy alone is not enough.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::StoreError;

/// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane; keyed with `pepper` if given.
fn hasher(pepper: Option<&[u8]>) -> Result<Argon2<'_>, StoreError> {
    let params =
        Params::new(19 * 1024, 2, 1, None).map_err(|e| StoreError::Hashing(format!("argon2 parameters: {e}")))?;
    match pepper {
        None => Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)),
        Some(pepper) => Argon2::new_with_secret(pepper, Algorithm::Argon2id, Version::V0x13, params)
            .map_err(|e| StoreError::Hashing(format!("argon2 secret: {e}"))),
    }
}

/// The PHC string (`$argon2id$v=19$m=…`) of `secret` under a fresh random salt.
pub fn hash_secret(secret: &str) -> Result<String, StoreError> {
    hash_with(secret, None)
}

/// [`hash_secret`] keyed with a server-held `pepper`: the hash verifies only
/// with [`verify_peppered`] and the same pepper.
pub fn hash_peppered(secret: &str, pepper: &[u8]) -> Result<String, StoreError> {
    hash_with(secret, Some(pepper))
}

fn hash_with(secret: &str, pepper: Option<&[u8]>) -> Result<String, StoreError> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| StoreError::Randomness)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Hashing(format!("salt: {e}")))?;
    let hash = hasher(pepper)?
        .hash_password(secret.as_bytes(), &salt)
        .map_err(|e| StoreError::Hashing(format!("argon2: {e}")))?;
    Ok(hash.to_string())
}

/// A fresh random password of 128 bits, as 32 lowercase hex digits: what an
/// operator account gets when nobody chose one.
pub fn generate_password() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::Randomness)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `secret` matches the PHC string `stored` (argon2's own comparison
/// is constant-time). A malformed stored hash matches nothing.
pub fn verify_secret(stored: &str, secret: &str) -> bool {
    verify_with(stored, secret, None)
}

/// Whether `secret` matches a hash made by [`hash_peppered`] with `pepper`.
pub fn verify_peppered(stored: &str, secret: &str, pepper: &[u8]) -> bool {
    verify_with(stored, secret, Some(pepper))
}

fn verify_with(stored: &str, secret: &str, pepper: Option<&[u8]>) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|parsed| hasher(pepper).is_ok_and(|argon| argon.verify_password(secret.as_bytes(), &parsed).is_ok()))
}

/// A PHC string with the parameters of [`hasher`] whose hash part is random
/// bytes, so no known input produces it: fixed, so the decoy check can never
/// fall back to something cheaper than a real one.
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2hlbmZlbi1kZWNveS1zYWx0$zLeu0XzLRmsVkOnn1SjEhMPrZQ5bBWgOnCq8pKlG7lE";

/// Whether `secret` matches `stored` — or, when there is no stored hash (an
/// unknown or disabled account), the same argon2id work against a hash of
/// nothing anyone knows, answering `false`: one path for both, so an unknown
/// user name takes as long to refuse as a wrong password.
pub fn verify_secret_or_decoy(stored: Option<&str>, secret: &str) -> bool {
    let matches = verify_secret(stored.unwrap_or(DECOY_HASH), secret);
    matches && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip_with_distinct_salts() {
        let a = hash_secret("482915").unwrap();
        let b = hash_secret("482915").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(verify_secret(&a, "482915"));
        assert!(!verify_secret(&a, "482916"));
        assert!(!verify_secret("not a hash", "482915"));
    }

    #[test]
    fn a_peppered_hash_needs_its_pepper() {
        let hash = hash_peppered("482915", &[7; 32]).unwrap();
        assert!(verify_peppered(&hash, "482915", &[7; 32]));
        assert!(!verify_peppered(&hash, "482916", &[7; 32]));
        assert!(!verify_peppered(&hash, "482915", &[8; 32]), "another pepper");
        assert!(!verify_secret(&hash, "482915"), "the database copy alone does not verify it");
    }

    #[test]
    fn without_a_stored_hash_nothing_matches() {
        let real = hash_secret("482915").unwrap();
        assert!(verify_secret_or_decoy(Some(&real), "482915"));
        assert!(!verify_secret_or_decoy(Some(&real), "482916"));
        assert!(!verify_secret_or_decoy(None, "482915"), "no account, no match, whatever the password");
        assert!(!verify_secret_or_decoy(None, ""), "not even the empty one");
    }

    #[test]
    fn the_decoy_costs_the_same_argon2id_work_as_a_real_hash() {
        let parsed = PasswordHash::new(DECOY_HASH).unwrap();
        let real = hash_secret("x").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(parsed.algorithm, real.algorithm);
        assert_eq!(parsed.params, real.params, "same memory, passes and lanes");
        assert_eq!(parsed.hash.unwrap().len(), real.hash.unwrap().len());
    }

    #[test]
    fn a_vector_from_the_reference_implementation_verifies() {
        // Made with argon2-cffi 25.1 (bindings to the reference C implementation):
        // hash_secret(b"password", b"somesalt", time_cost=2, memory_cost=65536, parallelism=4, hash_len=32, type=ID)
        let reference = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo";
        assert!(verify_secret(reference, "password"));
        assert!(!verify_secret(reference, "passwore"));
    }
}
