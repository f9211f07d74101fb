//! The one error every handler returns. Most are RFC 9457 problem details —
//! `application/problem+json` with a stable `type` a client can switch on,
//! one of [`ProblemType`] (each documented in docs/ERRORS.md, which a test
//! checks) — and the OAuth endpoints' errors are RFC 6749 §5.2 objects, as
//! the wallets those protocols serve expect.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shenfen_face::FaceError;
use shenfen_store::StoreError;
use utoipa::ToSchema;

use crate::counter::CounterError;
use crate::openapi::{OAuthError, problem_types};
use crate::work_pool::PoolError;

/// The media type of problem answers (RFC 9457 §3).
pub(crate) const PROBLEM: &str = "application/problem+json";

/// The `type` URIs are URNs: stable identifiers, not links to follow.
const TYPE_PREFIX: &str = "urn:shenfen:problem:";

/// Every kind of problem the server answers; its code is the last part of
/// the problem's `type` URI and never changes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    /// The request's form is wrong (a field, a value, a missing part).
    InvalidRequest,
    /// A malformed request the framework refused before a handler saw it.
    BadRequest,
    /// No such path.
    NotFound,
    /// The method is not served at this path.
    MethodNotAllowed,
    /// The body is over the endpoint's limit.
    PayloadTooLarge,
    /// The body is not the media type the endpoint reads.
    UnsupportedMediaType,
    /// The request took longer than the server allows.
    Timeout,
    /// Too many attempts in a window.
    RateLimited,
    /// The CPU pool is full; retry shortly.
    Busy,
    /// A dependency (the database) is down.
    Unavailable,
    /// Anything else: the cause is logged, never sent.
    Internal,
    /// Every refused enrollment, whatever its reason.
    EnrollmentRefused,
    /// No or no valid operator session.
    OperatorUnauthenticated,
    /// The operator's role does not include what the endpoint needs.
    OperatorForbidden,
    /// No valid presentation of the citizen's own credential.
    CitizenUnauthenticated,
    /// No or a wrong relying-party API key.
    RelyingPartyUnauthenticated,
    /// Neither a registered counter device nor a counter operator.
    CounterUnauthenticated,
    /// The ID number an operator typed is not in the registry.
    NotRegistered,
    /// A relying party asked for claims outside its entitlement.
    NotEntitled,
    /// A relying party with this client id is registered already.
    AlreadyRegistered,
    /// The presentation request is unknown, expired or already answered.
    RequestClosed,
    /// The citizen has no PIN (lightweight edition).
    PinNotSet,
    /// Too many wrong PINs: wait, or re-enroll.
    PinLocked,
    /// The PIN is wrong.
    PinIncorrect,
    /// The live face did not match the registered one.
    FaceNotConfirmed,
    /// A counter refused the QR; the problem's `code` says why.
    PresentationRefused,
    /// A QR was seen but does not decode.
    QrUnreadable,
    /// No QR in the frame.
    QrNotFound,
    /// An image does not decode.
    ImageUnreadable,
}

impl ProblemType {
    /// Every type, for the test that keeps docs/ERRORS.md complete.
    pub const ALL: [ProblemType; 29] = [
        Self::InvalidRequest,
        Self::BadRequest,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::Timeout,
        Self::RateLimited,
        Self::Busy,
        Self::Unavailable,
        Self::Internal,
        Self::EnrollmentRefused,
        Self::OperatorUnauthenticated,
        Self::OperatorForbidden,
        Self::CitizenUnauthenticated,
        Self::RelyingPartyUnauthenticated,
        Self::CounterUnauthenticated,
        Self::NotRegistered,
        Self::NotEntitled,
        Self::AlreadyRegistered,
        Self::RequestClosed,
        Self::PinNotSet,
        Self::PinLocked,
        Self::PinIncorrect,
        Self::FaceNotConfirmed,
        Self::PresentationRefused,
        Self::QrUnreadable,
        Self::QrNotFound,
        Self::ImageUnreadable,
    ];

