//! The crate's two kinds of failure: [`ServicesError`] for what goes wrong
//! inside (database, keys, the authority's answers), and [`Refusal`] for what
//! a request is told — an RFC 9457 problem with a stable `type`
//! (`urn:shenfen:services:<type>`, documented in docs/ERRORS.md), which the
//! pages' middleware turns into a readable page for browsers.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What can go wrong inside the services process.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// The database refused or failed a statement.
    #[error("{0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("{0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// `--database-url` is neither `sqlite:` nor `postgres://`.
    #[error("unsupported database URL (sqlite:PATH or postgres://…)")]
    UnsupportedUrl,
    /// A key file could not be read, written or understood.
    #[error("{path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A sealed value did not open: a changed byte, a moved row or another key.
    #[error("a sealed value does not open with this key")]
    Sealed,
    /// The system's random generator failed.
    #[error("no randomness available")]
    Randomness,
    /// Hashing a password failed.
    #[error("{0}")]
    Hashing(String),
    /// A stored row does not hold what its columns promise.
    #[error("{0}")]
    Corrupt(String),
    /// The authority could not be reached or answered something unusable.
    #[error("{0}")]
    Authority(String),
    /// A service could not listen, or its server failed.
    #[error("{address}: {reason}")]
    Listen {
        /// The address.
        address: String,
        /// What failed.
        reason: String,
    },
    /// A clerk, officer or desk with this name exists already.
    #[error("the account or desk {0} exists already")]
    ClerkExists(String),
}

impl ServicesError {
    /// The stable code of this error (docs/ERRORS.md), printed by the
    /// command line as `error: [code] reason`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Database(_) => "services.database",
            Self::Migration(_) => "services.migration",
            Self::UnsupportedUrl => "services.database_url",
            Self::KeyFile { .. } => "services.key_file",
            Self::Sealed => "services.sealed",
            Self::Randomness => "services.randomness",
            Self::Hashing(_) => "services.hashing",
            Self::Corrupt(_) => "services.corrupt",
            Self::Authority(_) => "services.authority",
            Self::Listen { .. } => "services.listen",
            Self::ClerkExists(_) => "services.clerk_exists",
        }
    }
}

/// Every kind of refusal the services answer; its code is the last part of
/// the `type` URI and never changes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    /// The page needs a signed-in citizen.
    NotSignedIn,
    /// The sign-in's answer reached a browser that did not start it (no or another state cookie).
    SignInNotStarted,
    /// The sign-in's state is unknown, expired or used already.
    SignInUnknown,
    /// The authority's answer could not be redeemed or did not validate.
    SignInFailed,
    /// The authority answered for another person than the signed-in one.
    WrongPerson,
    /// The level needed was not reached (lightweight edition, or below L3).
    LevelNotMet,
    /// The citizen declined in the wallet.
    SignInDeclined,
    /// A filing without the citizen's consent to disclose their legal identity.
    ConsentRequired,
    /// A filing's fields are missing or malformed; `errors` names them.
    InvalidFiling,
    /// No, an expired or an ended clerk session, or a wrong password.
    ClerkUnauthenticated,
    /// Too many attempts; wait as the detail says.
    RateLimited,
    /// Too many sign-ins in progress; retry shortly.
    Busy,
    /// A form posted from another origin.
    CrossOrigin,
    /// No such page or item.
    NotFound,
    /// The body is over the limit.
    PayloadTooLarge,
    /// The request could not be read.
    BadRequest,
    /// No or an unknown gate device token.
    GateUnauthenticated,
    /// The gate's QR is not a presentation, or does not verify (untrusted, forged, wrong railway).
    QrInvalid,
    /// The QR is older than its 90 seconds: a screenshot, likely.
    QrExpired,
    /// This very QR passed a gate already.
    QrReplayed,
    /// The card behind the QR is revoked.
    CardRevoked,
    /// The passenger holds no ticket for this train (or the ticket is not theirs yet).
    NoTicket,
    /// The ticket passed a gate already.
    TicketUsed,
    /// The passenger holds a ticket on this train already (one per passenger and train).
    TicketHeld,
    /// The train has no seat left.
    SoldOut,
    /// A transfer or acceptance link is unknown, expired or used.
    OfferClosed,
    /// The card carries no pseudonym for this railway (issued before it registered): renew the card.
    NoPseudonym,
    /// No or an unknown desk device token.
    DeskUnauthenticated,
    /// The camera frame shows no QR code yet.
    QrNotFound,
    /// A QR code is seen but does not decode.
    QrUnreadable,
    /// The QR was made for another hotel or purpose.
    WrongAudience,
    /// The card's issuer is not an authority the hotel trusts.
    UntrustedIssuer,
    /// The QR does not verify for another reason; `code` names it.
    QrRefused,
    /// The card carries no sealed ID number (issued before the police key).
    NoSealedIdNumber,
    /// The guest is under 18.
    NotAdult,
    /// An upgraded card's check-in needs the desk camera's frame of the guest.
    FaceRequired,
    /// The desk camera's frame shows no usable face.
    FaceUnusable,
    /// The face at the desk is not the card's.
    FaceMismatch,
    /// A register batch without a hotel's intake token.
    IntakeUnauthenticated,
    /// No, an expired or an ended officer session, or a wrong password.
    OfficerUnauthenticated,
    /// Anything else: the cause is logged, never sent.
    Internal,
}

