//! The government portal (政务服务): citizens sign in at L1 with the
//! portal's pairwise `sub`, see their filings in their space, and register
//! a business (企业登记) — the draft is kept, then the citizen confirms at
//! L3 (PIN and live face, the upgraded edition) disclosing their name and
//! ID number with explicit consent, and the filing is stored with the
//! evidence of that sign-in. Registration clerks see the filings with the
//! legal representative and the evidence; each of their views is recorded.

mod clerk;
mod filing;
mod pages;
mod store;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

pub(crate) use store::DRAFT_FOR;

use self::filing::{Evidence, FILING_CLAIMS, FilingForm, NotFiled};
use crate::authority::{Ask, Authority, ServiceClient, SignedIn};
use crate::db::Db;
use crate::error::{ProblemType, Refusal};
use crate::sealed::Sealer;
use crate::session::{
    MAX_PENDING, PendingFor, end_session, open_session, remember_sign_in, session_subject, sign_ins_in_progress,
    take_sign_in,
};
use crate::web::{FormBody, Lang, PageFrame, cookie, page, see_other, set_cookie, wants_html};

/// The service's name in its tables.
const SERVICE: &str = "portal";
/// The portal's name in Chinese and English.
pub(crate) const NAME: (&str, &str) = ("政务服务", "Government services");
/// The citizen's session cookie.
const SESSION_COOKIE: &str = "portal_session";
/// The cookie that ties a sign-in's state to the browser that started it.
const STATE_COOKIE: &str = "portal_sign_in";
/// The clerk's session cookie.
const CLERK_COOKIE: &str = "portal_clerk";

/// The portal's shared state.
pub struct Portal {
    db: Db,
    authority: Arc<Authority>,
    client: ServiceClient,
    sealer: Arc<Sealer>,
    /// Its origin (its client id), for the same-origin check of forms.
    origin: String,
    /// Whether cookies get `Secure`.
    secure: bool,
}

impl Portal {
    /// The portal at `origin` (`http://host:port` or `https://…`), as client of `authority` with `key`.
    pub fn new(
        db: Db,
        authority: Arc<Authority>,
        origin: &str,
        key: shenfen_credential::PrivateJwk,
        sealer: Arc<Sealer>,
    ) -> Portal {
        let origin = origin.trim_end_matches('/').to_owned();
        let client = ServiceClient { client_id: origin.clone(), redirect_uri: format!("{origin}/callback"), key };
        let secure = origin.starts_with("https://");
        Portal { db, authority, client, sealer, secure, origin }
    }

    fn now(&self) -> i64 {
        crate::now()
    }
}

/// The portal's routes, framed (security headers, refusal pages).
pub fn router(portal: Portal) -> Router {
    let frame = Arc::new(PageFrame::new(NAME, &origin_of(portal.authority.issuer())));
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", post(logout))
        .route("/space", get(space))
        .route("/filings/new", get(new_filing))
        .route("/filings", post(submit_filing))
        .route("/drafts/{id}/file", post(file_draft))
        .route("/clerk/", get(clerk::home))
        .route("/clerk/login", post(clerk::login))
        .route("/clerk/logout", post(clerk::logout))
        .merge(crate::common_routes())
        .fallback(|| async { Refusal::new(ProblemType::NotFound, "no such page") })
        .with_state(Arc::new(portal))
        .layer(axum::middleware::from_fn_with_state(frame, crate::web::frame))
}

/// `scheme://host[:port]` of a URL.
pub(crate) fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    format!("{scheme}://{}", rest.split('/').next().unwrap_or_default())
}

type Shared = State<Arc<Portal>>;

/// The signed-in citizen's `sub`, if any.
async fn signed_in(portal: &Portal, headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    Ok(session_subject(&portal.db, SERVICE, headers, SESSION_COOKIE, portal.now()).await?)
}

/// A form must come from the portal's own pages.
fn same_origin(portal: &Portal, headers: &HeaderMap) -> Result<(), Refusal> {
    crate::web::same_origin(&portal.origin, headers)
}

