//! The records of the verifier service that server instances share: who may
//! ask, what they asked, and how far each request has come.

use serde::{Deserialize, Deserializer, Serialize};
use shenfen_core::{AssuranceLevel, Question};

use crate::{SealedValue, StoreError};

/// A relying party registered with the verifier service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// Its OpenID4VP client identifier (an HTTPS origin).
    pub client_id: String,
    /// Shown to the citizen on the consent screen.
    pub name: String,
    /// Claim paths it is entitled to ask for (`name`, `record/id_number`, …).
    pub claims: Vec<String>,
    /// SHA-256 of its API key.
    pub api_key_hash: [u8; 32],
    /// Seconds since the epoch.
    pub created_at: i64,
    /// What it needs to sign citizens in with OpenID Connect, if it does.
    pub openid: Option<OpenIdClient>,
}

/// A relying party's registration as an OpenID Connect client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIdClient {
    /// The redirect URIs `/authorize` accepts, compared exactly.
    pub redirect_uris: Vec<String>,
    /// The sector its pairwise subjects are derived for (OpenID Connect Core
    /// §8.1): by default the host of its redirect URIs.
    pub sector_identifier: String,
    /// How it authenticates at the token endpoint.
    pub authentication: ClientAuthentication,
}

/// How an OpenID Connect client authenticates at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// `client_secret_basic`: the SHA-256 of its (random) secret.
    ClientSecretBasic {
        /// SHA-256 of the secret.
        secret_hash: [u8; 32],
    },
    /// `private_key_jwt` (RFC 7523): the JWK Set whose keys sign its client assertions.
    PrivateKeyJwt {
        /// The JWK Set, as JSON text.
        jwks: String,
    },
}

impl ClientAuthentication {
    /// The method's registered name.
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuthentication::ClientSecretBasic { .. } => "client_secret_basic",
            ClientAuthentication::PrivateKeyJwt { .. } => "private_key_jwt",
        }
    }
}

/// An OpenID Connect authorization request waiting for the citizen's wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// SHA-256 of the token only the sign-in page holds.
    pub page_token_hash: [u8; 32],
    /// The presentation request the wallet answers.
    pub request_id: String,
    /// The relying party.
    pub client_id: String,
    /// The request as the server keeps it (JSON: redirect URI, state, nonce, PKCE challenge, claims, level).
    pub request: String,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

/// An authorization code and what it grants.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationCode {
    /// SHA-256 of the code.
    pub code_hash: [u8; 32],
    /// The relying party it was issued to.
    pub client_id: String,
    /// The grant (JSON: subject, claims, level, nonce, PKCE challenge, redirect URI), sealed.
    pub grant: SealedValue,
    /// Seconds since the epoch.
    pub expires_at: i64,
    /// When it was redeemed, if it was.
    pub redeemed_at: Option<i64>,
}

/// What a relying party asked for, stored as JSON with its request so the
/// request object, the check of the answer and the result all read the same
/// question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentationQuery {
    /// Claim paths, `/`-separated below the top level (`name`, `record/id_number`).
    #[serde(default)]
    pub claims: Vec<String>,
    /// Claims the citizen may decline one by one.
    #[serde(default)]
    pub optional_claims: Vec<String>,
    /// Yes/no questions; the relying party receives only the answers.
    #[serde(default)]
    pub questions: Vec<Question>,
    /// Why, in words the citizen reads on the consent screen.
    pub purpose: String,
    /// The least assurance level the presentation must reach.
    #[serde(deserialize_with = "level_as_spelled")]
    pub level: AssuranceLevel,
    /// For a sign-in (OpenID Connect): the relying party's sector identifier.
    /// The authority then derives the citizen's pairwise subject for that
    /// sector itself, and asks the wallet for no pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_sector: Option<String>,
    /// For a sign-in: when and from where it was started, signed into the
    /// request object for the wallet's consent screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_origin: Option<SignInOrigin>,
}

/// When and from where a sign-in was started. The wallet shows it beside the
/// service's name, so that a citizen scanning a code that someone relayed
/// from their own browser (cross-device session phishing, RFC 10027) can see
/// it was started elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOrigin {
    /// When the authorization request arrived (seconds since the epoch).
    pub started_at: i64,
    /// The initiating browser's address as the authority saw it (through
    /// its trusted proxies); none when it has no socket (in-process tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// Reads a level the way [`AssuranceLevel`]'s `FromStr` does: earlier
/// versions stored it as the relying party spelled it (`l2` as well as `L2`).
fn level_as_spelled<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AssuranceLevel, D::Error> {
    String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
}

/// How far a presentation request has come. Serialised (and stored) as
/// `pending`, `verified` or `refused`, the words relying parties read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PresentationStatus {
    /// Waiting for the citizen's wallet to answer.
    Pending,
    /// Answered with a presentation that passed every check.
    Verified,
    /// Answered, but the presentation failed a check (the result says which).
    Refused,
}

impl PresentationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PresentationStatus::Pending => "pending",
            PresentationStatus::Verified => "verified",
            PresentationStatus::Refused => "refused",
        }
    }

    /// The status a stored name stands for.
    pub(crate) fn from_stored(name: &str) -> Result<PresentationStatus, StoreError> {
        match name {
            "pending" => Ok(PresentationStatus::Pending),
            "verified" => Ok(PresentationStatus::Verified),
            "refused" => Ok(PresentationStatus::Refused),
            _ => Err(StoreError::Corrupt(format!("presentation status {name:?}"))),
        }
    }
}

/// An OpenID4VP authorization request and, once answered, its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct PresentationRequest {
    /// Random id, in the request and response URIs.
    pub id: String,
    /// The asking relying party.
    pub client_id: String,
    /// Fresh nonce the key binding must carry.
    pub nonce: String,
    /// Fresh state the response must carry.
    pub state: String,
    /// What was asked.
    pub query: PresentationQuery,
    /// Seconds since the epoch.
    pub expires_at: i64,
    /// How far it has come.
    pub status: PresentationStatus,
    /// The verified claims (or the refusal) as JSON, sealed, once answered.
    pub result: Option<SealedValue>,
    /// When the wallet's answer was verified (seconds since the epoch), once answered.
    pub answered_at: Option<i64>,
}