impl ProblemType {
    /// The stable last part of the `type` URI.
    pub fn code(self) -> &'static str {
        match self {
            ProblemType::NotSignedIn => "not-signed-in",
            ProblemType::SignInNotStarted => "sign-in-not-started",
            ProblemType::SignInUnknown => "sign-in-unknown",
            ProblemType::SignInFailed => "sign-in-failed",
            ProblemType::WrongPerson => "wrong-person",
            ProblemType::LevelNotMet => "level-not-met",
            ProblemType::SignInDeclined => "sign-in-declined",
            ProblemType::ConsentRequired => "consent-required",
            ProblemType::InvalidFiling => "invalid-filing",
            ProblemType::ClerkUnauthenticated => "clerk-unauthenticated",
            ProblemType::RateLimited => "rate-limited",
            ProblemType::Busy => "busy",
            ProblemType::CrossOrigin => "cross-origin",
            ProblemType::NotFound => "not-found",
            ProblemType::PayloadTooLarge => "payload-too-large",
            ProblemType::BadRequest => "bad-request",
            ProblemType::GateUnauthenticated => "gate-unauthenticated",
            ProblemType::QrInvalid => "qr-invalid",
            ProblemType::QrExpired => "qr-expired",
            ProblemType::QrReplayed => "qr-replayed",
            ProblemType::CardRevoked => "card-revoked",
            ProblemType::NoTicket => "no-ticket",
            ProblemType::TicketUsed => "ticket-used",
            ProblemType::TicketHeld => "ticket-held",
            ProblemType::SoldOut => "sold-out",
            ProblemType::OfferClosed => "offer-closed",
            ProblemType::NoPseudonym => "no-pseudonym",
            ProblemType::DeskUnauthenticated => "desk-unauthenticated",
            ProblemType::QrNotFound => "qr-not-found",
            ProblemType::QrUnreadable => "qr-unreadable",
            ProblemType::WrongAudience => "wrong-audience",
            ProblemType::UntrustedIssuer => "untrusted-issuer",
            ProblemType::QrRefused => "qr-refused",
            ProblemType::NoSealedIdNumber => "no-sealed-id-number",
            ProblemType::NotAdult => "not-adult",
            ProblemType::FaceRequired => "face-required",
            ProblemType::FaceUnusable => "face-unusable",
            ProblemType::FaceMismatch => "face-mismatch",
            ProblemType::IntakeUnauthenticated => "intake-unauthenticated",
            ProblemType::OfficerUnauthenticated => "officer-unauthenticated",
            ProblemType::Internal => "internal",
        }
    }

    /// The HTTP status it is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            ProblemType::NotSignedIn | ProblemType::ClerkUnauthenticated => StatusCode::UNAUTHORIZED,
            ProblemType::SignInNotStarted
            | ProblemType::SignInUnknown
            | ProblemType::WrongPerson
            | ProblemType::LevelNotMet
            | ProblemType::SignInDeclined
            | ProblemType::CrossOrigin => StatusCode::FORBIDDEN,
            ProblemType::SignInFailed => StatusCode::BAD_GATEWAY,
            ProblemType::ConsentRequired | ProblemType::InvalidFiling => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ProblemType::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ProblemType::NotFound => StatusCode::NOT_FOUND,
            ProblemType::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemType::BadRequest => StatusCode::BAD_REQUEST,
            ProblemType::GateUnauthenticated => StatusCode::UNAUTHORIZED,
            ProblemType::QrInvalid | ProblemType::QrExpired => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::QrReplayed | ProblemType::TicketUsed | ProblemType::TicketHeld | ProblemType::SoldOut => {
                StatusCode::CONFLICT
            }
            ProblemType::CardRevoked | ProblemType::NoTicket | ProblemType::NoPseudonym => StatusCode::FORBIDDEN,
            ProblemType::OfferClosed => StatusCode::GONE,
            ProblemType::DeskUnauthenticated => StatusCode::UNAUTHORIZED,
            ProblemType::QrNotFound => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::QrUnreadable => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::WrongAudience => StatusCode::FORBIDDEN,
            ProblemType::UntrustedIssuer => StatusCode::FORBIDDEN,
            ProblemType::QrRefused => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::NoSealedIdNumber => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::NotAdult => StatusCode::FORBIDDEN,
            ProblemType::FaceRequired => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::FaceUnusable => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::FaceMismatch => StatusCode::FORBIDDEN,
            ProblemType::IntakeUnauthenticated => StatusCode::UNAUTHORIZED,
            ProblemType::OfficerUnauthenticated => StatusCode::UNAUTHORIZED,
            ProblemType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Every type, for the documentation test.
    pub const ALL: [ProblemType; 41] = [
        ProblemType::NotSignedIn,
        ProblemType::SignInNotStarted,
        ProblemType::SignInUnknown,
        ProblemType::SignInFailed,
        ProblemType::WrongPerson,
        ProblemType::LevelNotMet,
        ProblemType::SignInDeclined,
        ProblemType::ConsentRequired,
        ProblemType::InvalidFiling,
        ProblemType::ClerkUnauthenticated,
        ProblemType::RateLimited,
        ProblemType::Busy,
        ProblemType::CrossOrigin,
        ProblemType::NotFound,
        ProblemType::PayloadTooLarge,
        ProblemType::BadRequest,
        ProblemType::GateUnauthenticated,
        ProblemType::QrInvalid,
        ProblemType::QrUnreadable,
        ProblemType::QrExpired,
        ProblemType::QrReplayed,
        ProblemType::CardRevoked,
        ProblemType::NoTicket,
        ProblemType::TicketUsed,
        ProblemType::TicketHeld,
        ProblemType::SoldOut,
        ProblemType::OfferClosed,
        ProblemType::NoPseudonym,
        ProblemType::DeskUnauthenticated,
        ProblemType::QrNotFound,
        ProblemType::WrongAudience,
        ProblemType::UntrustedIssuer,
        ProblemType::QrRefused,
        ProblemType::NoSealedIdNumber,
        ProblemType::NotAdult,
        ProblemType::FaceRequired,
        ProblemType::FaceUnusable,
        ProblemType::FaceMismatch,
        ProblemType::IntakeUnauthenticated,
        ProblemType::OfficerUnauthenticated,
        ProblemType::Internal,
    ];
}

