// What selection reads about the tables themselves: which share of their updates were HOT, from
// the table counters of the relation itself or of a partitioned table's leaves, and the rows
// written that cost an index, from the workload's own write statements.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHotUpdateShares, loadTableWrites } from '../../src/advisor/tableFacts.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { runAndFlushStats } from '../harness/stats.js';

let target: TestDatabase;
let db: Database;

const accounts = { schema: 'public', table: 'accounts' };
const readings = { schema: 'public', table: 'readings' };

beforeAll(async () => {
  target = await createTestDatabase('advisor_table_facts');
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  await runAndFlushStats(target.url, [
    // balance is indexed: updating it is never HOT; note is not, and the pages have room (fillfactor)
    'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL, note text) WITH (fillfactor = 10)',
    'CREATE INDEX accounts_balance ON accounts (balance)',
    'INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 1000) g',
    'UPDATE accounts SET balance = id WHERE id <= 300',
    "UPDATE accounts SET note = 'x' WHERE id > 300",
    'CREATE TABLE readings (at date NOT NULL, value int NOT NULL) PARTITION BY RANGE (at)',
    "CREATE TABLE readings_2024 PARTITION OF readings FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
    "CREATE TABLE readings_2025 PARTITION OF readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
    "INSERT INTO readings SELECT '2024-06-01'::date + g % 400, g FROM generate_series(1, 3000) g",
  ]);
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

describe('loadHotUpdateShares', () => {
  it("reads a plain table's own counters, and leaves out a table its counters show no update of", async () => {
    const shares = await loadHotUpdateShares(db, [accounts, readings]);
    expect([...shares.keys()]).toEqual(['public.accounts']);
    // 700 of the 1,000 updates changed no indexed column, on pages with room: HOT
    expect(shares.get('public.accounts')).toBeCloseTo(0.7, 2);
  });
});

describe('loadTableWrites', () => {
  it("charges the window's inserts, deletes and non-HOT share of updates, and nothing to a table no statement wrote", async () => {
    const statementWrites = new Map([
      ['public.accounts', { inserted: 10, updated: 1000, deleted: 5 }],
      ['public.readings', { inserted: 40, updated: 0, deleted: 0 }],
    ]);
    const writes = await loadTableWrites(db, statementWrites, [accounts, readings, { schema: 'public', table: 'other' }]);
    expect([...writes.keys()]).toEqual(['public.accounts', 'public.readings']);
    expect(writes.get('public.accounts')).toBeCloseTo(10 + 300 + 5, 0);
    expect(writes.get('public.readings')).toBe(40);
  });
});
