// Index findings on named fixtures: every kind and reason, the cases that must NOT be reported
// (unique, constraint, foreign-key-serving, other operator class or ordering, partial vs full,
// other access method), partitioned indexes, a build in progress, and a pg_monitor-only role.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { IndexFindingKinds, type FindingScope } from '../../src/db/indexFindings.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { createRole, type TestRole } from '../harness/roles.js';
import { flushStats, ONLY_INDEX_SCANS, runAndFlushStats, waitForPublishedStats } from '../harness/stats.js';
import { waitFor } from '../harness/waitFor.js';
import { indexFindings, type IndexFinding } from '../../src/review/indexFindings.js';

let target: TestDatabase;
let monitor: TestRole;
let db: Database;
let caps: Capabilities;

const FIXTURE = [
  'SELECT pg_stat_reset()',
  'CREATE SCHEMA fnd',
  'CREATE TABLE fnd.customers (id int PRIMARY KEY, email text NOT NULL)',
  'CREATE UNIQUE INDEX customers_email_unique ON fnd.customers (email)',
  'CREATE INDEX customers_email_plain ON fnd.customers (email)',
  'CREATE INDEX customers_email_pattern ON fnd.customers (email text_pattern_ops)',
  'CREATE INDEX customers_email_lower ON fnd.customers (lower(email))',
  'CREATE INDEX customers_email_lower_again ON fnd.customers (lower(email))',
  'CREATE TABLE fnd.orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES fnd.customers, status text, created_at timestamptz, note text)',
  'CREATE INDEX orders_status ON fnd.orders (status)',
  'CREATE INDEX orders_status_created ON fnd.orders (status, created_at)',
  'CREATE INDEX orders_status_desc ON fnd.orders (status DESC)',
  'CREATE INDEX orders_status_desc_created ON fnd.orders (status DESC, created_at)',
  'CREATE INDEX orders_status_hash ON fnd.orders USING hash (status)',
  "CREATE INDEX orders_open_created ON fnd.orders (created_at) WHERE status = 'open'",
  'CREATE INDEX orders_created ON fnd.orders (created_at)',
  'CREATE INDEX orders_customer_incl ON fnd.orders (customer_id) INCLUDE (status)',
  'CREATE INDEX orders_customer_incl_more ON fnd.orders (customer_id) INCLUDE (status, note)',
  'CREATE TABLE fnd.order_lines (order_id int NOT NULL REFERENCES fnd.orders, qty int)',
  'CREATE TABLE fnd.warehouses (id int, region text, PRIMARY KEY (id, region))',
  'CREATE TABLE fnd.stock (warehouse_id int, region text, sku text, FOREIGN KEY (warehouse_id, region) REFERENCES fnd.warehouses)',
  'CREATE INDEX stock_region_warehouse ON fnd.stock (region, warehouse_id, sku)',
  'CREATE TABLE fnd.visits (id int, at timestamptz)',
  'CREATE INDEX visits_at ON fnd.visits (at)',
  'CREATE TABLE fnd.events (id int, at date NOT NULL) PARTITION BY RANGE (at)',
  "CREATE TABLE fnd.events_2024 PARTITION OF fnd.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
  "CREATE TABLE fnd.events_2025 PARTITION OF fnd.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
  'CREATE INDEX events_id ON fnd.events (id)',
  'CREATE INDEX events_at_only ON ONLY fnd.events (at)',
  'CREATE INDEX events_2024_id_copy ON fnd.events_2024 (id)',
  "INSERT INTO fnd.customers SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 10) g",
  "INSERT INTO fnd.orders SELECT g, 1 + g % 10, 'open', now(), 'n' FROM generate_series(1, 20) g",
  'INSERT INTO fnd.order_lines SELECT 1 + g % 5, 1 FROM generate_series(1, 20) g',
  'INSERT INTO fnd.visits SELECT g, now() FROM generate_series(1, 20) g',
  'ANALYZE',
  ...ONLY_INDEX_SCANS,
  "SELECT * FROM fnd.visits WHERE at < now() - interval '1 day'",
];

/**
 * Foreign keys served by partial indexes, and a partition whose standalone index duplicates the
 * copy attached to its parent's index (the standalone one was scanned, the attached one not).
 */
