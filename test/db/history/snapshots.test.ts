// Query-statistics history: snapshots, windows and series, against a real pg_stat_statements.
// The tests share one database and run in order: each capture builds on the previous ones.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { detectCapabilities, type Capabilities } from '../../../src/db/capabilities.js';
import { migrateOwnSchema } from '../../../src/db/migrate.js';
import { Database } from '../../../src/db/pool.js';
import { captureQueryStats, startCapture } from '../../../src/db/history/snapshots.js';
import { queryStatsWindow } from '../../../src/db/history/deltas.js';
import {
  createTestApp,
  createTestDatabase,
  errorCodes,
  TEST_ADMIN_TOKEN,
  testConfig,
  type TestApp,
  type TestDatabase,
} from '../../harness/database.js';
import { createRole, type TestRole } from '../../harness/roles.js';
import { waitFor } from '../../harness/waitFor.js';

const SLEEP = 'SELECT pg_sleep($1)';
const COUNT = 'SELECT count(*) FROM numbers WHERE n < $1';

let target: TestDatabase;
let bare: TestDatabase;
let db: Database;
let caps: Capabilities;
let api: TestApp;

beforeAll(async () => {
  [target, bare] = await Promise.all([createTestDatabase('query_history'), createTestDatabase('query_history_bare')]);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  expect(await migrateOwnSchema(db)).toMatchObject({ ok: true });
  caps = await detectCapabilities(db);
  await target.sql('CREATE TABLE numbers AS SELECT g AS n FROM generate_series(1, 1000) g; ANALYZE numbers');
  api = createTestApp(target.url, { ownSchemaReady: true });
});

afterAll(async () => {
  await Promise.all([db.end(), api.close()]);
  await Promise.all([target.drop(), bare.drop()]);
});

/** `times` calls of pg_sleep(50 ms): one statement shape, each call at least 50 ms. */
async function sleep(times: number): Promise<void> {
  await target.sql(Array.from({ length: times }, () => 'SELECT pg_sleep(0.05)').join('; '));
}

/** `times` calls of the counting statement (extended protocol, so its text keeps $1). */
async function count(times: number): Promise<void> {
  for (let i = 0; i < times; i += 1) await target.sql(COUNT, [i]);
}

interface Snapshot {
  id: string;
  capturedAt: string;
  statements: number;
  hiddenStatements: number;
  statsResetAt: string | null;
  resetSincePrevious: boolean | null;
  deallocationsSincePrevious: string | null;
  deletedSnapshots: number;
}

async function capture(): Promise<Snapshot> {
  const result = await api.gql<{ captureQueryStats: Snapshot }>(
    'mutation { captureQueryStats { id capturedAt statements hiddenStatements statsResetAt resetSincePrevious deallocationsSincePrevious deletedSnapshots } }',
    {},
    { token: TEST_ADMIN_TOKEN },
  );
  expect(result.errors).toBeUndefined();
  return result.data!.captureQueryStats;
}

interface Delta {
  query: string;
  queryId: string;
  calls: string;
  rows: string;
  totalTimeMs: number;
  meanTimeMs: number;
  restarted: boolean;
}

interface Window {
  from: string;
  to: string;
  fromSnapshotId: string;
  toSnapshotId: string | null;
  resetDetected: boolean;
  statsResetAt: string | null;
  restartedStatements: number;
  evictedStatements: number;
  deallocations: string | null;
  notes: string[];
  statements: Delta[];
}

const WINDOW = /* GraphQL */ `
  query Window($since: DateTime!, $until: DateTime, $minMeanTimeMs: Float, $minCalls: Int, $orderBy: QueryStatsDeltaOrder, $limit: Int) {
    queryStatsWindow(since: $since, until: $until, minMeanTimeMs: $minMeanTimeMs, minCalls: $minCalls, orderBy: $orderBy, limit: $limit) {
      from to fromSnapshotId toSnapshotId resetDetected statsResetAt restartedStatements evictedStatements deallocations notes
      statements { query queryId calls rows totalTimeMs meanTimeMs restarted }
    }
  }`;

async function window(variables: Record<string, unknown>, app: TestApp = api): Promise<Window> {
  const result = await app.gql<{ queryStatsWindow: Window }>(WINDOW, { minMeanTimeMs: 0, limit: 1000, ...variables });
  expect(result.errors).toBeUndefined();
  return result.data!.queryStatsWindow;
}

