//! The rules of registering a relying party, shared by the operator console
//! (`POST /operator/relying-parties`) and `shenfen rp add`: which claims it
//! may be entitled to, which redirect URIs may receive codes, which sector
//! its pairwise subjects belong to, how it authenticates at `/token` — and
//! the secrets it is given, each shown once and kept only as hashes.

use serde::Deserialize;
use serde_json::Value;
use shenfen_credential::PublicJwk;
use shenfen_store::{ClientAuthentication, OpenIdClient, RelyingParty, StoreError, generate_password};
use utoipa::ToSchema;

use crate::tokens::token_hash;

/// Claim paths and yes/no questions (`is:…`) a relying party may be entitled to.
pub const KNOWN_CLAIMS: [&str; 15] = [
    "is:age_over_18",
    "is:region",
    "is:edition",
    "name",
    "id_number_masked",
    "age_over_18",
    "region",
    "record/id_number",
    "record/sex",
    "record/birth_date",
    "record/ethnicity",
    "record/address",
    "record/issuing_authority",
    "record/card_valid_from",
    "record/card_valid_until",
];

/// A relying party as an operator registers it (or replaces its entitlement
/// and secrets).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Its client identifier: its HTTPS origin, e.g. `https://hotel.example`.
    pub client_id: String,
    /// Its name, shown to citizens on the consent screen.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Claims it may ask for (the full ID number is `record/id_number` and
    /// needs a legal basis) and yes/no questions (`is:age_over_18`, …).
    #[schema(min_items = 1)]
    pub claims: Vec<String>,
    /// Makes it an OpenID Connect client: the redirect URIs `/authorize`
    /// accepts, compared exactly.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// The sector its pairwise `sub` is derived for; by default the host of
    /// its redirect URIs (which must then share one host).
    #[serde(default)]
    pub sector_identifier: Option<String>,
    /// Its ES256 keys (a JWK Set) for `private_key_jwt`; without them,
    /// `client_secret_basic` with a secret shown once.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub client_jwks: Option<Value>,
}

/// A registration refused, with the rule it breaks.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The client id is not an origin.
    #[error("a client id is the relying party's origin, e.g. https://hotel.example")]
    ClientId,
    /// The name is empty or too long to show.
    #[error("the name is 1 to 100 characters")]
    Name,
    /// No claims, or one this authority does not issue.
    #[error("claims are one or more of {known}; {0:?} is not", known = KNOWN_CLAIMS.join(", "))]
    Claim(String),
    /// A redirect URI that must not receive codes.
    #[error(
        "a redirect URI is an absolute https URI (http only to a loopback host) without a fragment or user name: {0:?}"
    )]
    RedirectUri(String),
    /// A sector or client keys without redirect URIs.
    #[error("a sector identifier and client keys belong to an OpenID Connect client: give its redirect URIs")]
    NotOpenIdClient,
    /// Redirect URIs on several hosts with no sector named.
    #[error("the redirect URIs have several hosts: name the sector identifier of their pairwise subs")]
    SeveralHosts,
    /// Client keys that cannot verify an ES256 client assertion.
    #[error("the client keys are not a JWK Set of P-256 keys, each with a kid")]
    ClientJwks,
    /// No randomness for the secrets.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RegistrationError {
    /// The stable code of the broken rule (docs/ERRORS.md).
    pub fn code(&self) -> &'static str {
        match self {
            RegistrationError::ClientId => "relying_party.client_id",
            RegistrationError::Name => "relying_party.name",
            RegistrationError::Claim(_) => "relying_party.claims",
            RegistrationError::RedirectUri(_) | RegistrationError::SeveralHosts => "relying_party.redirect_uri",
            RegistrationError::NotOpenIdClient => "relying_party.openid",
            RegistrationError::ClientJwks => "relying_party.client_jwks",
            RegistrationError::Store(e) => e.code(),
        }
    }
}

/// A registration accepted: the party to store, and its secrets to show once.
pub struct Registered {
    /// What the registry keeps (hashes only).
    pub party: RelyingParty,
    /// Its verifier API key.
    pub api_key: String,
    /// Its `client_secret_basic` secret, if it authenticates with one.
    pub client_secret: Option<String>,
}

impl Registration {
    /// Checks the registration and makes its secrets.
    pub fn register(self, now: i64) -> Result<Registered, RegistrationError> {
        let origin = self.client_id.strip_prefix("https://").or_else(|| self.client_id.strip_prefix("http://"));
        if origin.is_none_or(|rest| rest.is_empty() || rest.contains(['/', '?', '#', '@'])) {
            return Err(RegistrationError::ClientId);
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            return Err(RegistrationError::Name);
        }
        if self.claims.is_empty() {
            return Err(RegistrationError::Claim(String::new()));
        }
        if let Some(unknown) = self.claims.iter().find(|c| !KNOWN_CLAIMS.contains(&c.as_str())) {
            return Err(RegistrationError::Claim(unknown.clone()));
        }
        let api_key = generate_password()?;
        let (openid, client_secret) = match self.redirect_uris.is_empty() {
            true if self.sector_identifier.is_some() || self.client_jwks.is_some() => {
                return Err(RegistrationError::NotOpenIdClient);
            }
            true => (None, None),
            false => {
                let (client, secret) = openid_client(self.redirect_uris, self.sector_identifier, self.client_jwks)?;
                (Some(client), secret)
            }
        };
        let party = RelyingParty {
            client_id: self.client_id,
            name: self.name,
            claims: self.claims,
            api_key_hash: token_hash(&api_key),
            created_at: now,
            openid,
        };
        Ok(Registered { party, api_key, client_secret })
    }
}

