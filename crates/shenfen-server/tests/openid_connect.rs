//! "Sign in with shenfen" as a stock relying party sees it: the
//! `openidconnect` crate discovers the provider, sends the browser to
//! `/authorize` with PKCE and a nonce, the test wallet answers the
//! presentation the sign-in page shows, and the crate redeems the code with
//! `private_key_jwt` and validates the id_token against the JWKS itself.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata};
use openidconnect::{
    AccessToken, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::{Map, Value, json};
use shenfen_core::OperatorRole;
use shenfen_credential::{Jws, PrivateJwk, SdJwt, es256_header, present, sign_compact};
use shenfen_server::Policy;
use shenfen_server::token_hash;
use shenfen_store::{AuditEvent, ClientAuthentication, OpenIdClient, RelyingParty};
use support::journey::*;
use support::{Backend, ISSUER_URL, TestApp, all_at_once, body_bytes, json as json_of, send};
use tower::ServiceExt;

/// The crate's HTTP client: each request goes into the router, no network.
fn http_client(
    router: axum::Router,
) -> impl Fn(HttpRequest) -> std::pin::Pin<Box<dyn Future<Output = Result<HttpResponse, Infallible>> + Send>> {
    move |request: HttpRequest| {
        let router = router.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut inner = axum::http::Request::builder()
                .method(parts.method)
                .uri(parts.uri.path_and_query().map_or("/", |p| p.as_str()));
            for (name, value) in &parts.headers {
                inner = inner.header(name, value);
            }
            let response = router.oneshot(inner.body(Body::from(body)).unwrap()).await.unwrap();
            let (parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
            Ok(HttpResponse::from_parts(parts, bytes))
        })
    }
}

/// A relying party registered as an OpenID Connect client with
/// `private_key_jwt`, or `client_secret_basic` when it has a secret.
struct Rp {
    client_id: String,
    redirect_uri: String,
    key: PrivateJwk,
    secret: Option<String>,
}

async fn register_rp(test: &TestApp, host: &str, claims: &[&str]) -> Rp {
    register(test, host, claims, None).await
}

async fn register(test: &TestApp, host: &str, claims: &[&str], secret: Option<&str>) -> Rp {
    let key = PrivateJwk::generate().unwrap().with_kid(format!("{host}-1"));
    let rp = Rp {
        client_id: format!("https://{host}"),
        redirect_uri: format!("https://{host}/callback"),
        key,
        secret: secret.map(str::to_owned),
    };
    let authentication = match secret {
        Some(secret) => ClientAuthentication::ClientSecretBasic { secret_hash: token_hash(secret) },
        None => {
            ClientAuthentication::PrivateKeyJwt { jwks: json!({ "keys": [rp.key.public().to_value()] }).to_string() }
        }
    };
    let party = RelyingParty {
        client_id: rp.client_id.clone(),
        name: host.into(),
        claims: claims.iter().map(|c| (*c).to_owned()).collect(),
        api_key_hash: token_hash(&format!("key-of-{host}")),
        created_at: now(),
        openid: Some(OpenIdClient {
            redirect_uris: vec![rp.redirect_uri.clone()],
            sector_identifier: host.into(),
            authentication,
        }),
    };
    let event =
        AuditEvent { at: now(), kind: "rp.saved".into(), actor: "test".into(), subject: None, details: json!({}) };
    test.state.store.put_relying_party(&party, event).await.unwrap();
    rp
}

/// An RFC 7523 client assertion of `rp` for the token endpoint.
fn client_assertion(rp: &Rp) -> String {
    client_assertion_for(rp, json!(format!("{ISSUER_URL}/token")))
}

/// An RFC 7523 client assertion of `rp` with this `aud`.
fn client_assertion_for(rp: &Rp, aud: Value) -> String {
    let claims = json!({
        "iss": rp.client_id,
        "sub": rp.client_id,
        "aud": aud,
        "iat": now(),
        "exp": now() + 60,
        "jti": format!("{}-{}", rp.client_id, std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()),
    });
    sign_compact(
        &es256_header("JWT", rp.key.public().kid()),
        claims.as_object().unwrap(),
        &rp.key.signing_key().unwrap(),
    )
    .unwrap()
}

/// What a relying party holds between the redirect to `/authorize` and the code.
struct Started {
    client: CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    /// The URL of `/authorize`, path and query.
    authorize: String,
    csrf: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

async fn start(test: &TestApp, rp: &Rp, scopes: &[&str], claims: Option<Value>) -> Started {
    let http = http_client(test.router.clone());
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(ISSUER_URL.into()).unwrap(), &http).await.unwrap();
    let secret = rp.secret.clone().map(ClientSecret::new);
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new(rp.client_id.clone()), secret)
        .set_redirect_uri(RedirectUrl::new(rp.redirect_uri.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge);
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).into()));
    }
    if let Some(claims) = claims {
        request = request.add_extra_param("claims", claims.to_string());
    }
    let (url, csrf, nonce) = request.url();
    let authorize = format!("{}?{}", url.path(), url.query().unwrap());
    Started { client, authorize, csrf, nonce, verifier }
}

/// `GET /authorize`: the status and the Location it answers (with, after a
/// space, the cookie that binds a sign-in page to this browser).
async fn authorize(test: &TestApp, path: &str) -> (StatusCode, String) {
    page_of(send(&test.router, Method::GET, path, "text/plain", "").await)
}

/// An `/authorize` answer as the browser keeps it: the status, and the
/// Location followed by the binding cookie (`name=value`), if any.
fn page_of(response: axum::response::Response) -> (StatusCode, String) {
    let header_text = |name| response.headers().get(name).map(|l: &axum::http::HeaderValue| l.to_str().unwrap());
    let location = header_text(header::LOCATION).unwrap_or_default();
    let cookie = header_text(header::SET_COOKIE).and_then(|c| c.split(';').next()).unwrap_or_default();
    (response.status(), format!("{location} {cookie}").trim_end().to_owned())
}

/// The sign-in page's poll, from the browser holding `cookie`.
async fn poll(test: &TestApp, token: &str, cookie: &str) -> (StatusCode, Value) {
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/authorize/poll")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, cookie)
        .body(Body::from(json!({ "token": token }).to_string()))
        .unwrap();
    let response = test.router.clone().oneshot(request).await.unwrap();
    (response.status(), json_of(response).await)
}

