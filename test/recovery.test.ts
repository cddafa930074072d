// pgscope killed (SIGKILL) while it builds an index: the next start finds the change it left
// RUNNING, marks it INTERRUPTED, drops the INVALID index the build left, and says so in the change
// log and on the console. Real processes, as `npm start` runs them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from './harness/database.js';
import { startServerProcess } from './harness/process.js';

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

function start() {
  return startServerProcess({ DATABASE_URL: target.url, PORT: '0', PGSCOPE_ADMIN_TOKEN: TOKEN, PGSCOPE_DDL_LOCK_TIMEOUT_MS: '60000' });
}

async function startedPort(server: ReturnType<typeof start>): Promise<number> {
  const output = await server.waitFor('Press Ctrl-C to stop.');
  return Number(/GraphiQL: +http:\/\/localhost:(\d+)\/graphql/.exec(output)![1]);
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

const indexState = async () =>
  target.sql<{ valid: boolean }>("SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'items_email_idx'");

describe('a build running while pgscope is killed', () => {
  it('leaves no INVALID index of its own after the next start, and the change log says what happened', async () => {
    const first = start();
    const port = await startedPort(first);
    const [{ version }] = (await target.sql<{ version: number }>("SELECT current_setting('server_version_num')::int AS version")) as [{ version: number }];
    // an open writer holds the concurrent build in "waiting for writers before build": it is surely running when killed
    const writer = new Database(target.url, { applicationName: 'pgscope-test-writer', pool: testConfig().pool });
    try {
      await writer.withClient(async (client) => {
        await client.query('BEGIN');
        await client.query("INSERT INTO items VALUES (0, 'writer@example.com')");
        const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({
            query: 'mutation { applyIndex(input: { table: "items", columns: [{ column: "email" }], dryRun: false, wait: false }) { change { id status sessionPid } } }',
          }),
        });
        const { data } = (await response.json()) as { data: { applyIndex: { change: { id: string; status: string; sessionPid: number } } } };
        expect(data.applyIndex.change.status).toBe('RUNNING');
        const pid = data.applyIndex.change.sessionPid;
        expect(await waitUntil(async () => (await target.sql('SELECT 1 FROM pg_stat_progress_create_index WHERE pid = $1', [pid])).length > 0)).toBe(true);

        first.child.kill('SIGKILL');
        expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
        const gone = async () => (await target.sql('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).length === 0;
        if (version >= 140000) {
          // client_connection_check_interval: the orphaned build notices its client is gone and stops, leaving its INVALID index
          expect(await waitUntil(gone)).toBe(true);
          expect(await indexState()).toEqual([{ valid: false }]);
          await client.query('COMMIT');
        } else {
          // PostgreSQL 13 cannot notice a dead client while it waits: the build finishes once the writer is done
          await client.query('COMMIT');
          expect(await waitUntil(gone)).toBe(true);
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
        expect(second.output()).toContain('(applyIndex) was interrupted by an earlier stop; dropped the INVALID index it left: public.items_email_idx');
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
