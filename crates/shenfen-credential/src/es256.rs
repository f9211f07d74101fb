//! ES256 (ECDSA over P-256 with SHA-256) through aws-lc-rs.
//!
//! aws-lc-rs was chosen by measurement: its P-256 verify runs several times
//! faster than the pure-Rust `p256` crate on our machines (`docs/BENCHMARKS.md`,
//! `cargo bench -p shenfen-bench`), and verification dominates a verifier's cost.

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, ParsedPublicKey,
};
use zeroize::Zeroizing;

use crate::CredentialError;

/// Length of a raw (r || s) ES256 signature.
pub const SIGNATURE_LEN: usize = 64;

/// A P-256 private key that signs JWS.
pub struct SigningKey {
    pair: EcdsaKeyPair,
}

impl SigningKey {
    /// Generates a fresh key from the system's secure random source.
    pub fn generate() -> Result<SigningKey, CredentialError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| CredentialError::Crypto("key generation"))?;
        Ok(SigningKey { pair })
    }

    /// Builds a key from its scalar `d` and public point, refusing a pair whose
    /// halves do not belong together.
    pub fn from_scalar(d: &[u8; 32], x: &[u8; 32], y: &[u8; 32]) -> Result<SigningKey, CredentialError> {
        let point = uncompressed_point(x, y);
        let pair = EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, d, &point)
            .map_err(|e| CredentialError::InvalidJwk(format!("private key does not match its public key ({e})")))?;
        Ok(SigningKey { pair })
    }

    /// Signs `message`, returning the 64-byte r || s form JWS uses.
    pub fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], CredentialError> {
        let sig = self.pair.sign(&SystemRandom::new(), message).map_err(|_| CredentialError::Crypto("signing"))?;
        sig.as_ref().try_into().map_err(|_| CredentialError::Crypto("signature length"))
    }

    /// The public point as (x, y) coordinates.
    pub fn public_coordinates(&self) -> ([u8; 32], [u8; 32]) {
        split_point(self.pair.public_key().as_ref())
    }

    /// The private scalar, wiped from memory when dropped.
    pub fn scalar(&self) -> Result<Zeroizing<[u8; 32]>, CredentialError> {
        let bin = self.pair.private_key().as_be_bytes().map_err(|_| CredentialError::Crypto("private key export"))?;
        let mut out = Zeroizing::new([0u8; 32]);
        if bin.as_ref().len() != 32 {
            return Err(CredentialError::Crypto("private key length"));
        }
        out.copy_from_slice(bin.as_ref());
        Ok(out)
    }
}

/// A parsed P-256 public key, ready to verify many signatures.
#[derive(Clone)]
pub struct VerifyingKey {
    key: ParsedPublicKey,
}

impl VerifyingKey {
    /// Parses a point, refusing one that is not on the curve.
    pub fn from_coordinates(x: &[u8; 32], y: &[u8; 32]) -> Result<VerifyingKey, CredentialError> {
        let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, uncompressed_point(x, y))
            .map_err(|_| CredentialError::InvalidJwk("the point is not on the P-256 curve".into()))?;
        Ok(VerifyingKey { key })
    }

    /// Whether `signature` (r || s) is valid for `message` under this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        signature.len() == SIGNATURE_LEN && self.key.verify_sig(message, signature).is_ok()
    }
}

fn uncompressed_point(x: &[u8; 32], y: &[u8; 32]) -> [u8; 65] {
    let mut point = [0u8; 65];
    point[0] = 0x04;
    point[1..33].copy_from_slice(x);
    point[33..].copy_from_slice(y);
    point
}

fn split_point(point: &[u8]) -> ([u8; 32], [u8; 32]) {
    let mut x = [0u8; 32];
    let mut y = [0u8; 32];
    if point.len() == 65 {
        x.copy_from_slice(&point[1..33]);
        y.copy_from_slice(&point[33..]);
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip_and_reject_other_messages() {
        let key = SigningKey::generate().unwrap();
        let (x, y) = key.public_coordinates();
        let verifier = VerifyingKey::from_coordinates(&x, &y).unwrap();
        let sig = key.sign(b"hello").unwrap();
        assert!(verifier.verify(b"hello", &sig));
        assert!(!verifier.verify(b"hellp", &sig));
        assert!(!verifier.verify(b"hello", &sig[..63]));
    }

    #[test]
    fn scalar_export_reimports_to_the_same_key() {
        let key = SigningKey::generate().unwrap();
        let (x, y) = key.public_coordinates();
        let again = SigningKey::from_scalar(&key.scalar().unwrap(), &x, &y).unwrap();
        assert_eq!(again.public_coordinates(), (x, y));
        let other = SigningKey::generate().unwrap();
        assert!(SigningKey::from_scalar(&other.scalar().unwrap(), &x, &y).is_err());
    }

    #[test]
    fn off_curve_points_are_refused() {
        assert!(VerifyingKey::from_coordinates(&[1; 32], &[2; 32]).is_err());
    }
}
