-- Relying parties registered with the verifier service, each with the claims
-- it is entitled to ask for, and the SHA-256 of its API key.
CREATE TABLE relying_parties (
    client_id    TEXT PRIMARY KEY,          -- e.g. https://hotel.example
    name         TEXT NOT NULL,
    claims       TEXT NOT NULL,             -- JSON array of claim paths ("name", "record/id_number")
    api_key_hash BYTEA NOT NULL,
    created_at   BIGINT NOT NULL
);

-- OpenID4VP authorization requests, answered once.
CREATE TABLE presentation_requests (
    id         TEXT PRIMARY KEY,            -- random; in the request_uri and response_uri
    client_id  TEXT NOT NULL REFERENCES relying_parties (client_id),
    nonce      TEXT NOT NULL,
    state      TEXT NOT NULL,
    query      TEXT NOT NULL,               -- JSON: claims, purpose, level
    expires_at BIGINT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending',   -- pending | verified | refused
    result     TEXT                         -- JSON once answered
);
