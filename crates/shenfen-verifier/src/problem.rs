//! How this verifier refuses: RFC 9457 problems (`urn:shenfen:problem:<type>`,
//! the same types the authority answers, docs/ERRORS.md) to the relying
//! party's backend, and RFC 6749 §5.2 error objects to the wallet's
//! `direct_post`, as OpenID4VP wallets parse.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The kinds of problem this verifier answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    /// A field is missing, malformed or out of range.
    InvalidRequest,
    /// No such path.
    NotFound,
    /// The body is over the endpoint's limit.
    PayloadTooLarge,
    /// No or a wrong API key.
    RelyingPartyUnauthenticated,
    /// Claims outside the attested entitlement.
    NotEntitled,
    /// The request is unknown, expired, or answered and read.
    RequestClosed,
    /// L2/L3 asked of a verifier that answers at L1 only.
    LevelUnavailable,
    /// Too many open requests.
    Busy,
    /// The cached keys and status lists are older than allowed.
    Unavailable,
    /// Anything else.
    Internal,
}

impl ProblemType {
    /// Every type, for the test that keeps docs/ERRORS.md complete.
    pub const ALL: [ProblemType; 10] = [
        Self::InvalidRequest,
        Self::NotFound,
        Self::PayloadTooLarge,
        Self::RelyingPartyUnauthenticated,
        Self::NotEntitled,
        Self::RequestClosed,
        Self::LevelUnavailable,
        Self::Busy,
        Self::Unavailable,
        Self::Internal,
    ];

    /// The stable code: the last part of the `type` URI.
    pub fn code(self) -> &'static str {
        self.describe().0
    }

    /// The status this type answers with.
    pub fn status(self) -> StatusCode {
        self.describe().1
    }

    fn describe(self) -> (&'static str, StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::InvalidRequest => ("invalid-request", S::BAD_REQUEST, "Invalid request"),
            Self::NotFound => ("not-found", S::NOT_FOUND, "No such resource"),
            Self::PayloadTooLarge => ("payload-too-large", S::PAYLOAD_TOO_LARGE, "Request body too large"),
            Self::RelyingPartyUnauthenticated => {
                ("relying-party-unauthenticated", S::UNAUTHORIZED, "Relying party not authenticated")
            }
            Self::NotEntitled => ("not-entitled", S::FORBIDDEN, "Not entitled to these claims"),
            Self::RequestClosed => ("request-closed", S::NOT_FOUND, "No such open request"),
            Self::LevelUnavailable => {
                ("level-unavailable", S::UNPROCESSABLE_ENTITY, "This verifier answers at L1 only")
            }
            Self::Busy => ("busy", S::SERVICE_UNAVAILABLE, "Server busy"),
            Self::Unavailable => ("unavailable", S::SERVICE_UNAVAILABLE, "Service unavailable"),
            Self::Internal => ("internal", S::INTERNAL_SERVER_ERROR, "Internal error"),
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// A problem of a type, with what went wrong and what to do (never PII).
    Problem(ProblemType, String),
    /// An OAuth error object for the wallet (`invalid_request`, …).
    OAuth(StatusCode, &'static str, String),
}

impl Refusal {
    /// A problem of `kind` saying `detail`.
    pub(crate) fn problem(kind: ProblemType, detail: impl Into<String>) -> Refusal {
        Refusal::Problem(kind, detail.into())
    }

    /// A 400 `invalid_request` for the wallet.
    pub(crate) fn wallet(description: impl Into<String>) -> Refusal {
        Refusal::OAuth(StatusCode::BAD_REQUEST, "invalid_request", description.into())
    }

    /// The problem's type and detail, for callers in the same process (an
    /// OAuth error, which only wallets receive, is an invalid request).
    pub(crate) fn into_parts(self) -> (ProblemType, String) {
        match self {
            Refusal::Problem(kind, detail) => (kind, detail),
            Refusal::OAuth(_, _, detail) => (ProblemType::InvalidRequest, detail),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = match self {
            Refusal::Problem(kind, detail) => {
                let (code, status, title) = kind.describe();
                let body = json!({
                    "type": format!("urn:shenfen:problem:{code}"),
                    "title": title,
                    "status": status.as_u16(),
                    "detail": detail,
                });
                let mut response = (status, Json(body)).into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
                response
            }
            Refusal::OAuth(status, error, description) => {
                (status, Json(json!({ "error": error, "error_description": description }))).into_response()
            }
        };
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_type_is_documented_with_its_status() {
        let errors = include_str!("../../../docs/ERRORS.md");
        for kind in ProblemType::ALL {
            let row = format!("| `{}` | {} |", kind.code(), kind.status().as_u16());
            assert!(errors.contains(&row), "docs/ERRORS.md lacks the row starting {row}");
        }
    }
}
