//! The signed JWT form of a status list (`typ: statuslist+jwt`) and the
//! `status` claim with which a credential points into it.

use serde_json::{Map, Value, json};

use crate::es256::{SigningKey, VerifyingKey};
use crate::jws::{Jws, es256_header, sign_compact};
use crate::verification::{check_not_expired, numeric_date};
use crate::{CredentialError, StatusList, StatusType};

/// The JWS `typ` of a status list token.
pub const STATUS_LIST_TYP: &str = "statuslist+jwt";
const WHAT: &str = "status list token";

/// A credential's pointer into a status list: `status.status_list.{idx, uri}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReference {
    /// Where the status list token is published; equals the token's `sub`.
    pub uri: String,
    /// The credential's entry in the list.
    pub idx: u64,
}

impl StatusReference {
    /// The `status` claim value.
    pub fn to_claim(&self) -> Value {
        json!({ "status_list": { "idx": self.idx, "uri": self.uri } })
    }

    /// Reads the `status` claim of a credential, if it has one.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Option<StatusReference>, CredentialError> {
        let Some(status) = claims.get("status") else {
            return Ok(None);
        };
        let list =
            status.get("status_list").ok_or_else(|| CredentialError::MissingClaim("status.status_list".into()))?;
        let idx = list
            .get("idx")
            .and_then(Value::as_u64)
            .ok_or_else(|| CredentialError::MissingClaim("status.status_list.idx".into()))?;
        let uri = list
            .get("uri")
            .and_then(Value::as_str)
            .ok_or_else(|| CredentialError::MissingClaim("status.status_list.uri".into()))?;
        Ok(Some(StatusReference { uri: uri.to_owned(), idx }))
    }
}

/// A status list with the metadata of its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListToken {
    /// The URI the list is published at (`sub`).
    pub subject: String,
    /// When the token was made (`iat`).
    pub issued_at: i64,
    /// When the token stops being usable (`exp`), if set.
    pub expires_at: Option<i64>,
    /// How long a verifier may cache it, in seconds (`ttl`), if set.
    pub ttl: Option<u64>,
    /// The statuses.
    pub list: StatusList,
}

impl StatusListToken {
    /// Signs the token as a `statuslist+jwt`.
    pub fn sign(&self, key: &SigningKey, kid: Option<&str>) -> Result<String, CredentialError> {
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from(self.subject.as_str()));
        claims.insert("iat".into(), Value::from(self.issued_at));
        if let Some(exp) = self.expires_at {
            claims.insert("exp".into(), Value::from(exp));
        }
        if let Some(ttl) = self.ttl {
            claims.insert("ttl".into(), Value::from(ttl));
        }
        claims.insert("status_list".into(), self.list.to_json()?);
        sign_compact(&es256_header(STATUS_LIST_TYP, kid), &claims, key)
    }

    /// Verifies a status list token's type, signature and expiry and decodes its list.
    pub fn verify(jwt: &str, key: &VerifyingKey, now: i64, skew: i64) -> Result<StatusListToken, CredentialError> {
        let jws = Jws::parse(jwt.trim(), WHAT)?;
        jws.expect_typ(STATUS_LIST_TYP)?;
        jws.verify(key)?;
        let claims = jws.payload();
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(|| CredentialError::MissingClaim("sub".into()))?
            .to_owned();
        let issued_at = numeric_date(claims, "iat")?.ok_or(CredentialError::InvalidTimeClaim("iat"))?;
        if issued_at > now + skew {
            return Err(CredentialError::IssuedInFuture { what: WHAT, iat: issued_at, now });
        }
        let expires_at = numeric_date(claims, "exp")?;
        check_not_expired("status list", expires_at, now, skew)?;
        let ttl = claims.get("ttl").and_then(Value::as_u64);
        let list = StatusList::from_json(
            claims.get("status_list").ok_or_else(|| CredentialError::MissingClaim("status_list".into()))?,
        )?;
        Ok(StatusListToken { subject, issued_at, expires_at, ttl, list })
    }

    /// The status of the credential that `reference` points at, refusing a
    /// reference into another list.
    pub fn status_of(&self, reference: &StatusReference) -> Result<StatusType, CredentialError> {
        if reference.uri != self.subject {
            return Err(CredentialError::StatusListSubjectMismatch {
                expected: reference.uri.clone(),
                found: self.subject.clone(),
            });
        }
        Ok(StatusType::from(self.list.get(reference.idx)?))
    }

    /// Like [`StatusListToken::status_of`], but anything other than VALID is an error.
    pub fn require_valid(&self, reference: &StatusReference) -> Result<(), CredentialError> {
        match self.status_of(reference)? {
            StatusType::Valid => Ok(()),
            other => Err(CredentialError::Revoked(other)),
        }
    }
}
