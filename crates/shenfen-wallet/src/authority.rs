//! Talking to an authority: the enrollment API (start a session, send the
//! frames, with the PIN for the upgraded edition) and OpenID4VCI issuance
//! (pre-authorized code with the counter's tx_code, nonce, one key proof per
//! fresh device key, a batch of credentials).

use std::sync::Once;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use shenfen_credential::{Jws, PrivateJwk, PublicJwk, SdJwt, VerifierAttestation, es256_header, present, sign_compact};
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
        let keys: Vec<PrivateJwk> =
            (0..request.batch.max(1)).map(|_| PrivateJwk::generate()).collect::<Result<_, _>>()?;
        let credentials = self.request_credentials(&access, &configuration, &keys, None, now)?;
        Ok(credentials.into_iter().zip(keys).collect())
    }

    /// A fresh `c_nonce` from the nonce endpoint.
    fn fresh_nonce(&self) -> Result<String, WalletError> {
        text_field(&self.post("/nonce", "application/json", None, String::new())?, "c_nonce")
    }

    /// The OpenID4VCI credential request: one key proof per device key, all
    /// with `nonce` (a fresh one from the nonce endpoint when `None`). If the
    /// authority answers `invalid_nonce` — the nonce expired or was spent
    /// meanwhile — the request is made once more with a fresh nonce and the
    /// same access token, which a refused request leaves unspent (OpenID4VCI
    /// 1.0 §8.3.1.2). The credentials come back in the order of `keys`.
    pub fn request_credentials(
        &self,
        access: &str,
        configuration: &str,
        keys: &[PrivateJwk],
        nonce: Option<String>,
        now: i64,
    ) -> Result<Vec<SdJwt>, WalletError> {
        let mut nonce = match nonce {
            Some(nonce) => nonce,
            None => self.fresh_nonce()?,
        };
        let mut retried = false;
        let issued = loop {
            let proofs =
                keys.iter().map(|key| key_proof(key, &self.base, &nonce, now)).collect::<Result<Vec<_>, _>>()?;
            let body = json!({ "credential_configuration_id": configuration, "proofs": { "jwt": proofs } });
            match self.post("/credential", "application/json", Some(access), body.to_string()) {
                Err(WalletError::Refused { kind, .. }) if kind == "invalid_nonce" && !retried => {
                    retried = true;
                    nonce = self.fresh_nonce()?;
                }
                answer => break answer?,
            }
        };
        let credentials = issued["credentials"]
            .as_array()
            .ok_or_else(|| WalletError::Network("the credential response holds no credentials".into()))?;
        credentials
            .iter()
            .map(|c| {
                let text =
                    c["credential"].as_str().ok_or_else(|| WalletError::Network("a credential is not text".into()))?;
                Ok(SdJwt::parse(text)?)
            })
            .collect()
    }
}

/// An OpenID4VP request as the wallet shows it on the consent screen.
#[derive(Debug, Clone)]
pub struct PresentationRequest {
    /// Who asks.
    pub client_id: String,
    /// Their name, as the authority registered it.
    pub client_name: String,
    /// Why, in their words.
    pub purpose: String,
    /// What must be shared: claim paths.
    pub claims: Vec<Vec<String>>,
    /// What may be shared if the holder chooses (DCQL `claim_sets`): not shared by default.
    pub optional_claims: Vec<Vec<String>>,
    /// The nonce the key binding must carry.
    pub nonce: String,
    /// Returned with the answer.
    pub state: String,
    /// Where the answer goes (`direct_post`).
    pub response_uri: String,
    /// The authority that signed the request.
    pub issuer: String,
    /// The assurance level asked: `L1`, `L2` (bring the PIN) or `L3` (the PIN and live frames).
    pub level: String,
    /// Yes/no questions the relying party gets the answers to (`age_over_18`,
    /// `region=Guangdong`): it learns the answer, not the claim behind it.
    pub questions: Vec<String>,
}

