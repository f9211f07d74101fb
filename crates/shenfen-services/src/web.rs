//! What every service's pages share: the reader's language (Chinese by
//! default, English by a cookie, as web/'s pages), the page frame rendered
//! with `maud` (every value escaped), the strict Content-Security-Policy,
//! cookies, body-limited form reading, and refusals shown to browsers as
//! pages while API callers get problem+json.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde::de::DeserializeOwned;

use crate::error::{ProblemType, Refusal};

/// The largest form body any page posts.
pub(crate) const FORM_LIMIT: usize = 16 * 1024;

/// The cookie that keeps the reader's language (shared by the services on one host).
const LANG_COOKIE: &str = "shenfen_lang";

/// The reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    /// 中文, the default.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The text in this language.
    pub(crate) fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The `lang` attribute of the page.
    fn tag(self) -> &'static str {
        self.pick("zh-CN", "en")
    }

    /// The language of the request's cookie; Chinese without one.
    fn of(headers: &HeaderMap) -> Lang {
        if cookie(headers, LANG_COOKIE).as_deref() == Some("en") { Lang::En } else { Lang::Zh }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Self::Rejection> {
        Ok(Lang::of(&parts.headers))
    }
}

/// The value of cookie `name` in the request.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then(|| value.to_owned()))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, on `path`, for `max_age`
/// seconds (0 clears it), `Secure` when the service is served over https.
pub(crate) fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let line = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&line).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// A form body of at most [`FORM_LIMIT`] bytes, parsed into `T`; anything
/// else is a typed refusal, never a panic.
pub(crate) struct FormBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for FormBody<T> {
    type Rejection = Refusal;

    async fn from_request(request: Request, _: &S) -> Result<FormBody<T>, Refusal> {
        let body = axum::body::to_bytes(request.into_body(), FORM_LIMIT)
            .await
            .map_err(|_| Refusal::new(ProblemType::PayloadTooLarge, format!("a form is at most {FORM_LIMIT} bytes")))?;
        serde_urlencoded::from_bytes(&body)
            .map(FormBody)
            .map_err(|e| Refusal::new(ProblemType::BadRequest, format!("the form does not read: {e}")))
    }
}

/// A JSON body within the route's body limit, parsed into `T`; anything else
/// is a typed refusal (problem+json), never axum's plain-text rejection.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &S) -> Result<JsonBody<T>, Refusal> {
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| Refusal::new(ProblemType::PayloadTooLarge, "the request body is over the limit"))?;
        serde_json::from_slice(&body)
            .map(JsonBody)
            .map_err(|e| Refusal::new(ProblemType::BadRequest, format!("the JSON body does not read: {e}")))
    }
}

/// A form must come from the service's own pages: a browser names the page's
/// origin in `Origin`, and another one is refused before anything is read.
pub(crate) fn same_origin(origin: &str, headers: &HeaderMap) -> Result<(), Refusal> {
    match headers.get(header::ORIGIN).map(|o| o.to_str().unwrap_or_default()) {
        Some(posted) if posted != origin => {
            Err(Refusal::new(ProblemType::CrossOrigin, "the form was posted from another origin"))
        }
        _ => Ok(()),
    }
}

/// Why a staff sign-in was refused, in words.
pub(crate) fn staff_refusal(lang: Lang, too_many: bool) -> &'static str {
    if too_many {
        lang.pick("尝试次数过多，请 15 分钟后再试。", "Too many attempts; wait 15 minutes.")
    } else {
        lang.pick("用户名或密码不正确。", "The username or password is wrong.")
    }
}

/// A staff sign-in form (clerks, officers) posting to `action`, with the refusal's words if any.
pub(crate) fn staff_login(lang: Lang, action: &str, refused: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = refused { p.error role="alert" { (message) } }
        form method="post" action=(action) {
            div.field { label for="username" { (lang.pick("用户名", "Username")) } input id="username" name="username" autocomplete="username" required; }
            div.field { label for="password" { (lang.pick("密码", "Password")) } input id="password" name="password" type="password" autocomplete="current-password" required; }
            button type="submit" { (lang.pick("登录", "Sign in")) }
        }
    }
}

