//! A relying party (a hotel's or a city portal's web application) that signs
//! its users in with "Sign in with shenfen" through the stock `openidconnect`
//! crate: discovery, the authorization code flow with PKCE and a nonce,
//! `client_secret_basic` at the token endpoint, the id_token validated here
//! against the provider's JWKS, and the level reached (`acr`) checked against
//! the level asked. It uses nothing of shenfen's: the browser tests run it as
//! an independent client, and docs/INTEGRATION.md shows it as the OpenID
//! Connect example.
//!
//! ```text
//! OIDC_CLIENT_SECRET=… oidc-relying-party --issuer https://id.example \
//!     --client-id https://shop.example --listen 127.0.0.1:8081 \
//!     --redirect-uri https://shop.example/callback
//! ```
//! `GET /login?acr=L3` starts a sign-in; `/callback` answers the signed-in
//! user as JSON (`sub`, `acr`, `amr`, the claims), or the error.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// The provider's issuer identifier (its discovery document is under it).
    #[arg(long)]
    issuer: String,
    /// This relying party's client id, as registered (`shenfen rp add`).
    #[arg(long)]
    client_id: String,
    /// The registered redirect URI: this application's `/callback`.
    #[arg(long)]
    redirect_uri: String,
    /// Where this application listens.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: String,
}

/// The client as discovery leaves it: authorization and token endpoints set.
type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// How long a sign-in may take, and how many may be in progress: `/login`
/// is open to anyone, so what it keeps is bounded in time and number.
const PENDING_FOR: Duration = Duration::from_secs(600);
const MAX_PENDING: usize = 10_000;

/// The levels a sign-in may ask, lowest first.
const LEVELS: [&str; 3] = ["L1", "L2", "L3"];
/// The cookie that ties a sign-in's `state` to the browser that started it.
const STATE_COOKIE: &str = "rp_sign_in_state";

/// What a sign-in in progress needs back at the callback, keyed by its `state`.
struct Pending {
    nonce: Nonce,
    verifier: PkceCodeVerifier,
    /// Its index in [`LEVELS`].
    level: usize,
    started: Instant,
}

struct App {
    client: Client,
    issuer: String,
    pending: Mutex<HashMap<String, Pending>>,
    /// `; Secure` when the application is served over https.
    secure: &'static str,
}

/// One connection pool for the provider: answers of any status go back to
/// the crate, which reads OAuth errors from them.
static AGENT: LazyLock<ureq::Agent> = LazyLock::new(|| {
    // TLS with aws-lc-rs; another part of the process may have installed a provider already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // No redirects: the provider's endpoints answer where they are (the crate advises it).
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build();
    ureq::Agent::new_with_config(config)
});

