// Index usage: definition, flags, constraints, foreign keys served, scans and sizes, with a
// partitioned index summed over its partitions' indexes.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { loadIndexes, type IndexRow } from '../../src/db/indexes.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database } from '../../src/db/pool.js';
import { createTestApp, createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { createRole, type TestRole } from '../harness/roles.js';
import { ONLY_INDEX_SCANS, runAndFlushStats } from '../harness/stats.js';

let target: TestDatabase;
let monitor: TestRole;
let db: Database;
let caps: Capabilities;

const FIXTURE = [
  'CREATE SCHEMA idx',
  'CREATE TABLE idx.customers (id int PRIMARY KEY, email text NOT NULL UNIQUE)',
  `CREATE TABLE idx.orders (
     id int PRIMARY KEY,
     customer_id int NOT NULL REFERENCES idx.customers,
     status text NOT NULL,
     created_at timestamptz NOT NULL,
     note text
   )`,
  'CREATE INDEX orders_customer_status ON idx.orders (customer_id, status DESC) INCLUDE (note)',
  "CREATE INDEX orders_open ON idx.orders (created_at) WHERE status = 'open'",
  'CREATE INDEX orders_lower_status ON idx.orders (lower(status))',
  'CREATE TABLE idx.rooms (id int, during tsrange, EXCLUDE USING gist (during WITH &&))',
  'CREATE TABLE idx.readings (id int, region text) PARTITION BY LIST (region)',
  "CREATE TABLE idx.readings_eu PARTITION OF idx.readings FOR VALUES IN ('eu')",
  "CREATE TABLE idx.readings_us PARTITION OF idx.readings FOR VALUES IN ('us')",
  'CREATE INDEX readings_id ON idx.readings (id)',
  "INSERT INTO idx.customers SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 100) g",
  "INSERT INTO idx.orders SELECT g, 1 + g % 100, CASE WHEN g % 2 = 0 THEN 'open' ELSE 'done' END, now(), 'n' FROM generate_series(1, 1000) g",
  "INSERT INTO idx.readings SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 200) g",
  'ANALYZE idx.customers, idx.orders, idx.readings',
  ...ONLY_INDEX_SCANS,
  'SELECT * FROM idx.orders WHERE customer_id = 5',
  'SELECT * FROM idx.orders WHERE customer_id = 6',
  // no partition can be pruned on id: one scan of each partition's index
  'SELECT * FROM idx.readings WHERE id = 3',
];

/** Foreign keys of fkx.parents and which indexes serve their checks (see SERVES_FOREIGN_KEY). */
const FOREIGN_KEY_FIXTURE = [
  'CREATE SCHEMA fkx',
  'CREATE TABLE fkx.parents (id int PRIMARY KEY)',
  'CREATE TABLE fkx.pairs (a int, b int, PRIMARY KEY (a, b))',
  'CREATE TABLE fkx.partial_children (parent_id int REFERENCES fkx.parents)',
  'CREATE INDEX partial_children_parent ON fkx.partial_children (parent_id) WHERE parent_id IS NOT NULL',
  'CREATE TABLE fkx.pair_children (a int, b int, FOREIGN KEY (a, b) REFERENCES fkx.pairs)',
  'CREATE INDEX pair_children_b_a ON fkx.pair_children (b, a) WHERE b IS NOT NULL AND a IS NOT NULL',
  'CREATE TABLE fkx.other_children (parent_id int REFERENCES fkx.parents, active boolean)',
  'CREATE INDEX other_children_active ON fkx.other_children (parent_id) WHERE active',
  'CREATE INDEX other_children_not_null_and_active ON fkx.other_children (parent_id) WHERE parent_id IS NOT NULL AND active',
  'CREATE INDEX other_children_expression ON fkx.other_children ((parent_id + 0))',
  'CREATE TABLE fkx.hash_children (parent_id int REFERENCES fkx.parents)',
  'CREATE INDEX hash_children_parent ON fkx.hash_children USING hash (parent_id)',
  'CREATE TABLE fkx.invalid_children (parent_id int REFERENCES fkx.parents)',
  'INSERT INTO fkx.parents VALUES (1)',
  'INSERT INTO fkx.invalid_children VALUES (1), (1)',
];

beforeAll(async () => {
  [target, monitor] = await Promise.all([createTestDatabase('indexes'), createRole('indexes_monitor', ['pg_monitor'])]);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(db);
  await runAndFlushStats(target.url, [...FIXTURE, ...FOREIGN_KEY_FIXTURE]);
  // a failed concurrent build leaves an invalid index behind
  await expect(target.sql('CREATE UNIQUE INDEX CONCURRENTLY orders_status_unique ON idx.orders (status)')).rejects.toThrow(
    /could not create unique index/,
  );
  await expect(target.sql('CREATE UNIQUE INDEX CONCURRENTLY invalid_children_unique ON fkx.invalid_children (parent_id)')).rejects.toThrow(
    /could not create unique index/,
  );
});

afterAll(async () => {
  await db.end();
  await target.drop();
  await monitor.drop();
});

const byName = (rows: IndexRow[]) => new Map(rows.map((row) => [row.index_name, row]));
const oidOf = async (name: string) => (await target.sql<{ oid: number }>('SELECT $1::regclass::oid AS oid', [name]))[0]!.oid;
const relationSize = async (...names: string[]) =>
  (await target.sql<{ bytes: bigint }>('SELECT sum(pg_relation_size(r::regclass))::int8 AS bytes FROM unnest($1::text[]) r', [names]))[0]!
    .bytes;

describe('loadIndexes', () => {
  it('describes each index of a table: definition, columns, flags, constraint, foreign keys', async () => {
    const indexes = byName(await loadIndexes(db, caps, { tableOids: [await oidOf('idx.orders')] }));
    expect([...indexes.keys()]).toEqual([
      'orders_customer_status',
      'orders_lower_status',
      'orders_open',
      'orders_pkey',
      'orders_status_unique',
    ]);
    expect(indexes.get('orders_customer_status')).toMatchObject({
      schema: 'idx',
      table: 'orders',
      access_method: 'btree',
      definition: 'CREATE INDEX orders_customer_status ON idx.orders USING btree (customer_id, status DESC) INCLUDE (note)',
      key_columns: ['customer_id', 'status DESC'],
      include_columns: ['note'],
      predicate: null,
      is_unique: false,
      is_primary: false,
      is_valid: true,
      is_ready: true,
      is_partitioned: false,
      constraint_name: null,
      constraint_type: null,
      foreign_keys: ['orders_customer_id_fkey'],
      parent_index_name: null,
    });
    expect(indexes.get('orders_open')).toMatchObject({
      key_columns: ['created_at'],
      predicate: "(status = 'open'::text)",
      foreign_keys: [],
    });
    expect(indexes.get('orders_lower_status')!.key_columns).toEqual(['lower(status)']);
    expect(indexes.get('orders_pkey')).toMatchObject({
      is_unique: true,
      is_primary: true,
      constraint_name: 'orders_pkey',
      constraint_type: 'PRIMARY_KEY',
    });
    expect(indexes.get('orders_status_unique')).toMatchObject({ is_unique: true, is_valid: false, constraint_type: null });
  });

  it('names unique and exclusion constraints', async () => {
    const customers = byName(await loadIndexes(db, caps, { tableOids: [await oidOf('idx.customers')] }));
    expect(customers.get('customers_email_key')).toMatchObject({
      is_unique: true,
      is_primary: false,
      constraint_type: 'UNIQUE',
      constraint_name: 'customers_email_key',
    });
    const [exclusion] = await loadIndexes(db, caps, { tableOids: [await oidOf('idx.rooms')] });
    expect(exclusion).toMatchObject({
      index_name: 'rooms_during_excl',
      access_method: 'gist',
      is_unique: false,
      constraint_type: 'EXCLUSION',
    });
  });

  it('counts scans, tuples and size', async () => {
    const indexes = byName(await loadIndexes(db, caps, { tableOids: [await oidOf('idx.orders')] }));
    // customers 5 and 6 have 10 orders each
    expect(indexes.get('orders_customer_status')).toMatchObject({ scans: 2n, tuples_read: 20n, tuples_fetched: 20n });
    expect(indexes.get('orders_customer_status')!.size_bytes).toBe(await relationSize('idx.orders_customer_status'));
    expect(indexes.get('orders_customer_status')!.last_scan_at instanceof Date).toBe(inject('pgMajorVersion') >= 16);
    expect(indexes.get('orders_customer_status')!.cache_hit_ratio).toBeGreaterThan(0);
    expect(indexes.get('orders_open')).toMatchObject({ scans: 0n, tuples_read: 0n, last_scan_at: null });
  });

  it('reads the counters of pg_stat_all_indexes and pg_statio_all_indexes, a partitioned index summed over its leaves', async () => {
    // a bitmap scan reads index entries and fetches no row through the index
    await runAndFlushStats(target.url, [
      'SET enable_seqscan = off',
      'SET enable_indexscan = off',
      "SELECT count(note) FROM idx.orders WHERE lower(status) = 'open'",
    ]);
    const rows = await loadIndexes(db, caps, { schema: 'idx', includePartitions: true });
    const expected = await target.sql<Record<string, unknown>>(
      `SELECT
         ic.oid,
         coalesce(sum(s.idx_scan), 0)::int8 AS scans,
         coalesce(sum(s.idx_tup_read), 0)::int8 AS tuples_read,
         coalesce(sum(s.idx_tup_fetch), 0)::int8 AS tuples_fetched,
         coalesce(sum(pg_relation_size(leaf.relid)), 0)::int8 AS size_bytes,
         sum(io.idx_blks_hit)::float8 / nullif(sum(io.idx_blks_hit) + sum(io.idx_blks_read), 0) AS cache_hit_ratio
       FROM pg_class ic
       JOIN pg_index i ON i.indexrelid = ic.oid
       JOIN pg_namespace n ON n.oid = ic.relnamespace
       -- an index's leaves: itself, or the leaf indexes of a partitioned index
       LEFT JOIN LATERAL (
         SELECT ic.oid AS relid WHERE ic.relkind = 'i'
         UNION ALL
         SELECT relid FROM pg_partition_tree(ic.oid) WHERE ic.relkind = 'I' AND isleaf
       ) leaf ON true
       LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = leaf.relid
       LEFT JOIN pg_statio_all_indexes io ON io.indexrelid = leaf.relid
       WHERE n.nspname = 'idx'
       GROUP BY ic.oid`,
    );
    const byOid = new Map(expected.map((row) => [row.oid, row]));
    expect(rows.length).toBe(expected.length);
    for (const row of rows) {
      expect(Object.fromEntries(Object.keys(expected[0]!).map((key) => [key, row[key as keyof IndexRow]])), row.index_name).toEqual(
        byOid.get(row.oid),
      );
    }
    expect(rows.filter((row) => row.scans > 0n).map((row) => row.index_name)).toEqual(
      expect.arrayContaining(['orders_customer_status', 'orders_lower_status', 'readings_id']),
    );
    expect(rows.find((row) => row.index_name === 'orders_lower_status')).toMatchObject({ tuples_read: 500n, tuples_fetched: 0n });
  });

  it("sums a partitioned index over its partitions' indexes", async () => {
    const [parent] = await loadIndexes(db, caps, { tableOids: [await oidOf('idx.readings')] });
    expect(parent).toMatchObject({ index_name: 'readings_id', is_partitioned: true, scans: 2n, tuples_read: 1n, parent_index_name: null });
    expect(parent!.size_bytes).toBe(await relationSize('idx.readings_eu_id_idx', 'idx.readings_us_id_idx'));
    const [leaf] = await loadIndexes(db, caps, { tableOids: [await oidOf('idx.readings_eu')] });
    expect(leaf).toMatchObject({ index_name: 'readings_eu_id_idx', is_partitioned: false, parent_index_name: 'readings_id', scans: 1n });
  });

  it('filters by schema (partitions on request), by index, or lists every user schema', async () => {
    const schema = await loadIndexes(db, caps, { schema: 'idx' });
    expect(schema.map((row) => `${row.table}.${row.index_name}`)).toEqual([
      'customers.customers_email_key',
      'customers.customers_pkey',
      'orders.orders_customer_status',
      'orders.orders_lower_status',
      'orders.orders_open',
      'orders.orders_pkey',
      'orders.orders_status_unique',
      'readings.readings_id',
      'rooms.rooms_during_excl',
    ]);
    const withPartitions = await loadIndexes(db, caps, { schema: 'idx', includePartitions: true });
    expect(withPartitions.map((row) => row.index_name)).toContain('readings_us_id_idx');
    expect(withPartitions).toHaveLength(11);
    const [one] = await loadIndexes(db, caps, { indexOids: [await oidOf('idx.orders_open')] });
    expect(one!.index_name).toBe('orders_open');
    const everything = await loadIndexes(db, caps, {});
    expect([...new Set(everything.map((row) => row.schema))]).toEqual(['fkx', 'idx']);
    expect(everything.filter((row) => row.schema === 'idx').map((row) => row.index_name)).toEqual(schema.map((row) => row.index_name));
  });

  it('says which indexes serve a foreign key as its check would be planned: valid, leading columns, an implied predicate', async () => {
    const served = (await loadIndexes(db, caps, { schema: 'fkx' })).filter((row) => row.table !== 'parents' && row.table !== 'pairs');
    expect(served.map((row) => [row.index_name, row.is_valid, row.foreign_keys])).toEqual([
      ['hash_children_parent', true, ['hash_children_parent_id_fkey']],
      ['invalid_children_unique', false, []],
      ['other_children_active', true, []],
      ['other_children_expression', true, []],
      ['other_children_not_null_and_active', true, []],
      ['pair_children_b_a', true, ['pair_children_a_b_fkey']],
      ['partial_children_parent', true, ['partial_children_parent_id_fkey']],
    ]);
    const app = createTestApp(target.url);
    try {
      const result = await app.gql<{ indexUsage: Array<{ indexName: string; supportsForeignKey: boolean }> }>(
        '{ indexUsage(schema: "fkx") { indexName supportsForeignKey } }',
      );
      const supports = Object.fromEntries(result.data!.indexUsage.map((row) => [row.indexName, row.supportsForeignKey]));
      expect(supports).toMatchObject({ partial_children_parent: true, invalid_children_unique: false, other_children_active: false });
    } finally {
      await app.close();
    }
  });

  it("leaves pgscope's own schema out unless it is asked for", async () => {
    expect(await migrateOwnSchema(db)).toMatchObject({ ok: true });
    try {
      const everywhere = await loadIndexes(db, caps, {});
      expect(everywhere.filter((row) => row.schema === 'pgscope')).toEqual([]);
      const own = await loadIndexes(db, caps, { schema: 'pgscope' });
      expect(own.map((row) => row.index_name)).toContain('change_log_requested_at_idx');
    } finally {
      await target.sql('DROP SCHEMA pgscope CASCADE');
    }
  });

  it('reads the same for a role that has only pg_monitor', async () => {
    const asMonitor = new Database(monitor.url(target.name), { applicationName: 'pgscope-test', pool: testConfig().pool });
    try {
      expect(await loadIndexes(asMonitor, caps, { schema: 'idx', includePartitions: true })).toEqual(
        await loadIndexes(db, caps, { schema: 'idx', includePartitions: true }),
      );
    } finally {
      await asMonitor.end();
    }
  });
});
