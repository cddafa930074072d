// Sessions in flight, named by application_name: a sleeper (a long-running statement), a lock
// holder (a transaction left open after LOCK TABLE), a query blocked behind it, and an idle one.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Database, queryOnce } from '../../src/db/pool.js';
import {
  adminUrl,
  createTestApp,
  createTestDatabase,
  errorCodes,
  testConfig,
  type TestApp,
  type TestDatabase,
} from '../harness/database.js';
import { createRole, type TestRole } from '../harness/roles.js';
import { waitFor } from '../harness/waitFor.js';

const SLEEP_SQL = 'SELECT pg_sleep(60)';
/** As pgscope shows it: constants of live texts are masked by default (src/sql/redact.ts). */
const SLEEP_SHOWN = 'SELECT pg_sleep($1)';
const LOCK_SQL = 'LOCK TABLE orders IN ACCESS EXCLUSIVE MODE';
const BLOCKED_SQL = 'SELECT count(*) FROM orders';

let target: TestDatabase;
let monitor: TestRole;
let plain: TestRole;
let api: TestApp;
let holder: Database;
let idle: Database;
let holderPid: number;
let releaseLock: () => void;
let holding: Promise<void>;
let sleeping: Promise<unknown>;
let blocked: Promise<unknown>;

const withApplication = (name: string) => `${target.url}${target.url.includes('?') ? '&' : '?'}application_name=${name}`;
/** Settles with the outcome, so a statement cancelled in afterAll is not an unhandled rejection. */
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    (rows) => ({ rows }),
    (error: unknown) => ({ error }),
  );

async function pidOf(application: string): Promise<number> {
  return waitFor(`a session named ${application}`, async () => {
    const [row] = await target.sql<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [application]);
    return row?.pid;
  });
}

