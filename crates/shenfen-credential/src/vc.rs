//! SD-JWT-based Verifiable Credentials (draft-ietf-oauth-sd-jwt-vc): the
//! `dc+sd-jwt` type, `vct`, holder binding through `cnf.jwk`, and `status`.

use serde_json::{Map, Value};

use crate::es256::{SigningKey, VerifyingKey};
use crate::issuance::{IssueOptions, issue};
use crate::verification::{VerifyOptions, verify};
use crate::{CredentialError, PublicJwk, SdJwt, StatusReference};

/// The media type of an SD-JWT VC, used as its JWS `typ`.
pub const VC_TYP: &str = "dc+sd-jwt";

/// Claims that SD-JWT VC requires to stay visible (draft §3.2.2), so that a
/// verifier can always learn who issued, what type, how long and whose key.
pub const NEVER_DISCLOSABLE: &[&str] = &["iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"];

/// Everything an issuer decides for one SD-JWT VC.
#[derive(Debug, Clone)]
pub struct VcIssuance<'a> {
    /// The credential type (`vct`).
    pub vct: &'a str,
    /// The holder's device key, bound through `cnf.jwk`.
    pub holder: &'a PublicJwk,
    /// `iat`, seconds since the epoch.
    pub issued_at: i64,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
    /// Where the credential's revocation status lives, if anywhere.
    pub status: Option<&'a StatusReference>,
    /// The issuer key id, for the JWS header.
    pub kid: Option<&'a str>,
    /// JSON Pointers of the claims to make selectively disclosable.
    pub disclosable: &'a [String],
    /// Upper bound of decoy digests per `_sd` array.
    pub max_decoys: u8,
}

/// Issues an SD-JWT VC over `claims` (which carry `iss` and the subject's
/// data); `vct`, `iat`, `exp`, `cnf` and `status` are added here.
pub fn issue_vc(
    key: &SigningKey,
    mut claims: Map<String, Value>,
    params: &VcIssuance<'_>,
) -> Result<SdJwt, CredentialError> {
    if let Some(pointer) =
        params.disclosable.iter().find(|p| NEVER_DISCLOSABLE.iter().any(|name| p.strip_prefix('/') == Some(name)))
    {
        return Err(CredentialError::NotDisclosable(pointer.trim_start_matches('/').to_owned()));
    }
    claims.insert("vct".into(), Value::from(params.vct));
    claims.insert("iat".into(), Value::from(params.issued_at));
    claims.insert("exp".into(), Value::from(params.expires_at));
    let mut cnf = Map::new();
    cnf.insert("jwk".into(), params.holder.to_value());
    claims.insert("cnf".into(), Value::Object(cnf));
    if let Some(status) = params.status {
        claims.insert("status".into(), status.to_claim());
    }
    let options =
        IssueOptions { typ: VC_TYP, kid: params.kid, disclosable: params.disclosable, max_decoys: params.max_decoys };
    issue(key, claims, &options)
}

/// A verified SD-JWT VC.
#[derive(Debug, Clone)]
pub struct VerifiedVc {
    /// The credential type.
    pub vct: String,
    /// The processed claims (always-visible and disclosed).
    pub claims: Map<String, Value>,
    /// The holder key the presentation was bound to.
    pub holder_key: Option<PublicJwk>,
    /// The status reference, for the caller to check against a status list.
    pub status: Option<StatusReference>,
    /// The top-level claims the holder chose to disclose.
    pub disclosed: Vec<String>,
    /// The key binding's `iat`, when one was checked: the presentation stays
    /// valid until `iat + max_age_secs`.
    pub key_binding_issued_at: Option<i64>,
}

/// Verifies an SD-JWT VC: the generic SD-JWT checks with `typ: dc+sd-jwt`,
/// plus a string `vct` and a well-formed `status` claim.
pub fn verify_vc(
    presentation: &SdJwt,
    issuer: &VerifyingKey,
    options: &VerifyOptions<'_>,
) -> Result<VerifiedVc, CredentialError> {
    let options = VerifyOptions { expected_typ: Some(VC_TYP), ..*options };
    let verified = verify(presentation, issuer, &options)?;
    // A holder may leave a disclosure out: whatever says who issued the
    // credential, until when, to whom and where its status is must not be one.
    if let Some(hidden) = verified.disclosed.iter().find(|name| NEVER_DISCLOSABLE.contains(&name.as_str())) {
        return Err(CredentialError::HiddenRequiredClaim(hidden.clone()));
    }
    let vct = verified
        .claims
        .get("vct")
        .and_then(Value::as_str)
        .ok_or_else(|| CredentialError::MissingClaim("vct".into()))?
        .to_owned();
    let status = StatusReference::from_claims(&verified.claims)?;
    Ok(VerifiedVc {
        vct,
        claims: verified.claims,
        holder_key: verified.holder_key,
        status,
        disclosed: verified.disclosed,
        key_binding_issued_at: verified.key_binding_issued_at,
    })
}
