-- Enrollment sessions: a random challenge bound to a claimed identity, used once.
CREATE TABLE enrollment_sessions (
    id           TEXT PRIMARY KEY,
    subject      BLOB NOT NULL,          -- blind index of the claimed ID number
    claim_digest BLOB NOT NULL,          -- keyed digest of the claimed name and card expiry
    edition      TEXT NOT NULL,
    challenge    TEXT NOT NULL,          -- ordered liveness actions, comma-separated
    expires_at   BIGINT NOT NULL,
    consumed     INTEGER NOT NULL DEFAULT 0
);

-- Pre-authorized codes and access tokens, stored only as SHA-256 hashes, single use.
CREATE TABLE grants (
    token_hash BLOB PRIMARY KEY,
    kind       TEXT NOT NULL,            -- pre_authorized_code | access_token
    subject    BLOB NOT NULL,
    edition    TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0
);

-- Every issued credential's status-list slot (random index: herd privacy).
CREATE TABLE credentials (
    list_id    TEXT NOT NULL,
    idx        BIGINT NOT NULL,
    subject    BLOB NOT NULL,
    device_key TEXT NOT NULL,            -- RFC 7638 thumbprint of the holder key
    issued_at  BIGINT NOT NULL,
    status     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (list_id, idx)
);
CREATE INDEX credentials_subject ON credentials (subject);
