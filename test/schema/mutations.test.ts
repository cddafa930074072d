// Mutations end to end: who may run them, the change log they write, the DDL session they run on,
// wait: false in the background. The tests share one database and run in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markInterruptedChanges } from '../../src/actions/changeLog.js';
import { backgroundJobs } from '../../src/actions/jobs.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database } from '../../src/db/pool.js';
import {
  createTestApp,
  createTestDatabase,
  errorCodes,
  TEST_ADMIN_TOKEN,
  testConfig,
  type TestApp,
  type TestDatabase,
} from '../harness/database.js';
import { createRole, type TestRole } from '../harness/roles.js';
import { waitFor } from '../harness/waitFor.js';

const READ_TOKEN = 'test-read-token-0123456789';
const ANALYZE =
  'mutation($dryRun: Boolean!, $wait: Boolean) { analyzeTable(table: "measurements", dryRun: $dryRun, wait: $wait) { change { ...entry } } }';
const RESET = 'mutation($dryRun: Boolean!) { resetQueryStats(dryRun: $dryRun) { change { ...entry } } }';
const ENTRY_FIELDS = /* GraphQL */ `
  fragment entry on ChangeLogEntry {
    id action targetSchema targetName statements dryRun status errorCode errorMessage tokenName input outcome durationMs sessionPid finishedAt
  }`;
const ENTRY = `query($id: ID!) { changeLogEntry(id: $id) { ...entry } } ${ENTRY_FIELDS}`;
const ANALYZE_SQL = 'ANALYZE "public"."measurements"';

interface Entry {
  id: string;
  action: string;
  targetSchema: string | null;
  targetName: string | null;
  statements: string[];
  dryRun: boolean;
  status: string;
  errorCode: string | null;
  errorMessage: string | null;
  tokenName: string;
  input: Record<string, unknown>;
  outcome: unknown;
  durationMs: number | null;
  sessionPid: number | null;
  finishedAt: string | null;
}

let target: TestDatabase;
let owner: Database;
let api: TestApp;

beforeAll(async () => {
  target = await createTestDatabase('mutations');
  owner = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  expect(await migrateOwnSchema(owner)).toMatchObject({ ok: true });
  // partitioned and never analyzed: the parent has no statistics until someone runs ANALYZE on it
  await target.sql(`
    CREATE TABLE measurements (id int, taken date) PARTITION BY RANGE (taken);
    CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
    INSERT INTO measurements SELECT g, date '2026-01-01' + g % 300 FROM generate_series(1, 1000) g;
    SELECT 4242 AS marker_statement`);
  api = createTestApp(target.url, { ownSchemaReady: true });
});

afterAll(async () => {
  await Promise.all([api.close(), owner.end()]);
  await target.drop();
});

async function analyze(app: TestApp, variables: { dryRun: boolean; wait?: boolean }, token?: string) {
  return app.gql<{ analyzeTable: { change: Entry } }>(`${ANALYZE} ${ENTRY_FIELDS}`, variables, { token });
}

async function reset(app: TestApp, dryRun: boolean, token?: string) {
  return app.gql<{ resetQueryStats: { change: Entry } }>(`${RESET} ${ENTRY_FIELDS}`, { dryRun }, { token });
}

/** Statistics rows of the parent itself (stainherit): none until it is analyzed. */
async function parentStatistics(): Promise<number> {
  const [row] = await target.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_statistic WHERE starelid = 'measurements'::regclass");
  return row!.n;
}

