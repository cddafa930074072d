// Identical reads share one round trip (PGSCOPE_READ_COALESCING) and may be answered from a short
// cache (PGSCOPE_READ_CACHE_MS). Requests are held at a known point (the pool's only connection
// held by the test, or a table lock) until every one of them has asked; executions are counted
// by pg_stat_statements, not inferred from timing.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database, type Queryable } from '../../src/db/pool.js';
import {
  createTestApp,
  createTestDatabase,
  errorCodes,
  TEST_ADMIN_TOKEN,
  testConfig,
  type GqlResult,
  type TestApp,
  type TestDatabase,
} from '../harness/database.js';

const CLIENTS = 8;
const SLOW = (limit: number) => `{ slowQueries(minMeanTimeMs: 0, limit: ${limit}) { query calls } }`;
type SlowAnswer = GqlResult<{ slowQueries: Array<{ query: string; calls: string }> }>;
/** No SQL: pool and shared-read counters only. */
const COUNTERS = '{ poolStatus { waiting timeouts reads { coalesced cached waiting cacheEntries } } }';
interface Counters {
  waiting: number;
  timeouts: number;
  /** coalesced and cached are BigInt counters: strings of digits. */
  reads: { coalesced: string; cached: string; waiting: number; cacheEntries: number };
}

let target: TestDatabase;
let owner: Database;

beforeAll(async () => {
  target = await createTestDatabase('shared_reads');
  owner = new Database(target.url, { applicationName: 'pgscope-test-owner', pool: testConfig().pool });
  expect(await migrateOwnSchema(owner)).toMatchObject({ ok: true });
  await target.sql('CREATE TABLE probe (id int PRIMARY KEY)');
  // six statements of this database in pg_stat_statements, so that limit 5 and limit 6 differ
  for (const n of [1, 2, 3, 4, 5, 6]) await target.sql(`SELECT ${'1, '.repeat(n)}1 FROM probe`);
});

afterAll(async () => {
  await owner.end();
  await target.drop();
});

/** Executions of the slowQueries statement in this database so far (its text ends "FROM ranked ..."). */
async function slowQueriesExecutions(): Promise<number> {
  const [row] = await target.sql<{ calls: number }>(
    `SELECT coalesce(sum(calls), 0)::int AS calls
     FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND query LIKE '%FROM ranked%'`,
  );
  return row!.calls;
}

async function counters(api: TestApp): Promise<Counters> {
  const result = await api.gql<{ poolStatus: Counters }>(COUNTERS);
  return result.data!.poolStatus;
}

/** Takes the pool's only connection until `release()`: every statement sent meanwhile waits for it. */
async function holdTheOnlyConnection(database: Database): Promise<{ release: () => Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let holding!: () => void;
  const held = new Promise<void>((resolve) => (holding = resolve));
  const done = database.withClient(async () => {
    holding();
    await released;
  });
  await held;
  return {
    release: async () => {
      release();
      await done;
    },
  };
}

/** A one-connection pool whose requests wait as long as the test needs. */
const gatedApp = (env: Record<string, string> = {}, now?: () => number) =>
  createTestApp(target.url, {
    env: { PGSCOPE_POOL_MAX: '1', PGSCOPE_POOL_CONNECTION_TIMEOUT_MS: '60000', ...env },
    ownSchemaReady: true,
    now,
  });

