//! The authority as every service sees it: an OpenID Provider reached over
//! HTTP only (discovery, `/authorize`, `/token`, its JWKS), through the stock
//! `openidconnect` crate. Each service is its own client (its own origin,
//! client id and ES256 key for `private_key_jwt`), so each gets its own
//! pairwise `sub`. The id_token is validated here — signature against the
//! JWKS, issuer, audience, expiry, nonce — and the level reached against the
//! level asked.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationContextClass, AuthorizationCode, ClientId, CsrfToken, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IdTokenFields, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shenfen_credential::{PrivateJwk, es256_header, sign_compact};
use tokio::sync::RwLock;

use crate::error::ServicesError;
use crate::secrets::random_token;

/// The levels a service may ask, lowest first.
pub const LEVELS: [&str; 3] = ["L1", "L2", "L3"];

/// The claim that carries the full ID number (entitlement `record/id_number`).
pub const ID_NUMBER_CLAIM: &str = "id_number";

/// How long discovered metadata (and the JWKS in it) is trusted before it is fetched again.
const METADATA_FOR: Duration = Duration::from_secs(300);

/// The one claim beyond the standard ones a service reads: the full ID number.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LegalIdentity {
    /// The full ID number, when asked for and entitled.
    #[serde(default, rename = "id_number", skip_serializing_if = "Option::is_none")]
    id_number: Option<String>,
}

impl AdditionalClaims for LegalIdentity {}

type Tokens = StandardTokenResponse<
    IdTokenFields<
        LegalIdentity,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type IdToken =
    openidconnect::IdToken<LegalIdentity, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// A client as discovery leaves it: authorization and token endpoints set.
type Client = openidconnect::Client<
    LegalIdentity,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// One connection pool for the authority: answers of any status go back to
/// the crate, which reads OAuth errors from them; no redirects are followed.
static AGENT: LazyLock<ureq::Agent> = LazyLock::new(|| {
    // TLS with aws-lc-rs; another part of the process may have installed a provider already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build();
    ureq::Agent::new_with_config(config)
});

/// The crate's HTTP client, from ureq 3 (the crate's own `ureq` feature is for ureq 2).
fn http_client(request: HttpRequest) -> Result<HttpResponse, ureq::Error> {
    let mut response = AGENT.run(request)?;
    let body = response.body_mut().with_config().limit(1 << 20).read_to_vec()?;
    let (parts, _) = response.into_parts();
    Ok(HttpResponse::from_parts(parts, body))
}

/// The authority: its issuer URL and its discovered metadata, fetched on
/// first need (the authority may start after the services) and again when
/// older than [`METADATA_FOR`], so rotated keys are seen.
pub struct Authority {
    issuer: String,
    metadata: RwLock<Option<(Arc<CoreProviderMetadata>, Instant)>>,
}

/// A service as the authority knows it: its client id (its origin), the
/// registered redirect URI and its ES256 key.
pub struct ServiceClient {
    /// The client id: the service's origin.
    pub client_id: String,
    /// `{origin}/callback`.
    pub redirect_uri: String,
    /// The key of its `private_key_jwt` assertions.
    pub key: PrivateJwk,
}

/// What a service asks the authority for.
pub struct Ask<'a> {
    /// L1, L2 or L3 (an index in [`LEVELS`]).
    pub level: usize,
    /// Whether the level is essential (`claims` `acr` essential: nothing less is answered).
    pub essential: bool,
    /// The `sub` the answer must be for (re-authentication of the signed-in citizen).
    pub subject: Option<&'a str>,
    /// Claims of the id_token beyond `sub`.
    pub claims: &'a [&'a str],
}

/// A started sign-in: where to send the browser, and what the callback needs.
pub struct Started {
    /// The authority's `/authorize` URL.
    pub url: String,
    /// The `state` (also put into the browser's cookie).
    pub state: String,
    /// The nonce the id_token must carry.
    pub nonce: String,
    /// The PKCE verifier for the code.
    pub pkce_verifier: String,
}

/// A validated id_token: who, how and what.
#[derive(Clone)]
pub struct SignedIn {
    /// The service's pairwise subject.
    pub subject: String,
    /// The level reached.
    pub acr: String,
    /// How (`swk`, `pin`, `face`).
    pub amr: Vec<String>,
    /// The issuer that signed it.
    pub issuer: String,
    /// When the wallet answered.
    pub auth_time: Option<i64>,
    /// The citizen's name, when asked.
    pub name: Option<String>,
    /// The full ID number, when asked.
    pub id_number: Option<String>,
    /// The id_token as received (verifiable later against the authority's keys).
    pub id_token: String,
}

impl std::fmt::Debug for SignedIn {
    /// Never prints the ID number, the name or the token that holds them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn").field("subject", &self.subject).field("acr", &self.acr).finish_non_exhaustive()
    }
}

