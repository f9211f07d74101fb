//! The relying party's verifier over HTTP (OpenID4VP 1.0): its backend
//! creates a request; the citizen's wallet fetches the request object — signed
//! with the relying party's own key and carrying the authority's Verifier
//! Attestation (§5.9.3) — and posts the answer (`direct_post`, §8.2) here, on
//! the relying party's origin; the backend reads the verified outcome once.
//! The authority sees none of it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use shenfen_core::AssuranceLevel;
use shenfen_credential::es256::SigningKey;
use shenfen_credential::{
    OfflinePolicy, PrivateJwk, SdJwt, VerifiedVc, VerifierAttestation, VerifierCache, es256_header, sign_compact,
    verify_online,
};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::VerifierError;
use crate::problem::{ProblemType, Refusal};
use crate::requests::{Asked, Request, Requests, Stage};

/// Seconds a request stays open.
pub const REQUEST_SECS: i64 = 300;
/// Largest body the backend or a wallet may send: a presentation of every
/// claim is a few kilobytes.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The DCQL credential query id, as the authority's verifier uses.
const CREDENTIAL_QUERY_ID: &str = "shenfen_id";
const REQUEST_OBJECT_TYP: &str = "oauth-authz-req+jwt";
/// Tolerated clock difference with phones and authorities, seconds.
const SKEW_SECS: i64 = 60;
/// Most claims one request may ask for.
const MAX_CLAIMS: usize = 16;

/// A source of the current time, seconds since the epoch (a fixed one in tests).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// How the relying party runs its verifier.
pub struct VerifierConfig {
    /// Its public base URL (its own origin), under which `/openid4vp/…` is served.
    pub public_url: String,
    /// Its private key: signs request objects; the attestation's `cnf.jwk` is its public half.
    pub key: PrivateJwk,
    /// The Verifier Attestation JWT the authority issued it (`shenfen rp attest`).
    pub attestation: String,
    /// The secret its backend sends as a Bearer token to create and read requests.
    pub api_key: String,
    /// Oldest cache (keys, status lists) answers are verified with; older, they are refused.
    pub max_cache_age_secs: i64,
    /// Most requests open at once.
    pub capacity: usize,
}

/// One relying party's verifier: its identity, the trust cache, the open requests.
pub struct Verifier {
    config: VerifierConfig,
    attested: VerifierAttestation,
    signing_key: SigningKey,
    cache: RwLock<VerifierCache>,
    requests: Requests,
    clock: Clock,
}

impl Verifier {
    /// A verifier whose attestation verifies with the keys of an authority the
    /// cache trusts, attests this very key, and lets answers come to this
    /// verifier's response URI.
    pub fn new(config: VerifierConfig, cache: VerifierCache, clock: Clock) -> Result<Verifier, VerifierError> {
        let now = clock();
        // Its issuer picks the keys it is verified with; nothing else is read before it verifies.
        let unverified = shenfen_credential::Jws::parse(config.attestation.trim(), "verifier attestation")?;
        let iss = unverified.payload().get("iss").and_then(Value::as_str).unwrap_or_default();
        let authority = cache.issuers.iter().find(|i| i.issuer == iss).ok_or_else(|| {
            VerifierError::Config(format!("the attestation is issued by {iss:?}, which this verifier does not trust"))
        })?;
        let attested = VerifierAttestation::verify(&config.attestation, &authority.keys, now, SKEW_SECS)?;
        if attested.key.thumbprint() != config.key.public().thumbprint() {
            return Err(VerifierError::Config("the attestation is for another key than --key-file".into()));
        }
        let response_uri = response_uri(&config.public_url);
        if !attested.redirect_uris.contains(&response_uri) {
            return Err(VerifierError::Config(format!(
                "the attestation does not let answers come to {response_uri} (it names {:?}): attest that URI",
                attested.redirect_uris
            )));
        }
        let signing_key = config.key.signing_key()?;
        let requests = Requests::new(config.capacity);
        Ok(Verifier { config, attested, signing_key, cache: RwLock::new(cache), requests, clock })
    }

