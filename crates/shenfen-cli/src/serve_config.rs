//! `shenfen serve --config FILE`: the server's settings from a TOML file.
//! Flags win over environment variables, which win over the file, which wins
//! over the defaults — so one file describes a deployment and a flag can still
//! override it for one run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use shenfen_server::Policy;

use crate::coded_error::{FORMAT, fail};
use crate::files::read_text;

/// Which liveness checks enrollment requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Liveness {
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
    pub(crate) fn apply(self, policy: &mut shenfen_face::ChallengePolicy) {
        policy.require_passive = self != Liveness::Challenge;
        policy.require_active = matches!(self, Liveness::All | Liveness::Challenge);
        policy.require_flash = self != Liveness::Passive;
    }
}

/// The file's contents; every key is optional, unknown keys are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServeConfig {
    /// As `--listen`.
    pub listen: Option<SocketAddr>,
    /// As `--public-url`.
    pub public_url: Option<String>,
    /// As `--issuer-key`.
    pub issuer_key: Option<PathBuf>,
    /// As `--retired-issuer-jwk`, a list.
    #[serde(default)]
    pub retired_issuer_jwks: Vec<PathBuf>,
    /// As `--police-key`.
    pub police_key: Option<PathBuf>,
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
    /// Enrollment and issuance settings (the `[policy]` table): every field
    /// of the server's [`Policy`], each defaulting as there.
    #[serde(default)]
    pub policy: Policy,
}

impl ServeConfig {
    /// Reads and checks a config file; errors name the file, line and key.
    pub(crate) fn load(path: &Path) -> Result<ServeConfig> {
        ServeConfig::parse(&read_text(path)?).with_context(|| format!("{} is not a valid config", path.display()))
    }

    /// Parses a config and checks its policy; errors name the line and key.
    fn parse(text: &str) -> Result<ServeConfig> {
        let config: ServeConfig = toml::from_str(text).map_err(|e| fail(FORMAT, toml_error(text, &e)))?;
        config.policy.check().map_err(|e| fail("server.policy.invalid", format!("[policy] {e}")))?;
        Ok(config)
    }
}

/// A parse error as its line and the parser's message, without the line's
/// text: the line may hold a secret (a database URL with its password,
/// under a misspelled key) that must not reach a log.
fn toml_error(text: &str, error: &toml::de::Error) -> String {
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {}", error.message())
        }
        None => error.message().to_owned(),
    }
}

/// The file's value for a store setting, unless a flag or `env` set it.
pub(crate) fn unless_set<T>(flag: Option<T>, env: &str, file: Option<T>) -> Option<T> {
    if flag.is_some() || std::env::var_os(env).is_some() { flag } else { file }
}

#[cfg(test)]
mod tests {
    use shenfen_face::Action;

    use super::*;

    fn refusal(text: &str) -> String {
        format!("{:#}", ServeConfig::parse(text).unwrap_err())
    }

    #[test]
    fn the_policy_table_sets_every_field_of_the_policy_and_nested_tables_keep_their_other_defaults() {
        let config = ServeConfig::parse(
            "[policy]\nchallenge_actions = [\"blink\", \"nod\"]\nchallenge_length = 2\nmax_batch = 3\n\
             trusted_proxies = [\"10.0.0.0/8\"]\nquestions_per_relying_party_hour = 50\n\
             [policy.liveness]\nmin_live_score = 0.6\n[policy.liveness.flash]\nmin_response = 0.05\n\
             [policy.quality]\nbrightness = [30.0, 230.0]\n[policy.pin_lockout]\nblock_after = 20\n",
        )
        .unwrap();
        let (policy, defaults) = (config.policy, Policy::default());
        assert_eq!(policy.challenge_actions, [Action::Blink, Action::Nod]);
        assert_eq!((policy.challenge_length, policy.max_batch), (2, 3));
        assert_eq!(policy.trusted_proxies.iter().map(ToString::to_string).collect::<Vec<_>>(), ["10.0.0.0/8"]);
        assert_eq!(policy.questions_per_relying_party_hour, 50);
        assert_eq!(policy.liveness.min_live_score, 0.6);
        assert_eq!(policy.liveness.flash.min_response, 0.05);
        assert_eq!(policy.liveness.flash.min_alignment, defaults.liveness.flash.min_alignment);
        assert!(policy.liveness.require_passive && policy.liveness.require_active && policy.liveness.require_flash);
        assert_eq!(policy.quality.brightness, (30.0, 230.0));
        assert_eq!(policy.quality.max_yaw, defaults.quality.max_yaw);
        assert_eq!(policy.pin_lockout.block_after, 20);
        assert_eq!(policy.pin_lockout.free_failures, defaults.pin_lockout.free_failures);
        assert_eq!(policy.session_secs, defaults.session_secs);
    }

    #[test]
    fn unknown_keys_are_refused_by_name_at_every_level() {
        for (text, key) in [
            ("lisen = \"127.0.0.1:80\"\n", "lisen"),
            ("[policy]\nmax_bacth = 3\n", "max_bacth"),
            ("[policy.liveness]\nmin_live_scor = 0.6\n", "min_live_scor"),
            ("[policy.liveness.flash]\nmin_respons = 0.05\n", "min_respons"),
            ("[policy.quality]\nmax_yaww = 20.0\n", "max_yaww"),
            ("[policy.pin_lockout]\nblock_afterr = 20\n", "block_afterr"),
        ] {
            let refusal = refusal(text);
            assert!(refusal.contains(&format!("unknown field `{key}`")), "{refusal}");
        }
    }

    #[test]
    fn a_refused_line_is_named_by_number_never_shown_with_what_it_holds() {
        let refusal = refusal("listen = \"127.0.0.1:8080\"\ndatabase = \"postgres://shenfen:S3cret@db/x\"\n");
        assert!(refusal.contains("line 2") && refusal.contains("unknown field `database`"), "{refusal}");
        assert!(!refusal.contains("S3cret"), "a secret on the line stays out of the error: {refusal}");
    }

    #[test]
    fn values_the_server_cannot_run_with_are_refused_by_name() {
        assert!(refusal("[policy]\nsession_secs = 0\n").contains("session_secs must be positive"));
        let refusal = refusal("[policy]\nchallenge_actions = [\"blink\", \"nod\"]\n");
        assert!(refusal.contains("challenge_length is at most 2"), "{refusal}");
        let refusal = self::refusal("[policy]\nchallenge_actions = [\"nod\", \"nod\"]\nchallenge_length = 1\n");
        assert!(refusal.contains("challenge_actions must not repeat an action"), "{refusal}");
    }

    #[test]
    fn thresholds_that_would_switch_a_check_off_are_refused_by_name() {
        let cases = [
            ("[policy.liveness]\nmin_same_face = nan\n", "liveness.min_same_face must be a number from 0 to 1"),
            ("[policy.liveness.flash]\nmin_alignment = 1.5\n", "liveness.flash.min_alignment must be a number"),
            ("[policy.quality]\nmin_sharpness = -inf\n", "quality.min_sharpness must be a positive number"),
            ("[policy.quality]\nbrightness = [200.0, 100.0]\n", "quality.brightness must be [low, high]"),
            ("[policy.pin_lockout]\nbase_delay_secs = -30\n", "pin_lockout.base_delay_secs must be"),
            ("[policy.pin_lockout]\nblock_after = 3\n", "pin_lockout.block_after must be above free_failures"),
        ];
        for (text, expected) in cases {
            let refusal = refusal(text);
            assert!(refusal.contains(expected), "{text}: {refusal}");
        }
    }
}
