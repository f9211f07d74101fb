//! The pages people touch: the citizen's wallet (a PWA), the counter page and
//! the operator console. They are plain HTML and JavaScript modules compiled
//! into the binary (no build step, no framework); the two browser libraries
//! they need — DEFLATE with a preset dictionary (`fflate`) and QR rendering
//! (`qrcode-generator`) — come from npm (`npm ci --prefix web`) and are read
//! from that directory at start.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use shenfen_core::{Edition, Purpose};
use shenfen_credential::DICTIONARY;
use tower_http::compression::CompressionLayer;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, ProblemType};

/// The browser libraries, by the name pages import them under, and where npm puts them.
const VENDOR_FILES: [(&str, &str); 2] =
    [("fflate.js", "fflate/esm/browser.js"), ("qrcode.js", "qrcode-generator/dist/qrcode.mjs")];

/// The pages' own files, compiled in.
const APP_FILES: [(&str, &str, &str); 17] = [
    ("common.css", "text/css; charset=utf-8", include_str!("../../../web/app/common.css")),
    ("icon.svg", "image/svg+xml", include_str!("../../../web/app/icon.svg")),
    ("i18n.js", JS, include_str!("../../../web/app/i18n.js")),
    ("problem-texts.js", JS, include_str!("../../../web/app/problem-texts.js")),
    ("dom.js", JS, include_str!("../../../web/app/dom.js")),
    ("camera.js", JS, include_str!("../../../web/app/camera.js")),
    ("sd-jwt.js", JS, include_str!("../../../web/app/sd-jwt.js")),
    ("offline-format.js", JS, include_str!("../../../web/app/offline-format.js")),
    ("wallet-store.js", JS, include_str!("../../../web/app/wallet-store.js")),
    ("card-status.js", JS, include_str!("../../../web/app/card-status.js")),
    ("id-number.js", JS, include_str!("../../../web/app/id-number.js")),
    ("service-link.js", JS, include_str!("../../../web/app/service-link.js")),
    ("wallet.js", JS, include_str!("../../../web/app/wallet.js")),
    ("counter.js", JS, include_str!("../../../web/app/counter.js")),
    ("console.js", JS, include_str!("../../../web/app/console.js")),
    ("chart.js", JS, include_str!("../../../web/app/chart.js")),
    ("signin.js", JS, include_str!("../../../web/app/signin.js")),
];
const JS: &str = "text/javascript; charset=utf-8";

/// The browser libraries as read at start; a missing one is served as a
/// script that says how to install it, so the page explains instead of breaking.
pub struct WebAssets {
    vendor: Vec<(&'static str, Option<Vec<u8>>)>,
}

/// None of the libraries: the pages say how to install them.
impl Default for WebAssets {
    fn default() -> WebAssets {
        WebAssets { vendor: VENDOR_FILES.iter().map(|(name, _)| (*name, None)).collect() }
    }
}

impl WebAssets {
    /// Reads the libraries from an npm `node_modules` directory.
    pub fn load(node_modules: &Path) -> WebAssets {
        let vendor = VENDOR_FILES
            .iter()
            .map(|(name, relative)| {
                let file = std::fs::read(node_modules.join(relative)).ok();
                if file.is_none() {
                    tracing::warn!(library = name, dir = %node_modules.display(), "browser library missing: run `npm ci --prefix web`");
                }
                (*name, file)
            })
            .collect();
        WebAssets { vendor }
    }

    /// Where `npm ci --prefix web` puts the libraries in a checkout.
    pub fn checkout_dir() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/node_modules"))
    }
}

/// The routes of the pages and their files, gzip-compressed for clients that
/// accept it. Only these static files: compressing responses that carry
/// secrets beside reflected input would open them to BREACH-style attacks.
/// They are not a JSON API, so the OpenAPI document leaves them out.
pub(crate) fn pages() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { page(include_str!("../../../web/app/index.html")) }))
        .route("/wallet/", get(|| async { page_with(include_str!("../../../web/app/wallet.html"), WALLET_POLICY) }))
        .route("/counter/", get(|| async { page(include_str!("../../../web/app/counter.html")) }))
        .route("/console/", get(|| async { page(include_str!("../../../web/app/console.html")) }))
        .route("/signin/", get(|| async { page(include_str!("../../../web/app/signin.html")) }))
        .route("/wallet/sw.js", get(|| async { file(JS, include_str!("../../../web/app/sw.js")) }))
        .route(
            "/wallet/manifest.webmanifest",
            get(|| async { file("application/manifest+json", include_str!("../../../web/app/manifest.webmanifest")) }),
        )
        .route("/app/{name}", get(app_file))
        .route("/vendor/{name}", get(vendor_file))
        .layer(compressed())
}

