//! Where the authority's state lives: the database URL and the master keys,
//! from flags, the environment, or a zero-setup local data directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use shenfen_store::{LocalKeys, SqlStore};

use crate::coded_error::{FILE_READ, FILE_WRITE, JSON, coded, fail};
use crate::files::{io_reason, read_text, write_secret};

/// The data directory used when nothing else is configured.
pub(crate) const DEFAULT_DIR: &str = "shenfen-data";

/// Database and key options shared by every command that touches the registry.
#[derive(Args, Clone)]
pub(crate) struct StoreArgs {
    /// Directory of the embedded setup: its SQLite database, key file and issuer key.
    #[arg(long, env = "SHENFEN_DATA_DIR", default_value = DEFAULT_DIR)]
    pub data_dir: PathBuf,
    /// Database: sqlite:PATH or postgres://… (default $SHENFEN_DB, else sqlite:DATA_DIR/shenfen.db).
    #[arg(long)]
    pub db: Option<String>,
    /// Key file with the master keys and blind-index secret (default $SHENFEN_KEY_FILE,
    /// else shenfen-data/keys.json, created on first use with the default SQLite database).
    /// $SHENFEN_MASTER_KEYS and $SHENFEN_INDEX_KEY override it.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

/// The key file's contents.
#[derive(Serialize, Deserialize)]
struct KeyFile {
    /// `id:64-hex[,id:64-hex…]`, current first.
    master_keys: String,
    /// 64 hex digits.
    index_key: String,
}

impl StoreArgs {
    /// The embedded setup in `dir`, as `shenfen demo` uses it.
    pub(crate) fn embedded(dir: &Path) -> StoreArgs {
        StoreArgs { data_dir: dir.to_path_buf(), db: None, key_file: None }
    }

    /// The database URL, and whether it is the default embedded one (created on first use).
    fn db_url(&self) -> (String, bool) {
        match self.db.clone().or_else(|| std::env::var("SHENFEN_DB").ok()) {
            Some(url) => (url, false),
            None => (format!("sqlite:{}", self.data_dir.join("shenfen.db").display()), true),
        }
    }

    /// Opens (and migrates) the database.
    pub(crate) async fn open_store(&self) -> Result<SqlStore> {
        let (url, default) = self.db_url();
        if default {
            create_dir(&self.data_dir)?;
        }
        SqlStore::open(&url).await.map_err(coded).context("cannot open the database")
    }

    /// Opens the database, which must already exist: a command that only
    /// reads (`audit verify`) reports a wrong directory or URL instead of
    /// creating an empty database and finding it intact.
    pub(crate) async fn open_existing_store(&self) -> Result<SqlStore> {
        self.require_existing_database(false)?;
        self.open_store().await
    }

    /// Refuses a SQLite database that does not exist — any, or (with
    /// `unless_default`) one named by `--db`, `$SHENFEN_DB` or a config file,
    /// which a typo must not replace with an empty one (`store.not_found`).
    pub(crate) fn require_existing_database(&self, unless_default: bool) -> Result<()> {
        let (url, default) = self.db_url();
        if unless_default && default {
            return Ok(());
        }
        match url.strip_prefix("sqlite:").map(|rest| rest.split('?').next().unwrap_or(rest)) {
            Some(path) if !Path::new(path).exists() => Err(fail(
                "store.not_found",
                format!(
                    "no database at {path}: run the command in the authority's directory, or name the database \
                     with --data-dir or --db"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Loads the keys, creating a local key file only for the default
    /// embedded setup: a key file named by flag or environment that is
    /// missing is an error, not a fresh set of keys that opens nothing.
    pub(crate) fn keys(&self) -> Result<LocalKeys> {
        if let (Ok(masters), Ok(index)) = (std::env::var("SHENFEN_MASTER_KEYS"), std::env::var("SHENFEN_INDEX_KEY")) {
            return LocalKeys::parse(&masters, &index).map_err(coded);
        }
        let named = self.key_file.clone().or_else(|| std::env::var_os("SHENFEN_KEY_FILE").map(PathBuf::from));
        let path = named.clone().unwrap_or_else(|| self.data_dir.join("keys.json"));
        if !path.exists() {
            if named.is_some() {
                return Err(fail("store.key_file", format!("no key file at {}", path.display())));
            }
            if !self.db_url().1 {
                return Err(fail(
                    "store.key_file",
                    "no keys for this database: set SHENFEN_MASTER_KEYS and SHENFEN_INDEX_KEY, or pass --key-file",
                ));
            }
            let fresh = KeyFile {
                master_keys: format!("k1:{}", LocalKeys::generate_secret().map_err(coded)?),
                index_key: LocalKeys::generate_secret().map_err(coded)?,
            };
            create_dir(path.parent().unwrap_or(Path::new(".")))?;
            write_secret(&path, &serde_json::to_string_pretty(&fresh)?)?;
        }
        let file: KeyFile = serde_json::from_str(&read_text(&path)?)
            .map_err(|e| fail(JSON, format!("{} is not a shenfen key file: {e}", path.display())))?;
        LocalKeys::parse(&file.master_keys, &file.index_key).map_err(coded)
    }
}

/// The authority's credential-signing key: `--issuer-key`, else
/// `DATA_DIR/issuer.jwk`, created on first use with the embedded database.
pub(crate) fn issuer_key(args: &StoreArgs, explicit: Option<&Path>) -> Result<shenfen_credential::PrivateJwk> {
    let path = explicit.map_or_else(|| args.data_dir.join("issuer.jwk"), Path::to_path_buf);
    if !path.exists() {
        if explicit.is_some() || !args.db_url().1 {
            return Err(fail(
                FILE_READ,
                format!(
                    "no issuer key at {}: create one with `shenfen keys generate --out {}`",
                    path.display(),
                    path.display()
                ),
            ));
        }
        let key = shenfen_credential::PrivateJwk::generate().map_err(coded)?;
        // A short kid (48 bits of the RFC 7638 thumbprint) tells an issuer's
        // few keys apart and keeps every credential, and QR code, 33 bytes smaller.
        let kid: String = key.public().thumbprint().chars().take(8).collect();
        let key = key.with_kid(kid);
        create_dir(&args.data_dir)?;
        write_secret(&path, &serde_json::to_string_pretty(&key.to_value())?)?;
    }
    crate::files::read_private_jwk(&path)
}

/// Creates a directory and its parents (`cli.file.write`).
fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| fail(FILE_WRITE, format!("cannot create {}: {}", dir.display(), io_reason(&e))))
}

/// A runtime for the commands that talk to the database.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