const byQuery = (w: Window, query: string) => w.statements.find((statement) => statement.query === query);

/** pg_stat_statements_info (reset time, evictions) came with extension 1.9, which PostgreSQL 14+ install. */
const HAS_INFO = inject('pgMajorVersion') >= 14;
const NO_INFO_NOTE =
  'This pg_stat_statements version has no pg_stat_statements_info (extension 1.9, PostgreSQL 14): a reset of everything is noticed only for statements whose calls went down.';
/** The notes every window has besides its own: the missing pg_stat_statements_info before 1.9. */
const INFO_NOTES = HAS_INFO ? [] : [NO_INFO_NOTE];

/** pg_stat_statements' own reset and eviction counters; nulls before extension 1.9. */
async function statementsInfo(): Promise<{ stats_reset: Date | null; dealloc: bigint | null }> {
  if (!HAS_INFO) return { stats_reset: null, dealloc: null };
  const [info] = await target.sql<{ stats_reset: Date; dealloc: bigint }>('SELECT stats_reset, dealloc FROM pg_stat_statements_info');
  return info!;
}

const thisDatabase = '(SELECT oid FROM pg_database WHERE datname = current_database())';

describe('query-statistics history', () => {
  let first: Snapshot;
  let second: Snapshot;

  it('answers NOT_FOUND with the way out while no snapshot exists', async () => {
    const result = await api.gql(WINDOW, { since: new Date(Date.now() - 60_000).toISOString() });
    expect(errorCodes(result)).toEqual(['NOT_FOUND']);
    expect(result.errors![0]!.message).toContain('captureQueryStats');
  });

  it('captures without resetting pg_stat_statements', async () => {
    await count(3);
    const before = await statementsInfo();
    first = await capture();
    const after = await statementsInfo();
    expect(after).toEqual(before);
    expect(first).toMatchObject({
      hiddenStatements: 0,
      statsResetAt: before.stats_reset?.toISOString() ?? null,
      resetSincePrevious: null,
      deallocationsSincePrevious: null,
      deletedSnapshots: 0,
    });
    const [live] = await target.sql<{ calls: bigint }>(
      `SELECT sum(calls)::int8 AS calls FROM pg_stat_statements WHERE dbid = ${thisDatabase} AND query = $1`,
      [COUNT],
    );
    // the counters keep running: the three calls are still there after the capture
    expect(live!.calls).toBe(3n);
    const [stored] = await target.sql<{ statements: bigint; without_text: bigint; counting_calls: bigint }>(
      `SELECT
        count(DISTINCT s.queryid) AS statements,
        count(*) FILTER (WHERE t.queryid IS NULL) AS without_text,
        sum(s.calls) FILTER (WHERE t.query = $2)::int8 AS counting_calls
      FROM pgscope.query_stats_sample s
      LEFT JOIN pgscope.query_stats_text t ON t.dbid = ${thisDatabase} AND t.queryid = s.queryid
      WHERE s.snapshot_id = $1`,
      [first.id, COUNT],
    );
    expect(stored).toEqual({ statements: BigInt(first.statements), without_text: 0n, counting_calls: 3n });
  });

  it('gives the exact calls between two snapshots, and up to now', async () => {
    await sleep(3);
    await count(5);
    second = await capture();
    expect(second).toMatchObject(
      HAS_INFO
        ? { resetSincePrevious: false, deallocationsSincePrevious: '0' }
        : { resetSincePrevious: null, deallocationsSincePrevious: null },
    );
    await count(2);

    const info = await statementsInfo();
    const between = await window({ since: first.capturedAt, until: second.capturedAt });
    expect(between).toMatchObject({
      from: first.capturedAt,
      to: second.capturedAt,
      fromSnapshotId: first.id,
      toSnapshotId: second.id,
      resetDetected: false,
      statsResetAt: null,
      restartedStatements: 0,
      deallocations: HAS_INFO ? '0' : null,
      notes: INFO_NOTES,
    });
    expect(byQuery(between, SLEEP)).toMatchObject({ calls: '3', rows: '3', restarted: false });
    expect(byQuery(between, COUNT)).toMatchObject({ calls: '5', rows: '5', restarted: false });
    const sleepDelta = byQuery(between, SLEEP)!;
    expect(sleepDelta.meanTimeMs).toBeCloseTo(sleepDelta.totalTimeMs / 3, 6);

    const upToNow = await window({ since: first.capturedAt });
    expect(upToNow.toSnapshotId).toBeNull();
    expect(Date.parse(upToNow.to)).toBeGreaterThan(Date.parse(second.capturedAt));
    expect(byQuery(upToNow, SLEEP)?.calls).toBe('3');
    expect(byQuery(upToNow, COUNT)?.calls).toBe('7');

    const sinceSecond = await window({ since: second.capturedAt });
    expect(byQuery(sinceSecond, COUNT)?.calls).toBe('2');
    expect(byQuery(sinceSecond, SLEEP)).toBeUndefined();
    // reading the history leaves pg_stat_statements alone too
    expect(await statementsInfo()).toEqual(info);
  });

  it('filters, orders and limits inside the window', async () => {
    // pg_sleep(0.05) takes at least 50 ms; counting 1000 cached rows takes far less than 40 ms
    const slow = await window({ since: first.capturedAt, until: second.capturedAt, minMeanTimeMs: 40 });
    expect(slow.statements.map((statement) => statement.query)).toContain(SLEEP);
    expect(slow.statements.map((statement) => statement.query)).not.toContain(COUNT);
    expect(slow.statements.every((statement) => statement.meanTimeMs >= 40)).toBe(true);
    const frequent = await window({ since: first.capturedAt, until: second.capturedAt, minCalls: 5 });
    expect(frequent.statements.map((statement) => [statement.query, statement.calls])).toEqual([[COUNT, '5']]);
    const byCalls = await window({ since: first.capturedAt, orderBy: 'CALLS', limit: 1 });
    expect(byCalls.statements.map((statement) => [statement.query, statement.calls])).toEqual([[COUNT, '7']]);
  });

  it('starts at the oldest snapshot when none is as old as since, and says so', async () => {
    const since = new Date(Date.parse(first.capturedAt) - 3_600_000).toISOString();
    const result = await window({ since, until: second.capturedAt });
    expect(result.from).toBe(first.capturedAt);
    expect(result.notes).toEqual([
      `No snapshot is as old as ${since}: the window starts at the oldest one, ${first.capturedAt}.`,
      ...INFO_NOTES,
    ]);
  });

  it("returns one statement's series between snapshots", async () => {
    const countId = byQuery(await window({ since: first.capturedAt }), COUNT)!.queryId;
    const result = await api.gql<{ queryStatsHistory: { queryId: string; query: string; intervals: unknown[] } }>(
      `query ($id: ID!, $since: DateTime) {
        queryStatsHistory(queryId: $id, since: $since) { queryId query intervals { from to tracked restarted calls rows meanTimeMs } }
      }`,
      { id: countId, since: first.capturedAt },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.queryStatsHistory).toEqual({
      queryId: countId,
      query: COUNT,
      intervals: [
        {
          from: first.capturedAt,
          to: second.capturedAt,
          tracked: true,
          restarted: false,
          calls: '5',
          rows: '5',
          meanTimeMs: expect.any(Number),
        },
      ],
    });
  });

  it('detects statements reset between snapshots and counts them from their restart', async () => {
    await target.sql('SELECT $1::text AS marker', ['gone after the reset']);
    const base = await capture();
    // Reset this database's entries only: a reset of everything would hit the other test files.
    await target.sql(`SELECT pg_stat_statements_reset(0, ${thisDatabase}, 0)`);
    await count(2); // 7 calls at the base, 2 now: the calls went down
    await sleep(4); // 3 calls at the base, 4 now: only stats_since (PostgreSQL 17+) shows the restart

    const result = await window({ since: base.capturedAt });
    expect(byQuery(result, COUNT)).toMatchObject({ calls: '2', restarted: true });
    const statsSince = caps.pgStatStatementsColumns.has('stats_since');
    expect(byQuery(result, SLEEP)).toMatchObject(statsSince ? { calls: '4', restarted: true } : { calls: '1', restarted: false });
    expect(result).toMatchObject({ resetDetected: true, statsResetAt: null, restartedStatements: statsSince ? 2 : 1 });
    // the marker (and pgscope's own earlier statements) did not run again after the reset
    expect(result.evictedStatements).toBeGreaterThanOrEqual(1);
    const gone = result.evictedStatements;
    expect(result.notes).toEqual([
      `${statsSince ? '2 statements' : '1 statement'} restarted counting inside the window (reset one by one, or evicted and seen again): they count from their restart (restarted: true).`,
      `${gone} statement${gone === 1 ? ' present at the start is' : 's present at the start are'} gone at the end (evicted, or reset): their calls inside the window are not counted.`,
      ...INFO_NOTES,
    ]);
  });

  it('reports a reset of everything and evictions from pg_stat_statements_info, or says it cannot see them', async () => {
    const base = await capture();
    if (!HAS_INFO) {
      expect(base).toMatchObject({ statsResetAt: null, resetSincePrevious: null, deallocationsSincePrevious: null });
      expect(await window({ since: base.capturedAt })).toMatchObject({
        resetDetected: false,
        statsResetAt: null,
        deallocations: null,
        notes: [NO_INFO_NOTE],
      });
      return;
    }
    const info = await statementsInfo();
    // A real reset of everything (or thousands of statements to force evictions) would disturb the
    // other test files on this server: move the snapshot's copy of the counters back instead.
    await target.sql("UPDATE pgscope.query_stats_snapshot SET stats_reset = stats_reset - interval '1 hour' WHERE id = $1", [base.id]);
    const reset = await window({ since: base.capturedAt });
    const [live] = await target.sql<{ calls: bigint }>(
      `SELECT sum(calls) AS calls FROM pg_stat_statements WHERE dbid = ${thisDatabase} AND query = $1`,
      [COUNT],
    );
    expect(reset).toMatchObject({ resetDetected: true, statsResetAt: info.stats_reset!.toISOString() });
    expect(byQuery(reset, COUNT)).toMatchObject({ calls: String(live!.calls), restarted: true });
    expect(reset.notes[0]).toBe(
      `pg_stat_statements was reset as a whole at ${info.stats_reset!.toISOString()} (pg_stat_statements_reset() or a server crash): every statement counts from then only.`,
    );

    const evicting = await capture();
    await target.sql('UPDATE pgscope.query_stats_snapshot SET deallocations = deallocations - 2 WHERE id = $1', [evicting.id]);
    const evicted = await window({ since: evicting.capturedAt });
    expect(evicted).toMatchObject({ resetDetected: false, deallocations: '2' });
    expect(evicted.notes).toContain(
      'pg_stat_statements evicted its least-used entries 2 times inside the window (server-wide): more distinct statements ran than pg_stat_statements.max holds. Raise pg_stat_statements.max to keep more.',
    );
  });
});

