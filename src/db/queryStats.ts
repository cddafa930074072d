// What is slow: statements from pg_stat_statements, aggregated per queryid over roles (and over
// top-level/nested entries) in the current database. Columns are chosen from the view's real
// column list, so extension versions 1.8-1.12 (PostgreSQL 13-18, including 17's renames) all work.
import { ErrorCode, PgscopeError } from '../errors.js';
import { maskAllLiterals } from '../sql/redact.js';
import type { Capabilities } from './capabilities.js';
import type { Queryable } from './pool.js';
import { quoteIdent } from '../sql/quote.js';
import { SqlState, sqlStateOf } from './sqlState.js';

export const SlowQueryOrder = {
  TOTAL_TIME: 'total_time_ms',
  MEAN_TIME: 'mean_time_ms',
  MAX_TIME: 'max_time_ms',
  CALLS: 'calls',
  ROWS: 'rows',
  SHARED_BLOCKS_READ: 'shared_blocks_read',
  TEMP_BLOCKS_WRITTEN: 'temp_blocks_written',
} as const;
export type SlowQueryOrder = keyof typeof SlowQueryOrder;

export interface SlowQueryRow {
  query_id: string;
  query: string;
  calls: bigint;
  total_time_ms: number;
  mean_time_ms: number;
  min_time_ms: number;
  max_time_ms: number;
  stddev_time_ms: number;
  rows: bigint;
  shared_blocks_hit: bigint;
  shared_blocks_read: bigint;
  cache_hit_ratio: number | null;
  temp_blocks_read: bigint;
  temp_blocks_written: bigint;
  /** Null when pg_stat_statements.track_planning is off (planning is then not measured). */
  planning_time_ms: number | null;
  /** Time spent reading blocks; null unless track_io_timing is on. */
  block_read_time_ms: number | null;
  share_of_total_time: number | null;
  /** Null before extension 1.9 (PostgreSQL 14), which added the column. */
  toplevel: boolean | null;
  /** When the oldest aggregated entry started counting; null before extension 1.11 (PostgreSQL 17). */
  stats_since: Date | null;
}

export interface SlowQueryFilter {
  minMeanTimeMs: number;
  minCalls: number;
  orderBy: SlowQueryOrder;
  limit: number;
  /** Only these queryids (the statements an index recommendation helps); absent: every statement. */
  queryIds?: readonly string[];
}

/** The schema-qualified view, or a typed error that tells the user exactly how to enable it. */
export function pgStatStatementsView(caps: Capabilities): string {
  const ext = caps.pgStatStatements;
  if (ext.installed && caps.pgStatStatementsReadable) return `${quoteIdent(ext.schema!)}.pg_stat_statements`;
  throw extensionNotLoaded(caps);
}

export function extensionNotLoaded(caps: Capabilities): PgscopeError {
  const preload =
    "add it to shared_preload_libraries in postgresql.conf (shared_preload_libraries = 'pg_stat_statements') and restart PostgreSQL";
  const create = `run CREATE EXTENSION pg_stat_statements; in database "${caps.database}"`;
  let message: string;
  if (!caps.pgStatStatements.available) {
    message = `pg_stat_statements is not available on this server. Install PostgreSQL's contrib package (for example postgresql-contrib), ${preload}, then ${create}.`;
  } else if (!caps.pgStatStatements.installed) {
    message =
      caps.pgStatStatementsPreloaded === false
        ? `pg_stat_statements is not enabled. To enable it, ${preload}, then ${create}.`
        : `pg_stat_statements is not installed in database "${caps.database}". To enable it, ${create} (the library must also be in shared_preload_libraries).`;
  } else {
    message = `pg_stat_statements is installed in "${caps.database}" but its library is not loaded. To load it, ${preload}.`;
  }
  return new PgscopeError(ErrorCode.EXTENSION_NOT_LOADED, message, { extension: 'pg_stat_statements' });
}

/**
 * Per-entry SQL expressions for the columns whose names changed across extension versions
 * (total_time became total_exec_time in 1.8, blk_read_time shared_blk_read_time in 1.11), or
 * that only some versions have; NULL where the version lacks the column or the server does not
 * measure it (track_planning, track_io_timing off).
 */
export function entryColumns(caps: Capabilities) {
  const has = (column: string) => caps.pgStatStatementsColumns.has(column);
  const time = (stat: string) => (has(`${stat}_exec_time`) ? `${stat}_exec_time` : `${stat}_time`);
  const readTime = has('shared_blk_read_time') ? 'shared_blk_read_time' : 'blk_read_time';
  return {
    total: time('total'),
    min: time('min'),
    max: time('max'),
    mean: time('mean'),
    stddev: time('stddev'),
    planning: has('total_plan_time')
      ? `CASE WHEN current_setting('pg_stat_statements.track_planning', true) = 'on' THEN total_plan_time END`
      : 'NULL::float8',
    readTime: has(readTime) ? `CASE WHEN current_setting('track_io_timing') = 'on' THEN ${readTime} END` : 'NULL::float8',
    toplevel: has('toplevel') ? 'toplevel' : 'NULL::boolean',
    statsSince: has('stats_since') ? 'stats_since' : 'NULL::timestamptz',
  };
}

/**
 * FROM and WHERE for the entries that both the slow-query list and the advisor's workload read: this
 * database's, with a queryid (a role without pg_read_all_stats sees other roles' entries without
 * one). `topLevelOnly` also leaves out nested statements where the view tells them apart (toplevel,
 * extension 1.9+).
 */
