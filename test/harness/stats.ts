// Cumulative statistics (pg_stat_* views) reach other sessions asynchronously, differently by version:
// - PostgreSQL 15+: a backend flushes its counters to shared memory when it goes idle, at most once a
//   second, unless pg_stat_force_next_flush() asked for it: then the flush happens before the server
//   reports "ready for query", so the counters are visible to every session once the statement returns.
// - Before 15: a backend sends its pending counters to the statistics collector (UDP) when it goes
//   idle, but only if 500 ms (PGSTAT_STAT_INTERVAL) passed since its last report; ANALYZE and VACUUM
//   send their results at once. The collector publishes a stats file on request, and a reader accepts
//   a file up to 500 ms old. Counters still held back by a backend are added after an ANALYZE that
//   came later (1100 modifications where ANALYZE left 100): they must be sent before it.
//   The collector writes a stats file when asked, before it reads the messages still waiting.
// In every version, the views keep one snapshot for a whole transaction (pg_stat_clear_snapshot()).
import { inject } from 'vitest';
import { Database, type Queryable } from '../../src/db/pool.js';
import { testConfig, type TestDatabase } from './database.js';
import { waitFor } from './waitFor.js';

/** Statements that overwrite shared counters (row counts, modifications since analyze). */
const OVERWRITES_COUNTERS = /^\s*(ANALYZE|VACUUM)\b/i;

/** Longer than PGSTAT_STAT_INTERVAL (500 ms), so that the next idle moment reports (before 15). */
const REPORT_INTERVAL_S = 0.6;

const collectorVersion = () => inject('pgMajorVersion') < 15;

/**
 * Makes the counters this session holds back reach the shared statistics: at once on 15+; before
 * 15, by a statement that ends after the report interval (the backend reports when it goes idle).
 */
export async function flushStats(session: Queryable): Promise<void> {
  if (collectorVersion()) await session.query(`SELECT pg_sleep(${REPORT_INTERVAL_S})`);
  else await session.query('SELECT pg_stat_force_next_flush()');
}

/**
 * Returns once every other session sees what was flushed before it was called. Before 15, a stats
 * file newer than the flush is not enough: the collector writes a file someone asked for before it
 * reads the messages already waiting in its socket. So this session scans a temporary table of its
 * own and reports it: one socket queues the messages in the order they were sent, and once the
 * collector has published that scan, it has read every message sent before it.
 */
export async function waitForPublishedStats(url: string): Promise<void> {
  if (!collectorVersion()) return;
  const db = new Database(url, { applicationName: 'pgscope-test-stats', pool: testConfig().pool });
  try {
    await db.withClient(async (client) => {
      await client.query('CREATE TEMPORARY TABLE published_stats_marker ()');
      await client.query('SELECT FROM published_stats_marker');
      await flushStats(client);
      await waitFor(
        'the statistics collector to publish a scan made after the flush',
        async () => {
          await client.query('SELECT pg_stat_clear_snapshot()');
          const [row] = await client.query<{ published: boolean }>(
            `SELECT pg_stat_get_numscans('published_stats_marker'::regclass) > 0 AS published`,
          );
          return row!.published;
        },
        5_000,
      );
      // now, not when the session ends after db.end() returned: a test's catalog read could see it
      await client.query('DROP TABLE published_stats_marker');
    });
  } finally {
    await db.end();
  }
}

/**
 * Runs each statement in its own transaction, all in one session (VACUUM needs to be outside a
 * transaction), flushing the counters after each (15+) or before each ANALYZE and VACUUM (before 15,
 * where a flush waits out the report interval): ANALYZE and VACUUM overwrite the shared row counts,
 * and counts a backend still held back would be added after them. Returns once the statistics are
 * visible to other sessions.
 */
export async function runAndFlushStats(url: string, statements: string[]): Promise<void> {
  const db = new Database(url, { applicationName: 'pgscope-test-fixture', pool: testConfig().pool });
  const collector = collectorVersion();
  try {
    await db.withClient(async (client) => {
      let pending = false;
      for (const statement of statements) {
        const overwrites = OVERWRITES_COUNTERS.test(statement);
        if (collector && overwrites && pending) await flushStats(client);
        await client.query(statement);
        pending = !overwrites;
        if (!collector) await flushStats(client);
      }
      if (collector && pending) await flushStats(client);
    });
  } finally {
    await db.end();
  }
  await waitForPublishedStats(url);
}

/** Session settings that make the planner use only sequential scans, or only plain index scans. */
export const ONLY_SEQ_SCANS = ['SET enable_indexscan = off', 'SET enable_indexonlyscan = off', 'SET enable_bitmapscan = off'];
export const ONLY_INDEX_SCANS = ['SET enable_seqscan = off', 'SET enable_bitmapscan = off', 'SET enable_indexonlyscan = off'];

/**
 * pg_stat_statements_reset for the current database only. The argument-less call empties the view
 * for every database of the server, and so for the test files running next to this one.
 */
export const RESET_THIS_DATABASE_STATEMENTS =
  'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)';

/** The queryid pg_stat_statements gives `text` in `target`'s database (other test files run the same texts in theirs). */
export async function queryIdOf(target: TestDatabase, text: string): Promise<string> {
  const rows = await target.sql<{ query_id: string }>(
    /* SQL */ `
    SELECT DISTINCT
      queryid::text AS query_id
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND query = $1`,
    [text],
  );
  if (rows.length !== 1) throw new Error(`expected one queryid for ${text}, found ${rows.length}`);
  return rows[0]!.query_id;
}