describe('an older pg_stat_statements (extension 1.8, as on PostgreSQL 13)', () => {
  let legacy: TestDatabase;
  let legacyDb: Database;
  let legacyCaps: Capabilities;
  // Extension 1.8's columns: no toplevel, stats_since or pg_stat_statements_info; blk_read_time.
  const columns = ['userid', 'dbid', 'queryid', 'query', 'plans', 'total_plan_time', 'calls', 'total_exec_time', 'rows'];
  const blocks = ['shared_blks_hit', 'shared_blks_read', 'temp_blks_read', 'temp_blks_written'];

  beforeAll(async () => {
    legacy = await createTestDatabase('query_history_legacy');
    legacyDb = new Database(legacy.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
    expect(await migrateOwnSchema(legacyDb)).toMatchObject({ ok: true });
    const real = await detectCapabilities(legacyDb);
    const readTime = real.pgStatStatementsColumns.has('shared_blk_read_time') ? 'shared_blk_read_time' : 'blk_read_time';
    await legacy.sql(`
      CREATE TABLE numbers AS SELECT g AS n FROM generate_series(1, 1000) g;
      ANALYZE numbers;
      CREATE SCHEMA pgss_1_8;
      CREATE VIEW pgss_1_8.pg_stat_statements AS
        SELECT ${[...columns, ...blocks].join(', ')}, ${readTime} AS blk_read_time
        FROM public.pg_stat_statements`);
    legacyCaps = {
      ...real,
      pgStatStatements: { ...real.pgStatStatements, schema: 'pgss_1_8', version: '1.8' },
      pgStatStatementsColumns: new Set([...columns, ...blocks, 'blk_read_time']),
    };
  });

  afterAll(async () => {
    await legacyDb.end();
    await legacy.drop();
  });

  it('captures and compares without toplevel, stats_since and pg_stat_statements_info', async () => {
    const base = await captureQueryStats(legacyDb, legacyCaps, 7);
    expect(base).toMatchObject({ stats_reset: null, reset_since_previous: null, deallocations_since_previous: null });
    for (let i = 0; i < 4; i += 1) await legacy.sql(COUNT, [i]);
    const request = { since: base.captured_at, minMeanTimeMs: 0, minCalls: 1, orderBy: 'CALLS' as const, limit: 1000 };
    const live = await queryStatsWindow(legacyDb, legacyCaps, { ...request, until: null });
    expect(live).toMatchObject({ stats_reset: null, deallocations: null, everything_reset: false, reset_detected: false });
    expect(live.statements.find((statement) => statement.query === COUNT)).toMatchObject({
      calls: 4n,
      rows: 4n,
      toplevel: null,
      restarted: false,
    });

    const end = await captureQueryStats(legacyDb, legacyCaps, 7);
    const between = await queryStatsWindow(legacyDb, legacyCaps, { ...request, until: end.captured_at });
    expect(between.to_snapshot_id).toBe(end.id);
    expect(between.statements.find((statement) => statement.query === COUNT)).toMatchObject({ calls: 4n, toplevel: null });
  });
});

describe('who may capture and read', () => {
  let monitor: TestRole;
  let monitorApi: TestApp;

  beforeAll(async () => {
    monitor = await createRole('history_monitor', ['pg_monitor']);
    monitorApi = createTestApp(monitor.url(target.name));
  });

  afterAll(async () => {
    await monitorApi.close();
    await monitor.drop();
  });

  it('needs the admin token to capture', async () => {
    const result = await api.gql('mutation { captureQueryStats { id } }');
    expect(errorCodes(result)).toEqual(['UNAUTHENTICATED']);
  });

  it("is FORBIDDEN, with the grant to run, when pgscope's schema is not ready", async () => {
    const notReady = createTestApp(bare.url);
    try {
      const captured = await notReady.gql('mutation { captureQueryStats { id } }', {}, { token: TEST_ADMIN_TOKEN });
      expect(errorCodes(captured)).toEqual(['FORBIDDEN']);
      expect(captured.errors![0]!.message).toContain(`GRANT CREATE ON DATABASE "${bare.name}"`);
      const read = await notReady.gql(WINDOW, { since: new Date(Date.now() - 60_000).toISOString() });
      expect(errorCodes(read)).toEqual(['FORBIDDEN']);
      expect(JSON.stringify(read)).not.toMatch(/relation|SELECT/);
    } finally {
      await notReady.close();
    }
  });

  it('lets a pg_monitor role read the history, but not write it', async () => {
    const base = await capture();
    await count(1);
    const read = await window({ since: base.capturedAt }, monitorApi);
    expect(byQuery(read, COUNT)?.calls).toBe('1');
    expect(read.notes).toEqual(INFO_NOTES);
    const series = await monitorApi.gql<{ queryStatsHistory: { query: string } }>(
      'query ($id: ID!) { queryStatsHistory(queryId: $id) { query } }',
      { id: byQuery(read, COUNT)!.queryId },
    );
    expect(series.data?.queryStatsHistory.query).toBe(COUNT);
    // A pg_monitor role cannot create pgscope's schema, so its pgscope starts with ownSchemaReady false.
    const captured = await monitorApi.gql('mutation { captureQueryStats { id } }', {}, { token: TEST_ADMIN_TOKEN });
    expect(errorCodes(captured)).toEqual(['FORBIDDEN']);
  });

  it("names the owner when the schema is ready but the role may not write pgscope's tables", async () => {
    const readyButMonitor = createTestApp(monitor.url(target.name), { ownSchemaReady: true });
    try {
      const captured = await readyButMonitor.gql('mutation { captureQueryStats { id } }', {}, { token: TEST_ADMIN_TOKEN });
      expect(errorCodes(captured)).toEqual(['INSUFFICIENT_PRIVILEGE']);
      expect(captured.errors![0]!.message).toBe(
        `Role "${monitor.name}" may not write pgscope's history tables (pgscope.query_stats_*). Capture as the role that owns schema pgscope (the one that ran pgscope's migrations).`,
      );
    } finally {
      await readyButMonitor.close();
    }
  });
});

describe('arguments', () => {
  it.each([
    [`{ queryStatsWindow(since: "2999-01-01T00:00:00Z") { from } }`, 'since must be in the past, got 2999-01-01T00:00:00.000Z.'],
    [
      `{ queryStatsWindow(since: "2020-01-02T00:00:00Z", until: "2020-01-01T00:00:00Z") { from } }`,
      'until must be after since (2020-01-02T00:00:00.000Z), got 2020-01-01T00:00:00.000Z.',
    ],
    [
      `{ queryStatsWindow(since: "2020-01-01T00:00:00Z", minCalls: 0) { from } }`,
      'minCalls must be a whole number from 1 to 9007199254740991, got 0.',
    ],
    [
      `{ queryStatsHistory(queryId: "12ab") { query } }`,
      'queryId must be a pg_stat_statements queryid (a 64-bit integer such as -1234567890123456789), got "12ab".',
    ],
    [
      `{ queryStatsHistory(queryId: "9223372036854775808") { query } }`,
      'queryId must be a pg_stat_statements queryid (a 64-bit integer such as -1234567890123456789), got "9223372036854775808".',
    ],
  ])('%s is BAD_USER_INPUT', async (query, message) => {
    const result = await api.gql(query);
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.message).toBe(message);
  });

  it('answers NOT_FOUND for a statement no snapshot holds, and for a window with no later snapshot', async () => {
    const unknown = await api.gql('{ queryStatsHistory(queryId: "42") { query } }');
    expect(errorCodes(unknown)).toEqual(['NOT_FOUND']);
    const [oldest] = await target.sql<{ captured_at: Date }>('SELECT min(captured_at) AS captured_at FROM pgscope.query_stats_snapshot');
    const since = new Date(oldest!.captured_at.getTime() - 1000).toISOString();
    const empty = await api.gql(WINDOW, { since, until: oldest!.captured_at.toISOString() });
    expect(errorCodes(empty)).toEqual(['NOT_FOUND']);
  });
});

