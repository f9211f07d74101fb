//! Reading and writing the files and streams the commands exchange.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;
use shenfen_credential::{PrivateJwk, PublicJwk};

use crate::coded_error::{FILE_READ, FILE_WRITE, JSON, JWKS, PRIVATE_KEY, coded, fail};

/// Reads a whole file, naming it in the error (`cli.file.read`).
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| fail(FILE_READ, format!("cannot read {}: {}", path.display(), io_reason(&e))))
}

/// Reads a whole UTF-8 file, naming it in the error (`cli.file.read`).
pub(crate) fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read_bytes(path)?).map_err(|_| fail(FILE_READ, format!("{} is not UTF-8 text", path.display())))
}

/// Reads a JSON file, naming it and saying what it should have held (`cli.json`).
pub(crate) fn read_json_file(path: &Path, what: &str) -> Result<Value> {
    serde_json::from_str(&read_text(path)?)
        .map_err(|e| fail(JSON, format!("{} is not valid JSON ({what} expected): {e}", path.display())))
}

/// Writes a file, naming it in the error (`cli.file.write`).
pub(crate) fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    std::fs::write(path, contents)
        .map_err(|e| fail(FILE_WRITE, format!("cannot write {}: {}", path.display(), io_reason(&e))))
}

/// An I/O error as a sentence, without its `(os error N)` suffix.
pub(crate) fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::AlreadyExists => "it exists already".to_owned(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_owned(),
        _ => err.to_string(),
    }
}

/// Reads standard input to the end, trimmed.
pub(crate) fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| fail(FILE_READ, format!("cannot read standard input as text: {}", io_reason(&e))))?;
    Ok(text.trim().to_owned())
}

/// Reads a private JWK file; a public key given here is named as such.
pub(crate) fn read_private_jwk(path: &Path) -> Result<PrivateJwk> {
    PrivateJwk::from_json(&read_text(path)?)
        .map_err(coded)
        .with_context(|| format!("{} is not a private P-256 JWK", path.display()))
}

/// Reads a public JWK file that must hold no private part: the key of
/// another party (`what`), whose private half this machine must never have.
pub(crate) fn read_public_only_jwk(path: &Path, what: &str) -> Result<PublicJwk> {
    let value = read_json_file(path, what)?;
    if value.get("d").is_some() {
        let reason = format!("{} holds a private key: give the public half of {what} only", path.display());
        return Err(fail(PRIVATE_KEY, reason));
    }
    PublicJwk::from_value(&value).map_err(coded).with_context(|| format!("{} is not a P-256 JWK", path.display()))
}

/// Reads a public JWK file (a private one is accepted too: its public half is used).
pub(crate) fn read_public_jwk(path: &Path) -> Result<PublicJwk> {
    PublicJwk::from_json(&read_text(path)?)
        .map_err(coded)
        .with_context(|| format!("{} is not a P-256 JWK", path.display()))
}

/// Reads a JWK Set file (`{"keys": [...]}`, at least one key); a single JWK
/// given where a set is expected is named as such (`cli.jwks`).
pub(crate) fn read_jwks(path: &Path) -> Result<Vec<Value>> {
    let jwks = read_json_file(path, "a JWK Set")?;
    match jwks.get("keys").and_then(Value::as_array) {
        Some(keys) if !keys.is_empty() => Ok(keys.clone()),
        Some(_) => Err(fail(JWKS, format!("the JWK Set in {} has no keys", path.display()))),
        None if jwks.get("kty").is_some() => Err(fail(
            JWKS,
            format!("{} holds a single JWK; a JWK Set is expected: {{\"keys\": [JWK, …]}}", path.display()),
        )),
        None => Err(fail(JWKS, format!("{} is not a JWK Set: it has no \"keys\" array", path.display()))),
    }
}

/// Writes a secret file readable by its owner only, refusing to overwrite one.
pub(crate) fn write_secret(path: &Path, contents: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(path).and_then(|mut file| file.write_all(contents.as_bytes()));
    written.map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::AlreadyExists => "it exists already, and a key is never overwritten".to_owned(),
            _ => io_reason(&e),
        };
        fail(FILE_WRITE, format!("cannot create {}: {reason}", path.display()))
    })
}

/// Splits `a,b,c` lists given once or several times into JSON Pointers:
/// a bare name `given_name` means the top-level claim `/given_name`.
pub(crate) fn claim_pointers(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| if name.starts_with('/') { name.to_owned() } else { shenfen_credential::child_pointer("", name) })
        .collect()
}

/// Prints a JSON value, pretty, on standard output.
pub(crate) fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value).context("cannot print JSON")?);
    Ok(())
}

/// `relative` (a file or directory of the repository) from the working
/// directory if it is there, else next to the binary (`target/{debug,release}/shenfen`
/// → the repository root), so commands work from a checkout wherever they run.
pub(crate) fn repository_path(relative: &str) -> Option<PathBuf> {
    let here = PathBuf::from(relative);
    if here.exists() {
        return Some(here);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent()?.parent().map(|repo| repo.join(relative)))
        .filter(|p| p.exists())
}
