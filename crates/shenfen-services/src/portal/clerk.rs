//! The registration clerks' view (`/clerk/`): a password sign-in (argon2id,
//! wrong passwords counted per name before the check and limited), then the
//! filings with the legal representative and the evidence — each view recorded.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{CLERK_COOKIE, NAME, Shared, pages, same_origin, store};
use crate::error::{ProblemType, Refusal};
use crate::staff::{self, PORTAL_CLERKS, SignIn};
use crate::web::{FormBody, Lang, cookie, page, see_other, set_cookie, staff_login, staff_refusal, wants_html};

/// The clerk of this browser's session, if any.
async fn clerk_of(portal: &super::Portal, headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let Some(token) = cookie(headers, CLERK_COOKIE).filter(|t| t.len() == 43) else { return Ok(None) };
    Ok(PORTAL_CLERKS.of_session(&portal.db, &token, portal.now()).await?)
}

fn clerk_page(lang: Lang, body: maud::Markup) -> Response {
    let title = lang.pick("登记机关工作人员", "Registration clerks");
    page(lang, lang.pick(NAME.0, NAME.1), title, "/clerk/", &[], body).into_response()
}

/// The filings for a signed-in clerk; the sign-in form for anyone else (401
/// for API callers, who get no page).
pub(super) async fn home(State(portal): Shared, lang: Lang, headers: HeaderMap) -> Result<Response, Refusal> {
    let Some(clerk) = clerk_of(&portal, &headers).await? else {
        if !wants_html(&headers) {
            return Err(Refusal::new(ProblemType::ClerkUnauthenticated, "sign in as a clerk"));
        }
        let mut response = clerk_page(lang, staff_login(lang, "/clerk/login", None));
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(response);
    };
    let records = store::filings_for_clerk(&portal.db, &portal.sealer, &clerk, portal.now()).await?;
    tracing::info!(%clerk, filings = records.len(), "a clerk viewed the filings");
    let mut checked = Vec::with_capacity(records.len());
    for record in records {
        let check = portal.authority.recheck(&portal.client, &record.identity.id_token, record.summary.filed_at).await;
        checked.push((record, check));
    }
    Ok(clerk_page(lang, pages::clerk_filings(lang, &clerk, &checked)))
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// A clerk's sign-in ([`staff::Staff::sign_in`]: attempts limited per name before the argon2id check).
pub(super) async fn login(
    State(portal): Shared,
    lang: Lang,
    headers: HeaderMap,
    FormBody(form): FormBody<LoginForm>,
) -> Result<Response, Refusal> {
    same_origin(&portal, &headers)?;
    let refused = |kind: ProblemType, detail: &str| {
        if wants_html(&headers) {
            let message = staff_refusal(lang, kind == ProblemType::RateLimited);
            let mut response = clerk_page(lang, staff_login(lang, "/clerk/login", Some(message)));
            *response.status_mut() = kind.status();
            Ok(response)
        } else {
            Err(Refusal::new(kind, detail))
        }
    };
    let token = match PORTAL_CLERKS.sign_in(&portal.db, &form.username, &form.password, portal.now()).await? {
        SignIn::Session(token) => token,
        SignIn::Wrong => return refused(ProblemType::ClerkUnauthenticated, "wrong username or password"),
        SignIn::TooMany => {
            return refused(ProblemType::RateLimited, "too many sign-in attempts for this clerk; wait 15 minutes");
        }
        SignIn::Busy => {
            return Err(Refusal::new(ProblemType::Busy, "too many sign-ins at once; try again in a second"));
        }
    };
    let mut response = see_other("/clerk/");
    let cookie = set_cookie(CLERK_COOKIE, &token, "/clerk", staff::SESSION_FOR, portal.secure);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

pub(super) async fn logout(State(portal): Shared, headers: HeaderMap) -> Result<Response, Refusal> {
    same_origin(&portal, &headers)?;
    if let Some(token) = cookie(&headers, CLERK_COOKIE) {
        PORTAL_CLERKS.end_session(&portal.db, &token).await?;
    }
    let mut response = see_other("/clerk/");
    response.headers_mut().append(header::SET_COOKIE, set_cookie(CLERK_COOKIE, "", "/clerk", 0, portal.secure));
    Ok(response)
}
