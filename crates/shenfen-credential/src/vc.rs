//! SD-JWT-based Verifiable Credentials (draft-ietf-oauth-sd-jwt-vc): the
//! `dc+sd-jwt` type, `vct`, holder binding through `cnf.jwk`, and `status`.

use std::ops::Range;

use serde_json::{Map, Value};

use crate::es256::{SigningKey, VerifyingKey};
use crate::issuance::{IssueOptions, issue};
use crate::verification::{VerifyOptions, verify};
use crate::{CredentialError, KeyBindingCheck, PrivateJwk, PublicJwk, SdJwt, StatusListToken, StatusReference};

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

/// How many decoy digests at most per `_sd` array a [`VcIssuer`] adds.
const MAX_DECOYS: u8 = 3;

/// An issuer's key, validated once: re-checking the key pair for every
/// credential would cost as much as the signature itself. The command line's
/// issuer and the benchmarks share it, so they measure what they ship.
pub struct VcIssuer {
    signer: SigningKey,
    kid: Option<String>,
}

impl VcIssuer {
    /// Loads the signing key of a private JWK, keeping its `kid` for JWS headers.
    pub fn new(jwk: &PrivateJwk) -> Result<VcIssuer, CredentialError> {
        Ok(VcIssuer { signer: jwk.signing_key()?, kid: jwk.public().kid().map(str::to_owned) })
    }

    /// Issues one SD-JWT VC with up to three decoy digests per `_sd` array,
    /// valid over `lifetime` (`iat..exp`, seconds since the epoch).
    pub fn issue(
        &self,
        holder: &PublicJwk,
        vct: &str,
        claims: Map<String, Value>,
        disclosable: &[String],
        status: Option<&StatusReference>,
        lifetime: Range<i64>,
    ) -> Result<SdJwt, CredentialError> {
        let params = VcIssuance {
            vct,
            holder,
            issued_at: lifetime.start,
            expires_at: lifetime.end,
            status,
            kid: self.kid.as_deref(),
            disclosable,
            max_decoys: MAX_DECOYS,
        };
        issue_vc(&self.signer, claims, &params)
    }
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

/// What a relying party demands of a presentation.
pub struct PresentationPolicy<'a> {
    /// Its own identifier.
    pub audience: &'a str,
    /// The nonce it issued.
    pub nonce: &'a str,
    /// Oldest acceptable key binding, in seconds.
    pub max_age_secs: i64,
    /// Allowed clock difference, in seconds.
    pub clock_skew_secs: i64,
}

/// The whole path of a verifier holding a cached status list: parse, verify
/// the SD-JWT VC with key binding, and check revocation when a status list is
/// at hand. One function, so `shenfen verify`, the demo and the benchmarks
/// check presentations the same way.
pub fn verify_presentation(
    text: &str,
    issuer: &VerifyingKey,
    policy: &PresentationPolicy<'_>,
    status_list: Option<&StatusListToken>,
    now: i64,
) -> Result<VerifiedVc, CredentialError> {
    let presentation = SdJwt::parse(text)?;
    let options = VerifyOptions {
        now,
        clock_skew_secs: policy.clock_skew_secs,
        expected_typ: None,
        key_binding: Some(KeyBindingCheck {
            audience: policy.audience,
            nonce: policy.nonce,
            max_age_secs: policy.max_age_secs,
        }),
    };
    let verified = verify_vc(&presentation, issuer, &options)?;
    if let (Some(reference), Some(list)) = (&verified.status, status_list) {
        list.require_valid(reference)?;
    }
    Ok(verified)
}
