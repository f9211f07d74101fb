-- One ticket per passenger and train: a scalper holding many seats of one
-- train under their own pseudonym could hand each buyer a fresh QR of
-- theirs at the gate. NULL holders (tickets a named co-traveller has not
-- accepted yet) do not conflict.
CREATE UNIQUE INDEX rail_tickets_one_per_train ON rail_tickets (train_id, holder);
