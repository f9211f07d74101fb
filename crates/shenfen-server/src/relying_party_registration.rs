//! The rules of registering a relying party, shared by the operator console
//! (`POST /operator/relying-parties`) and `shenfen rp add`: which claims it
//! may be entitled to, which redirect URIs may receive codes, which sector
//! its pairwise subjects belong to, how it authenticates at `/token` — and
//! the secrets it is given, each shown once and kept only as hashes.

use serde::Deserialize;
use serde_json::{Value, json};
use shenfen_credential::PublicJwk;
use shenfen_store::{
    AuditEvent, ClientAuthentication, OpenIdClient, RelyingParty, SqlStore, StoreError, generate_password,
};
use url::Url;
use utoipa::ToSchema;

use crate::tokens::token_hash;

/// The most keys a client may register for `private_key_jwt` (a current and
/// a next one, with room to spare): each is tried by `kid` at every `/token`.
const MAX_CLIENT_KEYS: usize = 10;

/// Claim paths and yes/no questions (`is:…`) a relying party may be entitled to.
/// `sealed_id_number` (the ID number only the police open) is for a hotel's
/// guest register; `face_template` for a desk that checks the live face.
pub const KNOWN_CLAIMS: [&str; 17] = [
    "is:age_over_18",
    "is:region",
    "is:edition",
    "name",
    "id_number_masked",
    "age_over_18",
    "region",
    "sealed_id_number",
    "face_template",
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
    /// Its client identifier: its origin, `https://host[:port]` (http only
    /// on a loopback host, for development).
    pub client_id: String,
    /// Its name, shown to citizens on the consent screen.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Claims it may ask for (the full ID number is `record/id_number` and
    /// needs a legal basis) and yes/no questions (`is:age_over_18`, …).
    #[schema(min_items = 1)]
    pub claims: Vec<String>,
    /// Makes it an OpenID Connect client: the redirect URIs `/authorize`
    /// accepts, compared exactly; on the client id's host unless a sector is named.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// The sector its pairwise `sub` is derived for (a host name, and port);
    /// by default its client id's `host[:port]`.
    #[serde(default)]
    pub sector_identifier: Option<String>,
    /// Its public ES256 keys (a JWK Set, each with a `kid`) for
    /// `private_key_jwt`; without them, `client_secret_basic` with a secret
    /// shown once.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub client_jwks: Option<Value>,
    /// Replaces the registration of this client id, its secrets, redirect
    /// URIs and sector included; without it an existing one is refused.
    #[serde(default)]
    pub replace: bool,
    /// Shares the sector with the other relying parties registered for it:
    /// they see the same `sub` for a citizen (one organisation's services).
    /// Without it a sector another client id uses is refused.
    #[serde(default)]
    pub share_sector: bool,
}

/// A registration refused, with the rule it breaks.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The client id is not an origin.
    #[error("a client id is the relying party's origin, https://host[:port] (http only on a loopback host): {0:?}")]
    ClientId(String),
    /// The name is empty, too long, or hides text direction or control characters.
    #[error("the name is 1 to 100 characters, without control or text-direction characters")]
    Name,
    /// No claims, or one this authority does not issue.
    #[error("claims are one or more of {known}; {0:?} is not", known = KNOWN_CLAIMS.join(", "))]
    Claim(String),
    /// A redirect URI that must not receive codes.
    #[error(
        "a redirect URI is an absolute https URI (http only on a loopback host) in canonical form, without a \
         fragment or user name, on the client id's host or within its sector's domain: {0:?}"
    )]
    RedirectUri(String),
    /// A sector or client keys without redirect URIs.
    #[error("a sector identifier and client keys belong to an OpenID Connect client: give its redirect URIs")]
    NotOpenIdClient,
    /// A sector that is not the client's host or a parent domain of it.
    #[error("a sector identifier is the client id's host or a parent domain of it, e.g. shop.example: {0:?}")]
    Sector(String),
    /// A sector another client id uses, without asking to share it.
    #[error("the sector {sector:?} is {other}'s: share it only if both are one organisation's (share_sector)")]
    SectorTaken {
        /// The sector asked.
        sector: String,
        /// The client id already registered for it.
        other: String,
    },
    /// Client keys that cannot verify an ES256 client assertion, or a private key.
    #[error(
        "the client keys are a JWK Set of 1 to {MAX_CLIENT_KEYS} public P-256 keys, each with its own kid (never \
         a private key)"
    )]
    ClientJwks,
    /// The client id is registered, and replacing was not asked.
    #[error("{0} is registered already: replace it explicitly (its secrets and redirect URIs change)")]
    Exists(String),
    /// No randomness for the secrets, or the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RegistrationError {
    /// The stable code of the broken rule (docs/ERRORS.md).
    pub fn code(&self) -> &'static str {
        match self {
            RegistrationError::ClientId(_) => "relying_party.client_id",
            RegistrationError::Name => "relying_party.name",
            RegistrationError::Claim(_) => "relying_party.claims",
            RegistrationError::RedirectUri(_) => "relying_party.redirect_uri",
            RegistrationError::NotOpenIdClient => "relying_party.openid",
            RegistrationError::Sector(_) | RegistrationError::SectorTaken { .. } => "relying_party.sector",
            RegistrationError::ClientJwks => "relying_party.client_jwks",
            RegistrationError::Exists(_) => "relying_party.exists",
            RegistrationError::Store(e) => e.code(),
        }
    }
}

