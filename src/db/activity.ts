// What runs now: sessions from pg_stat_activity, long-running statements, and sessions blocked on
// a lock together with the sessions blocking them (pg_blocking_pids). pgscope's own backend is
// never listed. Without pg_read_all_stats (pg_monitor has it) PostgreSQL shows only the pid, role,
// database and application of other roles' sessions: their query reads "<insufficient privilege>"
// (a null query and query_visible = false here), and their type, state and timings are null. Such
// a session still counts as a client (its type is unknown) but matches no state or duration filter.
import type { Capabilities } from './capabilities.js';
import type { Queryable } from './pool.js';

export const SESSION_STATES = [
  'ACTIVE',
  'IDLE',
  'IDLE_IN_TRANSACTION',
  'IDLE_IN_TRANSACTION_ABORTED',
  'FASTPATH_FUNCTION_CALL',
  'DISABLED',
] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export interface SessionRow {
  pid: number;
  role: string | null;
  /** Null, like database, backend_type and state, when PostgreSQL hides the session (see above). */
  application_name: string | null;
  client_address: string | null;
  database: string | null;
  state: SessionState | null;
  wait_event_type: string | null;
  wait_event: string | null;
  backend_type: string | null;
  backend_start: Date | null;
  transaction_start: Date | null;
  query_start: Date | null;
  state_change: Date | null;
  duration_ms: number | null;
  transaction_duration_ms: number | null;
  query: string | null;
  query_visible: boolean;
  /** pg_stat_activity.query_id (PostgreSQL 14+, with compute_query_id); null otherwise. */
  query_id: string | null;
  /** pg_blocking_pids(); 0 stands for a prepared transaction. Empty unless waiting on a lock. */
  blocked_by: number[];
}

export interface BlockedSessionRow extends SessionRow {
  lock_type: string | null;
  lock_mode: string | null;
  lock_schema: string | null;
  lock_relation: string | null;
  lock_transaction_id: string | null;
  /** Since when it waits (pg_locks.waitstart, PostgreSQL 14+); null before. */
  lock_waiting_ms: number | null;
}

export interface BlockedQuery extends BlockedSessionRow {
  /** The blocking sessions still present in pg_stat_activity, longest-running first. */
  blockers: SessionRow[];
}

export interface ActivityFilter {
  /** Only these states; null: every state except IDLE unless includeIdle. */
  states: readonly SessionState[] | null;
  includeIdle: boolean;
  /** Also autovacuum workers, WAL senders and other non-client processes. */
  includeBackground: boolean;
  /** Sessions of every database of the server, not only the current one. */
  allDatabases: boolean;
  /** Only sessions whose current (or last) statement started at least this long ago. */
  minDurationMs: number | null;
  applicationName: string | null;
  limit: number;
}

// Clamped at 0: now() is our transaction's start, a little before pg_stat_activity is read.
// greatest() ignores NULLs, hence the CASE: an unknown start stays unknown.
const MS_SINCE = (column: string) =>
  /* SQL */ `CASE WHEN ${column} IS NOT NULL THEN greatest(extract(epoch FROM now() - ${column}) * 1000, 0)::float8 END`;

// One renamed row per backend. Only sessions waiting on a heavyweight lock call pg_blocking_pids,
// which briefly takes the lock manager's locks (the PostgreSQL manual warns against calling it often).
function sessionsCte(caps: Capabilities): string {
  const queryId = caps.serverVersionNum >= 140000 ? 'a.query_id::text' : 'NULL::text';
  return /* SQL */ `
    sessions AS (
      SELECT
        a.pid,
        a.usename::text AS role,
        a.application_name,
        host(a.client_addr) AS client_address,
        a.datname::text AS database,
        CASE a.state
          WHEN 'active' THEN 'ACTIVE'
          WHEN 'idle' THEN 'IDLE'
          WHEN 'idle in transaction' THEN 'IDLE_IN_TRANSACTION'
          WHEN 'idle in transaction (aborted)' THEN 'IDLE_IN_TRANSACTION_ABORTED'
          WHEN 'fastpath function call' THEN 'FASTPATH_FUNCTION_CALL'
          WHEN 'disabled' THEN 'DISABLED'
        END AS state,
        a.wait_event_type,
        a.wait_event,
        a.backend_type,
        a.backend_start,
        a.xact_start AS transaction_start,
        a.query_start,
        a.state_change,
        ${MS_SINCE('a.query_start')} AS duration_ms,
        ${MS_SINCE('a.xact_start')} AS transaction_duration_ms,
        nullif(a.query, '<insufficient privilege>') AS query,
        a.query IS DISTINCT FROM '<insufficient privilege>' AS query_visible,
        ${queryId} AS query_id,
        CASE
          WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid)
          ELSE '{}'::int[]
        END AS blocked_by
      FROM pg_stat_activity a
      WHERE a.pid <> pg_backend_pid()
    )`;
}