export function thisDatabaseEntries(caps: Capabilities, { topLevelOnly }: { topLevelOnly: boolean }): string {
  const topLevel = topLevelOnly && caps.pgStatStatementsColumns.has('toplevel') ? 'AND toplevel' : '';
  return /* SQL */ `FROM ${pgStatStatementsView(caps)}
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND queryid IS NOT NULL
        ${topLevel}`;
}

/**
 * The per-queryid columns both read, summed over its entries (roles, and nested statements unless
 * left out): the text of the most-called entry (top-level first), calls, total time, and mean time as the total over
 * the calls (the entries' own means are not averaged). Needs GROUP BY queryid.
 */
export function perQueryIdTotals(caps: Capabilities): string {
  const c = entryColumns(caps);
  // a nested entry's text is the statement around it (pgscope's own PREPARE when it costs one)
  const topLevelFirst = caps.pgStatStatementsColumns.has('toplevel') ? 'toplevel DESC, ' : '';
  return /* SQL */ `queryid::text AS query_id,
        (array_agg(query ORDER BY ${topLevelFirst}calls DESC, userid))[1] AS query,
        sum(calls)::int8 AS calls,
        sum(${c.total}) AS total_time_ms,
        sum(${c.total}) / nullif(sum(calls), 0) AS mean_time_ms`;
}

const sqlCache = new WeakMap<Capabilities, string>();

/** One statement: filter, aggregate, rank and limit inside PostgreSQL. */
export function slowQueriesSql(caps: Capabilities): string {
  const cached = sqlCache.get(caps);
  if (cached) return cached;
  const c = entryColumns(caps);
  const sql = /* SQL */ `
    WITH entries AS (
      SELECT *
      ${thisDatabaseEntries(caps, { topLevelOnly: false })}
    ),
    statements AS (
      SELECT
        ${perQueryIdTotals(caps)},
        min(${c.min}) AS min_time_ms,
        max(${c.max}) AS max_time_ms,
        -- pooled standard deviation of the aggregated entries
        sqrt(greatest(
          sum(calls * (${c.stddev} ^ 2 + ${c.mean} ^ 2)) / nullif(sum(calls), 0)
            - (sum(${c.total}) / nullif(sum(calls), 0)) ^ 2,
          0)) AS stddev_time_ms,
        sum(rows)::int8 AS rows,
        sum(shared_blks_hit)::int8 AS shared_blocks_hit,
        sum(shared_blks_read)::int8 AS shared_blocks_read,
        sum(temp_blks_read)::int8 AS temp_blocks_read,
        sum(temp_blks_written)::int8 AS temp_blocks_written,
        sum(${c.planning}) AS planning_time_ms,
        sum(${c.readTime}) AS block_read_time_ms,
        bool_or(${c.toplevel}) AS toplevel,
        min(${c.statsSince}) AS stats_since
      FROM entries
      GROUP BY queryid
    ),
    ranked AS (
      SELECT
        *,
        shared_blocks_hit::float8 / nullif(shared_blocks_hit + shared_blocks_read, 0) AS cache_hit_ratio,
        total_time_ms / nullif(sum(total_time_ms) OVER (), 0) AS share_of_total_time
      FROM statements
    )
    SELECT *
    FROM ranked
    WHERE mean_time_ms >= $1
      AND calls >= $2
      AND ($5::text[] IS NULL OR query_id = ANY ($5::text[]))
    ORDER BY
      CASE $3::text
        WHEN 'total_time_ms' THEN total_time_ms
        WHEN 'mean_time_ms' THEN mean_time_ms
        WHEN 'max_time_ms' THEN max_time_ms
        WHEN 'calls' THEN calls
        WHEN 'rows' THEN rows
        WHEN 'shared_blocks_read' THEN shared_blocks_read
        WHEN 'temp_blocks_written' THEN temp_blocks_written
      END DESC,
      query_id
    LIMIT $4`;
  sqlCache.set(caps, sql);
  return sql;
}

/**
 * The extension changed since detection: 55000 when its library was unloaded (a restart without
 * the preload), 42P01/42883 when it was dropped. Either way the user needs the enabling steps.
 */
export function staleExtensionError(error: unknown, caps: Capabilities): unknown {
  // The pool translates 55000 (EXTENSION_NOT_LOADED) but keeps the SQLSTATE; this adds the per-database steps.
  const code = sqlStateOf(error);
  if (code === SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE) return extensionNotLoaded({ ...caps, pgStatStatementsReadable: false });
  if (code === SqlState.UNDEFINED_TABLE || code === SqlState.UNDEFINED_FUNCTION) {
    return extensionNotLoaded({ ...caps, pgStatStatements: { ...caps.pgStatStatements, installed: false } });
  }
  return error;
}

export async function slowQueries(db: Queryable, caps: Capabilities, filter: SlowQueryFilter): Promise<SlowQueryRow[]> {
  const sql = slowQueriesSql(caps);
  try {
    const rows = await db.query<SlowQueryRow>(sql, [
      filter.minMeanTimeMs,
      filter.minCalls,
      SlowQueryOrder[filter.orderBy],
      filter.limit,
      filter.queryIds ?? null,
    ]);
    return await withMaskedTexts(rows);
  } catch (error) {
    throw staleExtensionError(error, caps);
  }
}

/** Statement texts leave pgscope with every constant masked (see sql/redact.ts): the paths that return rows of them go through here. */
export async function withMaskedTexts<Row extends { query: string }>(rows: Row[]): Promise<Row[]> {
  const texts = await maskAllLiterals(rows.map((row) => row.query));
  return rows.map((row, i) => ({ ...row, query: texts[i]! }));
}
