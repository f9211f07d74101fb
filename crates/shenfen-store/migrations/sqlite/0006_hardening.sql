-- Bumped in the same transaction as every status change, so each instance
-- re-signs its cached status list only when the list changed.
CREATE TABLE status_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO status_version (id, version) VALUES (1, 0);

-- Counter devices (a hotel's front desk, a ticket gate) registered with the
-- authority, like relying parties: each scans QR codes under its own token,
-- stored only as a SHA-256 hash.
CREATE TABLE counter_devices (
    token_hash BLOB PRIMARY KEY,
    name       TEXT NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- A verifier result waits for its relying party sealed like a registry row
-- (AES-256-GCM under a wrapped data key), never in clear.
ALTER TABLE presentation_requests DROP COLUMN result;
ALTER TABLE presentation_requests ADD COLUMN result_key_id TEXT;
ALTER TABLE presentation_requests ADD COLUMN result_wrapped_key BLOB;
ALTER TABLE presentation_requests ADD COLUMN result_ciphertext BLOB;

-- Purging expired rows reads them by expiry.
CREATE INDEX operator_sessions_expiry ON operator_sessions (expires_at);
CREATE INDEX attestations_expiry ON attestations (expires_at);
CREATE INDEX presentation_requests_expiry ON presentation_requests (expires_at);
CREATE INDEX grants_expiry ON grants (expires_at);
CREATE INDEX enrollment_sessions_expiry ON enrollment_sessions (expires_at);