describe('capture on a timer', () => {
  const snapshots = async () => Number((await target.sql<{ n: bigint }>('SELECT count(*) AS n FROM pgscope.query_stats_snapshot'))[0]!.n);

  /** Ages every snapshot: a scheduled capture skips when the latest is less than half an interval old. */
  const ageSnapshots = () => target.sql("UPDATE pgscope.query_stats_snapshot SET captured_at = captured_at - interval '2 hours'");

  it('captures at once, then once after every interval, and stop waits for the capture in flight', async () => {
    await ageSnapshots();
    const before = await snapshots();
    const warn = vi.fn();
    // each capture starts by asking for the capabilities: when it does, the capture has begun
    const starts: number[] = [];
    const detection = async () => {
      starts.push(performance.now());
      return caps;
    };
    // an hour's interval: the capture at start, and none other before stop
    await startCapture(db, detection, { captureIntervalSeconds: 3600, historyRetentionDays: 7 }, warn).stop();
    expect(starts).toHaveLength(1);
    expect(await snapshots()).toBe(before + 1);

    // the shortest interval, one second: captures go on, one after each interval
    await ageSnapshots();
    starts.length = 0;
    const schedule = startCapture(db, detection, { captureIntervalSeconds: 1, historyRetentionDays: 7 }, warn);
    try {
      await waitFor('three captures one interval apart', () => starts.length >= 3);
    } finally {
      await schedule.stop();
    }
    // every capture that began stored its snapshot: stop waited for the one in flight
    expect(await snapshots()).toBe(before + 1 + starts.length);
    // the next capture is set for one interval after the previous one ended; Node's timers run on a
    // millisecond clock that may be a millisecond or two behind performance.now()
    for (let i = 1; i < starts.length; i += 1) expect(starts[i]! - starts[i - 1]!).toBeGreaterThan(1000 - 10);
    expect(warn).not.toHaveBeenCalled();
  });

  it('skips a capture at start when the latest snapshot is less than half an interval old (a restart, a replica)', async () => {
    await ageSnapshots();
    await captureQueryStats(db, caps, 7);
    const before = await snapshots();
    await startCapture(db, async () => caps, { captureIntervalSeconds: 3600, historyRetentionDays: 7 }, vi.fn()).stop();
    expect(await snapshots()).toBe(before);
  });

  it('takes one snapshot per interval between two replicas capturing on their own timers', async () => {
    await ageSnapshots();
    const other = new Database(target.url, { applicationName: 'pgscope-test-replica', pool: testConfig().pool });
    const since = new Date();
    const schedules = [db, other].map((each) =>
      startCapture(each, async () => caps, { captureIntervalSeconds: 1, historyRetentionDays: 7 }, vi.fn()),
    );
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    await Promise.all(schedules.map((schedule) => schedule.stop()));
    await other.end();
    const taken = await target.sql<{ captured_at: Date }>(
      'SELECT captured_at FROM pgscope.query_stats_snapshot WHERE captured_at >= $1 ORDER BY captured_at',
      [since],
    );
    // each replica alone would take 4 (at 0, 1, 2 and 3 s): together they take about as many, not 8
    expect(taken.length).toBeGreaterThanOrEqual(3);
    expect(taken.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < taken.length; i += 1)
      expect(taken[i]!.captured_at.getTime() - taken[i - 1]!.captured_at.getTime()).toBeGreaterThanOrEqual(500);
  });

  it('does nothing with an interval of 0', async () => {
    const before = await snapshots();
    await startCapture(db, async () => caps, { captureIntervalSeconds: 0, historyRetentionDays: 7 }, vi.fn()).stop();
    expect(await snapshots()).toBe(before);
  });

  it('warns instead of failing when a capture fails', async () => {
    const warn = vi.fn();
    const detection = async (): Promise<Capabilities> => ({ ...caps, pgStatStatementsReadable: false });
    await startCapture(db, detection, { captureIntervalSeconds: 3600, historyRetentionDays: 7 }, warn).stop();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(
      /^pgscope: query-statistics capture failed, retrying every 3600 s: pg_stat_statements is installed/,
    );
  });
});