/// A registration accepted: the party to store, and its secrets to show once.
pub struct Registered {
    /// What the registry keeps (hashes and public keys only).
    pub party: RelyingParty,
    /// Its verifier API key.
    pub api_key: String,
    /// Its `client_secret_basic` secret, if it authenticates with one.
    pub client_secret: Option<String>,
    replace: bool,
    share_sector: bool,
}

impl Registration {
    /// Checks the registration and makes its secrets.
    pub fn register(self, now: i64) -> Result<Registered, RegistrationError> {
        let client = fit_url(&self.client_id)
            .filter(|url| url.origin().ascii_serialization() == self.client_id)
            .ok_or_else(|| RegistrationError::ClientId(self.client_id.clone()))?;
        let hidden = |c: char| {
            c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}' | '\u{feff}')
        };
        if self.name.trim().is_empty() || self.name.chars().count() > 100 || self.name.chars().any(hidden) {
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
                let (client, secret) =
                    openid_client(&authority(&client), self.redirect_uris, self.sector_identifier, self.client_jwks)?;
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
        Ok(Registered { party, api_key, client_secret, replace: self.replace, share_sector: self.share_sector })
    }
}

impl Registered {
    /// Stores the registration with its audit entry (`actor` registered or
    /// replaced it), in one transaction: an existing client id only when
    /// replacing was asked, a sector another client id uses only when sharing
    /// was asked. The audit entry names what changed — redirect URIs, sector,
    /// client authentication and keys — before and after.
    pub async fn save(&self, store: &SqlStore, actor: String, now: i64) -> Result<(), RegistrationError> {
        let registered = store.relying_parties().await?;
        let previous = registered.iter().find(|p| p.client_id == self.party.client_id);
        if previous.is_some() && !self.replace {
            return Err(RegistrationError::Exists(self.party.client_id.clone()));
        }
        let sector = self.party.openid.as_ref().map(|client| client.sector_identifier.as_str());
        let other = registered.iter().find(|p| {
            p.client_id != self.party.client_id
                && p.openid.as_ref().map(|client| client.sector_identifier.as_str()) == sector
                && sector.is_some()
        });
        if let (Some(other), Some(sector), false) = (other, sector, self.share_sector) {
            let (sector, other) = (sector.to_owned(), other.client_id.clone());
            return Err(RegistrationError::SectorTaken { sector, other });
        }
        let kind = if previous.is_some() { "relying_party.replaced" } else { "relying_party.registered" };
        let details = json!({ "registration": summary(&self.party), "previous": previous.map(summary) });
        let event = AuditEvent { at: now, kind: kind.into(), actor, subject: None, details };
        if self.replace {
            store.put_relying_party(&self.party, event).await?;
        } else if !store.add_relying_party(&self.party, event).await? {
            // Registered by another call since the check: one of the two wins, the other is told.
            return Err(RegistrationError::Exists(self.party.client_id.clone()));
        }
        Ok(())
    }
}

