// Server-side view of connections: how full max_connections is, by state and by application,
// and the oldest transaction left idle (it holds locks and blocks vacuum).
import type { Queryable } from './pool.js';

export interface ServerConnectionsRow {
  max_connections: number;
  reserved_connections: number;
  total: number;
  oldest_idle_in_transaction_pid: number | null;
  oldest_idle_in_transaction_application: string | null;
  oldest_idle_in_transaction_seconds: number | null;
}

export interface ConnectionCountRow {
  key: string;
  count: number;
}

const SERVER_CONNECTIONS_SQL = /* SQL */ `
  SELECT
    current_setting('max_connections')::int AS max_connections,
    current_setting('superuser_reserved_connections')::int
      + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved_connections,
    (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS total,
    oldest.pid AS oldest_idle_in_transaction_pid,
    oldest.application_name AS oldest_idle_in_transaction_application,
    extract(epoch FROM now() - oldest.state_change)::float8 AS oldest_idle_in_transaction_seconds
  FROM (SELECT 1) one
  LEFT JOIN LATERAL (
    SELECT
      pid,
      application_name,
      state_change
    FROM pg_stat_activity
    WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')
    ORDER BY state_change, pid
    LIMIT 1
  ) oldest ON true`;

export async function serverConnections(db: Queryable): Promise<ServerConnectionsRow> {
  const [row] = await db.query<ServerConnectionsRow>(SERVER_CONNECTIONS_SQL);
  return row!;
}

const BY_STATE_SQL = /* SQL */ `
  SELECT
    coalesce(state, 'unknown') AS key,
    count(*)::int AS count
  FROM pg_stat_activity
  WHERE backend_type = 'client backend'
  GROUP BY 1
  ORDER BY count DESC, key`;

const BY_APPLICATION_SQL = /* SQL */ `
  SELECT
    application_name AS key,
    count(*)::int AS count
  FROM pg_stat_activity
  WHERE backend_type = 'client backend'
  GROUP BY 1
  ORDER BY count DESC, key`;

export function connectionsByState(db: Queryable): Promise<ConnectionCountRow[]> {
  return db.query<ConnectionCountRow>(BY_STATE_SQL);
}

export function connectionsByApplication(db: Queryable): Promise<ConnectionCountRow[]> {
  return db.query<ConnectionCountRow>(BY_APPLICATION_SQL);
}
