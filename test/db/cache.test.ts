// Cache hit ratios on fixture tables whose block counts are known exactly. VACUUM FULL writes a
// table's new files without passing through shared_buffers, so right after it (and a counter
// reset) the first scan reads every page from the OS and later scans find them all cached.
// Autovacuum is off on the fixtures so that no autoanalyze touches their pages meanwhile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheStatus } from '../../src/db/cache.js';
import { Database, type Queryable } from '../../src/db/pool.js';
import { createTestApp, createTestDatabase, errorCodes, testConfig, type TestApp, type TestDatabase } from '../harness/database.js';
import { createRole, type TestRole } from '../harness/roles.js';
import { flushStats, waitForPublishedStats } from '../harness/stats.js';

let target: TestDatabase;
let monitor: TestRole;
let api: TestApp;
/** Pages of each fixture relation, from its size on disk. */
const pages: Record<string, number> = {};

/** Full scans after the reset: the first reads every page, the others hit. */
const SCANS = { cache_cold: 1, cache_warm: 20, cache_hot: 200 } as const;

async function seed(session: Queryable): Promise<void> {
  const rows = { cache_cold: 10_000, cache_warm: 20_000, cache_hot: 5_000 };
  for (const [table, count] of Object.entries(rows)) {
    await session.query(`CREATE TABLE ${table} (id int) WITH (autovacuum_enabled = false)`);
    await session.query(`INSERT INTO ${table} SELECT g FROM generate_series(1, ${count}) g`);
  }
  await session.query('CREATE TABLE cache_indexed (id int PRIMARY KEY) WITH (autovacuum_enabled = false)');
  await session.query('INSERT INTO cache_indexed SELECT g FROM generate_series(1, 10000) g');
  await session.query('CREATE SCHEMA archive');
  await session.query('CREATE TABLE archive.cache_archived (id int)');
  for (const table of [...Object.keys(rows), 'cache_indexed']) {
    await session.query(`ANALYZE ${table}`);
    // VACUUM FULL on cache_indexed rebuilds its index, which scans (and so caches) the heap
    // but writes the index pages directly: they are not in shared_buffers afterwards.
    await session.query(`VACUUM FULL ${table}`);
  }
  await flushStats(session);
  for (const relation of [...Object.keys(rows), 'cache_indexed', 'cache_indexed_pkey']) {
    await session.query('SELECT pg_stat_reset_single_table_counters($1::regclass)', [relation]);
  }
  for (const [table, scans] of Object.entries(SCANS)) {
    for (let i = 0; i < scans; i += 1) await session.query(`SELECT count(*) FROM ${table}`);
  }
  // One ordered walk of the whole index: every index page is read once (metapage, root, leaves),
  // and every heap page is fetched once (they are cached since the index build).
  await session.query('SET enable_seqscan = off');
  await session.query('SET enable_bitmapscan = off');
  await session.query('SET enable_indexonlyscan = off');
  await session.query('SELECT sum(id) FROM (SELECT id FROM cache_indexed ORDER BY id) ordered');
  await flushStats(session);
}

beforeAll(async () => {
  [target, monitor] = await Promise.all([createTestDatabase('cache'), createRole('cache_monitor', ['pg_monitor'])]);
  const fixtures = new Database(target.url, { applicationName: 'pgscope-test-fixtures', pool: testConfig().pool });
  try {
    await fixtures.withClient(seed);
  } finally {
    await fixtures.end();
  }
  await waitForPublishedStats(target.url);
  const sizes = await target.sql<{ name: string; pages: number }>(
    `SELECT relname AS name, (pg_relation_size(oid) / current_setting('block_size')::int)::int AS pages
     FROM pg_class WHERE relname LIKE 'cache_%'`,
  );
  for (const { name, pages: count } of sizes) pages[name] = count;
  api = createTestApp(target.url);
});

afterAll(async () => {
  await api?.close();
  await target.drop();
  await monitor.drop();
});

const RATIO = '{ blocksHit blocksRead ratio status }';
const QUERY = `{
  cacheHitRatios {
    warnBelow goodAbove statsResetAt
    heap ${RATIO} index ${RATIO} database ${RATIO}
    tables { schema table heap ${RATIO} index ${RATIO} }
  }
}`;

interface Ratio {
  /** BigInt counters: strings of digits. */
  blocksHit: string;
  blocksRead: string;
  ratio: number | null;
  status: string;
}
interface Totals {
  warnBelow: number;
  goodAbove: number;
  statsResetAt: string | null;
  heap: Ratio;
  index: Ratio;
  database: Ratio;
  tables: Array<{ schema: string; table: string; heap: Ratio; index: Ratio }>;
}

const ratio = (blocksHit: number, blocksRead: number, status: string): Ratio => ({
  blocksHit: String(blocksHit),
  blocksRead: String(blocksRead),
  ratio: blocksHit + blocksRead === 0 ? null : blocksHit / (blocksHit + blocksRead),
  status,
});
const NONE = ratio(0, 0, 'UNKNOWN');