/// A link in the page's navigation.
pub(crate) struct NavLink {
    pub(crate) href: &'static str,
    pub(crate) text: &'static str,
}

/// A whole page: the service's name as the banner, the navigation, the
/// language switch back to `here`, and `body` in the main landmark.
pub(crate) fn page(lang: Lang, service: &str, title: &str, here: &str, nav: &[NavLink], body: Markup) -> Html<String> {
    let other = match lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    let switch = format!("/lang?to={}&back={}", other.0, here);
    Html(
        html! {
            (DOCTYPE)
            html lang=(lang.tag()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (service) }
                    link rel="stylesheet" href="/assets/services.css";
                }
                body {
                    header {
                        p.service { (service) }
                        nav aria-label=(lang.pick("主导航", "Main")) {
                            @for link in nav { a href=(link.href) { (link.text) } }
                            a href=(switch) lang=(other.0) { (other.1) }
                        }
                    }
                    main { h1 { (title) } (body) }
                }
            }
        }
        .into_string(),
    )
}

/// A file of the pages' assets, with its type, cacheable for five minutes.
pub(crate) fn asset(content: impl IntoResponse, content_type: &'static str) -> Response {
    let mut response = content.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
    response
}

/// A script of the pages (a module; the CSP allows only this origin's scripts).
pub(crate) fn script(source: &'static str) -> Response {
    asset(source, "text/javascript; charset=utf-8")
}

/// The stylesheet of every service's pages.
pub(crate) async fn stylesheet() -> Response {
    asset(include_str!("../assets/services.css"), "text/css; charset=utf-8")
}

/// The script every device page (a desk, a gate) imports.
pub(crate) async fn device_script() -> Response {
    script(include_str!("../assets/device.js"))
}

/// `link` as a QR code, a PNG a page shows for a phone to open — drawn
/// once by its service, not per request; `None` if it does not fit a QR code.
pub(crate) fn qr_png(link: &str) -> Option<axum::body::Bytes> {
    let code = qrcode::QrCode::with_error_correction_level(link.as_bytes(), qrcode::EcLevel::L).ok()?;
    let picture = code.render::<image::Luma<u8>>().module_dimensions(4, 4).build();
    let mut png = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut png, image::ImageFormat::Png).ok()?;
    Some(png.into_inner().into())
}

