//! The authority's HTTP edge. Async lives here only; the rules it applies
//! come from the domain crates and the state from `shenfen-store`.
// The OpenAPI document is one `json!` literal, deeper than the default limit.
#![recursion_limit = "256"]

mod app;
mod authority;
mod citizen;
mod counter;
mod enrollment;
mod issuance;
mod metrics;
mod nonce;
mod openapi;
mod operator;
mod problem;
mod relying_parties;
mod tokens;
mod verifier;
mod web;

pub use app::{AppState, BODY_LIMIT, REQUEST_TIMEOUT, router};
pub use authority::{Authority, Issuer, Policy};
pub use counter::{CounterError, CounterPolicy, CounterVerdict, LiveFace, check_offline_qr, scan_qr};
pub use enrollment::FRAMES_BODY_LIMIT;
pub use issuance::{STATUS_LIST_ID, configuration_id, vct};
pub use metrics::Metrics;
pub use nonce::{NONCE_LIFETIME_SECS, NonceIssuer};
pub use openapi::{DESCRIBED_PATHS, openapi_document};
pub use operator::{REVOCATION_REASONS, TX_CODE_DIGITS};
pub use problem::Problem;
pub use relying_parties::RelyingParties;
pub use tokens::token_hash;
pub use verifier::CREDENTIAL_QUERY_ID;
pub use web::WebAssets;
