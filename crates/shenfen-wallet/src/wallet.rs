//! The holder's state: single-use credentials with their device keys, and
//! the log of every disclosure.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shenfen_core::{Edition, Purpose, SEALED_ID_NUMBER};
use shenfen_credential::{Jws, PrivateJwk, SdJwt, VerifierAttestation, encode_qr_payload, present};

use crate::WalletError;
use crate::vault::Vault;

/// One single-use credential and the device key it is bound to.
#[derive(Clone, Serialize, Deserialize)]
pub struct HeldCredential {
    /// The SD-JWT VC as issued (all disclosures).
    pub sd_jwt: String,
    /// The private JWK of its device key.
    key: Value,
    /// `iss` of the credential.
    pub issuer: String,
    /// `lightweight` or `upgraded`.
    pub edition: String,
    /// `vct` of the credential.
    pub vct: String,
    /// When the wallet received it (seconds since the epoch).
    pub received_at: i64,
    /// When it expires.
    pub expires_at: i64,
    /// Shown once already: never shown again, so two relying parties never see the same copy.
    pub used: bool,
}

/// One entry of the disclosure log: what went to whom, when, at which level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisclosureRecord {
    /// Seconds since the epoch.
    pub at: i64,
    /// The audience the presentation was bound to.
    pub to: String,
    /// The purpose, for offline presentations.
    pub purpose: String,
    /// The assurance level the presentation can reach.
    pub level: String,
    /// The claims disclosed (top-level names).
    pub claims: Vec<String>,
    /// `offline_qr` or `online`.
    pub channel: String,
}

/// A presentation for a QR code.
pub struct OfflinePresentation {
    /// The QR payload (`shenfen_credential::encode_qr_payload`).
    pub payload: Vec<u8>,
    /// What the log recorded.
    pub record: DisclosureRecord,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    credentials: Vec<HeldCredential>,
    log: Vec<DisclosureRecord>,
}

/// An open wallet. Every change is saved before the method returns.
pub struct Wallet {
    vault: Vault,
    state: State,
}

impl Wallet {
    /// Creates an empty wallet in `dir`, sealed under `pin`.
    pub fn init(dir: &Path, pin: &str) -> Result<Wallet, WalletError> {
        let wallet = Wallet { vault: Vault::create(dir, pin)?, state: State::default() };
        wallet.save()?;
        Ok(wallet)
    }

    /// Opens the wallet in `dir`.
    pub fn open(dir: &Path, pin: &str) -> Result<Wallet, WalletError> {
        let (vault, state) = Vault::open(dir, pin)?;
        let state = serde_json::from_slice(&state).map_err(|e| WalletError::Corrupt(e.to_string()))?;
        Ok(Wallet { vault, state })
    }

    fn save(&self) -> Result<(), WalletError> {
        let state =
            zeroize::Zeroizing::new(serde_json::to_vec(&self.state).map_err(|e| WalletError::Corrupt(e.to_string()))?);
        self.vault.save(&state)
    }

    /// The credentials held, used or not.
    pub fn credentials(&self) -> &[HeldCredential] {
        &self.state.credentials
    }

    /// The disclosure log, oldest first.
    pub fn log(&self) -> &[DisclosureRecord] {
        &self.state.log
    }

    /// Stores a newly issued batch. A new batch replaces what an earlier
    /// enrollment left: the authority has revoked those.
    pub fn replace_credentials(&mut self, issued: Vec<(SdJwt, PrivateJwk)>, now: i64) -> Result<usize, WalletError> {
        let mut held = Vec::with_capacity(issued.len());
        for (sd_jwt, key) in issued {
            let payload = Jws::parse(sd_jwt.issuer_jwt(), "issuer-signed JWT")?.payload().clone();
            let text = |name: &str| payload.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            held.push(HeldCredential {
                sd_jwt: sd_jwt.serialize(),
                key: key.to_value(),
                issuer: text("iss"),
                edition: text("edition"),
                vct: text("vct"),
                received_at: now,
                expires_at: payload.get("exp").and_then(Value::as_i64).unwrap_or(i64::MAX),
                used: false,
            });
        }
        let count = held.len();
        self.state.credentials = held;
        self.save()?;
        Ok(count)
    }