/// What the audit log keeps of a registration: everything but its secrets
/// (the client keys by RFC 7638 thumbprint).
fn summary(party: &RelyingParty) -> Value {
    let openid = party.openid.as_ref();
    let keys: Vec<String> = match openid.map(|client| &client.authentication) {
        Some(ClientAuthentication::PrivateKeyJwt { jwks }) => serde_json::from_str::<Value>(jwks)
            .ok()
            .and_then(|jwks| jwks["keys"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|key| PublicJwk::from_value(key).ok().map(|k| k.thumbprint()))
            .collect(),
        _ => Vec::new(),
    };
    json!({
        "client_id": party.client_id,
        "name": party.name,
        "claims": party.claims,
        "redirect_uris": openid.map(|client| &client.redirect_uris),
        "sector_identifier": openid.map(|client| &client.sector_identifier),
        "token_endpoint_auth_method": openid.map(|client| client.authentication.method()),
        "client_key_thumbprints": keys,
    })
}

/// Checks a URI where an attested relying party's own verifier receives the
/// wallet's answers (`shenfen rp attest`): in canonical form, https on the
/// client id's host — or http on this machine, for a demo — so that an
/// attestation can send answers nowhere but to the party it names.
pub fn check_answer_uri(client_id: &str, uri: &str) -> Result<(), RegistrationError> {
    let client = fit_url(client_id).ok_or_else(|| RegistrationError::ClientId(client_id.to_owned()))?;
    let url =
        fit_url(uri).filter(|url| url.as_str() == uri).ok_or_else(|| RegistrationError::RedirectUri(uri.to_owned()))?;
    // `fit_url` lets plain http through only to a loopback host.
    if url.scheme() == "https" && url.host_str() != client.host_str() {
        return Err(RegistrationError::RedirectUri(uri.to_owned()));
    }
    Ok(())
}

/// `text` as a URL fit to identify a relying party or receive its codes
/// (RFC 9700 §2.1, RFC 8252 §7.3): https, or http to this machine only; no
/// user name or password, no fragment.
fn fit_url(text: &str) -> Option<Url> {
    let url = Url::parse(text).ok()?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let scheme_fit = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    let plain = url.username().is_empty() && url.password().is_none() && url.fragment().is_none();
    (scheme_fit && plain && url.host_str().is_some_and(|host| !host.is_empty())).then_some(url)
}

/// `host[:port]` of a URL, the port only when it is not the scheme's own.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    url.port().map_or_else(|| host.to_owned(), |port| format!("{host}:{port}"))
}

/// A redirect URI fit to receive codes, exactly as the URL parser writes it
/// (so a backslash, a space or a control character cannot make the browser
/// go elsewhere than the registered text reads); answers its `host[:port]`.
fn redirect_host(uri: &str) -> Option<String> {
    fit_url(uri).filter(|url| url.as_str() == uri).as_ref().map(authority)
}

/// Whether `host` is `domain` or below it.
fn within(host: &str, domain: &str) -> bool {
    host == domain || host.strip_suffix(domain).is_some_and(|sub| sub.ends_with('.'))
}

/// A sector identifier: a host name (and port), lower case.
fn sector_of(text: &str) -> Result<String, RegistrationError> {
    let sector = text.trim().to_ascii_lowercase();
    let host_like = !sector.is_empty()
        && sector.len() <= 253
        && sector.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        && !sector.starts_with(['.', '-', ':']);
    host_like.then_some(sector).ok_or_else(|| RegistrationError::Sector(text.to_owned()))
}