/// The citizen posting a form from the portal's own pages: the origin first,
/// then the session; anonymous posts are refused (a page would redirect).
async fn posting_citizen(portal: &Portal, headers: &HeaderMap) -> Result<String, Refusal> {
    same_origin(portal, headers)?;
    signed_in(portal, headers)
        .await?
        .ok_or_else(|| Refusal::new(ProblemType::NotSignedIn, "sign in before registering a business"))
}

fn html_page(lang: Lang, title: &str, here: &str, body: maud::Markup) -> Response {
    page(lang, lang.pick(NAME.0, NAME.1), title, here, &pages::citizen_nav(lang), body).into_response()
}

async fn home(State(portal): Shared, lang: Lang, headers: HeaderMap) -> Result<Response, Refusal> {
    if signed_in(&portal, &headers).await?.is_some() {
        return Ok(see_other("/space"));
    }
    let title = lang.pick("用身份证在网上办事", "Public services online with your ID card");
    Ok(page(lang, lang.pick(NAME.0, NAME.1), title, "/", &[], pages::home(lang)).into_response())
}

/// Sends the browser to the authority with a new sign-in of `ask`,
/// remembered (bounded in number) and tied to this browser by a cookie.
async fn begin_sign_in(portal: &Portal, ask: &Ask<'_>, draft_id: Option<&str>) -> Result<Response, Refusal> {
    let busy = || Refusal::new(ProblemType::Busy, "too many sign-ins are in progress; try again shortly");
    if sign_ins_in_progress(&portal.db, portal.now()).await? >= MAX_PENDING {
        return Err(busy());
    }
    let started = portal.authority.start(&portal.client, ask).await.map_err(|e| {
        tracing::warn!(error = %e, "the authority is unreachable");
        Refusal::new(ProblemType::SignInFailed, "the authority could not be reached")
    })?;
    let pending = PendingFor { level: ask.level, expected_subject: ask.subject, draft_id };
    if !remember_sign_in(&portal.db, SERVICE, &started, &pending, portal.now(), MAX_PENDING).await? {
        return Err(busy());
    }
    let mut response = see_other(&started.url);
    let cookie = set_cookie(STATE_COOKIE, &started.state, "/callback", crate::session::SIGN_IN_FOR, portal.secure);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Starts an L1 sign-in: the pairwise `sub` and nothing else.
async fn login(State(portal): Shared) -> Result<Response, Refusal> {
    begin_sign_in(&portal, &Ask { level: 0, essential: false, subject: None, claims: &[] }, None).await
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// The authority's answer, in the browser that started the sign-in: a
/// session for an L1 sign-in, a filing for an L3 one. The state cookie is
/// cleared whatever the outcome.
async fn callback(State(portal): Shared, headers: HeaderMap, Query(query): Query<CallbackQuery>) -> Response {
    let outcome = answer(&portal, &headers, query).await;
    let mut response = outcome.unwrap_or_else(IntoResponse::into_response);
    let cleared = set_cookie(STATE_COOKIE, "", "/callback", 0, portal.secure);
    response.headers_mut().append(header::SET_COOKIE, cleared);
    response
}

async fn answer(portal: &Portal, headers: &HeaderMap, query: CallbackQuery) -> Result<Response, Refusal> {
    // Cheap checks first: this browser's cookie before any database or network.
    let state = query.state.filter(|s| s.len() <= 64).unwrap_or_default();
    if state.is_empty() || cookie(headers, STATE_COOKIE).as_deref() != Some(state.as_str()) {
        return Err(Refusal::new(ProblemType::SignInNotStarted, "this browser did not start this sign-in"));
    }
    let pending = take_sign_in(&portal.db, SERVICE, &state, portal.now())
        .await?
        .ok_or_else(|| Refusal::new(ProblemType::SignInUnknown, "the sign-in is unknown, expired or used already"))?;
    // RFC 9207: the answer names the authority that gave it.
    if query.iss.as_deref() != Some(portal.authority.issuer()) {
        return Err(Refusal::new(ProblemType::SignInFailed, "the answer does not come from the expected authority"));
    }
    if let Some(error) = query.error {
        return Err(match error.as_str() {
            "unmet_authentication_requirements" => {
                Refusal::new(ProblemType::LevelNotMet, "the citizen's card does not reach the level asked")
            }
            "access_denied" => Refusal::new(ProblemType::SignInDeclined, "the citizen declined in the wallet"),
            _ => Refusal::new(ProblemType::SignInFailed, "the authority answered with an error"),
        });
    }
    let code = query.code.ok_or_else(|| Refusal::new(ProblemType::SignInFailed, "the answer has no code"))?;
    let signed = portal
        .authority
        .redeem(&portal.client, code, pending.pkce_verifier, pending.nonce, pending.level)
        .await
        .map_err(|reason| {
            tracing::warn!(%reason, "a sign-in did not validate");
            Refusal::new(ProblemType::SignInFailed, "the authority's answer did not validate")
        })?;
    match pending.draft_id {
        None => start_session(portal, &signed).await,
        Some(draft_id) => file(portal, headers, pending.expected_subject.as_deref(), &draft_id, &signed).await,
    }
}

async fn start_session(portal: &Portal, signed: &SignedIn) -> Result<Response, Refusal> {
    let token = open_session(&portal.db, SERVICE, &signed.subject, portal.now()).await?;
    let mut response = see_other("/space");
    let cookie = set_cookie(SESSION_COOKIE, &token, "/", crate::session::SESSION_FOR, portal.secure);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Files the draft: the answer must be the signed-in citizen's (the `sub`
/// asked, the session's), at L3 with the PIN and a live face, with the name
/// and the ID number; the filing and its evidence are written in one transaction.
async fn file(
    portal: &Portal,
    headers: &HeaderMap,
    expected: Option<&str>,
    draft_id: &str,
    signed: &SignedIn,
) -> Result<Response, Refusal> {
    let session = signed_in(portal, headers)
        .await?
        .ok_or_else(|| Refusal::new(ProblemType::NotSignedIn, "the session ended during the sign-in"))?;
    same_person(expected, &session, &signed.subject)?;
    let (evidence, identity) = Evidence::of(signed).map_err(|not_filed| match not_filed {
        NotFiled::LevelNotMet => {
            Refusal::new(ProblemType::LevelNotMet, "a filing needs L3 with the PIN and a live face")
        }
        NotFiled::Incomplete => {
            Refusal::new(ProblemType::SignInFailed, "the authority did not disclose the legal identity")
        }
    })?;
    let filed =
        store::file_draft(&portal.db, &portal.sealer, &session, draft_id, &evidence, &identity, portal.now()).await?;
    let reference = filed.ok_or_else(|| Refusal::new(ProblemType::NotFound, "the draft was filed already"))?;
    tracing::info!(filing = %reference, acr = %evidence.acr, "business registration filed");
    Ok(see_other(&format!("/space?filed={reference}")))
}

/// The answer must be the signed-in citizen's: the `sub` the sign-in asked
/// for, the session's now, and the id_token's are one (the authority checks
/// the first already; this is defence in depth, and covers a session that
/// changed hands during the sign-in).
fn same_person(expected: Option<&str>, session: &str, answered: &str) -> Result<(), Refusal> {
    if expected == Some(session) && answered == session {
        return Ok(());
    }
    tracing::warn!("an L3 answer for another person than the signed-in one was refused");
    Err(Refusal::new(ProblemType::WrongPerson, "the answer is for another person than the signed-in one"))
}

async fn logout(State(portal): Shared, headers: HeaderMap) -> Result<Response, Refusal> {
    same_origin(&portal, &headers)?;
    end_session(&portal.db, &headers, SESSION_COOKIE).await?;
    let mut response = see_other("/");
    response.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", "/", 0, portal.secure));
    Ok(response)
}

#[derive(Deserialize)]
struct SpaceQuery {
    filed: Option<String>,
}

/// The citizen's space; anonymous → the sign-in.
async fn space(
    State(portal): Shared,
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<SpaceQuery>,
) -> Result<Response, Refusal> {
    let Some(subject) = signed_in(&portal, &headers).await? else { return Ok(see_other("/login")) };
    let (drafts, filings) = store::space_of(&portal.db, &subject).await?;
    // Only a reference of one's own filings is announced.
    let filed = query.filed.filter(|r| filings.iter().any(|f| &f.id == r));
    let body = pages::space(lang, &drafts, &filings, filed.as_deref());
    Ok(html_page(lang, lang.pick("我的办事", "My space"), "/space", body))
}

async fn new_filing(State(portal): Shared, lang: Lang, headers: HeaderMap) -> Result<Response, Refusal> {
    if signed_in(&portal, &headers).await?.is_none() {
        return Ok(see_other("/login"));
    }
    let body = pages::filing_form(lang, &FilingForm::default(), &[], false);
    Ok(html_page(lang, lang.pick("企业登记", "Register a business"), "/filings/new", body))
}

/// The form re-shown with its errors (422) to a browser; problem+json to others.
fn refused_form(
    lang: Lang,
    headers: &HeaderMap,
    form: &FilingForm,
    refusal: Refusal,
    errors: &[filing::FieldError],
) -> Response {
    if !wants_html(headers) {
        return refusal.into_response();
    }
    let consent_missing = refusal.kind == ProblemType::ConsentRequired || !form.consented();
    let body = pages::filing_form(lang, form, errors, consent_missing);
    let mut response = html_page(lang, lang.pick("企业登记", "Register a business"), "/filings/new", body);
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    response
}

/// A posted registration: checked, kept as a draft, then confirmed at L3.
async fn submit_filing(
    State(portal): Shared,
    lang: Lang,
    headers: HeaderMap,
    FormBody(form): FormBody<FilingForm>,
) -> Result<Response, Refusal> {
    let subject = posting_citizen(&portal, &headers).await?;
    let company = match form.company() {
        Ok(company) => company,
        Err(errors) => {
            let listed: Vec<_> = errors.iter().map(|e| json!({ "field": e.field, "detail": e.en })).collect();
            let refusal = Refusal::new(ProblemType::InvalidFiling, "some fields are missing or malformed")
                .with(json!({ "errors": listed }));
            return Ok(refused_form(lang, &headers, &form, refusal, &errors));
        }
    };
    if !form.consented() {
        let refusal =
            Refusal::new(ProblemType::ConsentRequired, "the consent to disclose the name and ID number is missing");
        return Ok(refused_form(lang, &headers, &form, refusal, &[]));
    }
    let Some(draft) = store::save_draft(&portal.db, &subject, &company, portal.now()).await? else {
        let detail = format!("{} unfiled drafts are kept at most; file or wait for one to expire", store::MAX_DRAFTS);
        return Err(Refusal::new(ProblemType::RateLimited, &detail));
    };
    confirm_at_l3(&portal, &subject, &draft).await
}

/// Sends the citizen to confirm draft `draft` at L3: essential, for their own `sub`, with their legal identity.
async fn confirm_at_l3(portal: &Portal, subject: &str, draft: &str) -> Result<Response, Refusal> {
    let ask = Ask { level: 2, essential: true, subject: Some(subject), claims: &FILING_CLAIMS };
    begin_sign_in(portal, &ask, Some(draft)).await
}

/// A kept draft confirmed again (after an upgrade at a counter, or a decline).
async fn file_draft(State(portal): Shared, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, Refusal> {
    let subject = posting_citizen(&portal, &headers).await?;
    let draft = store::draft_of(&portal.db, &subject, &id)
        .await?
        .ok_or_else(|| Refusal::new(ProblemType::NotFound, "no such draft of yours"))?;
    confirm_at_l3(&portal, &subject, &draft.id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_signed_in_citizen_files() {
        assert!(same_person(Some("sub-a"), "sub-a", "sub-a").is_ok());
        let refused = |e: Option<&str>, s: &str, a: &str| same_person(e, s, a).err().map(|r| r.kind);
        assert_eq!(refused(Some("sub-a"), "sub-a", "sub-b"), Some(ProblemType::WrongPerson), "another card answered");
        assert_eq!(refused(Some("sub-a"), "sub-b", "sub-b"), Some(ProblemType::WrongPerson), "the session changed");
        assert_eq!(refused(None, "sub-a", "sub-a"), Some(ProblemType::WrongPerson), "a sign-in that asked nobody");
    }

    #[test]
    fn an_origin_is_scheme_host_and_port() {
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(origin_of("https://id.example/realm/x"), "https://id.example");
    }
}
