-- What the DDL mutations record besides migration 1's columns. `actor` holds the name of the token
-- that asked ('admin'), never the token itself.
ALTER TABLE pgscope.change_log
  ADD COLUMN input jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN outcome jsonb,
  ADD COLUMN error_code text,
  ADD COLUMN duration_ms double precision,
  ADD COLUMN session_pid integer,
  ADD COLUMN helps_query_ids text[] NOT NULL DEFAULT '{}';

COMMENT ON COLUMN pgscope.change_log.actor IS 'Name of the token that asked (admin), never its secret.';
COMMENT ON COLUMN pgscope.change_log.input IS 'The arguments of the mutation, as the client sent them.';
COMMENT ON COLUMN pgscope.change_log.outcome IS 'What the change did (per action), null until it finished.';
COMMENT ON COLUMN pgscope.change_log.error_code IS 'extensions.code of the error a FAILED change returned.';
COMMENT ON COLUMN pgscope.change_log.session_pid IS 'Backend pid of the DDL session: after a crash, tells whether it still runs.';
COMMENT ON COLUMN pgscope.change_log.helps_query_ids IS 'pg_stat_statements queryids the change is meant to speed up (before/after effect).';

-- INTERRUPTED: pgscope stopped (or died) while the change ran; recovery at the next start says so.
ALTER TABLE pgscope.change_log DROP CONSTRAINT change_log_status_check;
ALTER TABLE pgscope.change_log
  ADD CONSTRAINT change_log_status_check CHECK (status IN ('PLANNED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'INTERRUPTED'));

-- Start-up recovery looks for changes left RUNNING.
CREATE INDEX change_log_running_idx ON pgscope.change_log (id) WHERE status = 'RUNNING';
