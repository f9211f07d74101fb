-- Registry records, sealed: nothing here reveals an ID number, a name or a face.
CREATE TABLE citizens (
    blind_index BYTEA PRIMARY KEY,      -- HMAC-SHA-256 of the ID number under the index key
    key_id      TEXT NOT NULL,         -- master key that wrapped the data key
    wrapped_key BYTEA NOT NULL,         -- the record's AES-256 data key, wrapped
    ciphertext  BYTEA NOT NULL,         -- AES-256-GCM(nonce || record JSON incl. face template)
    updated_at  BIGINT NOT NULL
);

-- Append-only, hash-chained audit log; audit_head holds the chain's tip so
-- appends serialise on one row on every backend.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    subject    BYTEA,                  -- blind index of the citizen concerned, if any
    details    TEXT NOT NULL,         -- JSON, never PII in clear
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject);
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);

-- Single-use nonces, remembered until they expire.
CREATE TABLE nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX nonces_expiry ON nonces (expires_at);

-- Fixed-window attempt counters (rate limits, PIN and face-mismatch lockouts).
CREATE TABLE attempts (
    key          TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);

-- Where a registry import stopped, committed with each batch, so it resumes.
CREATE TABLE import_progress (
    source    TEXT PRIMARY KEY,
    next_line BIGINT NOT NULL,
    imported  BIGINT NOT NULL,
    rejected  BIGINT NOT NULL
);
