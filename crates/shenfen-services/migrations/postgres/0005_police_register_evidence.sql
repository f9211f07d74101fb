-- The police verify each forwarded entry against the authority's keys: the
-- presentation the guest showed the hotel, and when they showed it. One
-- presentation makes one entry (a hotel cannot register a guest twice, or
-- under another room, with the same evidence).
ALTER TABLE police_register ADD COLUMN shown_at INTEGER;
ALTER TABLE police_register ADD COLUMN presentation_hash BYTEA;
CREATE UNIQUE INDEX police_register_one_per_presentation ON police_register (presentation_hash);
