//! The police's guest register (旅馆业治安管理): hotels forward their
//! register entries to the intake (each hotel with its own bearer token),
//! each with the guest's presentation, which the police verify against the
//! authority's keys before keeping the entry ([`evidence`]);
//! the ID number in each is a JWE sealed at issuance to the police's key
//! (`police.jwk`, made on first run; its public half `police.pub.jwk` is
//! what the authority seals to). Officers (argon2id accounts) open a night's
//! register: every sealed value shown is opened with the key, and every
//! opening is recorded — who, which entry, when.

mod evidence;
mod store;

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;
use serde_json::json;
use shenfen_credential::{PrivateJwk, TrustedIssuer, VerifierCache};

use self::evidence::Unattested;
use self::store::Opened;
use crate::db::Db;
use crate::error::{ProblemType, Refusal, ServicesError};
use crate::key_files::read_or_create_secret;
use crate::secrets::token_hash;
use crate::staff::{self, POLICE_OFFICERS, SignIn};
use crate::web::{FormBody, Lang, cookie, page, see_other, set_cookie, staff_login, staff_refusal, wants_html};

/// The police's name in Chinese and English.
pub(crate) const NAME: (&str, &str) = ("公安旅馆业登记", "Police guest register");
/// The officer's session cookie.
const COOKIE: &str = "police_officer";
/// The largest intake batch, in bytes.
const INTAKE_LIMIT: usize = 512 * 1024;
/// The most entries in one batch.
const INTAKE_ENTRIES: usize = 100;

/// The police's shared state.
pub struct Police {
    db: Db,
    key: PrivateJwk,
    /// The authority's trusted keys, to verify forwarded presentations with.
    issuers: tokio::sync::RwLock<Vec<TrustedIssuer>>,
    /// Per hotel the police take entries from: the SHA-256 of its intake
    /// token and its client id — a batch is that hotel's, whatever it says.
    hotels: Vec<(Vec<u8>, String)>,
    origin: String,
    secure: bool,
}

/// Where the police's private key lives in `data_dir`.
pub fn police_key_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("police.jwk")
}

/// Where its public half lives (`shenfen serve --police-key`).
pub fn police_public_key_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("police.pub.jwk")
}

/// Where the hotels' intake token lives (0600): the demo's hotel and police share it.
pub fn intake_token_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("police-intake.token")
}

/// The police's key, made on first use (0600), its public half written beside it.
pub fn police_key(data_dir: &Path) -> Result<PrivateJwk, ServicesError> {
    let path = police_key_path(data_dir);
    let key_error = |reason: String| ServicesError::KeyFile { path: path.display().to_string(), reason };
    let text = read_or_create_secret(&path, || {
        let key = PrivateJwk::generate().map_err(|e| key_error(e.to_string()))?;
        let kid = format!("police-{}", &key.public().thumbprint()[..8]);
        Ok(key.with_kid(kid).to_value().to_string())
    })?;
    let key = PrivateJwk::from_json(&text).map_err(|e| key_error(e.to_string()))?;
    let public = police_public_key_path(data_dir);
    std::fs::write(&public, format!("{:#}\n", key.public().to_value()))
        .map_err(|e| ServicesError::KeyFile { path: public.display().to_string(), reason: e.to_string() })?;
    Ok(key)
}

/// The hotels' intake token, made on first use (0600).
pub fn intake_token(data_dir: &Path) -> Result<String, ServicesError> {
    Ok(read_or_create_secret(&intake_token_path(data_dir), crate::secrets::random_token)?.trim().to_owned())
}

impl Police {
    /// The police at `origin`, opening with `key`, taking entries from
    /// `hotels` (each hotel's intake token and client id) whose presentations
    /// verify with `issuers` (the authority's keys).
    pub fn new(db: Db, key: PrivateJwk, hotels: &[(&str, &str)], origin: &str, issuers: Vec<TrustedIssuer>) -> Police {
        let origin = origin.trim_end_matches('/').to_owned();
        Police {
            db,
            key,
            issuers: tokio::sync::RwLock::new(issuers),
            hotels: hotels
                .iter()
                .map(|(token, hotel)| (token_hash(token), hotel.trim_end_matches('/').to_owned()))
                .collect(),
            secure: origin.starts_with("https://"),
            origin,
        }
    }

    /// Takes the authority's keys of a fresh cache (a rotation adds one).
    pub(crate) async fn trust(&self, cache: VerifierCache) {
        *self.issuers.write().await = cache.issuers;
    }
}

/// Fetches the authority's keys every `every_secs` (at once first), for
/// the intake to verify forwarded presentations with; a failed fetch keeps
/// the keys held.
pub async fn keep_fresh(police: Arc<Police>, authority: String, every_secs: u64) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(every_secs));
    loop {
        every.tick().await;
        if let Some(cache) = crate::fetch_trust(&authority, "police").await {
            police.trust(cache).await;
        }
    }
}

