//! Reading and writing the files and streams the commands exchange.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use shenfen_credential::{PrivateJwk, PublicJwk};

/// Reads a whole UTF-8 file, naming it in the error.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Reads standard input to the end, trimmed.
pub(crate) fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("cannot read standard input")?;
    Ok(text.trim().to_owned())
}

/// Reads a private JWK file.
pub(crate) fn read_private_jwk(path: &Path) -> Result<PrivateJwk> {
    PrivateJwk::from_json(&read_text(path)?).with_context(|| format!("{} is not a private P-256 JWK", path.display()))
}

/// Reads a public JWK file that must hold no private part: the key of
/// another party (`what`), whose private half this machine must never have.
pub(crate) fn read_public_only_jwk(path: &Path, what: &str) -> Result<PublicJwk> {
    let text = read_text(path)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    if value.get("d").is_some() {
        anyhow::bail!("{} holds a private key: give the public half of {what} only", path.display());
    }
    PublicJwk::from_value(&value).with_context(|| format!("{} is not a P-256 JWK", path.display()))
}

/// Reads a public JWK file (a private one is accepted too: its public half is used).
pub(crate) fn read_public_jwk(path: &Path) -> Result<PublicJwk> {
    PublicJwk::from_json(&read_text(path)?).with_context(|| format!("{} is not a P-256 JWK", path.display()))
}

/// Writes a secret file readable by its owner only, refusing to overwrite one.
pub(crate) fn write_secret(path: &Path, contents: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file =
        options.open(path).with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    file.write_all(contents.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
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
pub(crate) fn print_json(value: &serde_json::Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
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
