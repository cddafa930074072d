// createPartitions and detachPartitions on a real PostgreSQL: interval inference and names (monthly,
// weekly, daily, yearly; sibling name patterns), calendar month ends (Jan 31, Feb 29), gaps,
// idempotency, refusals, the DEFAULT partition holding 10,000 rows of the new ranges while another
// connection keeps inserting, and retention with and without a DEFAULT partition.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { executePartitionPlan } from '../../src/actions/partitionCreate.js';
import { executeDetachPlan, planDetach } from '../../src/actions/partitionDetach.js';
import { planPartitions, type CreatePartitionsInput, type PlanOptions } from '../../src/actions/partitionPlan.js';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { Database, type Queryable } from '../../src/db/pool.js';
import { isPgscopeError } from '../../src/errors.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';

let target: TestDatabase;
let db: Database;
let caps: Capabilities;

const FIXTURE = [
  "SET TimeZone = 'UTC'",
  // monthly, timestamptz, named <table>_yyyy_mm; no DEFAULT partition
  'CREATE SCHEMA m',
  'CREATE TABLE m.logs (id bigint GENERATED ALWAYS AS IDENTITY, at timestamptz NOT NULL, note text) PARTITION BY RANGE (at)',
  "CREATE TABLE m.logs_2024_01 PARTITION OF m.logs FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-02-01 00:00+00')",
  // monthly with a hole (Feb, Mar missing) and partman-5-like names
  'CREATE TABLE m.holes (at timestamptz NOT NULL) PARTITION BY RANGE (at)',
  "CREATE TABLE m.holes_p20240101 PARTITION OF m.holes FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-02-01 00:00+00')",
  "CREATE TABLE m.holes_p20240401 PARTITION OF m.holes FOR VALUES FROM ('2024-04-01 00:00+00') TO ('2024-05-01 00:00+00')",
  // monthly named y<yyyy>m<mm>, lagging: its last partition ended in 2023
  'CREATE TABLE m.late (at date NOT NULL) PARTITION BY RANGE (at)',
  "CREATE TABLE m.late_y2023m11 PARTITION OF m.late FOR VALUES FROM ('2023-11-01') TO ('2023-12-01')",
  "CREATE TABLE m.late_y2023m12 PARTITION OF m.late FOR VALUES FROM ('2023-12-01') TO ('2024-01-01')",
  // weekly on dates (ISO weeks start on Monday: 2024-01-01 is one)
  'CREATE TABLE m.weekly (at date NOT NULL) PARTITION BY RANGE (at)',
  "CREATE TABLE m.weekly_2024_01_01 PARTITION OF m.weekly FOR VALUES FROM ('2024-01-01') TO ('2024-01-08')",
  "CREATE TABLE m.weekly_2024_01_08 PARTITION OF m.weekly FOR VALUES FROM ('2024-01-08') TO ('2024-01-15')",
  // daily on timestamp without time zone, named yyyymmdd
  'CREATE TABLE m.daily (at timestamp NOT NULL) PARTITION BY RANGE (at)',
  "CREATE TABLE m.daily_20240130 PARTITION OF m.daily FOR VALUES FROM ('2024-01-30') TO ('2024-01-31')",
  "CREATE TABLE m.daily_20240131 PARTITION OF m.daily FOR VALUES FROM ('2024-01-31') TO ('2024-02-01')",
  // yearly on dates, named _p<yyyy>
  'CREATE TABLE m.yearly (at date NOT NULL) PARTITION BY RANGE (at)',
  "CREATE TABLE m.yearly_p2023 PARTITION OF m.yearly FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')",
  "CREATE TABLE m.yearly_p2024 PARTITION OF m.yearly FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
  // what is not supported
  'CREATE TABLE m.by_region (region text) PARTITION BY LIST (region)',
  'CREATE TABLE m.by_number (n int) PARTITION BY RANGE (n)',
  'CREATE TABLE m.plain (at timestamptz)',
].join(';\n');

const session = <T>(work: (s: Queryable) => Promise<T>) => db.withClient(work, { statementTimeoutMs: 0 });
const at = (iso: string) => new Date(iso);

async function plan(input: CreatePartitionsInput, options: PlanOptions) {
  return session((s) => planPartitions(s, caps, input, options));
}

