//! Requests through the server's router in process (no socket): what a
//! benchmark of the server stack sends, with the answers parsed.

use anyhow::Result;
use axum::body::{Body, to_bytes};
use axum::http::Request;
use serde_json::Value;
use tower::ServiceExt;

/// GETs `path` through the router; the body as text.
pub(crate) async fn get_text(app: &axum::Router, path: &str) -> Result<String> {
    let response = app.clone().oneshot(Request::get(path).body(Body::empty())?).await?;
    let bytes = to_bytes(response.into_body(), 1 << 20).await?;
    Ok(String::from_utf8(bytes.to_vec())?)
}

/// GETs a JSON resource through the router (with the bench relying party's key).
pub(crate) async fn get_json(app: &axum::Router, path: &str, bearer: &str) -> Result<Value> {
    let request = Request::get(path).header("authorization", format!("Bearer {bearer}")).body(Body::empty())?;
    let response = app.clone().oneshot(request).await?;
    let bytes = to_bytes(response.into_body(), 1 << 20).await?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// POSTs a JSON body through the router and parses the JSON answer.
pub(crate) async fn call(app: &axum::Router, path: &str, body: String) -> Result<Value> {
    post(app, path, "application/json", None, body).await
}

/// POSTs `body` of `content_type` (with a Bearer token if given) through the
/// router and parses the JSON answer.
pub(crate) async fn post(
    app: &axum::Router,
    path: &str,
    content_type: &str,
    bearer: Option<&str>,
    body: String,
) -> Result<Value> {
    let mut request = Request::post(path).header("content-type", content_type);
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app.clone().oneshot(request.body(Body::from(body))?).await?;
    let bytes = to_bytes(response.into_body(), 1 << 20).await?;
    Ok(serde_json::from_slice(&bytes)?)
}
