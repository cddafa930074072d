// Cumulative statistics (pg_stat_* views) reach other sessions asynchronously. A backend flushes its
// counters when it goes idle, at most once a second, unless pg_stat_force_next_flush() (PostgreSQL
// 15+) asked for it: then the flush happens before the server reports "ready for query", so the
// counters are visible to every session as soon as the statement returns.
import { inject } from 'vitest';
import { Database, queryOnce } from '../../src/db/pool.js';
import { testConfig } from './database.js';

/**
 * Runs each statement in its own transaction, all in one session (VACUUM needs to be outside a
 * transaction), flushing the counters after each: ANALYZE and VACUUM overwrite the shared row
 * counts, and counts a backend still held back would be added after them. Returns once the
 * statistics are visible to other sessions.
 */
export async function runAndFlushStats(url: string, statements: string[]): Promise<void> {
  const db = new Database(url, { applicationName: 'pgscope-test-fixture', pool: testConfig().pool });
  const flushes = inject('pgMajorVersion') >= 15;
  try {
    await db.withClient(async (client) => {
      for (const statement of statements) {
        await client.query(statement);
        if (flushes) await client.query('SELECT pg_stat_force_next_flush()');
      }
    });
  } finally {
    await db.end();
  }
  // Before PostgreSQL 15 an exiting backend sends its counters to the statistics collector, which
  // publishes them within its 500 ms interval.
  if (!flushes) await queryOnce(url, 'SELECT pg_sleep(1)');
}

/** Session settings that make the planner use only sequential scans, or only plain index scans. */
export const ONLY_SEQ_SCANS = ['SET enable_indexscan = off', 'SET enable_indexonlyscan = off', 'SET enable_bitmapscan = off'];
export const ONLY_INDEX_SCANS = ['SET enable_seqscan = off', 'SET enable_bitmapscan = off', 'SET enable_indexonlyscan = off'];
