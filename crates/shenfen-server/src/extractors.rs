//! What a handler takes from a request besides its path and query: a JSON
//! body, read into the house problem when it is wrong, and who is calling —
//! an operator of a role, a counter, a relying party, a citizen. Every
//! caller check is cheap first (a header, a MAC) and reaches the store only
//! with something that could be valid.

use std::marker::PhantomData;
use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use shenfen_core::{Edition, OperatorRole};
use shenfen_credential::{Jws, KeyBindingCheck, PublicJwk, SdJwt, VerifyOptions, verify_vc};
use shenfen_store::{BlindIndex, Operator, RelyingParty};
use utoipa::ToSchema;

use crate::app::{AppState, now};
use crate::error::{ApiError, ProblemType};
use crate::issuance::vct;
use crate::status_list::STATUS_LIST_ID;
use crate::tokens::{bearer, bounded_list, token_hash, whole_number};

/// A JSON body of the type the handler reads, within the route's body
/// limit; anything else is a 400 (or 413) problem saying what is wrong.
/// The content type is not checked: the body is, field by field.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ProblemType::PayloadTooLarge).detail("the body is larger than this endpoint accepts")
            } else {
                ApiError::invalid("the body could not be read")
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::invalid(format!("the body is not the expected JSON: {e}")))
    }
}

/// The role an endpoint needs, as a type, so the handler's signature says it.
pub(crate) trait RequiredRole {
    /// The least role that may call.
    const ROLE: OperatorRole;
}

/// Counter staff (and supervisors, whose role includes it).
pub(crate) struct CounterRole;
/// Supervisors only.
pub(crate) struct SupervisorRole;

impl RequiredRole for CounterRole {
    const ROLE: OperatorRole = OperatorRole::Counter;
}

impl RequiredRole for SupervisorRole {
    const ROLE: OperatorRole = OperatorRole::Supervisor;
}

/// A signed-in operator whose role includes `R`'s, from the Bearer session token.
pub(crate) struct OperatorSession<R> {
    /// Who is signed in.
    pub operator: Operator,
    role: PhantomData<R>,
}

fn operator_unauthenticated(detail: &str) -> ApiError {
    ApiError::new(ProblemType::OperatorUnauthenticated).detail(detail)
}

impl<R: RequiredRole> FromRequestParts<Arc<AppState>> for OperatorSession<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)
            .ok_or_else(|| operator_unauthenticated("sign in at /operator/login and send the token"))?;
        let operator = state
            .store
            .operator_of_session(&token_hash(token), now())
            .await?
            .ok_or_else(|| operator_unauthenticated("the session is unknown, expired or ended; sign in again"))?;
        if !operator.role.includes(R::ROLE) {
            return Err(ApiError::new(ProblemType::OperatorForbidden).detail(format!(
                "this needs the {} role; you are signed in as {}",
                R::ROLE,
                operator.role
            )));
        }
        Ok(OperatorSession { operator, role: PhantomData })
    }
}

/// The Bearer token of an operator session being ended.
pub(crate) struct SessionToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SessionToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or_else(|| operator_unauthenticated("send the session token to end"))?;
        Ok(SessionToken(token.to_owned()))
    }
}

/// An OAuth access token (`/credential`'s Bearer token), hashed as the
/// store keeps grants; without one, the OAuth `invalid_token` before the
/// body is read.
pub(crate) struct AccessToken(pub [u8; 32]);

impl<S: Send + Sync> FromRequestParts<S> for AccessToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or_else(|| {
            ApiError::oauth(StatusCode::UNAUTHORIZED, "invalid_token", "a Bearer access token is required")
        })?;
        Ok(AccessToken(token_hash(token)))
    }
}

/// Who is at a counter: a registered device or a signed-in operator of the
/// counter role, named for the frame budget and the logs (never by token).
pub(crate) struct CounterCaller(pub String);

fn counter_unauthenticated() -> ApiError {
    ApiError::new(ProblemType::CounterUnauthenticated)
        .detail("send a registered counter device's token (or a counter operator's session) as a Bearer token")
}

impl FromRequestParts<Arc<AppState>> for CounterCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or_else(counter_unauthenticated)?;
        let hash = token_hash(token);
        if state.store.counter_device(&hash).await?.is_some() {
            return Ok(CounterCaller(format!("device:{}", &URL_SAFE_NO_PAD.encode(hash)[..16])));
        }
        match state.store.operator_of_session(&hash, now()).await? {
            Some(operator) if operator.role.includes(OperatorRole::Counter) => {
                Ok(CounterCaller(format!("operator:{}", operator.username)))
            }
            _ => Err(counter_unauthenticated()),
        }
    }
}

/// A relying party's API key (the Bearer token), hashed as the registry keeps it.
pub(crate) struct RelyingPartyKey([u8; 32]);

fn relying_party_unauthenticated() -> ApiError {
    ApiError::new(ProblemType::RelyingPartyUnauthenticated)
        .detail("send the relying party's API key as a Bearer token, with its client_id")
}

impl<S: Send + Sync> FromRequestParts<S> for RelyingPartyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let key = bearer(&parts.headers).ok_or_else(relying_party_unauthenticated)?;
        Ok(RelyingPartyKey(token_hash(key)))
    }
}

