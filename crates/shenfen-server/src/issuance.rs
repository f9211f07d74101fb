//! OpenID4VCI 1.0 issuance with the pre-authorized code flow: metadata, token
//! endpoint, credential endpoint with `openid4vci-proof+jwt` key proofs and
//! batch issuance of single-use SD-JWT VCs, and the Token Status List they
//! point into.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use shenfen_core::{CardValidity, Edition, PseudonymKey, SEALED_ID_NUMBER, pairwise_pseudonym};
use shenfen_credential::{CredentialError, Jws, PublicJwk, StatusReference, VcIssuance, child_pointer, issue_vc, seal};
use shenfen_face::Template;
use shenfen_store::{AuditEvent, Grant, GrantKind, Issuance, RegistryEntry, RelyingParty};
use utoipa::ToSchema;

use crate::app::{AppState, no_store, now};
use crate::error::{ApiError, PROBLEM, Problem};
use crate::extractors::{AccessToken, JsonBody};
use crate::openapi::OAuthError;
use crate::openid;
use crate::status_list::{STATUS_LIST_ID, STATUS_LIST_SIZE};
use crate::tokens::{random_token, token_hash};

const ACCESS_TOKEN_SECS: i64 = 300;
const PROOF_TYP: &str = "openid4vci-proof+jwt";
const PRE_AUTHORIZED_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
/// The claims of every edition (DESIGN.md §1): enough to prove "this is
/// me", each selectively disclosable.
const COMMON_CLAIMS: [&str; 4] = ["name", "id_number_masked", "age_over_18", "region"];
/// The upgraded edition adds the full record, as one object whose members
/// are each disclosable again (so an offline QR that shows none of them
/// carries one digest for all), and the compact signed face template.
const RECORD_FIELDS: [&str; 8] = [
    "id_number",
    "sex",
    "birth_date",
    "ethnicity",
    "address",
    "issuing_authority",
    "card_valid_from",
    "card_valid_until",
];

/// The credential configuration id of an edition.
pub fn configuration_id(edition: Edition) -> String {
    format!("shenfen_{edition}")
}

/// The `vct` of an edition's credentials.
pub fn vct(edition: Edition) -> String {
    format!("urn:shenfen:id:{edition}:1")
}

/// The paths of an edition's disclosable claims, as lists of names.
fn claim_paths(edition: Edition) -> Vec<Vec<&'static str>> {
    let mut paths: Vec<Vec<&str>> = COMMON_CLAIMS.iter().map(|c| vec![*c]).collect();
    if edition == Edition::Upgraded {
        paths.push(vec!["face_template"]);
        paths.push(vec!["record"]);
        paths.extend(RECORD_FIELDS.iter().map(|f| vec!["record", *f]));
    }
    paths
}

/// `GET /.well-known/openid-credential-issuer`
#[utoipa::path(get, path = "/.well-known/openid-credential-issuer",
    summary = "OpenID4VCI credential issuer metadata.",
    responses((status = 200, description = "metadata (OpenID4VCI 1.0 §12.2)", body = Object)))]
pub(crate) async fn issuer_metadata(State(state): State<Arc<AppState>>) -> Json<Value> {
    let url = &state.authority.issuer.url;
    let configuration = |edition: Edition| {
        let claims: Vec<Value> = claim_paths(edition).iter().map(|path| json!({ "path": path })).collect();
        json!({
            "format": "dc+sd-jwt",
            "vct": vct(edition),
            "cryptographic_binding_methods_supported": ["jwk"],
            "credential_signing_alg_values_supported": ["ES256"],
            "proof_types_supported": { "jwt": { "proof_signing_alg_values_supported": ["ES256"] } },
            "credential_metadata": {
                "display": [
                    { "name": format!("居民身份证（{}）", if edition == Edition::Upgraded { "增强版" } else { "基础版" }), "locale": "zh-CN" },
                    { "name": format!("Resident ID ({edition})"), "locale": "en" }
                ],
                "claims": claims,
            },
        })
    };
    Json(json!({
        "credential_issuer": url,
        "credential_endpoint": format!("{url}/credential"),
        "nonce_endpoint": format!("{url}/nonce"),
        "batch_credential_issuance": { "batch_size": state.authority.policy.max_batch },
        "credential_configurations_supported": {
            configuration_id(Edition::Lightweight): configuration(Edition::Lightweight),
            configuration_id(Edition::Upgraded): configuration(Edition::Upgraded),
        },
    }))
}