/// The OpenID Connect registration, and the client secret to show once
/// (none with `private_key_jwt`).
fn openid_client(
    client_host: &str,
    redirect_uris: Vec<String>,
    sector_identifier: Option<String>,
    client_jwks: Option<Value>,
) -> Result<(OpenIdClient, Option<String>), RegistrationError> {
    // A sector is the client's own host or a parent domain of it (one
    // organisation's services under one domain): never another's.
    let sector_identifier = match sector_identifier {
        // At least a second-level domain: a top-level one would gather unrelated services.
        Some(sector) => Some(sector_of(&sector)?)
            .filter(|named| within(client_host, named) && (named == client_host || named.contains('.')))
            .ok_or(RegistrationError::Sector(sector))?,
        None => client_host.to_owned(),
    };
    for uri in &redirect_uris {
        let host = redirect_host(uri).ok_or_else(|| RegistrationError::RedirectUri(uri.clone()))?;
        // Codes go to the client's own host, or within its sector's domain.
        if host != client_host && !within(&host, &sector_identifier) {
            return Err(RegistrationError::RedirectUri(uri.clone()));
        }
    }
    let (authentication, secret) = match client_jwks {
        Some(jwks) => (ClientAuthentication::PrivateKeyJwt { jwks: public_keys(&jwks)?.to_string() }, None),
        None => {
            let secret = generate_password()?;
            (ClientAuthentication::ClientSecretBasic { secret_hash: token_hash(&secret) }, Some(secret))
        }
    };
    Ok((OpenIdClient { redirect_uris, sector_identifier, authentication }, secret))
}

