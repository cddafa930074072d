// Partitions and partitioned tables: the reference schema's activity_logs (monthly range partitions
// around now, and a DEFAULT partition holding rows), a list-partitioned table with a sub-partitioned
// partition and an index missing on some partitions, hash and MAXVALUE partitioning, and a
// partition left detach-pending by a cancelled DETACH ... CONCURRENTLY.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { loadPartitionedTables, loadPartitions, type PartitionedTableRow } from '../../src/db/partitions.js';
import { Database } from '../../src/db/pool.js';
import { DEMO_DIR } from '../../src/demo/load.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { createRole, type TestRole } from '../harness/roles.js';
import { runAndFlushStats } from '../harness/stats.js';
import { waitFor } from '../harness/waitFor.js';

let target: TestDatabase;
let monitor: TestRole;
let db: Database;
let caps: Capabilities;

const FIXTURE = [
  fs.readFileSync(`${DEMO_DIR}schema.sql`, 'utf8'),
  // seven rows five years ahead, past the last monthly partition: they land in the DEFAULT partition
  `INSERT INTO activity_logs (user_id, action, "timestamp") SELECT g, 'login', now() + interval '5 years' FROM generate_series(1, 7) g`,
  `INSERT INTO activity_logs (user_id, action, "timestamp") SELECT g, 'view', now() FROM generate_series(1, 3) g`,
  'CREATE SCHEMA pt',
  'CREATE TABLE pt.readings (id int, region text, sensor text) PARTITION BY LIST (region)',
  "CREATE TABLE pt.readings_eu PARTITION OF pt.readings FOR VALUES IN ('eu')",
  "CREATE TABLE pt.readings_us PARTITION OF pt.readings FOR VALUES IN ('us')",
  "CREATE TABLE pt.readings_asia PARTITION OF pt.readings FOR VALUES IN ('asia') PARTITION BY HASH (id)",
  'CREATE TABLE pt.readings_asia_0 PARTITION OF pt.readings_asia FOR VALUES WITH (MODULUS 2, REMAINDER 0)',
  'CREATE TABLE pt.readings_asia_1 PARTITION OF pt.readings_asia FOR VALUES WITH (MODULUS 2, REMAINDER 1)',
  // the non-blocking way to index a partitioned table, stopped halfway: only readings_eu is done
  'CREATE INDEX readings_sensor ON ONLY pt.readings (sensor)',
  'CREATE INDEX readings_eu_sensor ON pt.readings_eu (sensor)',
  'ALTER INDEX pt.readings_sensor ATTACH PARTITION pt.readings_eu_sensor',
  "INSERT INTO pt.readings SELECT g, (ARRAY['asia', 'asia', 'eu', 'us', 'asia', 'us', 'asia', 'eu', 'us'])[g], 's' FROM generate_series(1, 9) g",
  'CREATE TABLE pt.buckets (id int) PARTITION BY HASH (id)',
  'CREATE TABLE pt.buckets_0 PARTITION OF pt.buckets FOR VALUES WITH (MODULUS 2, REMAINDER 0)',
  'CREATE TABLE pt.buckets_1 PARTITION OF pt.buckets FOR VALUES WITH (MODULUS 2, REMAINDER 1)',
  'CREATE TABLE pt.ticks (at timestamptz NOT NULL) PARTITION BY RANGE (at)',
  "CREATE TABLE pt.ticks_old PARTITION OF pt.ticks FOR VALUES FROM (MINVALUE) TO ('2020-01-01 00:00:00+00')",
  "CREATE TABLE pt.ticks_rest PARTITION OF pt.ticks FOR VALUES FROM ('2020-01-01 00:00:00+00') TO (MAXVALUE)",
  'CREATE TABLE pt.metrics (id int) PARTITION BY RANGE (id)',
  'CREATE TABLE pt.metrics_1 PARTITION OF pt.metrics FOR VALUES FROM (0) TO (10)',
  'CREATE TABLE pt.metrics_2 PARTITION OF pt.metrics FOR VALUES FROM (10) TO (20)',
  'ANALYZE activity_logs',
  'ANALYZE pt.readings',
];

/** DETACH PARTITION ... CONCURRENTLY, and so detach-pending partitions, exist from PostgreSQL 14. */
const DETACH_CONCURRENTLY = inject('pgMajorVersion') >= 14;