/// A PNG drawn by [`qr_png`], or 404 when there is none.
pub(crate) fn png(picture: Option<&axum::body::Bytes>) -> Response {
    match picture {
        Some(png) => asset(png.clone(), "image/png"),
        None => Refusal::new(ProblemType::NotFound, "no such picture").into_response(),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct LangQuery {
    to: String,
    back: Option<String>,
}

/// Switches the language and goes back to the page (a path on this origin only).
pub(crate) async fn switch_language(axum::extract::Query(query): axum::extract::Query<LangQuery>) -> Response {
    let lang = if query.to == "en" { "en" } else { "zh" };
    let back = query.back.filter(|back| is_local_path(back));
    let mut response = see_other(back.as_deref().unwrap_or("/"));
    let line = format!("{LANG_COOKIE}={lang}; Path=/; SameSite=Lax; Max-Age=31536000");
    if let Ok(value) = HeaderValue::from_str(&line) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A path on this origin and nothing a browser could read as another
/// origin: `/` then only the characters of this site's own paths and
/// queries — no second `/` or `\\` at the start, and no tab or newline,
/// which browsers strip (`/\t/evil.example` is `//evil.example` to them).
fn is_local_path(back: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/_-.?=&%".contains(c);
    back.starts_with('/') && !back.starts_with("//") && back.len() <= 512 && back.chars().all(allowed)
}

/// 303 See Other to `location`.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Whether the request comes from a browser page (it accepts HTML).
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"))
}

/// Every refusal's words, one `li` per problem type (`data-type` its code),
/// for a device page's script to show without a copy of its own.
pub(crate) fn refusal_texts(lang: Lang) -> Markup {
    html! {
        @for kind in ProblemType::ALL {
            li data-type=(kind.code()) { (refusal_text(lang, kind).0) (lang.pick("：", ": ")) (refusal_text(lang, kind).1) }
        }
    }
}

/// A refusal's words for a reader: a title and the way forward.
pub(crate) fn refusal_text(lang: Lang, kind: ProblemType) -> (&'static str, &'static str) {
    let (zh, en) = match kind {
        ProblemType::NotSignedIn => {
            (("请先登录", "请用身份证登录后再继续。"), ("Please sign in", "Sign in with shenfen, then go on."))
        }
        ProblemType::SignInNotStarted => (
            ("登录未在此浏览器发起", "请在这个浏览器中重新登录。"),
            ("This browser did not start this sign-in", "Start the sign-in again in this browser."),
        ),
        ProblemType::SignInUnknown => (
            ("登录已过期或已使用", "请重新登录。"),
            ("The sign-in expired or was used already", "Start the sign-in again."),
        ),
        ProblemType::SignInFailed => (
            ("登录未能完成", "身份认证机构的答复无法核验，请稍后重试。"),
            ("The sign-in could not be completed", "The authority's answer did not verify; try again later."),
        ),
        ProblemType::WrongPerson => (
            ("这不是已登录的本人", "请由已登录的本人用自己的身份证确认。"),
            ("Not the signed-in person", "The signed-in citizen must confirm with their own ID card."),
        ),
        ProblemType::LevelNotMet => (
            ("需要增强版身份证", "商事登记需要增强版身份证：请携带身份证到柜台升级。你的草稿已保存。"),
            (
                "The upgraded edition is needed",
                "Business registration needs the upgraded edition: upgrade at a counter. Your draft is kept.",
            ),
        ),
        ProblemType::SignInDeclined => (
            ("你在钱包中拒绝了", "未披露任何信息。如有草稿，已为你保存，可随时继续。"),
            ("You declined in the wallet", "Nothing was disclosed. A draft, if any, is kept; go on whenever you like."),
        ),
        ProblemType::ConsentRequired => (
            ("需要你的同意", "请勾选同意向登记机关披露你的姓名和身份证号。"),
            (
                "Your consent is needed",
                "Tick the box to disclose your name and ID number to the registration authority.",
            ),
        ),
        ProblemType::InvalidFiling => {
            (("表格有误", "请按提示修改表格。"), ("The form has errors", "Correct the fields as shown."))
        }
        ProblemType::ClerkUnauthenticated => (
            ("请以工作人员身份登录", "用户名或密码不正确，或会话已过期。"),
            ("Please sign in as a clerk", "The name or password is wrong, or the session expired."),
        ),
        ProblemType::RateLimited => {
            (("尝试次数过多", "请等待 15 分钟后再试。"), ("Too many attempts", "Wait 15 minutes, then try again."))
        }
        ProblemType::Busy => (("服务繁忙", "请稍后重试。"), ("The service is busy", "Try again shortly.")),
        ProblemType::CrossOrigin => (
            ("请求来自其他网站", "请直接在本网站提交表格。"),
            ("The form came from another site", "Submit the form on this site."),
        ),
        ProblemType::NotFound => (("页面不存在", "请检查网址。"), ("No such page", "Check the address.")),
        ProblemType::PayloadTooLarge => {
            (("提交的内容过长", "请缩短后再提交。"), ("Too much was sent", "Shorten it and send again."))
        }
        ProblemType::BadRequest => {
            (("请求无法读取", "请重新提交表格。"), ("The request could not be read", "Submit the form again."))
        }
        ProblemType::GateUnauthenticated => {
            (("闸机未登记", "请使用已登记的闸机设备。"), ("Unregistered gate", "Use a registered gate device."))
        }
        ProblemType::QrInvalid => (
            ("二维码无效", "请在钱包中重新出示本铁路的乘车码。"),
            ("The QR is not valid", "Show this railway's boarding code from your wallet again."),
        ),
        ProblemType::QrExpired => (
            ("二维码已过期", "二维码 90 秒内有效：请在钱包中刷新后重新出示，截图无效。"),
            (
                "The QR code has expired",
                "A QR code is valid for 90 seconds: refresh it in the wallet and show it again; a screenshot does not pass.",
            ),
        ),
        ProblemType::QrReplayed => (
            ("二维码已使用过", "同一个二维码只能用一次：请在钱包中重新生成。"),
            ("The QR code was used already", "A QR code is used once: make a new one in the wallet."),
        ),
        ProblemType::CardRevoked => (
            ("证件已注销", "这张虚拟身份证已被注销，不能使用：请到柜台或在手机上重新办理。"),
            (
                "The card is revoked",
                "This virtual ID card was withdrawn and cannot be used: see a counter or enroll again.",
            ),
        ),
        ProblemType::NoTicket => (
            ("没有本次列车的车票", "请出示本人的车票，转让的车票需由接收人确认。"),
            (
                "No ticket for this train",
                "Show your own ticket; a transferred ticket must be accepted by its recipient.",
            ),
        ),
        ProblemType::TicketUsed => {
            (("车票已检过", "该车票已通过闸机。"), ("The ticket was used", "This ticket passed a gate already."))
        }
        ProblemType::TicketHeld => (
            ("你已持有本次列车的车票", "每位乘客每趟列车一张票：为同行人购票请填写其姓名。"),
            (
                "You hold a ticket on this train already",
                "One ticket per passenger and train: to buy for a co-traveller, give their name.",
            ),
        ),
        ProblemType::SoldOut => (("车票已售完", "请选择其他车次。"), ("Sold out", "Choose another train.")),
        ProblemType::OfferClosed => (
            ("链接已失效", "转让或接受链接已过期或已使用，请向持票人重新索取。"),
            (
                "The link is no longer valid",
                "The transfer or acceptance link expired or was used; ask the holder for a new one.",
            ),
        ),
        ProblemType::NoPseudonym => (
            ("身份证需要更新", "你的身份证签发时本铁路尚未登记，请在钱包中更新身份证。"),
            (
                "Your card needs renewing",
                "Your card was issued before this railway registered; renew it in your wallet.",
            ),
        ),
        ProblemType::DeskUnauthenticated => (
            ("前台设备未登记", "请用酒店登记的前台设备链接打开本页。"),
            ("This desk device is not registered", "Open this page with the link of a registered desk device."),
        ),
        ProblemType::QrNotFound => (
            ("未找到二维码", "请把手机上的二维码对准摄像头。"),
            ("No QR code found", "Hold the phone's QR code to the camera."),
        ),
        ProblemType::QrUnreadable => (
            ("二维码无法读取", "请拿稳手机，靠近一些。"),
            ("The QR code does not read", "Hold the phone steady and a little closer."),
        ),
        ProblemType::WrongAudience => (
            ("这个二维码不是给本酒店的", "请客人用手机扫描本前台的入住二维码，再出示新生成的二维码。"),
            (
                "This QR code is not for this hotel",
                "Ask the guest to scan this desk's check-in code, then show the new QR code.",
            ),
        ),
        ProblemType::UntrustedIssuer => (
            ("发证机关不受信任", "这张证件不是本酒店信任的发证机关签发的。"),
            ("The issuer is not trusted", "This card was not issued by an authority this hotel trusts."),
        ),
        ProblemType::QrRefused => (
            ("二维码核验未通过", "请客人重新生成二维码后再试；仍不通过请核验实体身份证。"),
            (
                "The QR code did not verify",
                "Ask the guest for a fresh QR code; if it still fails, check the physical card.",
            ),
        ),
        ProblemType::NoSealedIdNumber => (
            ("证件缺少加密身份证号", "这张证件在公安密钥启用前领取：请客人在手机上重新领取证件后再入住。"),
            (
                "The card lacks the sealed ID number",
                "It was issued before the police key was in use: the guest enrolls again on the phone, then checks in.",
            ),
        ),
        ProblemType::NotAdult => (
            ("客人未满 18 岁", "未成年人入住须由监护人陪同办理。"),
            ("The guest is under 18", "A minor checks in with a guardian."),
        ),
        ProblemType::FaceRequired => (
            ("需要现场人脸核验", "增强版证件：请客人看向前台摄像头。"),
            ("A live face check is needed", "An upgraded card: ask the guest to look at the desk camera."),
        ),
        ProblemType::FaceUnusable => (
            ("摄像头画面中没有清晰的人脸", "请客人正对摄像头，光线充足。"),
            ("No clear face in the camera picture", "Ask the guest to face the camera in good light."),
        ),
        ProblemType::FaceMismatch => (
            ("人脸与证件不符", "现场人脸与证件不是同一人：不能入住。"),
            ("The face does not match the card", "The person at the desk is not the card's holder: no check-in."),
        ),
        ProblemType::IntakeUnauthenticated => (
            ("旅馆未获授权报送", "报送需要公安机关发给该旅馆的令牌。"),
            ("The hotel may not send entries", "Sending entries needs the token the police issued the hotel."),
        ),
        ProblemType::OfficerUnauthenticated => (
            ("请以民警身份登录", "用户名或密码不正确，或会话已过期。"),
            ("Please sign in as an officer", "The name or password is wrong, or the session expired."),
        ),
        ProblemType::Internal => (
            ("服务出错", "未做任何更改，请稍后重试。"),
            ("The service failed", "Nothing was changed; try again later."),
        ),
    };
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// What the pages' middleware needs: the service's name and the security policy.
#[derive(Clone)]
pub(crate) struct PageFrame {
    /// The service's name in Chinese and English.
    pub(crate) name: (&'static str, &'static str),
    /// The Content-Security-Policy of every answer.
    pub(crate) policy: HeaderValue,
}

impl PageFrame {
    /// The frame of service `name`, whose forms may lead (by redirect) to `authority_origin`.
    pub(crate) fn new(name: (&'static str, &'static str), authority_origin: &str) -> PageFrame {
        let policy = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; \
             base-uri 'none'; form-action 'self' {authority_origin}"
        );
        let policy = HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
        PageFrame { name, policy }
    }

    /// The service's name in `lang`.
    pub(crate) fn name(&self, lang: Lang) -> &'static str {
        lang.pick(self.name.0, self.name.1)
    }
}

/// Shows browsers a refusal as a page in their language (the problem's
/// status kept), while API callers keep the problem+json; and sets every
/// answer's security headers: pages load only this origin's files and post
/// forms to this origin and (through its redirects) the authority.
pub(crate) async fn frame(State(frame): State<Arc<PageFrame>>, request: Request, next: Next) -> Response {
    let html = wants_html(request.headers());
    let lang = Lang::of(request.headers());
    let mut response = next.run(request).await;
    if let Some(refusal) = response.extensions().get::<Refusal>().cloned()
        && html
    {
        let (title, advice) = refusal_text(lang, refusal.kind);
        let body = html! {
            p.refusal role="alert" data-type=(refusal.kind.code()) { (advice) }
            p { a href="/" { (lang.pick("返回首页", "Back to the start")) } }
        };
        let status = refusal.kind.status();
        response = page(lang, frame.name(lang), title, "/", &[], body).into_response();
        *response.status_mut() = status;
    }
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, frame.policy.clone());
    // same-origin, not no-referrer: with no-referrer a browser posts `Origin: null`, and forms are checked by origin.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::is_local_path;

    #[test]
    fn the_language_switch_goes_back_only_to_a_path_of_this_origin() {
        for local in ["/", "/space", "/filings/new?x=1&y=2", "/clerk/", "/a%2Fb"] {
            assert!(is_local_path(local), "{local}");
        }
        for foreign in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "https://evil.example",
            "evil.example",
            "",
            "/@evil.example:x",
        ] {
            assert!(!is_local_path(foreign), "{foreign:?}");
        }
    }
}
