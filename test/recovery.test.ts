// pgscope killed (SIGKILL) while it builds an index: the next start finds the change it left
// RUNNING, marks it INTERRUPTED, drops the INVALID index the build left, and says so in the change
// log and on the console. pgscope stopped (SIGTERM) while a build waits for an old transaction:
// it exits within its grace and wind-down, records what it left, and the next start drops it.
// Real processes, as `npm start` runs them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/db/pool.js';
import { buildInPhase, WAITING_FOR_WRITERS } from './actions/ddlFixtures.js';
import { createTestDatabase, testConfig, type TestDatabase } from './harness/database.js';
import { startServerProcess } from './harness/process.js';
import { waitFor } from './harness/waitFor.js';

const TOKEN = 'k'.repeat(24);
let target: TestDatabase;

beforeAll(async () => {
  target = await createTestDatabase('recovery');
  await target.sql(`
    CREATE TABLE items (id int PRIMARY KEY, email text NOT NULL);
    INSERT INTO items SELECT g, 'item' || g || '@example.com' FROM generate_series(1, 20000) g`);
});

afterAll(async () => {
  await target.drop();
});

function start(env: Record<string, string> = {}) {
  return startServerProcess({
    DATABASE_URL: target.url,
    PORT: '0',
    PGSCOPE_ADMIN_TOKEN: TOKEN,
    PGSCOPE_DDL_LOCK_TIMEOUT_MS: '60000',
    ...env,
  });
}

async function applyIndex(port: number, columns: string): Promise<{ id: string; status: string; sessionPid: number }> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({
      query: `mutation { applyIndex(input: { table: "items", columns: [${columns}], dryRun: false, wait: false }) { change { id status sessionPid } } }`,
    }),
  });
  const { data } = (await response.json()) as { data: { applyIndex: { change: { id: string; status: string; sessionPid: number } } } };
  return data.applyIndex.change;
}

async function startedPort(server: ReturnType<typeof start>): Promise<number> {
  const output = await server.waitFor('Press Ctrl-C to stop.');
  return Number(/GraphiQL: +http:\/\/localhost:(\d+)\/graphql/.exec(output)![1]);
}

const indexState = async (name = 'items_email_idx') =>
  target.sql<{ valid: boolean }>(
    'SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1',
    [name],
  );

