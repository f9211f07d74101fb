//! The OpenAPI 3.1 description of the server, served at `/openapi.json`.
//! Hand-written because it is small; a test checks every route is described.

use serde_json::{Value, json};

/// Route paths the router serves, as described here.
pub const DESCRIBED_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics", "/openapi.json", "/jwks.json", "/nonce"];

/// The document.
pub fn openapi_document() -> Value {
    let problem = json!({ "description": "RFC 9457 problem", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } });
    json!({
        "openapi": "3.1.0",
        "info": { "title": "shenfen authority", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Population registry, face-verified enrollment and credential issuance of a shenfen authority." },
        "paths": {
            "/healthz": { "get": { "summary": "Liveness: the process is up.", "responses": { "200": { "description": "up" } } } },
            "/readyz": { "get": { "summary": "Readiness: the database answers.",
                "responses": { "200": { "description": "ready" }, "503": problem } } },
            "/metrics": { "get": { "summary": "Prometheus / OpenMetrics exposition.", "responses": { "200": { "description": "metrics" } } } },
            "/openapi.json": { "get": { "summary": "This document.", "responses": { "200": { "description": "OpenAPI 3.1" } } } },
            "/jwks.json": { "get": { "summary": "The authority's current credential-signing public keys (ES256, with kid).",
                "responses": { "200": { "description": "JWK Set", "content": { "application/json": {} } } } } },
            "/nonce": { "post": { "summary": "OpenID4VCI 1.0 nonce endpoint: a fresh c_nonce for key proofs, valid 300 s, single use.",
                "responses": { "200": { "description": "{\"c_nonce\": \"…\"}", "content": { "application/json": {} } }, "405": problem } } }
        },
        "components": { "schemas": { "Problem": {
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": {
                "type": { "type": "string", "description": "stable problem type, urn:shenfen:problem:<code>" },
                "title": { "type": "string" },
                "status": { "type": "integer" },
                "detail": { "type": "string" }
            }
        } } }
    })
}