/// The crate's HTTP client, from ureq 3 (the crate's own `ureq` feature is for ureq 2).
fn http_client(request: HttpRequest) -> Result<HttpResponse, ureq::Error> {
    let mut response = AGENT.run(request)?;
    let body = response.body_mut().read_to_vec()?;
    let (parts, _) = response.into_parts();
    Ok(HttpResponse::from_parts(parts, body))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let issuer = IssuerUrl::new(args.issuer.clone()).context("--issuer is not a URL")?;
    let metadata = tokio::task::spawn_blocking(move || CoreProviderMetadata::discover(&issuer, &http_client))
        .await?
        .context("discovery failed")?;
    // From the environment, never an argument that `ps` shows.
    let secret = std::env::var("OIDC_CLIENT_SECRET").context("set OIDC_CLIENT_SECRET to the client secret")?;
    let secure = if args.redirect_uri.starts_with("https://") { "; Secure" } else { "" };
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(args.client_id), Some(ClientSecret::new(secret)))
            .set_redirect_uri(RedirectUrl::new(args.redirect_uri).context("--redirect-uri is not a URL")?);
    let app = Arc::new(App { client, issuer: args.issuer, pending: Mutex::new(HashMap::new()), secure });
    let router = Router::new().route("/login", get(login)).route("/callback", get(callback)).with_state(app);
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    println!("relying party listening on {}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}

#[derive(Deserialize)]
struct LoginQuery {
    /// The level to ask: L1 (the wallet), L2 (and the PIN) or L3 (and a live face).
    acr: Option<String>,
}

/// Starts a sign-in: to the provider's `/authorize` with PKCE, a nonce and
/// the level asked; the `state` also goes into a cookie, so that only the
/// browser that started the sign-in can finish it (no login CSRF).
async fn login(State(app): State<Arc<App>>, Query(query): Query<LoginQuery>) -> Response {
    let asked = query.acr.as_deref().unwrap_or("L1");
    let Some(level) = LEVELS.iter().position(|l| *l == asked) else {
        return (StatusCode::BAD_REQUEST, "acr is L1, L2 or L3").into_response();
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = app
        .client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_auth_context_value(AuthenticationContextClass::new(asked.to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let mut pending = app.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    pending.retain(|_, p| p.started.elapsed() < PENDING_FOR);
    if pending.len() >= MAX_PENDING {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many sign-ins in progress; try again shortly").into_response();
    }
    pending.insert(state.secret().clone(), Pending { nonce, verifier, level, started: Instant::now() });
    let cookie =
        format!("{STATE_COOKIE}={}; Path=/callback; HttpOnly; SameSite=Lax; Max-Age=600{}", state.secret(), app.secure);
    ([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// The provider's answer, in the browser that started the sign-in: the code
/// redeemed, the id_token validated (issuer, audience, signature, expiry,
/// nonce), the level checked.
async fn callback(State(app): State<Arc<App>>, headers: HeaderMap, Query(query): Query<CallbackQuery>) -> Response {
    let cleared = format!("{STATE_COOKIE}=; Path=/callback; HttpOnly; SameSite=Lax; Max-Age=0{}", app.secure);
    let answer = match signed_in(app, state_cookie(&headers), query).await {
        Ok(user) => Json(user).into_response(),
        Err(error) => (StatusCode::FORBIDDEN, Json(json!({ "error": error }))).into_response(),
    };
    ([(header::SET_COOKIE, cleared)], answer).into_response()
}

/// The `state` this browser's cookie holds.
fn state_cookie(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get_all(header::COOKIE).into_iter().filter_map(|value| value.to_str().ok());
    cookies
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(name, value)| (name == STATE_COOKIE).then(|| value.to_owned()))
}

async fn signed_in(app: Arc<App>, cookie: Option<String>, query: CallbackQuery) -> Result<Value, String> {
    if cookie.is_none() || cookie != query.state {
        return Err("this browser did not start this sign-in".into());
    }
    let pending = query
        .state
        .and_then(|state| app.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&state))
        .filter(|pending| pending.started.elapsed() < PENDING_FOR)
        .ok_or("unknown, expired or reused state")?;
    // RFC 9207: the answer names the provider that gave it.
    if query.iss.as_deref() != Some(app.issuer.as_str()) {
        return Err("the answer does not come from the expected provider".into());
    }
    if let Some(error) = query.error {
        return Err(error);
    }
    let code = AuthorizationCode::new(query.code.ok_or("no code")?);
    let tokens = tokio::task::spawn_blocking({
        let app = app.clone();
        move || {
            let request = app.client.exchange_code(code).map_err(|e| e.to_string())?;
            request.set_pkce_verifier(pending.verifier).request(&http_client).map_err(|e| format!("token: {e}"))
        }
    })
    .await
    .map_err(|e| e.to_string())??;
    let id_token = tokens.id_token().ok_or("no id_token")?;
    let claims = id_token.claims(&app.client.id_token_verifier(), &pending.nonce).map_err(|e| e.to_string())?;
    let acr = claims.auth_context_ref().map(|acr| acr.as_str().to_owned()).unwrap_or_default();
    // A provider that answers less than asked (or no level) is refused here.
    if LEVELS.iter().position(|l| *l == acr).is_none_or(|reached| reached < pending.level) {
        return Err(format!("asked for {}, the provider answered {acr:?}", LEVELS[pending.level]));
    }
    let amr: Vec<&str> = claims.auth_method_refs().into_iter().flatten().map(|m| m.as_str()).collect();
    let name = claims.name().and_then(|name| name.get(None)).map(|name| name.as_str());
    Ok(json!({ "sub": claims.subject().as_str(), "acr": acr, "amr": amr, "name": name }))
}