impl Authority {
    /// The authority whose issuer identifier is `issuer` (discovery happens on first need).
    pub fn new(issuer: &str) -> Authority {
        Authority { issuer: issuer.trim_end_matches('/').to_owned(), metadata: RwLock::new(None) }
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The metadata, discovered now if there is none or it is old.
    async fn metadata(&self) -> Result<Arc<CoreProviderMetadata>, ServicesError> {
        if let Some((metadata, at)) = self.metadata.read().await.as_ref()
            && at.elapsed() < METADATA_FOR
        {
            return Ok(metadata.clone());
        }
        // One discovery at a time: the others wait for its result on the lock
        // (no thread held), rather than each fetching — a slow or absent
        // authority costs one blocking thread, not one per anonymous /login.
        let mut slot = self.metadata.write().await;
        if let Some((metadata, at)) = slot.as_ref()
            && at.elapsed() < METADATA_FOR
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.issuer.clone()).map_err(|e| ServicesError::Authority(e.to_string()))?;
        let discovered = tokio::task::spawn_blocking(move || CoreProviderMetadata::discover(&issuer, &http_client))
            .await
            .map_err(|e| ServicesError::Authority(e.to_string()))?
            .map_err(|e| ServicesError::Authority(format!("discovery: {e}")))?;
        let discovered = Arc::new(discovered);
        *slot = Some((discovered.clone(), Instant::now()));
        Ok(discovered)
    }

    async fn client(&self, service: &ServiceClient) -> Result<Client, ServicesError> {
        let metadata = (*self.metadata().await?).clone();
        let redirect =
            RedirectUrl::new(service.redirect_uri.clone()).map_err(|e| ServicesError::Authority(e.to_string()))?;
        Ok(Client::from_provider_metadata(metadata, ClientId::new(service.client_id.clone()), None)
            .set_redirect_uri(redirect))
    }

    /// A sign-in for `service` asking `ask`: PKCE S256, a nonce and a state.
    pub async fn start(&self, service: &ServiceClient, ask: &Ask<'_>) -> Result<Started, ServicesError> {
        let client = self.client(service).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_token()?;
        let nonce = random_token()?;
        let level = LEVELS.get(ask.level).copied().unwrap_or("L1");
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                {
                    let state = state.clone();
                    move || CsrfToken::new(state)
                },
                {
                    let nonce = nonce.clone();
                    move || Nonce::new(nonce)
                },
            )
            .set_pkce_challenge(challenge);
        let mut id_token = serde_json::Map::new();
        for claim in ask.claims {
            id_token.insert((*claim).to_owned(), json!({ "essential": true }));
        }
        if ask.essential {
            id_token.insert("acr".into(), json!({ "essential": true, "value": level }));
        } else {
            request = request.add_auth_context_value(AuthenticationContextClass::new(level.to_owned()));
        }
        if let Some(subject) = ask.subject {
            id_token.insert("sub".into(), json!({ "value": subject }));
        }
        if !id_token.is_empty() {
            request = request.add_extra_param("claims", json!({ "id_token": id_token }).to_string());
        }
        let (url, _, _) = request.url();
        Ok(Started { url: url.to_string(), state, nonce, pkce_verifier: verifier.secret().clone() })
    }

    /// Redeems `code` with `private_key_jwt` and validates the id_token
    /// (signature, issuer, audience, expiry, nonce) and the level: below
    /// `level` is refused.
    pub async fn redeem(
        &self,
        service: &ServiceClient,
        code: String,
        pkce_verifier: String,
        nonce: String,
        level: usize,
    ) -> Result<SignedIn, String> {
        let client = self.client(service).await.map_err(|e| e.to_string())?;
        let metadata = self.metadata().await.map_err(|e| e.to_string())?;
        let token_endpoint =
            metadata.token_endpoint().map(|u| u.to_string()).ok_or("the authority has no token endpoint")?;
        let assertion = client_assertion(service, &token_endpoint)?;
        let tokens = tokio::task::spawn_blocking(move || {
            let request = client.exchange_code(AuthorizationCode::new(code)).map_err(|e| e.to_string())?;
            let tokens = request
                .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
                .add_extra_param("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                .add_extra_param("client_assertion", assertion)
                .request(&http_client)
                .map_err(|e| format!("token: {e}"))?;
            Ok::<_, String>((client, tokens))
        })
        .await
        .map_err(|e| e.to_string())?;
        let (client, tokens) = tokens?;
        let id_token = tokens.id_token().ok_or("the token response has no id_token")?;
        let claims = id_token.claims(&client.id_token_verifier(), &Nonce::new(nonce)).map_err(|e| e.to_string())?;
        let acr = claims.auth_context_ref().map(|acr| acr.as_str().to_owned()).unwrap_or_default();
        if LEVELS.iter().position(|l| *l == acr).is_none_or(|reached| reached < level) {
            return Err(format!("asked for {}, the authority answered {acr:?}", LEVELS[level.min(2)]));
        }
        Ok(SignedIn {
            subject: claims.subject().as_str().to_owned(),
            acr,
            amr: claims.auth_method_refs().into_iter().flatten().map(|m| m.as_str().to_owned()).collect(),
            issuer: claims.issuer().as_str().to_owned(),
            auth_time: claims.auth_time().map(|t| t.timestamp()),
            name: claims.name().and_then(|name| name.get(None)).map(|name| name.as_str().to_owned()),
            id_number: claims.additional_claims().id_number.clone(),
            id_token: id_token.to_string(),
        })
    }
}

