// Query-statistics history without reset: snapshots of pg_stat_statements' cumulative counters in
// pgscope's own schema (migrations/2_query-stats-history.sql), taken on request or on a timer.
// Nothing here calls pg_stat_statements_reset(): PgHero's capture does, and its users lose their
// totals. Differences between snapshots, and the resets and evictions others caused, are read in
// deltas.ts and series.ts.
import type { Config } from '../../config.js';
import { ErrorCode, isPgscopeError, PgscopeError } from '../../errors.js';
import { maskAllLiterals } from '../../sql/redact.js';
import { readOnlyReplicaRefusal, type Capabilities } from '../capabilities.js';
import type { Db, Queryable } from '../pool.js';
import { entryColumns, pgStatStatementsView, staleExtensionError } from '../queryStats.js';
import { quoteIdent } from '../../sql/quote.js';
import { SqlState, sqlStateOf } from '../sqlState.js';

/** The counters a sample keeps; each one only grows while its entry keeps counting. */
export const COUNTERS = [
  'calls',
  'total_time_ms',
  'rows',
  'shared_blocks_hit',
  'shared_blocks_read',
  'temp_blocks_read',
  'temp_blocks_written',
  'planning_time_ms',
  'block_read_time_ms',
] as const;

/** This database's entries of the live view, renamed once into the sample table's columns. */
export function liveEntriesSql(caps: Capabilities): string {
  const c = entryColumns(caps);
  return /* SQL */ `
    SELECT
      queryid,
      userid,
      ${c.toplevel} AS toplevel,
      query,
      calls,
      ${c.total} AS total_time_ms,
      rows,
      shared_blks_hit AS shared_blocks_hit,
      shared_blks_read AS shared_blocks_read,
      temp_blks_read AS temp_blocks_read,
      temp_blks_written AS temp_blocks_written,
      ${c.planning} AS planning_time_ms,
      ${c.readTime} AS block_read_time_ms,
      ${c.statsSince} AS stats_since
    FROM ${pgStatStatementsView(caps)}
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`;
}

/** pg_stat_statements_info came with extension 1.9, as did the toplevel column. */
export function infoSql(caps: Capabilities): string {
  if (!caps.pgStatStatementsColumns.has('toplevel')) return 'SELECT NULL::timestamptz AS stats_reset, NULL::int8 AS deallocations';
  return `SELECT stats_reset, dealloc AS deallocations FROM ${quoteIdent(caps.pgStatStatements.schema!)}.pg_stat_statements_info`;
}

export interface QueryStatsSnapshotRow {
  id: string;
  captured_at: Date;
  statements: number;
  hidden_statements: number;
  stats_reset: Date | null;
  /** Null without a previous snapshot or without pg_stat_statements_info. */
  reset_since_previous: boolean | null;
  deallocations_since_previous: bigint | null;
  deleted_snapshots: number;
}

/** One statement: read the view once, write the header, the samples and new texts. */
function captureSql(caps: Capabilities): string {
  return /* SQL */ `
    WITH entries AS MATERIALIZED (${liveEntriesSql(caps)}),
    info AS (${infoSql(caps)}),
    previous AS (
      SELECT
        stats_reset,
        deallocations
      FROM pgscope.query_stats_snapshot
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY captured_at DESC, id DESC
      LIMIT 1
    ),
    snapshot AS (
      INSERT INTO pgscope.query_stats_snapshot (captured_at, dbid, database_name, stats_reset, deallocations, statements, hidden_statements)
      SELECT
        -- milliseconds, as DateTime carries them: a client's since = capturedAt finds this snapshot
        date_trunc('milliseconds', now()),
        d.oid,
        d.datname,
        info.stats_reset,
        info.deallocations,
        (SELECT count(DISTINCT queryid) FROM entries),
        (SELECT count(*) FROM entries WHERE queryid IS NULL)
      FROM pg_database d
      CROSS JOIN info
      WHERE d.datname = current_database()
      RETURNING *
    ),
    samples AS (
      INSERT INTO pgscope.query_stats_sample (snapshot_id, queryid, userid, toplevel, stats_since, ${COUNTERS.join(', ')})
      SELECT
        s.id,
        e.queryid,
        e.userid,
        e.toplevel,
        e.stats_since,
        ${COUNTERS.map((counter) => `e.${counter}`).join(', ')}
      FROM entries e
      CROSS JOIN snapshot s
      WHERE e.queryid IS NOT NULL
    ),
    texts AS (
      INSERT INTO pgscope.query_stats_text (dbid, queryid, query, last_seen_at)
      SELECT DISTINCT ON (e.queryid)
        s.dbid,
        e.queryid,
        coalesce(e.query, ''),
        s.captured_at
      FROM entries e
      CROSS JOIN snapshot s
      WHERE e.queryid IS NOT NULL
        -- known texts seen within a day are left alone: most captures write no text at all
        AND NOT EXISTS (
          SELECT
          FROM pgscope.query_stats_text known
          WHERE known.dbid = s.dbid
            AND known.queryid = e.queryid
            AND known.last_seen_at >= s.captured_at - interval '1 day'
        )
      ORDER BY e.queryid, e.calls DESC, e.userid
      ON CONFLICT (dbid, queryid) DO UPDATE
        SET last_seen_at = excluded.last_seen_at
    )
    SELECT
      s.id::text AS id,
      s.captured_at,
      s.statements,
      s.hidden_statements,
      s.stats_reset,
      s.stats_reset > p.stats_reset AS reset_since_previous,
      CASE
        WHEN s.stats_reset > p.stats_reset THEN s.deallocations
        ELSE s.deallocations - p.deallocations
      END AS deallocations_since_previous
    FROM snapshot s
    LEFT JOIN previous p ON true`;
}

