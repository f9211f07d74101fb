//! What the authority needs to enroll and issue: the face engine, the keys,
//! the issuer's identity and signing key, and the policies — all configuration.

use std::sync::{Arc, OnceLock};

use aws_lc_rs::hmac;
use ipnet::IpNet;
use serde::Deserialize;
use shenfen_core::{CardValidity, CitizenRecord, IdNumber, PinLockout, PseudonymKey};
use shenfen_credential::es256::SigningKey;
use shenfen_credential::{CredentialError, Jws, PrivateJwk, PublicJwk, SdJwt};
use shenfen_face::{Action, ChallengePolicy, FaceEngine, FlashColour, QualityPolicy, flash_sequence};
use shenfen_store::{KeyProvider, RegistryEntry, SealedEntry, StoreError};
use zeroize::Zeroizing;

/// Enrollment and issuance settings. Deserializable so a deployment's
/// configuration file (the `[policy]` table of `shenfen serve --config`)
/// can set every field without a copy of this struct: a missing key keeps
/// its default, an unknown one is refused. Check it with [`Policy::check`].
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Liveness checks required of enrollment frames.
    pub liveness: ChallengePolicy,
    /// Actions a challenge is drawn from.
    pub challenge_actions: Vec<Action>,
    /// Actions per challenge (distinct, random order).
    pub challenge_length: usize,
    /// Quality gate for enrollment frames.
    pub quality: QualityPolicy,
    /// Seconds an enrollment session stays open.
    pub session_secs: i64,
    /// Enrollment starts per claimed ID number per hour (the same for
    /// registered and unregistered numbers).
    pub starts_per_subject_hour: u64,
    /// Enrollment starts per client address per hour.
    pub starts_per_client_hour: u64,
    /// Sign-ins (`/authorize` requests that open one) per client address per
    /// hour: each writes state that lives until the wallet answers or it expires.
    pub sign_ins_per_client_hour: u64,
    /// Refused decisions per ID number per day before it is locked for the day.
    pub failures_per_subject_day: u64,
    /// Largest batch of credentials per request.
    pub max_batch: usize,
    /// Lifetime of issued credentials, seconds.
    pub credential_ttl_secs: i64,
    /// Seconds an operator's in-person attestation (and its transaction code) stays usable.
    pub attestation_secs: i64,
    /// Seconds an operator session lasts (one shift).
    pub operator_session_secs: i64,
    /// Failed operator sign-ins per account per hour before the account waits out the hour.
    pub operator_failures_per_hour: u64,
    /// Wrong transaction codes per pre-authorized code before the code is void.
    pub tx_code_attempts: u64,
    /// How PIN failures lock a citizen out.
    pub pin_lockout: PinLockout,
    /// Camera frames one client address may send per minute (enrollment,
    /// L3 assertions), counted before any is decoded.
    pub frames_per_client_minute: u64,
    /// Camera frames one counter device may send per minute.
    pub counter_frames_per_minute: u64,
    /// CPU-heavy jobs (decoding, face inference, argon2id, QR scans) run at once.
    pub cpu_workers: usize,
    /// Jobs that may wait for a worker; beyond them requests get `503`.
    pub cpu_queue: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client; from
    /// anyone else the header is ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// Yes/no questions one relying party may ask per hour, across its requests.
    pub questions_per_relying_party_hour: u64,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            liveness: ChallengePolicy::default(),
            challenge_actions: Action::ALL.to_vec(),
            challenge_length: 3,
            quality: QualityPolicy::default(),
            session_secs: 300,
            starts_per_subject_hour: 10,
            starts_per_client_hour: 60,
            sign_ins_per_client_hour: 120,
            failures_per_subject_day: 5,
            max_batch: 10,
            credential_ttl_secs: 30 * 24 * 3600,
            attestation_secs: 3600,
            operator_session_secs: 8 * 3600,
            operator_failures_per_hour: 10,
            tx_code_attempts: 5,
            pin_lockout: PinLockout::default(),
            frames_per_client_minute: 120,
            counter_frames_per_minute: 600,
            cpu_workers: cores(),
            cpu_queue: 2 * cores(),
            trusted_proxies: Vec::new(),
            questions_per_relying_party_hour: 10_000,
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The most PIN failures a lockout may allow before it blocks for good:
/// with the delays doubling, more would only give a patient guesser more tries.
const MAX_PIN_BLOCK_AFTER: u64 = 1000;

