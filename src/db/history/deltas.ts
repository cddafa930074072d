// What changed between two points in time, from the snapshots of snapshots.ts: per-statement
// differences over a window, up to a later snapshot or to the live view (one statement's series
// between consecutive snapshots is in series.ts). Resets and evictions by others are
// detected, never caused: pg_stat_statements_info.stats_reset (1.9+) moving means everything
// restarted; an entry whose calls went down or whose stats_since (1.11+) moved restarted alone;
// dealloc counts eviction rounds.
import { notFound, type PgscopeError } from '../../errors.js';
import type { Capabilities } from '../capabilities.js';
import type { Queryable } from '../pool.js';
import { COUNTERS, historyError, infoSql, liveEntriesSql } from './snapshots.js';
import { withMaskedTexts, type SlowQueryRow } from '../queryStats.js';

export const QueryStatsDeltaOrder = {
  TOTAL_TIME: 'total_time_ms',
  MEAN_TIME: 'mean_time_ms',
  CALLS: 'calls',
  ROWS: 'rows',
  SHARED_BLOCKS_READ: 'shared_blocks_read',
  TEMP_BLOCKS_WRITTEN: 'temp_blocks_written',
} as const;
export type QueryStatsDeltaOrder = keyof typeof QueryStatsDeltaOrder;

/** SlowQuery's columns over a window, less those cumulative counters cannot give (min, max, stddev). */
export type QueryStatsDeltaRow = Omit<SlowQueryRow, 'min_time_ms' | 'max_time_ms' | 'stddev_time_ms' | 'stats_since'> & {
  /** Counted from a restart inside the window (reset, or evicted and back). */
  restarted: boolean;
};

interface WindowSummaryRow {
  from_snapshot_id: string | null;
  from_time: Date | null;
  from_hidden_statements: number | null;
  /** Null when the window ends at the live view. */
  to_snapshot_id: string | null;
  to_time: Date | null;
  to_hidden_statements: number | null;
  everything_reset: boolean | null;
  stats_reset: Date | null;
  deallocations: bigint | null;
  restarted_statements: number;
  evicted_statements: number;
}

export interface QueryStatsWindowResult extends WindowSummaryRow {
  from_snapshot_id: string;
  from_time: Date;
  to_time: Date;
  /** The start asked for; from_time is later when no snapshot is that old. */
  since: Date;
  reset_detected: boolean;
  statements: QueryStatsDeltaRow[];
}

export interface WindowRequest {
  since: Date;
  /** Null: up to the live view, now. */
  until: Date | null;
  minMeanTimeMs: number;
  minCalls: number;
  orderBy: QueryStatsDeltaOrder;
  limit: number;
}

/**
 * Per-entry differences of `end` (alias c) over `start` (alias b). An entry missing at the start
 * (new, or evicted and back) counts in full; so does one that restarted counting in between
 * (everything was reset, its calls went down, or its stats_since moved), flagged `restarted`.
 */
export function entryDeltasSql(end: string, start: string, everythingReset: string): string {
  const sameEntry = (alias: string) =>
    `${alias}.queryid = c.queryid AND ${alias}.userid = c.userid AND ${alias}.toplevel IS NOT DISTINCT FROM c.toplevel`;
  return /* SQL */ `
    SELECT
      c.queryid,
      c.toplevel,
      b.queryid IS NULL AND EXISTS (SELECT FROM ${start} r WHERE ${sameEntry('r')}) AS restarted,
      ${COUNTERS.map((counter) => `c.${counter} - coalesce(b.${counter}, 0) AS ${counter}`).join(',\n      ')}
    FROM ${end} c
    -- the same entry at the start, provided it kept counting since
    LEFT JOIN ${start} b
      ON ${sameEntry('b')}
      AND NOT (${everythingReset})
      AND c.calls >= b.calls
      AND NOT coalesce(c.stats_since > b.stats_since, false)`;
}

