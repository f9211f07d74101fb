//! The files a service keeps in its data directory: its ES256 client key
//! (made on first run, readable by its owner only) with the public JWK Set
//! beside it for the authority's registration, and the data key of
//! [`crate::sealed`].

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;
use shenfen_credential::PrivateJwk;

use crate::error::ServicesError;

fn key_error(path: &Path, reason: impl ToString) -> ServicesError {
    ServicesError::KeyFile { path: path.display().to_string(), reason: reason.to_string() }
}

/// Lowercase hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The contents of the secret file `path`, or, when there is none, `make()`
/// written there first (mode 0600, never over an existing file).
pub(crate) fn read_or_create_secret(
    path: &Path,
    make: impl FnOnce() -> Result<String, ServicesError>,
) -> Result<String, ServicesError> {
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok(text),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(key_error(path, e)),
        Err(_) => {}
    }
    let contents = make()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(contents.as_bytes()).map_err(|e| key_error(path, e))?;
            Ok(contents)
        }
        // Another process made it meanwhile: its key is the key.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(path).map_err(|e| key_error(path, e))
        }
        Err(e) => Err(key_error(path, e)),
    }
}

/// Where service `name`'s private client key lives in `data_dir`.
pub fn client_key_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join(format!("{name}.key.jwk"))
}

/// Where service `name`'s public JWK Set lives in `data_dir` (for `shenfen rp add --client-jwks`).
pub fn client_jwks_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join(format!("{name}.jwks.json"))
}

/// Service `name`'s client key, made on first use, with its public JWK Set
/// written (again) beside it.
pub fn client_key(data_dir: &Path, name: &str) -> Result<PrivateJwk, ServicesError> {
    let path = client_key_path(data_dir, name);
    let text = read_or_create_secret(&path, || {
        let key = PrivateJwk::generate().map_err(|e| key_error(&path, e))?;
        let kid = format!("{name}-{}", &key.public().thumbprint()[..8]);
        Ok(key.with_kid(kid).to_value().to_string())
    })?;
    let key = PrivateJwk::from_json(&text).map_err(|e| key_error(&path, e))?;
    let jwks_path = client_jwks_path(data_dir, name);
    let jwks = json!({ "keys": [key.public().to_value()] });
    std::fs::write(&jwks_path, format!("{jwks:#}\n")).map_err(|e| key_error(&jwks_path, e))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_key_is_made_once_and_its_public_set_holds_no_private_member() {
        let dir = std::env::temp_dir().join(format!("shenfen-services-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let first = client_key(&dir, "portal").unwrap();
        let again = client_key(&dir, "portal").unwrap();
        assert_eq!(first.public().thumbprint(), again.public().thumbprint());
        let jwks: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(client_jwks_path(&dir, "portal")).unwrap()).unwrap();
        assert_eq!(jwks["keys"][0]["kty"], "EC");
        assert!(jwks["keys"][0].get("d").is_none(), "no private member in the public set");
        assert!(jwks["keys"][0]["kid"].as_str().unwrap().starts_with("portal-"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
