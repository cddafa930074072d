// The measured effect of a change on the statements it was meant to help: their calls and mean
// time before and after, from pgscope's query-statistics snapshots (never from a reset). Before:
// from the first snapshot of the day before the change to the last one taken before it. After:
// from the first snapshot after it finished to the latest. Either side needs two snapshots.
import { maskAllLiterals } from '../../sql/redact.js';
import type { Queryable } from '../pool.js';
import { isQueryId } from '../queryIds.js';

export interface EffectWindow {
  from: Date;
  to: Date;
  calls: bigint;
  meanTimeMs: number | null;
}

export interface StatementEffect {
  queryId: string;
  /** The statement's text as the history stored it, constants masked; null when unknown. */
  query: string | null;
  /** null until there are two snapshots before the change (or the counters restarted in between). */
  before: EffectWindow | null;
  /** null until there are two snapshots after it finished. */
  after: EffectWindow | null;
}

interface EffectRow {
  query_id: string;
  query: string | null;
  before_from: Date | null;
  before_to: Date | null;
  before_calls: bigint | null;
  before_time_ms: number | null;
  after_from: Date | null;
  after_to: Date | null;
  after_calls: bigint | null;
  after_time_ms: number | null;
}

const EFFECT_SQL = /* SQL */ `
  WITH snapshot AS (
    SELECT
      s.id,
      s.captured_at
    FROM pgscope.query_stats_snapshot s
    WHERE s.dbid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
  ),
  mark AS (
    SELECT
      (SELECT id FROM snapshot WHERE captured_at >= $2::timestamptz - interval '1 day' AND captured_at <= $2 ORDER BY captured_at LIMIT 1) AS before_start,
      (SELECT id FROM snapshot WHERE captured_at <= $2 ORDER BY captured_at DESC LIMIT 1) AS before_end,
      (SELECT id FROM snapshot WHERE captured_at >= $3 ORDER BY captured_at LIMIT 1) AS after_start,
      (SELECT id FROM snapshot WHERE captured_at >= $3 ORDER BY captured_at DESC LIMIT 1) AS after_end
  ),
  total AS (
    -- every role's entry of the statement, top-level only where the extension tells levels apart
    SELECT
      sample.snapshot_id,
      sample.queryid,
      sum(sample.calls) AS calls,
      sum(sample.total_time_ms) AS time_ms
    FROM pgscope.query_stats_sample sample, mark
    WHERE sample.snapshot_id IN (mark.before_start, mark.before_end, mark.after_start, mark.after_end)
      AND sample.queryid = ANY ($1::bigint[])
      AND sample.toplevel IS NOT FALSE
    GROUP BY sample.snapshot_id, sample.queryid
  ),
  delta AS (
    SELECT
      q.queryid,
      -- a statement absent from the first snapshot of a window started counting within it
      CASE WHEN mark.before_start <> mark.before_end THEN coalesce(b1.calls, 0) - coalesce(b0.calls, 0) END AS before_calls,
      CASE WHEN mark.before_start <> mark.before_end THEN coalesce(b1.time_ms, 0) - coalesce(b0.time_ms, 0) END AS before_time_ms,
      CASE WHEN mark.after_start <> mark.after_end THEN coalesce(a1.calls, 0) - coalesce(a0.calls, 0) END AS after_calls,
      CASE WHEN mark.after_start <> mark.after_end THEN coalesce(a1.time_ms, 0) - coalesce(a0.time_ms, 0) END AS after_time_ms
    FROM unnest($1::bigint[]) AS q(queryid)
    CROSS JOIN mark
    LEFT JOIN total b0 ON b0.snapshot_id = mark.before_start AND b0.queryid = q.queryid
    LEFT JOIN total b1 ON b1.snapshot_id = mark.before_end AND b1.queryid = q.queryid
    LEFT JOIN total a0 ON a0.snapshot_id = mark.after_start AND a0.queryid = q.queryid
    LEFT JOIN total a1 ON a1.snapshot_id = mark.after_end AND a1.queryid = q.queryid
  )
  SELECT
    d.queryid::text AS query_id,
    (
      SELECT t.query
      FROM pgscope.query_stats_text t
      WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND t.queryid = d.queryid
    ) AS query,
    (SELECT captured_at FROM snapshot WHERE id = mark.before_start) AS before_from,
    (SELECT captured_at FROM snapshot WHERE id = mark.before_end) AS before_to,
    -- counters that went down restarted (a reset or an eviction): no honest difference
    CASE WHEN d.before_calls >= 0 THEN d.before_calls END::int8 AS before_calls,
    CASE WHEN d.before_calls >= 0 THEN d.before_time_ms END::float8 AS before_time_ms,
    (SELECT captured_at FROM snapshot WHERE id = mark.after_start) AS after_from,
    (SELECT captured_at FROM snapshot WHERE id = mark.after_end) AS after_to,
    CASE WHEN d.after_calls >= 0 THEN d.after_calls END::int8 AS after_calls,
    CASE WHEN d.after_calls >= 0 THEN d.after_time_ms END::float8 AS after_time_ms
  FROM delta d
  CROSS JOIN mark`;

/**
 * The effect on each of `queryIds` of a change requested at `requestedAt` and finished at
 * `finishedAt`, in their order. They come from a stored row: one that is no queryid (written
 * before pgscope checked them) gets no measurement rather than failing the whole read.
 */
export async function changeEffect(
  db: Queryable,
  queryIds: readonly string[],
  requestedAt: Date,
  finishedAt: Date,
): Promise<StatementEffect[]> {
  const measurable = [...new Set(queryIds.filter(isQueryId))];
  const rows = measurable.length === 0 ? [] : await db.query<EffectRow>(EFFECT_SQL, [measurable, requestedAt, finishedAt]);
  // Stored masked since migration 6; masked again on the way out, whatever wrote them.
  const texts = await maskAllLiterals(rows.map((row) => row.query ?? ''));
  const byId = new Map(rows.map((row, i) => [BigInt(row.query_id), { ...row, query: row.query === null ? null : texts[i]! }]));
  return queryIds.map((queryId) => {
    const row = isQueryId(queryId) ? byId.get(BigInt(queryId)) : undefined;
    if (!row) return { queryId, query: null, before: null, after: null };
    return {
      queryId,
      query: row.query,
      before: window(row.before_from, row.before_to, row.before_calls, row.before_time_ms),
      after: window(row.after_from, row.after_to, row.after_calls, row.after_time_ms),
    };
  });
}

function window(from: Date | null, to: Date | null, calls: bigint | null, timeMs: number | null): EffectWindow | null {
  if (!from || !to || calls === null || timeMs === null) return null;
  return { from, to, calls, meanTimeMs: calls > 0n ? timeMs / Number(calls) : null };
}