/// gzip for clients that accept it: for the pages' files and the offline
/// format only, which carry nothing secret.
pub(crate) fn compressed() -> CompressionLayer {
    CompressionLayer::new().gzip(true)
}

/// Pages may load only this origin's files, may use the camera, and may not be framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; \
    worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The wallet's policy: as every page's, except that it may also fetch from
/// the relying parties that run their own verifier (a request object, the
/// `direct_post` answer) — over https, or http on this machine for a demo;
/// which of them it answers is decided by the authority's attestation, not here.
const WALLET_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; media-src 'self' blob: mediastream:; \
    connect-src 'self' https: http://127.0.0.1:* http://localhost:*; \
    worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn page(html: &'static str) -> Response {
    page_with(html, CONTENT_SECURITY_POLICY)
}

fn page_with(html: &'static str, policy: &'static str) -> Response {
    let mut response = file("text/html; charset=utf-8", html);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("permissions-policy", HeaderValue::from_static("camera=(self), microphone=()"));
    response
}

fn file(content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn app_file(UrlPath(name): UrlPath<String>) -> Result<Response, ApiError> {
    let (_, content_type, body) = APP_FILES
        .iter()
        .find(|(file_name, _, _)| *file_name == name)
        .ok_or_else(|| ApiError::new(ProblemType::NotFound))?;
    Ok(file(content_type, *body))
}

async fn vendor_file(State(state): State<Arc<AppState>>, UrlPath(name): UrlPath<String>) -> Result<Response, ApiError> {
    let (_, found) = state
        .web
        .vendor
        .iter()
        .find(|(file_name, _)| *file_name == name)
        .ok_or_else(|| ApiError::new(ProblemType::NotFound))?;
    Ok(match found {
        Some(bytes) => file(JS, bytes.clone()),
        None => file(
            JS,
            format!("throw new Error('{name} is not installed: run npm ci --prefix web, then restart shenfen');"),
        ),
    })
}

/// What a wallet needs to make offline QR codes.
#[derive(Serialize, ToSchema)]
pub(crate) struct OfflineFormat {
    /// The preset DEFLATE dictionary of the payload, base64.
    dictionary: String,
    /// Per purpose, in the order pages list them.
    purposes: Vec<OfflinePurpose>,
    /// The payload version.
    version: u32,
}

/// What one purpose discloses.
#[derive(Serialize, ToSchema)]
pub(crate) struct OfflinePurpose {
    /// The `aud` of the offline presentation.
    audience: String,
    /// The claims disclosed, per edition.
    claims: ClaimsPerEdition,
    /// The purpose's name.
    purpose: &'static str,
}

/// Claim names per edition.
#[derive(Serialize, ToSchema)]
pub(crate) struct ClaimsPerEdition {
    /// Of the lightweight edition.
    lightweight: Vec<&'static str>,
    /// Of the upgraded edition.
    upgraded: Vec<&'static str>,
}

/// `GET /web/offline-format.json`: what the wallet needs to make offline QR
/// codes the counters accept — the payload's preset DEFLATE dictionary and
/// the claims each purpose discloses per edition, in the order pages list
/// them — taken from the Rust
/// definitions so that the browser never holds a copy that could drift.
#[utoipa::path(get, path = "/web/offline-format.json",
    summary = "What a wallet needs to make offline QR codes: the payload version, its preset DEFLATE dictionary (base64) and, per purpose, the audience and the claims disclosed per edition.",
    responses((status = 200, description = "format", body = OfflineFormat)))]
pub(crate) async fn offline_format() -> Json<OfflineFormat> {
    let purposes = Purpose::ALL
        .iter()
        .map(|purpose| OfflinePurpose {
            audience: purpose.audience(),
            claims: ClaimsPerEdition {
                lightweight: purpose.claims(Edition::Lightweight),
                upgraded: purpose.claims(Edition::Upgraded),
            },
            purpose: purpose.as_str(),
        })
        .collect();
    Json(OfflineFormat { dictionary: STANDARD.encode(DICTIONARY), purposes, version: 1 })
}
