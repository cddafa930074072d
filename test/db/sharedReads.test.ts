// The shared-read layer on its own, over a real pool: executions are counted below it (a
// statement-counting view of the pool), reads started in the same tick are in flight together.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgscopeError } from '../../src/errors.js';
import { countStatements, Database } from '../../src/db/pool.js';
import { requestReads, shareReads, SharedReads, type RequestReads } from '../../src/db/sharedReads.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';

let target: TestDatabase;
let database: Database;

beforeAll(async () => {
  target = await createTestDatabase('shared_reads_db');
  database = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
});

afterAll(async () => {
  await database.end();
  await target.drop();
});

function setUp(cacheMs = 0) {
  const executed = { statements: 0 };
  let now = 0;
  const reads = new SharedReads({ cacheMs, now: () => now });
  const request = (options: Partial<RequestReads> = {}) =>
    shareReads(countStatements(database, executed), reads, { ...requestReads(), share: true, ...options });
  return { executed, reads, request, setNow: (value: number) => (now = value) };
}

describe('shared reads', () => {
  it('give every reader of a round trip the same rows, frozen', async () => {
    const { executed, request } = setUp();
    const [a, b] = await Promise.all([request().query('SELECT 7 AS n'), request().query('SELECT 7 AS n')]);
    expect(executed.statements).toBe(1);
    expect(a).toBe(b);
    expect(a).toEqual([{ n: 7 }]);
    expect(Object.isFrozen(a) && Object.isFrozen(a[0])).toBe(true);
    expect(() => (a as Array<{ n: number }>).push({ n: 8 })).toThrow(TypeError);
  });

  it('keep parameters of different types apart: "1", 1 and 1n', async () => {
    const { executed, request } = setUp();
    const rows = await Promise.all(['1', 1, 1n].map((value) => request().query<{ v: string }>('SELECT $1::text AS v', [value])));
    expect(executed.statements).toBe(3);
    expect(rows.map(([row]) => row!.v)).toEqual(['1', '1', '1']);
  });

  it('share an error with the readers of its round trip only', async () => {
    const { executed, reads, request } = setUp(60_000);
    const failed = await Promise.allSettled([
      request({ cache: true }).query('SELECT 1 / $1 AS n', [0]),
      request({ cache: true }).query('SELECT 1 / $1 AS n', [0]),
    ]);
    expect(failed.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect((failed[0] as PromiseRejectedResult).reason).toBe((failed[1] as PromiseRejectedResult).reason);
    await expect(request({ cache: true }).query('SELECT 1 / $1 AS n', [0])).rejects.toThrow('division by zero');
    expect(executed.statements).toBe(2);
    expect(reads.counters()).toEqual({ coalesced: 1, cached: 0, waiting: 0, cacheEntries: 0 });
  });

  it('cache answers for their TTL by the injected clock, and not past 50,000 rows', async () => {
    const { executed, request, setNow } = setUp(1_000);
    const reader = request({ cache: true });
    await reader.query('SELECT 1 AS n');
    setNow(999);
    await reader.query('SELECT 1 AS n');
    expect(executed.statements).toBe(1);
    setNow(1_000);
    await reader.query('SELECT 1 AS n');
    expect(executed.statements).toBe(2);

    const huge = 'SELECT generate_series(1, 50001) AS n';
    await reader.query(huge);
    await reader.query(huge);
    expect(executed.statements).toBe(4);
  });

  it('wait for a connection once: POOL_EXHAUSTED for every reader of the round trip, one timeout', async () => {
    // the timeout also bounds opening the connection the test holds: long enough for a busy machine
    const small = new Database(target.url, {
      applicationName: 'pgscope-test',
      pool: testConfig({ PGSCOPE_POOL_MAX: '1', PGSCOPE_POOL_CONNECTION_TIMEOUT_MS: '2000' }).pool,
    });
    try {
      let release!: () => void;
      let holding!: () => void;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const busy = small.withClient(
        () =>
          new Promise<void>((resolve) => {
            release = resolve;
            holding();
          }),
      );
      await Promise.race([held, busy]);
      const reads = new SharedReads({ cacheMs: 0 });
      const failed = await Promise.allSettled(
        Array.from({ length: 5 }, () => shareReads(small, reads, { ...requestReads(), share: true }).query('SELECT 1 AS n')),
      );
      release();
      await busy;
      expect(failed.map((result) => result.status === 'rejected' && isPgscopeError(result.reason, 'POOL_EXHAUSTED'))).toEqual(
        Array(5).fill(true),
      );
      expect(small.counters().timeouts).toBe(1);
    } finally {
      await small.end();
    }
  });

  it('go straight to the database when the request shares nothing (mutations, coalescing off)', async () => {
    const { executed, request } = setUp(60_000);
    await Promise.all([request({ share: false }).query('SELECT 2 AS n'), request({ share: false }).query('SELECT 2 AS n')]);
    expect(executed.statements).toBe(2);
  });
});
