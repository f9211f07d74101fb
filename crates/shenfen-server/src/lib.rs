//! The authority's HTTP edge. Async lives here only; the rules it applies
//! come from the domain crates and the state from `shenfen-store`.

mod app;
mod metrics;
mod nonce;
mod openapi;
mod problem;

pub use app::{AppState, BODY_LIMIT, REQUEST_TIMEOUT, router};
pub use metrics::Metrics;
pub use nonce::{NONCE_LIFETIME_SECS, NonceIssuer};
pub use openapi::{DESCRIBED_PATHS, openapi_document};
pub use problem::Problem;
