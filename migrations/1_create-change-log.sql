-- The audit trail of every mutation pgscope runs or plans (dry runs included).
CREATE TABLE pgscope.change_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  requested_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  action text NOT NULL,
  target_schema text,
  target_name text,
  statements text[] NOT NULL DEFAULT '{}',
  dry_run boolean NOT NULL,
  status text NOT NULL CHECK (status IN ('PLANNED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
  error_message text,
  actor text NOT NULL,
  request_id text
);

CREATE INDEX change_log_requested_at_idx ON pgscope.change_log (requested_at DESC, id DESC);