/** Leaves pt.metrics_2 "detach pending": a DETACH CONCURRENTLY waiting for a reader, then cancelled. */
async function cancelledDetach(): Promise<void> {
  const detacher = new Database(target.url, { applicationName: 'pgscope-test-detach', pool: testConfig().pool });
  try {
    await db.withClient(async (reader) => {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM pt.metrics');
      const detach = detacher.query('ALTER TABLE pt.metrics DETACH PARTITION pt.metrics_2 CONCURRENTLY').catch((error: unknown) => error);
      // the first transaction of DETACH CONCURRENTLY commits the pending mark, then it waits for the reader
      await waitFor('pt.metrics_2 to be marked detach pending', async () => {
        const [row] = await db.query<{ pending: boolean }>(
          "SELECT inhdetachpending AS pending FROM pg_inherits WHERE inhrelid = 'pt.metrics_2'::regclass",
        );
        return row!.pending;
      });
      await db.query(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgscope-test-detach' AND state = 'active'",
      );
      expect(await detach).toBeInstanceOf(Error);
      await reader.query('ROLLBACK');
    });
  } finally {
    await detacher.end();
  }
}

beforeAll(async () => {
  [target, monitor] = await Promise.all([createTestDatabase('partitions'), createRole('partitions_monitor', ['pg_monitor'])]);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(db);
  await runAndFlushStats(target.url, FIXTURE);
  if (DETACH_CONCURRENTLY) await cancelledDetach();
});

afterAll(async () => {
  await db.end();
  await target.drop();
  await monitor.drop();
});

const oidOf = async (name: string) => (await target.sql<{ oid: number }>('SELECT $1::regclass::oid AS oid', [name]))[0]!.oid;

/** The monthly partitions demo/schema.sql creates, computed the way it computes them. */
async function expectedMonths() {
  return target.sql<{ name: string; bound: string; from_at: Date; to_at: Date }>(`
    SELECT
      'activity_logs_' || to_char(m + (i || ' months')::interval, 'YYYY_MM') AS name,
      format('FOR VALUES FROM (%L) TO (%L)', m + (i || ' months')::interval, m + ((i + 1) || ' months')::interval) AS bound,
      (m + (i || ' months')::interval)::timestamptz AS from_at,
      (m + ((i + 1) || ' months')::interval)::timestamptz AS to_at
    FROM (SELECT date_trunc('month', now() - interval '11 months')::date AS m) start, generate_series(0, 12) i
    ORDER BY i`);
}

describe('loadPartitions', () => {
  it("lists activity_logs' monthly partitions by bound, the default last, with parsed time bounds", async () => {
    const partitions = await loadPartitions(db, caps, [await oidOf('activity_logs')]);
    const months = await expectedMonths();
    expect(partitions).toHaveLength(14);
    expect(partitions.slice(0, 13).map(({ name, bound, from_at, to_at }) => ({ name, bound, from_at, to_at }))).toEqual(months);
    expect(
      partitions.slice(0, 13).every((p) => !p.is_default && !p.is_detach_pending && !p.is_partitioned && p.missing_indexes.length === 0),
    ).toBe(true);
    const current = partitions.find((p) => p.name === months[11]!.name)!;
    expect(current).toMatchObject({
      row_estimate: 3n,
      live_tuples: 3n,
      range_from: `'${months[11]!.bound.match(/FROM \('(.*?)'\)/)![1]}'`,
    });
    expect(partitions[13]).toMatchObject({
      name: 'activity_logs_default',
      is_default: true,
      bound: 'DEFAULT',
      range_from: null,
      from_at: null,
      to_at: null,
      row_estimate: 7n,
      live_tuples: 7n,
    });
    const [size] = await target.sql<{ bytes: bigint }>("SELECT pg_total_relation_size('activity_logs_default')::int8 AS bytes");
    expect(partitions[13]!.size_bytes).toBe(size!.bytes);
    expect(partitions[13]!.size_bytes).toBe(partitions[13]!.table_size_bytes + partitions[13]!.indexes_size_bytes);
  });

  it('sums a sub-partitioned partition over its leaves and names the indexes a partition lacks', async () => {
    const partitions = await loadPartitions(db, caps, [await oidOf('pt.readings')]);
    expect(partitions.map((p) => [p.name, p.bound, p.is_partitioned, p.row_estimate, p.missing_indexes])).toEqual([
      ['readings_asia', "FOR VALUES IN ('asia')", true, 4n, ['readings_sensor']],
      ['readings_eu', "FOR VALUES IN ('eu')", false, 2n, []],
      ['readings_us', "FOR VALUES IN ('us')", false, 3n, ['readings_sensor']],
    ]);
    const [size] = await target.sql<{ bytes: bigint }>(
      "SELECT (pg_total_relation_size('pt.readings_asia_0') + pg_total_relation_size('pt.readings_asia_1'))::int8 AS bytes",
    );
    expect(partitions[0]!.size_bytes).toBe(size!.bytes);
    expect(partitions.every((p) => p.range_from === null && p.from_at === null)).toBe(true);
  });

  it('reads MINVALUE and MAXVALUE bounds, hash bounds, and a detach-pending partition', async () => {
    const ticks = await loadPartitions(db, caps, [await oidOf('pt.ticks')]);
    expect(ticks.map((p) => [p.name, p.range_from, p.range_to === 'MAXVALUE', p.from_at, p.to_at])).toEqual([
      ['ticks_old', 'MINVALUE', false, null, new Date('2020-01-01T00:00:00Z')],
      ['ticks_rest', ticks[1]!.range_from, true, new Date('2020-01-01T00:00:00Z'), null],
    ]);
    const buckets = await loadPartitions(db, caps, [await oidOf('pt.buckets')]);
    expect(buckets.map((p) => p.bound)).toEqual(['FOR VALUES WITH (modulus 2, remainder 0)', 'FOR VALUES WITH (modulus 2, remainder 1)']);
    const metrics = await loadPartitions(db, caps, [await oidOf('pt.metrics')]);
    expect(metrics.map((p) => [p.name, p.range_from, p.range_to, p.from_at, p.is_detach_pending])).toEqual([
      ['metrics_1', '0', '10', null, false],
      ['metrics_2', '10', '20', null, DETACH_CONCURRENTLY],
    ]);
  });

  it('loads the partitions of several tables in one statement', async () => {
    const rows = await loadPartitions(db, caps, await Promise.all(['pt.buckets', 'pt.metrics', 'pt.buckets_0'].map(oidOf)));
    // grouped by parent; buckets_0 is not partitioned and has none
    expect(rows.map((p) => p.name)).toEqual(['buckets_0', 'buckets_1', 'metrics_1', 'metrics_2']);
  });
});

