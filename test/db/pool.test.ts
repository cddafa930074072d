import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgscopeError, type ErrorCode } from '../../src/errors.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { waitFor } from '../harness/waitFor.js';

let target: TestDatabase;
const pools: Database[] = [];

function pool(env: Record<string, string> = {}): Database {
  const database = new Database(target.url, { applicationName: 'pgscope', pool: testConfig(env).pool, warn: () => undefined });
  pools.push(database);
  return database;
}

beforeAll(async () => {
  target = await createTestDatabase('pool');
});

afterAll(async () => {
  await Promise.all(pools.map((database) => database.end()));
  await target.drop();
});

describe('Database (the tuned pool)', () => {
  it('sets application_name and the server-side timeouts on every connection', async () => {
    const db = pool({ PGSCOPE_STATEMENT_TIMEOUT_MS: '4321', PGSCOPE_LOCK_TIMEOUT_MS: '1234' });
    const [row] = await db.query<Record<string, string>>(
      `SELECT current_setting('application_name') AS app,
              current_setting('statement_timeout') AS statement_timeout,
              current_setting('lock_timeout') AS lock_timeout,
              current_setting('idle_in_transaction_session_timeout') AS idle_tx`,
    );
    expect(row).toEqual({ app: 'pgscope', statement_timeout: '4321ms', lock_timeout: '1234ms', idle_tx: '1min' });
  });

  it('returns int8 as bigint without losing precision', async () => {
    const [row] = await pool().query<{ big: bigint; ratio: number }>(`SELECT 9007199254740993::int8 AS big, 0.25::numeric AS ratio`);
    expect(row!.big).toBe(9007199254740993n);
    expect(row!.ratio).toBe(0.25);
  });

  it('runs multi-statement text and returns the rows of the last statement', async () => {
    const rows = await pool().query<{ n: number }>('SELECT 1 AS n; SELECT 2 AS n');
    expect(rows).toEqual([{ n: 2 }]);
  });

  it('cancels a statement past statement_timeout with QUERY_TIMEOUT', async () => {
    const error = await pool({ PGSCOPE_STATEMENT_TIMEOUT_MS: '100' })
      .query('SELECT pg_sleep(2)')
      .catch((e: unknown) => e);
    expect(isPgscopeError(error, 'QUERY_TIMEOUT')).toBe(true);
    expect((error as Error).message).toBe('The statement was cancelled after 100 ms (PGSCOPE_STATEMENT_TIMEOUT_MS).');
  });

  it.each([
    ['a statement past max_stack_depth (54001)', `SELECT ${Array.from({ length: 45_000 }, () => '1').join('+')}`, 'BAD_USER_INPUT'],
    ['an object not in the needed state (55000)', "SELECT currval('pool_seq')", 'UNSUPPORTED'],
    ['a transaction statement out of place (25001)', 'BEGIN; SELECT 1; SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'BAD_USER_INPUT'],
  ])('answers %s with a typed error', async (_, sql, code) => {
    await target.sql('CREATE SEQUENCE IF NOT EXISTS pool_seq');
    const error = await pool()
      .query(sql)
      .catch((e: unknown) => e);
    expect(isPgscopeError(error, code as ErrorCode)).toBe(true);
  });

  it('gives up 2 s past statement_timeout when no answer comes, drops that connection, and lets withClient raise the deadline', async () => {
    const db = pool({ PGSCOPE_STATEMENT_TIMEOUT_MS: '100', PGSCOPE_POOL_MAX: '1' });
    // The session's own statement_timeout outlasts the client's deadline (100 ms + 2 s): only the client can end the wait.
    const sleepPast = "SET statement_timeout = '10s'; SELECT pg_backend_pid() AS pid, pg_sleep(2.5)";
    const error = await db.withClient((client) => client.query(sleepPast)).catch((e: unknown) => e);
    expect(isPgscopeError(error, 'DATABASE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toBe(
      'The database did not answer within 2 s past the statement timeout: it hangs, or the network to it does. pgscope dropped that connection; retry later.',
    );
    expect(db.counters().total).toBe(0);
    const [row] = await db.withClient((client) => client.query<{ pid: number }>(sleepPast), { statementTimeoutMs: 10_000 });
    expect(row!.pid).toEqual(expect.any(Number));
  });

  it('answers POOL_EXHAUSTED instead of waiting forever when every connection stays busy', async () => {
    const db = pool({ PGSCOPE_POOL_MAX: '1', PGSCOPE_POOL_CONNECTION_TIMEOUT_MS: '200' });
    // connected beforehand: on a busy machine opening the connection alone may take longer than 200 ms
    await db.query('SELECT 1');
    const busy = db.query('SELECT pg_sleep(1)');
    await waitFor('the sleeping statement to hold the only connection', () => db.counters().checkedOut === 1);
    const error = await db.query('SELECT 1').catch((e: unknown) => e);
    expect(isPgscopeError(error, 'POOL_EXHAUSTED')).toBe(true);
    expect((error as Error).message).toContain('All 1 database connections stayed busy for 200 ms');
    expect(db.counters().timeouts).toBe(1);
    await busy;
    expect(await db.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
  });

  it('reports a saturated pool as ready without queueing a ping behind the requests', async () => {
    const db = pool({ PGSCOPE_POOL_MAX: '1' });
    const busy = db.query('SELECT pg_sleep(1)');
    await waitFor('the sleeping statement to hold the only connection', () => db.counters().checkedOut === 1);
    expect(await db.readiness()).toEqual({ ready: true, database: 'reachable', pool: 'saturated' });
    await busy;
    expect(await db.readiness()).toEqual({ ready: true, database: 'reachable', pool: 'ok' });
  });

  it('answers DATABASE_UNAVAILABLE when nothing listens', async () => {
    const url = new URL(target.url);
    url.port = '1';
    const db = new Database(url.toString(), { applicationName: 'pgscope', pool: testConfig().pool, warn: () => undefined });
    pools.push(db);
    const error = await db.query('SELECT 1').catch((e: unknown) => e);
    expect(isPgscopeError(error, 'DATABASE_UNAVAILABLE')).toBe(true);
    expect(await db.ping()).toBe(false);
    expect(await db.readiness()).toEqual({ ready: false, database: 'unreachable', pool: 'ok' });
  });

  it('survives a terminated idle connection and replaces it', async () => {
    const db = pool();
    const [{ pid }] = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
    await target.sql('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor('the pool to hear of the terminated connection', () => db.counters().idleErrors > 0);
    expect(db.counters().idleErrors).toBe(1);
    const [{ pid: next }] = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
    expect(next).not.toBe(pid);
  });

  it('prepares its parameterized statements once per connection, unless told not to', async () => {
    const prepared = async (db: Database) => {
      await db.query('SELECT $1::int AS n', [1]);
      const [row] = await db.query<{ names: string[] }>(
        `SELECT coalesce(array_agg(name::text ORDER BY name), '{}') AS names FROM pg_prepared_statements WHERE statement = 'SELECT $1::int AS n'`,
      );
      return row!.names;
    };
    const names = await prepared(pool({ PGSCOPE_POOL_MAX: '1' }));
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^pgscope_[0-9a-f]{24}$/);
    expect(await prepared(pool({ PGSCOPE_POOL_MAX: '1', PGSCOPE_PREPARED_STATEMENTS: 'false' }))).toEqual([]);
  });

  it('reports its counters', async () => {
    const db = pool({ PGSCOPE_POOL_MIN: '1', PGSCOPE_POOL_MAX: '3' });
    const running = [db.query('SELECT pg_sleep(0.3)'), db.query('SELECT pg_sleep(0.3)')];
    await waitFor('both statements to hold a connection', () => db.counters().checkedOut === 2);
    expect(db.counters()).toMatchObject({ max: 3, min: 1, total: 2, checkedOut: 2, idle: 0, waiting: 0 });
    await Promise.all(running);
    expect(db.counters()).toMatchObject({ total: 2, checkedOut: 0, idle: 2 });
  });
});