/// The JWK Set rebuilt from each key's public members only: a private key
/// (`d`) is refused rather than stored, and so is a set without keys, with a
/// key lacking a `kid`, with a `kid` twice, or with more than [`MAX_CLIENT_KEYS`].
fn public_keys(jwks: &Value) -> Result<Value, RegistrationError> {
    let keys = jwks.get("keys").and_then(Value::as_array).ok_or(RegistrationError::ClientJwks)?;
    if keys.is_empty() || keys.len() > MAX_CLIENT_KEYS || keys.iter().any(|key| key.get("d").is_some()) {
        return Err(RegistrationError::ClientJwks);
    }
    let mut public = Vec::with_capacity(keys.len());
    let mut kids: Vec<String> = Vec::with_capacity(keys.len());
    for key in keys {
        let key = PublicJwk::from_value(key).map_err(|_| RegistrationError::ClientJwks)?;
        let kid = key.kid().ok_or(RegistrationError::ClientJwks)?.to_owned();
        if kids.contains(&kid) {
            return Err(RegistrationError::ClientJwks);
        }
        kids.push(kid);
        public.push(key.to_value());
    }
    Ok(json!({ "keys": public }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::{Value, json};

    use super::{Registration, RegistrationError, check_answer_uri, redirect_host};

    fn registration(value: Value) -> Registration {
        serde_json::from_value(value).unwrap()
    }

    /// A sign-in client of shop.example with `changes` over it.
    fn shop(changes: Value) -> Registration {
        let mut value = json!({
            "client_id": "https://shop.example", "name": "Shop", "claims": ["name"],
            "redirect_uris": ["https://shop.example/callback"],
        });
        for (key, change) in changes.as_object().unwrap() {
            value[key] = change.clone();
        }
        registration(value)
    }

    #[test]
    fn only_canonical_https_or_loopback_redirects_without_fragment_or_user_name_are_registered() {
        assert_eq!(redirect_host("https://shop.example/cb?x=1").as_deref(), Some("shop.example"));
        assert_eq!(redirect_host("http://127.0.0.1:8080/cb").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(redirect_host("http://localhost/cb").as_deref(), Some("localhost"));
        for refused in [
            "http://shop.example/cb",
            "https://shop.example/cb#frag",
            "https://victim.example@shop.example/cb",
            "javascript:alert(1)",
            "https:///cb",
            "https://evil.com\\.shop.example/cb",
            "https://shop.example/c b",
            "https://shop.example/cb\u{1}",
            "https://SHOP.example/cb",
            "https://shop.example:443/cb",
        ] {
            assert_eq!(redirect_host(refused), None, "{refused}");
        }
    }

    #[test]
    fn a_sign_in_client_gets_a_secret_and_its_own_origin_as_sector() {
        let registered = shop(json!({})).register(1).unwrap();
        let client = registered.party.openid.unwrap();
        assert_eq!(client.sector_identifier, "shop.example");
        assert!(registered.client_secret.is_some());
        let local = registration(json!({
            "client_id": "http://127.0.0.1:8081", "name": "Local", "claims": ["name"],
            "redirect_uris": ["http://127.0.0.1:8081/callback"],
        }));
        assert_eq!(local.register(1).unwrap().party.openid.unwrap().sector_identifier, "127.0.0.1:8081");
    }

    #[test]
    fn an_attested_verifier_answers_only_on_its_own_host_or_this_machine() {
        let rail = "https://rail.example";
        for fit in ["https://rail.example/openid4vp/response", "http://127.0.0.1:9000/openid4vp/response"] {
            assert!(check_answer_uri(rail, fit).is_ok(), "{fit}");
        }
        for unfit in [
            "https://evil.example/collect",
            "http://localhost:80@evil.example/r",
            "https://rail.example/r#frag",
            "https://user:pw@rail.example/r",
            "https://RAIL.example/../x",
            "http://rail.example/r",
        ] {
            assert_eq!(check_answer_uri(rail, unfit).unwrap_err().code(), "relying_party.redirect_uri", "{unfit}");
        }
    }

    #[test]
    fn client_keys_are_stored_as_their_public_members_only() {
        let key = json!({
            "kty": "EC", "crv": "P-256", "kid": "k1", "extra": "dropped",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        });
        let registered = shop(json!({ "client_jwks": { "keys": [key.clone()] } })).register(1).unwrap();
        let shenfen_store::ClientAuthentication::PrivateKeyJwt { jwks } =
            registered.party.openid.unwrap().authentication
        else {
            panic!("private_key_jwt")
        };
        assert!(!jwks.contains("extra") && jwks.contains("\"kid\":\"k1\""), "{jwks}");
        let mut private = key.clone();
        private["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
        for keys in [json!([private]), json!([key.clone(), key]), json!([])] {
            let refused = shop(json!({ "client_jwks": { "keys": keys } })).register(1).err().unwrap();
            assert_eq!(refused.code(), "relying_party.client_jwks", "{keys}");
        }
    }

    #[test]
    fn each_broken_rule_is_refused_with_its_code() {
        let cases = [
            (json!({"client_id": "shop.example"}), "relying_party.client_id"),
            (json!({"client_id": "https://shop.example/x"}), "relying_party.client_id"),
            (json!({"client_id": "https://SHOP.example"}), "relying_party.client_id"),
            (json!({"client_id": "http://plain.example"}), "relying_party.client_id"),
            (json!({"client_id": "https://a b.example"}), "relying_party.client_id"),
            (json!({"name": " "}), "relying_party.name"),
            (json!({"name": "\u{202e}knaB"}), "relying_party.name"),
            (json!({"name": "Shop\nBank"}), "relying_party.name"),
            (json!({"claims": []}), "relying_party.claims"),
            (json!({"claims": ["photo"]}), "relying_party.claims"),
            (json!({"redirect_uris": ["http://shop.example/cb"]}), "relying_party.redirect_uri"),
            (json!({"redirect_uris": ["https://bank.example/cb"]}), "relying_party.redirect_uri"),
            (json!({"sector_identifier": "https://bank.example/"}), "relying_party.sector"),
            (json!({"sector_identifier": "bank.example"}), "relying_party.sector"),
            (json!({"sector_identifier": "example"}), "relying_party.sector"),
            (
                json!({"sector_identifier": "shop.example", "redirect_uris": ["https://bank.example/cb"]}),
                "relying_party.redirect_uri",
            ),
            (json!({"redirect_uris": [], "sector_identifier": "shop.example"}), "relying_party.openid"),
            (json!({"client_jwks": {"keys": [{"kty": "EC"}]}}), "relying_party.client_jwks"),
        ];
        for (changes, code) in cases {
            let refused: RegistrationError = shop(changes.clone()).register(1).err().unwrap();
            assert_eq!(refused.code(), code, "{changes}");
        }
        let sector = shop(json!({"sector_identifier": " Shop.Example "})).register(1).unwrap();
        assert_eq!(sector.party.openid.unwrap().sector_identifier, "shop.example", "normalised");
    }
}