beforeAll(async () => {
  [target, monitor, plain] = await Promise.all([
    createTestDatabase('activity'),
    createRole('activity_monitor', ['pg_monitor']),
    createRole('activity_plain'),
  ]);
  await target.sql('CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 100); ANALYZE orders');
  api = createTestApp(target.url);

  sleeping = outcome(queryOnce(withApplication('h3-sleeper'), SLEEP_SQL));
  // asleep before anything else starts, so it is the longest-running statement
  await waitFor('the sleeper to sleep', async () => {
    const rows = await target.sql("SELECT FROM pg_stat_activity WHERE application_name = 'h3-sleeper' AND wait_event = 'PgSleep'");
    return rows.length > 0 ? true : undefined;
  });
  idle = new Database(target.url, { applicationName: 'h3-idle', pool: testConfig().pool });
  await idle.query('SELECT 1');

  holder = new Database(target.url, { applicationName: 'h3-lock-holder', pool: testConfig().pool });
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const released = new Promise<void>((resolve) => (releaseLock = resolve));
  holding = holder.withClient(async (session) => {
    [{ pid: holderPid }] = (await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
    await session.query('BEGIN');
    await session.query(LOCK_SQL);
    locked();
    await released;
    await session.query('COMMIT');
  });
  await isLocked;
  blocked = outcome(queryOnce(withApplication('h3-blocked'), BLOCKED_SQL));
});

afterAll(async () => {
  releaseLock?.();
  await holding?.catch(() => undefined);
  await target.sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'h3-%'");
  await Promise.all([sleeping, blocked]);
  await Promise.all([api?.close(), holder?.end(), idle?.end()]);
  await target.drop();
  await Promise.all([monitor.drop(), plain.drop()]);
});

const SESSION = `pid role applicationName clientAddress database state waitEventType waitEvent backendType
  backendStart transactionStart queryStart stateChange durationMs transactionDurationMs query queryVisible queryId blockedBy`;

interface Session {
  pid: number;
  applicationName: string | null;
  state: string | null;
  query: string | null;
  queryId: string | null;
  durationMs: number | null;
  backendType: string | null;
  blockedBy: number[];
  [field: string]: unknown;
}

async function sessions(api: TestApp, args: string): Promise<Session[]> {
  const result = await api.gql<{ activity: Session[] }>(`{ activity${args ? `(${args})` : ''} { ${SESSION} } }`);
  expect(result.errors).toBeUndefined();
  return result.data!.activity;
}

async function sessionFacts(pid: number) {
  const [row] = await target.sql<{ client_address: string | null; query_id: string | null }>(
    `SELECT host(client_addr) AS client_address, ${inject('pgMajorVersion') >= 14 ? 'query_id::text' : 'NULL'} AS query_id
     FROM pg_stat_activity WHERE pid = $1`,
    [pid],
  );
  return row!;
}

/** How long the statement of `pid` has run, by the server's clock, as pgscope counts it. */
async function runningMs(pid: number): Promise<number> {
  const [row] = await target.sql<{ ms: number }>(
    'SELECT (extract(epoch FROM now() - query_start) * 1000)::float8 AS ms FROM pg_stat_activity WHERE pid = $1',
    [pid],
  );
  return row!.ms;
}

describe('activity', () => {
  it('lists a running statement with who runs it, where, and what it waits for', async () => {
    const pid = await pidOf('h3-sleeper');
    const ranBefore = await runningMs(pid);
    const [sleeper] = await sessions(api, 'applicationName: "h3-sleeper"');
    const ranAfter = await runningMs(pid);
    const facts = await sessionFacts(pid);
    expect(sleeper).toMatchObject({
      pid,
      role: new URL(adminUrl()).username,
      applicationName: 'h3-sleeper',
      clientAddress: facts.client_address,
      database: target.name,
      state: 'ACTIVE',
      waitEventType: 'Timeout',
      waitEvent: 'PgSleep',
      backendType: 'client backend',
      query: SLEEP_SHOWN,
      queryVisible: true,
      queryId: facts.query_id,
      blockedBy: [],
    });
    if (inject('pgMajorVersion') >= 14) expect(sleeper!.queryId).toMatch(/^-?\d+$/);
    // measured between the two reads around the request
    expect(sleeper!.durationMs).toBeGreaterThanOrEqual(ranBefore);
    expect(sleeper!.durationMs).toBeLessThanOrEqual(ranAfter);
    expect(sleeper!.transactionDurationMs).toBeGreaterThanOrEqual(sleeper!.durationMs!);
    expect(new Date(sleeper!.queryStart as string).getTime()).toBeGreaterThanOrEqual(new Date(sleeper!.backendStart as string).getTime());
  });

  it("leaves out idle sessions and pgscope's own backend unless asked", async () => {
    expect(await sessions(api, 'applicationName: "h3-idle"')).toEqual([]);
    const [idleSession] = await sessions(api, 'applicationName: "h3-idle", includeIdle: true');
    expect(idleSession).toMatchObject({
      applicationName: 'h3-idle',
      state: 'IDLE',
      query: 'SELECT $1',
      transactionStart: null,
      transactionDurationMs: null,
    });
    expect(await sessions(api, 'applicationName: "h3-idle", state: [IDLE]')).toHaveLength(1);
    expect(await sessions(api, 'applicationName: "h3-idle", state: [ACTIVE, IDLE_IN_TRANSACTION]')).toEqual([]);
    // the request's own statement is the only active session of pgscope's pool
    expect(await sessions(api, 'applicationName: "pgscope-test"')).toEqual([]);
  });

  it('orders by duration, filters by it, and lists background processes on request', async () => {
    const [sleeperPid, blockedPid] = await Promise.all([pidOf('h3-sleeper'), pidOf('h3-blocked')]);
    const active = await sessions(api, 'state: [ACTIVE]');
    // the sleeper started before the blocked query, so it has run longer
    expect(active.map((session) => session.pid)).toEqual([sleeperPid, blockedPid]);
    expect(await sessions(api, 'minDurationMs: 3600000')).toEqual([]);
    const everyDatabase = await sessions(api, 'applicationName: "h3-sleeper", allDatabases: true');
    expect(everyDatabase.map((session) => session.pid)).toEqual([sleeperPid]);
    expect((await sessions(api, 'includeIdle: true, limit: 1000')).every((session) => session.backendType === 'client backend')).toBe(true);
    const background = await sessions(api, 'includeBackground: true, allDatabases: true, limit: 1000');
    expect(background.map((session) => session.backendType)).toContain('checkpointer');
  });

  it('rejects a negative duration and an out-of-range limit', async () => {
    for (const [args, message] of [
      ['minDurationMs: -1', 'minDurationMs must be zero or more, got -1.'],
      ['limit: 0', 'limit must be a whole number from 1 to 1000, got 0.'],
    ]) {
      const result = await api.gql(`{ activity(${args}) { pid } }`);
      expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
      expect(result.errors![0]!.message).toBe(message);
    }
    expect(errorCodes(await api.gql('{ longRunningQueries(minDurationMs: -5) { pid } }'))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('longRunningQueries', () => {
  it('lists active statements past the threshold, longest first', async () => {
    const sleeperPid = await pidOf('h3-sleeper');
    const [first] = await waitFor('the sleeper to pass 200 ms', async () => {
      const result = await api.gql<{ longRunningQueries: Session[] }>(`{ longRunningQueries(minDurationMs: 200) { ${SESSION} } }`);
      const rows = result.data!.longRunningQueries;
      return rows.some((session) => session.pid === sleeperPid) ? rows : undefined;
    });
    expect(first).toMatchObject({ pid: sleeperPid, state: 'ACTIVE', query: SLEEP_SHOWN });
    const none = await api.gql<{ longRunningQueries: Session[] }>('{ longRunningQueries(minDurationMs: 3600000) { pid } }');
    expect(none.data!.longRunningQueries).toEqual([]);
  });
});

const BLOCKED = `{ blockedQueries {
  session { pid applicationName state waitEventType waitEvent query blockedBy }
  lockType lockMode lockSchema lockRelation lockTransactionId waitingMs blockerPids
  blockers { pid applicationName state query blockedBy queryVisible }
} }`;

interface Blocked {
  session: Session;
  waitingMs: number | null;
  [field: string]: unknown;
}

async function blockedQueries(api: TestApp): Promise<Blocked[]> {
  const result = await api.gql<{ blockedQueries: Blocked[] }>(BLOCKED);
  expect(result.errors).toBeUndefined();
  return result.data!.blockedQueries;
}

describe('blockedQueries', () => {
  const expected = () => ({
    session: {
      pid: expect.any(Number),
      applicationName: 'h3-blocked',
      state: 'ACTIVE',
      waitEventType: 'Lock',
      waitEvent: 'relation',
      query: BLOCKED_SQL,
      blockedBy: [holderPid],
    },
    lockType: 'relation',
    lockMode: 'AccessShareLock',
    lockSchema: 'public',
    lockRelation: 'orders',
    lockTransactionId: null,
    waitingMs: inject('pgMajorVersion') >= 14 ? expect.any(Number) : null,
    blockerPids: [holderPid],
    blockers: [
      {
        pid: holderPid,
        applicationName: 'h3-lock-holder',
        state: 'IDLE_IN_TRANSACTION',
        query: LOCK_SQL,
        blockedBy: [],
        queryVisible: true,
      },
    ],
  });

  it('shows the blocked query, the lock it waits for, and the session holding it', async () => {
    const blockedPid = await pidOf('h3-blocked');
    const rows = await waitFor('the blocked query', async () => {
      const found = await blockedQueries(api);
      return found.length > 0 ? found : undefined;
    });
    expect(rows).toEqual([expected()]);
    expect(rows[0]!.session.pid).toBe(blockedPid);
    const [inActivity] = await sessions(api, 'applicationName: "h3-blocked"');
    expect(inActivity!.blockedBy).toEqual([holderPid]);
  });

  it('works the same for a role with only pg_monitor', async () => {
    const asMonitor = createTestApp(monitor.url(target.name));
    try {
      await waitFor('the blocked query', async () => ((await blockedQueries(asMonitor)).length > 0 ? true : undefined));
      expect(await blockedQueries(asMonitor)).toEqual([expected()]);
      const [sleeper] = await sessions(asMonitor, 'applicationName: "h3-sleeper"');
      expect(sleeper).toMatchObject({ query: SLEEP_SHOWN, queryVisible: true, state: 'ACTIVE' });
    } finally {
      await asMonitor.close();
    }
  });

  it("degrades without pg_monitor: other roles' queries are hidden and their waits unseen", async () => {
    const asPlain = createTestApp(plain.url(target.name));
    try {
      // only pid, role, database and application remain
      const pid = await pidOf('h3-sleeper');
      const [sleeper] = await sessions(asPlain, 'applicationName: "h3-sleeper"');
      expect(sleeper).toEqual({
        pid,
        role: new URL(adminUrl()).username,
        applicationName: 'h3-sleeper',
        clientAddress: null,
        database: target.name,
        state: null,
        waitEventType: null,
        waitEvent: null,
        backendType: null,
        backendStart: null,
        transactionStart: null,
        queryStart: null,
        stateChange: null,
        durationMs: null,
        transactionDurationMs: null,
        query: null,
        queryVisible: false,
        queryId: null,
        blockedBy: [],
      });
      // an unknown state or duration matches no filter on them
      expect(await sessions(asPlain, 'applicationName: "h3-sleeper", state: [ACTIVE]')).toEqual([]);
      expect(await sessions(asPlain, 'applicationName: "h3-sleeper", minDurationMs: 0')).toEqual([]);
      expect(await blockedQueries(asPlain)).toEqual([]);
    } finally {
      await asPlain.close();
    }
  });

  it('is empty once the lock is released, and the blocked query completes', async () => {
    releaseLock();
    await holding;
    expect(await blocked).toEqual({ rows: [{ count: 100n }] });
    expect(await blockedQueries(api)).toEqual([]);
  });
});
