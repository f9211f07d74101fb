-- The police verify each forwarded entry against the authority's keys: the
-- presentation the guest showed the hotel, when they showed it, and the
-- hotel's pseudonym of the guest. One presentation makes one entry,
-- and one guest (the hotel's pseudonym, the same in every copy of their card) one stay per hotel and arrival
-- night: a hotel cannot register a guest twice — under another room, or
-- with the several QRs a desk camera caught — with the same evidence.
-- Entries received before (no evidence kept) have NULLs, which conflict with nothing.
ALTER TABLE police_register ADD COLUMN shown_at INTEGER;
ALTER TABLE police_register ADD COLUMN presentation_hash BLOB;
ALTER TABLE police_register ADD COLUMN guest TEXT;
CREATE UNIQUE INDEX police_register_one_per_presentation ON police_register (presentation_hash);
CREATE UNIQUE INDEX police_register_one_stay_per_night ON police_register (hotel, guest, arrival);
