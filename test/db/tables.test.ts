// Table statistics (sizes, tuples, scans, vacuum/analyze, stale statistics) and the keyset-paginated
// table list, on named fixture tables whose autovacuum is off so that every counter is ours.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database } from '../../src/db/pool.js';
import { countTables, loadTables, tablePage, type TablePageFilter, type TableRow } from '../../src/db/tables.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { createRole, type TestRole } from '../harness/roles.js';
import { ONLY_INDEX_SCANS, ONLY_SEQ_SCANS, runAndFlushStats } from '../harness/stats.js';

let target: TestDatabase;
let monitor: TestRole;
let db: Database;
let caps: Capabilities;

const FIXTURE = [
  `CREATE SCHEMA shop`,
  `CREATE TABLE shop.orders (id int PRIMARY KEY, note text) WITH (autovacuum_enabled = false)`,
  `INSERT INTO shop.orders SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g`,
  `CREATE TABLE shop.empty_table (id int) WITH (autovacuum_enabled = false)`,
  `CREATE TABLE shop.events (id int, at date NOT NULL) PARTITION BY RANGE (at)`,
  `CREATE TABLE shop.events_2024 PARTITION OF shop.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') WITH (autovacuum_enabled = false)`,
  `CREATE TABLE shop.events_2025 PARTITION OF shop.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') WITH (autovacuum_enabled = false)`,
  `INSERT INTO shop.events SELECT g, date '2024-06-01' + (g % 2) * 365 FROM generate_series(1, 300) g`,
  `CREATE INDEX events_id ON shop.events (id)`,
  `CREATE TABLE shop.never_analyzed (id int) WITH (autovacuum_enabled = false)`,
  `INSERT INTO shop.never_analyzed SELECT generate_series(1, 10)`,
  `CREATE TABLE shop.tuned (id int) WITH (autovacuum_enabled = false, autovacuum_analyze_threshold = 5, autovacuum_analyze_scale_factor = 0)`,
  `INSERT INTO shop.tuned SELECT generate_series(1, 100)`,
  `ANALYZE shop.orders, shop.empty_table, shop.tuned, shop.events_2024, shop.events_2025`,
  `INSERT INTO shop.tuned SELECT generate_series(101, 106)`,
  `DELETE FROM shop.orders WHERE id <= 100`,
  `CREATE MATERIALIZED VIEW shop.order_count AS SELECT count(*) FROM shop.orders`,
  'VACUUM shop.empty_table',
];

beforeAll(async () => {
  [target, monitor] = await Promise.all([createTestDatabase('tables'), createRole('tables_monitor', ['pg_monitor'])]);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(db);
  await runAndFlushStats(target.url, FIXTURE);
});

afterAll(async () => {
  await db.end();
  await target.drop();
  await monitor.drop();
});

const oidOf = async (name: string) => (await target.sql<{ oid: number }>(`SELECT $1::regclass::oid AS oid`, [name]))[0]!.oid;
const sizeOf = async (fn: string, ...names: string[]) => {
  const rows = await target.sql<{ bytes: bigint }>(`SELECT sum(${fn}(t::regclass))::int8 AS bytes FROM unnest($1::text[]) t`, [names]);
  return rows[0]!.bytes;
};

async function load(name: string, on: Database = db): Promise<TableRow> {
  const [row] = await loadTables(on, caps, [await oidOf(name)]);
  return row!;
}