function expectedTables() {
  const scanned = (table: keyof typeof SCANS, status: string) => ({
    schema: 'public',
    table,
    heap: ratio((SCANS[table] - 1) * pages[table]!, pages[table]!, status),
    index: NONE,
  });
  return {
    // 0 hits of 45 pages read; 19 of 20 scans hit (0.95, the lower bound of OK); 199 of 200 (0.995)
    cold: scanned('cache_cold', 'WARNING'),
    warm: scanned('cache_warm', 'OK'),
    hot: scanned('cache_hot', 'GOOD'),
    indexed: {
      schema: 'public',
      table: 'cache_indexed',
      heap: ratio(pages.cache_indexed!, 0, 'GOOD'),
      index: ratio(0, pages.cache_indexed_pkey!, 'WARNING'),
    },
    archived: { schema: 'archive', table: 'cache_archived', heap: NONE, index: NONE },
  };
}

describe('cacheHitRatios', () => {
  it('reports exact heap and index blocks per table, most blocks read first', async () => {
    const result = await api.gql<{ cacheHitRatios: Totals }>(QUERY);
    expect(result.errors).toBeUndefined();
    const { cold, warm, hot, indexed, archived } = expectedTables();
    // 8 kB pages: cache_warm 89, cache_cold 45, cache_indexed_pkey 30, cache_hot 23 blocks read
    expect(
      pages.cache_warm! > pages.cache_cold! &&
        pages.cache_cold! > pages.cache_indexed_pkey! &&
        pages.cache_indexed_pkey! > pages.cache_hot!,
    ).toBe(true);
    expect(result.data!.cacheHitRatios.tables).toEqual([warm, cold, indexed, hot, archived]);
  });

  it('sums the user tables into overall heap and index ratios, with the thresholds', async () => {
    const { data } = await api.gql<{ cacheHitRatios: Totals }>(QUERY);
    const totals = data!.cacheHitRatios;
    const heapRead = pages.cache_cold! + pages.cache_warm! + pages.cache_hot!;
    const heapHit = 19 * pages.cache_warm! + 199 * pages.cache_hot! + pages.cache_indexed!;
    expect(totals.heap).toEqual(ratio(heapHit, heapRead, cacheStatus(heapHit / (heapHit + heapRead))));
    expect(totals.index).toEqual(ratio(0, pages.cache_indexed_pkey!, 'WARNING'));
    expect(totals.warnBelow).toBe(0.95);
    expect(totals.goodAbove).toBe(0.99);
    // the database ratio counts catalog blocks too: whatever it is, it is consistent
    const databaseHit = Number(totals.database.blocksHit);
    expect(databaseHit).toBeGreaterThan(0);
    expect(totals.database.ratio).toBe(databaseHit / (databaseHit + Number(totals.database.blocksRead)));
    expect(totals.database.status).toBe(cacheStatus(totals.database.ratio));
    const [reset] = await target.sql<{ stats_reset: Date | null }>(
      'SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()',
    );
    expect(totals.statsResetAt).toBe(reset!.stats_reset?.toISOString() ?? null);
  });

  it('filters tables by schema and honours the limit', async () => {
    const { cold, warm, archived } = expectedTables();
    const query = (args: string) => `{ cacheHitRatios { tables(${args}) { schema table heap ${RATIO} index ${RATIO} } } }`;
    const bySchema = await api.gql<{ cacheHitRatios: Totals }>(query('schema: "archive"'));
    expect(bySchema.data!.cacheHitRatios.tables).toEqual([archived]);
    const top = await api.gql<{ cacheHitRatios: Totals }>(query('limit: 2'));
    expect(top.data!.cacheHitRatios.tables).toEqual([warm, cold]);
  });

  it('rejects an unknown schema and an out-of-range limit', async () => {
    const missing = await api.gql('{ cacheHitRatios { tables(schema: "nope") { table } } }');
    expect(errorCodes(missing)).toEqual(['NOT_FOUND']);
    expect(missing.errors![0]!.message).toBe('No schema named "nope".');
    const limit = await api.gql('{ cacheHitRatios { tables(limit: 0) { table } } }');
    expect(errorCodes(limit)).toEqual(['BAD_USER_INPUT']);
  });

  it('answers the same for a role with only pg_monitor', async () => {
    const asMonitor = createTestApp(monitor.url(target.name));
    try {
      const result = await asMonitor.gql<{ cacheHitRatios: Totals }>(QUERY);
      expect(result.errors).toBeUndefined();
      const { cold, warm, hot, indexed, archived } = expectedTables();
      expect(result.data!.cacheHitRatios.tables).toEqual([warm, cold, indexed, hot, archived]);
      expect(result.data!.cacheHitRatios.index).toEqual(ratio(0, pages.cache_indexed_pkey!, 'WARNING'));
    } finally {
      await asMonitor.close();
    }
  });
});

describe('cacheStatus', () => {
  it.each([
    [null, 'UNKNOWN'],
    [0, 'WARNING'],
    [0.9499, 'WARNING'],
    [0.95, 'OK'],
    [0.99, 'OK'],
    [0.9901, 'GOOD'],
    [1, 'GOOD'],
  ])('%s is %s', (value, status) => {
    expect(cacheStatus(value)).toBe(status);
  });
});
