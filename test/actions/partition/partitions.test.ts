// createPartitions and detachPartitions on a real PostgreSQL: interval inference and names (monthly,
// weekly, daily, yearly; sibling name patterns), calendar month ends (Jan 31, Feb 29), gaps,
// idempotency, refusals, the DEFAULT partition holding 10,000 rows of the new ranges while another
// connection keeps inserting, and retention with and without a DEFAULT partition.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { executePartitionPlan } from '../../../src/actions/partition/create.js';
import { executeDetachPlan, planDetach } from '../../../src/actions/partition/detach.js';
import { planPartitions, type CreatePartitionsInput, type PartitionPlanOptions } from '../../../src/actions/partition/plan.js';
import { detectCapabilities, type Capabilities } from '../../../src/db/capabilities.js';
import { Database, type Queryable } from '../../../src/db/pool.js';
import { isPgscopeError } from '../../../src/errors.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';
import { waitFor } from '../../harness/waitFor.js';

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
  // a DEFAULT partition holding 3 rows of February 2024, for the lock-timeout case
  'CREATE TABLE m.busy (at timestamptz NOT NULL) PARTITION BY RANGE (at)',
  "CREATE TABLE m.busy_2024_01 PARTITION OF m.busy FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-02-01 00:00+00')",
  'CREATE TABLE m.busy_default PARTITION OF m.busy DEFAULT',
  "INSERT INTO m.busy VALUES ('2024-02-03 00:00+00'), ('2024-02-04 00:00+00'), ('2024-02-05 00:00+00')",
  // no partition yet but the DEFAULT one: the interval must be given, names fall back to <table>_yyyy_mm
  'CREATE TABLE m.fresh (at timestamptz NOT NULL) PARTITION BY RANGE (at)',
  'CREATE TABLE m.fresh_default PARTITION OF m.fresh DEFAULT',
  // retention: monthly Jan-Apr 2024, one table without a DEFAULT partition, one with
  'CREATE SCHEMA r',
  ...['nodef', 'withdef', 'pend'].flatMap((t) => [
    `CREATE TABLE r.${t} (at timestamptz NOT NULL) PARTITION BY RANGE (at)`,
    ...[1, 2, 3, 4].map(
      (m) =>
        `CREATE TABLE r.${t}_2024_0${m} PARTITION OF r.${t} FOR VALUES FROM ('2024-0${m}-01 00:00+00') TO ('2024-0${m + 1}-01 00:00+00')`,
    ),
  ]),
  'CREATE TABLE r.withdef_default PARTITION OF r.withdef DEFAULT',
  // retention on tables in use: monthly partitions from two months ago to next month, a timestamptz and a date key
  ...['live', 'livedate'].flatMap((t) => [
    `CREATE TABLE r.${t} (at ${t === 'live' ? 'timestamptz' : 'date'} NOT NULL) PARTITION BY RANGE (at)`,
    `DO $$ DECLARE m date; BEGIN
       FOR m IN SELECT generate_series(date_trunc('month', now()) - interval '2 months', date_trunc('month', now()) + interval '1 month', interval '1 month')::date LOOP
         EXECUTE format('CREATE TABLE r.%I PARTITION OF r.${t} FOR VALUES FROM (%L) TO (%L)', '${t}_' || to_char(m, 'YYYY_MM'), m, (m + interval '1 month')::date);
       END LOOP;
     END $$`,
  ]),
].join(';\n');

