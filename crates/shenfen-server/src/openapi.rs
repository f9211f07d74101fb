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
    "/citizen/pin",
    "/citizen/assertion",
    "/operator/login",
    "/operator/logout",
    "/operator/lookup",
    "/operator/attestations",
    "/operator/revocations",
    "/operator/audit",
    "/verifier/requests",
    "/verifier/requests/{id}",
    "/verifier/requests/{id}/object",
    "/verifier/requests/{id}/response",
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
            "/enrollment/sessions": { "post": { "summary": "Starts enrollment: {id_number, name, card_expiry, edition: lightweight|upgraded} → {session_id, challenge, expires_at}. The same answer whether or not the number is registered. The upgraded edition also needs an operator's in-person attestation (/operator/attestations) within the hour before.",
                "responses": { "201": { "description": "session with a random ordered liveness challenge" }, "400": problem, "422": problem, "429": problem } } },
            "/enrollment/sessions/{id}/frames": { "post": { "summary": "Submits base64 frames performing the challenge ({frames: [...], pin}, up to 16 MiB; pin: the 6-digit PIN chosen for the upgraded edition) → a credential offer (upgraded: its grant asks for the counter's tx_code), or the one refusal every failure gets.",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "201": { "description": "{credential_offer}" }, "400": problem, "422": problem } } },
            "/citizen/audit": { "post": { "summary": "The citizen's own audit entries; authenticated by {presentation}: an SD-JWT+KB of one of their credentials with aud = this issuer and nonce = a fresh c_nonce, disclosing nothing.",
                "responses": { "200": { "description": "{entries: [...]}" }, "401": problem } } },
            "/citizen/revoke": { "post": { "summary": "Withdraws every credential the citizen holds; authenticated as /citizen/audit.",
                "responses": { "200": { "description": "{revoked: n}" }, "401": problem } } },
            "/citizen/pin": { "post": { "summary": "Checks the upgraded edition's PIN ({presentation, pin}, authenticated as /citizen/audit). After 5 consecutive failures each further one doubles a waiting time from 30 s (Retry-After); 100 block the PIN.",
                "responses": { "200": { "description": "{verified: true}" }, "401": problem, "409": problem, "429": problem } } },
            "/citizen/assertion": { "post": { "summary": "An assurance assertion for one relying party's request ({presentation, pin, audience, nonce, frames?}, authenticated as /citizen/audit, up to 16 MiB): the PIN checked under the lockout policy reaches L2; with live frames (passive liveness, matched against the registry template) L3. Answers {assertion (typ shenfen-assurance+jwt, signed, aud/nonce of the request, cnf.jkt of the device key, 120 s), level, expires_at}; sent with the OpenID4VP answer as the form field `assurance`.",
                "responses": { "200": { "description": "assertion" }, "400": problem, "401": problem, "409": problem, "422": problem, "429": problem } } },
            "/operator/login": { "post": { "summary": "Operator sign-in ({username, password}) → {token, expires_at, username, role}; send the token as Bearer to the other /operator endpoints. 10 failures per account per hour, then 429.",
                "responses": { "200": { "description": "session" }, "401": problem, "429": problem } } },
            "/operator/logout": { "post": { "summary": "Ends the operator session of the Bearer token.", "responses": { "204": { "description": "ended" }, "401": problem } } },
            "/operator/lookup": { "post": { "summary": "(counter) Confirms a card against the registry ({id_number}) → masked name and number, card expiry, whether a face template exists. Audited in the citizen's log.",
                "responses": { "200": { "description": "masked record" }, "401": problem, "403": problem, "404": problem } } },
            "/operator/attestations": { "post": { "summary": "(counter) Records that the operator has seen the citizen and their card in person ({id_number, method: counter|kiosk}) → {tx_code, expires_at}: the code the citizen types when redeeming the upgraded credential offer. Audited in the citizen's log.",
                "responses": { "201": { "description": "{tx_code, expires_at}" }, "400": problem, "401": problem, "403": problem, "404": problem } } },
            "/operator/revocations": { "post": { "summary": "(supervisor) Revokes every credential of a citizen ({id_number, reason: lost|stolen|deceased|fraud_suspected|card_replaced|registry_correction}) → {revoked: n}; the reason is in the citizen's log.",
                "responses": { "200": { "description": "{revoked: n}" }, "400": problem, "401": problem, "403": problem, "404": problem } } },
            "/operator/audit": { "get": { "summary": "(supervisor) A page of the audit log (?after=SEQ&limit=N, at most 1000); citizens appear as blind indexes only.",
                "responses": { "200": { "description": "{entries: [...]}" }, "401": problem, "403": problem } } },
            "/verifier/requests": { "post": { "summary": "A registered relying party (Bearer: its API key) asks for claims: {client_id, claims: [\"name\", \"record/id_number\", …], purpose, level: L1} → {request_id, request_uri, authorization_request: openid4vp://…, expires_at}. Claims beyond its entitlement are refused before any wallet sees the request.",
                "responses": { "201": { "description": "request created" }, "400": problem, "401": problem, "403": problem, "422": problem } } },
            "/verifier/requests/{id}": { "get": { "summary": "The relying party reads the outcome (?client_id=…, Bearer API key): {status: pending} or {status: verified|refused, result: {claims, pseudonym, level, edition, issuer}} — returned once, then forgotten.",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "outcome" }, "401": problem, "404": problem } } },
            "/verifier/requests/{id}/object": { "get": { "summary": "OpenID4VP 1.0 request object by reference (application/oauth-authz-req+jwt), signed by this authority: response_type vp_token, response_mode direct_post, nonce, state, DCQL query (the asked claims and the relying party's pairwise pseudonym), client_metadata.",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "signed request object" }, "404": problem } } },
            "/verifier/requests/{id}/response": { "post": { "summary": "OpenID4VP direct_post response (form: vp_token = {\"shenfen_id\": [SD-JWT+KB]}, state, and for L2/L3 assurance = an assertion from /citizen/assertion): verified against this authority's keys and status, key binding to the relying party and the request's nonce; answered once.",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "{}" }, "400": { "description": "{error, error_description}" } } } }
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
