// Write overhead against benefit over the same window: a table the workload updates heavily is
// charged its non-HOT updates, and a table bulk-loaded before pg_stat_statements was reset, then
// only read, is charged nothing for the load (the table counters still hold it), nor for a one-off
// backfill inside the window.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recommendIndexes, type AdvisorReport } from '../../src/advisor/recommend.js';
import { detectCapabilities } from '../../src/db/capabilities.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { RESET_THIS_DATABASE_STATEMENTS, runAndFlushStats } from '../harness/stats.js';

let target: TestDatabase;
let db: Database;
let report: AdvisorReport;

const ONE_OFF =
  'Not charged to any index: 1 write statement that wrote 10,000 rows or more a call in at most 2 calls (30,000 rows in all): ' +
  "a load, backfill or migration, not the workload's steady writes.";

const repeat = (times: number, sql: string) => Array.from({ length: times }, () => sql);

beforeAll(async () => {
  target = await createTestDatabase('advisor_recommend');
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  await runAndFlushStats(target.url, [
    // balance is indexed: updating it is never HOT
    'CREATE TABLE accounts (id int PRIMARY KEY, owner_id int NOT NULL, balance int NOT NULL)',
    'CREATE INDEX accounts_balance ON accounts (balance)',
    'INSERT INTO accounts SELECT g, g % 1000, 0 FROM generate_series(1, 20000) g',
    'CREATE TABLE events (id int PRIMARY KEY, customer_id int NOT NULL, at timestamptz NOT NULL)',
    "INSERT INTO events SELECT g, g % 5000, '2025-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 200000) g",
    'ANALYZE accounts',
    'ANALYZE events',
    RESET_THIS_DATABASE_STATEMENTS,
    // the steady writes: one statement, five calls of 3,000 rows
    ...repeat(5, 'UPDATE accounts SET balance = balance + 1 WHERE id <= 3000'),
    // a one-off inside the window (a backfill): 30,000 rows in one call, charged to no index
    "INSERT INTO events SELECT g, g % 5000, '2025-06-01'::timestamptz + g * interval '1 second' FROM generate_series(200001, 230000) g",
    ...repeat(3, 'SELECT id FROM accounts WHERE owner_id = 7'),
    ...repeat(10, 'SELECT id FROM events WHERE customer_id = 42'),
  ]);
  report = await recommendIndexes(db, await detectCapabilities(db), { minImprovement: 0 });
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

const keysOf = (candidate: { table: string; keys: Array<{ column: string | null }> }) =>
  `${candidate.table}(${candidate.keys.map((key) => key.column).join(', ')})`;

describe('write overhead over the reads’ window', () => {
  it("charges a plain table's non-HOT updates in the workload: 15,000 rows x 1 unit", () => {
    const rejected = report.rejected.find((r) => keysOf(r.candidate) === 'accounts(owner_id)');
    expect(rejected).toMatchObject({ reason: 'WRITE_OVERHEAD' });
    expect(rejected!.detail).toContain("Keeping it up to date on public.accounts's writes (about 15000 cost units)");
  });

  it('does not charge a table for its load before the window, nor a backfill in it: its index is recommended', () => {
    const events = report.recommendations.filter((r) => r.candidate.table === 'events');
    expect(events.map((r) => [keysOf(r.candidate), r.writeOverhead])).toEqual([['events(customer_id)', 0]]);
  });

  it('says which window reads and writes were counted over', async () => {
    if (inject('pgMajorVersion') < 14) {
      // extension 1.8 has no pg_stat_statements_info: no start to give
      expect(report.window).toEqual({
        source: 'PG_STAT_STATEMENTS',
        since: null,
        sentence:
          'Reads and writes are both counted from pg_stat_statements, over the same window; this version of it ' +
          '(before extension 1.9, PostgreSQL 14) does not say when it was last reset. ' +
          ONE_OFF,
      });
      return;
    }
    const [info] = await target.sql<{ stats_reset: Date }>('SELECT stats_reset FROM pg_stat_statements_info');
    expect(report.window).toEqual({
      source: 'PG_STAT_STATEMENTS',
      since: info!.stats_reset,
      sentence:
        'Reads and writes are both counted from pg_stat_statements, over the same window: since it was last reset as a whole, ' +
        `at ${info!.stats_reset.toISOString()} (statements reset one by one or evicted since count from later). ` +
        ONE_OFF,
    });
  });
});

describe('the time budget', () => {
  it('is spent before any costing when it is 0: nothing is recommended, the candidates are skipped for it, and the report says so', async () => {
    const spent = await recommendIndexes(db, await detectCapabilities(db), { minImprovement: 0, budgetMs: 0 });
    expect(spent.budgetExhausted).toBe(true);
    expect(spent.recommendations).toEqual([]);
    expect(spent.plansCosted).toBe(0);
    const skipped = spent.skipped.filter((s) => s.candidate !== null).map((s) => [keysOf(s.candidate!), s.reason]);
    expect(skipped).toEqual(
      expect.arrayContaining([['events(customer_id)', 'the costing time budget (0 ms) was spent before it was costed']]),
    );
  });
});