/** What pg_stat_statements shows of this database: ANALYZE statements run, and whether the marker survived. */
async function statementTrace(): Promise<{ analyzes: number; marker: boolean }> {
  const [row] = await target.sql<{ analyzes: number; marker: boolean }>(`
    SELECT
      count(*) FILTER (WHERE query ILIKE 'ANALYZE%')::int AS analyzes,
      bool_or(query LIKE '%marker_statement%') IS TRUE AS marker
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  return row!;
}

async function changeCount(): Promise<number> {
  const [row] = await target.sql<{ n: number }>('SELECT count(*)::int AS n FROM pgscope.change_log');
  return row!.n;
}

async function entry(id: string): Promise<Entry> {
  const result = await api.gql<{ changeLogEntry: Entry }>(ENTRY, { id });
  expect(result.errors).toBeUndefined();
  return result.data!.changeLogEntry;
}

describe('authorization', () => {
  let disabled: TestApp;
  let withReadToken: TestApp;
  beforeAll(() => {
    disabled = createTestApp(target.url, { env: { PGSCOPE_ADMIN_TOKEN: '' }, ownSchemaReady: true });
    withReadToken = createTestApp(target.url, { env: { PGSCOPE_READ_TOKEN: READ_TOKEN }, ownSchemaReady: true });
  });
  afterAll(async () => {
    await Promise.all([disabled.close(), withReadToken.close()]);
  });

  const cases = () =>
    [
      ['no admin token configured', disabled, TEST_ADMIN_TOKEN, 'FORBIDDEN', 'Set PGSCOPE_ADMIN_TOKEN'],
      ['no token', api, undefined, 'UNAUTHENTICATED', 'This needs the admin token'],
      ['a wrong token', api, 'wrong-token-0123456789', 'UNAUTHENTICATED', 'The token is not the admin token'],
      ['the read token', withReadToken, READ_TOKEN, 'UNAUTHENTICATED', 'The read token only reads; this needs the admin token'],
    ] as const;

  it.each([0, 1, 2, 3])('refuses both mutations, executing nothing (case %i)', async (index) => {
    const [, app, token, code, message] = cases()[index]!;
    for (const result of [await analyze(app, { dryRun: false }, token), await reset(app, false, token)]) {
      expect(errorCodes(result)).toEqual([code]);
      expect(result.errors![0]!.message).toContain(message);
      expect(result.data).toBeNull();
    }
  });

  it('left no trace: no ANALYZE ran, no statistics were reset, nothing was recorded', async () => {
    expect(await statementTrace()).toEqual({ analyzes: 0, marker: true });
    expect(await parentStatistics()).toBe(0);
    expect(await changeCount()).toBe(0);
  });

  it("refuses when pgscope's schema is missing: a change that cannot be recorded is not made", async () => {
    const notReady = createTestApp(target.url, { ownSchemaReady: false });
    try {
      const result = await analyze(notReady, { dryRun: false }, TEST_ADMIN_TOKEN);
      expect(errorCodes(result)).toEqual(['FORBIDDEN']);
      expect(result.errors![0]!.extensions).toMatchObject({ reason: 'CHANGE_LOG_UNAVAILABLE' });
      expect(await statementTrace()).toEqual({ analyzes: 0, marker: true });
    } finally {
      await notReady.close();
    }
  });
});

describe('analyzeTable', () => {
  it('records a dry run as PLANNED with its SQL, and runs nothing', async () => {
    const result = await analyze(api, { dryRun: true }, TEST_ADMIN_TOKEN);
    expect(result.errors).toBeUndefined();
    expect(result.data!.analyzeTable.change).toMatchObject({
      action: 'analyzeTable',
      targetSchema: 'public',
      targetName: 'measurements',
      statements: [ANALYZE_SQL],
      dryRun: true,
      status: 'PLANNED',
      tokenName: 'admin',
      input: { schema: null, table: 'measurements', dryRun: true, wait: true },
      durationMs: null,
      sessionPid: null,
      finishedAt: null,
    });
    expect(await parentStatistics()).toBe(0);
    expect((await statementTrace()).analyzes).toBe(0);
  });

  it('runs ANALYZE on the DDL session and records SUCCEEDED with the SQL and duration', async () => {
    const result = await analyze(api, { dryRun: false }, TEST_ADMIN_TOKEN);
    expect(result.errors).toBeUndefined();
    const change = result.data!.analyzeTable.change;
    expect(change).toMatchObject({
      status: 'SUCCEEDED',
      statements: [ANALYZE_SQL],
      outcome: { schema: 'public', table: 'measurements', kind: 'partitioned table' },
      errorCode: null,
    });
    expect(change.durationMs).toBeGreaterThan(0);
    expect(change.sessionPid).toEqual(expect.any(Number));
    // the parent's own statistics: one row per column
    expect(await parentStatistics()).toBe(2);
  });

  it('records a name the catalog does not know as FAILED (NOT_FOUND), nothing run', async () => {
    const result = await api.gql<{ analyzeTable: { change: Entry } }>(
      'mutation { analyzeTable(table: "users; DROP TABLE users", dryRun: false) { change { id } } }',
      {},
      { token: TEST_ADMIN_TOKEN },
    );
    expect(errorCodes(result)).toEqual(['NOT_FOUND']);
    const id = result.errors![0]!.extensions!.changeId as string;
    expect(await entry(id)).toMatchObject({ status: 'FAILED', errorCode: 'NOT_FOUND', statements: [], sessionPid: null });
  });
});

describe('the DDL session and wait: false', () => {
  let locker: Database;
  let slowLocks: TestApp;
  beforeAll(() => {
    locker = new Database(target.url, { applicationName: 'pgscope-test-locker', pool: testConfig().pool });
    slowLocks = createTestApp(target.url, { env: { PGSCOPE_DDL_LOCK_TIMEOUT_MS: '60000' }, ownSchemaReady: true });
  });
  afterAll(async () => {
    await Promise.all([locker.end(), slowLocks.close()]);
  });

  /** Holds a lock ANALYZE conflicts with until the returned release() is called. */
  async function holdLock(): Promise<() => Promise<void>> {
    let release!: () => void;
    let locked!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held = new Promise<void>((resolve) => (locked = resolve));
    const done = locker.withClient(async (client) => {
      await client.query('BEGIN');
      await client.query('LOCK TABLE measurements IN SHARE UPDATE EXCLUSIVE MODE');
      locked();
      await gate;
      await client.query('COMMIT');
    });
    await held;
    return async () => {
      release();
      await done;
    };
  }

  /** The session `pid` once it waits for a lock (pg_stat_activity). */
  const waitingForLock = (pid: number) =>
    waitFor(`backend ${pid} to wait for a lock`, async () => {
      const [row] = await target.sql<{ application_name: string; wait_event_type: string | null }>(
        'SELECT application_name, wait_event_type FROM pg_stat_activity WHERE pid = $1',
        [pid],
      );
      return row?.wait_event_type === 'Lock' ? row : undefined;
    });

  it('fails with LOCK_TIMEOUT past PGSCOPE_DDL_LOCK_TIMEOUT_MS, recorded as FAILED', async () => {
    const shortLocks = createTestApp(target.url, { env: { PGSCOPE_DDL_LOCK_TIMEOUT_MS: '200' }, ownSchemaReady: true });
    const release = await holdLock();
    try {
      const result = await analyze(shortLocks, { dryRun: false }, TEST_ADMIN_TOKEN);
      expect(errorCodes(result)).toEqual(['LOCK_TIMEOUT']);
      expect(result.errors![0]!.message).toContain('PGSCOPE_DDL_LOCK_TIMEOUT_MS');
      const id = result.errors![0]!.extensions!.changeId as string;
      expect(await entry(id)).toMatchObject({ status: 'FAILED', errorCode: 'LOCK_TIMEOUT', statements: [ANALYZE_SQL] });
    } finally {
      await release();
      await shortLocks.close();
    }
  });

  it('returns RUNNING at once and finishes in the background; the entry becomes SUCCEEDED', async () => {
    const release = await holdLock();
    let change: Entry;
    try {
      const result = await analyze(slowLocks, { dryRun: false, wait: false }, TEST_ADMIN_TOKEN);
      expect(result.errors).toBeUndefined();
      change = result.data!.analyzeTable.change;
      expect(change).toMatchObject({ status: 'RUNNING', durationMs: null, finishedAt: null });
      // the response is out; the DDL session (its own connection, named) still waits for the lock
      expect(await waitingForLock(change.sessionPid!)).toMatchObject({ application_name: 'pgscope-ddl' });
      expect(await entry(change.id)).toMatchObject({ status: 'RUNNING', statements: [ANALYZE_SQL] });
    } finally {
      await release();
    }
    await backgroundJobs.settled(change.id);
    expect(await entry(change.id)).toMatchObject({
      status: 'SUCCEEDED',
      statements: [ANALYZE_SQL],
      outcome: { kind: 'partitioned table' },
    });
  });

  it('marks a background change INTERRUPTED when pgscope stops before it finished', async () => {
    const release = await holdLock();
    try {
      const result = await analyze(slowLocks, { dryRun: false, wait: false }, TEST_ADMIN_TOKEN);
      const { id, sessionPid } = result.data!.analyzeTable.change;
      await waitingForLock(sessionPid!);
      await backgroundJobs.stop(0);
      expect(await entry(id)).toMatchObject({ status: 'INTERRUPTED', errorCode: 'QUERY_TIMEOUT', statements: [ANALYZE_SQL] });
      expect(backgroundJobs.ids()).toEqual([]);
    } finally {
      await release();
    }
  });
});

describe('resetQueryStats', () => {
  let monitor: TestRole;
  let monitorApi: TestApp;
  beforeAll(async () => {
    monitor = await createRole('mutations_monitor', ['pg_monitor']);
    await target.sql(
      `GRANT USAGE ON SCHEMA pgscope TO "${monitor.name}"; GRANT SELECT, INSERT, UPDATE ON pgscope.change_log TO "${monitor.name}"`,
    );
    monitorApi = createTestApp(monitor.url(target.name), { ownSchemaReady: true });
  });
  afterAll(async () => {
    await monitorApi.close();
    await target.sql(`DROP OWNED BY "${monitor.name}"`);
    await monitor.drop();
  });

  it('is INSUFFICIENT_PRIVILEGE for a role that may not reset, and resets nothing', async () => {
    for (const dryRun of [true, false]) {
      const result = await reset(monitorApi, dryRun, TEST_ADMIN_TOKEN);
      expect(errorCodes(result)).toEqual(['INSUFFICIENT_PRIVILEGE']);
      expect(result.errors![0]!.message).toContain(`GRANT EXECUTE ON FUNCTION "public".pg_stat_statements_reset TO "${monitor.name}";`);
      expect(await entry(result.errors![0]!.extensions!.changeId as string)).toMatchObject({
        status: 'FAILED',
        errorCode: 'INSUFFICIENT_PRIVILEGE',
      });
    }
    expect((await statementTrace()).marker).toBe(true);
  });

  it('dry run: PLANNED with the SQL, statistics kept', async () => {
    const result = await reset(api, true, TEST_ADMIN_TOKEN);
    expect(result.data!.resetQueryStats.change).toMatchObject({ status: 'PLANNED', dryRun: true, targetName: null });
    expect(result.data!.resetQueryStats.change.statements).toEqual([
      'SELECT "public".pg_stat_statements_reset(0, d.oid, 0) FROM pg_database d WHERE d.datname = current_database()',
    ]);
    expect((await statementTrace()).marker).toBe(true);
  });

  it("resets this database's statistics and records SUCCEEDED", async () => {
    const result = await reset(api, false, TEST_ADMIN_TOKEN);
    expect(result.errors).toBeUndefined();
    expect(result.data!.resetQueryStats.change).toMatchObject({ status: 'SUCCEEDED', action: 'resetQueryStats', outcome: {} });
    expect(result.data!.resetQueryStats.change.durationMs).toBeGreaterThan(0);
    expect((await statementTrace()).marker).toBe(false);
  });
});

describe('changeLog', () => {
  const PAGE = 'query($after: String) { changeLog(first: 3, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }';
  type Page = { changeLog: { edges: Array<{ node: { id: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };

  it('pages through every entry, newest first, each once', async () => {
    const expected = (await target.sql<{ id: string }>('SELECT id::text AS id FROM pgscope.change_log c ORDER BY c.id DESC')).map(
      (row) => row.id,
    );
    expect(expected.length).toBe(10);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const result: Awaited<ReturnType<typeof api.gql<Page>>> = await api.gql<Page>(PAGE, { after });
      expect(result.errors).toBeUndefined();
      const connection = result.data!.changeLog;
      seen.push(...connection.edges.map((edge) => edge.node.id));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(seen).toEqual(expected);
  });

  it('rejects a foreign cursor', async () => {
    const result = await api.gql(PAGE, { after: 'bm90LWEtY3Vyc29y' });
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('start-up recovery', () => {
  const INSERT_RUNNING = `
    INSERT INTO pgscope.change_log (action, dry_run, status, actor, session_pid)
    VALUES ('analyzeTable', false, 'RUNNING', 'admin', $1)
    RETURNING id::text AS id`;

  it('marks changes whose DDL session is gone INTERRUPTED, and leaves running ones alone', async () => {
    const alive = await owner.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs: 1000 });
    try {
      const [dead] = await target.sql<{ id: string }>(INSERT_RUNNING, [null]);
      const [running] = await target.sql<{ id: string }>(INSERT_RUNNING, [alive.pid]);
      const marked = await markInterruptedChanges(owner);
      expect(marked.map((row) => [row.id, row.status])).toEqual([[dead!.id, 'INTERRUPTED']]);
      expect(await entry(running!.id)).toMatchObject({ status: 'RUNNING', sessionPid: alive.pid });
    } finally {
      await alive.close();
    }
  });
});
