-- The perceptual prints of each number's recent enrollment frames (64 bits
-- of the face's first frame, sealed under the subject like a registry row):
-- the same picture sent again to another session is flagged in the audit log.
-- Kept 30 days.
CREATE TABLE frame_prints (
    subject     BLOB NOT NULL,
    key_id      TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    ciphertext  BLOB NOT NULL,
    seen_at     BIGINT NOT NULL
);
CREATE INDEX frame_prints_subject ON frame_prints (subject, seen_at);
CREATE INDEX frame_prints_seen ON frame_prints (seen_at);

-- When a session started, by the server's clock: a capture may not have run
-- longer than the session has existed, whatever session length is configured
-- by the time its frames arrive. (Sessions started before this column read 0:
-- no limit.)
ALTER TABLE enrollment_sessions ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