/// The host of a redirect URI fit to receive codes (RFC 9700 §2.1, RFC 8252
/// §7.3): https, or http to this machine only; no fragment, no user name.
fn redirect_host(uri: &str) -> Option<&str> {
    let (secure, rest) = match uri.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (false, uri.strip_prefix("http://")?),
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once(':').filter(|(_, port)| port.parse::<u16>().is_ok()).map_or(authority, |(h, _)| h);
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    let fit = !host.is_empty() && !uri.contains('#') && !authority.contains('@') && (secure || loopback);
    fit.then_some(authority)
}

/// The OpenID Connect registration, and the client secret to show once
/// (none with `private_key_jwt`).
fn openid_client(
    redirect_uris: Vec<String>,
    sector_identifier: Option<String>,
    client_jwks: Option<Value>,
) -> Result<(OpenIdClient, Option<String>), RegistrationError> {
    let mut hosts: Vec<&str> = Vec::new();
    for uri in &redirect_uris {
        let host = redirect_host(uri).ok_or_else(|| RegistrationError::RedirectUri(uri.clone()))?;
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    let sector_identifier = match (sector_identifier, hosts.as_slice()) {
        (Some(sector), _) if !sector.trim().is_empty() => sector,
        (_, [host]) => (*host).to_owned(),
        _ => return Err(RegistrationError::SeveralHosts),
    };
    let (authentication, secret) = match client_jwks {
        Some(jwks) => {
            let keys = jwks["keys"].as_array().map_or(&[][..], Vec::as_slice);
            let usable = |key: &Value| PublicJwk::from_value(key).is_ok_and(|k| k.kid().is_some());
            if keys.is_empty() || !keys.iter().all(usable) {
                return Err(RegistrationError::ClientJwks);
            }
            (ClientAuthentication::PrivateKeyJwt { jwks: jwks.to_string() }, None)
        }
        None => {
            let secret = generate_password()?;
            (ClientAuthentication::ClientSecretBasic { secret_hash: token_hash(&secret) }, Some(secret))
        }
    };
    Ok((OpenIdClient { redirect_uris, sector_identifier, authentication }, secret))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::{Registration, RegistrationError, redirect_host};

    fn registration(value: serde_json::Value) -> Registration {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn only_https_or_loopback_redirects_without_fragment_or_user_name_are_registered() {
        assert_eq!(redirect_host("https://shop.example/cb?x=1"), Some("shop.example"));
        assert_eq!(redirect_host("http://127.0.0.1:8080/cb"), Some("127.0.0.1:8080"));
        assert_eq!(redirect_host("http://localhost/cb"), Some("localhost"));
        for refused in [
            "http://shop.example/cb",
            "https://shop.example/cb#frag",
            "https://victim.example@shop.example/cb",
            "javascript:alert(1)",
            "https:///cb",
        ] {
            assert_eq!(redirect_host(refused), None, "{refused}");
        }
    }

    #[test]
    fn an_openid_client_gets_a_secret_and_its_redirect_host_as_sector() {
        let registered = registration(json!({
            "client_id": "https://shop.example", "name": "Shop", "claims": ["name"],
            "redirect_uris": ["https://shop.example/callback"],
        }))
        .register(1)
        .unwrap();
        let client = registered.party.openid.unwrap();
        assert_eq!(client.sector_identifier, "shop.example");
        assert!(registered.client_secret.is_some());
        assert_ne!(registered.party.api_key_hash, [0; 32]);
    }

    #[test]
    fn each_broken_rule_is_refused_with_its_code() {
        let cases = [
            (json!({"client_id": "shop.example", "name": "S", "claims": ["name"]}), "relying_party.client_id"),
            (
                json!({"client_id": "https://shop.example/x", "name": "S", "claims": ["name"]}),
                "relying_party.client_id",
            ),
            (json!({"client_id": "https://shop.example", "name": " ", "claims": ["name"]}), "relying_party.name"),
            (json!({"client_id": "https://shop.example", "name": "S", "claims": []}), "relying_party.claims"),
            (json!({"client_id": "https://shop.example", "name": "S", "claims": ["photo"]}), "relying_party.claims"),
            (
                json!({"client_id": "https://shop.example", "name": "S", "claims": ["name"], "redirect_uris": ["http://shop.example/cb"]}),
                "relying_party.redirect_uri",
            ),
            (
                json!({"client_id": "https://shop.example", "name": "S", "claims": ["name"], "redirect_uris": ["https://a.example/cb", "https://b.example/cb"]}),
                "relying_party.redirect_uri",
            ),
            (
                json!({"client_id": "https://shop.example", "name": "S", "claims": ["name"], "sector_identifier": "shop.example"}),
                "relying_party.openid",
            ),
            (
                json!({"client_id": "https://shop.example", "name": "S", "claims": ["name"], "redirect_uris": ["https://shop.example/cb"], "client_jwks": {"keys": [{"kty": "EC"}]}}),
                "relying_party.client_jwks",
            ),
        ];
        for (value, code) in cases {
            let refused: RegistrationError = registration(value.clone()).register(1).err().unwrap();
            assert_eq!(refused.code(), code, "{value}");
        }
    }
}
