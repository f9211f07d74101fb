//! The authority's HTTP edge. Async lives here only; the rules it applies
//! come from the domain crates and the state from `shenfen-store`.

mod app;
mod authority;
mod citizen;
mod client_address;
mod counter;
mod enrollment;
mod error;
mod extractors;
mod issuance;
mod metrics;
mod nonce;
mod openapi;
mod openid;
mod operator;
mod relying_parties;
mod relying_party_registration;
mod status_list;
mod tokens;
mod verifier;
mod web;
mod work_pool;

pub use app::{AppState, BODY_LIMIT, BuildError, REQUEST_TIMEOUT, router};
pub use authority::{Authority, InvalidPolicy, Issuer, Policy};
pub use counter::{CounterError, CounterPolicy, CounterVerdict, LiveFace, check_offline_qr, scan_qr};
pub use enrollment::FRAMES_BODY_LIMIT;
pub use error::{ApiError, ProblemType};
pub use issuance::{configuration_id, vct};
pub use metrics::Metrics;
pub use nonce::{NONCE_LIFETIME_SECS, NonceIssuer};
pub use openapi::openapi_document;
pub use relying_parties::RelyingParties;
pub use relying_party_registration::{KNOWN_CLAIMS, Registered, Registration, RegistrationError, check_answer_uri};
pub use status_list::STATUS_LIST_ID;
pub use tokens::token_hash;
pub use verifier::CREDENTIAL_QUERY_ID;
pub use web::WebAssets;
pub use work_pool::{Interrupt, PoolError, WorkPool};