/// What a stored id_token says when checked again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recheck {
    /// Its signature verifies against the authority's published keys, for this issuer and client, as of when it was received.
    Verified,
    /// It does not verify (changed, or signed by a key the authority no longer publishes).
    Failed,
    /// The authority's keys could not be fetched now.
    Unknown,
}

impl Authority {
    /// Checks an id_token received at `received_at` again, against the keys
    /// the authority publishes now: signature, issuer, audience, and its
    /// times as they were when it was received (its nonce was checked then).
    pub async fn recheck(&self, service: &ServiceClient, id_token: &str, received_at: i64) -> Recheck {
        let Ok(client) = self.client(service).await else { return Recheck::Unknown };
        let Ok(token) = id_token.parse::<IdToken>() else { return Recheck::Failed };
        let Some(then) = chrono::DateTime::from_timestamp(received_at, 0) else { return Recheck::Failed };
        let verifier = client.id_token_verifier().set_time_fn(move || then);
        match token.claims(&verifier, |_: Option<&Nonce>| Ok(())) {
            Ok(_) => Recheck::Verified,
            Err(_) => Recheck::Failed,
        }
    }
}

/// An RFC 7523 client assertion of `service` for the token endpoint, living one minute.
fn client_assertion(service: &ServiceClient, token_endpoint: &str) -> Result<String, String> {
    let now = crate::now();
    let claims = json!({
        "iss": service.client_id,
        "sub": service.client_id,
        "aud": token_endpoint,
        "iat": now,
        "exp": now + 60,
        "jti": random_token().map_err(|e| e.to_string())?,
    });
    let Value::Object(claims) = claims else { return Err("claims are an object".into()) };
    let key = service.key.signing_key().map_err(|e| e.to_string())?;
    sign_compact(&es256_header("JWT", service.key.public().kid()), &claims, &key).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use axum::Json;
    use axum::routing::get;

    use super::*;

    /// An OpenID Provider's public face — its discovery document and JWKS —
    /// on a local port, publishing `key`; answers its issuer URL.
    async fn provider(key: &PrivateJwk) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let metadata = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks.json"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["ES256"],
        });
        let jwks = json!({ "keys": [key.public().to_value()] });
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(move || async move { Json(metadata) }))
            .route("/jwks.json", get(move || async move { Json(jwks) }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        issuer
    }

    fn id_token(key: &PrivateJwk, issuer: &str, audience: &str, iat: i64) -> String {
        let claims = json!({
            "iss": issuer, "aud": audience, "sub": "sub-1", "iat": iat, "exp": iat + 300, "auth_time": iat,
            "acr": "L3", "amr": ["swk", "pin", "face"], "name": "王建国", "id_number": "110105196108040136",
        });
        let Value::Object(claims) = claims else { unreachable!() };
        sign_compact(&es256_header("JWT", key.public().kid()), &claims, &key.signing_key().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_kept_id_token_verifies_later_against_the_published_keys_and_nothing_else_does() {
        let key = PrivateJwk::generate().unwrap().with_kid("authority-1");
        let issuer = provider(&key).await;
        let authority = Authority::new(&issuer);
        let portal = ServiceClient {
            client_id: "http://127.0.0.1:8081".into(),
            redirect_uri: "http://127.0.0.1:8081/callback".into(),
            key: PrivateJwk::generate().unwrap(),
        };
        let received = crate::now() - 86_400;
        let token = id_token(&key, &issuer, &portal.client_id, received);
        assert_eq!(
            authority.recheck(&portal, &token, received + 5).await,
            Recheck::Verified,
            "a day later, as of receipt"
        );

        let (head, rest) = token.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        let mut changed = payload.as_bytes().to_vec();
        changed[10] = if changed[10] == b'A' { b'B' } else { b'A' };
        let changed = format!("{head}.{}.{signature}", String::from_utf8(changed).unwrap());
        assert_eq!(authority.recheck(&portal, &changed, received + 5).await, Recheck::Failed, "a changed token");
        let forged =
            id_token(&PrivateJwk::generate().unwrap().with_kid("authority-1"), &issuer, &portal.client_id, received);
        assert_eq!(authority.recheck(&portal, &forged, received + 5).await, Recheck::Failed, "another key");
        let elsewhere = id_token(&key, &issuer, "http://127.0.0.1:9999", received);
        assert_eq!(authority.recheck(&portal, &elsewhere, received + 5).await, Recheck::Failed, "another client's");
        assert_eq!(authority.recheck(&portal, "not a token", received).await, Recheck::Failed);

        let gone = Authority::new("http://127.0.0.1:9");
        assert_eq!(gone.recheck(&portal, &token, received + 5).await, Recheck::Unknown, "the authority unreachable");
    }
}
