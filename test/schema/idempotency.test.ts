// Idempotency keys on the mutations that change the database: the same key with the same request
// gets the first request's change, also when both arrive at once at two pgscope instances (the key
// is claimed in PostgreSQL, not in memory); another request under the key is refused; dry runs and
// requests without a key behave as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database } from '../../src/db/pool.js';
import {
  createTestApp,
  createTestDatabase,
  errorCodes,
  TEST_ADMIN_TOKEN,
  testConfig,
  type TestApp,
  type TestDatabase,
} from '../harness/database.js';

const APPLY = `mutation($input: ApplyIndexInput!) {
  applyIndex(input: $input) {
    change { id status idempotencyKey dryRun }
    plan { name definition alreadyExists }
    index { name valid alreadyExisted }
  }
}`;
const DROP = `mutation($name: String!, $key: String) {
  dropIndex(name: $name, dryRun: false, idempotencyKey: $key) { change { id status } plan { name statements { sql } } }
}`;

interface ApplyData {
  applyIndex: {
    change: { id: string; status: string; idempotencyKey: string | null; dryRun: boolean };
    plan: { name: string; definition: string; alreadyExists: boolean };
    index: { name: string; valid: boolean; alreadyExisted: boolean } | null;
  };
}

let target: TestDatabase;
let owner: Database;
/** Two pgscope instances on one database, each with its own pool: replicas. */
let replicaA: TestApp;
let replicaB: TestApp;

beforeAll(async () => {
  target = await createTestDatabase('idempotency');
  owner = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  expect(await migrateOwnSchema(owner)).toMatchObject({ ok: true });
  await target.sql(`
    CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, total numeric NOT NULL);
    INSERT INTO orders SELECT g, g % 5000, g FROM generate_series(1, 200000) g;
    CREATE TABLE dupes (v int);
    INSERT INTO dupes VALUES (1), (1);
    ANALYZE orders`);
  replicaA = createTestApp(target.url, { ownSchemaReady: true });
  replicaB = createTestApp(target.url, { ownSchemaReady: true });
});

afterAll(async () => {
  await Promise.all([replicaA.close(), replicaB.close(), owner.end()]);
  await target.drop();
});

const apply = (api: TestApp, input: Record<string, unknown>) => api.gql<ApplyData>(APPLY, { input }, { token: TEST_ADMIN_TOKEN });

const indexesOf = (table: string) =>
  target.sql<{ name: string }>(`SELECT indexname AS name FROM pg_indexes WHERE tablename = $1 ORDER BY 1`, [table]);

const entries = (key: string) =>
  target.sql<{ id: string; status: string }>(`SELECT id::text, status FROM pgscope.change_log WHERE idempotency_key = $1 ORDER BY id`, [
    key,
  ]);