describe('loadTables', () => {
  it('gives sizes, tuples, vacuum and analyze counters of an ordinary table', async () => {
    const orders = await load('shop.orders');
    expect(orders).toMatchObject({
      schema: 'shop',
      name: 'orders',
      kind: 'r',
      is_partition: false,
      parent_oid: null,
      row_estimate: 1000n,
      live_tuples: 900n,
      dead_tuples: 100n,
      dead_tuple_ratio: 0.1,
      inserts: 1000n,
      deletes: 100n,
      updates: 0n,
      modifications_since_analyze: 100n,
      analyze_count: 1n,
      autoanalyze_count: 0n,
      autovacuum_enabled: false,
      // autovacuum_analyze_threshold 50 + autovacuum_analyze_scale_factor 0.1 x 1000 rows
      auto_analyze_threshold: 150,
      stale_statistics_reason: null,
    });
    expect(orders.last_analyze_at).toBeInstanceOf(Date);
    expect(orders.last_vacuum_at).toBeNull();
    expect(orders.size_bytes).toBe(await sizeOf('pg_total_relation_size', 'shop.orders'));
    expect(orders.table_size_bytes).toBe(await sizeOf('pg_table_size', 'shop.orders'));
    expect(orders.indexes_size_bytes).toBe(await sizeOf('pg_relation_size', 'shop.orders_pkey'));
    expect(orders.size_bytes).toBe(orders.table_size_bytes + orders.indexes_size_bytes);
    expect(orders.toast_size_bytes).toBeGreaterThan(0n);
  });

  it('counts sequential and index scans', async () => {
    const before = await load('shop.orders');
    const count = 'SELECT count(*) FROM shop.orders';
    await runAndFlushStats(target.url, [
      ...ONLY_SEQ_SCANS,
      count,
      count,
      count,
      ...ONLY_INDEX_SCANS,
      'SELECT note FROM shop.orders WHERE id = 500',
    ]);
    const after = await load('shop.orders');
    expect(after.seq_scans - before.seq_scans).toBe(3n);
    expect(after.seq_tuples_read - before.seq_tuples_read).toBe(2700n);
    expect(after.index_scans - before.index_scans).toBe(1n);
    expect(after.index_tuples_fetched - before.index_tuples_fetched).toBe(1n);
    expect(after.last_seq_scan_at instanceof Date).toBe(inject('pgMajorVersion') >= 16);
    expect(after.heap_cache_hit_ratio).toBeGreaterThan(0);
    expect(after.heap_cache_hit_ratio).toBeLessThanOrEqual(1);
  });

  it('reads the counters of pg_stat_all_tables and pg_statio_all_tables, a partitioned table summed over its leaves', async () => {
    await runAndFlushStats(target.url, [
      ...ONLY_INDEX_SCANS,
      'SELECT * FROM shop.orders WHERE id = 700',
      'SELECT * FROM shop.events WHERE id = 7',
      // a bitmap scan: its rows count as the table's fetches in idx_tup_fetch, not the index's
      'SET enable_indexscan = off',
      'SET enable_bitmapscan = on',
      'SELECT * FROM shop.orders WHERE id BETWEEN 500 AND 520',
    ]);
    const names = [
      'shop.orders',
      'shop.empty_table',
      'shop.events',
      'shop.events_2024',
      'shop.never_analyzed',
      'shop.tuned',
      'shop.order_count',
    ];
    // the views, read as a DBA would: a table's leaves are itself, or its leaf partitions
    const expected = await target.sql<Record<string, unknown>>(
      `WITH leaves AS (
         SELECT t.oid AS table_oid, coalesce(tree.relid, t.oid) AS relid
         FROM unnest($1::text[]) name
         CROSS JOIN LATERAL (SELECT name::regclass::oid AS oid) t
         LEFT JOIN LATERAL (SELECT relid FROM pg_partition_tree(t.oid) WHERE isleaf) tree ON true
       )
       SELECT
         l.table_oid AS oid,
         coalesce(sum(s.n_live_tup), 0)::int8 AS live_tuples,
         coalesce(sum(s.n_dead_tup), 0)::int8 AS dead_tuples,
         coalesce(sum(s.seq_scan), 0)::int8 AS seq_scans,
         coalesce(sum(s.seq_tup_read), 0)::int8 AS seq_tuples_read,
         coalesce(sum(s.idx_scan), 0)::int8 AS index_scans,
         coalesce(sum(s.idx_tup_fetch), 0)::int8 AS index_tuples_fetched,
         coalesce(sum(s.n_tup_ins), 0)::int8 AS inserts,
         coalesce(sum(s.n_tup_upd), 0)::int8 AS updates,
         coalesce(sum(s.n_tup_hot_upd), 0)::int8 AS hot_updates,
         coalesce(sum(s.n_tup_del), 0)::int8 AS deletes,
         coalesce(sum(s.n_mod_since_analyze), 0)::int8 AS modifications_since_analyze,
         coalesce(sum(s.n_ins_since_vacuum), 0)::int8 AS inserts_since_vacuum,
         sum(io.heap_blks_hit)::float8 / nullif(sum(io.heap_blks_hit) + sum(io.heap_blks_read), 0) AS heap_cache_hit_ratio,
         sum(io.idx_blks_hit)::float8 / nullif(sum(io.idx_blks_hit) + sum(io.idx_blks_read), 0) AS index_cache_hit_ratio,
         -- the table's own row: its vacuums and analyzes, not its partitions'
         own.last_vacuum AS last_vacuum_at,
         own.last_analyze AS last_analyze_at,
         coalesce(own.vacuum_count, 0) AS vacuum_count,
         coalesce(own.analyze_count, 0) AS analyze_count
       FROM leaves l
       LEFT JOIN pg_stat_all_tables s ON s.relid = l.relid
       LEFT JOIN pg_statio_all_tables io ON io.relid = l.relid
       LEFT JOIN pg_stat_all_tables own ON own.relid = l.table_oid
       GROUP BY l.table_oid, own.last_vacuum, own.last_analyze, own.vacuum_count, own.analyze_count
       ORDER BY l.table_oid`,
      [names],
    );
    const rows = await loadTables(db, caps, await Promise.all(names.map(oidOf)));
    expect(rows.map((row) => Object.fromEntries(Object.keys(expected[0]!).map((key) => [key, row[key as keyof TableRow]])))).toEqual(
      expected,
    );
    // the figures are not all zero
    const events = expected.find((row) => row.oid === rows.find((r) => r.name === 'events')!.oid)!;
    expect(events).toMatchObject({ inserts: 300n, index_scans: 2n });
  });

  it('sums a partitioned table over its partitions and links partitions to it', async () => {
    const events = await load('shop.events');
    expect(events).toMatchObject({ kind: 'p', is_partition: false, row_estimate: 300n, live_tuples: 300n, inserts: 300n });
    expect(events.size_bytes).toBe(await sizeOf('pg_total_relation_size', 'shop.events_2024', 'shop.events_2025'));
    expect(events.indexes_size_bytes).toBe(await sizeOf('pg_relation_size', 'shop.events_2024_id_idx', 'shop.events_2025_id_idx'));
    expect(events.autovacuum_enabled).toBeNull();
    expect(events.auto_analyze_threshold).toBeNull();
    const partition = await load('shop.events_2024');
    expect(partition).toMatchObject({
      kind: 'r',
      is_partition: true,
      parent_oid: events.oid,
      parent_schema: 'shop',
      parent_name: 'events',
      row_estimate: 150n,
    });
  });

  it('flags stale statistics, honouring per-table autovacuum settings', async () => {
    expect((await load('shop.never_analyzed')).stale_statistics_reason).toBe('NEVER_ANALYZED');
    expect((await load('shop.never_analyzed')).row_estimate).toBe(inject('pgMajorVersion') >= 14 ? null : 0n);
    const tuned = await load('shop.tuned');
    expect(tuned).toMatchObject({
      auto_analyze_threshold: 5,
      modifications_since_analyze: 6n,
      stale_statistics_reason: 'MODIFIED_PAST_THRESHOLD',
    });
    // empty and never modified: nothing to analyze
    expect((await load('shop.empty_table')).stale_statistics_reason).toBeNull();
  });

  it('flags a partitioned table that was never analyzed, until ANALYZE', async () => {
    expect((await load('shop.events')).stale_statistics_reason).toBe('PARTITIONED_NEVER_ANALYZED');
    await runAndFlushStats(target.url, ['ANALYZE shop.events']);
    const events = await load('shop.events');
    expect(events.stale_statistics_reason).toBeNull();
    // PostgreSQL 13 keeps no statistics row for a partitioned table: pg_stats tells it was analyzed
    expect(events.last_analyze_at instanceof Date).toBe(inject('pgMajorVersion') >= 14);
  });

  it('reports manual VACUUM and materialized views', async () => {
    const empty = await load('shop.empty_table');
    expect(empty).toMatchObject({ vacuum_count: 1n, row_estimate: 0n, live_tuples: 0n, dead_tuple_ratio: null });
    expect(empty.last_vacuum_at).toBeInstanceOf(Date);
    expect((await load('shop.order_count')).kind).toBe('m');
  });

  it('loads many tables in one statement, keyed by OID', async () => {
    const oids = await Promise.all(['shop.tuned', 'shop.orders', 'shop.events'].map(oidOf));
    const rows = await loadTables(db, caps, oids);
    expect(rows.map((row) => row.name).sort()).toEqual(['events', 'orders', 'tuned']);
  });

  it('works for a role that has only pg_monitor', async () => {
    const asMonitor = new Database(monitor.url(target.name), { applicationName: 'pgscope-test', pool: testConfig().pool });
    try {
      const [mine, theirs] = [await load('shop.orders'), await load('shop.orders', asMonitor)];
      expect(theirs).toEqual(mine);
      expect((await load('shop.events', asMonitor)).stale_statistics_reason).toBeNull();
    } finally {
      await asMonitor.end();
    }
  });
});