    /// Credentials not yet shown and not expired at `now`.
    pub fn unused(&self, now: i64) -> usize {
        self.state.credentials.iter().filter(|c| !c.used && c.expires_at > now).count()
    }

    /// A presentation for a counter, disclosing what `purpose` needs and bound
    /// to the purpose's audience at `now`, from a credential never shown
    /// before (which is then spent), logged.
    pub fn present_offline(&mut self, purpose: Purpose, now: i64) -> Result<OfflinePresentation, WalletError> {
        self.spend_offline(now, None, &purpose.audience(), purpose.as_str(), |edition, _| {
            purpose.claims(edition).into_iter().map(|claim| vec![claim.to_owned()]).collect()
        })
    }

    /// A presentation for an attested service's desk (a hotel's check-in
    /// link): bound to `verifier_attestation:<client id>`, disclosing exactly
    /// the claims the authority entitled the service to that the card holds,
    /// and the service's pseudonym. The attestation must be from the card's
    /// issuer ([`crate::AuthorityClient::fetch_attestation`] verifies it).
    /// A service entitled to the sealed ID number refuses a card without it
    /// here, before a copy is spent.
    pub fn present_to_service(
        &mut self,
        attestation: &VerifierAttestation,
        now: i64,
    ) -> Result<OfflinePresentation, WalletError> {
        let mut paths: Vec<Vec<String>> = attestation
            .claims
            .iter()
            .filter(|claim| !claim.starts_with("is:"))
            .map(|claim| claim.split('/').map(str::to_owned).collect())
            .collect();
        paths.push(vec!["pseudonyms".into(), attestation.client_id.clone()]);
        let sealed_needed = attestation.claims.iter().any(|claim| claim == SEALED_ID_NUMBER);
        let holds_sealed = |sd_jwt: &SdJwt| sd_jwt.disclosures().iter().any(|d| d.name() == Some(SEALED_ID_NUMBER));
        let next = self.next_unused(now, Some(&attestation.issuer)).map(|index| &self.state.credentials[index]);
        if sealed_needed
            && !next.is_some_and(|held| SdJwt::parse(&held.sd_jwt).is_ok_and(|sd_jwt| holds_sealed(&sd_jwt)))
        {
            return Err(WalletError::Refused {
                kind: "no_sealed_id_number".into(),
                detail: "the card was issued before the police key: enroll again for a card that carries the sealed ID number".into(),
            });
        }
        let audience = attestation.prefixed_client_id();
        self.spend_offline(now, Some(&attestation.issuer), &audience, &attestation.name, |_, _| paths)
    }

    /// The index of the next copy never shown and unexpired at `now` (of `issuer`, if given).
    fn next_unused(&self, now: i64, issuer: Option<&str>) -> Option<usize> {
        self.state
            .credentials
            .iter()
            .position(|c| !c.used && c.expires_at > now && issuer.is_none_or(|i| c.issuer == i))
    }

