//! Talking to an authority: the enrollment API (start a session, send the
//! frames, with the PIN for the upgraded edition) and OpenID4VCI issuance
//! (pre-authorized code with the counter's tx_code, nonce, one key proof per
//! fresh device key, a batch of credentials).

use std::sync::Once;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use shenfen_credential::{PrivateJwk, SdJwt, es256_header, sign_compact};
use ureq::Agent;

use crate::WalletError;

/// What the citizen types and shows to enroll.
pub struct EnrollmentRequest<'a> {
    /// The authority's base URL.
    pub server: &'a str,
    /// As on the card.
    pub id_number: &'a str,
    /// As on the card.
    pub name: &'a str,
    /// `YYYY-MM-DD` or `长期`.
    pub card_expiry: &'a str,
    /// `lightweight` or `upgraded`.
    pub edition: &'a str,
    /// Camera frames (JPEG/PNG/WebP) performing the challenge, in order.
    pub frames: &'a [Vec<u8>],
    /// The PIN chosen for the upgraded edition.
    pub pin: Option<&'a str>,
    /// The code from the counter's slip (upgraded edition).
    pub tx_code: Option<&'a str>,
    /// Credentials to ask for (single-use copies).
    pub batch: usize,
}

/// An HTTP client for one authority.
pub struct AuthorityClient {
    agent: Agent,
    base: String,
}

impl AuthorityClient {
    /// A client for the authority at `base` (its credential issuer URL).
    pub fn new(base: &str) -> AuthorityClient {
        static PROVIDER: Once = Once::new();
        PROVIDER.call_once(|| {
            // Another part of the process may have installed one already; either is fine.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        });
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        AuthorityClient { agent, base: base.trim_end_matches('/').to_owned() }
    }

    /// GETs a path and returns the body as text.
    pub fn get_text(&self, path: &str) -> Result<String, WalletError> {
        let mut response =
            self.agent.get(format!("{}{path}", self.base)).call().map_err(|e| WalletError::Network(e.to_string()))?;
        let status = response.status();
        let body = response.body_mut().read_to_string().map_err(|e| WalletError::Network(e.to_string()))?;
        if !status.is_success() {
            return Err(refusal(&body, status.as_u16()));
        }
        Ok(body)
    }

    fn post(&self, path: &str, content_type: &str, bearer: Option<&str>, body: String) -> Result<Value, WalletError> {
        let mut request = self.agent.post(format!("{}{path}", self.base)).header("content-type", content_type);
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut response = request.send(body).map_err(|e| WalletError::Network(e.to_string()))?;
        let status = response.status();
        let text = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| WalletError::Network(e.to_string()))?;
        if !status.is_success() {
            return Err(refusal(&text, status.as_u16()));
        }
        serde_json::from_str(&text).map_err(|e| WalletError::Network(format!("{path} answered non-JSON: {e}")))
    }

    fn post_json(&self, path: &str, body: &Value) -> Result<Value, WalletError> {
        self.post(path, "application/json", None, body.to_string())
    }

    /// Enrolls and receives a batch of credentials, each bound to a fresh device key.
    pub fn enroll(&self, request: &EnrollmentRequest<'_>, now: i64) -> Result<Vec<(SdJwt, PrivateJwk)>, WalletError> {
        let start = json!({
            "id_number": request.id_number,
            "name": request.name,
            "card_expiry": request.card_expiry,
            "edition": request.edition,
        });
        let session = self.post_json("/enrollment/sessions", &start)?;
        let session_id = text_field(&session, "session_id")?;
        let frames: Vec<String> = request.frames.iter().map(|f| STANDARD.encode(f)).collect();
        let mut submission = json!({ "frames": frames });
        if let Some(pin) = request.pin {
            submission["pin"] = json!(pin);
        }
        let offer = self.post_json(&format!("/enrollment/sessions/{session_id}/frames"), &submission)?;
        let grant = &offer["credential_offer"]["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"];
        let code = text_field(grant, "pre-authorized_code")?;
        let configuration = offer["credential_offer"]["credential_configuration_ids"][0]
            .as_str()
            .ok_or_else(|| WalletError::Network("the offer names no credential configuration".into()))?
            .to_owned();
        let mut form = vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:pre-authorized_code".to_owned()),
            ("pre-authorized_code", code),
        ];
        if grant.get("tx_code").is_some() {
            let tx_code = request.tx_code.ok_or_else(|| WalletError::Refused {
                kind: "tx_code_required".into(),
                detail: "this offer needs the code from the counter's slip (--tx-code)".into(),
            })?;
            form.push(("tx_code", tx_code.to_owned()));
        }
        let form = serde_urlencoded::to_string(&form).map_err(|e| WalletError::Network(e.to_string()))?;
        let token = self.post("/token", "application/x-www-form-urlencoded", None, form)?;
        let access = text_field(&token, "access_token")?;
        let nonce = text_field(&self.post("/nonce", "application/json", None, String::new())?, "c_nonce")?;
        let keys: Vec<PrivateJwk> =
            (0..request.batch.max(1)).map(|_| PrivateJwk::generate()).collect::<Result<_, _>>()?;
        let proofs = keys.iter().map(|key| key_proof(key, &self.base, &nonce, now)).collect::<Result<Vec<_>, _>>()?;
        let body = json!({ "credential_configuration_id": configuration, "proofs": { "jwt": proofs } });
        let issued = self.post("/credential", "application/json", Some(&access), body.to_string())?;
        let credentials = issued["credentials"]
            .as_array()
            .ok_or_else(|| WalletError::Network("the credential response holds no credentials".into()))?;
        credentials
            .iter()
            .zip(keys)
            .map(|(c, key)| {
                let text =
                    c["credential"].as_str().ok_or_else(|| WalletError::Network("a credential is not text".into()))?;
                Ok((SdJwt::parse(text)?, key))
            })
            .collect()
    }
}

/// The OpenID4VCI key proof for one device key.
fn key_proof(key: &PrivateJwk, audience: &str, nonce: &str, now: i64) -> Result<String, WalletError> {
    let mut header = es256_header("openid4vci-proof+jwt", None);
    header.insert("jwk".into(), key.public().to_value());
    let claims = json!({ "aud": audience, "nonce": nonce, "iat": now });
    let claims = claims.as_object().cloned().unwrap_or_default();
    Ok(sign_compact(&header, &claims, &key.signing_key()?)?)
}

fn text_field(value: &Value, name: &str) -> Result<String, WalletError> {
    value[name].as_str().map(str::to_owned).ok_or_else(|| WalletError::Network(format!("the answer has no {name}")))
}

/// A refusal from an RFC 9457 problem or an OAuth error body.
fn refusal(body: &str, status: u16) -> WalletError {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let kind = value["type"]
        .as_str()
        .or(value["error"].as_str())
        .map_or_else(|| format!("HTTP {status}"), |k| k.trim_start_matches("urn:shenfen:problem:").to_owned());
    let detail = value["detail"].as_str().or(value["error_description"].as_str()).unwrap_or("").to_owned();
    WalletError::Refused { kind, detail }
}
