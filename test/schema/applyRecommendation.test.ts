// applyRecommendation: the id is the definition, checked again against the catalog; the index is
// built through applyIndex's path; the statements it was for are planned again and use it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecommendationId } from '../../src/advisor/recommendationId.js';
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
import { queryIdOf } from '../harness/stats.js';

const APPLY = `mutation($id: ID!, $dryRun: Boolean) {
  applyRecommendation(id: $id, dryRun: $dryRun) {
    change { action status helpsQueryIds statements }
    plan { name alreadyExists }
    index { name valid alreadyExisted }
    statements { queryId usesIndex topNode problem }
  }
}`;

let target: TestDatabase;
let owner: Database;
let api: TestApp;
let queryId: string;

beforeAll(async () => {
  target = await createTestDatabase('apply_recommendation');
  owner = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  expect(await migrateOwnSchema(owner)).toMatchObject({ ok: true });
  await target.sql(`
    CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, total numeric NOT NULL);
    INSERT INTO orders SELECT g, g % 5000, g FROM generate_series(1, 100000) g;
    ANALYZE orders`);
  for (let i = 0; i < 3; i++) await target.sql('SELECT id, total FROM orders WHERE customer_id = $1', [i]);
  // indexRecommendation.test.ts runs the same text in its database, where the queryid differs
  queryId = await queryIdOf(target, 'SELECT id, total FROM orders WHERE customer_id = $1');
  api = createTestApp(target.url, { ownSchemaReady: true });
});

afterAll(async () => {
  await Promise.all([api.close(), owner.end()]);
  await target.drop();
});

const recommendation = (table = 'orders') =>
  encodeRecommendationId({
    schema: 'public',
    table,
    method: 'btree',
    keys: [{ column: 'customer_id', expression: null, direction: null, nulls: null, opclass: null }],
    where: null,
    include: [],
    forQueryIds: [queryId],
  });

type Payload = {
  applyRecommendation: {
    change: Record<string, unknown>;
    plan: Record<string, unknown>;
    index: Record<string, unknown> | null;
    statements: unknown[] | null;
  };
};

describe('applyRecommendation', () => {
  it('is a dry run unless told otherwise', async () => {
    const result = await api.gql<Payload>(APPLY, { id: recommendation() }, { token: TEST_ADMIN_TOKEN });
    expect(result.errors).toBeUndefined();
    expect(result.data!.applyRecommendation).toMatchObject({
      change: { action: 'applyRecommendation', status: 'PLANNED', helpsQueryIds: [queryId] },
      plan: { name: 'orders_customer_id_idx', alreadyExists: false },
      index: null,
      statements: null,
    });
  });

  it('builds the index, and the statement it was for now uses it', async () => {
    const result = await api.gql<Payload>(APPLY, { id: recommendation(), dryRun: false }, { token: TEST_ADMIN_TOKEN });
    expect(result.errors).toBeUndefined();
    expect(result.data!.applyRecommendation).toMatchObject({
      change: {
        status: 'SUCCEEDED',
        statements: ['CREATE INDEX CONCURRENTLY "orders_customer_id_idx" ON "public"."orders" USING "btree" ("customer_id")'],
      },
      index: { name: 'orders_customer_id_idx', valid: true, alreadyExisted: false },
      statements: [{ queryId, usesIndex: true, topNode: expect.stringMatching(/(Index|Bitmap Heap) Scan/), problem: null }],
    });
  });

  it('stays valid once applied: the same id returns the existing index', async () => {
    const result = await api.gql<Payload>(APPLY, { id: recommendation(), dryRun: false }, { token: TEST_ADMIN_TOKEN });
    expect(result.data!.applyRecommendation).toMatchObject({
      plan: { alreadyExists: true },
      index: { name: 'orders_customer_id_idx', alreadyExisted: true },
      statements: [{ queryId, usesIndex: true }],
    });
  });

  it('refuses forged ids and ids naming what no longer exists with BAD_USER_INPUT', async () => {
    for (const id of ['rec1:e30', 'DROP TABLE orders', recommendation('orders_gone')]) {
      const result = await api.gql(APPLY, { id, dryRun: false }, { token: TEST_ADMIN_TOKEN });
      expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('refuses an id whose query ids are not int8 before building anything', async () => {
    const forged = encodeRecommendationId({
      schema: 'public',
      table: 'orders',
      method: 'btree',
      keys: [{ column: 'total', expression: null, direction: null, nulls: null, opclass: null }],
      where: null,
      include: [],
      forQueryIds: ['99999999999999999999'],
    });
    const result = await api.gql(APPLY, { id: forged, dryRun: false }, { token: TEST_ADMIN_TOKEN });
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
    expect(
      await target.sql("SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = 'orders'::regclass ORDER BY 1"),
    ).toEqual([{ name: 'orders_customer_id_idx' }, { name: 'orders_pkey' }]);
  });

  it('needs the admin token', async () => {
    const result = await api.gql(APPLY, { id: recommendation(), dryRun: false });
    expect(errorCodes(result)).toEqual(['UNAUTHENTICATED']);
  });
});