describe('a build running while pgscope is killed', () => {
  it('leaves no INVALID index of its own after the next start, and the change log says what happened', async () => {
    const first = start();
    const port = await startedPort(first);
    const [{ version }] = (await target.sql<{ version: number }>("SELECT current_setting('server_version_num')::int AS version")) as [
      { version: number },
    ];
    // an open writer holds the concurrent build in "waiting for writers before build": it is surely running when killed
    const writer = new Database(target.url, { applicationName: 'pgscope-test-writer', pool: testConfig().pool });
    try {
      await writer.withClient(async (client) => {
        await client.query('BEGIN');
        await client.query("INSERT INTO items VALUES (0, 'writer@example.com')");
        const change = await applyIndex(port, '{ column: "email" }');
        expect(change.status).toBe('RUNNING');
        const pid = change.sessionPid;
        expect(await buildInPhase(target, 'items', WAITING_FOR_WRITERS)).toBe(pid);

        first.child.kill('SIGKILL');
        expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
        const gone = async () => (await target.sql('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).length === 0;
        if (version >= 140000) {
          // client_connection_check_interval: the orphaned build notices its client is gone and stops, leaving its INVALID index
          await waitFor(`the orphaned build (backend ${pid}) to stop`, gone);
          expect(await indexState()).toEqual([{ valid: false }]);
          await client.query('COMMIT');
        } else {
          // PostgreSQL 13 cannot notice a dead client while it waits: the build finishes once the writer is done
          await client.query('COMMIT');
          await waitFor(`the build (backend ${pid}) to finish`, gone);
        }
      });
    } finally {
      await writer.end();
    }

    const second = start();
    try {
      await startedPort(second);
      const [entry] = await target.sql<{ status: string; error_message: string }>(
        "SELECT status, error_message FROM pgscope.change_log WHERE action = 'applyIndex'",
      );
      expect(entry!.status).toBe('INTERRUPTED');
      if (version >= 140000) {
        expect(second.output()).toContain(
          '(applyIndex) was interrupted by an earlier stop; dropped the INVALID index it left: public.items_email_idx',
        );
        expect(entry!.error_message).toContain('public.items_email_idx: dropped');
        expect(await indexState()).toEqual([]);
      } else {
        expect(entry!.error_message).toContain('public.items_email_idx: valid (the build had finished; kept)');
        expect(await indexState()).toEqual([{ valid: true }]);
      }
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});

describe('SIGTERM while a build waits for an old transaction', () => {
  const GRACE_MS = 1_000;
  /** src/server.ts: after the grace, an interrupted change gets this long to clean up. */
  const WIND_DOWN_MS = 5_000;

  it('exits 0 within the grace and the wind-down, records INTERRUPTED with what it left, and the next start drops it', async () => {
    // a reporting transaction: its snapshot holds the build in "waiting for old snapshots", its
    // lock on items holds the cleanup's DROP INDEX CONCURRENTLY past any short bound
    const reader = new Database(target.url, { applicationName: 'pgscope-test-reader', pool: testConfig().pool });
    const session = await reader.openSession({ applicationName: 'pgscope-test-reader', lockTimeoutMs: 1_000 });
    const first = start({ PGSCOPE_SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    let id: string;
    try {
      await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await session.query('SELECT count(*) FROM public.items');
      const port = await startedPort(first);
      const change = await applyIndex(port, '{ column: "email" }, { column: "id" }');
      id = change.id;
      const phase = "SELECT 1 FROM pg_stat_progress_create_index WHERE pid = $1 AND phase = 'waiting for old snapshots'";
      await waitFor('the build to wait for old snapshots', async () => (await target.sql(phase, [change.sessionPid])).length > 0);

      const signalled = Date.now();
      first.child.kill('SIGTERM');
      expect(await first.exited).toEqual({ code: 0, signal: null });
      // the bound shutdown promises, with room for a loaded machine
      expect(Date.now() - signalled).toBeLessThan(GRACE_MS + WIND_DOWN_MS + 5_000);
      expect(first.output()).toContain(
        `pgscope: change ${id} (applyIndex) was interrupted by the stop; left for the next start: public.items_email_id_idx.`,
      );
      const [entry] = await target.sql<{ status: string; error_message: string; outcome: unknown }>(
        'SELECT status, error_message, outcome FROM pgscope.change_log WHERE id = $1',
        [id],
      );
      expect(entry).toEqual({
        status: 'INTERRUPTED',
        error_message:
          'pgscope stopped while the change ran; its statement was cancelled. What it was creating: public.items_email_id_idx: INVALID, left for the next start to drop.',
        outcome: { cleanup: [{ kind: 'index', schema: 'public', name: 'items_email_id_idx', state: 'INVALID' }] },
      });
      expect(await indexState('items_email_id_idx')).toEqual([{ valid: false }]);
    } finally {
      await session.query('ROLLBACK').catch(() => undefined);
      await session.close();
      await reader.end();
    }

    const second = start();
    try {
      await startedPort(second);
      expect(second.output()).toContain(
        `pgscope: change ${id} (applyIndex) had ended INTERRUPTED with what it created left behind; dropped the INVALID index it left: public.items_email_id_idx`,
      );
      expect(await indexState('items_email_id_idx')).toEqual([]);
      const [entry] = await target.sql<{ status: string; error_message: string }>(
        'SELECT status, error_message FROM pgscope.change_log WHERE id = $1',
        [id],
      );
      expect(entry).toEqual({
        status: 'INTERRUPTED',
        error_message:
          'pgscope stopped while the change ran; its statement was cancelled. What it was creating: public.items_email_id_idx: INVALID, left for the next start to drop. ' +
          'At the next start pgscope checked what the change had created: public.items_email_id_idx: dropped.',
      });
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
