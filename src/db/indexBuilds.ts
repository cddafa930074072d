// Index builds running now in this database (pg_stat_progress_create_index, PostgreSQL 12+): who
// builds what, in which phase, and how far along, so a client can draw a progress bar. Covers
// CREATE INDEX [CONCURRENTLY] and REINDEX by any session, pgscope's own included. Without
// pg_read_all_stats (pg_monitor has it) PostgreSQL shows only the pid of other roles' builds:
// every other column reads null then.
import type { Queryable } from './pool.js';

export interface IndexBuildRow {
  pid: number;
  schema: string | null;
  table: string | null;
  /** Null until a concurrent build has created its catalog entry (and for a plain CREATE INDEX). */
  index_name: string | null;
  /** CREATE INDEX, CREATE INDEX CONCURRENTLY, REINDEX or REINDEX CONCURRENTLY. */
  command: string | null;
  phase: string | null;
  lockers_total: bigint | null;
  lockers_done: bigint | null;
  current_locker_pid: number | null;
  blocks_total: bigint | null;
  blocks_done: bigint | null;
  tuples_total: bigint | null;
  tuples_done: bigint | null;
  partitions_total: bigint | null;
  partitions_done: bigint | null;
  transaction_start: Date | null;
  query_start: Date | null;
  duration_ms: number | null;
  wait_event_type: string | null;
  wait_event: string | null;
}

export interface IndexBuild extends IndexBuildRow {
  /** Fraction (0-1) of the build done, when the counters allow an estimate; see progressRatio. */
  progress_ratio: number | null;
}

const INDEX_BUILDS_SQL = /* SQL */ `
  SELECT
    p.pid,
    n.nspname AS schema,
    t.relname AS table,
    ic.relname AS index_name,
    p.command,
    p.phase,
    p.lockers_total,
    p.lockers_done,
    p.current_locker_pid::int4 AS current_locker_pid,
    p.blocks_total,
    p.blocks_done,
    p.tuples_total,
    p.tuples_done,
    p.partitions_total,
    p.partitions_done,
    a.xact_start AS transaction_start,
    a.query_start,
    (extract(epoch FROM clock_timestamp() - a.query_start) * 1000)::float8 AS duration_ms,
    a.wait_event_type,
    a.wait_event
  FROM pg_stat_progress_create_index p
  LEFT JOIN pg_class t ON t.oid = p.relid
  LEFT JOIN pg_namespace n ON n.oid = t.relnamespace
  LEFT JOIN pg_class ic ON ic.oid = p.index_relid
  LEFT JOIN pg_stat_activity a ON a.pid = p.pid
  WHERE p.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
  ORDER BY
    a.query_start NULLS LAST,
    p.pid`;

/** The index builds running in the current database, oldest first. */
export async function loadIndexBuilds(db: Queryable): Promise<IndexBuild[]> {
  const rows = await db.query<IndexBuildRow>(INDEX_BUILDS_SQL);
  return rows.map((row) => ({ ...row, progress_ratio: progressRatio(row) }));
}

/**
 * How far the build is, 0 to 1. The counters describe the current phase only (blocks while
 * scanning the table, tuples while sorting, loading or validating, lockers while waiting), so
 * for a plain table this is the current phase's fraction; for a partitioned table it is the
 * partitions done plus the current partition's fraction, over all partitions. Null when no
 * counter has a total yet (initializing, or hidden from pgscope's role).
 */
export function progressRatio(row: IndexBuildRow): number | null {
  const phase =
    fraction(row.blocks_done, row.blocks_total) ??
    fraction(row.tuples_done, row.tuples_total) ??
    fraction(row.lockers_done, row.lockers_total);
  const partitionsTotal = Number(row.partitions_total ?? 0);
  if (partitionsTotal > 0) {
    const done = Math.min(partitionsTotal, Number(row.partitions_done ?? 0) + (phase ?? 0));
    return done / partitionsTotal;
  }
  return phase;
}

function fraction(done: bigint | null, total: bigint | null): number | null {
  if (done === null || total === null || total <= 0n) return null;
  return Math.min(1, Number(done) / Number(total));
}