// Texts live up to a day past retention (see the migration): they are refreshed at most daily.
const DELETE_EXPIRED_SQL = /* SQL */ `
  WITH expired AS (
    DELETE FROM pgscope.query_stats_snapshot
    WHERE captured_at < now() - make_interval(days => $1::int)
    RETURNING id
  ),
  expired_samples AS (
    DELETE FROM pgscope.query_stats_sample
    WHERE snapshot_id IN (SELECT id FROM expired)
  ),
  expired_texts AS (
    DELETE FROM pgscope.query_stats_text
    WHERE last_seen_at < now() - make_interval(days => $1::int + 1)
  )
  SELECT
    count(*)::int AS deleted_snapshots
  FROM expired`;

// The texts this capture wrote (new ones, and known ones whose last_seen_at it refreshed), and their
// masked versions written back inside the capture's transaction: no constant of a statement is
// ever committed to pgscope.query_stats_text.
const NEW_TEXTS_SQL = /* SQL */ `
  SELECT
    queryid::text AS query_id,
    query
  FROM pgscope.query_stats_text
  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND last_seen_at = $1`;

const REWRITE_TEXTS_SQL = /* SQL */ `
  UPDATE pgscope.query_stats_text t
  SET query = r.query
  FROM unnest($1::int8[], $2::text[]) AS r(queryid, query)
  WHERE t.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND t.queryid = r.queryid`;

async function maskNewTexts(client: Queryable, capturedAt: Date): Promise<void> {
  const texts = await client.query<{ query_id: string; query: string }>(NEW_TEXTS_SQL, [capturedAt]);
  const masked = await maskAllLiterals(texts.map((text) => text.query));
  const changed = texts.map((text, i) => ({ ...text, masked: masked[i]! })).filter((text) => text.masked !== text.query);
  if (changed.length === 0) return;
  await client.query(REWRITE_TEXTS_SQL, [changed.map((text) => text.query_id), changed.map((text) => text.masked)]);
}

/**
 * Advisory lock key of scheduled captures: (pgscope's class, 1). Replicas of pgscope capture on
 * their own timers; the one holding the lock captures, the others see its snapshot and skip.
 */
const CAPTURE_LOCK_SQL = 'SELECT pg_try_advisory_xact_lock(1885827939, 1) AS locked';

/** A statement of its own after the lock, so that it sees snapshots committed until the lock was taken. */
const LATEST_SNAPSHOT_AGE_SQL = /* SQL */ `
  SELECT
    extract(epoch FROM now() - max(captured_at))::float8 AS age_s
  FROM pgscope.query_stats_snapshot
  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`;

/** Takes a snapshot and deletes those older than `retentionDays`, in one transaction. */
export async function captureQueryStats(db: Db, caps: Capabilities, retentionDays: number): Promise<QueryStatsSnapshotRow> {
  return (await capture(db, caps, retentionDays, null))!;
}

/**
 * A scheduled capture: skipped (null) when another pgscope captures right now, or took a snapshot
 * less than `minAgeSeconds` ago, so that replicas against one database do not double the history.
 */
