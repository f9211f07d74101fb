//! `shenfen serve --config FILE`: the server's settings from a TOML file.
//! Flags win over environment variables, which win over the file, which wins
//! over the defaults — so one file describes a deployment and a flag can still
//! override it for one run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use shenfen_server::Policy;

/// Which liveness checks enrollment requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Liveness {
    /// The passive anti-spoofing model, the movement challenge and the colour flash (the default).
    All,
    /// The movement challenge and the colour flash, without the passive model.
    Challenge,
    /// The passive model and the colour flash: one look at the camera under
    /// the flashing screen, no movements (`shenfen demo`'s default).
    Flash,
    /// The passive model only: a still photo can pass; for scripted demos
    /// without a camera, never for real enrollment.
    Passive,
}

impl Liveness {
    /// Sets which checks `policy` requires.
    pub fn apply(self, policy: &mut shenfen_face::ChallengePolicy) {
        policy.require_passive = self != Liveness::Challenge;
        policy.require_active = matches!(self, Liveness::All | Liveness::Challenge);
        policy.require_flash = self != Liveness::Passive;
    }
}

/// The file's contents; every key is optional, unknown keys are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// As `--listen`.
    pub listen: Option<SocketAddr>,
    /// As `--public-url`.
    pub public_url: Option<String>,
    /// As `--issuer-key`.
    pub issuer_key: Option<PathBuf>,
    /// As `--retired-issuer-jwk`, a list.
    #[serde(default)]
    pub retired_issuer_jwks: Vec<PathBuf>,
    /// As `--liveness`.
    pub liveness: Option<Liveness>,
    /// As `--models`.
    pub models: Option<PathBuf>,
    /// As `--db`.
    pub db: Option<String>,
    /// As `--key-file`.
    pub key_file: Option<PathBuf>,
    /// As `--web-libraries`.
    pub web_libraries: Option<PathBuf>,
    /// Enrollment and issuance limits (the `[policy]` table).
    #[serde(default)]
    pub policy: PolicyConfig,
}

/// The `[policy]` table: each key overrides one default of [`Policy`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    challenge_length: Option<usize>,
    session_secs: Option<i64>,
    starts_per_subject_hour: Option<u64>,
    starts_per_client_hour: Option<u64>,
    failures_per_subject_day: Option<u64>,
    max_batch: Option<usize>,
    credential_ttl_secs: Option<i64>,
    attestation_secs: Option<i64>,
    operator_session_secs: Option<i64>,
    operator_failures_per_hour: Option<u64>,
    tx_code_attempts: Option<u64>,
    frames_per_client_minute: Option<u64>,
    counter_frames_per_minute: Option<u64>,
    cpu_workers: Option<usize>,
    cpu_queue: Option<usize>,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed.
    trusted_proxies: Option<Vec<ipnet::IpNet>>,
}

impl ServeConfig {
    /// Reads and checks a config file; errors name the file, line and key.
    pub fn load(path: &Path) -> Result<ServeConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let config: ServeConfig =
            toml::from_str(&text).with_context(|| format!("{} is not a valid config", path.display()))?;
        config.policy.check().with_context(|| format!("{}: [policy]", path.display()))?;
        Ok(config)
    }
}

impl PolicyConfig {
    fn check(&self) -> Result<()> {
        let positive = [
            ("challenge_length", self.challenge_length.map(|v| v as i64)),
            ("session_secs", self.session_secs),
            ("max_batch", self.max_batch.map(|v| v as i64)),
            ("credential_ttl_secs", self.credential_ttl_secs),
            ("attestation_secs", self.attestation_secs),
            ("operator_session_secs", self.operator_session_secs),
            ("frames_per_client_minute", self.frames_per_client_minute.map(|v| v as i64)),
            ("counter_frames_per_minute", self.counter_frames_per_minute.map(|v| v as i64)),
            ("cpu_workers", self.cpu_workers.map(|v| v as i64)),
        ];
        for (key, value) in positive {
            if value.is_some_and(|v| v <= 0) {
                bail!("{key} must be positive");
            }
        }
        if self.challenge_length.is_some_and(|n| n > shenfen_face::Action::ALL.len()) {
            bail!("challenge_length is at most {} (the distinct actions)", shenfen_face::Action::ALL.len());
        }
        Ok(())
    }

    /// Overrides the defaults this table sets.
    pub fn apply(&self, policy: &mut Policy) {
        fn set<T: Copy>(slot: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *slot = value;
            }
        }
        set(&mut policy.challenge_length, self.challenge_length);
        set(&mut policy.session_secs, self.session_secs);
        set(&mut policy.starts_per_subject_hour, self.starts_per_subject_hour);
        set(&mut policy.starts_per_client_hour, self.starts_per_client_hour);
        set(&mut policy.failures_per_subject_day, self.failures_per_subject_day);
        set(&mut policy.max_batch, self.max_batch);
        set(&mut policy.credential_ttl_secs, self.credential_ttl_secs);
        set(&mut policy.attestation_secs, self.attestation_secs);
        set(&mut policy.operator_session_secs, self.operator_session_secs);
        set(&mut policy.operator_failures_per_hour, self.operator_failures_per_hour);
        set(&mut policy.tx_code_attempts, self.tx_code_attempts);
        set(&mut policy.frames_per_client_minute, self.frames_per_client_minute);
        set(&mut policy.counter_frames_per_minute, self.counter_frames_per_minute);
        set(&mut policy.cpu_workers, self.cpu_workers);
        set(&mut policy.cpu_queue, self.cpu_queue);
        if let Some(proxies) = &self.trusted_proxies {
            policy.trusted_proxies.clone_from(proxies);
        }
    }
}

/// The file's value for a store setting, unless a flag or `env` set it.
pub fn unless_set<T>(flag: Option<T>, env: &str, file: Option<T>) -> Option<T> {
    if flag.is_some() || std::env::var_os(env).is_some() { flag } else { file }
}
