//! RFC 9457 problem details: every error the server returns is
//! `application/problem+json` with a stable `type` a client can switch on.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The `type` URIs are URNs: stable identifiers, not links to follow.
const TYPE_PREFIX: &str = "urn:shenfen:problem:";

/// One problem response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// Stable problem type, `urn:shenfen:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short, fixed summary of the type.
    pub title: &'static str,
    /// The HTTP status, repeated for clients that lose it.
    pub status: u16,
    /// What went wrong in this occurrence and what to do; never PII.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The domain error's stable code (docs/ERRORS.md), where one says more than the type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

impl Problem {
    /// A problem of type `code` with `status`.
    pub fn new(status: StatusCode, code: &str, title: &'static str) -> Problem {
        Problem { type_uri: format!("{TYPE_PREFIX}{code}"), title, status: status.as_u16(), detail: None, code: None }
    }

    /// The same problem with a detail line.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Problem {
        self.detail = Some(detail.into());
        self
    }

    /// The same problem with the domain error's code.
    pub fn with_code(mut self, code: &'static str) -> Problem {
        self.code = Some(code);
        self
    }

    /// 404 for any path the server does not serve.
    pub fn not_found() -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "No such resource")
    }

    /// 500 without internals: the cause goes to the log, not to the client.
    pub fn internal() -> Problem {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error")
            .with_detail("the request could not be completed; it was not applied, try again later")
    }

    /// 503 when a dependency (the database) is not available.
    pub fn unavailable(detail: &str) -> Problem {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable").with_detail(detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&self)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}

/// Rewrites the plain-text errors axum and tower-http produce on their own
/// (405, 408, 413, 415, form rejections) into problem details.
pub async fn problem_for_plain_errors(response: Response) -> Response {
    let status = response.status();
    // Handlers answer in JSON (problems, or OAuth errors where the protocol
    // says so); only the framework's own plain-text errors are rewritten.
    let is_plain = response.headers().get(header::CONTENT_TYPE).is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !is_plain || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (code, title) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "Request body too large"),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "Request took too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "Send application/json"),
        StatusCode::NOT_FOUND => ("not-found", "No such resource"),
        s if s.is_client_error() => ("bad-request", "Malformed request"),
        _ => return Problem::internal().into_response(),
    };
    Problem::new(status, code, title).into_response()
}
