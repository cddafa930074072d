// What selection reads about the tables themselves: the rows written to them, from the table
// counters of the relation itself or of a partitioned table's leaves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTableWrites } from '../../src/advisor/tableFacts.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { runAndFlushStats } from '../harness/stats.js';

let target: TestDatabase;
let db: Database;

beforeAll(async () => {
  target = await createTestDatabase('advisor_table_facts');
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  await runAndFlushStats(target.url, [
    // balance is indexed: updating it can never be HOT
    'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)',
    'CREATE INDEX accounts_balance ON accounts (balance)',
    'INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 20000) g',
    'UPDATE accounts SET balance = id',
    'DELETE FROM accounts WHERE id <= 500',
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

describe('loadTableWrites', () => {
  it("counts a plain table's own rows written, and a partitioned table's leaves'", async () => {
    const writes = await loadTableWrites(db, [
      { schema: 'public', table: 'accounts' },
      { schema: 'public', table: 'readings' },
    ]);
    expect(Object.fromEntries(writes)).toEqual({ 'public.accounts': 20000 + 20000 + 500, 'public.readings': 3000 });
  });
});
