-- Real-name rail tickets (实名制车票). A passenger is the railway's pairwise
-- pseudonym of their card, never an ID number.

-- The timetable: one row per train and date.
CREATE TABLE rail_trains (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    travel_date TEXT NOT NULL,
    from_station TEXT NOT NULL,
    to_station TEXT NOT NULL,
    departs TEXT NOT NULL,
    seats BIGINT NOT NULL,
    -- Tickets sold: raised in one guarded statement per sale, so two buyers
    -- of the last seat cannot both get it (READ COMMITTED included).
    sold BIGINT NOT NULL DEFAULT 0,
    UNIQUE (number, travel_date)
);

-- Tickets. `holder` is the pseudonym it is bound to (NULL while a named
-- co-traveller has not accepted it; their name is then sealed). A transfer
-- offer is the SHA-256 of its link's token, single-use and short-lived.
CREATE TABLE rail_tickets (
    id TEXT PRIMARY KEY,
    train_id TEXT NOT NULL REFERENCES rail_trains (id),
    buyer TEXT NOT NULL,
    holder TEXT,
    status TEXT NOT NULL,
    sealed_name BYTEA,
    accept_hash BYTEA UNIQUE,
    transfer_hash BYTEA UNIQUE,
    transfer_expires BIGINT,
    bought_at BIGINT NOT NULL,
    used_at BIGINT,
    used_gate TEXT
);
CREATE INDEX rail_tickets_holder ON rail_tickets (holder);
CREATE INDEX rail_tickets_train ON rail_tickets (train_id);

-- Requests to a passenger's wallet this railway opened, and what the answer
-- is for, keyed by the SHA-256 of a secret only the browser that asked holds
-- (its cookie): the request's id is in the QR code the page shows, so it
-- must not be what lets a browser read the answer.
CREATE TABLE rail_asks (
    browser_hash BYTEA PRIMARY KEY,
    request_id TEXT NOT NULL,
    intent TEXT NOT NULL,
    target TEXT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX rail_asks_expiry ON rail_asks (expires_at);

-- Registered gate devices, by the SHA-256 of their token.
CREATE TABLE rail_gates (
    token_hash BYTEA PRIMARY KEY,
    name TEXT NOT NULL,
    added_at BIGINT NOT NULL
);

-- QRs a gate accepted, remembered until they could no longer pass anyway.
CREATE TABLE rail_seen_qrs (
    qr_hash BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX rail_seen_qrs_expiry ON rail_seen_qrs (expires_at);