/// Adds an officer with `password` (argon2id).
pub async fn add_officer(db: &Db, username: &str, password: &str) -> Result<(), ServicesError> {
    POLICE_OFFICERS.add(db, username, password, crate::now()).await
}

type Shared = State<Arc<Police>>;

/// The police's routes, framed.
pub fn router(police: Arc<Police>, authority_origin: &str) -> Router {
    let frame = Arc::new(crate::web::PageFrame::new(NAME, authority_origin));
    Router::new()
        .route("/", get(register))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/intake", post(intake).layer(DefaultBodyLimit::max(INTAKE_LIMIT)))
        .merge(crate::common_routes())
        .fallback(|| async { Refusal::new(ProblemType::NotFound, "no such page") })
        .with_state(police)
        .layer(axum::middleware::from_fn_with_state(frame, crate::web::frame))
}

#[derive(Deserialize)]
struct Batch {
    hotel: String,
    entries: Vec<store::Entry>,
}

/// `POST /intake {hotel, entries}` with the hotel's bearer token: the
/// entries whose presentations verify kept (idempotent per hotel and entry,
/// per presentation, per guest and night) → `{received, refused: [{entry_id,
/// reason}], deferred: [entry_id]}` — deferred: signed by a key the police
/// do not hold yet, for the hotel to send again later.
async fn intake(State(police): Shared, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response, Refusal> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Hashes of equal length compared in constant time: the token's bytes leak nothing by timing.
    let presented = token_hash(token);
    let hotel = police
        .hotels
        .iter()
        .find(|(hash, _)| aws_lc_rs::constant_time::verify_slices_are_equal(&presented, hash).is_ok())
        .map(|(_, hotel)| hotel)
        .ok_or_else(|| Refusal::new(ProblemType::IntakeUnauthenticated, "a hotel's intake token is needed"))?;
    let batch: Batch = serde_json::from_slice(&body)
        .map_err(|e| Refusal::new(ProblemType::BadRequest, format!("the batch does not read: {e}")))?;
    // The token says which hotel sends: a batch in another hotel's name is refused.
    if batch.hotel.trim_end_matches('/') != hotel {
        return Err(Refusal::new(ProblemType::IntakeUnauthenticated, "this intake token is another hotel's"));
    }
    if batch.hotel.is_empty() || batch.hotel.len() > 200 || batch.entries.len() > INTAKE_ENTRIES {
        return Err(Refusal::new(ProblemType::BadRequest, "a batch names its hotel and holds 1 to 100 entries"));
    }
    for entry in &batch.entries {
        entry.check().map_err(|detail| Refusal::new(ProblemType::BadRequest, detail))?;
    }
    let issuers = police.issuers.read().await.clone();
    let (mut kept, mut refused, mut deferred) = (Vec::new(), Vec::new(), Vec::new());
    for entry in &batch.entries {
        match evidence::attested(entry, &batch.hotel, &issuers, crate::now()) {
            Ok(attested) => kept.push(attested),
            Err(Unattested::UnknownKey(issuer)) => {
                tracing::warn!(hotel = %batch.hotel, %issuer, "a register entry signed by a key not held yet");
                deferred.push(entry.entry_id.as_str());
            }
            Err(Unattested::Refused(why)) => {
                tracing::warn!(hotel = %batch.hotel, entry = %entry.entry_id, %why, "a register entry was refused");
                refused.push(json!({ "entry_id": entry.entry_id, "reason": why }));
            }
        }
    }
    let received = store::receive(&police.db, &batch.hotel, &kept, crate::now()).await?;
    tracing::info!(hotel = %batch.hotel, received, refused = refused.len(), deferred = deferred.len(), "register entries received");
    let answer = json!({ "received": received, "refused": refused, "deferred": deferred });
    Ok((StatusCode::OK, Json(answer)).into_response())
}

/// The officer of this browser's session, if any.
async fn officer(police: &Police, headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let Some(token) = cookie(headers, COOKIE).filter(|t| t.len() == 43) else { return Ok(None) };
    Ok(POLICE_OFFICERS.of_session(&police.db, &token, crate::now()).await?)
}

fn police_page(lang: Lang, body: maud::Markup) -> Response {
    page(lang, lang.pick(NAME.0, NAME.1), lang.pick("旅客登记", "Guest register"), "/", &[], body).into_response()
}

#[derive(Deserialize)]
struct NightQuery {
    night: Option<String>,
}