/** The window's start: the latest snapshot at or before $5; when none is that old, the oldest. */
const START_POINT_SQL = /* SQL */ `
  SELECT *
  FROM (
    (
      SELECT s.*, 1 AS preference
      FROM pgscope.query_stats_snapshot s
      WHERE s.dbid = (SELECT dbid FROM here)
        AND s.captured_at <= $5
      ORDER BY s.captured_at DESC, s.id DESC
      LIMIT 1
    )
    UNION ALL
    (
      SELECT s.*, 2 AS preference
      FROM pgscope.query_stats_snapshot s
      WHERE s.dbid = (SELECT dbid FROM here)
      ORDER BY s.captured_at, s.id
      LIMIT 1
    )
  ) candidates
  ORDER BY preference
  LIMIT 1`;

/** The window's end: the latest snapshot at or before $6 ... */
const END_SNAPSHOT_SQL = /* SQL */ `
  end_point AS (
    SELECT
      id,
      captured_at,
      stats_reset,
      deallocations,
      hidden_statements
    FROM pgscope.query_stats_snapshot
    WHERE dbid = (SELECT dbid FROM here)
      AND captured_at <= $6
    ORDER BY captured_at DESC, id DESC
    LIMIT 1
  ),
  end_entries AS (
    SELECT *
    FROM pgscope.query_stats_sample
    WHERE snapshot_id = (SELECT id FROM end_point)
  )`;

/** ... or the live view, now (read once). */
function endLiveSql(caps: Capabilities): string {
  return /* SQL */ `
  live AS MATERIALIZED (${liveEntriesSql(caps)}),
  end_point AS (
    SELECT
      NULL::int8 AS id,
      now() AS captured_at,
      info.stats_reset,
      info.deallocations,
      (SELECT count(*) FROM live WHERE queryid IS NULL)::int AS hidden_statements
    FROM (${infoSql(caps)}) info
  ),
  end_entries AS (
    SELECT *
    FROM live
    WHERE queryid IS NOT NULL
  )`;
}

/**
 * One statement: the window's bounds, per-statement deltas filtered, ranked and limited, and a
 * summary. The summary is LEFT JOINed to the statements so that it comes back even when no
 * statement matches (then as the only row, with NULL statement columns).
 * Parameters: $1 minMeanTimeMs, $2 minCalls, $3 sort column, $4 limit, $5 since, $6 until.
 */
