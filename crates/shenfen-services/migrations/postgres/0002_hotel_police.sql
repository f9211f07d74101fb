-- The hotel's registered front-desk devices, found by the SHA-256 of their token.
CREATE TABLE hotel_desks (
    token_hash BYTEA PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- QR presentations accepted at any desk, remembered until they could no longer verify.
CREATE TABLE hotel_seen_qrs (
    replay_key TEXT PRIMARY KEY,
    remember_until BIGINT NOT NULL
);
CREATE INDEX hotel_seen_qrs_expiry ON hotel_seen_qrs (remember_until);

-- The guest register: the hotel's pseudonym of the guest, their name and the
-- presentation (the evidence) sealed (AES-256-GCM), the ID number only as the
-- police's JWE, which the hotel cannot open. No ID number in clear, ever.
CREATE TABLE hotel_register (
    id TEXT PRIMARY KEY,
    pseudonym TEXT NOT NULL,
    sealed_name BYTEA NOT NULL,
    adult BIGINT NOT NULL,
    room TEXT NOT NULL,
    arrival TEXT NOT NULL,
    nights BIGINT NOT NULL,
    level TEXT NOT NULL,
    desk TEXT NOT NULL,
    sealed_id_number TEXT NOT NULL,
    sealed_evidence BYTEA NOT NULL,
    checked_in_at BIGINT NOT NULL,
    forwarded_at BIGINT
);
CREATE INDEX hotel_register_unforwarded ON hotel_register (forwarded_at);

CREATE TABLE police_officers (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE police_officer_sessions (
    token_hash BYTEA PRIMARY KEY,
    username TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE police_officer_failures (
    username TEXT PRIMARY KEY,
    attempts BIGINT NOT NULL,
    window_ends BIGINT NOT NULL
);

-- Register entries the hotels forwarded: the ID number still sealed to the police's key.
CREATE TABLE police_register (
    hotel TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    room TEXT NOT NULL,
    arrival TEXT NOT NULL,
    nights BIGINT NOT NULL,
    sealed_id_number TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (hotel, entry_id)
);
CREATE INDEX police_register_arrival ON police_register (arrival);

-- Every opening of a sealed entry: who, which, when.
CREATE TABLE police_openings (
    id BIGSERIAL PRIMARY KEY,
    hotel TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    officer TEXT NOT NULL,
    opened_at BIGINT NOT NULL
);