    /// The attestation this verifier presents.
    pub fn attested(&self) -> &VerifierAttestation {
        &self.attested
    }

    /// Replaces the trust cache with a fresher one.
    pub fn refresh(&self, cache: VerifierCache) {
        *self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner) = cache;
    }

    /// When the trust cache was fetched.
    pub fn synced_at(&self) -> i64 {
        self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner).synced_at
    }

    /// Whether the trust cache is too old to verify with (fail closed).
    fn stale(&self, now: i64) -> bool {
        now - self.synced_at() > self.config.max_cache_age_secs
    }

    /// Whether `origin` is an authority this verifier trusts: its wallet page
    /// may call the wallet-facing endpoints from there (CORS).
    fn trusts_origin(&self, origin: &[u8]) -> bool {
        let cache = self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.issuers.iter().any(|issuer| origin_of(&issuer.issuer).as_bytes() == origin)
    }
}

/// The scheme, host and port of a URL (its web origin).
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..].find('/').map_or(url, |end| &url[..after_scheme + end])
}

/// The one URI every answer is posted to: the request is told by its `state`
/// (OpenID4VP 1.0 §13.3's reference design), so the attestation can name it exactly.
pub fn response_uri(public_url: &str) -> String {
    format!("{}/openid4vp/response", public_url.trim_end_matches('/'))
}

/// The verifier's routes: the backend's (create, read; Bearer API key) and
/// the wallet's (request object, response; CORS for the trusted authorities'
/// wallet pages).
pub fn router(verifier: Arc<Verifier>) -> Router {
    let trusted = verifier.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| trusted.trusts_origin(origin.as_bytes())))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    let wallet = Router::new()
        .route("/openid4vp/requests/{id}", get(request_object))
        .route("/openid4vp/response", post(response))
        .layer(cors);
    Router::new()
        .route("/openid4vp/requests", post(create))
        .route("/openid4vp/requests/{id}/outcome", get(outcome))
        .route("/healthz", get(health))
        .merge(wallet)
        .fallback(|| async { Refusal::problem(ProblemType::NotFound, "no such path") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(verifier)
}

/// A body, or the problem saying why it was not read (over the limit, say).
fn body(read: Result<Bytes, BytesRejection>) -> Result<Bytes, Refusal> {
    read.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            Refusal::problem(ProblemType::PayloadTooLarge, format!("send at most {BODY_LIMIT} bytes"))
        }
        _ => Refusal::problem(ProblemType::InvalidRequest, rejection.body_text()),
    })
}

/// Checks the backend's Bearer API key, in constant time.
fn backend(verifier: &Verifier, headers: &HeaderMap) -> Result<(), Refusal> {
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(key) if verify_slices_are_equal(key.as_bytes(), verifier.config.api_key.as_bytes()).is_ok() => Ok(()),
        _ => Err(Refusal::problem(
            ProblemType::RelyingPartyUnauthenticated,
            "send the verifier's API key as a Bearer token",
        )),
    }
}

/// 32 random bytes, base64url: a request id or a nonce.
fn random_token() -> Result<String, Refusal> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Refusal::problem(ProblemType::Internal, "the random source failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the relying party's backend asks for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRequest {
    /// Claim paths, `/`-separated below the top level.
    claims: Vec<String>,
    /// Why, in words the citizen reads on the consent screen.
    purpose: String,
    /// Only `L1` here (see docs/PRIVACY.md).
    #[serde(default)]
    level: Option<String>,
}