describe('identical reads in flight', () => {
  it('run once for all their requests: one pool wait, one execution, the same rows', async () => {
    const api = gatedApp();
    try {
      await api.gql('{ capabilities { serverVersion } }'); // detection runs its own statements once
      const before = await slowQueriesExecutions();
      const gate = await holdTheOnlyConnection(api.database);
      const answers = Array.from({ length: CLIENTS }, () => api.gql(SLOW(20)) as Promise<SlowAnswer>);
      await vi.waitFor(async () => expect(await counters(api)).toMatchObject({ waiting: 1, reads: { waiting: CLIENTS - 1 } }), {
        timeout: 20_000,
      });
      await gate.release();
      const results = await Promise.all(answers);

      expect(await slowQueriesExecutions()).toBe(before + 1);
      expect(results.map(errorCodes)).toEqual(Array(CLIENTS).fill([]));
      expect(new Set(results.map((result) => JSON.stringify(result.data))).size).toBe(1);
      // each request ran the statement it needed; all but the one that sent it shared it
      expect(results.map((result) => result.extensions!.sqlStatements)).toEqual(Array(CLIENTS).fill(1));
      expect(results.map((result) => result.extensions!.sqlStatementsShared ?? 0).sort()).toEqual([0, ...Array(CLIENTS - 1).fill(1)]);
      expect((await counters(api)).reads).toEqual({ coalesced: String(CLIENTS - 1), cached: '0', waiting: 0, cacheEntries: 0 });
    } finally {
      await api.close();
    }
  });

  it('each run their own with PGSCOPE_READ_COALESCING=false (what pgscope did before)', async () => {
    const api = gatedApp({ PGSCOPE_READ_COALESCING: 'false' });
    try {
      await api.gql('{ capabilities { serverVersion } }');
      const before = await slowQueriesExecutions();
      const gate = await holdTheOnlyConnection(api.database);
      const answers = Array.from({ length: CLIENTS }, () => api.gql(SLOW(20)) as Promise<SlowAnswer>);
      await vi.waitFor(async () => expect((await counters(api)).waiting).toBe(CLIENTS), { timeout: 20_000 });
      await gate.release();
      const results = await Promise.all(answers);

      expect(await slowQueriesExecutions()).toBe(before + CLIENTS);
      expect(results.map((result) => result.extensions)).toEqual(Array(CLIENTS).fill({ sqlStatements: 1 }));
    } finally {
      await api.close();
    }
  });

  it('are not merged when their parameters differ', async () => {
    const api = gatedApp();
    try {
      await api.gql('{ capabilities { serverVersion } }');
      const before = await slowQueriesExecutions();
      const gate = await holdTheOnlyConnection(api.database);
      const five = Array.from({ length: CLIENTS / 2 }, () => api.gql(SLOW(5)) as Promise<SlowAnswer>);
      const six = Array.from({ length: CLIENTS / 2 }, () => api.gql(SLOW(6)) as Promise<SlowAnswer>);
      await vi.waitFor(async () => expect(await counters(api)).toMatchObject({ waiting: 2, reads: { waiting: CLIENTS - 2 } }), {
        timeout: 20_000,
      });
      await gate.release();

      expect((await Promise.all(five)).map((result) => result.data!.slowQueries.length)).toEqual(Array(CLIENTS / 2).fill(5));
      expect((await Promise.all(six)).map((result) => result.data!.slowQueries.length)).toEqual(Array(CLIENTS / 2).fill(6));
      expect(await slowQueriesExecutions()).toBe(before + 2);
    } finally {
      await api.close();
    }
  });

  it('share an error with the requests that waited for it, and the next request runs afresh', async () => {
    const now = 0; // the cache is on and its clock stands still: a cached error would be answered again
    const api = createTestApp(target.url, { env: { PGSCOPE_READ_CACHE_MS: '60000', PGSCOPE_LOCK_TIMEOUT_MS: '60000' }, now: () => now });
    // ordering by size measures every table: it waits for the lock on probe, and is the request's only statement
    const bySize = '{ tables(first: 1, orderBy: TOTAL_SIZE) { edges { cursor } } }';
    try {
      await api.gql('{ capabilities { serverVersion } }');
      let unlock!: () => void;
      const unlocked = new Promise<void>((resolve) => (unlock = resolve));
      let locking!: () => void;
      const locked = new Promise<void>((resolve) => (locking = resolve));
      const holder = owner.withClient(async (client: Queryable) => {
        await client.query('BEGIN');
        await client.query('LOCK TABLE probe IN ACCESS EXCLUSIVE MODE');
        locking();
        await unlocked;
        await client.query('COMMIT');
      });
      await locked;
      const answers = Array.from({ length: CLIENTS }, () => api.gql(bySize));
      let blockedPid = 0;
      await vi.waitFor(
        async () => {
          expect((await counters(api)).reads.waiting).toBe(CLIENTS - 1);
          const blocked = await target.sql<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgscope-test' AND wait_event_type = 'Lock' AND datname = current_database()",
          );
          expect(blocked).toHaveLength(1);
          blockedPid = blocked[0]!.pid;
        },
        { timeout: 20_000 },
      );
      await target.sql('SELECT pg_cancel_backend($1)', [blockedPid]);
      const results = await Promise.all(answers);
      unlock();
      await holder;

      expect(results.map(errorCodes)).toEqual(Array(CLIENTS).fill(['QUERY_TIMEOUT']));
      const next = await api.gql<{ tables: { edges: unknown[] } }>(bySize);
      expect(errorCodes(next)).toEqual([]);
      expect(next.data!.tables.edges).toHaveLength(1);
      expect(next.extensions).toEqual({ sqlStatements: 1 });
    } finally {
      await api.close();
    }
  });

  it('are never shared by mutations, and a mutation forgets what was shared', async () => {
    const api = gatedApp({ PGSCOPE_READ_CACHE_MS: '60000' }, () => 0);
    const analyze = 'mutation { analyzeTable(table: "probe", dryRun: true) { change { status } } }';
    try {
      await api.gql('{ capabilities { serverVersion } }');
      expect((await api.gql(SLOW(20))).extensions).toEqual({ sqlStatements: 1 });
      expect((await api.gql(SLOW(20))).extensions).toEqual({ sqlStatements: 1, sqlStatementsShared: 1, readCacheAgeMs: 0 });
      const gate = await holdTheOnlyConnection(api.database);
      const changes = Array.from({ length: CLIENTS }, () => api.gql(analyze, {}, { token: TEST_ADMIN_TOKEN }));
      // every mutation waits for a connection of its own
      await vi.waitFor(async () => expect(await counters(api)).toMatchObject({ waiting: CLIENTS, reads: { waiting: 0 } }), {
        timeout: 20_000,
      });
      await gate.release();
      const results = await Promise.all(changes);

      expect(results.map((result) => result.data)).toEqual(Array(CLIENTS).fill({ analyzeTable: { change: { status: 'PLANNED' } } }));
      expect(results.every((result) => result.extensions!.sqlStatementsShared === undefined)).toBe(true);
      expect((await counters(api)).reads).toMatchObject({ coalesced: '0', cacheEntries: 0 });
      // the answer cached before the change was forgotten: asked again, after it
      expect((await api.gql(SLOW(20))).extensions).toEqual({ sqlStatements: 1 });
    } finally {
      await api.close();
    }
  });
});

