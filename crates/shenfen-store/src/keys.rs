//! Master keys, behind a provider trait so an HSM or KMS can hold them later.
//!
//! Two kinds of secret, configured separately: master keys (each with an id)
//! from which key-encryption keys are derived (HKDF-SHA-256) to wrap the
//! per-record data keys, and one blind-index secret. Rotating master keys
//! re-wraps data keys only (`SqlStore::rewrap`) and needs no plaintext; the
//! blind-index secret is not rotated in place, because changing it means
//! re-indexing every record from its decrypted ID number.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::StoreError;

const NONCE_LEN: usize = 12;

/// Wraps and unwraps per-record data keys, and keys the blind index.
pub trait KeyProvider: Send + Sync {
    /// The id of the key new data keys are wrapped under.
    fn current_key_id(&self) -> &str;
    /// Wraps a data key under the current key.
    fn wrap(&self, data_key: &[u8; 32]) -> Result<Vec<u8>, StoreError>;
    /// Unwraps a data key wrapped under `key_id`.
    fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<Zeroizing<[u8; 32]>, StoreError>;
    /// The HMAC key of the blind index.
    fn blind_index_key(&self) -> &hmac::Key;
    /// A 256-bit secret for another server purpose (e.g. `c_nonce` MACs),
    /// the same on every instance, independent of every other purpose.
    fn purpose_secret(&self, purpose: &'static [u8]) -> Result<Zeroizing<[u8; 32]>, StoreError>;
}

struct Kek {
    id: String,
    key: LessSafeKey,
}

/// Keys held in process memory, from a file or an environment variable.
pub struct LocalKeys {
    keks: Vec<Kek>,
    index: hmac::Key,
    index_secret: Zeroizing<[u8; 32]>,
}

impl LocalKeys {
    /// Parses master keys `id:hex64[,id:hex64…]` (the first is current; later
    /// ones only unwrap data keys wrapped before a rotation) and the 64-hex-digit
    /// blind-index secret.
    pub fn parse(masters: &str, index_secret: &str) -> Result<LocalKeys, StoreError> {
        let spec = masters;
        let mut roots = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, hex) =
                entry.split_once(':').ok_or_else(|| StoreError::Key("each key is written id:64-hex-digits".into()))?;
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(StoreError::Key(format!("key id {id:?} must be letters, digits, - or _")));
            }
            roots.push((id.to_owned(), decode_hex32(hex)?));
        }
        Self::from_secrets(roots, &*decode_hex32(index_secret)?)
    }

    /// Builds from (id, master secret) pairs, current first, and the index secret.
    pub fn from_secrets(
        roots: Vec<(String, Zeroizing<[u8; 32]>)>,
        index_secret: &[u8; 32],
    ) -> Result<LocalKeys, StoreError> {
        if roots.is_empty() {
            return Err(StoreError::Key("no master key configured".into()));
        }
        let index = hmac::Key::new(hmac::HMAC_SHA256, derive(index_secret, b"shenfen/blind-index/v1")?.as_ref());
        let keks = roots
            .iter()
            .map(|(id, root)| {
                let bytes = derive(root, b"shenfen/key-encryption/v1")?;
                let unbound = UnboundKey::new(&AES_256_GCM, bytes.as_ref())
                    .map_err(|_| StoreError::Key("bad key length".into()))?;
                Ok(Kek { id: id.clone(), key: LessSafeKey::new(unbound) })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(LocalKeys { keks, index, index_secret: Zeroizing::new(*index_secret) })
    }

    /// A fresh random 256-bit secret as 64 hex digits, for setup and tests.
    pub fn generate_secret() -> Result<String, StoreError> {
        let mut secret = Zeroizing::new([0u8; 32]);
        SystemRandom::new().fill(secret.as_mut()).map_err(|_| StoreError::Randomness)?;
        Ok(secret.iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl KeyProvider for LocalKeys {
    fn current_key_id(&self) -> &str {
        self.keks.first().map_or("", |k| k.id.as_str())
    }

    fn wrap(&self, data_key: &[u8; 32]) -> Result<Vec<u8>, StoreError> {
        let kek = self.keks.first().ok_or_else(|| StoreError::Key("no master key".into()))?;
        seal_with(&kek.key, data_key, kek.id.as_bytes())
    }

    fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let kek = self
            .keks
            .iter()
            .find(|k| k.id == key_id)
            .ok_or_else(|| StoreError::Key(format!("master key {key_id:?} is not configured")))?;
        let plain = open_with(&kek.key, wrapped, key_id.as_bytes(), "data key")?;
        let mut out = Zeroizing::new([0u8; 32]);
        if plain.len() != 32 {
            return Err(StoreError::Unseal("data key"));
        }
        out.copy_from_slice(&plain);
        Ok(out)
    }

    fn blind_index_key(&self) -> &hmac::Key {
        &self.index
    }

    fn purpose_secret(&self, purpose: &'static [u8]) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        if purpose == b"shenfen/blind-index/v1" {
            return Err(StoreError::Key("that purpose is reserved for the blind index".into()));
        }
        derive(&self.index_secret, purpose)
    }
}

/// AES-256-GCM with a random 96-bit nonce, output `nonce || ciphertext || tag`.
pub(crate) fn seal_with(key: &LessSafeKey, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| StoreError::Randomness)?;
    let mut buffer = plain.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut buffer)
        .map_err(|_| StoreError::Key("encryption failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buffer);
    Ok(out)
}

/// Opens what [`seal_with`] made.
pub(crate) fn open_with(
    key: &LessSafeKey,
    sealed: &[u8],
    aad: &[u8],
    what: &'static str,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(StoreError::Unseal(what));
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StoreError::Unseal(what))?;
    let mut buffer = Zeroizing::new(body.to_vec());
    let plain = key.open_in_place(nonce, Aad::from(aad), buffer.as_mut()).map_err(|_| StoreError::Unseal(what))?;
    Ok(Zeroizing::new(plain.to_vec()))
}

fn derive(root: &[u8; 32], label: &'static [u8]) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let prk = Salt::new(HKDF_SHA256, b"shenfen").extract(root);
    let labels = [label];
    let okm = prk.expand(&labels, HKDF_SHA256).map_err(|_| StoreError::Key("key derivation failed".into()))?;
    let mut out = Zeroizing::new([0u8; 32]);
    okm.fill(out.as_mut()).map_err(|_| StoreError::Key("key derivation failed".into()))?;
    Ok(out)
}

fn decode_hex32(hex: &str) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::Key("a master key is 64 hexadecimal digits (32 bytes)".into()));
    }
    let mut out = Zeroizing::new([0u8; 32]);
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| StoreError::Key("bad hex".into()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> String {
        LocalKeys::generate_secret().unwrap()
    }

    #[test]
    fn wrap_unwrap_and_rotation() {
        let (k1, index) = (secret(), secret());
        let old = LocalKeys::parse(&format!("k1:{k1}"), &index).unwrap();
        let wrapped = old.wrap(&[7; 32]).unwrap();
        assert_eq!(*old.unwrap("k1", &wrapped).unwrap(), [7; 32]);
        let rotated = LocalKeys::parse(&format!("k2:{},k1:{k1}", secret()), &index).unwrap();
        assert_eq!(rotated.current_key_id(), "k2");
        assert_eq!(*rotated.unwrap("k1", &wrapped).unwrap(), [7; 32], "old keys still unwrap");
        let impostor = LocalKeys::parse(&format!("k1:{}", secret()), &index).unwrap();
        assert!(
            matches!(impostor.unwrap("k1", &wrapped), Err(StoreError::Unseal(_))),
            "a different k1 secret must not open it"
        );
        assert!(matches!(rotated.unwrap("k9", &wrapped), Err(StoreError::Key(_))));
    }

    #[test]
    fn tampering_is_detected() {
        let keys = LocalKeys::parse(&format!("k1:{}", secret()), &secret()).unwrap();
        let mut wrapped = keys.wrap(&[1; 32]).unwrap();
        let last = wrapped.len() - 1;
        wrapped[last] ^= 1;
        assert!(matches!(keys.unwrap("k1", &wrapped), Err(StoreError::Unseal(_))));
    }

    #[test]
    fn malformed_specs_are_refused() {
        let index = secret();
        for bad in ["", "k1", "k1:zz", "k 1:00", &format!("k1:{}", "0".repeat(63))] {
            assert!(LocalKeys::parse(bad, &index).is_err(), "{bad:?}");
        }
        assert!(LocalKeys::parse(&format!("k1:{}", secret()), "short").is_err());
    }
}