describe('tablePage', () => {
  const shop: TablePageFilter = { schema: 'shop', includePartitions: false, orderBy: 'NAME', limit: 50 };

  async function allPages(filter: TablePageFilter): Promise<string[]> {
    const names: string[] = [];
    let after = null;
    for (;;) {
      const rows = await tablePage(db, filter, after);
      names.push(...rows.map((row) => row.name));
      const last = rows.at(-1);
      if (rows.length < filter.limit || !last) return names;
      after =
        filter.orderBy === 'NAME'
          ? { orderBy: 'NAME' as const, schema: last.schema, name: last.name, oid: last.oid }
          : { orderBy: filter.orderBy, key: last.sort_key!, oid: last.oid };
    }
  }

  it('orders by schema and name, without partitions unless asked', async () => {
    const names = ['empty_table', 'events', 'never_analyzed', 'order_count', 'orders', 'tuned'];
    expect((await tablePage(db, shop, null)).map((row) => row.name)).toEqual(names);
    const withPartitions = await tablePage(db, { ...shop, includePartitions: true }, null);
    expect(withPartitions.map((row) => row.name)).toEqual([
      'empty_table',
      'events',
      'events_2024',
      'events_2025',
      'never_analyzed',
      'order_count',
      'orders',
      'tuned',
    ]);
    expect(await countTables(db, shop)).toBe(6);
    expect(await countTables(db, { ...shop, includePartitions: true })).toBe(8);
  });

  it('pages with a keyset cursor, never repeating or skipping a table', async () => {
    expect(await allPages({ ...shop, limit: 2 })).toEqual(['empty_table', 'events', 'never_analyzed', 'order_count', 'orders', 'tuned']);
    const bySize = await tablePage(db, { ...shop, orderBy: 'TOTAL_SIZE' }, null);
    expect(await allPages({ ...shop, orderBy: 'TOTAL_SIZE', limit: 4 })).toEqual(bySize.map((row) => row.name));
    expect(await allPages({ ...shop, orderBy: 'DEAD_TUPLES', limit: 1 })).toHaveLength(6);
  });

  it('orders metrics largest first with exact keys, ties by OID', async () => {
    const bySize = await tablePage(db, { ...shop, orderBy: 'TOTAL_SIZE' }, null);
    expect(bySize[0]).toMatchObject({ name: 'orders', sort_key: String(await sizeOf('pg_total_relation_size', 'shop.orders')) });
    expect(bySize[1]).toMatchObject({
      name: 'events',
      sort_key: String(await sizeOf('pg_total_relation_size', 'shop.events_2024', 'shop.events_2025')),
    });
    const byDead = await tablePage(db, { ...shop, orderBy: 'DEAD_TUPLES' }, null);
    expect(byDead[0]).toMatchObject({ name: 'orders', sort_key: '100' });
    const ties = byDead.slice(1);
    expect(ties.every((row) => row.sort_key === '0')).toBe(true);
    expect(ties.map((row) => row.oid)).toEqual([...ties.map((row) => row.oid)].sort((a, b) => a - b));
    const byModifications = await tablePage(db, { ...shop, orderBy: 'MODIFICATIONS_SINCE_ANALYZE', limit: 2 }, null);
    expect(byModifications.map((row) => [row.name, row.sort_key])).toEqual([
      ['orders', '100'],
      ['never_analyzed', '10'],
    ]);
  });

  it('leaves out the system schemas when no schema is given', async () => {
    const everything = await allPages({ ...shop, schema: null, limit: 500 });
    expect(everything).toContain('orders');
    expect(everything).not.toContain('pg_class');
    expect(everything).not.toContain('sql_features');
  });

  it("leaves pgscope's own schema out unless it is asked for", async () => {
    expect(await migrateOwnSchema(db)).toMatchObject({ ok: true });
    try {
      const everything = await tablePage(db, { ...shop, schema: null, limit: 500 }, null);
      expect(everything.filter((row) => row.schema === 'pgscope')).toEqual([]);
      expect(await countTables(db, { schema: null, includePartitions: false })).toBe(everything.length);
      const own = await tablePage(db, { ...shop, schema: 'pgscope', limit: 500 }, null);
      expect(own.map((row) => row.name)).toEqual([
        'change_log',
        'idempotency_key',
        'migrations',
        'query_stats_sample',
        'query_stats_snapshot',
        'query_stats_text',
      ]);
    } finally {
      await target.sql('DROP SCHEMA pgscope CASCADE');
    }
  });
});
