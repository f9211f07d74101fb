//! Random tokens and their stored hashes, the Bearer token of a request, and
//! the request-body helpers the JSON endpoints share.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// A fresh 256-bit random token, base64url.
pub fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// The token of an `Authorization: Bearer …` header, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// What the store keeps of a token: its SHA-256, so a database leak yields no usable token.
pub fn token_hash(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    out
}

/// Reads a JSON body of at most `limit` bytes into `T`, or the problem to answer.
pub async fn json_body<T: DeserializeOwned>(body: Body, limit: usize) -> Result<T, Problem> {
    let bytes = to_bytes(body, limit).await.map_err(|_| {
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Request body too large")
            .with_detail(format!("at most {limit} bytes"))
    })?;
    serde_json::from_slice(&bytes).map_err(|e| invalid(&format!("the body is not the expected JSON: {e}")))
}

/// 400 with a detail saying what is wrong with the request's form.
pub fn invalid(detail: &str) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "invalid-request", "Invalid request").with_detail(detail)
}