/// `GET /.well-known/oauth-authorization-server`
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server",
    summary = "Authorization server metadata (token endpoint, pre-authorized grant).",
    responses((status = 200, description = "metadata (RFC 8414)", body = Object)))]
pub(crate) async fn authorization_server_metadata(State(state): State<Arc<AppState>>) -> Json<Value> {
    let url = &state.authority.issuer.url;
    Json(json!({
        "issuer": url,
        "token_endpoint": format!("{url}/token"),
        "grant_types_supported": [PRE_AUTHORIZED_GRANT, openid::CODE_GRANT],
        "pre-authorized_grant_anonymous_access_supported": true,
    }))
}

/// An OAuth / OpenID4VCI error: these endpoints answer in the format their
/// clients are specified to parse (RFC 6749 §5.2, OpenID4VCI §8.3.1.2).
fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> ApiError {
    ApiError::oauth(status, error, description)
}

/// A token request (form-encoded): the fields of both grants.
#[derive(Deserialize, ToSchema)]
pub(crate) struct TokenRequest {
    /// `urn:ietf:params:oauth:grant-type:pre-authorized_code` (OpenID4VCI)
    /// or `authorization_code` (OpenID Connect).
    pub(crate) grant_type: Option<String>,
    /// The code of the credential offer.
    #[serde(rename = "pre-authorized_code")]
    pre_authorized_code: Option<String>,
    /// The counter's transaction code, for the upgraded edition.
    tx_code: Option<String>,
    /// The authorization code of a sign-in.
    pub(crate) code: Option<String>,
    /// The redirect URI the sign-in was asked with.
    pub(crate) redirect_uri: Option<String>,
    /// The PKCE verifier of the sign-in's `code_challenge`.
    pub(crate) code_verifier: Option<String>,
    /// The client, when it authenticates with a client assertion.
    pub(crate) client_id: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` (RFC 7523).
    pub(crate) client_assertion_type: Option<String>,
    /// The client's signed assertion (`private_key_jwt`).
    pub(crate) client_assertion: Option<String>,
}

/// Tokens (RFC 6749 §5.1): a single-use access token, and for a sign-in the id_token.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenAnswer {
    /// For `/credential` or `/userinfo`, as Bearer.
    pub(crate) access_token: String,
    /// Seconds the token is valid.
    pub(crate) expires_in: i64,
    /// The ES256 id_token of a sign-in (authorization code grant only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
    /// `Bearer`.
    pub(crate) token_type: &'static str,
}

/// `POST /token` (form-encoded): the OpenID4VCI pre-authorized code grant,
/// or the OpenID Connect authorization code grant.
#[utoipa::path(post, path = "/token",
    summary = "Exchanges a pre-authorized code (and for the upgraded edition the counter's tx_code) for a single-use access token, or a sign-in's authorization code (PKCE, client_secret_basic or private_key_jwt) for an access token and an id_token; OAuth errors per RFC 6749.",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "an access token (and, for a sign-in, an id_token)", body = TokenAnswer),
        (status = 400, description = "unsupported_grant_type, invalid_request, invalid_grant", body = OAuthError),
        (status = 401, description = "invalid_client: the sign-in's client did not authenticate", body = OAuthError),
        (status = 415, description = "not a form", body = Problem, content_type = PROBLEM),
    ))]
pub(crate) async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<TokenRequest>,
) -> Result<Response, ApiError> {
    match form.grant_type.as_deref() {
        Some(PRE_AUTHORIZED_GRANT) => pre_authorized_token(&state, &form).await,
        Some(openid::CODE_GRANT) => openid::code_token(&state, &headers, &form).await,
        _ => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "the grants are the pre-authorized code (OpenID4VCI) and the authorization code (OpenID Connect)",
        )),
    }
}

/// Redeems a pre-authorized code (and, for the upgraded edition, the
/// counter's transaction code) for an access token to `/credential`.
async fn pre_authorized_token(state: &AppState, form: &TokenRequest) -> Result<Response, ApiError> {
    let code = form
        .pre_authorized_code
        .as_deref()
        .ok_or_else(|| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "pre-authorized_code is missing"))?;
    let now = now();
    let code_hash = token_hash(code);
    let tx_code = form.tx_code.as_deref().map(|c| state.authority.tx_code_hash(c));
    if tx_code.is_some() {
        // Transaction codes are counted per pre-authorized code before one is
        // compared, in one statement: a few guesses at six digits — however
        // many arrive at once — then the code is void.
        let tries_key = format!("tx-code:{}", URL_SAFE_NO_PAD.encode(code_hash));
        if state.store.count_attempt(&tries_key, 0).await? > state.authority.policy.tx_code_attempts {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "too many wrong transaction codes: this offer is void; enroll again",
            ));
        }
        state.metrics.secret_checked("tx_code");
    }
    let redeemed = state.store.redeem_grant(&code_hash, GrantKind::PreAuthorizedCode, tx_code.as_ref(), now).await?;
    let grant = redeemed.ok_or_else(|| {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code is unknown, expired or already used, or the transaction code from the counter is missing or wrong",
        )
    })?;
    let access_token =
        random_token().ok_or_else(|| oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", ""))?;
    // The transaction code was spent on the pre-authorized code; the access token stands alone.
    let grant = Grant { tx_code_hash: None, ..grant };
    let expires_at = now + ACCESS_TOKEN_SECS;
    state.store.put_grant(&token_hash(&access_token), GrantKind::AccessToken, &grant, expires_at).await?;
    let body = TokenAnswer { access_token, expires_in: ACCESS_TOKEN_SECS, id_token: None, token_type: "Bearer" };
    Ok((no_store(), Json(body)).into_response())
}

/// An OpenID4VCI credential request.
#[derive(Deserialize, ToSchema)]
pub(crate) struct CredentialRequest {
    /// `shenfen_lightweight` or `shenfen_upgraded`: the one the grant is for.
    credential_configuration_id: String,
    /// The key proofs, one per credential.
    proofs: Proofs,
}

/// The key proofs of a credential request.
#[derive(Deserialize, ToSchema)]
pub(crate) struct Proofs {
    /// `openid4vci-proof+jwt` JWTs, 1 to batch_size, each with a fresh c_nonce.
    jwt: Vec<String>,
}

/// The issued batch.
#[derive(Serialize, ToSchema)]
pub(crate) struct Credentials {
    /// One per key proof, in their order.
    credentials: Vec<IssuedCredential>,
}

/// One issued credential.
#[derive(Serialize, ToSchema)]
pub(crate) struct IssuedCredential {
    /// The SD-JWT VC, bound to the proof's key.
    credential: String,
}

/// `POST /credential` with `Authorization: Bearer`.
#[utoipa::path(post, path = "/credential",
    summary = "Issues a batch of SD-JWT VCs, one per openid4vci-proof+jwt key proof. The access token is spent only when the batch is issued: after invalid_nonce, get a fresh c_nonce and send the request again with the same token.",
    request_body = CredentialRequest,
    security(("access_token" = [])),
    responses(
        (status = 200, description = "the batch", body = Credentials),
        (status = 400, description = "invalid_credential_request, unknown_credential_configuration, invalid_proof, invalid_nonce", body = OAuthError),
        (status = 401, description = "invalid_token: no access token, or unknown, expired or spent", body = OAuthError),
        (status = 413, description = "body over the limit", body = Problem, content_type = PROBLEM),
    ))]
pub(crate) async fn credential(
    State(state): State<Arc<AppState>>,
    AccessToken(access_token_hash): AccessToken,
    body: Result<JsonBody<CredentialRequest>, ApiError>,
) -> Result<impl IntoResponse, ApiError> {
    let JsonBody(body) = body.map_err(|_| {
        oauth_error(StatusCode::BAD_REQUEST, "invalid_credential_request", "the body is not a credential request")
    })?;
    let now = now();
    // Only looked at here: the token is spent in the issuance's own
    // transaction, so a wallet told `invalid_nonce` may retry with it.
    let grant =
        state.store.peek_grant(&access_token_hash, GrantKind::AccessToken, now).await?.ok_or_else(token_spent)?;
    if body.credential_configuration_id != configuration_id(grant.edition) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unknown_credential_configuration",
            "not the configuration this grant is for",
        ));
    }
    if body.proofs.jwt.is_empty() || body.proofs.jwt.len() > state.authority.policy.max_batch {
        return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_proof", "send 1 to batch_size key proofs"));
    }
    let mut holders = Vec::with_capacity(body.proofs.jwt.len());
    let mut nonces: Vec<(String, i64)> = Vec::new();
    for proof in &body.proofs.jwt {
        let (holder, nonce) = check_proof(&state, proof, now)?;
        holders.push(holder);
        if !nonces.contains(&nonce) {
            nonces.push(nonce);
        }
    }
    // The proofs of one batch share their c_nonce; each nonce is spent once.
    for (nonce, expires) in &nonces {
        if !state.store.consume_nonce(nonce, *expires).await? {
            return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_nonce", "this c_nonce was already used"));
        }
    }
    let credentials = issue_batch(&state, &access_token_hash, &grant, &holders, now).await?;
    Ok((no_store(), Json(Credentials { credentials })))
}

fn token_spent() -> ApiError {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", "the access token is unknown, expired or already used")
}

/// Verifies one key proof — type, signature by the embedded key, audience,
/// freshness, a c_nonce of ours — and returns the key and the nonce to spend.
fn check_proof(state: &Arc<AppState>, proof: &str, now: i64) -> Result<(PublicJwk, (String, i64)), ApiError> {
    let invalid = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_proof", why);
    let jws = Jws::parse(proof, "key proof").map_err(|e| invalid(&e.to_string()))?;
    jws.expect_typ(PROOF_TYP).map_err(|e| invalid(&e.to_string()))?;
    let jwk = jws.header().get("jwk").ok_or_else(|| invalid("the proof header carries no jwk"))?;
    let (holder, verifier) = PublicJwk::from_value_with_verifier(jwk).map_err(|e| invalid(&e.to_string()))?;
    jws.verify(&verifier).map_err(|e| invalid(&e.to_string()))?;
    let claims = jws.payload();
    if claims.get("aud").and_then(Value::as_str) != Some(state.authority.issuer.url.as_str()) {
        return Err(invalid("the proof's aud is not this credential issuer"));
    }
    let iat = claims.get("iat").and_then(Value::as_i64).ok_or_else(|| invalid("iat is missing"))?;
    if (now - iat).abs() > 300 {
        return Err(invalid("the proof's iat is more than 5 minutes from now"));
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or_default();
    let Some(expires) = state.nonces.check(nonce, now) else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_nonce",
            "get a fresh c_nonce from the nonce endpoint",
        ));
    };
    Ok((holder, (nonce.to_owned(), expires)))
}

async fn issue_batch(
    state: &Arc<AppState>,
    access_token_hash: &[u8; 32],
    grant: &Grant,
    holders: &[PublicJwk],
    now: i64,
) -> Result<Vec<IssuedCredential>, ApiError> {
    let sealed = state.store.entry(&grant.subject).await?.ok_or_else(|| {
        oauth_error(StatusCode::BAD_REQUEST, "invalid_token", "the citizen is no longer in the registry")
    })?;
    let entry = sealed.open(state.authority.keys.as_ref())?;
    // A new enrollment means a new phone: what the old one holds stops working,
    // in the same transaction that allocates the new batch's slots.
    let issuer = &state.authority.issuer;
    let devices: Vec<String> = holders.iter().map(PublicJwk::thumbprint).collect();
    let event = AuditEvent {
        at: now,
        kind: "credential.issued".into(),
        actor: "citizen".into(),
        subject: Some(grant.subject),
        details: json!({ "edition": grant.edition }),
    };
    let issuance = Issuance {
        access_token_hash,
        list_id: STATUS_LIST_ID,
        list_size: STATUS_LIST_SIZE,
        subject: &grant.subject,
        devices: &devices,
        now,
    };
    let slots = state.store.issue_slots(issuance, event).await?.ok_or_else(token_spent)?;
    let status_uri = issuer.status_list_uri();
    let mut disclosable: Vec<String> =
        claim_paths(grant.edition).iter().map(|path| format!("/{}", path.join("/"))).collect();
    let mut claims = claims_of(&issuer.url, &entry, grant.edition, now);
    let parties = state.store.relying_parties().await?;
    add_pseudonyms(&mut claims, &mut disclosable, &state.authority.pseudonyms, &entry, &parties);
    if issuer.police.is_some() {
        disclosable.push(format!("/{SEALED_ID_NUMBER}"));
    }
    let mut credentials = Vec::with_capacity(holders.len());
    for (holder, idx) in holders.iter().zip(slots) {
        let status = StatusReference { uri: status_uri.clone(), idx };
        let params = VcIssuance {
            vct: &vct(grant.edition),
            holder,
            issued_at: now,
            expires_at: now + state.authority.policy.credential_ttl_secs,
            status: Some(&status),
            kid: issuer.public.kid(),
            disclosable: &disclosable,
            // Every credential of an edition holds the same claims (enrollment
            // needs a registry face template, so upgraded ones all carry one):
            // decoy digests would hide nothing and cost a QR code ~45 bytes each.
            max_decoys: 0,
        };
        let failed = |e: CredentialError| {
            tracing::error!(code = e.code(), "credential signing failed");
            oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "")
        };
        let mut copy = claims.clone();
        if let Some(police) = &issuer.police {
            copy.insert(SEALED_ID_NUMBER.into(), Value::from(sealed_id_number(police, &entry).map_err(failed)?));
        }
        let sd_jwt = issue_vc(&issuer.signing_key, copy, &params).map_err(failed)?;
        credentials.push(IssuedCredential { credential: sd_jwt.serialize() });
    }
    Ok(credentials)
}

/// The claims of an edition's credential (see [`claim_names`]).
fn claims_of(issuer: &str, entry: &RegistryEntry, edition: Edition, now: i64) -> Map<String, Value> {
    let record = &entry.record;
    let today = time::OffsetDateTime::from_unix_timestamp(now).map_or(time::Date::MIN, |t| t.date());
    let mut claims = json!({
        "iss": issuer,
        "edition": edition,
        "name": record.name,
        "id_number_masked": record.id_number.masked(),
        "age_over_18": record.age_on(today) >= 18,
        "region": record.id_number.province().name_en,
    });
    if edition == Edition::Upgraded {
        claims["record"] = json!({
            "id_number": record.id_number.as_str(),
            "sex": record.sex,
            "birth_date": record.birth_date.to_string(),
            "ethnicity": record.ethnicity,
            "address": record.address,
            "issuing_authority": record.issuing_authority,
            "card_valid_from": record.validity.from.to_string(),
            "card_valid_until": CardValidity::expiry_label(record.validity.until),
        });
        // The compact (int4) form: what a QR code at a counter can carry.
        if let Some(template) = entry.face_template.as_deref().and_then(|b| Template::from_bytes(b).ok()) {
            claims["face_template"] = Value::from(URL_SAFE_NO_PAD.encode(template.compact().to_bytes()));
        }
    }
    claims.as_object().cloned().unwrap_or_default()
}

/// The ID number and name sealed to the police's key, for a hotel's guest
/// register: sealed here, per copy, so the value is the authority's (a
/// wallet cannot seal another number) and two hotels shown two copies hold
/// ciphertexts that share nothing.
///
/// The plaintext is padded with JSON whitespace to a multiple of
/// [`SEALED_PADDING`] bytes, so the ciphertext's length does not give away
/// the length of the name (the same for this citizen everywhere).
fn sealed_id_number(police: &PublicJwk, entry: &RegistryEntry) -> Result<String, CredentialError> {
    let record = &entry.record;
    let mut plaintext = json!({ "id_number": record.id_number.as_str(), "name": record.name }).to_string();
    let padded = plaintext.len().div_ceil(SEALED_PADDING).max(1) * SEALED_PADDING;
    plaintext.extend(std::iter::repeat_n(' ', padded - plaintext.len()));
    seal(police, plaintext.as_bytes())
}

/// The block a sealed ID number's plaintext is padded to: a name of up to
/// about 30 Chinese characters fits one block.
const SEALED_PADDING: usize = 160;

/// One pairwise pseudonym per registered relying party, under `pseudonyms`,
/// each disclosable on its own: a relying party gets its own and never sees
/// another's, and a QR code that shows none carries one digest for all.
fn add_pseudonyms(
    claims: &mut Map<String, Value>,
    disclosable: &mut Vec<String>,
    key: &PseudonymKey,
    entry: &RegistryEntry,
    parties: &[RelyingParty],
) {
    if parties.is_empty() {
        return;
    }
    let mut pseudonyms = Map::new();
    disclosable.push("/pseudonyms".into());
    for party in parties {
        pseudonyms.insert(
            party.client_id.clone(),
            Value::from(pairwise_pseudonym(key, &entry.record.id_number, &party.client_id)),
        );
        disclosable.push(child_pointer("/pseudonyms", &party.client_id));
    }
    claims.insert("pseudonyms".into(), Value::Object(pseudonyms));
}