/// The sign-in page's part: follow `/authorize` to the page, show the wallet
/// request, let the wallet answer (with `assurance`), and poll until done —
/// the relying party's redirect URI with a code or an error.
async fn sign_in_page(test: &TestApp, started: &Started, held: &(SdJwt, PrivateJwk)) -> (StatusCode, String) {
    wallet_signs_in(test, authorize(test, &started.authorize).await, held).await
}

/// `POST /authorize` with the parameters as a form: the status and the Location it answers.
async fn authorize_form(test: &TestApp, started: &Started) -> (StatusCode, String) {
    let (path, query) = started.authorize.split_once('?').unwrap();
    page_of(send(&test.router, Method::POST, path, "application/x-www-form-urlencoded", query.to_owned()).await)
}

/// From `/authorize`'s answer (`status`, `page`) on, as [`sign_in_page`].
async fn wallet_signs_in(
    test: &TestApp,
    page: (StatusCode, String),
    held: &(SdJwt, PrivateJwk),
) -> (StatusCode, String) {
    let shown = shown(test, page).await;
    let answered = answer(test, &shown.id, &shown.object, held, None).await;
    (answered, finished(test, &shown).await)
}

/// What the sign-in page shows the wallet: the page's token (and the
/// browser's binding cookie), the presentation request's id and its signed
/// request object.
struct Shown {
    token: String,
    cookie: String,
    id: String,
    object: Map<String, Value>,
}

/// Follows `/authorize`'s answer (`status`, `page`) to the sign-in page's
/// first poll and the request object the wallet fetches.
async fn shown(test: &TestApp, (status, page): (StatusCode, String)) -> Shown {
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let (token, cookie) =
        page.strip_prefix("/signin/#").and_then(|p| p.split_once(' ')).unwrap_or_else(|| panic!("{page}"));
    let (token, cookie) = (token.to_owned(), cookie.to_owned());
    let (status, pending) = poll(test, &token, &cookie).await;
    assert_eq!((status, pending["status"].as_str()), (StatusCode::OK, Some("pending")), "{pending}");
    let link = pending["authorization_request"].as_str().unwrap();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(link.strip_prefix("openid4vp://?").unwrap()).unwrap();
    let request_uri = &query.iter().find(|(k, _)| k == "request_uri").unwrap().1;
    let path = request_uri.strip_prefix(ISSUER_URL).unwrap();
    let id = path.trim_start_matches("/verifier/requests/").trim_end_matches("/object").to_owned();
    let response = send(&test.router, Method::GET, path, "text/plain", "").await;
    let jwt = String::from_utf8(body_bytes(response).await).unwrap();
    let object: Map<String, Value> = Jws::parse(&jwt, "request object").unwrap().payload().clone();
    Shown { token, cookie, id, object }
}

/// The sign-in page's poll once the wallet has answered: where it sends the browser, once.
async fn finished(test: &TestApp, shown: &Shown) -> String {
    let (status, done) = poll(test, &shown.token, &shown.cookie).await;
    assert_eq!((status, done["status"].as_str()), (StatusCode::OK, Some("done")), "{done}");
    assert_eq!(poll(test, &shown.token, &shown.cookie).await.0, StatusCode::NOT_FOUND, "the page's token is spent");
    done["location"].as_str().unwrap().to_owned()
}

/// The query parameters of a redirect to the relying party.
fn redirect_params(location: &str, rp: &Rp) -> Map<String, Value> {
    let query = location.strip_prefix(&format!("{}?", rp.redirect_uri)).unwrap_or_else(|| panic!("{location}"));
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    pairs.into_iter().map(|(k, v)| (k, Value::from(v))).collect()
}

/// The parameters of a redirect that ends a sign-in with `error` and no code.
fn refused_with(location: &str, rp: &Rp, error: &str) -> Map<String, Value> {
    let params = redirect_params(location, rp);
    assert_eq!(params["error"].as_str(), Some(error), "{location}");
    assert!(params.get("code").is_none(), "{location}");
    params
}

/// The code of a completed sign-in, its state checked.
async fn code_of(test: &TestApp, rp: &Rp, started: &Started, held: &(SdJwt, PrivateJwk)) -> String {
    let (answered, location) = sign_in_page(test, started, held).await;
    assert_eq!(answered, StatusCode::OK);
    let params = redirect_params(&location, rp);
    assert_eq!(params["state"].as_str(), Some(started.csrf.secret().as_str()));
    assert_eq!(params["iss"].as_str(), Some(ISSUER_URL), "RFC 9207: the provider names itself");
    params["code"].as_str().unwrap_or_else(|| panic!("{location}")).to_owned()
}

