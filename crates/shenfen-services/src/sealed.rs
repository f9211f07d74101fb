//! Personal data at rest: the legal representative's name, ID number and the
//! id_token that carried them are sealed with AES-256-GCM under the
//! services' data key, bound to the row they belong to (a sealed value
//! copied into another filing does not open). The key lives in a file of
//! the data directory readable by its owner only, like the authority's.

use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::error::ServicesError;
use crate::key_files::{read_or_create_secret, to_hex};

/// The version byte in front of every sealed value: room for a key rotation.
const VERSION: u8 = 1;

/// The services' data key.
pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    /// The key of `path` (64 hex digits), created (0600) on first use.
    pub fn from_file(path: &Path) -> Result<Sealer, ServicesError> {
        let hex = read_or_create_secret(path, || {
            let mut bytes = Zeroizing::new([0u8; 32]);
            aws_lc_rs::rand::fill(bytes.as_mut()).map_err(|_| ServicesError::Randomness)?;
            Ok(to_hex(bytes.as_ref()))
        })?;
        let invalid =
            || ServicesError::KeyFile { path: path.display().to_string(), reason: "not 64 hex digits".into() };
        let hex = hex.trim();
        if hex.len() != 64 {
            return Err(invalid());
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or_else(invalid)?, 16).map_err(|_| invalid())?;
        }
        Sealer::new(&bytes)
    }

    /// A sealer over a raw 32-byte key.
    pub fn new(key: &[u8; 32]) -> Result<Sealer, ServicesError> {
        let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| ServicesError::Sealed)?;
        Ok(Sealer { key: LessSafeKey::new(key) })
    }

    /// `version || nonce || AES-256-GCM(plain) || tag`, bound to `row`.
    pub fn seal(&self, plain: &[u8], row: &str) -> Result<Vec<u8>, ServicesError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| ServicesError::Randomness)?;
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(row.as_bytes()), &mut sealed)
            .map_err(|_| ServicesError::Sealed)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plain bytes of a value sealed for `row`; any changed byte, another
    /// row or another key is [`ServicesError::Sealed`].
    pub fn open(&self, sealed: &[u8], row: &str) -> Result<Zeroizing<Vec<u8>>, ServicesError> {
        let (&version, rest) = sealed.split_first().ok_or(ServicesError::Sealed)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(ServicesError::Sealed);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| ServicesError::Sealed)?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(row.as_bytes()), buffer.as_mut_slice())
            .map_err(|_| ServicesError::Sealed)?
            .len();
        buffer.truncate(plain_len);
        Ok(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_for_its_row_only_and_not_once_changed() {
        let sealer = Sealer::new(&[7; 32]).unwrap();
        let sealed = sealer.seal(b"110105196108040136", "F1").unwrap();
        assert!(!sealed.windows(18).any(|w| w == b"110105196108040136"), "no clear text at rest");
        assert_eq!(sealer.open(&sealed, "F1").unwrap().as_slice(), b"110105196108040136");
        assert!(matches!(sealer.open(&sealed, "F2"), Err(ServicesError::Sealed)), "moved to another row");
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert!(matches!(sealer.open(&tampered, "F1"), Err(ServicesError::Sealed)), "byte {i} changed");
        }
        assert!(matches!(sealer.open(&sealed[..10], "F1"), Err(ServicesError::Sealed)));
        assert!(matches!(sealer.open(&[], "F1"), Err(ServicesError::Sealed)));
        let other = Sealer::new(&[8; 32]).unwrap();
        assert!(matches!(other.open(&sealed, "F1"), Err(ServicesError::Sealed)), "another key");
        assert_ne!(sealer.seal(b"x", "F1").unwrap(), sealer.seal(b"x", "F1").unwrap(), "a fresh nonce each time");
    }

    #[test]
    fn the_key_file_is_made_once_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!("shenfen-services-sealer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pii.key");
        let _ = std::fs::remove_file(&path);
        let sealed = Sealer::from_file(&path).unwrap().seal(b"name", "row").unwrap();
        assert_eq!(Sealer::from_file(&path).unwrap().open(&sealed, "row").unwrap().as_slice(), b"name");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "zz").unwrap();
        assert!(matches!(Sealer::from_file(&path), Err(ServicesError::KeyFile { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
