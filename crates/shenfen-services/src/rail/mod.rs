//! Real-name rail tickets (实名制车票). The railway knows a passenger by its
//! pairwise pseudonym (the card's `pseudonyms/<railway>`), asked at L1 by
//! its own OpenID4VP verifier on its own origin — the authority hears of no
//! trip. A ticket is bound to the buyer's pseudonym, or to a named
//! co-traveller's once they accept it from their own wallet; it changes
//! hands only by an explicit transfer the recipient accepts with their
//! wallet. At the gate the passenger's offline QR (bound to the railway,
//! fresh, not shown before, card not revoked) must carry the ticket's pseudonym.

mod gate;
mod gate_page;
mod pages;
mod store;

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use shenfen_credential::VerifierCache;
use shenfen_verifier::Verifier;

pub use gate::{Gates, MAX_CACHE_AGE_SECS};
pub use store::{Boarding, Bought, add_gate, sell};

use self::store::Accepted;
use crate::db::Db;
use crate::error::{ProblemType, Refusal};
use crate::sealed::Sealer;
use crate::secrets::random_token;
use crate::session::{end_session, open_session, session_subject};
use crate::web::{FormBody, Lang, PageFrame, cookie, page, see_other, set_cookie, wants_html};

/// The service's name in its tables.
const SERVICE: &str = "rail";
/// The railway's name in Chinese and English.
pub(crate) const NAME: (&str, &str) = ("铁路客票", "Rail tickets");
/// The passenger's session cookie.
const SESSION_COOKIE: &str = "rail_session";
/// The cookie naming the wallet request this browser opened.
const ASK_COOKIE: &str = "rail_ask";
/// Where the railway's OpenID4VP verifier answers, under its origin.
pub const VERIFIER_PATH: &str = "/vp";
/// The claims the railway asks for: the name (real-name rule); its pseudonym comes along.
const ASKED: [&str; 1] = ["name"];

/// The railway's shared state.
pub struct Rail {
    db: Db,
    sealer: Arc<Sealer>,
    verifier: Arc<Verifier>,
    /// The gates' check (with the authority's keys and whole status list).
    gates: Gates,
    /// Its origin: its client id.
    origin: String,
    /// The authority's wallet link for the railway's attestation: the phone
    /// opens it to draw the boarding code (a QR bound to the railway's gates).
    boarding_link: String,
    /// That link as a QR code (a PNG), drawn once.
    boarding_png: Option<axum::body::Bytes>,
    secure: bool,
}

impl Rail {
    /// The railway at `origin`, asking wallets through `verifier`, checking
    /// gate QRs with `cache` (and upgraded cards' faces with `face`);
    /// passengers draw their boarding code from `authority`'s wallet with the
    /// railway's `attestation`.
    pub fn new(
        db: Db,
        sealer: Arc<Sealer>,
        (verifier, cache, face): (Arc<Verifier>, Arc<RwLock<VerifierCache>>, Option<Arc<shenfen_face::FaceEngine>>),
        (origin, authority, attestation): (&str, &str, &str),
    ) -> Rail {
        let origin = origin.trim_end_matches('/').to_owned();
        let gates = Gates::new(db.clone(), cache, &origin, face);
        let boarding_link = format!("{}/wallet/?service={}", authority.trim_end_matches('/'), attestation.trim());
        let boarding_png = crate::web::qr_png(&boarding_link);
        Rail {
            db,
            sealer,
            verifier,
            gates,
            secure: origin.starts_with("https://"),
            origin,
            boarding_link,
            boarding_png,
        }
    }
}

/// Refreshes the railway's trust cache — its verifier's and its gates' —
/// every five minutes, and seeds the timetable's new day; a failed refresh
/// keeps the old cache (answers and QRs are refused once it is older than an
/// hour: fail closed), and so does a fetched one older than it (lists
/// replayed from before the ones held).
pub(crate) async fn keep_fresh(verifier: Arc<Verifier>, cache: Arc<RwLock<VerifierCache>>, authority: String, db: Db) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(300)).await;
        if let Err(e) = seed(&db, crate::now()).await {
            tracing::warn!(code = e.code(), error = %e, "the railway's timetable could not be seeded");
        }
        let Some(fresh) = crate::fetch_trust(&authority, "railway").await else { continue };
        let mut held = cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if fresh.synced_at < held.synced_at {
            tracing::warn!("the authority served lists older than the railway holds; kept its own");
            continue;
        }
        verifier.refresh(fresh.clone());
        *held = fresh;
    }
}

/// The seeded timetable's dates: today and the next two days, in China.
pub(crate) fn timetable_dates(now: i64) -> Vec<String> {
    (0..3).map(|day| date_of(now + day * 86_400)).collect()
}