/// The token request the crate sends, with `private_key_jwt`, and `verifier` if any.
async fn exchange(
    test: &TestApp,
    rp: &Rp,
    started: &Started,
    code: &str,
    verifier: Option<&str>,
) -> Result<openidconnect::core::CoreTokenResponse, String> {
    let http = http_client(test.router.clone());
    let mut request = started.client.exchange_code(AuthorizationCode::new(code.into())).unwrap();
    if rp.secret.is_none() {
        request = request
            .add_extra_param("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            .add_extra_param("client_assertion", client_assertion(rp));
    }
    if let Some(verifier) = verifier {
        request = request.set_pkce_verifier(PkceCodeVerifier::new(verifier.into()));
    }
    request.request_async(&http).await.map_err(|e| format!("{e:?}"))
}

/// A whole sign-in: the id_token's claims as the crate validated them, and the access token.
async fn sign_in(test: &TestApp, rp: &Rp, held: &(SdJwt, PrivateJwk)) -> (CoreIdTokenClaims, AccessToken) {
    let started = start(test, rp, &["profile"], None).await;
    let code = code_of(test, rp, &started, held).await;
    let tokens = exchange(test, rp, &started, &code, Some(started.verifier.secret())).await.unwrap();
    let id_token = tokens.id_token().unwrap();
    let claims = id_token.claims(&started.client.id_token_verifier(), &started.nonce).unwrap().clone();
    (claims, tokens.access_token().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_relying_party_signs_in_with_a_pairwise_subject_stable_across_logins_and_reenrollment() {
    let test = registered_app().await;
    // Registered after the credentials were issued: a new relying party needs no re-issuance.
    let held = enroll_and_issue(&test, 2).await;
    let shop = register_rp(&test, "shop.example", &["name"]).await;
    let bank = register_rp(&test, "bank.example", &["name"]).await;
    assert!(!held[0].0.serialize().contains("shop.example"), "the credentials know nothing of these relying parties");

    let (first, access) = sign_in(&test, &shop, &held[0]).await;
    assert_eq!(first.issuer().as_str(), ISSUER_URL);
    assert_eq!(first.auth_context_ref().map(|acr| acr.as_str()), Some("L1"));
    let amr: Vec<&str> = first.auth_method_refs().unwrap().iter().map(|m| m.as_str()).collect();
    assert_eq!(amr, ["swk"]);
    assert_eq!(first.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("林晓梅"));
    assert_eq!(first.subject().len(), 64, "a pairwise pseudonym, not the ID number");
    assert_ne!(first.subject().as_str(), LIN);

    let userinfo = send_bearer(&test, Method::GET, "/userinfo", access.secret(), json!({})).await;
    assert_eq!(userinfo.status(), StatusCode::OK);
    let userinfo = json_of(userinfo).await;
    assert_eq!((userinfo["sub"].as_str(), userinfo["name"].as_str()), (Some(first.subject().as_str()), Some("林晓梅")));

    let (again, _) = sign_in(&test, &shop, &held[1]).await;
    assert_eq!(again.subject(), first.subject(), "the same relying party gets the same sub every login");
    let (at_bank, _) = sign_in(&test, &bank, &held[0]).await;
    assert_ne!(at_bank.subject(), first.subject(), "two relying parties get unlinkable subs");

    let new_phone = enroll_and_issue(&test, 1).await;
    let (after, _) = sign_in(&test, &shop, &new_phone[0]).await;
    assert_eq!(after.subject(), first.subject(), "stable across a re-enrollment");

    // The re-enrollment revoked the old phone's credentials: it signs in to nothing.
    let started = start(&test, &shop, &["profile"], None).await;
    let (answered, location) = sign_in_page(&test, &started, &held[1]).await;
    assert_eq!(answered, StatusCode::BAD_REQUEST, "the verifier refuses a revoked credential");
    refused_with(&location, &shop, "access_denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_single_use_bound_to_pkce_and_the_nonce_and_expire() {
    let test = registered_app().await;
    let held = enroll_and_issue(&test, 1).await;
    let shop = register_rp(&test, "shop.example", &["name"]).await;

    let started = start(&test, &shop, &["profile"], None).await;
    let code = code_of(&test, &shop, &started, &held[0]).await;
    for (case, verifier) in [("missing", None), ("wrong", Some("x".repeat(43)))] {
        let refused = exchange(&test, &shop, &started, &code, verifier.as_deref()).await.unwrap_err();
        assert!(refused.contains("invalid_grant"), "{case} PKCE verifier: {refused}");
    }
    let tokens = exchange(&test, &shop, &started, &code, Some(started.verifier.secret())).await.unwrap();
    let wrong_nonce = Nonce::new("not-the-one-sent".into());
    assert!(
        tokens.id_token().unwrap().claims(&started.client.id_token_verifier(), &wrong_nonce).is_err(),
        "the crate refuses an id_token for another nonce"
    );
    let userinfo = async |token: &str| send_bearer(&test, Method::GET, "/userinfo", token, json!({})).await.status();
    assert_eq!(userinfo(tokens.access_token().secret()).await, StatusCode::OK);
    let reused = exchange(&test, &shop, &started, &code, Some(started.verifier.secret())).await.unwrap_err();
    assert!(reused.contains("invalid_grant"), "{reused}");
    assert_eq!(
        userinfo(tokens.access_token().secret()).await,
        StatusCode::UNAUTHORIZED,
        "a reused code revokes what it gave"
    );
    let refused = send_bearer(&test, Method::GET, "/userinfo", tokens.access_token().secret(), json!({})).await;
    assert_eq!(refused.headers()[header::WWW_AUTHENTICATE], "Bearer error=\"invalid_token\"", "RFC 6750 §3");

    let started = start(&test, &shop, &["profile"], None).await;
    let code = code_of(&test, &shop, &started, &held[0]).await;
    use sqlx::Connection;
    let mut raw = sqlx::AnyConnection::connect(&test.url).await.unwrap();
    sqlx::query("UPDATE oidc_codes SET expires_at = 0").execute(&mut raw).await.unwrap();
    let expired = exchange(&test, &shop, &started, &code, Some(started.verifier.secret())).await.unwrap_err();
    assert!(expired.contains("invalid_grant"), "{expired}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_requests_are_refused_as_oidc_says() {
    let test = registered_app().await;
    let held = enroll_and_issue(&test, 1).await;
    let shop = register_rp(&test, "shop.example", &["name"]).await;

    let started = start(&test, &shop, &["profile"], None).await;
    let elsewhere = started.authorize.replace("shop.example%2Fcallback", "evil.example%2Fcallback");
    assert_ne!(elsewhere, started.authorize);
    let (status, location) = authorize(&test, &elsewhere).await;
    assert_eq!((status, location.as_str()), (StatusCode::BAD_REQUEST, ""), "never a redirect to an unregistered URI");

    let greedy = start(&test, &shop, &["profile", "region"], None).await;
    let (status, location) = authorize(&test, &greedy.authorize).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let params = redirect_params(&location, &shop);
    assert_eq!(params["error"].as_str(), Some("invalid_scope"), "not entitled to region: {location}");
    assert_eq!(params["state"].as_str(), Some(greedy.csrf.secret().as_str()));

    let no_pkce = start(&test, &shop, &["profile"], None).await.authorize.replace("code_challenge_method=S256", "");
    let params = redirect_params(&authorize(&test, &no_pkce).await.1, &shop);
    assert_eq!(params["error"].as_str(), Some("invalid_request"));

    let essential = json!({ "id_token": { "acr": { "essential": true, "values": ["L3"] } } });
    let strict = start(&test, &shop, &["profile"], Some(essential)).await;
    let (answered, location) = sign_in_page(&test, &strict, &held[0]).await;
    assert_eq!(answered, StatusCode::BAD_REQUEST, "the verifier refuses an L1 answer to an L3 request");
    refused_with(&location, &shop, "unmet_authentication_requirements");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_authenticate_with_their_secret_or_a_fresh_assertion_only() {
    let test = registered_app().await;
    let held = enroll_and_issue(&test, 1).await;
    let shop = register(&test, "shop.example", &["name"], Some("the-shops-secret")).await;
    let (claims, _) = sign_in(&test, &shop, &held[0]).await;
    assert_eq!(claims.auth_context_ref().map(|acr| acr.as_str()), Some("L1"), "client_secret_basic");

    let impostor = Rp { secret: Some("a-guess".into()), ..shop };
    let started = start(&test, &impostor, &["profile"], None).await;
    let code = code_of(&test, &impostor, &started, &held[0]).await;
    let refused = exchange(&test, &impostor, &started, &code, Some(started.verifier.secret())).await.unwrap_err();
    assert!(refused.contains("invalid_client"), "{refused}");

    let bank = register_rp(&test, "bank.example", &["name"]).await;
    let started = start(&test, &bank, &["profile"], None).await;
    let code = code_of(&test, &bank, &started, &held[0]).await;
    let assertion = client_assertion(&bank);
    let form = |assertion: &str| {
        serde_urlencoded::to_string([
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", bank.redirect_uri.as_str()),
            ("code_verifier", started.verifier.secret().as_str()),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
        ])
        .unwrap()
    };
    let token = async |body: String| {
        let response = send(&test.router, Method::POST, "/token", "application/x-www-form-urlencoded", body).await;
        (response.status(), json_of(response).await)
    };
    let stranger = PrivateJwk::generate().unwrap().with_kid("bank.example-1");
    let forged =
        Rp { key: stranger, client_id: bank.client_id.clone(), redirect_uri: bank.redirect_uri.clone(), secret: None };
    let (status, body) = token(form(&client_assertion(&forged))).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "another key");
    let (status, body) = token(form(&assertion)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = token(form(&assertion)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "a replayed jti");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_supervisor_registers_a_client_through_the_console_api_and_its_secret_signs_in() {
    let test = registered_app().await;
    let held = enroll_and_issue(&test, 1).await;
    let clerk = signed_in_operator(&test, "wang.counter", OperatorRole::Counter).await;
    let supervisor = signed_in_operator(&test, "zhao.supervisor", OperatorRole::Supervisor).await;
    let path = "/operator/relying-parties";
    let body = json!({
        "client_id": "https://portal.example", "name": "City portal", "claims": ["name"],
        "redirect_uris": ["https://portal.example/callback"],
    });
    assert_eq!(send_bearer(&test, Method::POST, path, "forged", body.clone()).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(send_bearer(&test, Method::POST, path, &clerk, body.clone()).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(send_bearer(&test, Method::GET, path, &clerk, json!({})).await.status(), StatusCode::FORBIDDEN);
    let mut photo = body.clone();
    photo["claims"] = json!(["name", "photo"]);
    let refused = send_bearer(&test, Method::POST, path, &supervisor, photo).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(refused).await["code"], "relying_party.claims");
    assert!(test.state.store.relying_party("https://portal.example").await.unwrap().is_none(), "nothing saved");

    let response = send_bearer(&test, Method::POST, path, &supervisor, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store", "the secrets are not cached");
    let registered = json_of(response).await;
    let secret = registered["client_secret"].as_str().unwrap().to_owned();
    let listed = body_bytes(send_bearer(&test, Method::GET, path, &supervisor, json!({})).await).await;
    let listed = String::from_utf8(listed).unwrap();
    assert!(listed.contains(r#""token_endpoint_auth_method":"client_secret_basic""#), "{listed}");
    assert!(!listed.contains(&secret) && !listed.contains(registered["api_key"].as_str().unwrap()), "never a secret");

    let portal = Rp {
        client_id: "https://portal.example".into(),
        redirect_uri: "https://portal.example/callback".into(),
        key: PrivateJwk::generate().unwrap(),
        secret: Some(secret),
    };
    let (claims, _) = sign_in(&test, &portal, &held[0]).await;
    assert_eq!(claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("林晓梅"));
    let log = test.state.store.audit_after(0, 1000).await.unwrap();
    let saved = log.iter().find(|e| e.event.kind == "relying_party.registered").unwrap();
    assert_eq!(saved.event.actor, "operator:zhao.supervisor");
    assert_eq!(saved.event.details["registration"]["redirect_uris"], json!(["https://portal.example/callback"]));

    // Registering the client id again replaces it only when asked; the old secret then opens nothing, at once.
    let moved = json!({
        "client_id": "https://portal.example", "name": "City portal", "claims": ["name"],
        "redirect_uris": ["https://portal.example/new-callback"],
    });
    let again = send_bearer(&test, Method::POST, path, &supervisor, moved.clone()).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(json_of(again).await["code"], "relying_party.exists");
    let mut replace = moved;
    replace["replace"] = json!(true);
    assert_eq!(send_bearer(&test, Method::POST, path, &supervisor, replace).await.status(), StatusCode::CREATED);
    let old_secret = Rp { redirect_uri: "https://portal.example/new-callback".into(), ..portal };
    let started = start(&test, &old_secret, &["profile"], None).await;
    let code = code_of(&test, &old_secret, &started, &held[0]).await;
    let stale = exchange(&test, &old_secret, &started, &code, Some(started.verifier.secret())).await;
    assert!(stale.unwrap_err().contains("invalid_client"), "the replaced secret is refused");
    let log = test.state.store.audit_after(0, 1000).await.unwrap();
    let replaced = log.iter().find(|e| e.event.kind == "relying_party.replaced").unwrap();
    assert_eq!(replaced.event.details["previous"]["redirect_uris"], json!(["https://portal.example/callback"]));
    assert_eq!(replaced.event.details["registration"]["redirect_uris"], json!(["https://portal.example/new-callback"]));

    // Another client id may take the portal's sector (and so its citizens' subs) only by saying it shares it.
    let sibling = json!({
        "client_id": "https://m.portal.example", "name": "City portal (mobile)", "claims": ["name"],
        "redirect_uris": ["https://m.portal.example/callback"], "sector_identifier": "PORTAL.example",
    });
    let taken = send_bearer(&test, Method::POST, path, &supervisor, sibling.clone()).await;
    assert_eq!(taken.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(taken).await["code"], "relying_party.sector");
    let mut shared = sibling;
    shared["share_sector"] = json!(true);
    assert_eq!(send_bearer(&test, Method::POST, path, &supervisor, shared).await.status(), StatusCode::CREATED);
}

/// `POST /token` with `form` and, when given, an `Authorization` header: the status, the challenge and the body.
async fn post_token(test: &TestApp, form: &[(&str, &str)], authorization: Option<&str>) -> (StatusCode, String, Value) {
    let mut request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let body = Body::from(serde_urlencoded::to_string(form).unwrap());
    let response = test.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let challenge = response.headers().get(header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap().to_owned());
    (response.status(), challenge.unwrap_or_default(), json_of(response).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_basic_client_is_challenged_and_an_assertion_must_name_this_provider_alone() {
    let test = registered_app().await;
    let shop = register(&test, "shop.example", &["name"], Some("the-shops-secret")).await;
    // An unknown code: a client that authenticates gets invalid_grant, one that does not invalid_client.
    let grant = [("grant_type", "authorization_code"), ("code", "not-a-code"), ("redirect_uri", "https://x/cb")];
    let basic = |id: &str, secret: &str| format!("Basic {}", STANDARD.encode(format!("{}:{secret}", urlencode(id))));
    let realm = format!("Basic realm=\"{ISSUER_URL}\"");
    for (case, authorization) in [
        ("wrong secret", basic(&shop.client_id, "a-guess")),
        ("unknown client", basic("https://nobody.example", "the-shops-secret")),
        ("undecodable", "Basic %%%".to_owned()),
    ] {
        let (status, challenge, body) = post_token(&test, &grant, Some(&authorization)).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{case}");
        assert_eq!(challenge, realm, "RFC 6749 §5.2: {case}");
    }
    let (status, challenge, body) = post_token(&test, &grant, Some(&basic(&shop.client_id, "the-shops-secret"))).await;
    assert_eq!(
        (status, challenge.as_str(), body["error"].as_str()),
        (StatusCode::BAD_REQUEST, "", Some("invalid_grant"))
    );

    let bank = register_rp(&test, "bank.example", &["name"]).await;
    let token_endpoint = format!("{ISSUER_URL}/token");
    for (aud, accepted) in [
        (json!(ISSUER_URL), true),
        (json!([ISSUER_URL]), true),
        (json!(token_endpoint), true),
        (json!([ISSUER_URL, "https://other.example"]), false),
        (json!([token_endpoint, ISSUER_URL]), false),
        (json!(format!("{ISSUER_URL}/authorize")), false),
        (json!("https://other.example/token"), false),
        (json!([]), false),
    ] {
        let assertion = client_assertion_for(&bank, aud.clone());
        let form = [
            grant[0],
            grant[1],
            grant[2],
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion.as_str()),
        ];
        let (status, challenge, body) = post_token(&test, &form, None).await;
        let expected = if accepted {
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        } else {
            (StatusCode::UNAUTHORIZED, Some("invalid_client"))
        };
        assert_eq!((status, body["error"].as_str()), expected, "aud {aud}: {body}");
        assert_eq!(challenge, "", "no Authorization header, no challenge");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_and_userinfo_requests_may_be_posted() {
    let test = registered_app().await;
    let held = enroll_and_issue(&test, 1).await;
    let shop = register_rp(&test, "shop.example", &["name"]).await;
    let started = start(&test, &shop, &["profile"], None).await;
    let (answered, location) = wallet_signs_in(&test, authorize_form(&test, &started).await, &held[0]).await;
    assert_eq!(answered, StatusCode::OK);
    let params = redirect_params(&location, &shop);
    assert_eq!(params["state"].as_str(), Some(started.csrf.secret().as_str()), "OIDC Core §3.1.2.1: POST as a form");
    let code = params["code"].as_str().unwrap_or_else(|| panic!("{location}"));
    let tokens = exchange(&test, &shop, &started, code, Some(started.verifier.secret())).await.unwrap();
    let claims = tokens.id_token().unwrap().claims(&started.client.id_token_verifier(), &started.nonce).unwrap();
    for method in [Method::GET, Method::POST] {
        let response = send_bearer(&test, method.clone(), "/userinfo", tokens.access_token().secret(), json!({})).await;
        assert_eq!(response.status(), StatusCode::OK, "OIDC Core §5.3.1: {method}");
        let userinfo = json_of(response).await;
        assert_eq!(userinfo["sub"].as_str(), Some(claims.subject().as_str()), "{method}");
    }
    let response = send(&test.router, Method::POST, "/authorize", "application/json", "{}").await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(json_of(response).await["type"], "urn:shenfen:problem:unsupported-media-type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_none_needs_a_login_and_a_sub_value_admits_that_citizen_only() {
    let test = registered_app().await;
    let held = enroll_and_issue(&test, 3).await;
    let shop = register_rp(&test, "shop.example", &["name"]).await;

    let started = start(&test, &shop, &["profile"], None).await;
    let (status, location) = authorize(&test, &format!("{}&prompt=none", started.authorize)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let params = redirect_params(&location, &shop);
    assert_eq!(params["error"].as_str(), Some("login_required"), "OIDC Core §3.1.2.6: {location}");
    assert_eq!(params["state"].as_str(), Some(started.csrf.secret().as_str()));
    let (_, location) = authorize(&test, &format!("{}&prompt=none%20login", started.authorize)).await;
    assert_eq!(redirect_params(&location, &shop)["error"].as_str(), Some("invalid_request"), "{location}");
    let (_, location) = authorize(&test, &format!("{}&max_age=soon", started.authorize)).await;
    assert_eq!(redirect_params(&location, &shop)["error"].as_str(), Some("invalid_request"), "{location}");
    for extra in [
        "prompt=login",
        "prompt=consent",
        "prompt=login%20consent",
        "prompt=select_account%20x-unknown",
        "max_age=0",
        "id_token_hint=anything",
    ] {
        let (status, location) = authorize(&test, &format!("{}&{extra}", started.authorize)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(location.starts_with("/signin/#"), "{extra} is accepted: {location}");
    }

    let (first, _) = sign_in(&test, &shop, &held[0]).await;
    let same = json!({ "id_token": { "sub": { "value": first.subject().as_str() } } });
    let again = start(&test, &shop, &["profile"], Some(same)).await;
    let code = code_of(&test, &shop, &again, &held[1]).await;
    let tokens = exchange(&test, &shop, &again, &code, Some(again.verifier.secret())).await.unwrap();
    let claims = tokens.id_token().unwrap().claims(&again.client.id_token_verifier(), &again.nonce).unwrap();
    assert_eq!(claims.subject(), first.subject(), "the citizen asked for signs in");

    let someone_else = json!({ "id_token": { "sub": { "value": "f".repeat(64) } } });
    let other = start(&test, &shop, &["profile"], Some(someone_else)).await;
    let (answered, location) = sign_in_page(&test, &other, &held[2]).await;
    assert_eq!(answered, StatusCode::OK, "the wallet's answer is valid");
    refused_with(&location, &shop, "access_denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_time_is_when_the_wallet_answered_not_when_the_page_asked() {
    let test = registered_app().await;
    let held = enroll_and_issue(&test, 1).await;
    let shop = register_rp(&test, "shop.example", &["name"]).await;
    let started = start(&test, &shop, &["profile"], None).await;
    let shown = shown(&test, authorize(&test, &started.authorize).await).await;
    assert_eq!(answer(&test, &shown.id, &shown.object, &held[0], None).await, StatusCode::OK);
    let answered_at = now();
    // The page polls every 2 s; a slow network or a tab in the background, longer.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let params = redirect_params(&finished(&test, &shown).await, &shop);
    let code = params["code"].as_str().unwrap();
    let tokens = exchange(&test, &shop, &started, code, Some(started.verifier.secret())).await.unwrap();
    let claims = tokens.id_token().unwrap().claims(&started.client.id_token_verifier(), &started.nonce).unwrap();
    let auth_time = claims.auth_time().unwrap().timestamp();
    assert!(auth_time <= answered_at, "auth_time {auth_time} is the answer's ({answered_at}), not the poll's");
    assert!(claims.issue_time().timestamp() >= answered_at + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_sign_ins_at_once_from_one_address_open_exactly_the_hourly_allowance() {
    let test = registered_app_with(Backend::Postgres, Policy { sign_ins_per_client_hour: 7, ..policy() }).await;
    let shop = register_rp(&test, "shop.example", &["name"]).await;
    let started = start(&test, &shop, &["profile"], None).await;
    // The allowance is per clock hour: not across its boundary.
    let into_hour = now().rem_euclid(3600);
    if into_hour > 3590 {
        tokio::time::sleep(std::time::Duration::from_secs((3601 - into_hour).unsigned_abs())).await;
    }
    let form = started.authorize.split_once('?').unwrap().1.to_owned();
    let statuses = all_at_once(&test, "/authorize", "application/x-www-form-urlencoded", vec![form; 50]).await;
    let count = |status: u16| statuses.iter().filter(|s| **s == status).count();
    assert_eq!((count(303), count(429)), (7, 43), "{statuses:?}");
    use sqlx::Connection;
    let mut raw = sqlx::AnyConnection::connect(&test.url).await.unwrap();
    let row = sqlx::query("SELECT COUNT(*) AS n FROM oidc_authorizations").fetch_one(&mut raw).await.unwrap();
    assert_eq!(sqlx::Row::get::<i64, _>(&row, "n"), 7, "only the allowed ones wrote state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_database_sign_in_together_and_redeem_a_code_once() {
    let (one, other) = registered_pair(Backend::Postgres).await;
    let held = enroll_and_issue(&one, 2).await;
    let shop = register_rp(&one, "shop.example", &["name"]).await;

    // Started at one, shown and answered at the other, finished at the first.
    let started = start(&one, &shop, &["profile"], None).await;
    let shown = shown(&other, authorize(&one, &started.authorize).await).await;
    assert_eq!(answer(&other, &shown.id, &shown.object, &held[0], None).await, StatusCode::OK);
    let params = redirect_params(&finished(&one, &shown).await, &shop);
    assert_eq!(poll(&other, &shown.token, &shown.cookie).await.0, StatusCode::NOT_FOUND, "finished for both instances");
    let code = params["code"].as_str().unwrap().to_owned();

    // The code, redeemed at both at once: once, and the loser withdraws what the winner got.
    let verifier = Some(started.verifier.secret().as_str());
    let (at_one, at_other) = tokio::join!(
        exchange(&one, &shop, &started, &code, verifier),
        exchange(&other, &shop, &started, &code, verifier)
    );
    let (won, lost) = match (at_one, at_other) {
        (Ok(tokens), Err(refused)) | (Err(refused), Ok(tokens)) => (tokens, refused),
        (one, other) => panic!("exactly one redemption succeeds: {:?} / {:?}", one.is_ok(), other.is_ok()),
    };
    assert!(lost.contains("invalid_grant"), "{lost}");
    for test in [&one, &other] {
        let response = send_bearer(test, Method::GET, "/userinfo", won.access_token().secret(), json!({})).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "RFC 6749 §4.1.2: the race revokes");
    }

    // A sign-in at the other instance alone gets the same pairwise subject from the first's code.
    let (first, _) = sign_in(&other, &shop, &held[1]).await;
    let claims = won.id_token().unwrap().claims(&started.client.id_token_verifier(), &started.nonce).unwrap();
    assert_eq!(first.subject(), claims.subject());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_sign_in_reaches_the_relying_party_at_once() {
    let test = registered_app().await;
    let shop = register_rp(&test, "shop.example", &["name"]).await;
    let started = start(&test, &shop, &["profile"], None).await;
    let shown = shown(&test, authorize(&test, &started.authorize).await).await;
    let form =
        serde_urlencoded::to_string([("error", "access_denied"), ("state", shown.object["state"].as_str().unwrap())]);
    let path = format!("/verifier/requests/{}/response", shown.id);
    let response = send(&test.router, Method::POST, &path, "application/x-www-form-urlencoded", form.unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK, "OpenID4VP 1.0 §8.5: the wallet declines");
    let next = json_of(response).await;
    assert_eq!(next["redirect_uri"], format!("{ISSUER_URL}/signin/"), "a same-device wallet goes back to the page");
    let params = refused_with(&finished(&test, &shown).await, &shop, "access_denied");
    assert_eq!(params["error_description"].as_str(), Some("the citizen declined"));
    assert_eq!(params["state"].as_str(), Some(started.csrf.secret().as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_shows_where_it_started_lives_two_minutes_and_is_audited_without_the_citizen() {
    let test = registered_app().await;
    let held = enroll_and_issue(&test, 1).await;
    let shop = register_rp(&test, "shop.example", &["name"]).await;
    let started = start(&test, &shop, &["profile"], None).await;
    let before = now();
    // The initiating browser's connection, as `shenfen serve` sees it.
    let laptop = ConnectInfo(SocketAddr::from(([203, 0, 113, 7], 50_000)));
    let request = axum::http::Request::builder().uri(&started.authorize).extension(laptop).body(Body::empty());
    let shown = shown(&test, page_of(test.router.clone().oneshot(request.unwrap()).await.unwrap())).await;
    let origin = &shown.object["sign_in_origin"];
    assert_eq!(origin["address"], "203.0.113.7", "signed into the request object for the consent screen");
    let started_at = origin["started_at"].as_i64().unwrap();
    assert!((before..=now()).contains(&started_at), "{origin}");
    assert_eq!(shown.object["exp"].as_i64().unwrap() - started_at, 120, "RFC 10027: a short-lived sign-in");
    assert_eq!(answer(&test, &shown.id, &shown.object, &held[0], None).await, StatusCode::OK);
    assert!(redirect_params(&finished(&test, &shown).await, &shop).contains_key("code"));

    let entries = test.state.store.audit_after(0, 1000).await.unwrap();
    let sign_ins: Vec<_> = entries.iter().filter(|e| e.event.kind == "oidc.sign_in").collect();
    assert_eq!(sign_ins.len(), 1);
    assert_eq!(
        sign_ins[0].event.details,
        json!({
            "client_id": shop.client_id,
            "outcome": "signed_in",
            "level": "L1",
            "origin": { "started_at": started_at, "address": "203.0.113.7" },
        })
    );
    assert_eq!(sign_ins[0].event.subject, None);
    let hotel_key = register_relying_party(&test, "https://hotel.example", "Hotel", &["name"]).await;
    let (_, object) = ask(&test, "https://hotel.example", &hotel_key, &["name"]).await;
    assert!(object.get("sign_in_origin").is_none(), "a relying party's own request is no sign-in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_page_works_only_in_the_browser_that_started_the_sign_in() {
    let test = registered_app().await;
    let held = enroll_and_issue(&test, 1).await;
    let shop = register_rp(&test, "shop.example", &["name"]).await;
    let started = start(&test, &shop, &["profile"], None).await;
    let (status, page) = authorize(&test, &started.authorize).await;
    let (token, cookie) = page.strip_prefix("/signin/#").and_then(|p| p.split_once(' ')).unwrap();
    // A phishing message carries the page's link, not the starting browser's cookie.
    let (name, _) = cookie.split_once('=').unwrap();
    for other_browser in ["", "shenfen-sign-in-0000000000000000=x", &format!("{name}=forged")] {
        let (status, refused) = poll(&test, token, other_browser).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{other_browser}: {refused}");
        assert!(refused["detail"].as_str().unwrap().contains("another browser"), "{refused}");
    }
    // The browser that started it goes on, to the code.
    let shown = shown(&test, (status, page.clone())).await;
    assert_eq!(answer(&test, &shown.id, &shown.object, &held[0], None).await, StatusCode::OK);
    assert!(redirect_params(&finished(&test, &shown).await, &shop).contains_key("code"));
}

/// `POST /operator/relying-parties` with `body` as the supervisor `token`, through `router`: the status.
async fn register_at(router: axum::Router, token: String, body: Value) -> StatusCode {
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/operator/relying-parties")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    router.oneshot(request).await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_id_registered_fifty_times_at_once_on_two_instances_is_registered_once() {
    let (one, other) = registered_pair(Backend::Postgres).await;
    let tokens = [
        signed_in_operator(&one, "zhao.supervisor", OperatorRole::Supervisor).await,
        signed_in_operator(&other, "qian.supervisor", OperatorRole::Supervisor).await,
    ];
    let body = json!({
        "client_id": "https://portal.example", "name": "City portal", "claims": ["name"],
        "redirect_uris": ["https://portal.example/callback"],
    });
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (router, token) = if i % 2 == 0 { (&one.router, &tokens[0]) } else { (&other.router, &tokens[1]) };
            tokio::spawn(register_at(router.clone(), token.clone(), body.clone()))
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 49, "{statuses:?}");
    let log = one.state.store.audit_after(0, 1000).await.unwrap();
    assert_eq!(log.iter().filter(|e| e.event.kind == "relying_party.registered").count(), 1, "one audit entry");
}

/// The wallet's error response for a card that cannot reach the asked
/// level, with `held`'s proof of its edition (a presentation disclosing
/// nothing, bound to the request), or without one (as anyone who read the
/// request object could post it).
async fn cannot_reach(test: &TestApp, shown: &Shown, held: Option<&(SdJwt, PrivateJwk)>) -> StatusCode {
    let state = shown.object["state"].as_str().unwrap();
    let mut fields = vec![
        ("error", "access_denied".to_owned()),
        ("error_description", "unmet_authentication_requirements".to_owned()),
        ("state", state.to_owned()),
    ];
    if let Some((credential, key)) = held {
        let nonce = shown.object["nonce"].as_str().unwrap();
        let audience = shown.object["client_id"].as_str().unwrap();
        let proof = present(credential, &[], &key.signing_key().unwrap(), audience, nonce, now()).unwrap();
        fields.push(("vp_token", json!({ "shenfen_id": [proof.serialize()] }).to_string()));
    }
    let form = serde_urlencoded::to_string(fields);
    let path = format!("/verifier/requests/{}/response", shown.id);
    send(&test.router, Method::POST, &path, "application/x-www-form-urlencoded", form.unwrap()).await.status()
}

/// The payload of an id_token as the relying party received it (claims the crate does not model).
fn id_token_payload(tokens: &openidconnect::core::CoreTokenResponse) -> Map<String, Value> {
    Jws::parse(&tokens.id_token().unwrap().to_string(), "id_token").unwrap().payload().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entitled_registry_gets_the_full_id_number_at_l3_from_the_upgraded_edition_of_the_signed_in_citizen() {
    let test = registered_app().await;
    let registry = register_rp(&test, "registry.example", &["name", "record/id_number"]).await;
    let shop = register_rp(&test, "shop.example", &["name"]).await;
    let essential_l3 =
        |sub: &str| json!({ "id_token": { "acr": { "essential": true, "value": "L3" }, "sub": { "value": sub } } });

    // Not entitled: refused before anything is shown, as invalid_scope.
    let started = start(&test, &shop, &["profile", "id_number"], None).await;
    let (_, location) = authorize(&test, &started.authorize).await;
    let params = refused_with(&location, &shop, "invalid_scope");
    assert!(params["error_description"].as_str().unwrap().contains("record/id_number"), "{location}");

    // A lightweight card cannot reach L3: its wallet says so, and the registry hears it at once.
    let lightweight = enroll_and_issue(&test, 3).await;
    let (signed_in, _) = sign_in(&test, &registry, &lightweight[0]).await;
    let sub = signed_in.subject().as_str().to_owned();
    let started = start(&test, &registry, &["profile", "id_number"], Some(essential_l3(&sub))).await;
    // Said without the card's proof (anyone who read the request object could), it is a plain decline.
    let page = shown(&test, authorize(&test, &started.authorize).await).await;
    assert_eq!(cannot_reach(&test, &page, None).await, StatusCode::OK);
    refused_with(&finished(&test, &page).await, &registry, "access_denied");
    let started = start(&test, &registry, &["profile", "id_number"], Some(essential_l3(&sub))).await;
    let page = shown(&test, authorize(&test, &started.authorize).await).await;
    assert_eq!(cannot_reach(&test, &page, Some(&lightweight[1])).await, StatusCode::OK);
    let params = refused_with(&finished(&test, &page).await, &registry, "unmet_authentication_requirements");
    assert_eq!(params["state"].as_str(), Some(started.csrf.secret().as_str()));
    // Said of an L1 request, the same words are a plain decline.
    let started = start(&test, &registry, &["profile"], None).await;
    let page_l1 = shown(&test, authorize(&test, &started.authorize).await).await;
    assert_eq!(cannot_reach(&test, &page_l1, Some(&lightweight[2])).await, StatusCode::OK);
    refused_with(&finished(&test, &page_l1).await, &registry, "access_denied");

    // The full number is never released on the phone alone: asked without a level, the wallet is asked L2,
    // and an L1 answer is refused.
    let upgraded = upgraded_phone(&test, 4).await;
    // An upgraded card cannot prove it is lightweight: its "cannot reach" is a plain decline.
    let started = start(&test, &registry, &["profile", "id_number"], Some(essential_l3(&sub))).await;
    let page = shown(&test, authorize(&test, &started.authorize).await).await;
    assert_eq!(cannot_reach(&test, &page, Some(&upgraded[3])).await, StatusCode::OK);
    refused_with(&finished(&test, &page).await, &registry, "access_denied");
    let started = start(&test, &registry, &["profile", "id_number"], None).await;
    let page = shown(&test, authorize(&test, &started.authorize).await).await;
    assert_eq!(page.object["assurance_level"], "L2", "{:?}", page.object);
    assert_eq!(answer(&test, &page.id, &page.object, &upgraded[2], None).await, StatusCode::BAD_REQUEST);
    refused_with(&finished(&test, &page).await, &registry, "unmet_authentication_requirements");

    // The same citizen upgraded at a counter: PIN and live face give the number, under the same subject.
    let started = start(&test, &registry, &["profile", "id_number"], Some(essential_l3(&sub))).await;
    let page = shown(&test, authorize(&test, &started.authorize).await).await;
    let (status, l3) = assurance(&test, &upgraded[0], &page.object, &[jpeg_base64(&photo("obama3.jpg"))]).await;
    assert_eq!(status, StatusCode::OK, "{l3}");
    let answered = answer_with(&test, &page.id, &page.object, &upgraded[0], None, l3["assertion"].as_str()).await;
    assert_eq!(answered, StatusCode::OK);
    let code = redirect_params(&finished(&test, &page).await, &registry)["code"].as_str().unwrap().to_owned();
    let tokens = exchange(&test, &registry, &started, &code, Some(started.verifier.secret())).await.unwrap();
    let claims = tokens.id_token().unwrap().claims(&started.client.id_token_verifier(), &started.nonce).unwrap();
    assert_eq!(claims.subject().as_str(), sub, "the citizen who signed in, across editions");
    assert_eq!(claims.auth_context_ref().map(|acr| acr.as_str()), Some("L3"));
    let payload = id_token_payload(&tokens);
    assert_eq!(payload["id_number"], LIN, "the full number, under its OpenID Connect name");
    assert_eq!(payload["name"], "林晓梅");
    assert_eq!(payload["amr"], json!(["swk", "pin", "face"]));
    assert!(payload.get("record/id_number").is_none() && payload.get("record").is_none(), "{payload:?}");

    // Another citizen's subject asked: this citizen's answer is refused.
    let other = start(&test, &registry, &["profile", "id_number"], Some(essential_l3(&"f".repeat(64)))).await;
    let page = shown(&test, authorize(&test, &other.authorize).await).await;
    let (_, l3) = assurance(&test, &upgraded[1], &page.object, &[jpeg_base64(&photo("obama3.jpg"))]).await;
    assert_eq!(
        answer_with(&test, &page.id, &page.object, &upgraded[1], None, l3["assertion"].as_str()).await,
        StatusCode::OK
    );
    refused_with(&finished(&test, &page).await, &registry, "access_denied");
}
