-- One ticket per passenger and train: a scalper holding many seats of one
-- train under their own pseudonym could hand each buyer a fresh QR of
-- theirs at the gate. NULL holders (tickets a named co-traveller has not
-- accepted yet) do not conflict.
--
-- A database from before the rule may hold a passenger's second tickets on
-- a train: the earliest bought stays, the later ones are cancelled and their
-- seats given back, so the index can be made.
UPDATE rail_trains SET sold = sold - (
    SELECT COUNT(*) FROM rail_tickets k WHERE k.train_id = rail_trains.id AND k.holder IS NOT NULL AND EXISTS (
        SELECT 1 FROM rail_tickets e WHERE e.train_id = k.train_id AND e.holder = k.holder
        AND (e.bought_at < k.bought_at OR (e.bought_at = k.bought_at AND e.id < k.id))
    )
);
DELETE FROM rail_tickets WHERE holder IS NOT NULL AND EXISTS (
    SELECT 1 FROM rail_tickets e WHERE e.train_id = rail_tickets.train_id AND e.holder = rail_tickets.holder
    AND (e.bought_at < rail_tickets.bought_at OR (e.bought_at = rail_tickets.bought_at AND e.id < rail_tickets.id))
);
CREATE UNIQUE INDEX rail_tickets_one_per_train ON rail_tickets (train_id, holder);