/** The case: monthly partitions, the DEFAULT partition holding 5,000 rows of February 2024 and 5,000 of March. */
const DEFAULT_FIXTURE = /* SQL */ `
  CREATE SCHEMA app;
  CREATE TABLE app.activity (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    at timestamptz NOT NULL,
    user_id int NOT NULL,
    action text NOT NULL DEFAULT 'view',
    PRIMARY KEY (id, at)
  ) PARTITION BY RANGE (at);
  CREATE INDEX activity_user ON app.activity (user_id, at);
  CREATE TABLE app.activity_2024_01 PARTITION OF app.activity FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-02-01 00:00+00');
  CREATE TABLE app.activity_default PARTITION OF app.activity DEFAULT;
  INSERT INTO app.activity (at, user_id)
  SELECT
    CASE WHEN g <= 5000
      THEN '2024-02-01 00:00+00'::timestamptz + (g - 1) * interval '501 seconds'
      ELSE '2024-03-01 00:00+00'::timestamptz + (g - 5001) * interval '535 seconds'
    END,
    g % 100
  FROM generate_series(1, 10000) g;
  INSERT INTO app.activity (at, user_id) SELECT '2030-06-01 00:00+00', g FROM generate_series(1, 100) g;
  ANALYZE app.activity`;

/** Timestamps the concurrent writer cycles through: an existing partition, the three new ranges, and a far one that stays in the DEFAULT. */
const WRITER_BUCKETS = ['2024-01-20', '2024-02-20', '2024-03-20', '2024-04-20', '2030-07-01'] as const;

interface Writer {
  inserted: Record<(typeof WRITER_BUCKETS)[number], number>;
  errors: string[];
  maxLatencyMs: number;
  total(): number;
  stop(): Promise<void>;
}

/** Single-row INSERTs into app.activity on its own connection, one after the other, until stopped. */
function startWriter(url: string): Writer {
  // like an application: it waits for locks as long as it takes (no short lock_timeout)
  const writerPool = testConfig({ PGSCOPE_STATEMENT_TIMEOUT_MS: '600000', PGSCOPE_LOCK_TIMEOUT_MS: '600000' }).pool;
  const writerDb = new Database(url, { applicationName: 'pgscope-test-writer', pool: writerPool });
  let running = true;
  const writer: Writer = {
    inserted: Object.fromEntries(WRITER_BUCKETS.map((b) => [b, 0])) as Writer['inserted'],
    errors: [],
    maxLatencyMs: 0,
    total: () => Object.values(writer.inserted).reduce((a, b) => a + b, 0),
    stop: async () => {
      running = false;
      await loop;
      await writerDb.end();
    },
  };
  const loop = writerDb.withClient(async (client) => {
    for (let n = 0; running; n++) {
      const bucket = WRITER_BUCKETS[n % WRITER_BUCKETS.length]!;
      const started = performance.now();
      try {
        await client.query("INSERT INTO app.activity (at, user_id) VALUES ($1::timestamptz + $2 * interval '1 second', 7)", [
          `${bucket} 00:00+00`,
          n,
        ]);
        writer.inserted[bucket] += 1;
      } catch (error) {
        writer.errors.push(
          `${(error as { sqlState?: string; code?: string }).sqlState ?? (error as { code?: string }).code}: ${(error as Error).message}`,
        );
      }
      writer.maxLatencyMs = Math.max(writer.maxLatencyMs, performance.now() - started);
    }
  });
  return writer;
}

/** DETACH PARTITION ... CONCURRENTLY, and so detach-pending partitions, exist from PostgreSQL 14. */
const DETACH_CONCURRENTLY = inject('pgMajorVersion') >= 14;

const session = <T>(work: (s: Queryable) => Promise<T>) => db.withClient(work, { statementTimeoutMs: 0 });
const at = (iso: string) => new Date(iso);

