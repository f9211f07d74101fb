-- Authority operators: argon2id password hashes (PHC strings), one role each.
CREATE TABLE operators (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,            -- counter | supervisor
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

-- Operator sessions, stored only as SHA-256 hashes of the bearer token.
CREATE TABLE operator_sessions (
    token_hash BYTEA PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES operators (username),
    expires_at BIGINT NOT NULL
);

-- In-person verifications for the upgraded edition, one open per citizen,
-- consumed by the enrollment they allow.
CREATE TABLE attestations (
    subject      BYTEA PRIMARY KEY,  -- blind index of the citizen
    operator     TEXT NOT NULL,
    method       TEXT NOT NULL,              -- counter | kiosk
    tx_code_hash BYTEA NOT NULL,     -- SHA-256 of the code handed to the citizen
    expires_at   BIGINT NOT NULL
);

-- Upgraded-edition PINs: argon2id hashes, consecutive failures, lockout.
CREATE TABLE pins (
    subject      BYTEA PRIMARY KEY,
    pin_hash     TEXT NOT NULL,
    failures     BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL
);

-- An upgraded edition's pre-authorized code also needs the counter's transaction code.
ALTER TABLE grants ADD COLUMN tx_code_hash BYTEA;
