// Index usage: definition, flags, constraints, foreign keys served, scans and sizes, with a
// partitioned index summed over its partitions' indexes.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { loadIndexes, type IndexRow } from '../../src/db/indexes.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
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

beforeAll(async () => {
  [target, monitor] = await Promise.all([createTestDatabase('indexes'), createRole('indexes_monitor', ['pg_monitor'])]);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(db);
  await runAndFlushStats(target.url, FIXTURE);
  // a failed concurrent build leaves an invalid index behind
  await expect(target.sql('CREATE UNIQUE INDEX CONCURRENTLY orders_status_unique ON idx.orders (status)')).rejects.toThrow(/could not create unique index/);
});

afterAll(async () => {
  await db.end();
  await target.drop();
  await monitor.drop();
});

const byName = (rows: IndexRow[]) => new Map(rows.map((row) => [row.index_name, row]));
const oidOf = async (name: string) => (await target.sql<{ oid: number }>('SELECT $1::regclass::oid AS oid', [name]))[0]!.oid;
const relationSize = async (...names: string[]) =>
  (await target.sql<{ bytes: bigint }>('SELECT sum(pg_relation_size(r::regclass))::int8 AS bytes FROM unnest($1::text[]) r', [names]))[0]!.bytes;

describe('loadIndexes', () => {
  it('describes each index of a table: definition, columns, flags, constraint, foreign keys', async () => {
    const indexes = byName(await loadIndexes(db, caps, { tableOids: [await oidOf('idx.orders')] }));
    expect([...indexes.keys()]).toEqual(['orders_customer_status', 'orders_lower_status', 'orders_open', 'orders_pkey', 'orders_status_unique']);
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
    expect(indexes.get('orders_open')).toMatchObject({ key_columns: ['created_at'], predicate: "(status = 'open'::text)", foreign_keys: [] });
    expect(indexes.get('orders_lower_status')!.key_columns).toEqual(['lower(status)']);
    expect(indexes.get('orders_pkey')).toMatchObject({ is_unique: true, is_primary: true, constraint_name: 'orders_pkey', constraint_type: 'PRIMARY_KEY' });
    expect(indexes.get('orders_status_unique')).toMatchObject({ is_unique: true, is_valid: false, constraint_type: null });
  });

  it('names unique and exclusion constraints', async () => {
    const customers = byName(await loadIndexes(db, caps, { tableOids: [await oidOf('idx.customers')] }));
    expect(customers.get('customers_email_key')).toMatchObject({ is_unique: true, is_primary: false, constraint_type: 'UNIQUE', constraint_name: 'customers_email_key' });
    const [exclusion] = await loadIndexes(db, caps, { tableOids: [await oidOf('idx.rooms')] });
    expect(exclusion).toMatchObject({ index_name: 'rooms_during_excl', access_method: 'gist', is_unique: false, constraint_type: 'EXCLUSION' });
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
    expect(everything.map((row) => row.index_name)).toEqual(schema.map((row) => row.index_name));
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