/// A policy value out of its range, named by its key.
#[derive(Debug, thiserror::Error)]
#[error("{key} {rule}")]
pub struct InvalidPolicy {
    /// The field, as the configuration names it.
    pub key: &'static str,
    /// What its value must be.
    pub rule: String,
}

impl Policy {
    /// Refuses the values the server cannot run with, or that would switch
    /// a check off unnoticed: durations, sizes and rates that must be
    /// positive, a challenge longer than the actions it is drawn from (they
    /// are distinct), face thresholds out of their range (or `nan`), and a
    /// PIN lockout that does not lock.
    pub fn check(&self) -> Result<(), InvalidPolicy> {
        let positive = [
            ("challenge_length", self.challenge_length as i64),
            ("session_secs", self.session_secs),
            ("max_batch", self.max_batch as i64),
            ("credential_ttl_secs", self.credential_ttl_secs),
            ("attestation_secs", self.attestation_secs),
            ("operator_session_secs", self.operator_session_secs),
            ("frames_per_client_minute", self.frames_per_client_minute as i64),
            ("counter_frames_per_minute", self.counter_frames_per_minute as i64),
            ("cpu_workers", self.cpu_workers as i64),
            ("sign_ins_per_client_hour", self.sign_ins_per_client_hour as i64),
        ];
        if let Some((key, _)) = positive.into_iter().find(|(_, value)| *value <= 0) {
            return Err(InvalidPolicy { key, rule: "must be positive".into() });
        }
        let actions = &self.challenge_actions;
        if actions.iter().enumerate().any(|(i, action)| actions[..i].contains(action)) {
            return Err(InvalidPolicy { key: "challenge_actions", rule: "must not repeat an action".into() });
        }
        if self.challenge_length > actions.len() {
            let rule = format!("is at most {} (the challenge_actions)", actions.len());
            return Err(InvalidPolicy { key: "challenge_length", rule });
        }
        self.check_thresholds()?;
        self.check_pin_lockout()
    }

    /// Every face threshold finite and in its range: a `nan` would make
    /// each comparison with it false, switching the check it guards off.
    fn check_thresholds(&self) -> Result<(), InvalidPolicy> {
        let (liveness, quality) = (&self.liveness, &self.quality);
        let fractions = [
            ("liveness.min_live_score", liveness.min_live_score),
            ("liveness.min_same_face", liveness.min_same_face),
            ("liveness.flash.min_response", liveness.flash.min_response),
            ("liveness.flash.min_alignment", liveness.flash.min_alignment),
            ("quality.max_outside", quality.max_outside),
        ];
        if let Some((key, _)) = fractions.into_iter().find(|(_, v)| !(0.0..=1.0).contains(v)) {
            return Err(InvalidPolicy { key, rule: "must be a number from 0 to 1".into() });
        }
        let positive = [
            ("liveness.turn_degrees", liveness.turn_degrees),
            ("liveness.nod_degrees", liveness.nod_degrees),
            ("liveness.mouth_open", liveness.mouth_open),
            ("liveness.neutral_degrees", liveness.neutral_degrees),
            ("quality.min_eye_distance", quality.min_eye_distance),
            ("quality.min_sharpness", quality.min_sharpness),
            ("quality.max_yaw", quality.max_yaw),
            ("quality.max_pitch", quality.max_pitch),
        ];
        if let Some((key, _)) = positive.into_iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            return Err(InvalidPolicy { key, rule: "must be a positive number".into() });
        }
        let (dark, bright) = quality.brightness;
        if !(0.0..bright).contains(&dark) || bright > 255.0 {
            return Err(InvalidPolicy {
                key: "quality.brightness",
                rule: "must be [low, high], 0 ≤ low < high ≤ 255".into(),
            });
        }
        if liveness.max_frames == 0 {
            return Err(InvalidPolicy { key: "liveness.max_frames", rule: "must be positive".into() });
        }
        Ok(())
    }

    /// A lockout that locks: a real delay that grows, and a block after
    /// more failures than the free ones.
    fn check_pin_lockout(&self) -> Result<(), InvalidPolicy> {
        let lockout = &self.pin_lockout;
        if lockout.base_delay_secs <= 0 || lockout.max_delay_secs < lockout.base_delay_secs {
            let rule = "must be 0 < base_delay_secs ≤ max_delay_secs".into();
            return Err(InvalidPolicy { key: "pin_lockout.base_delay_secs", rule });
        }
        if lockout.block_after <= lockout.free_failures || lockout.block_after > MAX_PIN_BLOCK_AFTER {
            let rule = format!("must be above free_failures and at most {MAX_PIN_BLOCK_AFTER}");
            return Err(InvalidPolicy { key: "pin_lockout.block_after", rule });
        }
        Ok(())
    }
}

