//! The OpenAPI 3.1 description of the server, served at `/openapi.json`.
//! Hand-written because it is small; a test checks every route is described.

use serde_json::{Value, json};

/// Route paths the router serves, as described here.
pub const DESCRIBED_PATHS: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/jwks.json",
    "/nonce",
    "/.well-known/openid-credential-issuer",
    "/.well-known/oauth-authorization-server",
    "/token",
    "/credential",
    "/status/{list}",
    "/enrollment/sessions",
    "/enrollment/sessions/{id}/frames",
    "/citizen/audit",
    "/citizen/revoke",
];

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
            "/jwks.json": { "get": { "summary": "The authority's credential-signing public keys (ES256, with kid): the current one first, then keys rotated out whose credentials may still be valid.",
                "responses": { "200": { "description": "JWK Set", "content": { "application/json": {} } } } } },
            "/nonce": { "post": { "summary": "OpenID4VCI 1.0 nonce endpoint: a fresh c_nonce for key proofs, valid 300 s, single use.",
                "responses": { "200": { "description": "{\"c_nonce\": \"…\"}", "content": { "application/json": {} } }, "405": problem } } },
            "/.well-known/openid-credential-issuer": { "get": { "summary": "OpenID4VCI credential issuer metadata.", "responses": { "200": { "description": "metadata" } } } },
            "/.well-known/oauth-authorization-server": { "get": { "summary": "Authorization server metadata (token endpoint, pre-authorized grant).", "responses": { "200": { "description": "metadata" } } } },
            "/token": { "post": { "summary": "Exchanges a pre-authorized code (form: grant_type, pre-authorized_code) for a single-use access token; OAuth errors per RFC 6749.",
                "responses": { "200": { "description": "{access_token, token_type: Bearer, expires_in}" }, "400": { "description": "{error, error_description}" } } } },
            "/credential": { "post": { "summary": "Issues a batch of SD-JWT VCs, one per openid4vci-proof+jwt key proof (Bearer access token; {credential_configuration_id, proofs: {jwt: [...]}}).",
                "responses": { "200": { "description": "{credentials: [{credential}]}" }, "400": { "description": "OpenID4VCI error (invalid_proof, invalid_nonce, …)" }, "401": { "description": "invalid_token" } } } },
            "/status/{list}": { "get": { "summary": "The signed Token Status List (application/statuslist+jwt), 2 bits per credential.",
                "parameters": [{ "name": "list", "in": "path", "required": true, "schema": { "type": "string" }, "example": "1" }],
                "responses": { "200": { "description": "statuslist+jwt" }, "404": problem } } },
            "/enrollment/sessions": { "post": { "summary": "Starts enrollment: {id_number, name, card_expiry, edition} → {session_id, challenge, expires_at}. The same answer whether or not the number is registered.",
                "responses": { "201": { "description": "session with a random ordered liveness challenge" }, "400": problem, "422": problem, "429": problem } } },
            "/enrollment/sessions/{id}/frames": { "post": { "summary": "Submits base64 frames performing the challenge ({frames: [...]}, up to 16 MiB) → a credential offer, or the one refusal every failure gets.",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "201": { "description": "{credential_offer}" }, "400": problem, "422": problem } } },
            "/citizen/audit": { "post": { "summary": "The citizen's own audit entries; authenticated by {presentation}: an SD-JWT+KB of one of their credentials with aud = this issuer and nonce = a fresh c_nonce, disclosing nothing.",
                "responses": { "200": { "description": "{entries: [...]}" }, "401": problem } } },
            "/citizen/revoke": { "post": { "summary": "Withdraws every credential the citizen holds; authenticated as /citizen/audit.",
                "responses": { "200": { "description": "{revoked: n}" }, "401": problem } } }
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
