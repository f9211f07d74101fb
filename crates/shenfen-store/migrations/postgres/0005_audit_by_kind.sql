-- The operator console's statistics read one kind of event over a time window.
CREATE INDEX audit_log_kind_at ON audit_log (kind, at);
