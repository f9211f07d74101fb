//! The relying party's side of OpenID4VP: requests on the relying party's own
//! origin, answers verified with the trust list and whole status lists.
//!
//! A relying party that runs this verifier asks a citizen's wallet directly
//! (request objects signed with its own key, carrying a Verifier Attestation
//! the authority issued it once, at registration), receives the answer at its
//! own response URI, and checks it against the authorities' keys and whole
//! status lists it fetches on a schedule. The authority learns nothing about
//! where a card is used (docs/PRIVACY.md).
//!
//! - [`fetch_cache`]: the trust material, fetched whole (also what
//!   `shenfen verifier sync` caches for offline counters).
//! - [`Verifier`] and [`router`]: the HTTP verifier; [`keep_fresh`] refreshes its cache.

mod error;
mod problem;
mod requests;
mod service;
mod sync;

use std::sync::Arc;
use std::time::Duration;

pub use error::VerifierError;
pub use problem::ProblemType;
pub use service::{BODY_LIMIT, Clock, REQUEST_SECS, Verifier, VerifierConfig, response_uri, router};
pub use sync::{TrustSource, fetch_cache};

/// Refreshes the verifier's trust cache every `every`, forever. A failed
/// refresh is logged and the old cache kept: once it is older than the
/// verifier allows, answers are refused (fail closed) until a refresh succeeds.
pub async fn keep_fresh(verifier: Arc<Verifier>, source: Arc<TrustSource>, every: Duration, clock: Clock) {
    loop {
        tokio::time::sleep(every).await;
        let (source, now) = (source.clone(), clock());
        match tokio::task::spawn_blocking(move || fetch_cache(&source, now)).await {
            Ok(Ok(cache)) => verifier.refresh(cache),
            Ok(Err(e)) => tracing::warn!(code = e.code(), error = %e, "the trust cache could not be refreshed"),
            Err(e) => tracing::warn!(error = %e, "the trust cache refresh stopped"),
        }
    }
}