/// `POST /openid4vp/requests` (Bearer): a new request for claims within the
/// attested entitlement → `{request_id, request_uri, authorization_request, expires_at}`.
async fn create(
    State(verifier): State<Arc<Verifier>>,
    headers: HeaderMap,
    read: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, Refusal> {
    backend(&verifier, &headers)?;
    let asked: NewRequest = serde_json::from_slice(&body(read)?)
        .map_err(|e| Refusal::problem(ProblemType::InvalidRequest, format!("the body: {e}")))?;
    let created = verifier.open(&asked).map_err(|(kind, detail)| Refusal::problem(kind, detail))?;
    Ok((StatusCode::CREATED, Json(created)))
}

impl Verifier {
    /// Opens a request for `claims` at L1, for `purpose`, as `POST
    /// /openid4vp/requests` does — for a relying party that runs this
    /// verifier inside its own process: `{request_id, request_uri,
    /// authorization_request, expires_at}`, or the problem and why.
    pub fn open_request(&self, claims: Vec<String>, purpose: String) -> Result<Value, (ProblemType, String)> {
        self.open(&NewRequest { claims, purpose, level: None })
    }

    /// The outcome of request `id`, as `GET /openid4vp/requests/{id}/outcome`
    /// answers it (an answer is handed over once); `None` when it is unknown,
    /// expired or read already.
    pub fn take_outcome(&self, id: &str) -> Option<Value> {
        let request = self.requests.read(id, (self.clock)())?;
        Some(match request.stage {
            Stage::Pending => json!({ "status": "pending", "expires_at": request.expires_at }),
            Stage::Answered { verified, result } => {
                json!({ "status": if verified { "verified" } else { "refused" }, "result": result })
            }
        })
    }

    fn open(&self, asked: &NewRequest) -> Result<Value, (ProblemType, String)> {
        check_asked(self, asked).map_err(Refusal::into_parts)?;
        let now = (self.clock)();
        if self.stale(now) {
            return Err((
                ProblemType::Unavailable,
                "the cached keys and status lists are too old to verify with; the verifier refreshes them".into(),
            ));
        }
        let (id, nonce) = (random_token().map_err(Refusal::into_parts)?, random_token().map_err(Refusal::into_parts)?);
        let expires_at = now + REQUEST_SECS;
        let request = Request {
            nonce,
            asked: Asked { claims: asked.claims.clone(), purpose: asked.purpose.clone() },
            expires_at,
            stage: Stage::Pending,
        };
        self.requests.insert(id.clone(), request, now).map_err(|_| {
            (ProblemType::Busy, "too many requests are open; wait for some to be answered or expire".to_owned())
        })?;
        let request_uri = format!("{}/openid4vp/requests/{id}", self.config.public_url.trim_end_matches('/'));
        let link = serde_urlencoded::to_string([
            ("client_id", self.attested.prefixed_client_id().as_str()),
            ("request_uri", request_uri.as_str()),
        ])
        .map_err(|_| (ProblemType::Internal, "the link could not be encoded".to_owned()))?;
        Ok(json!({
            "request_id": id,
            "request_uri": request_uri,
            "authorization_request": format!("openid4vp://?{link}"),
            "expires_at": expires_at,
        }))
    }
}

/// A request's claims are few, entitled, and asked at L1 with a reason.
fn check_asked(verifier: &Verifier, asked: &NewRequest) -> Result<(), Refusal> {
    let purpose = asked.purpose.trim();
    if asked.claims.is_empty() || asked.claims.len() > MAX_CLAIMS || purpose.is_empty() || purpose.chars().count() > 200
    {
        return Err(Refusal::problem(
            ProblemType::InvalidRequest,
            format!("ask for 1 to {MAX_CLAIMS} claims, and say why in 1 to 200 characters"),
        ));
    }
    if let Some(level) = &asked.level {
        let level: AssuranceLevel = level.parse().map_err(|e: shenfen_core::CoreError| {
            Refusal::problem(ProblemType::InvalidRequest, format!("level: {e}"))
        })?;
        if level > AssuranceLevel::L1 {
            return Err(Refusal::problem(
                ProblemType::LevelUnavailable,
                "L2 and L3 need the authority's assurance assertion, which names the relying party to the \
                 authority: ask through the authority's verifier or OpenID Connect (docs/PRIVACY.md)",
            ));
        }
    }
    let not_entitled: Vec<&str> =
        asked.claims.iter().map(String::as_str).filter(|c| !verifier.attested.entitles(c)).collect();
    if !not_entitled.is_empty() {
        return Err(Refusal::problem(
            ProblemType::NotEntitled,
            format!(
                "the attestation lets {} ask for {}; not for {}",
                verifier.attested.client_id,
                verifier.attested.claims.join(", "),
                not_entitled.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The DCQL query (OpenID4VP 1.0 §6) of a request: the asked claims and the
/// relying party's own pseudonym, if the citizen's credential carries one.
fn dcql(verifier: &Verifier, asked: &Asked) -> Value {
    let mut claims: Vec<Value> = asked
        .claims
        .iter()
        .map(|claim| json!({ "id": claim.replace('/', "-"), "path": claim.split('/').collect::<Vec<_>>() }))
        .collect();
    claims.push(json!({ "id": "pseudonym", "path": ["pseudonyms", verifier.attested.client_id] }));
    json!({
        "credentials": [{
            "id": CREDENTIAL_QUERY_ID,
            "format": "dc+sd-jwt",
            "meta": { "vct_values": ["urn:shenfen:id:lightweight:1", "urn:shenfen:id:upgraded:1"] },
            "claims": claims,
        }],
        "credential_sets": [{ "options": [[CREDENTIAL_QUERY_ID]], "purpose": asked.purpose }],
    })
}

/// `GET /openid4vp/requests/{id}`: the request object (RFC 9101), signed with
/// the relying party's key, the authority's attestation in the `jwt` header.
async fn request_object(
    State(verifier): State<Arc<Verifier>>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Refusal> {
    let now = (verifier.clock)();
    let request = verifier.requests.pending(&id, now).ok_or_else(closed)?;
    let attested = &verifier.attested;
    let claims = json!({
        "iss": attested.prefixed_client_id(),
        "aud": "https://self-issued.me/v2",
        "iat": now,
        "exp": request.expires_at,
        "client_id": attested.prefixed_client_id(),
        "response_type": "vp_token",
        "response_mode": "direct_post",
        "response_uri": response_uri(&verifier.config.public_url),
        "nonce": request.nonce,
        "state": id,
        "dcql_query": dcql(&verifier, &request.asked),
        "assurance_level": "L1",
        "client_metadata": {
            "client_name": attested.name,
            "vp_formats_supported": { "dc+sd-jwt": { "sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"] } },
        },
    });
    let mut header = es256_header(REQUEST_OBJECT_TYP, None);
    header.insert("jwt".into(), Value::from(verifier.config.attestation.trim()));
    let jwt = sign_compact(&header, claims.as_object().unwrap_or(&Map::new()), &verifier.signing_key)
        .map_err(|_| Refusal::problem(ProblemType::Internal, "the request object could not be signed"))?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/oauth-authz-req+jwt")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    Ok((headers, jwt))
}

fn closed() -> Refusal {
    Refusal::problem(
        ProblemType::RequestClosed,
        "the request is unknown, expired or already answered (and read); ask for a new one",
    )
}

/// Codes of refusals that come after the key binding verified: the holder of
/// a credential answered this very request, and it is refused for good.
const FINAL_REFUSALS: [&str; 5] = [
    "credential.status.revoked",
    "credential.status.index",
    "credential.status.subject",
    "credential.offline.uncached_status",
    "credential.claim.missing",
];

/// `POST /openid4vp/response` (form: `vp_token`, `state`): the wallet's
/// answer, verified and kept for the backend to read once. Only an answer
/// key-bound to the request's nonce may close it (the request object, and
/// its `state`, are readable by anyone with the link): anything else is
/// answered 400 and the request stays open for the citizen's wallet.
async fn response(
    State(verifier): State<Arc<Verifier>>,
    read: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Refusal> {
    let bytes = body(read).map_err(|refusal| match refusal {
        Refusal::Problem(ProblemType::PayloadTooLarge, detail) => {
            Refusal::OAuth(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", detail)
        }
        _ => Refusal::wallet("the body could not be read"),
    })?;
    let form: HashMap<String, String> =
        serde_urlencoded::from_bytes(&bytes).map_err(|_| Refusal::wallet("the body is not a form"))?;
    let id = form.get("state").ok_or_else(|| Refusal::wallet("state is missing"))?;
    let now = (verifier.clock)();
    let request = verifier
        .requests
        .pending(id, now)
        .ok_or_else(|| Refusal::wallet("the request is unknown, expired or answered"))?;
    if verifier.stale(now) {
        return Err(Refusal::OAuth(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the verifier's status lists are too old to check with; try again shortly".into(),
        ));
    }
    let outcome = match presentation(&form).and_then(|p| verified(&verifier, &p, &request, now)) {
        Ok(vc) => result(&verifier, &vc, &request.asked),
        Err((code, reason)) if FINAL_REFUSALS.contains(&code) => Err(format!("[{code}] {reason}")),
        Err((code, reason)) => return Err(Refusal::wallet(format!("[{code}] {reason}"))),
    };
    let (verified, result) = match &outcome {
        Ok(result) => (true, result.clone()),
        Err(reason) => (false, json!({ "error": reason })),
    };
    if !verifier.requests.answer(id, verified, result, now) {
        return Err(Refusal::wallet("the request is already answered or expired"));
    }
    outcome.map(|_| Json(json!({}))).map_err(Refusal::wallet)
}

/// The one presentation of the form's `vp_token` (`{"shenfen_id": [SD-JWT+KB]}`).
fn presentation(form: &HashMap<String, String>) -> Result<SdJwt, (&'static str, String)> {
    let invalid = |reason: &str| ("verifier.vp_token", reason.to_owned());
    let token: Value = serde_json::from_str(form.get("vp_token").ok_or_else(|| invalid("vp_token is missing"))?)
        .map_err(|_| invalid("vp_token is not a JSON object"))?;
    let text = token[CREDENTIAL_QUERY_ID][0].as_str().ok_or_else(|| invalid("vp_token holds no shenfen_id"))?;
    SdJwt::parse(text).map_err(|e| (e.code(), e.to_string()))
}

/// The presentation verified with the trust cache: a trusted authority's
/// signature, key binding to this relying party and this request's nonce,
/// and a VALID status in the authority's whole status list.
fn verified(
    verifier: &Verifier,
    presentation: &SdJwt,
    request: &Request,
    now: i64,
) -> Result<VerifiedVc, (&'static str, String)> {
    let cache = verifier.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    let audience = verifier.attested.prefixed_client_id();
    let policy = OfflinePolicy {
        now,
        clock_skew_secs: SKEW_SECS,
        max_age_secs: REQUEST_SECS,
        max_cache_age_secs: verifier.config.max_cache_age_secs,
        audience: &audience,
        required_claims: &[],
    };
    verify_online(presentation, &cache, &policy, &request.nonce).map_err(|e| (e.code(), e.to_string()))
}

/// What the backend reads of a verified answer: every asked claim (refused
/// if one was withheld), the pairwise pseudonym if the credential has one,
/// the level, edition and issuer.
fn result(verifier: &Verifier, vc: &VerifiedVc, asked: &Asked) -> Result<Value, String> {
    let disclosed = Value::Object(vc.claims.clone());
    let mut claims = Map::new();
    for path in &asked.claims {
        let value = disclosed.pointer(&format!("/{path}")).cloned();
        claims
            .insert(path.clone(), value.ok_or_else(|| format!("[credential.claim.missing] {path} was not disclosed"))?);
    }
    let pseudonym = vc.claims.get("pseudonyms").and_then(|p| p.get(&verifier.attested.client_id)).cloned();
    Ok(json!({
        "claims": claims,
        "pseudonym": pseudonym,
        "level": "L1",
        "edition": vc.claims.get("edition"),
        "issuer": vc.claims.get("iss"),
    }))
}

/// `GET /openid4vp/requests/{id}/outcome` (Bearer): `{status: pending,
/// expires_at}`, or `{status: verified|refused, result}` — once, then forgotten.
async fn outcome(
    State(verifier): State<Arc<Verifier>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Refusal> {
    backend(&verifier, &headers)?;
    verifier.take_outcome(&id).map(Json).ok_or_else(closed)
}

/// `GET /healthz`: up, with the age of the trust cache and whether it is still usable.
async fn health(State(verifier): State<Arc<Verifier>>) -> Json<Value> {
    let now = (verifier.clock)();
    Json(json!({ "status": "ok", "cache_age_secs": now - verifier.synced_at(), "stale": verifier.stale(now) }))
}
