// One pgscope, two databases (issue 15): each operation reads and changes the target its @target
// directive or X-Pgscope-Target header names, through that target's own pool and change log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CapabilitiesCache } from '../../src/db/capabilities.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database } from '../../src/db/pool.js';
import { createApp, type App } from '../../src/yoga.js';
import { createTestDatabase, errorCodes, TEST_ADMIN_TOKEN, testConfig, type GqlResult, type TestDatabase } from '../harness/database.js';

let main: TestDatabase;
let billing: TestDatabase;
let databases: Database[];
let app: App;

beforeAll(async () => {
  [main, billing] = await Promise.all([createTestDatabase('targets_main'), createTestDatabase('targets_billing')]);
  await main.sql('CREATE TABLE users (id int PRIMARY KEY, email text)');
  await billing.sql(
    'CREATE TABLE invoices (id int PRIMARY KEY, customer int); INSERT INTO invoices SELECT g, g % 50 FROM generate_series(1, 5000) g',
  );
  const config = testConfig({ PGSCOPE_ADMIN_TOKEN: TEST_ADMIN_TOKEN, PGSCOPE_SUBSCRIPTION_MIN_INTERVAL_MS: '100' });
  databases = [main, billing].map(
    (each) => new Database(each.url, { applicationName: 'pgscope-test', pool: config.pool, warn: () => undefined }),
  );
  for (const database of databases) expect(await migrateOwnSchema(database)).toMatchObject({ ok: true });
  const [mainDb, billingDb] = databases as [Database, Database];
  app = createApp(
    {
      config,
      database: mainDb,
      capabilities: new CapabilitiesCache(mainDb),
      ownSchemaReady: true,
      targets: new Map([['billing', { database: billingDb, capabilities: new CapabilitiesCache(billingDb), ownSchemaReady: true }]]),
    },
    { logging: false },
  );
});

afterAll(async () => {
  await Promise.all(databases.map((database) => database.end()));
  await Promise.all([main.drop(), billing.drop()]);
});

async function gql<Data = Record<string, unknown>>(
  query: string,
  headers: Record<string, string> = {},
  variables = {},
): Promise<GqlResult<Data>> {
  const response = await app.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GqlResult<Data>;
}

const TABLES = '{ tables(first: 10) { edges { node { name } } } targets { name isDefault selected } }';
type Tables = {
  tables: { edges: Array<{ node: { name: string } }> };
  targets: Array<{ name: string; isDefault: boolean; selected: boolean }>;
};
const names = (result: GqlResult<Tables>) => result.data!.tables.edges.map((edge) => edge.node.name);

describe('choosing a target', () => {
  it('reads the default target when the operation names none', async () => {
    const result = await gql<Tables>(TABLES);
    expect(result.errors).toBeUndefined();
    expect(names(result)).toEqual(['users']);
    expect(result.data!.targets).toEqual([
      { name: 'default', isDefault: true, selected: true },
      { name: 'billing', isDefault: false, selected: false },
    ]);
  });

  it('reads the target the X-Pgscope-Target header names', async () => {
    const result = await gql<Tables>(TABLES, { 'x-pgscope-target': 'billing' });
    expect(names(result)).toEqual(['invoices']);
    expect(result.data!.targets.find((target) => target.selected)?.name).toBe('billing');
  });

  it('reads the target the @target directive names, from a variable too', async () => {
    expect(names(await gql<Tables>(`query @target(name: "billing") ${TABLES}`))).toEqual(['invoices']);
    expect(names(await gql<Tables>(`query ($t: String!) @target(name: $t) ${TABLES}`, {}, { t: 'billing' }))).toEqual(['invoices']);
    expect(names(await gql<Tables>(`query @target(name: "default") ${TABLES}`))).toEqual(['users']);
  });

  it('answers NOT_FOUND for a name it does not serve, and BAD_USER_INPUT when directive and header disagree, before any SQL', async () => {
    const unknown = await gql<Tables>(TABLES, { 'x-pgscope-target': 'payroll' });
    expect(errorCodes(unknown)).toEqual(['NOT_FOUND']);
    expect(unknown.errors![0]!.message).toBe('No target named "payroll": this pgscope serves default, billing.');
    expect(unknown.data).toBeUndefined();
    const both = await gql<Tables>(`query @target(name: "billing") ${TABLES}`, { 'x-pgscope-target': 'default' });
    expect(errorCodes(both)).toEqual(['BAD_USER_INPUT']);
    expect((both as { extensions?: { sqlStatements?: number } }).extensions?.sqlStatements ?? 0).toBe(0);
  });
});

describe('changes on a target', () => {
  it("build the index in that target's database and record it in that target's change log", async () => {
    const applied = await gql<{ applyIndex: { change: { id: string; status: string } } }>(
      'mutation @target(name: "billing") { applyIndex(input: { table: "invoices", columns: [{ column: "customer" }], dryRun: false }) { change { id status } } }',
    );
    expect(applied.errors).toBeUndefined();
    expect(applied.data!.applyIndex.change.status).toBe('SUCCEEDED');
    expect(await billing.sql("SELECT indexname FROM pg_indexes WHERE tablename = 'invoices' AND indexname <> 'invoices_pkey'")).toEqual([
      { indexname: 'invoices_customer_idx' },
    ]);
    expect(await billing.sql("SELECT action FROM pgscope.change_log WHERE status = 'SUCCEEDED'")).toEqual([{ action: 'applyIndex' }]);
    expect(await main.sql('SELECT count(*)::int AS n FROM pgscope.change_log')).toEqual([{ n: 0 }]);
    const entry = await gql<{ changeLogEntry: { action: string } }>(
      `{ changeLogEntry(id: "${applied.data!.applyIndex.change.id}") { action } }`,
      { 'x-pgscope-target': 'billing' },
    );
    expect(entry.data?.changeLogEntry).toEqual({ action: 'applyIndex' });
  });
});

describe('the service around the targets', () => {
  it('is ready when every target is, and says so per target', async () => {
    const response = await app.fetch('http://localhost/ready');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      ready: true,
      targets: { default: { ready: true, database: 'reachable', pool: 'ok' }, billing: { ready: true, database: 'reachable', pool: 'ok' } },
    });
  });

  it("labels each target's pool in the metrics", async () => {
    const text = await (await app.fetch('http://localhost/metrics')).text();
    expect(text).toContain('pgscope_pool_max_connections{target="default"} 4');
    expect(text).toContain('pgscope_pool_max_connections{target="billing"} 4');
  });

  it('streams a subscription from the target it names', async () => {
    const client = new Database(billing.url, { applicationName: 'billing-app', pool: testConfig().pool });
    await client.query('SELECT 1');
    try {
      const sessions = async (target: string) => {
        const response = await app.fetch('http://localhost/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({
            query: `subscription @target(name: "${target}") { activity(includeIdle: true, applicationName: "billing-app", intervalMs: 100) { database } }`,
          }),
        });
        const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
        let text = '';
        while (!/^data: .+$/m.test(text)) text += (await reader.read()).value ?? '';
        await reader.cancel();
        return (JSON.parse(/^data: (.+)$/m.exec(text)![1]!) as { data: { activity: Array<{ database: string }> } }).data.activity;
      };
      expect(await sessions('billing')).toEqual([{ database: billing.name }]);
      expect(await sessions('default')).toEqual([]);
    } finally {
      await client.end();
    }
  });
});
