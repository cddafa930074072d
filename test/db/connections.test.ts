// poolStatus: pgscope's own pool counters and the server's connection slots, by state and
// application, with the oldest idle transaction (fixture: a session left idle in a transaction).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/db/pool.js';
import { connectionsByApplication, connectionsByState, serverConnections } from '../../src/db/connections.js';
import { createTestApp, createTestDatabase, testConfig, type TestApp, type TestDatabase } from '../harness/database.js';
import { createRole, type TestRole } from '../harness/roles.js';

let target: TestDatabase;
let holder: Database;
let monitor: TestRole;
let releaseIdle: () => void;
let idleHeld: Promise<void>;
let idlePid: number;

beforeAll(async () => {
  target = await createTestDatabase('connections');
  monitor = await createRole('conn_monitor', ['pg_monitor']);
  holder = new Database(target.url, { applicationName: 'idle-tx-fixture', pool: testConfig().pool });
  // A session that opens a transaction and goes idle, held until the end of the file.
  let started!: () => void;
  const ready = new Promise<void>((resolve) => (started = resolve));
  idleHeld = holder.withClient(async (client) => {
    await client.query('BEGIN');
    [{ pid: idlePid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
    started();
    await new Promise<void>((resolve) => (releaseIdle = resolve));
    await client.query('ROLLBACK');
  });
  await ready;
});

afterAll(async () => {
  releaseIdle();
  await idleHeld;
  await holder.end();
  await target.drop();
  await monitor.drop();
});

/**
 * The fixture is idle in a transaction, so the oldest such session is the fixture, or (test files
 * run in parallel on one server) another one that went idle no later than it.
 */
async function expectOldestIdle(pid: number | null, application: string | null) {
  expect(pid).not.toBeNull();
  if (pid === idlePid) {
    expect(application).toBe('idle-tx-fixture');
    return;
  }
  const [order] = await target.sql<{ older: boolean }>(
    // a session that has finished since cannot be judged any more: coalesce to true
    `SELECT coalesce((SELECT state_change FROM pg_stat_activity WHERE pid = $1) <= (SELECT state_change FROM pg_stat_activity WHERE pid = $2), true) AS older`,
    [pid, idlePid],
  );
  expect(order!.older).toBe(true);
}

/** Seconds the fixture has been idle in its transaction, by the server's clock, as pgscope counts them. */
async function fixtureIdleSeconds(): Promise<number> {
  const [row] = await target.sql<{ seconds: number }>(
    'SELECT extract(epoch FROM now() - state_change)::float8 AS seconds FROM pg_stat_activity WHERE pid = $1',
    [idlePid],
  );
  return row!.seconds;
}

describe('server connections', () => {
  it('finds the oldest session idle in a transaction and counts slots', async () => {
    const db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
    const idleBefore = await fixtureIdleSeconds();
    const row = await serverConnections(db);
    const idleAfter = await fixtureIdleSeconds();
    const [expected] = await target.sql<{ max: number; reserved: number }>(
      `SELECT current_setting('max_connections')::int AS max,
              current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved`,
    );
    expect(row.max_connections).toBe(expected!.max);
    expect(row.reserved_connections).toBe(expected!.reserved);
    await expectOldestIdle(row.oldest_idle_in_transaction_pid, row.oldest_idle_in_transaction_application);
    // no younger than the fixture just before the call; when it is the fixture, no older than it just after
    expect(row.oldest_idle_in_transaction_seconds).toBeGreaterThanOrEqual(idleBefore);
    if (row.oldest_idle_in_transaction_pid === idlePid) expect(row.oldest_idle_in_transaction_seconds).toBeLessThanOrEqual(idleAfter);
    expect(row.total).toBeGreaterThanOrEqual(2);

    const byState = await connectionsByState(db);
    expect(byState.find((entry) => entry.key === 'idle in transaction')?.count).toBeGreaterThanOrEqual(1);
    expect(byState.find((entry) => entry.key === 'active')?.count).toBeGreaterThanOrEqual(1);
    const byApplication = await connectionsByApplication(db);
    expect(byApplication.find((entry) => entry.key === 'idle-tx-fixture')).toEqual({ key: 'idle-tx-fixture', count: 1 });
    // most first, ties by name
    const counts = byApplication.map((entry) => entry.count);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
    await db.end();
  });

  it('answers poolStatus in full through GraphQL, also for a pg_monitor role', async () => {
    for (const url of [target.url, monitor.url(target.name)]) {
      const api: TestApp = createTestApp(url, { env: { PGSCOPE_POOL_MIN: '1', PGSCOPE_POOL_MAX: '3' } });
      const result = await api.gql<{ poolStatus: Record<string, unknown> & { server: Record<string, unknown> } }>(`{
        poolStatus {
          max min total idle checkedOut waiting timeouts idleErrors
          server { maxConnections reservedConnections total usageRatio
                   byState { key count } byApplication { key count }
                   oldestIdleInTransaction { pid applicationName idleSeconds } }
        }
      }`);
      await api.close();
      expect(result.errors).toBeUndefined();
      const status = result.data!.poolStatus;
      expect(status).toMatchObject({ max: 3, min: 1, waiting: 0, timeouts: 0, idleErrors: 0 });
      const oldest = status.server.oldestIdleInTransaction as { pid: number; applicationName: string };
      await expectOldestIdle(oldest.pid, oldest.applicationName);
      expect(status.server.byApplication).toContainEqual({ key: 'idle-tx-fixture', count: 1 });
      expect(status.server.usageRatio as number).toBeGreaterThan(0);
    }
  });
});