function windowSql(caps: Capabilities, live: boolean): string {
  // Statements new since the last capture have no stored text yet: take the live one.
  const liveText = live ? '(SELECT l.query FROM live l WHERE l.queryid = t.queryid ORDER BY l.calls DESC, l.userid LIMIT 1)' : 'NULL';
  return /* SQL */ `
  WITH here AS (
    SELECT oid AS dbid FROM pg_database WHERE datname = current_database()
  ),
  start_point AS (${START_POINT_SQL}),
  start_entries AS (
    SELECT *
    FROM pgscope.query_stats_sample
    WHERE snapshot_id = (SELECT id FROM start_point)
  ),
  ${live ? endLiveSql(caps) : END_SNAPSHOT_SQL},
  everything AS (
    SELECT coalesce(e.stats_reset > s.stats_reset, false) AS reset
    FROM start_point s
    CROSS JOIN end_point e
  ),
  deltas AS (${entryDeltasSql('end_entries', 'start_entries', '(SELECT reset FROM everything)')}),
  statements AS (
    SELECT
      queryid,
      sum(calls)::int8 AS calls,
      sum(total_time_ms) AS total_time_ms,
      sum(total_time_ms) / nullif(sum(calls), 0) AS mean_time_ms,
      sum(rows)::int8 AS rows,
      sum(shared_blocks_hit)::int8 AS shared_blocks_hit,
      sum(shared_blocks_read)::int8 AS shared_blocks_read,
      sum(temp_blocks_read)::int8 AS temp_blocks_read,
      sum(temp_blocks_written)::int8 AS temp_blocks_written,
      sum(planning_time_ms) AS planning_time_ms,
      sum(block_read_time_ms) AS block_read_time_ms,
      bool_or(toplevel) AS toplevel,
      bool_or(restarted) AS restarted,
      sum(total_time_ms) / nullif(sum(sum(total_time_ms)) OVER (), 0) AS share_of_total_time
    FROM deltas
    GROUP BY queryid
  ),
  top AS (
    SELECT
      *,
      row_number() OVER (
        ORDER BY
          CASE $3::text
            WHEN 'total_time_ms' THEN total_time_ms
            WHEN 'mean_time_ms' THEN mean_time_ms
            WHEN 'calls' THEN calls
            WHEN 'rows' THEN rows
            WHEN 'shared_blocks_read' THEN shared_blocks_read
            WHEN 'temp_blocks_written' THEN temp_blocks_written
          END DESC,
          queryid
      ) AS position
    FROM statements
    WHERE calls >= $2
      AND mean_time_ms >= $1
    ORDER BY position
    LIMIT $4
  ),
  summary AS (
    SELECT
      s.id::text AS from_snapshot_id,
      s.captured_at AS from_time,
      s.hidden_statements AS from_hidden_statements,
      e.id::text AS to_snapshot_id,
      e.captured_at AS to_time,
      e.hidden_statements AS to_hidden_statements,
      everything.reset AS everything_reset,
      e.stats_reset,
      CASE
        WHEN everything.reset THEN e.deallocations
        ELSE e.deallocations - s.deallocations
      END AS deallocations,
      (SELECT count(*) FROM statements WHERE restarted)::int AS restarted_statements,
      (
        SELECT count(DISTINCT b.queryid)
        FROM start_entries b
        WHERE NOT EXISTS (SELECT FROM end_entries c WHERE c.queryid = b.queryid)
      )::int AS evicted_statements
    FROM (SELECT) AS one_row
    LEFT JOIN start_point s ON true
    LEFT JOIN end_point e ON true
    LEFT JOIN everything ON true
  )
  SELECT
    summary.*,
    t.queryid::text AS query_id,
    coalesce(x.query, ${liveText}, '') AS query,
    t.calls,
    t.total_time_ms,
    t.mean_time_ms,
    t.rows,
    t.shared_blocks_hit,
    t.shared_blocks_read,
    t.shared_blocks_hit::float8 / nullif(t.shared_blocks_hit + t.shared_blocks_read, 0) AS cache_hit_ratio,
    t.temp_blocks_read,
    t.temp_blocks_written,
    t.planning_time_ms,
    t.block_read_time_ms,
    t.share_of_total_time,
    t.toplevel,
    t.restarted
  FROM summary
  LEFT JOIN top t ON true
  LEFT JOIN pgscope.query_stats_text x
    ON x.dbid = (SELECT dbid FROM here)
    AND x.queryid = t.queryid
  ORDER BY t.position`;
}

type WindowRow = WindowSummaryRow & { [K in keyof QueryStatsDeltaRow]: QueryStatsDeltaRow[K] | null };

export async function queryStatsWindow(db: Queryable, caps: Capabilities, request: WindowRequest): Promise<QueryStatsWindowResult> {
  const live = request.until === null;
  const params = [request.minMeanTimeMs, request.minCalls, QueryStatsDeltaOrder[request.orderBy], request.limit, request.since];
  const rows = await db.query<WindowRow>(windowSql(caps, live), live ? params : [...params, request.until]).catch((error: unknown) => {
    throw historyError(error, caps);
  });
  const summary = rows[0]!;
  const { from_snapshot_id: fromId, from_time: from, to_time: to } = summary;
  if (fromId === null || from === null) throw noSnapshotYet(caps);
  if (to === null || to <= from) {
    throw notFound(
      `No snapshot was captured after ${from.toISOString()} and at or before ${request.until!.toISOString()}: there is no interval to compare.`,
    );
  }
  return {
    ...summary,
    from_snapshot_id: fromId,
    from_time: from,
    to_time: to,
    since: request.since,
    reset_detected: summary.everything_reset === true || summary.restarted_statements > 0,
    statements: await withMaskedTexts(rows.filter((row): row is WindowRow & QueryStatsDeltaRow => row.query_id !== null)),
  };
}

function noSnapshotYet(caps: Capabilities): PgscopeError {
  return notFound(
    `No query-statistics snapshot exists yet in database "${caps.database}": take one with the captureQueryStats mutation, ` +
      'or set PGSCOPE_CAPTURE_INTERVAL_S to capture automatically.',
  );
}