/// `GET /?night=YYYY-MM-DD`: the night's register, each sealed ID number
/// opened (and the opening recorded) — for a signed-in officer; the sign-in
/// form for anyone else (401 for API callers).
async fn register(
    State(police): Shared,
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<NightQuery>,
) -> Result<Response, Refusal> {
    let Some(officer) = officer(&police, &headers).await? else {
        if !wants_html(&headers) {
            return Err(Refusal::new(ProblemType::OfficerUnauthenticated, "sign in as an officer"));
        }
        let mut response = police_page(lang, staff_login(lang, "/login", None));
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(response);
    };
    let night = match query.night.as_deref() {
        Some(text) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| Refusal::new(ProblemType::BadRequest, "night is YYYY-MM-DD"))?,
        None => crate::china_date(crate::now()),
    };
    let opened = store::open_night(&police.db, &police.key, night, &officer, crate::now()).await?;
    tracing::info!(%officer, entries = opened.len(), "an officer opened a night's register");
    if !wants_html(&headers) {
        return Ok(Json(json!({ "night": night.to_string(), "entries": opened })).into_response());
    }
    Ok(police_page(lang, register_page(lang, &night.to_string(), &officer, &opened)))
}

fn register_page(lang: Lang, night: &str, officer: &str, opened: &[Opened]) -> maud::Markup {
    let unopened = lang.pick("无法打开（不是用本机关的密钥加密的）", "does not open (not sealed to this key)");
    html! {
        p { (lang.pick("值班民警：", "Officer: ")) (officer) }
        form method="get" action="/" {
            div.field {
                label for="night" { (lang.pick("入住日期（当晚）", "Night")) }
                input id="night" name="night" type="date" value=(night) required;
            }
            button type="submit" { (lang.pick("打开登记", "Open the register")) }
        }
        p.hint { (lang.pick("每打开一条记录都会被记录（谁、何时、哪一条）。", "Every entry opened is recorded: who, when, which.")) }
        @if opened.is_empty() {
            p { (lang.pick("当晚没有旅客登记。", "No guests registered for that night.")) }
        } @else {
            table {
                caption { (lang.pick("当晚旅客", "Guests of the night")) " " (night) }
                thead { tr {
                    th scope="col" { (lang.pick("旅馆", "Hotel")) }
                    th scope="col" { (lang.pick("房间", "Room")) }
                    th scope="col" { (lang.pick("姓名", "Name")) }
                    th scope="col" { (lang.pick("身份证号", "ID number")) }
                    th scope="col" { (lang.pick("入住", "Arrival")) }
                    th scope="col" { (lang.pick("晚数", "Nights")) }
                } }
                tbody {
                    @for entry in opened { tr {
                        td { (entry.hotel) } td { (entry.room) }
                        td { (entry.name.as_deref().unwrap_or(unopened)) }
                        td.id-number { (entry.id_number.as_deref().unwrap_or(unopened)) }
                        td { (entry.arrival) } td { (entry.nights) }
                    } }
                }
            }
        }
        form method="post" action="/logout" { button.secondary type="submit" { (lang.pick("退出", "Sign out")) } }
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// An officer's sign-in, as a clerk's: counted before the argon2id check, limited per name.
async fn login(
    State(police): Shared,
    lang: Lang,
    headers: HeaderMap,
    FormBody(form): FormBody<LoginForm>,
) -> Result<Response, Refusal> {
    same_origin(&police, &headers)?;
    let refused = |kind: ProblemType| -> Result<Response, Refusal> {
        if !wants_html(&headers) {
            return Err(Refusal::new(kind, "wrong username or password, or too many attempts"));
        }
        let message = staff_refusal(lang, kind == ProblemType::RateLimited);
        let mut response = police_page(lang, staff_login(lang, "/login", Some(message)));
        *response.status_mut() = kind.status();
        Ok(response)
    };
    let token = match POLICE_OFFICERS.sign_in(&police.db, &form.username, &form.password, crate::now()).await? {
        SignIn::Session(token) => token,
        SignIn::Wrong => return refused(ProblemType::OfficerUnauthenticated),
        SignIn::TooMany => return refused(ProblemType::RateLimited),
        SignIn::Busy => {
            return Err(Refusal::new(ProblemType::Busy, "too many sign-ins at once; try again in a second"));
        }
    };
    let mut response = see_other("/");
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(COOKIE, &token, "/", staff::SESSION_FOR, police.secure));
    Ok(response)
}

async fn logout(State(police): Shared, headers: HeaderMap) -> Result<Response, Refusal> {
    same_origin(&police, &headers)?;
    if let Some(token) = cookie(&headers, COOKIE) {
        POLICE_OFFICERS.end_session(&police.db, &token).await?;
    }
    let mut response = see_other("/");
    response.headers_mut().append(header::SET_COOKIE, set_cookie(COOKIE, "", "/", 0, police.secure));
    Ok(response)
}

/// A form must come from the police's own pages.
fn same_origin(police: &Police, headers: &HeaderMap) -> Result<(), Refusal> {
    crate::web::same_origin(&police.origin, headers)
}