/// `YYYY-MM-DD` of a Unix time in China: the timetable's and the gate's day.
fn date_of(unix: i64) -> String {
    crate::china_date(unix).format("%Y-%m-%d").to_string()
}

/// Seeds the timetable for today and the next two days.
pub async fn seed(db: &Db, now: i64) -> Result<(), crate::ServicesError> {
    store::seed_timetable(db, &timetable_dates(now)).await
}

/// The railway's routes (and its verifier's under [`VERIFIER_PATH`]), framed.
pub fn router(rail: Rail, authority_origin: &str) -> Router {
    let frame = Arc::new(PageFrame::new(NAME, authority_origin));
    let verifier = shenfen_verifier::router(rail.verifier.clone());
    let rail = Arc::new(rail);
    // The gate devices' calls: the device is checked before a body is read.
    let gates = Router::new()
        .route("/gate/scan", post(gate::scan))
        .route("/gate/frame", post(gate::frame))
        .layer(DefaultBodyLimit::max(crate::camera::FRAME_BODY_LIMIT))
        .route_layer(axum::middleware::from_fn_with_state(Arc::clone(&rail), gate::registered));
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/answered", get(answered))
        .route("/logout", post(logout))
        .route("/tickets", post(buy))
        .route("/tickets/{id}/transfer", post(offer))
        .route("/accept/{token}", get(offered))
        .route("/transfers/{token}", get(offered))
        .route("/boarding-code.png", get(boarding_code))
        .route("/gate/", get(gate_page::gate))
        .route("/gate/gate.js", get(gate_page::script))
        .merge(gates)
        .merge(crate::common_routes())
        .fallback(|| async { Refusal::new(ProblemType::NotFound, "no such page") })
        .with_state(rail)
        .layer(axum::middleware::from_fn_with_state(frame, crate::web::frame))
        .nest_service(VERIFIER_PATH, verifier)
}

type Shared = State<Arc<Rail>>;

async fn passenger(rail: &Rail, headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    Ok(session_subject(&rail.db, SERVICE, headers, SESSION_COOKIE, crate::now()).await?)
}

/// A form from the railway's own pages by a signed-in passenger.
async fn posting_passenger(rail: &Rail, headers: &HeaderMap) -> Result<String, Refusal> {
    if headers.get(header::ORIGIN).is_some_and(|o| o.as_bytes() != rail.origin.as_bytes()) {
        return Err(Refusal::new(ProblemType::CrossOrigin, "the form was posted from another origin"));
    }
    passenger(rail, headers).await?.ok_or_else(|| Refusal::new(ProblemType::NotSignedIn, "sign in first"))
}

/// A page for a browser, the same facts as JSON for a script.
fn answer(lang: Lang, headers: &HeaderMap, title: &str, body: maud::Markup, data: Value) -> Response {
    if wants_html(headers) {
        page(lang, lang.pick(NAME.0, NAME.1), title, "/", &pages::nav(lang), body).into_response()
    } else {
        axum::Json(data).into_response()
    }
}

async fn home(State(rail): Shared, lang: Lang, headers: HeaderMap) -> Result<Response, Refusal> {
    let Some(me) = passenger(&rail, &headers).await? else {
        let title = lang.pick("实名制购票", "Real-name rail tickets");
        let body = pages::home(lang);
        return Ok(answer(lang, &headers, title, body, json!({ "signed_in": false, "login": "/login" })));
    };
    let tickets = store::tickets_of(&rail.db, &me).await?;
    let now = crate::now();
    let trains = store::trains(&rail.db, &date_of(now), now).await?;
    let data = json!({
        "signed_in": true,
        "boarding_link": rail.boarding_link,
        "tickets": tickets.iter().map(|t| json!({ "id": t.id, "train": t.train, "status": t.status, "held": t.held })).collect::<Vec<_>>(),
        "trains": trains.iter().map(|t| json!({ "id": t.id, "number": t.number, "date": t.date, "seats_left": t.seats_left })).collect::<Vec<_>>(),
    });
    let body = pages::tickets(lang, &rail.boarding_link, &tickets, &trains);
    Ok(answer(lang, &headers, lang.pick("我的车票", "My tickets"), body, data))
}

