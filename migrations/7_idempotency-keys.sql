-- Idempotency keys of the mutations that change the database (README, "Idempotency keys"): for 24
-- hours a key names one change. It is claimed in the transaction that inserts the change's entry:
-- a second request with the key, at this pgscope or at another replica on the same database, waits
-- on the first one's uncommitted row of the primary key below, then finds it and runs nothing.
ALTER TABLE pgscope.change_log
  ADD COLUMN idempotency_key text,
  ADD COLUMN plan jsonb;

COMMENT ON COLUMN pgscope.change_log.idempotency_key IS 'The idempotency key the client sent, kept after it expired (for the record).';
COMMENT ON COLUMN pgscope.change_log.plan IS 'The plan of a change made with an idempotency key: a repeated request returns it.';

-- Keys in force: a row lives 24 hours (deleted by the next claim after that), so a key can be used again.
CREATE TABLE pgscope.idempotency_key (
  key text PRIMARY KEY,
  change_id bigint NOT NULL REFERENCES pgscope.change_log (id) ON DELETE CASCADE,
  claimed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idempotency_key_claimed_at_idx ON pgscope.idempotency_key (claimed_at);
