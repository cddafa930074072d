// INCLUDE columns must be worth their bytes (issue 14, index bytes): a wide jsonb document is not
// copied into every entry of an index to spare twenty heap fetches, while a narrow column that turns
// a range's thousand heap fetches into an index-only scan is. End to end on a real workload, with
// HypoPG where the server has it and the pg_stats estimate otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recommendIndexes, type AdvisorReport } from '../../src/advisor/recommend.js';
import { detectCapabilities } from '../../src/db/capabilities.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { RESET_THIS_DATABASE_STATEMENTS, runAndFlushStats } from '../harness/stats.js';

let target: TestDatabase;
let report: AdvisorReport;

// events: 5,000 customers of 40 events each, spread over the table; every payload 180 bytes of
// jsonb. orders: created_at in no order of the table, a day of them (1,440 rows) on 990 pages.
// VACUUM sets the visibility map, as on a table at rest: index-only scans then skip the heap. It
// sets no page all-visible while the inserts' commit is not flushed: the throwaway test server runs
// with synchronous_commit off, the fixture's commit with it on.
const FIXTURE = /* SQL */ `
  SET synchronous_commit = on;
  CREATE TABLE events (
    id int PRIMARY KEY,
    customer_id int NOT NULL,
    at timestamptz NOT NULL,
    kind text NOT NULL,
    payload jsonb NOT NULL
  );
  INSERT INTO events
  SELECT g, g % 5000, timestamptz '2026-01-01 00:00+00' + g * interval '1 minute',
    (ARRAY['page_view', 'search', 'checkout'])[1 + g % 3],
    jsonb_build_object('path', '/p/' || md5(g::text), 'referrer', md5((g + 1)::text), 'agent', md5((g + 2)::text) || md5((g + 3)::text))
  FROM generate_series(1, 200000) g;
  CREATE TABLE orders (
    id int PRIMARY KEY,
    created_at timestamptz NOT NULL,
    total numeric(10, 2) NOT NULL
  );
  INSERT INTO orders
  SELECT g, timestamptz '2026-01-01 00:00+00' + ((g * 7919) % 200000) * interval '1 minute', (g % 50000) / 100.0
  FROM generate_series(1, 200000) g`;

const WORKLOAD = [
  'SELECT at, kind, payload FROM events WHERE customer_id = 42 ORDER BY at DESC LIMIT 20',
  "SELECT count(*), sum(total) FROM orders WHERE created_at >= '2026-02-01' AND created_at < '2026-02-02'",
];

beforeAll(async () => {
  target = await createTestDatabase('advisor_covering');
  await target.sql(FIXTURE);
  await target.sql('VACUUM ANALYZE events, orders');
  await runAndFlushStats(target.url, [RESET_THIS_DATABASE_STATEMENTS, ...WORKLOAD.flatMap((sql) => [sql, sql, sql])]);
  const db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  try {
    report = await recommendIndexes(db, await detectCapabilities(db));
  } finally {
    await db.end();
  }
}, 60_000);

afterAll(async () => {
  await target.drop();
});

/** `USING "btree" (...)` of each recommendation on `table`. */
const recommended = (table: string) =>
  report.recommendations.filter((r) => r.candidate.table === table).map((r) => r.sql.slice(r.sql.indexOf('USING')));

describe('covering indexes: INCLUDE columns worth their bytes', () => {
  it('a wide jsonb column is not included to spare a LIMIT 20 its heap fetches', () => {
    expect(recommended('events')).toEqual(['USING "btree" ("customer_id", "at" DESC)']);
    const covering = report.rejected.find((r) => r.candidate.table === 'events' && r.candidate.include.includes('payload'));
    expect(covering?.candidate.keys.map((key) => key.column)).toEqual(['customer_id', 'at']);
    expect(covering?.detail).toMatch(/less than 10%/);
  });

  it('a narrow column is included when the index-only scan spares a range its heap fetches', () => {
    // the pg_stats estimate models no index-only scan: there a covering index costs what its twin does, and is larger
    const expected = report.source === 'HYPOPG' ? 'USING "btree" ("created_at") INCLUDE ("total")' : 'USING "btree" ("created_at")';
    expect(recommended('orders')).toEqual([expected]);
  });
});