const SERVED_AND_ATTACHED = [
  'CREATE SCHEMA fkp',
  'CREATE TABLE fkp.parents (id int PRIMARY KEY)',
  'CREATE TABLE fkp.partial_children (id int, parent_id int REFERENCES fkp.parents)',
  'CREATE INDEX partial_children_parent ON fkp.partial_children (parent_id) WHERE parent_id IS NOT NULL',
  'CREATE TABLE fkp.other_children (parent_id int REFERENCES fkp.parents, active boolean)',
  'CREATE INDEX other_children_parent_active ON fkp.other_children (parent_id) WHERE active',
  'CREATE TABLE fkp.invalid_children (parent_id int REFERENCES fkp.parents)',
  'INSERT INTO fkp.parents SELECT generate_series(1, 10)',
  'INSERT INTO fkp.invalid_children VALUES (1), (1)',
  'CREATE TABLE fkp.measures (id int, at date NOT NULL) PARTITION BY RANGE (at)',
  "CREATE TABLE fkp.measures_2024 PARTITION OF fkp.measures FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
  'CREATE INDEX measures_2024_id_standalone ON fkp.measures_2024 (id)',
  "INSERT INTO fkp.measures SELECT g, date '2024-03-01' FROM generate_series(1, 50) g",
  'ANALYZE fkp.measures_2024',
  'SELECT * FROM fkp.measures WHERE id = 7',
  'CREATE INDEX measures_id ON ONLY fkp.measures (id)',
  'CREATE INDEX measures_2024_id_attached ON fkp.measures_2024 (id)',
  'ALTER INDEX fkp.measures_id ATTACH PARTITION fkp.measures_2024_id_attached',
];

beforeAll(async () => {
  [target, monitor] = await Promise.all([createTestDatabase('index_findings'), createRole('findings_monitor', ['pg_monitor'])]);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(db);
  await runAndFlushStats(target.url, [...FIXTURE, ...SERVED_AND_ATTACHED]);
  // failed concurrent builds over duplicate values leave invalid indexes behind; their builds scanned
  // the tables: those scans are counted before the tests read the counters
  await db.withClient(async (client) => {
    await expect(client.query('CREATE UNIQUE INDEX CONCURRENTLY order_lines_unique ON fnd.order_lines (order_id)')).rejects.toThrow(
      /could not create unique index/,
    );
    await expect(
      client.query('CREATE UNIQUE INDEX CONCURRENTLY invalid_children_unique ON fkp.invalid_children (parent_id)'),
    ).rejects.toThrow(/could not create unique index/);
    await flushStats(client);
  });
  await waitForPublishedStats(target.url);
});

afterAll(async () => {
  await db.end();
  await target.drop();
  await monitor.drop();
});

const fnd: FindingScope = { tableOids: null, schema: 'fnd', includePartitions: true, kinds: IndexFindingKinds };
const summary = (rows: IndexFinding[]) =>
  rows.map((row) => [
    row.table,
    row.kind,
    row.reason_code,
    row.index_name ?? row.foreign_key_name,
    row.covering_index_name,
    row.suggested_sql,
  ]);

