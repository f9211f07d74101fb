//! The wallet file: the holder's state sealed under their wallet PIN.
//!
//! `wallet.json` = `{version, kdf: {alg: "argon2id", salt, m, t, p}, nonce,
//! ciphertext}` (base64url), where ciphertext = AES-256-GCM(key, state JSON)
//! and key = argon2id(PIN, salt). A wrong PIN and an altered file are the
//! same failure: the tag does not verify. Writes go to a temporary file that
//! is renamed over the old one, so a crash leaves the old or the new wallet.

use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::WalletError;

const FILE: &str = "wallet.json";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Kdf {
    alg: String,
    salt: String,
    m: u32,
    t: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct SealedFile {
    version: u32,
    kdf: Kdf,
    nonce: String,
    ciphertext: String,
}

/// A wallet directory opened with its PIN: seals and unseals the state.
pub struct Vault {
    path: PathBuf,
    salt: Vec<u8>,
    key: Zeroizing<[u8; 32]>,
}

/// Checks a wallet PIN: at least six characters, not one repeated character.
pub fn check_wallet_pin(pin: &str) -> Result<(), WalletError> {
    let mut chars = pin.chars();
    let first = chars.next();
    if pin.chars().count() < 6 || chars.all(|c| Some(c) == first) {
        return Err(WalletError::WeakPin("use at least 6 characters, not one repeated".into()));
    }
    Ok(())
}

impl Vault {
    /// Creates a new, empty wallet in `dir` (which must not hold one yet).
    pub fn create(dir: &Path, pin: &str) -> Result<Vault, WalletError> {
        check_wallet_pin(pin)?;
        let path = dir.join(FILE);
        if path.exists() {
            return Err(WalletError::Location(format!("{} already holds a wallet", dir.display())));
        }
        std::fs::create_dir_all(dir)?;
        let mut salt = vec![0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| WalletError::Corrupt("no randomness".into()))?;
        let key = derive(pin, &salt, &default_params())?;
        Ok(Vault { path, salt, key })
    }

    /// Opens the wallet in `dir` with `pin`; returns it and the state JSON.
    pub fn open(dir: &Path, pin: &str) -> Result<(Vault, Vec<u8>), WalletError> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                WalletError::Location(format!("no wallet in {}: run `shenfen wallet init` first", dir.display()))
            }
            _ => WalletError::Io(e),
        })?;
        let file: SealedFile = serde_json::from_str(&text).map_err(|e| WalletError::Corrupt(e.to_string()))?;
        if file.version != VERSION || file.kdf.alg != "argon2id" {
            return Err(WalletError::Corrupt(format!("version {} / {} is not supported", file.version, file.kdf.alg)));
        }
        let decode = |field: &str, text: &str| {
            URL_SAFE_NO_PAD.decode(text).map_err(|_| WalletError::Corrupt(format!("{field} is not base64url")))
        };
        let salt = decode("salt", &file.kdf.salt)?;
        let params = Params::new(file.kdf.m, file.kdf.t, file.kdf.p, Some(32))
            .map_err(|e| WalletError::Corrupt(format!("kdf parameters: {e}")))?;
        let key = derive(pin, &salt, &params)?;
        let nonce: [u8; NONCE_LEN] =
            decode("nonce", &file.nonce)?.try_into().map_err(|_| WalletError::Corrupt("nonce length".into()))?;
        let mut sealed = decode("ciphertext", &file.ciphertext)?;
        let state = cipher(&key)?
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad(&file.kdf)), &mut sealed)
            .map_err(|_| WalletError::WrongPin)?
            .to_vec();
        Ok((Vault { path, salt, key }, state))
    }

    /// Seals `state` and replaces the wallet file atomically.
    pub fn save(&self, state: &[u8]) -> Result<(), WalletError> {
        let params = default_params();
        let kdf = Kdf {
            alg: "argon2id".into(),
            salt: URL_SAFE_NO_PAD.encode(&self.salt),
            m: params.m_cost(),
            t: params.t_cost(),
            p: params.p_cost(),
        };
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| WalletError::Corrupt("no randomness".into()))?;
        let mut sealed = state.to_vec();
        cipher(&self.key)?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad(&kdf)), &mut sealed)
            .map_err(|_| WalletError::Corrupt("sealing failed".into()))?;
        let file = SealedFile {
            version: VERSION,
            kdf,
            nonce: URL_SAFE_NO_PAD.encode(nonce),
            ciphertext: URL_SAFE_NO_PAD.encode(&sealed),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| WalletError::Corrupt(e.to_string()))?;
        let temporary = self.path.with_extension("json.tmp");
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, &self.path)?;
        Ok(())
    }
}

/// The wallet's key-derivation cost: OWASP's argon2id baseline.
fn default_params() -> Params {
    Params::new(19 * 1024, 2, 1, Some(32)).unwrap_or_default()
}

fn derive(pin: &str, salt: &[u8], params: &Params) -> Result<Zeroizing<[u8; 32]>, WalletError> {
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into(pin.as_bytes(), salt, key.as_mut())
        .map_err(|e| WalletError::Corrupt(format!("key derivation: {e}")))?;
    Ok(key)
}

fn cipher(key: &[u8; 32]) -> Result<LessSafeKey, WalletError> {
    Ok(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| WalletError::Corrupt("key".into()))?))
}

/// The KDF parameters are authenticated, so they cannot be weakened in place.
fn aad(kdf: &Kdf) -> Vec<u8> {
    format!("shenfen-wallet/v{VERSION}/{}/{}/{}/{}/{}", kdf.alg, kdf.salt, kdf.m, kdf.t, kdf.p).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("shenfen-vault-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn seals_under_the_pin_and_refuses_a_wrong_one_or_an_edit() {
        let dir = temp("seal");
        let vault = Vault::create(&dir, "open sesame").unwrap();
        vault.save(br#"{"secret":"credential"}"#).unwrap();
        let on_disk = std::fs::read_to_string(dir.join(FILE)).unwrap();
        assert!(!on_disk.contains("credential"), "ciphertext only");
        let (_, state) = Vault::open(&dir, "open sesame").unwrap();
        assert_eq!(state, br#"{"secret":"credential"}"#);
        assert!(matches!(Vault::open(&dir, "open sesamE"), Err(WalletError::WrongPin)));
        let weakened = on_disk.replace("\"m\": 19456", "\"m\": 8");
        std::fs::write(dir.join(FILE), weakened).unwrap();
        assert!(matches!(Vault::open(&dir, "open sesame"), Err(WalletError::WrongPin)), "parameters are authenticated");
        assert!(matches!(Vault::create(&dir, "open sesame"), Err(WalletError::Location(_))), "never overwritten");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn weak_pins_are_refused() {
        for weak in ["12345", "000000", "aaaaaaaa"] {
            assert_eq!(check_wallet_pin(weak).unwrap_err().code(), "wallet.pin.weak", "{weak}");
        }
        assert!(check_wallet_pin("482915").is_ok());
    }
}
