-- OpenID Connect ("Sign in with shenfen"): what a relying party needs to be an
-- OpenID Connect client, and the state of the authorization code flow.

-- An OpenID Connect client has redirect URIs (matched exactly), the sector its
-- pairwise subjects are derived for, and how it authenticates at /token:
-- client_secret_basic (the SHA-256 of its secret) or private_key_jwt (its JWKS).
ALTER TABLE relying_parties ADD COLUMN redirect_uris TEXT;          -- JSON array; NULL: not an OpenID Connect client
ALTER TABLE relying_parties ADD COLUMN sector_identifier TEXT;
ALTER TABLE relying_parties ADD COLUMN token_auth_method TEXT;      -- client_secret_basic | private_key_jwt
ALTER TABLE relying_parties ADD COLUMN client_secret_hash BLOB;
ALTER TABLE relying_parties ADD COLUMN client_jwks TEXT;

-- An authorization request waiting for the citizen's wallet, found by the
-- SHA-256 of the token only the sign-in page holds; taken once.
CREATE TABLE oidc_authorizations (
    page_token_hash BLOB PRIMARY KEY,
    request_id      TEXT NOT NULL,              -- its presentation request
    client_id       TEXT NOT NULL,
    request         TEXT NOT NULL,              -- JSON: redirect_uri, state, nonce, code_challenge, claims, acr
    expires_at      BIGINT NOT NULL
);

-- Authorization codes (by SHA-256) and what they grant (sealed: sub and
-- claims), redeemed once; kept an hour past expiry to recognise a reuse and to
-- answer /userinfo for the access token redeemed from them.
CREATE TABLE oidc_codes (
    code_hash   BLOB PRIMARY KEY,
    client_id   TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    ciphertext  BLOB NOT NULL,
    expires_at  BIGINT NOT NULL,
    redeemed_at BIGINT
);

-- Access tokens (by SHA-256) redeemed from a code, for /userinfo.
CREATE TABLE oidc_access_tokens (
    token_hash BLOB PRIMARY KEY,
    code_hash  BLOB NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_access_tokens_by_code ON oidc_access_tokens (code_hash);
