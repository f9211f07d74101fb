//! Registry records at rest: each sealed under its own random AES-256 data
//! key (wrapped by the master key), found through an HMAC blind index of the
//! ID number. A copy of the database alone reveals no ID number, name or face.

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use shenfen_core::{CitizenRecord, IdNumber};
use zeroize::Zeroizing;

use crate::StoreError;
use crate::keys::{KeyProvider, open_with, seal_with};

/// Domain separation of the blind index.
const INDEX_CONTEXT: &[u8] = b"shenfen/blind-index/v1|";

/// The only handle on a citizen the database ever sees.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlindIndex(pub [u8; 32]);

impl BlindIndex {
    /// HMAC-SHA-256 of the ID number under the provider's index key.
    pub fn of(keys: &dyn KeyProvider, id: &IdNumber) -> BlindIndex {
        let mut ctx = hmac::Context::with_key(keys.blind_index_key());
        ctx.update(INDEX_CONTEXT);
        ctx.update(id.as_str().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        BlindIndex(out)
    }

    /// Reads a stored index.
    pub fn from_slice(bytes: &[u8]) -> Result<BlindIndex, StoreError> {
        bytes.try_into().map(BlindIndex).map_err(|_| StoreError::Corrupt("blind index is not 32 bytes".into()))
    }

    /// Lowercase hex, for logs and audit views (it reveals nothing without the key).
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlindIndex({}…)", &self.hex()[..12])
    }
}

/// What the registry holds about one citizen, in clear (only in memory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryEntry {
    /// The record as on the card.
    pub record: CitizenRecord,
    /// The face template computed from the registry photo, if any.
    pub face_template: Option<Vec<u8>>,
}

/// A registry entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedEntry {
    /// Lookup key.
    pub index: BlindIndex,
    /// Master key that wrapped `wrapped_key`.
    pub key_id: String,
    /// The entry's data key, wrapped.
    pub wrapped_key: Vec<u8>,
    /// `nonce || AES-256-GCM(entry JSON) || tag`, bound to `index`.
    pub ciphertext: Vec<u8>,
}

impl RegistryEntry {
    /// Seals the entry under a fresh data key.
    pub fn seal(&self, keys: &dyn KeyProvider) -> Result<SealedEntry, StoreError> {
        let index = BlindIndex::of(keys, &self.record.id_number);
        let json = Zeroizing::new(
            serde_json::to_vec(self).map_err(|source| StoreError::Encode { what: "registry entry", source })?,
        );
        let SealedValue { key_id, wrapped_key, ciphertext } = SealedValue::seal(keys, &json, &index.0)?;
        Ok(SealedEntry { index, key_id, wrapped_key, ciphertext })
    }
}

impl SealedEntry {
    /// Opens the entry; fails if any byte was changed or the row was moved to another index.
    pub fn open(&self, keys: &dyn KeyProvider) -> Result<RegistryEntry, StoreError> {
        let data_key = keys.unwrap(&self.key_id, &self.wrapped_key)?;
        let json = open_with(&aead_key(&data_key)?, &self.ciphertext, &self.index.0, "registry entry")?;
        serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(format!("registry entry: {e}")))
    }

    /// The same entry with its data key re-wrapped under the current master key.
    pub fn rewrapped(&self, keys: &dyn KeyProvider) -> Result<SealedEntry, StoreError> {
        let data_key = keys.unwrap(&self.key_id, &self.wrapped_key)?;
        Ok(SealedEntry { key_id: keys.current_key_id().to_owned(), wrapped_key: keys.wrap(&data_key)?, ..self.clone() })
    }
}

fn aead_key(bytes: &[u8; 32]) -> Result<LessSafeKey, StoreError> {
    UnboundKey::new(&AES_256_GCM, bytes).map(LessSafeKey::new).map_err(|_| StoreError::Key("bad data key".into()))
}

/// Any other value kept at rest the way registry entries are: under a fresh
/// AES-256 data key wrapped by the current master key, bound to `aad` (the
/// row it belongs to). Verifier results waiting for their relying party use it.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedValue {
    /// Master key that wrapped `wrapped_key`.
    pub key_id: String,
    /// The value's data key, wrapped.
    pub wrapped_key: Vec<u8>,
    /// `nonce || AES-256-GCM(value) || tag`.
    pub ciphertext: Vec<u8>,
}

impl SealedValue {
    /// Seals `plain` under a fresh data key, bound to `aad`.
    pub fn seal(keys: &dyn KeyProvider, plain: &[u8], aad: &[u8]) -> Result<SealedValue, StoreError> {
        let mut data_key = Zeroizing::new([0u8; 32]);
        SystemRandom::new().fill(data_key.as_mut()).map_err(|_| StoreError::Randomness)?;
        let ciphertext = seal_with(&aead_key(&data_key)?, plain, aad)?;
        Ok(SealedValue { key_id: keys.current_key_id().to_owned(), wrapped_key: keys.wrap(&data_key)?, ciphertext })
    }

    /// The same value with its data key wrapped under the current master key
    /// (after a rotation), the ciphertext untouched.
    pub fn rewrapped(&self, keys: &dyn KeyProvider) -> Result<SealedValue, StoreError> {
        let data_key = keys.unwrap(&self.key_id, &self.wrapped_key)?;
        Ok(SealedValue { key_id: keys.current_key_id().to_owned(), wrapped_key: keys.wrap(&data_key)?, ..self.clone() })
    }

    /// Opens it; fails if any byte changed or it was moved to another row.
    pub fn open(&self, keys: &dyn KeyProvider, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let data_key = keys.unwrap(&self.key_id, &self.wrapped_key)?;
        open_with(&aead_key(&data_key)?, &self.ciphertext, aad, "sealed value")
    }
}
