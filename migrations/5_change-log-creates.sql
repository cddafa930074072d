-- The objects a change creates, recorded before it runs: a change that dies with pgscope (SIGKILL,
-- a lost connection) leaves them half-built, and the next start finds them here and drops the
-- INVALID indexes among them (never one another session is building).
ALTER TABLE pgscope.change_log
  ADD COLUMN creates jsonb NOT NULL DEFAULT '[]';

COMMENT ON COLUMN pgscope.change_log.creates IS
  'Objects the change creates, in order: [{"kind": "index", "schema": ..., "name": ...}]. Start-up recovery reads it.';