    /// Spends the next unused copy on an offline QR bound to `audience`,
    /// disclosing the paths `choose` picks (of those the copy holds); logged under `purpose`.
    fn spend_offline(
        &mut self,
        now: i64,
        issuer: Option<&str>,
        audience: &str,
        purpose: &str,
        choose: impl FnOnce(Edition, &SdJwt) -> Vec<Vec<String>>,
    ) -> Result<OfflinePresentation, WalletError> {
        let index = self.next_unused(now, issuer).ok_or(WalletError::NoCredential)?;
        let held = &self.state.credentials[index];
        let edition: Edition = held.edition.parse().map_err(|_| WalletError::Corrupt("edition".into()))?;
        let sd_jwt = SdJwt::parse(&held.sd_jwt)?;
        let key = PrivateJwk::from_json(&held.key.to_string())?;
        let available: Vec<&str> = sd_jwt.disclosures().iter().filter_map(|d| d.name()).collect();
        // A path is held when its last name is a disclosure of the copy.
        let paths: Vec<Vec<String>> = choose(edition, &sd_jwt)
            .into_iter()
            .filter(|path| path.last().is_some_and(|name| available.contains(&name.as_str())))
            .collect();
        let pointers: Vec<String> = paths
            .iter()
            .map(|path| {
                path.iter().fold(String::new(), |pointer, name| shenfen_credential::child_pointer(&pointer, name))
            })
            .collect();
        let nonce = random_nonce()?;
        let presentation = present(&sd_jwt, &pointers, &key.signing_key()?, audience, &nonce, now)?;
        let payload = encode_qr_payload(&presentation)?;
        let claims: Vec<String> = paths.iter().map(|path| path.join("/")).collect();
        let level = if claims.iter().any(|c| c == "face_template") { "L3" } else { "L1" };
        let record = DisclosureRecord {
            at: now,
            to: audience.to_owned(),
            purpose: purpose.to_owned(),
            level: level.into(),
            claims,
            channel: "offline_qr".into(),
        };
        self.state.credentials[index].used = true;
        self.state.log.push(record.clone());
        self.save()?;
        Ok(OfflinePresentation { payload, record })
    }
}

impl Wallet {
    /// Answers an online request: a credential never shown before (then
    /// spent) from the authority that signed the request, disclosing exactly
    /// the asked claims it holds, bound to the relying party and its nonce;
    /// logged. `assure` gets the chosen copy and may return an assurance
    /// assertion made with it (L2/L3). Returns the presentation, the
    /// assertion and what the log recorded.
    pub fn present_online(
        &mut self,
        request: &crate::authority::PresentationRequest,
        now: i64,
        assure: impl FnOnce(&SdJwt, &PrivateJwk) -> Result<Option<String>, WalletError>,
    ) -> Result<(String, Option<String>, DisclosureRecord), WalletError> {
        let index = self
            .state
            .credentials
            .iter()
            .position(|c| !c.used && c.expires_at > now && c.issuer == request.issuer)
            .ok_or(WalletError::NoCredential)?;
        let held = &self.state.credentials[index];
        let sd_jwt = SdJwt::parse(&held.sd_jwt)?;
        let key = PrivateJwk::from_json(&held.key.to_string())?;
        let pointers: Vec<String> = request
            .claims
            .iter()
            .map(|path| {
                path.iter().fold(String::new(), |pointer, name| shenfen_credential::child_pointer(&pointer, name))
            })
            .collect();
        let presentation = present(&sd_jwt, &pointers, &key.signing_key()?, &request.client_id, &request.nonce, now)?;
        // The copy is spent whether or not the assertion succeeds: it was shown to the authority.
        self.state.credentials[index].used = true;
        self.save()?;
        let assertion = assure(&sd_jwt, &key)?;
        let record = DisclosureRecord {
            at: now,
            to: request.client_id.clone(),
            purpose: request.purpose.clone(),
            level: if assertion.is_some() { request.level.clone() } else { "L1".into() },
            claims: request.claims.iter().map(|p| p.join("/")).collect(),
            channel: "online".into(),
        };
        self.state.log.push(record.clone());
        self.save()?;
        Ok((presentation.serialize(), assertion, record))
    }
}

/// 96 random bits, base64url: the key-binding nonce of an offline
/// presentation, so two QR codes of the same second still differ (and short,
/// because it travels in the QR code).
fn random_nonce() -> Result<String, WalletError> {
    let mut bytes = [0u8; 12];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| WalletError::Corrupt("no randomness".into()))?;
    Ok(base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes))
}