/// Opens a request to the passenger's wallet for `intent` (on `target`),
/// remembered for the browser by a cookie.
async fn ask_wallet(
    rail: &Rail,
    lang: Lang,
    headers: &HeaderMap,
    intent: &str,
    target: Option<&str>,
) -> Result<Response, Refusal> {
    let purpose = "实名制车票 real-name rail ticket".to_owned();
    let opened = rail.verifier.open_request(ASKED.iter().map(|c| (*c).to_owned()).collect(), purpose).map_err(
        |(kind, detail)| {
            tracing::warn!(problem = kind.code(), %detail, "the railway's verifier could not open a request");
            Refusal::new(ProblemType::Busy, "the railway cannot ask wallets right now; try again shortly")
        },
    )?;
    let (Some(id), Some(link), Some(expires_at)) =
        (opened["request_id"].as_str(), opened["authorization_request"].as_str(), opened["expires_at"].as_i64())
    else {
        return Err(Refusal::new(ProblemType::Internal, "the verifier's request has no id"));
    };
    // The page shows the request's id to the wallet (in the QR code): what
    // lets this browser read the answer is a secret of its own.
    let secret = random_token()?;
    store::remember_ask(&rail.db, &secret, id, intent, target, expires_at).await?;
    let body = pages::ask(lang, link);
    let data = json!({ "authorization_request": link, "expires_at": expires_at, "then": "/answered" });
    let mut response = answer(lang, headers, lang.pick("在钱包中出示", "Share from your wallet"), body, data);
    let max_age = expires_at - crate::now();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(ASK_COOKIE, &secret, "/", max_age, rail.secure));
    Ok(response)
}

async fn login(State(rail): Shared, lang: Lang, headers: HeaderMap) -> Result<Response, Refusal> {
    ask_wallet(&rail, lang, &headers, "sign_in", None).await
}

/// An offer's link — a co-traveller's acceptance (`/accept/…`, from the
/// buyer) or a transfer (`/transfers/…`, from the holder): if the offer is
/// open, the railway asks the wallet of whoever opened it.
async fn offered(
    State(rail): Shared,
    lang: Lang,
    headers: HeaderMap,
    route: MatchedPath,
    Path(token): Path<String>,
) -> Result<Response, Refusal> {
    let intent = if route.as_str().starts_with("/accept/") { "accept" } else { "transfer" };
    if token.len() != 43 || !store::offer_open(&rail.db, intent, &token, crate::now()).await? {
        return Err(offer_closed());
    }
    ask_wallet(&rail, lang, &headers, intent, Some(&store::offer_digest(&token))).await
}