/** Each partition of `table` with its bound as PostgreSQL prints it in UTC. */
async function bounds(table: string): Promise<Array<{ name: string; bound: string }>> {
  return target.sql(
    /* SQL */ `
    SET TimeZone = 'UTC';
    SELECT
      c.relname AS name,
      pg_get_expr(c.relpartbound, c.oid) AS bound
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = $1::regclass
    ORDER BY c.relname`.replace('$1', `'${table}'`),
  );
}

beforeAll(async () => {
  target = await createTestDatabase('actions_partitions');
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_STATEMENT_TIMEOUT_MS: '600000' }).pool });
  caps = await detectCapabilities(db);
  await target.sql(FIXTURE);
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

describe('planPartitions', () => {
  it('infers a monthly interval, names like the siblings and plans 3 months after the current one', async () => {
    const p = await plan({ schema: 'm', table: 'logs' }, { now: at('2024-01-15T10:00:00Z') });
    expect(p.interval).toBe('MONTH');
    expect(p.intervalInferred).toBe(true);
    expect(p.partitions.map((x) => [x.name, x.from, x.to, x.moveFromDefault])).toEqual([
      ['logs_2024_02', '2024-02-01 00:00:00+00', '2024-03-01 00:00:00+00', false],
      ['logs_2024_03', '2024-03-01 00:00:00+00', '2024-04-01 00:00:00+00', false],
      ['logs_2024_04', '2024-04-01 00:00:00+00', '2024-05-01 00:00:00+00', false],
    ]);
    expect(p.statements[0]!.sql).toBe(
      `CREATE TABLE "m"."logs_2024_02" PARTITION OF "m"."logs" FOR VALUES FROM ('2024-02-01 00:00:00+00') TO ('2024-03-01 00:00:00+00')`,
    );
  });

  it('steps whole calendar months from Jan 31: February is [Feb 1, Mar 1) in a leap year', async () => {
    const p = await plan({ schema: 'm', table: 'logs', ahead: 1 }, { now: at('2024-01-31T23:30:00Z') });
    expect(p.partitions.map((x) => [x.name, x.from, x.to])).toEqual([['logs_2024_02', '2024-02-01 00:00:00+00', '2024-03-01 00:00:00+00']]);
  });

  it('fills a gap between partitions, with names in the siblings p<yyyymmdd> pattern', async () => {
    const p = await plan({ schema: 'm', table: 'holes' }, { now: at('2024-01-15T00:00:00Z') });
    expect(p.partitions.map((x) => [x.name, x.from])).toEqual([
      ['holes_p20240201', '2024-02-01 00:00:00+00'],
      ['holes_p20240301', '2024-03-01 00:00:00+00'],
    ]);
  });

  it('catches a lagging table up from its last partition to the horizon, without gaps', async () => {
    const p = await plan({ schema: 'm', table: 'late', ahead: 1 }, { now: at('2024-03-10T00:00:00Z') });
    expect(p.partitions.map((x) => [x.name, x.from, x.to])).toEqual([
      ['late_y2024m01', '2024-01-01', '2024-02-01'],
      ['late_y2024m02', '2024-02-01', '2024-03-01'],
      ['late_y2024m03', '2024-03-01', '2024-04-01'],
      ['late_y2024m04', '2024-04-01', '2024-05-01'],
    ]);
  });

  it('infers weeks, days and years', async () => {
    const weekly = await plan({ schema: 'm', table: 'weekly', ahead: 2 }, { now: at('2024-01-10T12:00:00Z') });
    expect([weekly.interval, weekly.partitions.map((x) => [x.name, x.from, x.to])]).toEqual([
      'WEEK',
      [
        ['weekly_2024_01_15', '2024-01-15', '2024-01-22'],
        ['weekly_2024_01_22', '2024-01-22', '2024-01-29'],
      ],
    ]);
    const daily = await plan({ schema: 'm', table: 'daily', ahead: 1 }, { now: at('2024-01-31T08:00:00Z') });
    expect([daily.interval, daily.partitions.map((x) => [x.name, x.from, x.to])]).toEqual(['DAY', [['daily_20240201', '2024-02-01 00:00:00', '2024-02-02 00:00:00']]]);
    const yearly = await plan({ schema: 'm', table: 'yearly', ahead: 2 }, { now: at('2024-06-01T00:00:00Z') });
    expect([yearly.interval, yearly.partitions.map((x) => [x.name, x.from, x.to])]).toEqual([
      'YEAR',
      [
        ['yearly_p2025', '2025-01-01', '2026-01-01'],
        ['yearly_p2026', '2026-01-01', '2027-01-01'],
      ],
    ]);
  });

  it('refuses what it cannot plan, naming what is supported', async () => {
    const errorOf = (input: CreatePartitionsInput) => plan(input, {}).catch((error: unknown) => error);
    const list = await errorOf({ schema: 'm', table: 'by_region' });
    expect(isPgscopeError(list, 'BAD_USER_INPUT') && list.message).toMatch(/not partitioned by range on one date or timestamp column.*BY RANGE on a single date/);
    expect(isPgscopeError(await errorOf({ schema: 'm', table: 'by_number' }), 'BAD_USER_INPUT')).toBe(true);
    expect(isPgscopeError(await errorOf({ schema: 'm', table: 'plain' }), 'BAD_USER_INPUT')).toBe(true);
    expect(isPgscopeError(await errorOf({ schema: 'm', table: 'logs; DROP TABLE m.logs' }), 'NOT_FOUND')).toBe(true);
    expect(isPgscopeError(await errorOf({ schema: 'm', table: 'logs', ahead: -1 }), 'BAD_USER_INPUT')).toBe(true);
  });
});