describe('the read cache (PGSCOPE_READ_CACHE_MS)', () => {
  let api: TestApp;
  let now = 0;

  beforeAll(() => {
    api = createTestApp(target.url, { env: { PGSCOPE_READ_CACHE_MS: '1000' }, now: () => now });
  });
  afterAll(() => api.close());

  const probeCalls = (result: SlowAnswer) => result.data!.slowQueries.find((row) => row.query === 'SELECT $1, $2 FROM probe')?.calls;

  it('answers from the cache within the TTL, with its age, and asks the database again after', async () => {
    now = 10_000;
    const before = await slowQueriesExecutions();
    const first = (await api.gql(SLOW(1000))) as SlowAnswer;
    await target.sql('SELECT 1, 1 FROM probe'); // one more call of a statement the answer lists
    now = 10_999;
    const cached = (await api.gql(SLOW(1000))) as SlowAnswer;
    now = 11_000;
    const fresh = (await api.gql(SLOW(1000))) as SlowAnswer;

    expect(first.extensions).toEqual({ sqlStatements: 1 });
    expect(cached.extensions).toEqual({ sqlStatements: 1, sqlStatementsShared: 1, readCacheAgeMs: 999 });
    expect(cached.data).toEqual(first.data);
    expect(fresh.extensions).toEqual({ sqlStatements: 1 });
    expect(probeCalls(first)).toBe('1');
    expect(probeCalls(fresh)).toBe('2');
    expect(await slowQueriesExecutions()).toBe(before + 2);
  });

  it('is not used by an operation that also asks for live state (poolStatus.server, activity)', async () => {
    now = 20_000;
    const live = '{ slowQueries(minMeanTimeMs: 0) { queryId } poolStatus { server { total } } }';
    expect((await api.gql(live)).extensions).toEqual({ sqlStatements: 2 });
    expect((await api.gql(live)).extensions).toEqual({ sqlStatements: 2 });
    // the same slowQueries alone is cacheable
    const alone = '{ slowQueries(minMeanTimeMs: 0) { queryId } }';
    expect((await api.gql(alone)).extensions).toEqual({ sqlStatements: 1 });
    expect((await api.gql(alone)).extensions).toEqual({ sqlStatements: 1, sqlStatementsShared: 1, readCacheAgeMs: 0 });
  });
});
