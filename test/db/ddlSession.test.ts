// Database.openSession: the dedicated connection DDL runs on, outside the read pool.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { SqlState } from '../../src/db/sqlState.js';
import { waitFor } from '../harness/waitFor.js';

let target: TestDatabase;
let db: Database;

beforeAll(async () => {
  target = await createTestDatabase('ddl_session');
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

/** Whether backend `pid` is running a statement (pg_stat_activity). */
const isActive = async (pid: number) =>
  (await target.sql<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]))[0]?.state === 'active';

describe('openSession', () => {
  it('has no statement timeout, its own lock timeout and name, a search_path of pg_catalog only, and takes no pooled connection', async () => {
    const session = await db.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs: 1234 });
    try {
      const [row] = await session.query<Record<string, unknown>>(/* SQL */ `
        SELECT
          current_setting('statement_timeout') AS statement_timeout,
          current_setting('lock_timeout') AS lock_timeout,
          current_setting('application_name') AS application_name,
          current_setting('search_path') AS search_path,
          pg_backend_pid() AS pid`);
      expect(row).toEqual({
        statement_timeout: '0',
        lock_timeout: '1234ms',
        application_name: 'pgscope-ddl',
        search_path: 'pg_catalog, pg_temp',
        pid: session.pid,
      });
      expect(db.counters().total).toBe(0);
    } finally {
      await session.close();
    }
  });

  it('runs past the read pool statement timeout', async () => {
    const short = new Database(target.url, {
      applicationName: 'pgscope-test',
      pool: testConfig({ PGSCOPE_STATEMENT_TIMEOUT_MS: '100' }).pool,
    });
    const session = await short.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs: 1000 });
    try {
      await expect(short.query('SELECT pg_sleep(0.3)')).rejects.toMatchObject({ extensions: { code: 'QUERY_TIMEOUT' } });
      expect(await session.query('SELECT pg_sleep(0.3)::text AS slept')).toEqual([{ slept: '' }]);
    } finally {
      await session.close();
      await short.end();
    }
  });

  it('is cancelled from outside, and closes once for good', async () => {
    const session = await db.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs: 1000 });
    // settled into a value at once: the cancel can fail it before the assertion below is reached
    const running = session.query('SELECT pg_sleep(60)').then(
      () => null,
      (error: unknown) => error,
    );
    await waitFor('the session to run its statement', () => isActive(session.pid));
    expect(await session.cancel()).toBe(true);
    expect(await running).toMatchObject({ extensions: { code: 'QUERY_TIMEOUT' } });
    await session.close();
    await session.close();
    // the backend exits once it read the Terminate message: wait for that
    await waitFor(
      "the closed session's backend to exit",
      async () => (await target.sql('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [session.pid])).length === 0,
    );
  });

  it('says it is lost as soon as its backend is terminated, with DATABASE_UNAVAILABLE, while idle or running', async () => {
    const idle = await db.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs: 1000 });
    const busy = await db.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs: 1000 });
    const running = busy.query('SELECT pg_sleep(60)').catch((error: unknown) => error);
    await waitFor('the busy session to run its statement', () => isActive(busy.pid));
    await target.sql('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1)', [[idle.pid, busy.pid]]);
    for (const session of [idle, busy]) {
      expect(await session.lost).toMatchObject({ extensions: { code: 'DATABASE_UNAVAILABLE' }, sqlState: SqlState.ADMIN_SHUTDOWN });
      await session.close();
    }
    expect(await running).toMatchObject({ extensions: { code: 'DATABASE_UNAVAILABLE' } });
  });

  it('is not lost when closed by its owner', async () => {
    const session = await db.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs: 1000 });
    const lost = session.lost.then(() => 'lost');
    // close() resolves once the connection has ended: had that counted as lost, `lost` would win the race
    await session.close();
    expect(
      await Promise.race([
        lost,
        session.query('SELECT 1').then(
          () => 'answered',
          () => 'refused, as closed',
        ),
      ]),
    ).toBe('refused, as closed');
  });
});
