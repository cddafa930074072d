// The workload's writes, from its own write statements in pg_stat_statements: the target of each
// INSERT, UPDATE, DELETE, MERGE and COPY FROM, resolved as the reads' relations are (a partition
// to its root), with the rows pg_stat_statements counted since its reset and nothing before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStatementWrites, writeTarget } from '../../../src/advisor/analysis/writes.js';
import { detectCapabilities, type Capabilities } from '../../../src/db/capabilities.js';
import { Database } from '../../../src/db/pool.js';
import { parseStatements } from '../../../src/sql/parse.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';
import { RESET_THIS_DATABASE_STATEMENTS, runAndFlushStats } from '../../harness/stats.js';

const targetOf = async (sql: string) => writeTarget((await parseStatements(sql))[0]!.node);

describe('writeTarget', () => {
  it('names the table each kind of write statement writes, and how', async () => {
    expect(await targetOf('INSERT INTO s.t (a) SELECT a FROM u')).toEqual({ relation: { schema: 's', name: 't' }, kind: 'inserted' });
    expect(await targetOf('UPDATE t SET a = $1 WHERE id = $2')).toEqual({ relation: { schema: null, name: 't' }, kind: 'updated' });
    expect(await targetOf('DELETE FROM t WHERE id = $1')).toEqual({ relation: { schema: null, name: 't' }, kind: 'deleted' });
    expect(await targetOf('COPY t (a) FROM STDIN')).toEqual({ relation: { schema: null, name: 't' }, kind: 'inserted' });
    expect(await targetOf('COPY t TO STDOUT')).toBeNull();
    expect(await targetOf('SELECT * FROM t FOR UPDATE')).toBeNull();
  });

  it('reads a MERGE as its one kind of action, and a mix as inserts (each maintains every index)', async () => {
    const merge = 'MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN';
    expect((await targetOf(`${merge} UPDATE SET a = u.a WHEN NOT MATCHED THEN DO NOTHING`))!.kind).toBe('updated');
    expect((await targetOf(`${merge} DELETE`))!.kind).toBe('deleted');
    expect((await targetOf(`${merge} UPDATE SET a = u.a WHEN NOT MATCHED THEN INSERT VALUES (u.id, u.a)`))!.kind).toBe('inserted');
  });
});

describe('loadStatementWrites', () => {
  let target: TestDatabase;
  let db: Database;
  let caps: Capabilities;

  beforeAll(async () => {
    target = await createTestDatabase('advisor_writes');
    db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
    await runAndFlushStats(target.url, [
      'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)',
      'CREATE TABLE readings (at date NOT NULL, value int NOT NULL) PARTITION BY RANGE (at)',
      "CREATE TABLE readings_2024 PARTITION OF readings FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
      "CREATE TABLE readings_2025 PARTITION OF readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
      // the load, before the window: not counted
      'INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 5000) g',
      "INSERT INTO readings SELECT '2024-01-01'::date + g % 700, g FROM generate_series(1, 7000) g",
      RESET_THIS_DATABASE_STATEMENTS,
      // the window: through the root, and straight into a partition
      'UPDATE accounts SET balance = balance + 1 WHERE id <= 1200',
      'DELETE FROM accounts WHERE id > 4990',
      "INSERT INTO readings SELECT '2024-03-01'::date + g % 30, g FROM generate_series(1, 300) g",
      "INSERT INTO readings_2025 VALUES ('2025-02-01', 1), ('2025-02-02', 2)",
      "DELETE FROM public.readings_2024 WHERE at < '2024-01-05'",
      'SELECT count(*) FROM accounts',
    ]);
    caps = await detectCapabilities(db);
  });

  afterAll(async () => {
    await db.end();
    await target.drop();
  });

  it("counts the window's rows per table, a partition's in its root's", async () => {
    const writes = await loadStatementWrites(db, caps);
    expect(writes.oneOff).toEqual({ statements: 0, rows: 0 });
    expect(Object.fromEntries(writes.byTable)).toEqual({
      'public.accounts': { inserted: 0, updated: 1200, deleted: 10 },
      // 4 days of 2024-01-01..04 at 10 rows a day (g % 700 over 7,000 rows)
      'public.readings': { inserted: 302, updated: 0, deleted: 40 },
    });
  });
});