describe('loadPartitionedTables', () => {
  const load = async (name: string, on: Database = db): Promise<PartitionedTableRow> =>
    (await loadPartitionedTables(on, caps, [await oidOf(name)]))[0]!;

  it('gives strategy, key, default partition rows and how far ahead the months reach', async () => {
    const activity = await load('activity_logs');
    const months = await expectedMonths();
    const coveredUntil = months[12]!.to_at;
    expect(activity).toMatchObject({
      schema: 'public',
      name: 'activity_logs',
      strategy: 'RANGE',
      key: 'RANGE ("timestamp")',
      is_time_range: true,
      partition_count: 14,
      default_partition_name: 'activity_logs_default',
      default_partition_rows: 7n,
      default_partition_rows_exact: true,
      detach_pending_partitions: [],
      missing_indexes: [],
      covered_until: coveredUntil,
      coverage_unbounded: false,
    });
    // one to two months ahead: the last partition ends on the first of the month after next
    expect(activity.coverage_ahead_days).toBeGreaterThan(28);
    expect(activity.coverage_ahead_days).toBeLessThanOrEqual(62);
    expect(activity.coverage_ahead_days).toBeCloseTo((coveredUntil.getTime() - Date.now()) / 86_400_000, 2);
  });

  it('reports indexes missing on partitions, detach-pending partitions, hash and unbounded ranges', async () => {
    expect(await load('pt.readings')).toMatchObject({
      strategy: 'LIST',
      key: 'LIST (region)',
      is_time_range: false,
      partition_count: 3,
      default_partition_name: null,
      default_partition_rows: null,
      default_partition_rows_exact: null,
      missing_indexes: [{ indexName: 'readings_sensor', partitions: ['readings_asia', 'readings_us'] }],
      covered_until: null,
      coverage_ahead_days: null,
    });
    expect(await load('pt.metrics')).toMatchObject({
      strategy: 'RANGE',
      is_time_range: false,
      detach_pending_partitions: DETACH_CONCURRENTLY ? ['metrics_2'] : [],
      covered_until: null,
    });
    expect(await load('pt.buckets')).toMatchObject({ strategy: 'HASH', key: 'HASH (id)', partition_count: 2 });
    expect(await load('pt.ticks')).toMatchObject({
      is_time_range: true,
      coverage_unbounded: true,
      covered_until: null,
      coverage_ahead_days: null,
    });
    expect(await loadPartitionedTables(db, caps, [await oidOf('pt.buckets_0')])).toEqual([]);
  });

  it("falls back to the statistics' row count for a role that may not read the default partition", async () => {
    const asMonitor = new Database(monitor.url(target.name), { applicationName: 'pgscope-test', pool: testConfig().pool });
    try {
      const activity = await load('activity_logs', asMonitor);
      expect(activity).toMatchObject({ default_partition_rows: 7n, default_partition_rows_exact: false, partition_count: 14 });
      expect(await loadPartitions(asMonitor, caps, [await oidOf('pt.readings')])).toEqual(
        await loadPartitions(db, caps, [await oidOf('pt.readings')]),
      );
    } finally {
      await asMonitor.end();
    }
  });
});
