import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { Database, queryOnce } from '../../src/db/pool.js';
import { slowQueries, slowQueriesSql } from '../../src/db/queryStats.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { createRole } from '../harness/roles.js';

let target: TestDatabase;
let other: TestDatabase;
let db: Database;
let caps: Capabilities;

beforeAll(async () => {
  [target, other] = await Promise.all([createTestDatabase('query_stats'), createTestDatabase('query_stats_other')]);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(db);
  await target.sql('CREATE TABLE numbers AS SELECT g AS n FROM generate_series(1, 1000) g');
  // Three slow calls of one statement shape (sleep 120, 150, 180 ms), in one session so that
  // pg_stat_statements sees one queryid; plus a fast statement run 20 times.
  await queryOnce(target.url, 'SELECT pg_sleep(0.12); SELECT pg_sleep(0.15); SELECT pg_sleep(0.18)');
  for (let i = 0; i < 20; i += 1) await queryOnce(target.url, 'SELECT count(*) FROM numbers WHERE n < $1', [i]);
  // The same slow shape in another database must not show up here.
  await queryOnce(other.url, 'SELECT pg_sleep(0.2)');
});

afterAll(async () => {
  await db.end();
  await Promise.all([target.drop(), other.drop()]);
});

const base = { minMeanTimeMs: 100, minCalls: 1, orderBy: 'TOTAL_TIME' as const, limit: 20 };

describe('slowQueries', () => {
  it('returns the slow statement of this database with exact counters', async () => {
    const rows = await slowQueries(db, caps, base);
    expect(rows).toHaveLength(1);
    const [sleep] = rows;
    expect(sleep!.query).toBe('SELECT pg_sleep($1)');
    expect(sleep!.calls).toBe(3n);
    expect(sleep!.mean_time_ms).toBeGreaterThanOrEqual(150);
    expect(sleep!.min_time_ms).toBeGreaterThanOrEqual(120);
    expect(sleep!.max_time_ms).toBeGreaterThanOrEqual(180);
    expect(sleep!.total_time_ms).toBeCloseTo(sleep!.mean_time_ms * 3, 6);
    // The population standard deviation of n values spread over a range R lies between R / sqrt(2n)
    // (two values at the ends, the rest in the middle) and R / 2; 1e-9 ms of slack for rounding.
    const range = sleep!.max_time_ms - sleep!.min_time_ms;
    expect(sleep!.stddev_time_ms).toBeGreaterThanOrEqual(range / Math.sqrt(2 * 3) - 1e-9);
    expect(sleep!.stddev_time_ms).toBeLessThanOrEqual(range / 2 + 1e-9);
    expect(sleep!.rows).toBe(3n);
    expect(sleep!.share_of_total_time).toBeGreaterThan(0.5);
    expect(sleep!.toplevel).toBe(caps.serverVersionNum >= 140000 ? true : null);
    expect(sleep!.stats_since instanceof Date).toBe(caps.serverVersionNum >= 170000);
    expect(typeof sleep!.query_id).toBe('string');
  });

  it('filters by mean time and calls inside the query', async () => {
    const all = await slowQueries(db, caps, { ...base, minMeanTimeMs: 0 });
    const counting = all.find((row) => row.query.startsWith('SELECT count(*) FROM numbers'));
    expect(counting?.calls).toBe(20n);
    expect(counting?.cache_hit_ratio).toBe(1);
    // pgscope's own statements count too (they run in this database), but fewer than 20 times
    const frequent = await slowQueries(db, caps, { ...base, minMeanTimeMs: 0, minCalls: 20 });
    expect(frequent.map((row) => [row.query_id, row.calls])).toEqual([[counting!.query_id, 20n]]);
    expect(await slowQueries(db, caps, { ...base, minMeanTimeMs: 10_000 })).toEqual([]);
  });

  it('orders by the chosen key, largest first, and honours the limit', async () => {
    const byCalls = await slowQueries(db, caps, { ...base, minMeanTimeMs: 0, orderBy: 'CALLS', limit: 2 });
    expect(byCalls).toHaveLength(2);
    expect(byCalls[0]!.calls).toBeGreaterThanOrEqual(byCalls[1]!.calls);
    expect(byCalls[0]!.query).toBe('SELECT count(*) FROM numbers WHERE n < $1');
    const byMean = await slowQueries(db, caps, { ...base, minMeanTimeMs: 0, orderBy: 'MEAN_TIME', limit: 1 });
    expect(byMean[0]!.query).toBe('SELECT pg_sleep($1)');
  });

  it("shows a statement's own text, not that of an EXPLAIN it ran nested in more often (14+)", async () => {
    const shape = 'SELECT max(n) FROM numbers WHERE n > $1';
    await queryOnce(target.url, shape, [1]);
    // as pgscope's costing plans a statement: PREPARE, then EXPLAIN EXECUTE, with every statement tracked
    await queryOnce(
      target.url,
      `SET pg_stat_statements.track = 'all'; PREPARE costing AS ${shape};
       EXPLAIN EXECUTE costing(2); EXPLAIN EXECUTE costing(3); EXPLAIN EXECUTE costing(4)`,
    );
    const rows = await slowQueries(db, caps, { ...base, minMeanTimeMs: 0, limit: 100 });
    const texts = rows.filter((row) => row.query.includes('max(n) FROM numbers')).map((row) => row.query);
    if (caps.serverVersionNum >= 140000) expect(texts).toEqual([shape]);
    // without the toplevel column (13) nothing tells the two entries apart: the most-called text shows
    else expect(texts).toHaveLength(1);
  });

  it('builds its SQL from the columns the installed view really has', () => {
    const sql = slowQueriesSql(caps);
    const exec = caps.pgStatStatementsColumns.has('total_exec_time');
    expect(sql).toContain(exec ? 'sum(total_exec_time)' : 'sum(total_time)');
    const legacy: Capabilities = {
      ...caps,
      pgStatStatementsColumns: new Set([
        'userid',
        'dbid',
        'queryid',
        'query',
        'calls',
        'total_time',
        'min_time',
        'max_time',
        'mean_time',
        'stddev_time',
        'rows',
        'blk_read_time',
      ]),
    };
    const legacySql = slowQueriesSql(legacy);
    expect(legacySql).toContain('sum(total_time)');
    expect(legacySql).toContain('THEN blk_read_time END');
    expect(legacySql).toContain('bool_or(NULL::boolean) AS toplevel');
    expect(legacySql).not.toContain('total_exec_time');
  });
});