describe('indexFindings', () => {
  it('finds every problem of the fixture, and only those, in a stable order', async () => {
    expect(summary(await indexFindings(db, caps, fnd))).toEqual([
      ['customers', 'UNUSED', 'NO_SCANS', 'customers_email_lower', null, 'DROP INDEX CONCURRENTLY fnd.customers_email_lower;'],
      ['customers', 'UNUSED', 'NO_SCANS', 'customers_email_lower_again', null, 'DROP INDEX CONCURRENTLY fnd.customers_email_lower_again;'],
      ['customers', 'UNUSED', 'NO_SCANS', 'customers_email_pattern', null, 'DROP INDEX CONCURRENTLY fnd.customers_email_pattern;'],
      ['customers', 'UNUSED', 'NO_SCANS', 'customers_email_plain', null, 'DROP INDEX CONCURRENTLY fnd.customers_email_plain;'],
      [
        'customers',
        'DUPLICATE',
        'IDENTICAL_DEFINITION',
        'customers_email_lower_again',
        'customers_email_lower',
        'DROP INDEX CONCURRENTLY fnd.customers_email_lower_again;',
      ],
      [
        'customers',
        'DUPLICATE',
        'SAME_KEYS_AS_UNIQUE_INDEX',
        'customers_email_plain',
        'customers_email_unique',
        'DROP INDEX CONCURRENTLY fnd.customers_email_plain;',
      ],
      ['events', 'INVALID', 'PARTITIONS_NOT_ATTACHED', 'events_at_only', null, null],
      ['events', 'UNUSED', 'NO_SCANS', 'events_id', null, 'DROP INDEX fnd.events_id;'],
      ['events_2024', 'UNUSED', 'NO_SCANS', 'events_2024_id_copy', null, 'DROP INDEX CONCURRENTLY fnd.events_2024_id_copy;'],
      [
        'events_2024',
        'DUPLICATE',
        'IDENTICAL_DEFINITION',
        'events_2024_id_copy',
        'events_2024_id_idx',
        'DROP INDEX CONCURRENTLY fnd.events_2024_id_copy;',
      ],
      ['order_lines', 'INVALID', 'BUILD_FAILED', 'order_lines_unique', null, 'DROP INDEX CONCURRENTLY fnd.order_lines_unique;'],
      [
        'order_lines',
        'MISSING_FK_INDEX',
        'NO_LEADING_INDEX',
        'order_lines_order_id_fkey',
        null,
        'CREATE INDEX CONCURRENTLY ON fnd.order_lines (order_id);',
      ],
      ['orders', 'UNUSED', 'NO_SCANS', 'orders_created', null, 'DROP INDEX CONCURRENTLY fnd.orders_created;'],
      ['orders', 'UNUSED', 'NO_SCANS', 'orders_open_created', null, 'DROP INDEX CONCURRENTLY fnd.orders_open_created;'],
      ['orders', 'UNUSED', 'NO_SCANS', 'orders_status', null, 'DROP INDEX CONCURRENTLY fnd.orders_status;'],
      ['orders', 'UNUSED', 'NO_SCANS', 'orders_status_created', null, 'DROP INDEX CONCURRENTLY fnd.orders_status_created;'],
      ['orders', 'UNUSED', 'NO_SCANS', 'orders_status_desc', null, 'DROP INDEX CONCURRENTLY fnd.orders_status_desc;'],
      ['orders', 'UNUSED', 'NO_SCANS', 'orders_status_desc_created', null, 'DROP INDEX CONCURRENTLY fnd.orders_status_desc_created;'],
      ['orders', 'UNUSED', 'NO_SCANS', 'orders_status_hash', null, 'DROP INDEX CONCURRENTLY fnd.orders_status_hash;'],
      [
        'orders',
        'DUPLICATE',
        'SAME_KEYS_REVERSED',
        'orders_status_desc',
        'orders_status',
        'DROP INDEX CONCURRENTLY fnd.orders_status_desc;',
      ],
      [
        'orders',
        'REDUNDANT',
        'FEWER_INCLUDED_COLUMNS',
        'orders_customer_incl',
        'orders_customer_incl_more',
        'DROP INDEX CONCURRENTLY fnd.orders_customer_incl;',
      ],
      [
        'orders',
        'REDUNDANT',
        'LEADING_PREFIX_OF_OTHER',
        'orders_status',
        'orders_status_created',
        'DROP INDEX CONCURRENTLY fnd.orders_status;',
      ],
    ]);
  });

  it('never calls an index that serves a foreign key unused, and drops the standalone duplicate of an attached index', async () => {
    const findings = await indexFindings(db, caps, { ...fnd, schema: 'fkp' });
    expect(summary(findings)).toEqual([
      [
        'invalid_children',
        'INVALID',
        'BUILD_FAILED',
        'invalid_children_unique',
        null,
        'DROP INDEX CONCURRENTLY fkp.invalid_children_unique;',
      ],
      [
        'invalid_children',
        'MISSING_FK_INDEX',
        'NO_LEADING_INDEX',
        'invalid_children_parent_id_fkey',
        null,
        'CREATE INDEX CONCURRENTLY ON fkp.invalid_children (parent_id);',
      ],
      ['measures', 'UNUSED', 'NO_SCANS', 'measures_id', null, 'DROP INDEX fkp.measures_id;'],
      [
        'measures_2024',
        'DUPLICATE',
        'IDENTICAL_DEFINITION',
        'measures_2024_id_standalone',
        'measures_2024_id_attached',
        'DROP INDEX CONCURRENTLY fkp.measures_2024_id_standalone;',
      ],
      [
        'other_children',
        'UNUSED',
        'NO_SCANS',
        'other_children_parent_active',
        null,
        'DROP INDEX CONCURRENTLY fkp.other_children_parent_active;',
      ],
      [
        'other_children',
        'MISSING_FK_INDEX',
        'NO_LEADING_INDEX',
        'other_children_parent_id_fkey',
        null,
        'CREATE INDEX CONCURRENTLY ON fkp.other_children (parent_id);',
      ],
    ]);
    const [scans] = await target.sql<{ standalone: bigint; attached: bigint }>(
      "SELECT pg_stat_get_numscans('fkp.measures_2024_id_standalone'::regclass) AS standalone, pg_stat_get_numscans('fkp.measures_2024_id_attached'::regclass) AS attached",
    );
    // reported whatever the scans say: the attached copy cannot be dropped on its own
    expect(scans).toEqual({ standalone: 1n, attached: 0n });
    expect(findings.find((row) => row.kind === 'MISSING_FK_INDEX')!.reason).toContain(
      'a partial one counts only when its predicate is these columns IS NOT NULL',
    );
  });

  it('gives the evidence: scans, size, statistics age', async () => {
    // the age of this database's statistics (reset by the fixture), as the server tells it
    const statsAge = async () =>
      (
        await target.sql<{ reset_at: Date; age_days: number }>(
          `SELECT stats_reset AS reset_at, extract(epoch FROM now() - stats_reset)::float8 / 86400 AS age_days
           FROM pg_stat_database WHERE datname = current_database()`,
        )
      )[0]!;
    const before = await statsAge();
    const findings = await indexFindings(db, caps, { ...fnd, kinds: ['UNUSED'] });
    const after = await statsAge();
    const unused = findings.find((row) => row.index_name === 'orders_created')!;
    const [size] = await target.sql<{ bytes: bigint }>("SELECT pg_relation_size('fnd.orders_created')::int8 AS bytes");
    expect(unused).toMatchObject({ scans: 0n, size_bytes: size!.bytes, last_scan_at: null, is_partitioned: false });
    expect(unused.stats_reset_at).toEqual(before.reset_at);
    // measured between the two reads around the call
    expect(unused.stats_age_days).toBeGreaterThanOrEqual(before.age_days);
    expect(unused.stats_age_days).toBeLessThanOrEqual(after.age_days);
    expect(unused.stats_age_days).toBeLessThan(1);
    expect(unused.reason).toContain('has not been scanned since statistics were reset 0.0 days ago');
    expect(unused.reason).toContain('wait until they cover 30 days');
    expect(findings.find((row) => row.index_name === 'customers_email_lower')!.reason).toContain('Its expressions have statistics');
    const partitioned = findings.find((row) => row.index_name === 'events_id')!;
    expect(partitioned.is_partitioned).toBe(true);
    expect(partitioned.reason).toContain('DROP INDEX cannot run CONCURRENTLY');
  });

  it('describes a foreign key without a supporting index', async () => {
    const [missing] = await indexFindings(db, caps, { ...fnd, kinds: ['MISSING_FK_INDEX'] });
    const [size] = await target.sql<{ bytes: bigint }>("SELECT pg_total_relation_size('fnd.order_lines')::int8 AS bytes");
    expect(missing).toMatchObject({
      schema: 'fnd',
      table: 'order_lines',
      index_oid: null,
      foreign_key_name: 'order_lines_order_id_fkey',
      foreign_key_columns: ['order_id'],
      referenced_schema: 'fnd',
      referenced_table: 'orders',
      size_bytes: size!.bytes,
      scans: null,
    });
    expect(missing!.reason).toContain('every DELETE or key UPDATE on fnd.orders scans fnd.order_lines');
    // what the finding warns about: deleting an order scans the order lines for references
    await runAndFlushStats(target.url, ['DELETE FROM fnd.orders WHERE id = 20']);
    const [after] = await indexFindings(db, caps, { ...fnd, kinds: ['MISSING_FK_INDEX'] });
    expect(after!.table_seq_scans).toBe(missing!.table_seq_scans! + 1n);
  });

  it('filters by table and by kind', async () => {
    const oid = (await target.sql<{ oid: number }>("SELECT 'fnd.orders'::regclass::oid AS oid"))[0]!.oid;
    const orders = await indexFindings(db, caps, { ...fnd, tableOids: [oid], schema: null, kinds: ['DUPLICATE', 'REDUNDANT'] });
    expect(orders.map((row) => row.index_name)).toEqual(['orders_status_desc', 'orders_customer_incl', 'orders_status']);
    expect(await indexFindings(db, caps, { ...fnd, kinds: [] })).toEqual([]);
    const withoutPartitions = await indexFindings(db, caps, { ...fnd, includePartitions: false });
    expect(withoutPartitions.some((row) => row.table === 'events_2024')).toBe(false);
    expect(withoutPartitions.some((row) => row.table === 'events')).toBe(true);
  });

  it("leaves pgscope's own unused indexes out, unless schema pgscope is asked for", async () => {
    expect(await migrateOwnSchema(db)).toMatchObject({ ok: true });
    const everywhere = { tableOids: null, schema: null, includePartitions: true, kinds: ['UNUSED'] } as FindingScope;
    const all = await indexFindings(db, caps, everywhere);
    expect(all.filter((row) => row.schema === 'pgscope')).toEqual([]);
    const own = await indexFindings(db, caps, { ...everywhere, schema: 'pgscope' });
    expect(own.map((row) => row.index_name)).toContain('change_log_requested_at_idx');
    await target.sql('DROP SCHEMA pgscope CASCADE');
  });

  it('reads the same for a role that has only pg_monitor', async () => {
    const asMonitor = new Database(monitor.url(target.name), { applicationName: 'pgscope-test', pool: testConfig().pool });
    try {
      const monitorCaps = await detectCapabilities(asMonitor);
      const withoutAge = (rows: IndexFinding[]) => rows.map(({ stats_age_days: _age, reason: _reason, ...row }) => row);
      expect(withoutAge(await indexFindings(asMonitor, monitorCaps, fnd))).toEqual(withoutAge(await indexFindings(db, caps, fnd)));
    } finally {
      await asMonitor.end();
    }
  });

  it('says "do not touch" while a concurrent build is waiting, and nothing once it finished', async () => {
    await target.sql('CREATE SCHEMA bld; CREATE TABLE bld.busy (a int); INSERT INTO bld.busy VALUES (1)');
    const builder = new Database(target.url, { applicationName: 'pgscope-test-build', pool: testConfig().pool });
    const scope: FindingScope = { tableOids: null, schema: 'bld', includePartitions: true, kinds: ['INVALID'] };
    try {
      await db.withClient(async (writer) => {
        // an open write transaction makes CREATE INDEX CONCURRENTLY wait with its invalid index in the catalog
        await writer.query('BEGIN');
        await writer.query('INSERT INTO bld.busy VALUES (2)');
        const build = builder.query('CREATE INDEX CONCURRENTLY busy_a ON bld.busy (a)');
        const findings = await waitFor('the waiting build to show as INVALID', async () => {
          const found = await indexFindings(db, caps, scope);
          return found.length > 0 ? found : undefined;
        });
        expect(findings).toHaveLength(1);
        expect(findings[0]).toMatchObject({
          index_name: 'busy_a',
          reason_code: 'BUILD_IN_PROGRESS',
          build_command: 'CREATE INDEX CONCURRENTLY',
          suggested_sql: null,
        });
        expect(findings[0]!.build_pid).toEqual(expect.any(Number));
        expect(findings[0]!.reason).toContain('do not touch it');
        await writer.query('ROLLBACK');
        await build;
      });
      expect(await indexFindings(db, caps, scope)).toEqual([]);
    } finally {
      await builder.end();
    }
  });
});