const sqlCache = new WeakMap<Capabilities, { activity: string; byPid: string; blocked: string }>();

function statements(caps: Capabilities) {
  const cached = sqlCache.get(caps);
  if (cached) return cached;
  const waitStart = caps.serverVersionNum >= 140000 ? MS_SINCE('l.waitstart') : 'NULL::float8';
  const built = {
    activity: /* SQL */ `
      WITH ${sessionsCte(caps)}
      SELECT *
      FROM sessions
      WHERE ($1::boolean OR coalesce(backend_type = 'client backend', true))
        AND ($2::boolean OR database = current_database())
        AND CASE
          WHEN $3::text[] IS NOT NULL THEN state = ANY ($3::text[])
          ELSE $4::boolean OR state IS DISTINCT FROM 'IDLE'
        END
        AND ($5::float8 IS NULL OR duration_ms >= $5::float8)
        AND ($6::text IS NULL OR application_name = $6::text)
      ORDER BY
        duration_ms DESC NULLS LAST,
        pid
      LIMIT $7`,
    byPid: /* SQL */ `
      WITH ${sessionsCte(caps)}
      SELECT *
      FROM sessions
      WHERE pid = ANY ($1::int[])
      ORDER BY
        duration_ms DESC NULLS LAST,
        pid`,
    // A backend waits for at most one heavyweight lock: its ungranted pg_locks row. Relation
    // OIDs only mean something in their own database, so names are resolved for this one only.
    blocked: /* SQL */ `
      WITH ${sessionsCte(caps)}
      SELECT
        s.*,
        l.locktype AS lock_type,
        l.mode AS lock_mode,
        n.nspname::text AS lock_schema,
        c.relname::text AS lock_relation,
        l.transactionid::text AS lock_transaction_id,
        ${waitStart} AS lock_waiting_ms
      FROM sessions s
      LEFT JOIN pg_locks l
        ON l.pid = s.pid
        AND NOT l.granted
      LEFT JOIN pg_class c
        ON c.oid = l.relation
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE cardinality(s.blocked_by) > 0
        AND ($1::boolean OR s.database = current_database())
      ORDER BY
        lock_waiting_ms DESC NULLS LAST,
        s.duration_ms DESC NULLS LAST,
        s.pid`,
  };
  sqlCache.set(caps, built);
  return built;
}

export function activity(db: Queryable, caps: Capabilities, filter: ActivityFilter): Promise<SessionRow[]> {
  return db.query<SessionRow>(statements(caps).activity, [
    filter.includeBackground,
    filter.allDatabases,
    filter.states,
    filter.includeIdle,
    filter.minDurationMs,
    filter.applicationName,
    filter.limit,
  ]);
}

/** Sessions blocked on a lock, longest waiting first, each with the sessions that block it. */
export async function blockedQueries(db: Queryable, caps: Capabilities, options: { allDatabases: boolean }): Promise<BlockedQuery[]> {
  const { blocked, byPid } = statements(caps);
  const rows = await db.query<BlockedSessionRow>(blocked, [options.allDatabases]);
  if (rows.length === 0) return [];
  const blockerPids = [...new Set(rows.flatMap((row) => row.blocked_by))].filter((pid) => pid !== 0);
  const blockers = await db.query<SessionRow>(byPid, [blockerPids]);
  // A blocker may have ended between the two statements: it is then simply absent.
  return rows.map((row) => ({ ...row, blockers: blockers.filter((session) => row.blocked_by.includes(session.pid)) }));
}