export async function captureUnlessRecent(
  db: Db,
  caps: Capabilities,
  retentionDays: number,
  minAgeSeconds: number,
): Promise<QueryStatsSnapshotRow | null> {
  return capture(db, caps, retentionDays, minAgeSeconds);
}

async function capture(
  db: Db,
  caps: Capabilities,
  retentionDays: number,
  minAgeSeconds: number | null,
): Promise<QueryStatsSnapshotRow | null> {
  const sql = captureSql(caps);
  try {
    // A failed `work` destroys its connection (see Db.withClient), which rolls the transaction back.
    return await db.withClient(async (client) => {
      await client.query('BEGIN');
      if (minAgeSeconds !== null) {
        const [lock] = await client.query<{ locked: boolean }>(CAPTURE_LOCK_SQL);
        const [latest] = lock!.locked ? await client.query<{ age_s: number | null }>(LATEST_SNAPSHOT_AGE_SQL) : [];
        if (!lock!.locked || (latest?.age_s != null && latest.age_s < minAgeSeconds)) {
          await client.query('ROLLBACK');
          return null;
        }
      }
      const [snapshot] = await client.query<Omit<QueryStatsSnapshotRow, 'deleted_snapshots'>>(sql);
      await maskNewTexts(client, snapshot!.captured_at);
      const [expired] = await client.query<{ deleted_snapshots: number }>(DELETE_EXPIRED_SQL, [retentionDays]);
      await client.query('COMMIT');
      return { ...snapshot!, deleted_snapshots: expired!.deleted_snapshots };
    });
  } catch (error) {
    if (isPgscopeError(error, 'INSUFFICIENT_PRIVILEGE')) {
      throw new PgscopeError(
        ErrorCode.INSUFFICIENT_PRIVILEGE,
        `Role "${caps.role}" may not write pgscope's history tables (pgscope.query_stats_*). Capture as the role that owns schema pgscope (the one that ran pgscope's migrations).`,
      );
    }
    throw historyError(error, caps);
  }
}

/** Captures now and then every `captureIntervalSeconds` (0: never), until stopped. */
export function startCapture(
  db: Db,
  capabilities: () => Promise<Capabilities>,
  config: Pick<Config, 'captureIntervalSeconds' | 'historyRetentionDays'>,
  warn: (message: string) => void,
): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = config.captureIntervalSeconds <= 0;
  let lastProblem: string | undefined;
  const captureOnce = async () => {
    try {
      // another replica's snapshot within half an interval stands for this one
      await captureUnlessRecent(db, await capabilities(), config.historyRetentionDays, config.captureIntervalSeconds / 2);
      if (lastProblem !== undefined) warn('pgscope: query-statistics capture works again.');
      lastProblem = undefined;
    } catch (error) {
      const problem = error instanceof Error ? error.message : String(error);
      // One line per new problem, not one per interval.
      if (problem !== lastProblem)
        warn(`pgscope: query-statistics capture failed, retrying every ${config.captureIntervalSeconds} s: ${problem}`);
      lastProblem = problem;
    }
  };
  // setTimeout fires at once for delays past 2^31 - 1 ms (24.8 days): wait at most that long.
  const delayMs = Math.min(config.captureIntervalSeconds * 1000, 2 ** 31 - 1);
  const tick = () => {
    running = captureOnce().finally(() => {
      if (stopped) return;
      timer = setTimeout(tick, delayMs);
      timer.unref();
    });
  };
  if (!stopped) tick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** Thrown for every history feature when pgscope's schema is missing in this database. */
export function historyUnavailable(caps: Capabilities): PgscopeError {
  if (caps.readOnlyReplica) return readOnlyReplicaRefusal(caps);
  return new PgscopeError(
    ErrorCode.FORBIDDEN,
    `Query-statistics history is unavailable: pgscope's own schema (pgscope) is not set up in database "${caps.database}". ` +
      `pgscope creates it at start-up when PGSCOPE_ADMIN_TOKEN is set and its role may create it: ` +
      `GRANT CREATE ON DATABASE ${quoteIdent(caps.database)} TO ${quoteIdent(caps.role)}; then restart pgscope.`,
  );
}

/** Missing history tables (42P01 naming pgscope's relation) or a stale extension, as typed errors. */
export function historyError(error: unknown, caps: Capabilities): unknown {
  const { message } = error as { message?: string };
  if (sqlStateOf(error) === SqlState.UNDEFINED_TABLE && message?.includes('pgscope.')) return historyUnavailable(caps);
  return staleExtensionError(error, caps);
}