/// The wallet's verified answer, read once in the browser that asked: a
/// session keyed by the pseudonym, and the ticket accepted or taken over.
async fn answered(State(rail): Shared, lang: Lang, headers: HeaderMap) -> Result<Response, Refusal> {
    let secret = cookie(&headers, ASK_COOKIE)
        .filter(|secret| secret.len() <= 64)
        .ok_or_else(|| Refusal::new(ProblemType::SignInNotStarted, "this browser did not ask a wallet"))?;
    let now = crate::now();
    let (id, intent, target) = store::ask_of(&rail.db, &secret, now)
        .await?
        .ok_or_else(|| Refusal::new(ProblemType::SignInUnknown, "the request is unknown, expired or used already"))?;
    let outcome = rail
        .verifier
        .take_outcome(&id)
        .ok_or_else(|| Refusal::new(ProblemType::SignInUnknown, "the request is unknown, expired or used already"))?;
    match outcome["status"].as_str() {
        Some("verified") => {}
        Some("pending") => {
            let body = pages::waiting(lang);
            let data = json!({ "status": "pending" });
            return Ok(answer(lang, &headers, lang.pick("等待钱包", "Waiting for the wallet"), body, data));
        }
        _ => {
            store::forget_ask(&rail.db, &secret).await?;
            return Err(Refusal::new(ProblemType::SignInFailed, "the wallet's answer did not verify"));
        }
    }
    store::forget_ask(&rail.db, &secret).await?;
    let result = &outcome["result"];
    let pseudonym = result["pseudonym"]
        .as_str()
        .ok_or_else(|| Refusal::new(ProblemType::NoPseudonym, "the card carries no pseudonym for this railway"))?;
    let name = result["claims"]["name"].as_str().unwrap_or_default();
    let taken = match (intent.as_str(), target.as_deref()) {
        ("accept", Some(digest)) => {
            Some(store::accept_ticket(&rail.db, &rail.sealer, digest, pseudonym, name, now).await?)
        }
        ("transfer", Some(digest)) => Some(store::accept_transfer(&rail.db, digest, pseudonym, now).await?),
        _ => None,
    };
    let ticket = match taken {
        None => None,
        Some(Accepted::Bound(id)) => Some(id),
        Some(Accepted::OtherName) => {
            return Err(Refusal::new(ProblemType::WrongPerson, "the ticket names another passenger"));
        }
        Some(Accepted::Closed) => return Err(offer_closed()),
        Some(Accepted::Held) => return Err(ticket_held()),
    };
    if let Some(ticket) = &ticket {
        tracing::info!(ticket = %ticket, intent = %intent, "a ticket was bound to its passenger");
    }
    let token = open_session(&rail.db, SERVICE, pseudonym, now).await?;
    let mut response = if wants_html(&headers) {
        see_other("/")
    } else {
        axum::Json(json!({ "signed_in": true, "ticket": ticket })).into_response()
    };
    let cookies = [
        set_cookie(SESSION_COOKIE, &token, "/", crate::session::SESSION_FOR, rail.secure),
        set_cookie(ASK_COOKIE, "", "/", 0, rail.secure),
    ];
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn ticket_held() -> Refusal {
    Refusal::new(ProblemType::TicketHeld, "the passenger holds a ticket on this train already")
}

fn offer_closed() -> Refusal {
    Refusal::new(ProblemType::OfferClosed, "the link is unknown, expired or used already")
}

async fn logout(State(rail): Shared, headers: HeaderMap) -> Result<Response, Refusal> {
    end_session(&rail.db, &headers, SESSION_COOKIE).await?;
    let mut response = see_other("/");
    response.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", "/", 0, rail.secure));
    Ok(response)
}

#[derive(Deserialize)]
struct BuyForm {
    train: String,
    #[serde(default)]
    companion: String,
}

/// Buys a ticket for the passenger, or for a co-traveller named by name only.
async fn buy(
    State(rail): Shared,
    lang: Lang,
    headers: HeaderMap,
    FormBody(form): FormBody<BuyForm>,
) -> Result<Response, Refusal> {
    let me = posting_passenger(&rail, &headers).await?;
    let companion = form.companion.trim();
    if companion.chars().count() > 64 || form.train.len() > 64 {
        return Err(Refusal::new(ProblemType::BadRequest, "a train id and a name have at most 64 characters"));
    }
    let named = (!companion.is_empty()).then_some(companion);
    match store::sell(&rail.db, &rail.sealer, &form.train, &me, named, crate::now()).await? {
        Bought::SoldOut => Err(Refusal::new(ProblemType::SoldOut, "no seat is left on this train")),
        Bought::Held => Err(ticket_held()),
        Bought::Ticket(id) => {
            tracing::info!(ticket = %id, "a ticket was bought");
            Ok(if wants_html(&headers) {
                see_other("/")
            } else {
                (StatusCode::CREATED, axum::Json(json!({ "ticket": id, "status": "valid" }))).into_response()
            })
        }
        Bought::Pending(id, token) => {
            let url = format!("{}/accept/{token}", rail.origin);
            let text = (
                "已为同行人购票。请把此链接交给同行人，由其用自己的身份证钱包确认：",
                "Bought for your co-traveller. Hand them this link to accept with their own ID wallet:",
            );
            let data = json!({ "ticket": id, "status": "pending", "accept": url });
            let mut response = answer(
                lang,
                &headers,
                lang.pick("等待同行人确认", "Waiting for the co-traveller"),
                pages::link(lang, text, &url),
                data,
            );
            *response.status_mut() = StatusCode::CREATED;
            Ok(response)
        }
    }
}

/// `GET /boarding-code.png`: the wallet link for the boarding code as a QR
/// code, for a phone to open (public: the attestation is).
async fn boarding_code(State(rail): Shared) -> Response {
    crate::web::png(rail.boarding_png.as_ref())
}

/// Offers the holder's unused ticket for transfer: a single-use link, valid a day.
async fn offer(
    State(rail): Shared,
    lang: Lang,
    headers: HeaderMap,
    Path(ticket): Path<String>,
) -> Result<Response, Refusal> {
    let me = posting_passenger(&rail, &headers).await?;
    let token = store::offer_transfer(&rail.db, &ticket, &me, crate::now())
        .await?
        .ok_or_else(|| Refusal::new(ProblemType::NoTicket, "you hold no unused ticket of this number"))?;
    let url = format!("{}/transfers/{token}", rail.origin);
    let text = (
        "转让链接（一次有效，24 小时内）：请交给接收人，由其用自己的身份证钱包确认。确认后此票归接收人，你的车票作废。",
        "Transfer link (once, within 24 hours): hand it to the recipient, who accepts with their own ID wallet. Then the ticket is theirs and no longer yours.",
    );
    let data = json!({ "ticket": ticket, "transfer": url });
    Ok(answer(lang, &headers, lang.pick("转让车票", "Transfer a ticket"), pages::link(lang, text, &url), data))
}