    /// The stable code: the last part of the `type` URI.
    pub fn code(self) -> &'static str {
        self.describe().0
    }

    /// The status this type answers with.
    pub fn status(self) -> StatusCode {
        self.describe().1
    }

    /// The problem's `type` URI.
    pub(crate) fn type_uri(self) -> String {
        format!("{TYPE_PREFIX}{}", self.code())
    }

    fn title(self) -> &'static str {
        self.describe().2
    }

    fn describe(self) -> (&'static str, StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::InvalidRequest => ("invalid-request", S::BAD_REQUEST, "Invalid request"),
            Self::BadRequest => ("bad-request", S::BAD_REQUEST, "Malformed request"),
            Self::NotFound => ("not-found", S::NOT_FOUND, "No such resource"),
            Self::MethodNotAllowed => ("method-not-allowed", S::METHOD_NOT_ALLOWED, "Method not allowed"),
            Self::PayloadTooLarge => ("payload-too-large", S::PAYLOAD_TOO_LARGE, "Request body too large"),
            Self::UnsupportedMediaType => {
                ("unsupported-media-type", S::UNSUPPORTED_MEDIA_TYPE, "Send application/json")
            }
            Self::Timeout => ("timeout", S::REQUEST_TIMEOUT, "Request took too long"),
            Self::RateLimited => ("rate-limited", S::TOO_MANY_REQUESTS, "Too many attempts"),
            Self::Busy => ("busy", S::SERVICE_UNAVAILABLE, "Server busy"),
            Self::Unavailable => ("unavailable", S::SERVICE_UNAVAILABLE, "Service unavailable"),
            Self::Internal => ("internal", S::INTERNAL_SERVER_ERROR, "Internal error"),
            Self::EnrollmentRefused => ("enrollment-refused", S::UNPROCESSABLE_ENTITY, "Enrollment refused"),
            Self::OperatorUnauthenticated => ("operator-unauthenticated", S::UNAUTHORIZED, "Operator not signed in"),
            Self::OperatorForbidden => ("operator-forbidden", S::FORBIDDEN, "Not allowed for this role"),
            Self::CitizenUnauthenticated => ("citizen-unauthenticated", S::UNAUTHORIZED, "Not authenticated"),
            Self::RelyingPartyUnauthenticated => {
                ("relying-party-unauthenticated", S::UNAUTHORIZED, "Relying party not authenticated")
            }
            Self::CounterUnauthenticated => {
                ("counter-unauthenticated", S::UNAUTHORIZED, "Counter device not recognised")
            }
            Self::NotRegistered => ("not-registered", S::NOT_FOUND, "Not in the registry"),
            Self::NotEntitled => ("not-entitled", S::FORBIDDEN, "Not entitled to these claims"),
            Self::AlreadyRegistered => ("already-registered", S::CONFLICT, "Already registered"),
            Self::RequestClosed => ("request-closed", S::NOT_FOUND, "No such open request"),
            Self::PinNotSet => ("pin-not-set", S::CONFLICT, "No PIN"),
            Self::PinLocked => ("pin-locked", S::TOO_MANY_REQUESTS, "PIN locked"),
            Self::PinIncorrect => ("pin-incorrect", S::UNAUTHORIZED, "Wrong PIN"),
            Self::FaceNotConfirmed => ("face-not-confirmed", S::UNPROCESSABLE_ENTITY, "Face not confirmed"),
            Self::PresentationRefused => ("presentation-refused", S::UNPROCESSABLE_ENTITY, "The QR code is refused"),
            Self::QrUnreadable => ("qr-unreadable", S::UNPROCESSABLE_ENTITY, "The QR code does not decode"),
            Self::QrNotFound => ("qr-not-found", S::UNPROCESSABLE_ENTITY, "No QR code in the frame"),
            Self::ImageUnreadable => ("image-unreadable", S::UNPROCESSABLE_ENTITY, "The image does not decode"),
        }
    }
}

