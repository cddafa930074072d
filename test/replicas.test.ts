// Two pgscope processes against one database, as replicas behind a load balancer (issue 15): they
// coordinate through PostgreSQL only. One starting while the other runs a change leaves that change
// alone; one idempotency key names one change whichever replica hears it; scheduled captures do not
// double the history. The second also serves a second database (PGSCOPE_TARGETS).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/db/pool.js';
import { createTestDatabase, TEST_ADMIN_TOKEN, testConfig, type TestDatabase } from './harness/database.js';
import { startServerProcess, type ServerProcess } from './harness/process.js';
import { waitFor } from './harness/waitFor.js';

let target: TestDatabase;
let other: TestDatabase;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  [target, other] = await Promise.all([createTestDatabase('replicas'), createTestDatabase('replicas_other')]);
  await target.sql(
    'CREATE TABLE orders (id int PRIMARY KEY, customer int); INSERT INTO orders SELECT g, g % 100 FROM generate_series(1, 20000) g',
  );
  await other.sql('CREATE TABLE invoices (id int PRIMARY KEY)');
});

afterAll(async () => {
  for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGKILL');
  await Promise.all([target.drop(), other.drop()]);
});

/** Starts pgscope on a free port against the test database; resolves with its GraphQL URL. */
async function start(env: Record<string, string> = {}): Promise<{ server: ServerProcess; url: string }> {
  const server = startServerProcess({
    DATABASE_URL: target.url,
    PORT: '0',
    PGSCOPE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    PGSCOPE_CAPTURE_INTERVAL_S: '1',
    PGSCOPE_LOG_LEVEL: 'silent',
    ...env,
  });
  servers.push(server);
  const output = await server.waitFor('Press Ctrl-C to stop.');
  const port = /GraphiQL: +http:\/\/localhost:(\d+)\/graphql/.exec(output)![1];
  return { server, url: `http://127.0.0.1:${port}/graphql` };
}

async function gql<Data>(url: string, query: string, headers: Record<string, string> = {}): Promise<{ data?: Data; errors?: unknown[] }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...headers },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data?: Data; errors?: unknown[] };
}

const APPLY = `mutation { applyIndex(input: { table: "orders", columns: [{ column: "customer" }], dryRun: false, wait: false, idempotencyKey: "deploy-42" }) { change { id status } } }`;
type Applied = { applyIndex: { change: { id: string; status: string } } };
const status = async (url: string, id: string) =>
  (await gql<{ changeLogEntry: { status: string } }>(url, `{ changeLogEntry(id: "${id}") { status } }`)).data?.changeLogEntry.status;

describe('two replicas against one database', () => {
  it('coordinate changes and snapshots through PostgreSQL', { timeout: 120_000 }, async () => {
    const first = await start();
    const writer = new Database(target.url, { applicationName: 'replicas-writer', pool: testConfig().pool });
    try {
      const change = await writer.withClient(async (client) => {
        // an open writing transaction holds the first replica's concurrent build in its first wait
        await client.query('BEGIN');
        await client.query('INSERT INTO orders VALUES (0, 0)');
        const applied = await gql<Applied>(first.url, APPLY);
        expect(applied.errors).toBeUndefined();
        const running = applied.data!.applyIndex.change;
        expect(running.status).toBe('RUNNING');

        // The second replica starts while the change runs: its start-up recovery leaves it alone,
        // and the same key sent to it names the same change.
        const second = await start({ PGSCOPE_TARGETS: `billing=${other.url}` });
        expect(second.server.output()).not.toContain('was interrupted');
        expect(await status(second.url, running.id)).toBe('RUNNING');
        const again = await gql<Applied>(second.url, APPLY);
        expect(again.data!.applyIndex.change).toEqual({ id: running.id, status: 'RUNNING' });

        // the second replica also serves another database, by name
        const tables = await gql<{ tables: { edges: Array<{ node: { name: string } }> } }>(
          second.url,
          '{ tables(first: 5) { edges { node { name } } } }',
          { 'x-pgscope-target': 'billing' },
        );
        expect(tables.data!.tables.edges.map((edge) => edge.node.name)).toEqual(['invoices']);
        await client.query('COMMIT');
        return running;
      });
      await waitFor('the change to succeed', async () => (await status(first.url, change.id)) === 'SUCCEEDED');
      expect(await target.sql("SELECT indexname FROM pg_indexes WHERE tablename = 'orders' AND indexname <> 'orders_pkey'")).toEqual([
        { indexname: 'orders_customer_idx' },
      ]);
      expect(await target.sql('SELECT count(*)::int AS n FROM pgscope.change_log WHERE NOT dry_run')).toEqual([{ n: 1 }]);
    } finally {
      await writer.end();
    }

    // Both capture every second on their own timers: about one snapshot a second, not two.
    const since = new Date();
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const taken = await target.sql<{ captured_at: Date }>(
      'SELECT captured_at FROM pgscope.query_stats_snapshot WHERE captured_at >= $1 ORDER BY captured_at',
      [since],
    );
    expect(taken.length).toBeGreaterThanOrEqual(3);
    expect(taken.length).toBeLessThanOrEqual(6);
    for (let i = 1; i < taken.length; i += 1) {
      expect(taken[i]!.captured_at.getTime() - taken[i - 1]!.captured_at.getTime()).toBeGreaterThanOrEqual(500);
    }

    for (const server of servers) server.child.kill('SIGTERM');
    for (const server of servers) expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});