async function plan(input: CreatePartitionsInput, options: PartitionPlanOptions) {
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
    // the owner creates them (no owner to hand them to, no grant to copy): one transaction each
    expect(p.partitions[0]!.statements.map((s) => s.sql)).toEqual([
      'BEGIN',
      `CREATE TABLE "m"."logs_2024_02" PARTITION OF "m"."logs" FOR VALUES FROM ('2024-02-01 00:00:00+00') TO ('2024-03-01 00:00:00+00')`,
      'COMMIT',
    ]);
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
    expect([daily.interval, daily.partitions.map((x) => [x.name, x.from, x.to])]).toEqual([
      'DAY',
      [['daily_20240201', '2024-02-01 00:00:00', '2024-02-02 00:00:00']],
    ]);
    const yearly = await plan({ schema: 'm', table: 'yearly', ahead: 2 }, { now: at('2024-06-01T00:00:00Z') });
    expect([yearly.interval, yearly.partitions.map((x) => [x.name, x.from, x.to])]).toEqual([
      'YEAR',
      [
        ['yearly_p2025', '2025-01-01', '2026-01-01'],
        ['yearly_p2026', '2026-01-01', '2027-01-01'],
      ],
    ]);
  });

  it('needs the interval for a table without range partitions, and then starts at the current period', async () => {
    const error = await plan({ schema: 'm', table: 'fresh' }, {}).catch((e: unknown) => e);
    expect(isPgscopeError(error, 'BAD_USER_INPUT') && error.message).toMatch(
      /cannot be inferred: it has no range partition yet.*Pass interval/,
    );
    const p = await plan({ schema: 'm', table: 'fresh', interval: 'MONTH', ahead: 1 }, { now: at('2024-12-31T12:00:00Z') });
    expect(p.partitions.map((x) => [x.name, x.from, x.to, x.moveFromDefault])).toEqual([
      ['fresh_2024_12', '2024-12-01 00:00:00+00', '2025-01-01 00:00:00+00', false],
      ['fresh_2025_01', '2025-01-01 00:00:00+00', '2025-02-01 00:00:00+00', false],
    ]);
  });

  it.each([
    ['iso_w', 'WEEK', ['x_w2024_50', 'x_w2024_51'], ['x_w2024_52', 'x_w2025_01']],
    ['iso_yw', 'WEEK', ['x_2024w50', 'x_2024w51'], ['x_2024w52', 'x_2025w01']],
    ['iso_pyw', 'WEEK', ['x_p2024w50', 'x_p2024w51'], ['x_p2024w52', 'x_p2025w01']],
    ['iso_plain', 'WEEK', ['x_2024_50', 'x_2024_51'], ['x_2024_52', 'x_2025_01']],
    ['yyyymm', 'MONTH', ['x_202410', 'x_202411'], ['x_202412']],
    ['pyyyy_mm', 'MONTH', ['x_p2024_10', 'x_p2024_11'], ['x_p2024_12']],
    ['yyyy_mm', 'MONTH', ['x_2024_10', 'x_2024_11'], ['x_2024_12']],
    ['yyyymmdd', 'MONTH', ['x_20241001', 'x_20241101'], ['x_20241201']],
    ['ymm', 'MONTH', ['x_y2024m10', 'x_y2024m11'], ['x_y2024m12']],
  ])("names new partitions in the siblings' pattern: %s", async (schema, interval, siblings, expected) => {
    const starts = interval === 'WEEK' ? ['2024-12-09', '2024-12-16', '2024-12-23'] : ['2024-10-01', '2024-11-01', '2024-12-01'];
    await target.sql(
      [`CREATE SCHEMA ${schema}`, `CREATE TABLE ${schema}.x (at date NOT NULL) PARTITION BY RANGE (at)`]
        .concat(
          siblings.map(
            (name, i) => `CREATE TABLE ${schema}.${name} PARTITION OF ${schema}.x FOR VALUES FROM ('${starts[i]}') TO ('${starts[i + 1]}')`,
          ),
        )
        .join(';'),
    );
    const p = await plan(
      { schema, table: 'x', ahead: interval === 'WEEK' ? 2 : 1 },
      { now: at(interval === 'WEEK' ? '2024-12-18T12:00:00Z' : '2024-11-15T12:00:00Z') },
    );
    expect(p.partitions.map((x) => x.name)).toEqual(expected);
    expect(p.warnings).toEqual([]);
  });

  it('names weekly partitions by ISO week when week 1 reads like January (2024_01), never by month', async () => {
    await target.sql(
      "CREATE SCHEMA wk; CREATE TABLE wk.x (at date NOT NULL) PARTITION BY RANGE (at); CREATE TABLE wk.x_2024_01 PARTITION OF wk.x FOR VALUES FROM ('2024-01-01') TO ('2024-01-08')",
    );
    const p = await plan({ schema: 'wk', table: 'x', ahead: 2, interval: 'WEEK' }, { now: at('2024-01-03T12:00:00Z') });
    expect(p.partitions.map((x) => x.name)).toEqual(['x_2024_02', 'x_2024_03']);
  });

  it('says which names it could not read, and names the new partitions by date instead', async () => {
    await target.sql(
      "CREATE SCHEMA odd; CREATE TABLE odd.x (at date NOT NULL) PARTITION BY RANGE (at); CREATE TABLE odd.x_first PARTITION OF odd.x FOR VALUES FROM ('2024-12-09') TO ('2024-12-16'); " +
        "CREATE TABLE odd.x_second PARTITION OF odd.x FOR VALUES FROM ('2024-12-16') TO ('2024-12-23')",
    );
    const p = await plan({ schema: 'odd', table: 'x', ahead: 1 }, { now: at('2024-12-18T12:00:00Z') });
    expect(p.partitions.map((x) => x.name)).toEqual(['x_2024_12_23']);
    expect(p.warnings).toEqual([
      'The names of the latest partitions (x_first, x_second) follow no pattern pgscope reads (dates as 2026_12_07, 20261207 or y2026m12d07; ISO weeks as ' +
        '2026_w50, 2026w50, 2026_50 or w2026_50; months as 2026_12, 202612 or y2026m12; years as 2026, each with any prefix): new partitions are named like x_2024_12_23.',
    ]);
  });

  it('refuses what it cannot plan, naming what is supported', async () => {
    const errorOf = (input: CreatePartitionsInput) => plan(input, {}).catch((error: unknown) => error);
    const list = await errorOf({ schema: 'm', table: 'by_region' });
    expect(isPgscopeError(list, 'BAD_USER_INPUT') && list.message).toMatch(
      /not partitioned by range on one date or timestamp column.*BY RANGE on a single date/,
    );
    expect(isPgscopeError(await errorOf({ schema: 'm', table: 'by_number' }), 'BAD_USER_INPUT')).toBe(true);
    expect(isPgscopeError(await errorOf({ schema: 'm', table: 'plain' }), 'BAD_USER_INPUT')).toBe(true);
    expect(isPgscopeError(await errorOf({ schema: 'm', table: 'logs; DROP TABLE m.logs' }), 'NOT_FOUND')).toBe(true);
    expect(isPgscopeError(await errorOf({ schema: 'm', table: 'logs', ahead: -1 }), 'BAD_USER_INPUT')).toBe(true);
  });
});