/// The `type` URIs are URNs: stable identifiers, not links to follow.
const TYPE_PREFIX: &str = "urn:shenfen:services:";

/// A refused request: its type, an English detail for API callers, and any
/// extra members (a form's field errors).
#[derive(Debug, Clone)]
pub struct Refusal {
    /// What kind of refusal.
    pub kind: ProblemType,
    /// One English sentence for API callers; pages show their own words.
    pub detail: String,
    /// Extra problem members, e.g. `errors` of a form.
    pub extra: Option<Value>,
}

impl Refusal {
    /// A refusal of `kind` with `detail`.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Refusal {
        Refusal { kind, detail: detail.into(), extra: None }
    }

    /// The refusal with extra problem members.
    pub fn with(mut self, extra: Value) -> Refusal {
        self.extra = Some(extra);
        self
    }
}

impl From<ServicesError> for Refusal {
    /// An internal failure: logged with its code, answered without it.
    fn from(error: ServicesError) -> Refusal {
        tracing::error!(%error, "internal failure");
        Refusal::new(ProblemType::Internal, "the service failed; nothing was applied")
    }
}

impl IntoResponse for Refusal {
    /// problem+json; the refusal rides along in the response's extensions so
    /// the pages' middleware can show browsers a page instead.
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("{TYPE_PREFIX}{}", self.kind.code()),
            "title": self.kind.code().replace('-', " "),
            "status": self.kind.status().as_u16(),
            "detail": self.detail,
        });
        if let (Some(Value::Object(extra)), Some(members)) = (&self.extra, body.as_object_mut()) {
            members.extend(extra.clone());
        }
        let mut response = (self.kind.status(), Json(body)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response.extensions_mut().insert(self);
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
            let row = format!("| `{TYPE_PREFIX}{}` | {} |", kind.code(), kind.status().as_u16());
            assert!(errors.contains(&row), "docs/ERRORS.md lacks the row starting {row}");
        }
    }

    #[test]
    fn every_error_code_is_documented() {
        let errors = include_str!("../../../docs/ERRORS.md");
        let source = include_str!("error.rs");
        let codes: Vec<&str> = source
            .lines()
            .filter_map(|line| line.split_once("=> \"services.").map(|(_, rest)| rest.trim_end_matches("\",")))
            .collect();
        assert!(codes.len() >= 11, "found {codes:?}");
        for code in codes {
            assert!(errors.contains(&format!("| `services.{code}` |")), "docs/ERRORS.md lacks services.{code}");
        }
    }

    #[test]
    fn problem_types_have_distinct_codes_and_answer_problem_json() {
        let mut codes: Vec<&str> = ProblemType::ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ProblemType::ALL.len());
        let response = Refusal::new(ProblemType::ConsentRequired, "no consent").into_response();
        assert_eq!(response.status(), 422);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    }
}