/// The issuer's identity.
pub struct Issuer {
    /// The credential issuer identifier (`iss`, `aud` of key proofs): the server's public base URL.
    pub url: String,
    /// Current signing key.
    pub signing_key: SigningKey,
    /// Its public JWK, with `kid`.
    pub public: PublicJwk,
    /// Keys rotated out: still published in the JWKS, so credentials they
    /// signed verify until they expire, but never used to sign.
    pub retired: Vec<PublicJwk>,
    /// The police's public key for the hotels' guest register: when set,
    /// every credential carries the ID number sealed to it
    /// ([`shenfen_core::SEALED_ID_NUMBER`]), a fresh ciphertext per copy.
    pub police: Option<PublicJwk>,
}

impl Issuer {
    /// The issuer at `url` signing with `key` and still publishing `retired`:
    /// how a private JWK file becomes the issuer's identity, the same for the
    /// server, the tests and the benchmarks.
    pub fn new(url: impl Into<String>, key: &PrivateJwk, retired: Vec<PublicJwk>) -> Result<Issuer, CredentialError> {
        let (signing_key, public) = (key.signing_key()?, key.public().clone());
        Ok(Issuer { url: url.into(), signing_key, public, retired, police: None })
    }

    /// The same issuer sealing each credential's ID number to the police's `key`.
    pub fn with_police_key(self, key: PublicJwk) -> Issuer {
        Issuer { police: Some(key), ..self }
    }

    /// Every key credentials of this issuer may be signed with: the current
    /// one first, then the retired ones (the JWKS order).
    pub fn published_keys(&self) -> impl Iterator<Item = &PublicJwk> {
        std::iter::once(&self.public).chain(&self.retired)
    }

    /// The published key that signed `credential`, by the `kid` of its
    /// issuer JWT (the current key when it names none): credentials signed
    /// before a rotation verify until they expire.
    pub fn key_for(&self, credential: &SdJwt) -> Option<&PublicJwk> {
        let kid = Jws::parse(credential.issuer_jwt(), "issuer-signed JWT")
            .ok()
            .and_then(|jws| jws.header().get("kid").and_then(serde_json::Value::as_str).map(str::to_owned));
        self.published_keys().find(|key| kid.is_none() || key.kid() == kid.as_deref())
    }

    /// The URI of the status list its credentials point at.
    pub fn status_list_uri(&self) -> String {
        format!("{}/status/{}", self.url, crate::status_list::STATUS_LIST_ID)
    }
}

