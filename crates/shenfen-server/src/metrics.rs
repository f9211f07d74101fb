//! Prometheus metrics: requests by route and status class, latency, the
//! secret checks that ran (PIN, transaction code, operator password — what
//! an attacker's guesses cost, and what a lockout saves), and work the
//! pool turned away.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of one request: the matched route (never the raw path, which could
/// carry identifiers) and the status class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route template, e.g. `/nonce`.
    pub route: String,
    /// `2xx`, `4xx`, `5xx`.
    pub status: String,
}

/// Labels of a secret check: which secret.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SecretLabels {
    /// `pin`, `tx_code` or `operator_password`.
    pub kind: &'static str,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    /// Requests served.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency in seconds.
    pub latency: Family<RequestLabels, Histogram>,
    /// Secrets checked against their stored hash (each a guess that ran).
    pub secret_checks: Family<SecretLabels, Counter>,
    /// Requests turned away because the CPU pool was full.
    pub pool_busy: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("shenfen");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency", latency.clone());
        let secret_checks = Family::<SecretLabels, Counter>::default();
        registry.register("secret_checks", "Secrets checked against their stored hash", secret_checks.clone());
        let pool_busy = Counter::default();
        registry.register("pool_busy", "Requests turned away because the CPU pool was full", pool_busy.clone());
        Metrics { registry, requests, latency, secret_checks, pool_busy }
    }
}

impl Metrics {
    /// Counts one check of a `kind` of secret.
    pub fn secret_checked(&self, kind: &'static str) {
        self.secret_checks.get_or_create(&SecretLabels { kind }).inc();
    }

    /// How many checks of a `kind` of secret ran.
    pub fn secrets_checked(&self, kind: &'static str) -> u64 {
        self.secret_checks.get_or_create(&SecretLabels { kind }).get()
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