describe('executePartitionPlan', () => {
  it('creates the planned partitions once: the same request again creates nothing', async () => {
    const options = { now: at('2024-01-15T10:00:00Z') };
    const first = await session(async (s) =>
      executePartitionPlan(s, await planPartitions(s, caps, { schema: 'm', table: 'logs' }, options)),
    );
    expect(first.created.map((c) => [c.name, c.rowsMoved])).toEqual([
      ['logs_2024_02', 0],
      ['logs_2024_03', 0],
      ['logs_2024_04', 0],
    ]);
    const second = await session(async (s) =>
      executePartitionPlan(s, await planPartitions(s, caps, { schema: 'm', table: 'logs' }, options)),
    );
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

  it('answers ALREADY_EXISTS when another session created a planned range after planning', async () => {
    const stale = await plan({ schema: 'm', table: 'yearly', ahead: 1 }, { now: at('2024-06-01T00:00:00Z') });
    expect(stale.partitions.map((x) => x.name)).toEqual(['yearly_p2025']);
    await target.sql("CREATE TABLE m.yearly_2025 PARTITION OF m.yearly FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')");
    const error = await session((s) => executePartitionPlan(s, stale)).catch((e: unknown) => e);
    expect(isPgscopeError(error, 'ALREADY_EXISTS')).toBe(true);
    expect((await plan({ schema: 'm', table: 'yearly', ahead: 1 }, { now: at('2024-06-01T00:00:00Z') })).partitions).toEqual([]);
  });

  it('gives up with LOCK_TIMEOUT after bounded retries while a writer holds the parent, leaving nothing behind; succeeds later', async () => {
    const options = { now: at('2024-01-15T00:00:00Z') };
    const policy = { lockTimeoutMs: 50, retries: 1, retryDelayMs: 10 };
    const error = await db.withClient(async (holder) => {
      await holder.query('BEGIN');
      await holder.query("INSERT INTO m.busy VALUES ('2030-01-01 00:00+00')");
      try {
        return await session(async (s) =>
          executePartitionPlan(s, await planPartitions(s, caps, { schema: 'm', table: 'busy', ahead: 1 }, options), policy),
        ).catch((e: unknown) => e);
      } finally {
        await holder.query('ROLLBACK');
      }
    });
    expect(isPgscopeError(error, 'LOCK_TIMEOUT')).toBe(true);
    const [state] = await target.sql<{ standalone: string | null; waiting: bigint }>(
      "SELECT to_regclass('m.busy_2024_02')::text AS standalone, (SELECT count(*) FROM m.busy_default)::int8 AS waiting",
    );
    expect(state).toEqual({ standalone: null, waiting: 3n });
    const result = await session(async (s) =>
      executePartitionPlan(s, await planPartitions(s, caps, { schema: 'm', table: 'busy', ahead: 1 }, options), policy),
    );
    expect(result.created.map(({ writesHeldMs: _held, ...c }) => c)).toEqual([
      {
        schema: 'm',
        name: 'busy_2024_02',
        from: '2024-02-01 00:00:00+00',
        to: '2024-03-01 00:00:00+00',
        rowsMoved: 3,
        rowsMovedUnderLock: 0,
      },
    ]);
  });

  it('creates weekly partitions on a date key', async () => {
    const result = await session(async (s) =>
      executePartitionPlan(
        s,
        await planPartitions(s, caps, { schema: 'm', table: 'weekly', ahead: 2 }, { now: at('2024-01-10T12:00:00Z') }),
      ),
    );
    expect(result.created.map((c) => c.name)).toEqual(['weekly_2024_01_15', 'weekly_2024_01_22']);
    expect((await bounds('m.weekly')).at(-1)).toEqual({
      name: 'weekly_2024_01_22',
      bound: "FOR VALUES FROM ('2024-01-22') TO ('2024-01-29')",
    });
  });
});

describe('the DEFAULT partition holds rows of the new ranges', () => {
  it('moves them into the new partitions while another connection keeps inserting: no row lost, no insert failed', async () => {
    await target.sql(DEFAULT_FIXTURE);
    const writer = startWriter(target.url);
    let result: Awaited<ReturnType<typeof executePartitionPlan>>;
    let planned: Awaited<ReturnType<typeof planPartitions>>;
    const started = performance.now();
    try {
      await waitFor('the writer to insert 25 rows', () => writer.total() >= 25 || writer.errors.length > 0);
      [planned, result] = await session(async (s) => {
        const p = await planPartitions(s, caps, { schema: 'app', table: 'activity' }, { now: at('2024-01-15T00:00:00Z') });
        return [p, await executePartitionPlan(s, p)] as const;
      });
      const doneAt = writer.total();
      await waitFor('the writer to insert 25 more rows', () => writer.total() >= doneAt + 25 || writer.errors.length > 0);
    } finally {
      await writer.stop();
    }
    console.log(
      `createPartitions with 10,000 rows in the DEFAULT partition: ${(performance.now() - started).toFixed(0)} ms (writer included), ` +
        `${writer.total()} concurrent inserts, longest ${writer.maxLatencyMs.toFixed(1)} ms`,
    );
    expect(writer.errors).toEqual([]);
    expect(planned.partitions.map((p) => [p.name, p.moveFromDefault])).toEqual([
      ['activity_2024_02', true],
      ['activity_2024_03', true],
      // the writer's April rows reached the DEFAULT partition before planning (25 inserts first)
      ['activity_2024_04', true],
    ]);
    expect(planned.warnings[0]).toMatch(
      /^50\d\d rows of \[2024-02-01 00:00:00\+00, 2024-03-01 00:00:00\+00\) wait in the DEFAULT partition: they are copied into activity_2024_02 while writes go on; then writes to app.activity wait about \d+ ms /,
    );
    expect(result.created.map((c) => c.name)).toEqual(['activity_2024_02', 'activity_2024_03', 'activity_2024_04']);
    const [feb, mar] = result.created;
    expect(feb!.rowsMoved).toBeGreaterThanOrEqual(5000);
    expect(mar!.rowsMoved).toBeGreaterThanOrEqual(5000);
    expect(result.sql).toContain('LOCK TABLE "app"."activity" IN SHARE ROW EXCLUSIVE MODE');

    const counts = await target.sql<{ part: string; rows: bigint }>(
      'SELECT tableoid::regclass::text AS part, count(*)::int8 AS rows FROM app.activity GROUP BY 1 ORDER BY 1',
    );
    expect(counts.map((c) => [c.part, Number(c.rows)])).toEqual([
      ['app.activity_2024_01', writer.inserted['2024-01-20']],
      ['app.activity_2024_02', 5000 + writer.inserted['2024-02-20']],
      ['app.activity_2024_03', 5000 + writer.inserted['2024-03-20']],
      ['app.activity_2024_04', writer.inserted['2024-04-20']],
      ['app.activity_default', 100 + writer.inserted['2030-07-01']],
    ]);
    expect(counts.reduce((sum, c) => sum + Number(c.rows), 0)).toBe(10_100 + writer.total());
    // the new partitions carry the parent's indexes, and the temporary CHECKs are gone
    const leftovers = await target.sql<{ what: string }>(/* SQL */ `
      SELECT conname::text AS what FROM pg_constraint WHERE conname = 'pgscope_partition_bounds'
      UNION ALL
      SELECT c.relname || ' lacks ' || pi.indexrelid::regclass::text
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      JOIN pg_index pi ON pi.indrelid = i.inhparent
      WHERE i.inhparent = 'app.activity'::regclass
        AND NOT EXISTS (
          SELECT FROM pg_inherits a JOIN pg_index ci ON ci.indexrelid = a.inhrelid
          WHERE a.inhparent = pi.indexrelid AND ci.indrelid = c.oid
        )`);
    expect(leftovers).toEqual([]);
  });
});

describe('detachPartitions', () => {
  async function detach(table: string, olderThan: string, drop: boolean) {
    return session(async (s) => {
      const p = await planDetach(s, caps, { schema: 'r', table, olderThan: at(olderThan), drop });
      return { plan: p, result: await executeDetachPlan(s, p) };
    });
  }

  it('detaches (CONCURRENTLY on PostgreSQL 14+) and drops partitions older than the cut-off when there is no DEFAULT partition', async () => {
    const { plan: p, result } = await detach('nodef', '2024-03-01T00:00:00Z', true);
    expect(p.concurrently).toBe(DETACH_CONCURRENTLY);
    expect(result.sql).toEqual([
      `ALTER TABLE "r"."nodef" DETACH PARTITION "r"."nodef_2024_01"${DETACH_CONCURRENTLY ? ' CONCURRENTLY' : ''}`,
      'DROP TABLE "r"."nodef_2024_01"',
      `ALTER TABLE "r"."nodef" DETACH PARTITION "r"."nodef_2024_02"${DETACH_CONCURRENTLY ? ' CONCURRENTLY' : ''}`,
      'DROP TABLE "r"."nodef_2024_02"',
    ]);
    expect((await bounds('r.nodef')).map((b) => b.name)).toEqual(['nodef_2024_03', 'nodef_2024_04']);
    const [gone] = await target.sql<{ jan: string | null }>("SELECT to_regclass('r.nodef_2024_01')::text AS jan");
    expect(gone!.jan).toBeNull();
  });

  it('detaches without CONCURRENTLY when a DEFAULT partition exists, and keeps the table unless asked to drop', async () => {
    const { plan: p, result } = await detach('withdef', '2024-02-01T00:00:00Z', false);
    expect(p.concurrently).toBe(false);
    expect(result).toEqual({
      detached: ['withdef_2024_01'],
      finalized: [],
      dropped: [],
      sql: ['ALTER TABLE "r"."withdef" DETACH PARTITION "r"."withdef_2024_01"'],
    });
    const [kept] = await target.sql<{ relispartition: boolean }>(
      "SELECT relispartition FROM pg_class WHERE oid = 'r.withdef_2024_01'::regclass",
    );
    expect(kept!.relispartition).toBe(false);
  });

  it.each([
    'live',
    'livedate',
  ])('%s: refuses (PARTITION_IN_USE) an olderThan that would take the current or a future partition, changing nothing', async (table) => {
    const names = (await bounds(`r.${table}`)).map((b) => b.name);
    expect(names).toHaveLength(4);
    const error = await detach(table, '2099-01-01T00:00:00Z', true).catch((e: unknown) => e);
    expect(isPgscopeError(error, 'PARTITION_IN_USE') && error.extensions.partitions).toEqual(names.slice(2).map((name) => `r.${name}`));
    expect((error as Error).message).toContain('whose range reaches now or later');
    expect((await bounds(`r.${table}`)).map((b) => b.name)).toEqual(names);
  });

  it('detaches up to the start of the current partition: the past ones only', async () => {
    const [start] = await target.sql<{ at: Date }>("SELECT date_trunc('month', now()) AS at");
    const names = (await bounds('r.live')).map((b) => b.name);
    const { result } = await detach('live', start!.at.toISOString(), true);
    expect(result.dropped).toEqual(names.slice(0, 2));
    expect((await bounds('r.live')).map((b) => b.name)).toEqual(names.slice(2));
  });

  it('finishes a partition left detach pending by an interrupted DETACH ... CONCURRENTLY', async () => {
    if (!DETACH_CONCURRENTLY) {
      const { plan: p } = await detach('pend', '2000-01-01T00:00:00Z', false);
      expect(p.partitions).toEqual([]);
      return;
    }
    await leaveDetachPending('r.pend', 'r.pend_2024_02');
    const { plan: p, result } = await detach('pend', '2000-01-01T00:00:00Z', false);
    expect(p.partitions.map((x) => [x.name, x.detachPending, x.expired])).toEqual([['pend_2024_02', true, false]]);
    expect(result).toEqual({
      detached: ['pend_2024_02'],
      finalized: ['pend_2024_02'],
      dropped: [],
      sql: ['ALTER TABLE "r"."pend" DETACH PARTITION "r"."pend_2024_02" FINALIZE'],
    });
    expect((await bounds('r.pend')).map((b) => b.name)).toEqual(['pend_2024_01', 'pend_2024_03', 'pend_2024_04']);
  });
});

/** A DETACH CONCURRENTLY waiting for a reader's transaction, cancelled: the partition stays detach pending. */
async function leaveDetachPending(parent: string, partition: string): Promise<void> {
  const detacher = new Database(target.url, { applicationName: 'pgscope-test-detach', pool: testConfig().pool });
  try {
    await db.withClient(async (reader) => {
      await reader.query('BEGIN');
      await reader.query(`SELECT count(*) FROM ${parent}`);
      const detaching = detacher.query(`ALTER TABLE ${parent} DETACH PARTITION ${partition} CONCURRENTLY`).catch((error: unknown) => error);
      await waitFor(`${partition} to be marked detach pending`, async () => {
        const [row] = await db.query<{ pending: boolean }>(
          'SELECT inhdetachpending AS pending FROM pg_inherits WHERE inhrelid = $1::regclass',
          [partition],
        );
        return row!.pending;
      });
      await db.query(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgscope-test-detach' AND state = 'active'",
      );
      expect(await detaching).toBeInstanceOf(Error);
      await reader.query('ROLLBACK');
    });
  } finally {
    await detacher.end();
  }
}