/// The body of a problem response.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub(crate) struct Problem {
    /// Stable problem type, `urn:shenfen:problem:<code>` (docs/ERRORS.md).
    #[serde(rename = "type")]
    #[schema(schema_with = problem_types)]
    type_uri: String,
    /// Short, fixed summary of the type.
    title: &'static str,
    /// The HTTP status, repeated for clients that lose it.
    status: u16,
    /// What went wrong in this occurrence and what to do; never PII.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// The domain error's stable code (docs/ERRORS.md), where one says more than the type.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    /// The request member at fault (`id_number`, `name`, `card_expiry`,
    /// `edition`, `pin`), where one is: a page marks that field.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

/// An error answer: a problem (with, where waiting helps, `Retry-After`),
/// or an OAuth error object.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// RFC 9457 problem details.
    Problem {
        /// What kind of problem.
        kind: ProblemType,
        /// The status, when the framework's differs from the type's usual one.
        status: StatusCode,
        /// What went wrong and what to do; never PII.
        detail: Option<String>,
        /// The domain error's code, where one says more than the type.
        code: Option<&'static str>,
        /// The request member at fault, where one is.
        field: Option<&'static str>,
        /// Seconds after which trying again may succeed.
        retry_after: Option<i64>,
    },
    /// RFC 6749 §5.2 (`error`, `error_description`), never cached.
    OAuth {
        /// The status (400, or 401 for a bad access token).
        status: StatusCode,
        /// The OAuth error code.
        error: &'static str,
        /// Human-readable detail.
        description: String,
        /// The `WWW-Authenticate` challenge of a refused `Authorization` header.
        challenge: Option<String>,
    },
}

impl ApiError {
    /// A problem of `kind`, at its usual status.
    pub fn new(kind: ProblemType) -> ApiError {
        ApiError::Problem { kind, status: kind.status(), detail: None, code: None, field: None, retry_after: None }
    }

    /// 400 `invalid-request` saying what is wrong with the request's form.
    pub fn invalid(detail: impl Into<String>) -> ApiError {
        ApiError::new(ProblemType::InvalidRequest).detail(detail)
    }

    /// 400 `invalid-request` about one member of the request, named in the
    /// problem's `field` so that a page can mark it without reading English.
    pub fn invalid_field(field: &'static str, detail: impl Into<String>) -> ApiError {
        let mut invalid = ApiError::invalid(detail);
        if let ApiError::Problem { field: named, .. } = &mut invalid {
            *named = Some(field);
        }
        invalid
    }

    /// 500 without internals: the cause goes to the log, not to the client.
    pub fn internal() -> ApiError {
        ApiError::new(ProblemType::Internal)
            .detail("the request could not be completed; it was not applied, try again later")
    }

    /// An OAuth error object.
    pub fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> ApiError {
        ApiError::OAuth { status, error, description: description.into(), challenge: None }
    }

    /// The same OAuth error with a `WWW-Authenticate` challenge: RFC 6749
    /// §5.2 — a client that authenticated with the `Authorization` header and
    /// failed is answered 401 with the challenge of the scheme it used.
    pub fn challenge(mut self, value: impl Into<String>) -> ApiError {
        if let ApiError::OAuth { challenge, .. } = &mut self {
            *challenge = Some(value.into());
        }
        self
    }

    /// The same problem with a detail line.
    pub fn detail(self, text: impl Into<String>) -> ApiError {
        self.map_problem(|detail, _, _| *detail = Some(text.into()))
    }

    /// The same problem with the domain error's stable code.
    pub fn code(self, value: &'static str) -> ApiError {
        self.map_problem(|_, code, _| *code = Some(value))
    }

    /// The same problem with a `Retry-After` of `secs`.
    pub fn retry_after(self, secs: i64) -> ApiError {
        self.map_problem(|_, _, retry| *retry = Some(secs))
    }

    /// The same problem answered with another status (the framework's own errors).
    fn with_status(mut self, new: StatusCode) -> ApiError {
        if let ApiError::Problem { status, .. } = &mut self {
            *status = new;
        }
        self
    }