impl RelyingPartyKey {
    /// The relying party `client_id` (named in the body or query) if this is
    /// its key: from the registry's short-lived cache, compared in constant time.
    pub(crate) async fn party(&self, state: &AppState, client_id: &str) -> Result<RelyingParty, ApiError> {
        let party =
            state.relying_parties.get(&state.store, client_id).await?.ok_or_else(relying_party_unauthenticated)?;
        verify_slices_are_equal(&self.0, &party.api_key_hash).map_err(|_| relying_party_unauthenticated())?;
        Ok(party)
    }
}

/// The body of a citizen's self-service request: the presentation that
/// authenticates them and what the endpoint reads beside it.
#[derive(Deserialize, ToSchema)]
pub(crate) struct Proof {
    /// An SD-JWT+KB of one of the citizen's credentials, `aud` = the issuer, `nonce` = a fresh c_nonce.
    presentation: String,
    /// The PIN, for `/citizen/pin`, `/citizen/assertion`, and `/citizen/revoke` of an upgraded card.
    pub pin: Option<String>,
    /// For `/citizen/assertion`: the relying party the assertion is for.
    pub audience: Option<String>,
    /// For `/citizen/assertion`: that relying party's request nonce.
    pub nonce: Option<String>,
    /// For `/citizen/assertion` at L3: live frames (base64), matched against the registry.
    #[serde(default, deserialize_with = "bounded_list")]
    #[schema(max_items = 256)]
    pub frames: Vec<String>,
    /// For `/citizen/audit`: entries after this sequence number (paging).
    #[serde(default, deserialize_with = "whole_number")]
    pub after: u64,
}

/// A citizen authenticated by a presentation of one of their own
/// credentials: signed by one of the authority's published keys (current or
/// retired), bound to the device key that signed the fresh, single-use
/// nonce, and neither revoked nor suspended — a phone whose credentials were
/// revoked opens nothing. No ID number, password or session is involved.
pub(crate) struct CitizenProof {
    /// Whose credential it is.
    pub subject: BlindIndex,
    /// The device key the presentation was bound to.
    pub holder: PublicJwk,
    /// The edition of the presented credential (its always-visible `vct`):
    /// what an upgraded card's holder must also prove (the PIN) follows from it.
    pub edition: Edition,
    /// The rest of the request.
    pub proof: Proof,
}

fn citizen_unauthenticated(detail: &str) -> ApiError {
    ApiError::new(ProblemType::CitizenUnauthenticated).detail(detail)
}

impl FromRequest<Arc<AppState>> for CitizenProof {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let JsonBody(proof) = JsonBody::<Proof>::from_request(request, state).await?;
        let presentation =
            SdJwt::parse(&proof.presentation).map_err(|e| citizen_unauthenticated(&format!("[{}] {e}", e.code())))?;
        let kb = presentation
            .key_binding()
            .ok_or_else(|| citizen_unauthenticated("the presentation needs a key binding JWT"))?;
        let nonce = Jws::parse(kb, "key binding JWT")
            .ok()
            .and_then(|jws| jws.payload().get("nonce").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        let now = now();
        // The nonce's MAC first: an anonymous caller without one costs no signature check.
        let expires = state
            .nonces
            .check(&nonce, now)
            .ok_or_else(|| citizen_unauthenticated("use a fresh c_nonce from /nonce as the key binding nonce"))?;
        let issuer = &state.authority.issuer;
        let options = VerifyOptions {
            now,
            clock_skew_secs: 60,
            expected_typ: None,
            key_binding: Some(KeyBindingCheck { audience: &issuer.url, nonce: &nonce, max_age_secs: 300 }),
        };
        let key = issuer
            .key_for(&presentation)
            .ok_or_else(|| citizen_unauthenticated("the credential's key is not this authority's"))?;
        let verifying = key.verifying_key().map_err(|_| ApiError::internal())?;
        let vc = verify_vc(&presentation, &verifying, &options)
            .map_err(|e| citizen_unauthenticated(&format!("[{}] {e}", e.code())))?;
        let holder =
            vc.holder_key.ok_or_else(|| citizen_unauthenticated("the credential is bound to no device key"))?;
        let reference =
            vc.status.ok_or_else(|| citizen_unauthenticated("the credential carries no status reference"))?;
        if reference.uri != issuer.status_list_uri() {
            return Err(citizen_unauthenticated("the credential is not from this authority's status list"));
        }
        // Fails closed: only the lightweight edition's own vct is lightweight;
        // any other (a future version of the upgraded one) asks for the PIN.
        let edition = if vc.vct == vct(Edition::Lightweight) { Edition::Lightweight } else { Edition::Upgraded };
        if !state.store.consume_nonce(&nonce, expires).await? {
            return Err(citizen_unauthenticated("this c_nonce was already used"));
        }
        match state.store.credential_holder(STATUS_LIST_ID, reference.idx).await? {
            Some(held) if held.status == 0 => Ok(CitizenProof { subject: held.subject, holder, edition, proof }),
            Some(_) => Err(citizen_unauthenticated(
                "this credential is revoked (the card was enrolled again on another phone, or withdrawn); \
                 enroll again on this phone or use the new one",
            )),
            None => Err(citizen_unauthenticated("no such credential")),
        }
    }
}