/**
 * The rows of statements the tests ran, without pgscope's own reads of pg_stat_statements (an
 * earlier slowQueries of this file may itself pass 100 ms on a busy machine, as in one CI run).
 */
const testStatements = (rows: Array<{ query: string | null; calls: bigint }>) =>
  rows.filter((row) => !row.query?.includes('pg_stat_statements')).map((row) => [row.query, row.calls]);

describe('slowQueries by privilege', () => {
  const asRole = async (grants: string[], work: (db: Database) => Promise<void>) => {
    const role = await createRole('pgss', grants);
    const roleDb = new Database(role.url(target.name), { applicationName: 'pgscope-test', pool: testConfig().pool });
    try {
      await work(roleDb);
    } finally {
      await roleDb.end();
      await role.drop();
    }
  };

  it("shows other roles' statements, with their text, to a role with only pg_monitor", () =>
    asRole(['pg_monitor'], async (roleDb) => {
      const rows = await slowQueries(roleDb, await detectCapabilities(roleDb), base);
      expect(testStatements(rows)).toEqual([['SELECT pg_sleep($1)', 3n]]);
    }));

  it("hides other roles' statements from a role without pg_read_all_stats, and lists its own", () =>
    asRole([], async (roleDb) => {
      await roleDb.query('SELECT pg_sleep(0.11)');
      const caps = await detectCapabilities(roleDb);
      expect(caps.canReadAllStats).toBe(false);
      const rows = await slowQueries(roleDb, caps, base);
      expect(testStatements(rows)).toEqual([['SELECT pg_sleep($1)', 1n]]);
    }));
});