impl AuthorityClient {
    /// A service's check-in link (`<authority>/wallet/?service=<JWT>`, or the
    /// JWT alone) checked as the web wallet checks it: a Verifier Attestation
    /// signed by this authority's published keys, issued by it, unexpired.
    pub fn fetch_attestation(&self, link: &str, now: i64) -> Result<VerifierAttestation, WalletError> {
        let jwt = link.trim().rsplit_once("service=").map_or(link.trim(), |(_, jwt)| jwt);
        let jwks: Value =
            serde_json::from_str(&self.get_text("/jwks.json")?).map_err(|e| WalletError::Network(e.to_string()))?;
        let keys = jwks["keys"].as_array().map(Vec::as_slice).unwrap_or_default();
        let attestation = VerifierAttestation::verify(jwt, keys, now, 60)?;
        if attestation.issuer != self.base {
            return Err(WalletError::Refused {
                kind: "untrusted_verifier".into(),
                detail: format!("the attestation is not from {}, the authority this wallet trusts", self.base),
            });
        }
        Ok(attestation)
    }

    /// Fetches the request object an `openid4vp://` URI (or a bare
    /// `request_uri`) refers to, and checks it is signed by this authority
    /// (`self` is the client of the authority whose credentials the wallet holds).
    pub fn fetch_request(&self, uri: &str) -> Result<PresentationRequest, WalletError> {
        let (client_id, request_uri) = match uri.strip_prefix("openid4vp://") {
            Some(rest) => {
                let query = rest.trim_start_matches('/').trim_start_matches('?');
                let params: std::collections::HashMap<String, String> =
                    serde_urlencoded::from_str(query).map_err(|e| WalletError::Network(format!("request URI: {e}")))?;
                (params.get("client_id").cloned(), params.get("request_uri").cloned())
            }
            None => (None, Some(uri.to_owned())),
        };
        let request_uri = request_uri.ok_or_else(|| WalletError::Network("the request has no request_uri".into()))?;
        if !request_uri.starts_with(&format!("{}/", self.base)) {
            return Err(WalletError::Refused {
                kind: "untrusted_verifier".into(),
                detail: format!("the request is not served by {}, the authority this wallet trusts", self.base),
            });
        }
        let jwt = self.get_text(&request_uri[self.base.len()..])?;
        let jws = Jws::parse(jwt.trim(), "request object")?;
        jws.expect_typ("oauth-authz-req+jwt")?;
        let jwks: Value =
            serde_json::from_str(&self.get_text("/jwks.json")?).map_err(|e| WalletError::Network(e.to_string()))?;
        let kid = jws.header().get("kid").and_then(Value::as_str);
        let keys = jwks["keys"].as_array().map(Vec::as_slice).unwrap_or_default();
        let key = PublicJwk::find_by_kid(keys, kid)
            .ok_or_else(|| WalletError::Network("the request object's key is not the authority's".into()))?;
        jws.verify(&key.1)?;
        let claims = jws.payload();
        let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        if text("iss") != self.base || client_id.is_some_and(|c| c != text("client_id")) {
            return Err(WalletError::Refused {
                kind: "request_mismatch".into(),
                detail: "the signed request does not match the link it came from".into(),
            });
        }
        let query = &claims.get("dcql_query").cloned().unwrap_or(Value::Null);
        let (paths, optional) = asked_claims(&query["credentials"][0]);
        Ok(PresentationRequest {
            client_id: text("client_id"),
            client_name: claims
                .get("client_metadata")
                .and_then(|m| m.get("client_name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            purpose: query["credential_sets"][0]["purpose"].as_str().unwrap_or_default().to_owned(),
            claims: paths,
            optional_claims: optional,
            nonce: text("nonce"),
            state: text("state"),
            response_uri: text("response_uri"),
            issuer: text("iss"),
            level: claims.get("assurance_level").and_then(Value::as_str).unwrap_or("L1").to_owned(),
            questions: claims
                .get("questions")
                .and_then(Value::as_array)
                .map(|qs| qs.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default(),
        })
    }

    /// Sends the presentation (and an assurance assertion, for L2/L3) to the
    /// request's `response_uri` (`direct_post`).
    pub fn send_presentation(
        &self,
        request: &PresentationRequest,
        presentation: &str,
        assurance: Option<&str>,
    ) -> Result<(), WalletError> {
        if !request.response_uri.starts_with(&format!("{}/", self.base)) {
            return Err(WalletError::Network("the response_uri is not the authority's".into()));
        }
        let vp_token = json!({ "shenfen_id": [presentation] }).to_string();
        let mut form = vec![("vp_token", vp_token.as_str()), ("state", request.state.as_str())];
        if let Some(assurance) = assurance {
            form.push(("assurance", assurance));
        }
        let form = serde_urlencoded::to_string(form).map_err(|e| WalletError::Network(e.to_string()))?;
        self.post(&request.response_uri[self.base.len()..], "application/x-www-form-urlencoded", None, form)?;
        Ok(())
    }
}

impl AuthorityClient {
    /// An assurance assertion for `request` from the authority: the PIN (L2)
    /// and, with frames, a live face (L3), proven with `credential` (the copy
    /// that then answers the request: the assertion is bound to its key).
    pub fn assertion(
        &self,
        credential: &SdJwt,
        key: &PrivateJwk,
        pin: &str,
        frames: &[Vec<u8>],
        request: &PresentationRequest,
        now: i64,
    ) -> Result<String, WalletError> {
        let nonce = text_field(&self.post("/nonce", "application/json", None, String::new())?, "c_nonce")?;
        let proof = present(credential, &[], &key.signing_key()?, &self.base, &nonce, now)?;
        let frames: Vec<String> = frames.iter().map(|f| STANDARD.encode(f)).collect();
        let body = json!({
            "presentation": proof.serialize(),
            "pin": pin,
            "audience": request.client_id,
            "nonce": request.nonce,
            "frames": frames,
        });
        text_field(&self.post_json("/citizen/assertion", &body)?, "assertion")
    }
}

/// The claim paths a DCQL credential query asks: those that must be shared,
/// and those that may be (outside the last of its `claim_sets`).
fn asked_claims(credential_query: &Value) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let required: Option<Vec<&str>> = credential_query["claim_sets"]
        .as_array()
        .and_then(|sets| sets.last())
        .map(|set| set.as_array().into_iter().flatten().filter_map(Value::as_str).collect());
    let mut asked = (Vec::new(), Vec::new());
    for claim in credential_query["claims"].as_array().into_iter().flatten() {
        let path: Vec<String> =
            claim["path"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
        match &required {
            Some(ids) if !ids.contains(&claim["id"].as_str().unwrap_or_default()) => asked.1.push(path),
            _ => asked.0.push(path),
        }
    }
    asked
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::asked_claims;

    #[test]
    fn claims_outside_the_last_claim_set_are_optional() {
        let query = json!({
            "claims": [
                { "id": "name", "path": ["name"] },
                { "id": "pseudonym", "path": ["pseudonyms", "https://hotel.example"] },
                { "id": "record-id_number", "path": ["record", "id_number"] },
            ],
            "claim_sets": [["name", "pseudonym", "record-id_number"], ["name", "pseudonym"]],
        });
        let (required, optional) = asked_claims(&query);
        assert_eq!(required, [vec!["name"], vec!["pseudonyms", "https://hotel.example"]]);
        assert_eq!(optional, [vec!["record", "id_number"]]);
    }

    #[test]
    fn without_claim_sets_every_claim_is_required() {
        let query = json!({ "claims": [{ "id": "name", "path": ["name"] }, { "path": ["age_over_18"] }] });
        let (required, optional) = asked_claims(&query);
        assert_eq!(required.len(), 2);
        assert!(optional.is_empty());
    }
}