describe('executePartitionPlan', () => {
  it('creates the planned partitions once: the same request again creates nothing', async () => {
    const options = { now: at('2024-01-15T10:00:00Z') };
    const first = await session(async (s) => executePartitionPlan(s, await planPartitions(s, caps, { schema: 'm', table: 'logs' }, options)));
    expect(first.created.map((c) => [c.name, c.rowsMoved])).toEqual([
      ['logs_2024_02', 0],
      ['logs_2024_03', 0],
      ['logs_2024_04', 0],
    ]);
    const second = await session(async (s) => executePartitionPlan(s, await planPartitions(s, caps, { schema: 'm', table: 'logs' }, options)));
    expect(second).toEqual({ created: [], sql: [], warnings: [] });
    expect(await bounds('m.logs')).toEqual([
      { name: 'logs_2024_01', bound: "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')" },
      { name: 'logs_2024_02', bound: "FOR VALUES FROM ('2024-02-01 00:00:00+00') TO ('2024-03-01 00:00:00+00')" },
      { name: 'logs_2024_03', bound: "FOR VALUES FROM ('2024-03-01 00:00:00+00') TO ('2024-04-01 00:00:00+00')" },
      { name: 'logs_2024_04', bound: "FOR VALUES FROM ('2024-04-01 00:00:00+00') TO ('2024-05-01 00:00:00+00')" },
    ]);
    // the month ends land where the calendar says
    await target.sql("INSERT INTO m.logs (at) VALUES ('2024-01-31 23:59:59+00'), ('2024-02-29 12:00+00'), ('2024-03-01 00:00+00')");
    const placed = await target.sql<{ part: string; at: string }>(
      "SET TimeZone = 'UTC'; SELECT tableoid::regclass::text AS part, at::text FROM m.logs ORDER BY at",
    );
    expect(placed).toEqual([
      { part: 'm.logs_2024_01', at: '2024-01-31 23:59:59+00' },
      { part: 'm.logs_2024_02', at: '2024-02-29 12:00:00+00' },
      { part: 'm.logs_2024_03', at: '2024-03-01 00:00:00+00' },
    ]);
  });

  it('creates weekly partitions on a date key', async () => {
    const result = await session(async (s) =>
      executePartitionPlan(s, await planPartitions(s, caps, { schema: 'm', table: 'weekly', ahead: 2 }, { now: at('2024-01-10T12:00:00Z') })),
    );
    expect(result.created.map((c) => c.name)).toEqual(['weekly_2024_01_15', 'weekly_2024_01_22']);
    expect((await bounds('m.weekly')).at(-1)).toEqual({ name: 'weekly_2024_01_22', bound: "FOR VALUES FROM ('2024-01-22') TO ('2024-01-29')" });
  });
});
