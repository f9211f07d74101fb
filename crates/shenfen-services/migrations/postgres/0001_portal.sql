-- Sign-ins started and not yet answered, found by the SHA-256 of their state.
CREATE TABLE sign_ins (
    state_hash BYTEA PRIMARY KEY,
    service TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    level TEXT NOT NULL,
    expected_subject TEXT,
    draft_id TEXT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sign_ins_expiry ON sign_ins (expires_at);

-- Citizens' sessions at a service, found by the SHA-256 of the cookie's token.
CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    service TEXT NOT NULL,
    subject TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Business registrations written but not yet filed (waiting for the L3 sign-in).
CREATE TABLE portal_drafts (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    company_name TEXT NOT NULL,
    company_type TEXT NOT NULL,
    registered_capital BIGINT NOT NULL,
    address TEXT NOT NULL,
    business_scope TEXT NOT NULL,
    consent_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX portal_drafts_subject ON portal_drafts (subject);

-- Filed registrations with their evidence; the legal representative's name,
-- ID number and the id_token that carried them are sealed (AES-256-GCM).
CREATE TABLE portal_filings (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    company_name TEXT NOT NULL,
    company_type TEXT NOT NULL,
    registered_capital BIGINT NOT NULL,
    address TEXT NOT NULL,
    business_scope TEXT NOT NULL,
    consent_at BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,
    issuer TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    disclosed TEXT NOT NULL,
    filed_at BIGINT NOT NULL,
    sealed_identity BYTEA NOT NULL
);
CREATE INDEX portal_filings_subject ON portal_filings (subject);

CREATE TABLE portal_clerks (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE portal_clerk_sessions (
    token_hash BYTEA PRIMARY KEY,
    username TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Wrong clerk passwords per name in the current window.
CREATE TABLE portal_clerk_failures (
    username TEXT PRIMARY KEY,
    attempts BIGINT NOT NULL,
    window_ends BIGINT NOT NULL
);

-- Every clerk's view of a filing: who, which, when.
CREATE TABLE portal_filing_views (
    id BIGSERIAL PRIMARY KEY,
    filing_id TEXT NOT NULL,
    clerk TEXT NOT NULL,
    viewed_at BIGINT NOT NULL
);
CREATE INDEX portal_filing_views_filing ON portal_filing_views (filing_id);
