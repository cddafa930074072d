// One statement's history between consecutive snapshots, for charts: calls and time per interval,
// with the same restart rules as a window (see deltas.ts).
import { notFound } from '../../errors.js';
import { maskLiterals } from '../../sql/redact.js';
import type { Capabilities } from '../capabilities.js';
import type { Queryable } from '../pool.js';
import { historyError } from './snapshots.js';
import { entryDeltasSql } from './deltas.js';

export interface QueryStatsIntervalRow {
  from_time: Date;
  to_time: Date;
  /** The statement had an entry at the interval's end (false: not run yet, or evicted). */
  tracked: boolean;
  restarted: boolean;
  calls: bigint;
  total_time_ms: number;
  mean_time_ms: number | null;
  rows: bigint;
  shared_blocks_hit: bigint;
  shared_blocks_read: bigint;
  temp_blocks_written: bigint;
}

export interface QueryStatsHistoryResult {
  query_id: string;
  query: string;
  intervals: QueryStatsIntervalRow[];
}

const STATEMENT_TEXT_SQL = /* SQL */ `
  SELECT
    query
  FROM pgscope.query_stats_text
  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND queryid = $1`;

/** Consecutive snapshots from the window's start ($2, as above) to $3, and statement $1's deltas between them. */
const INTERVALS_SQL = /* SQL */ `
  WITH here AS (
    SELECT oid AS dbid FROM pg_database WHERE datname = current_database()
  ),
  snapshots AS (
    SELECT
      s.id,
      s.captured_at,
      s.stats_reset,
      lag(s.id) OVER w AS start_id,
      lag(s.captured_at) OVER w AS start_captured_at,
      lag(s.stats_reset) OVER w AS start_stats_reset
    FROM pgscope.query_stats_snapshot s
    WHERE s.dbid = (SELECT dbid FROM here)
      AND s.captured_at >= coalesce(
        (
          SELECT max(captured_at)
          FROM pgscope.query_stats_snapshot
          WHERE dbid = (SELECT dbid FROM here)
            AND captured_at <= $2
        ),
        '-infinity')
      AND s.captured_at <= $3
    WINDOW w AS (ORDER BY s.captured_at, s.id)
  )
  SELECT
    i.start_captured_at AS from_time,
    i.captured_at AS to_time,
    d.*
  FROM snapshots i
  CROSS JOIN LATERAL (
    SELECT
      count(*) > 0 AS tracked,
      coalesce(bool_or(restarted), false) AS restarted,
      coalesce(sum(calls), 0)::int8 AS calls,
      coalesce(sum(total_time_ms), 0) AS total_time_ms,
      sum(total_time_ms) / nullif(sum(calls), 0) AS mean_time_ms,
      coalesce(sum(rows), 0)::int8 AS rows,
      coalesce(sum(shared_blocks_hit), 0)::int8 AS shared_blocks_hit,
      coalesce(sum(shared_blocks_read), 0)::int8 AS shared_blocks_read,
      coalesce(sum(temp_blocks_written), 0)::int8 AS temp_blocks_written
    FROM (${entryDeltasSql(
      '(SELECT * FROM pgscope.query_stats_sample WHERE snapshot_id = i.id AND queryid = $1)',
      '(SELECT * FROM pgscope.query_stats_sample WHERE snapshot_id = i.start_id AND queryid = $1)',
      'coalesce(i.stats_reset > i.start_stats_reset, false)',
    )}) entry
  ) d
  WHERE i.start_id IS NOT NULL
  ORDER BY i.captured_at, i.id`;

/** Statement `queryId`'s deltas between consecutive snapshots, from `since` (the window's start rule) to `until`. */
export async function queryStatsHistory(
  db: Queryable,
  caps: Capabilities,
  queryId: string,
  range: { since: Date; until: Date },
): Promise<QueryStatsHistoryResult> {
  try {
    const [text] = await db.query<{ query: string }>(STATEMENT_TEXT_SQL, [queryId]);
    if (!text) throw notFound(`No snapshot of database "${caps.database}" holds a statement with queryId ${queryId}.`, { queryId });
    const intervals = await db.query<QueryStatsIntervalRow>(INTERVALS_SQL, [queryId, range.since, range.until]);
    return { query_id: queryId, query: await maskLiterals(text.query), intervals };
  } catch (error) {
    throw historyError(error, caps);
  }
}
