//! ES256 (ECDSA over P-256 with SHA-256) through aws-lc-rs.
//!
//! aws-lc-rs was chosen by measurement: its P-256 verify runs several times
//! faster than the pure-Rust `p256` crate on our machines (`docs/BENCHMARKS.md`,
//! `cargo bench -p shenfen-bench`), and verification dominates a verifier's cost.
//!
//! ECDSA signatures are malleable: if (r, s) is valid, so is (r, n − s). We
//! sign only the low form (s ≤ n/2), so a verifier that insists on it accepts
//! ours; we accept both forms, because RFC 7518 does and other issuers sign
//! either — and nothing of ours is keyed on signature bytes (a replay is
//! recognised by the signed content, see `SdJwt::replay_key`).

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

    /// Signs `message`, returning the 64-byte r || s form JWS uses, with s
    /// in its low form.
    pub fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], CredentialError> {
        let sig = self.pair.sign(&SystemRandom::new(), message).map_err(|_| CredentialError::Crypto("signing"))?;
        let mut sig: [u8; SIGNATURE_LEN] =
            sig.as_ref().try_into().map_err(|_| CredentialError::Crypto("signature length"))?;
        let s: &mut [u8; 32] = (&mut sig[32..]).try_into().map_err(|_| CredentialError::Crypto("signature length"))?;
        if is_high(s) {
            *s = order_minus(s);
        }
        Ok(sig)
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

/// The order n of P-256's base point, big-endian (FIPS 186-4 §D.1.2.3).
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa,
    0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Whether `s` > n/2, i.e. 2·s > n (big-endian). Two 256-bit comparisons by
/// hand: aws-lc-rs exposes no scalar arithmetic, and a big-integer crate
/// for two lines of it would be the larger risk.
fn is_high(s: &[u8; 32]) -> bool {
    let mut doubled = [0u8; 33];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let v = (u16::from(s[i]) << 1) | carry;
        doubled[i + 1] = (v & 0xff) as u8;
        carry = v >> 8;
    }
    doubled[0] = carry as u8;
    let mut order = [0u8; 33];
    order[1..].copy_from_slice(&ORDER);
    doubled > order
}

/// n − s, for 0 < s < n (big-endian subtraction with borrow).
fn order_minus(s: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut v = i16::from(ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(v < 0);
        if v < 0 {
            v += 256;
        }
        out[i] = v as u8;
    }
    out
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
    fn signatures_are_low_s_and_the_high_twin_still_verifies() {
        let key = SigningKey::generate().unwrap();
        let (x, y) = key.public_coordinates();
        let verifier = VerifyingKey::from_coordinates(&x, &y).unwrap();
        for n in 0..64u8 {
            let sig = key.sign(&[n]).unwrap();
            let s: [u8; 32] = sig[32..].try_into().unwrap();
            assert!(!is_high(&s), "signature {n} is in the low form");
            let mut twin = sig;
            twin[32..].copy_from_slice(&order_minus(&s));
            assert!(is_high(&twin[32..].try_into().unwrap()));
            assert!(verifier.verify(&[n], &twin), "the malleated twin is a valid signature too (RFC 7518 accepts it)");
        }
    }

    #[test]
    fn the_halfway_point_of_the_order_is_low() {
        // n is odd: (n − 1)/2 is the largest low s, and (n + 1)/2 the smallest high one.
        let mut half = [0u8; 32];
        let mut rem = 0u16;
        for i in 0..32 {
            let v = (rem << 8) | u16::from(ORDER[i]);
            half[i] = (v / 2) as u8;
            rem = v % 2;
        }
        assert!(!is_high(&half));
        let mut above = half;
        above[31] += 1;
        assert!(is_high(&above));
        assert_eq!(order_minus(&above), half, "n − (n + 1)/2 = (n − 1)/2");
    }

    #[test]
    fn off_curve_points_are_refused() {
        assert!(VerifyingKey::from_coordinates(&[1; 32], &[2; 32]).is_err());
    }
}
