-- When a presentation request was answered (seconds since the epoch): a
-- sign-in's auth_time is when the wallet's answer was verified, not when the
-- sign-in page next asked.
ALTER TABLE presentation_requests ADD COLUMN answered_at BIGINT;