describe('retention', () => {
  it('deletes snapshots (with their samples) and texts older than the retention at each capture', async () => {
    const [old] = await target.sql<{ id: string }>(
      `INSERT INTO pgscope.query_stats_snapshot (captured_at, dbid, database_name, statements, hidden_statements)
       VALUES (now() - interval '8 days', ${thisDatabase}, current_database(), 1, 0), (now() - interval '6 days', ${thisDatabase}, current_database(), 0, 0)
       RETURNING id::text`,
    );
    await target.sql(
      `INSERT INTO pgscope.query_stats_sample (snapshot_id, queryid, userid, calls, total_time_ms, rows, shared_blocks_hit, shared_blocks_read, temp_blocks_read, temp_blocks_written)
       VALUES ($1, 42, 10, 1, 1, 1, 0, 0, 0, 0)`,
      [old!.id],
    );
    await target.sql(`INSERT INTO pgscope.query_stats_text VALUES (${thisDatabase}, 42, 'SELECT 42', now() - interval '9 days')`);

    const snapshot = await capture();
    expect(snapshot.deletedSnapshots).toBe(1);
    const [left] = await target.sql<{ eight: bigint; six: bigint; samples: bigint; texts: bigint }>(
      `SELECT
        (SELECT count(*) FROM pgscope.query_stats_snapshot WHERE captured_at < now() - interval '7 days') AS eight,
        (SELECT count(*) FROM pgscope.query_stats_snapshot WHERE captured_at < now() - interval '5 days') AS six,
        (SELECT count(*) FROM pgscope.query_stats_sample WHERE queryid = 42) AS samples,
        (SELECT count(*) FROM pgscope.query_stats_text WHERE queryid = 42) AS texts`,
    );
    expect(left).toEqual({ eight: 0n, six: 1n, samples: 0n, texts: 0n });

    // a shorter retention, as PGSCOPE_HISTORY_RETENTION_DAYS=5 would set
    expect((await captureQueryStats(db, caps, 5)).deleted_snapshots).toBe(1);
  });

  it('is configured by PGSCOPE_HISTORY_RETENTION_DAYS, 7 days by default', () => {
    expect(loadConfig({}).historyRetentionDays).toBe(7);
    expect(loadConfig({ PGSCOPE_HISTORY_RETENTION_DAYS: '30' }).historyRetentionDays).toBe(30);
    expect(() => loadConfig({ PGSCOPE_HISTORY_RETENTION_DAYS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ PGSCOPE_HISTORY_RETENTION_DAYS: '0' })).toThrow('PGSCOPE_HISTORY_RETENTION_DAYS must be at least 1, got 0');
  });
});