    /// The same problem with `more` added to its detail.
    pub fn extend_detail(self, more: &str) -> ApiError {
        self.map_problem(|detail, _, _| *detail = detail.take().map(|d| format!("{d}{more}")))
    }

    fn map_problem(
        mut self,
        change: impl FnOnce(&mut Option<String>, &mut Option<&'static str>, &mut Option<i64>),
    ) -> ApiError {
        if let ApiError::Problem { detail, code, retry_after, .. } = &mut self {
            change(detail, code, retry_after);
        }
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Problem { kind, status, detail, code, field, retry_after } => {
                let body = Problem {
                    type_uri: kind.type_uri(),
                    title: kind.title(),
                    status: status.as_u16(),
                    detail,
                    code,
                    field,
                };
                let mut response = (status, Json(body)).into_response();
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM));
                if let Some(value) = retry_after.and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok()) {
                    headers.insert(header::RETRY_AFTER, value);
                }
                response
            }
            ApiError::OAuth { status, error, description, challenge } => {
                let body = OAuthError { error, error_description: description };
                let mut response = (status, Json(body)).into_response();
                let headers = response.headers_mut();
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                // RFC 6750 §3: a refused Bearer token says so in the challenge.
                if error == "invalid_token" {
                    headers
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
                }
                if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
                response
            }
        }
    }
}

/// A store failure is logged by its code and answered 500 without internals.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(code = e.code(), "store failure");
        ApiError::internal()
    }
}

/// A full pool answers 503 with `Retry-After`; a failed job 500.
impl From<PoolError> for ApiError {
    fn from(e: PoolError) -> ApiError {
        match e {
            PoolError::Busy => ApiError::new(ProblemType::Busy).detail(e.to_string()).retry_after(1),
            PoolError::Failed => ApiError::internal(),
        }
    }
}

/// An image the face engine cannot read is the client's, answered with the
/// engine's code; any other face failure (a model, an inference) is the
/// server's, logged and answered 500.
impl From<FaceError> for ApiError {
    fn from(e: FaceError) -> ApiError {
        match e {
            FaceError::UnsupportedImage(_)
            | FaceError::CorruptImage(_)
            | FaceError::ImageTooLarge { .. }
            | FaceError::ImageTooSmall { .. } => {
                ApiError::new(ProblemType::ImageUnreadable).detail(format!("[{}] {e}", e.code()))
            }
            _ => {
                tracing::error!(code = e.code(), "face engine failure");
                ApiError::internal()
            }
        }
    }
}

/// A counter's refusal: the credential's (or the face's) code says why.
impl From<CounterError> for ApiError {
    fn from(e: CounterError) -> ApiError {
        ApiError::new(ProblemType::PresentationRefused).detail(e.to_string()).code(e.code())
    }
}

/// Rewrites the plain-text errors axum and tower-http produce on their own
/// (405, 408, 413, 415, form rejections) into problem details.
pub(crate) async fn problem_for_plain_errors(response: Response) -> Response {
    let status = response.status();
    // Handlers answer in JSON (problems, or OAuth errors where the protocol
    // says so); only the framework's own plain-text errors are rewritten.
    let is_plain = response.headers().get(header::CONTENT_TYPE).is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !is_plain || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let kind = match status {
        StatusCode::METHOD_NOT_ALLOWED => ProblemType::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ProblemType::PayloadTooLarge,
        StatusCode::REQUEST_TIMEOUT => ProblemType::Timeout,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemType::UnsupportedMediaType,
        StatusCode::NOT_FOUND => ProblemType::NotFound,
        s if s.is_client_error() => ProblemType::BadRequest,
        _ => return ApiError::internal().into_response(),
    };
    ApiError::new(kind).with_status(status).into_response()
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

    #[test]
    fn problem_types_have_distinct_codes() {
        let mut codes: Vec<&str> = ProblemType::ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ProblemType::ALL.len());
    }
}