/// Everything enrollment and issuance use.
pub struct Authority {
    /// The face engine, models loaded once.
    pub face: Arc<FaceEngine>,
    /// Master keys and the blind index.
    pub keys: Arc<dyn KeyProvider>,
    /// Keyed digest of (name, card expiry) claims, so a session stores no claim in clear.
    claim_key: hmac::Key,
    /// Key of the stored transaction-code hashes: six digits, so an unkeyed
    /// hash would give the code away to whoever copies the database.
    tx_code_key: hmac::Key,
    /// The server-held secret PINs are hashed with (see `shenfen_store::hash_peppered`).
    pin_pepper: Zeroizing<[u8; 32]>,
    /// Key of the colour-flash sequences, derived per enrollment session.
    flash_key: hmac::Key,
    /// The secret of pairwise pseudonyms: without it, two relying parties cannot
    /// tell whether their pseudonyms are of the same citizen.
    pub pseudonyms: PseudonymKey,
    /// The issuer.
    pub issuer: Issuer,
    /// Policies.
    pub policy: Policy,
    /// A sealed entry of nobody, opened when a claimed number is not registered
    /// (see `enrollment`); made on first use.
    decoy: OnceLock<SealedEntry>,
}

impl Authority {
    /// Builds the authority, deriving its claim-digest key from `keys` so every
    /// instance sharing the key file computes the same digests.
    pub(crate) fn new(
        face: Arc<FaceEngine>,
        keys: Arc<dyn KeyProvider>,
        issuer: Issuer,
        policy: Policy,
    ) -> Result<Authority, StoreError> {
        let claim_secret = keys.purpose_secret(b"shenfen/claim-digest/v1")?;
        let pseudonym_secret = keys.purpose_secret(b"shenfen/pairwise-pseudonym/v1")?;
        let tx_code_secret = keys.purpose_secret(b"shenfen/tx-code/v1")?;
        Ok(Authority {
            face,
            claim_key: hmac::Key::new(hmac::HMAC_SHA256, claim_secret.as_ref()),
            tx_code_key: hmac::Key::new(hmac::HMAC_SHA256, tx_code_secret.as_ref()),
            pin_pepper: keys.purpose_secret(b"shenfen/pin-pepper/v1")?,
            flash_key: hmac::Key::new(hmac::HMAC_SHA256, keys.purpose_secret(b"shenfen/flash-sequence/v1")?.as_ref()),
            pseudonyms: PseudonymKey::new(pseudonym_secret.as_ref()).map_err(|e| StoreError::Key(e.to_string()))?,
            keys,
            issuer,
            policy,
            decoy: OnceLock::new(),
        })
    }

    /// The decoy entry, sealed under the current keys on first use.
    pub fn decoy_entry(&self) -> Result<&SealedEntry, StoreError> {
        if let Some(decoy) = self.decoy.get() {
            return Ok(decoy);
        }
        let id_number = IdNumber::from_parts("110105", time::macros::date!(1980 - 01 - 01), 1)
            .map_err(StoreError::InvalidRecord)?;
        let record = CitizenRecord {
            birth_date: id_number.birth_date(),
            sex: id_number.sex(),
            id_number,
            name: "decoy".into(),
            ethnicity: "decoy".into(),
            address: "decoy".into(),
            issuing_authority: "decoy".into(),
            validity: CardValidity { from: time::macros::date!(2000 - 01 - 01), until: None },
            photo_ref: "decoy".into(),
        };
        let sealed = RegistryEntry { record, face_template: None }.seal(self.keys.as_ref())?;
        Ok(self.decoy.get_or_init(|| sealed))
    }

    /// What the store keeps of a transaction code.
    pub fn tx_code_hash(&self, code: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&self.tx_code_key, code.trim().as_bytes()).as_ref());
        out
    }

    /// The colour-flash sequence of an enrollment session, derived from its
    /// (random, unguessable) id: fixed when the session starts, the same on
    /// every instance, unknown to anyone before.
    pub fn flash_colours(&self, session_id: &str) -> Vec<FlashColour> {
        flash_sequence(hmac::sign(&self.flash_key, session_id.as_bytes()).as_ref())
    }

    /// The pepper of PIN hashes.
    pub fn pin_pepper(&self) -> &[u8] {
        self.pin_pepper.as_ref()
    }

    /// The keyed digest of a claimed name and card expiry.
    pub fn claim_digest(&self, name: &str, card_expiry: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.claim_key);
        for part in [name.trim().as_bytes(), card_expiry.trim().as_bytes()] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}