describe('idempotencyKey', () => {
  const byCustomer = { table: 'orders', columns: [{ column: 'customer_id' }], dryRun: false };

  it('two identical applyIndex at once, at two replicas: one change, one index, both answers SUCCEEDED with its id', async () => {
    const input = { ...byCustomer, idempotencyKey: 'deploy-42:orders.customer_id' };
    const [a, b] = await Promise.all([apply(replicaA, input), apply(replicaB, input)]);
    expect(a.errors).toBeUndefined();
    expect(b.errors).toBeUndefined();
    expect(a.data!.applyIndex.change).toMatchObject({ status: 'SUCCEEDED', idempotencyKey: 'deploy-42:orders.customer_id' });
    expect(b.data!.applyIndex.change).toEqual(a.data!.applyIndex.change);
    expect(b.data!.applyIndex.index).toEqual({ name: 'orders_customer_id_idx', valid: true, alreadyExisted: false });
    expect(b.data!.applyIndex.plan).toEqual(a.data!.applyIndex.plan);
    expect(await indexesOf('orders')).toEqual([{ name: 'orders_customer_id_idx' }, { name: 'orders_pkey' }]);
    expect(await entries('deploy-42:orders.customer_id')).toEqual([{ id: a.data!.applyIndex.change.id, status: 'SUCCEEDED' }]);
  });

  it('a retry after the change ended returns it again (its plan and outcome as they were), running nothing', async () => {
    const input = { ...byCustomer, idempotencyKey: 'deploy-42:orders.customer_id', wait: false };
    const again = await apply(replicaA, input);
    expect(again.errors).toBeUndefined();
    expect(again.data!.applyIndex).toMatchObject({
      change: { status: 'SUCCEEDED' },
      plan: { alreadyExists: false },
      index: { alreadyExisted: false },
    });
    expect(await entries('deploy-42:orders.customer_id')).toHaveLength(1);
  });

  it('the same key with other arguments is IDEMPOTENCY_KEY_REUSED, and nothing is planned, run or recorded', async () => {
    const before = await target.sql('SELECT count(*)::int AS n FROM pgscope.change_log');
    const other = await apply(replicaB, {
      table: 'orders',
      columns: [{ column: 'total' }],
      dryRun: false,
      idempotencyKey: 'deploy-42:orders.customer_id',
    });
    expect(errorCodes(other)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    expect(other.errors![0]!.message).toMatch(
      /^The idempotency key "deploy-42:orders.customer_id" was used within the last 24 hours for change \d+ \(applyIndex\) with other arguments; nothing was done\./,
    );
    const [entry] = await entries('deploy-42:orders.customer_id');
    expect(other.errors![0]!.extensions).toMatchObject({ changeId: entry!.id });
    const reused = await replicaA.gql(
      DROP,
      { name: 'orders_customer_id_idx', key: 'deploy-42:orders.customer_id' },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(errorCodes(reused)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    expect(await indexesOf('orders')).toEqual([{ name: 'orders_customer_id_idx' }, { name: 'orders_pkey' }]);
    expect(await target.sql('SELECT count(*)::int AS n FROM pgscope.change_log')).toEqual(before);
  });

  it('a malformed key is BAD_USER_INPUT before anything runs', async () => {
    for (const key of ['', 'has space', 'x'.repeat(129), "quote'"]) {
      const refused = await apply(replicaA, { ...byCustomer, idempotencyKey: key });
      expect(errorCodes(refused)).toEqual(['BAD_USER_INPUT']);
    }
    expect(await target.sql(`SELECT count(*)::int AS n FROM pgscope.change_log WHERE idempotency_key !~ '^deploy'`)).toEqual([{ n: 0 }]);
  });

  it('a dry run ignores the key; the real run that follows claims it', async () => {
    const input = { table: 'orders', columns: [{ column: 'total' }], idempotencyKey: 'total-1' };
    const dry = await apply(replicaA, { ...input, dryRun: true });
    expect(dry.data!.applyIndex.change).toMatchObject({ status: 'PLANNED', idempotencyKey: null, dryRun: true });
    const real = await apply(replicaA, { ...input, dryRun: false });
    expect(real.data!.applyIndex.change).toMatchObject({ status: 'SUCCEEDED', idempotencyKey: 'total-1', dryRun: false });
    expect(real.data!.applyIndex.change.id).not.toBe(dry.data!.applyIndex.change.id);
  });

  it('dropIndex retried after it succeeded returns the change and its stored plan, though the index is gone', async () => {
    const first = await replicaA.gql<{ dropIndex: { change: { id: string; status: string }; plan: unknown } }>(
      DROP,
      { name: 'orders_total_idx', key: 'drop-total' },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(first.data!.dropIndex.change.status).toBe('SUCCEEDED');
    const again = await replicaB.gql<typeof first.data>(DROP, { name: 'orders_total_idx', key: 'drop-total' }, { token: TEST_ADMIN_TOKEN });
    expect(again.errors).toBeUndefined();
    expect(again.data).toEqual(first.data);
  });

  it('a failed change is answered with its recorded error again, not run twice', async () => {
    const input = { table: 'dupes', columns: [{ column: 'v' }], unique: true, dryRun: false, idempotencyKey: 'unique-v' };
    const first = await apply(replicaA, input);
    expect(errorCodes(first)).toEqual(['INDEX_BUILD_FAILED']);
    const again = await apply(replicaB, input);
    expect(errorCodes(again)).toEqual(['INDEX_BUILD_FAILED']);
    expect(again.errors![0]!.message).toBe(first.errors![0]!.message);
    expect(again.errors![0]!.extensions!.changeId).toBe(first.errors![0]!.extensions!.changeId);
    expect(await entries('unique-v')).toEqual([{ id: first.errors![0]!.extensions!.changeId, status: 'FAILED' }]);
  });

  it('after 24 hours the key is free again', async () => {
    await target.sql(`UPDATE pgscope.idempotency_key SET claimed_at = now() - interval '25 hours' WHERE key = 'total-1'`);
    const reused = await apply(replicaA, {
      table: 'orders',
      columns: [{ column: 'customer_id' }, { column: 'total' }],
      dryRun: false,
      idempotencyKey: 'total-1',
    });
    expect(reused.errors).toBeUndefined();
    expect(reused.data!.applyIndex.change.status).toBe('SUCCEEDED');
    expect(await entries('total-1')).toHaveLength(2);
    expect(await target.sql(`SELECT key FROM pgscope.idempotency_key WHERE key = 'total-1'`)).toEqual([{ key: 'total-1' }]);
  });

  it('a change left RUNNING by a pgscope that died is returned as it stands, not waited for', async () => {
    const input = { table: 'orders', columns: [{ column: 'id' }, { column: 'total' }], dryRun: false, idempotencyKey: 'orphan' };
    const made = await apply(replicaB, input);
    // as a replica that died mid-build leaves its entry: RUNNING, its DDL session gone
    const [orphan] = await target.sql<{ id: string }>(
      `UPDATE pgscope.change_log SET status = 'RUNNING', finished_at = NULL, outcome = NULL, session_pid = 2147483647
       WHERE id = $1 RETURNING id::text`,
      [made.data!.applyIndex.change.id],
    );
    const replayed = await apply(replicaA, input);
    expect(replayed.errors?.map((e) => e.message)).toBeUndefined();
    expect(replayed.data!.applyIndex.change).toMatchObject({ id: orphan!.id, status: 'RUNNING' });
  });

  it('without a key nothing changes: each request is its own change', async () => {
    const first = await apply(replicaA, byCustomer);
    const second = await apply(replicaB, byCustomer);
    expect(first.data!.applyIndex.change.id).not.toBe(second.data!.applyIndex.change.id);
    expect(second.data!.applyIndex).toMatchObject({
      change: { status: 'SUCCEEDED', idempotencyKey: null },
      index: { alreadyExisted: true },
    });
  });
});
