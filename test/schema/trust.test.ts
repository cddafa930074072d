// Planning runs functions (issue 12, item 1.1), through the API: an anonymous reader's explain
// gets UNTRUSTED_CODE, the advisor report lists the statement it skipped and why, and
// applyRecommendation does not plan it again; PGSCOPE_TRUSTED_ROLES makes mallory's code plannable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecommendationId } from '../../src/advisor/recommendationId.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database } from '../../src/db/pool.js';
import { trustRemedy } from '../../src/db/trust/rule.js';
import { createTestApp, createTestDatabase, TEST_ADMIN_TOKEN, testConfig, type TestApp, type TestDatabase } from '../harness/database.js';
import { createMallory, type Mallory } from '../harness/mallory.js';
import { queryIdOf, RESET_THIS_DATABASE_STATEMENTS } from '../harness/stats.js';

const EXPLAIN = `query($sql: String, $queryId: ID) { explain(sql: $sql, queryId: $queryId) { totalCost } }`;
const REPORT = `{ indexAdvisorReport(minImprovement: 0) { skipped recommendations { schema table } } }`;
const APPLY = `mutation($id: ID!) {
  applyRecommendation(id: $id, dryRun: false) {
    index { name }
    statements { queryId usesIndex problem }
  }
}`;

const HERS = 'SELECT id FROM mallory.orders WHERE customer_id = 42 AND mallory.evil() > 0';
const OURS = 'SELECT id FROM orders WHERE customer_id = 42';

let target: TestDatabase;
let owner: Database;
let mallory: Mallory;
let api: TestApp;
let hers: string;
let ours: string;

beforeAll(async () => {
  target = await createTestDatabase('api_trust');
  owner = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  expect(await migrateOwnSchema(owner)).toMatchObject({ ok: true });
  mallory = await createMallory(target);
  await target.sql(`
    CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL);
    INSERT INTO orders SELECT g, g % 5000 FROM generate_series(1, 100000) g;
    ANALYZE orders`);
  await mallory.run(`
    CREATE TABLE mallory.orders (id int PRIMARY KEY, customer_id int NOT NULL);
    INSERT INTO mallory.orders SELECT g, g % 5000 FROM generate_series(1, 100000) g;
    ANALYZE mallory.orders;
    GRANT SELECT ON mallory.orders TO PUBLIC`);
  // the loads are not the workload: write overhead counts the workload's own writes since the reset
  await target.sql(RESET_THIS_DATABASE_STATEMENTS);
  for (let i = 0; i < 3; i++) {
    await mallory.run(HERS);
    await target.sql(OURS);
  }
  hers = await queryIdOf(target, 'SELECT id FROM mallory.orders WHERE customer_id = $1 AND mallory.evil() > $2');
  ours = await queryIdOf(target, 'SELECT id FROM orders WHERE customer_id = $1');
  api = createTestApp(target.url, { ownSchemaReady: true });
});

afterAll(async () => {
  await Promise.all([api.close(), owner.end()]);
  await target.drop();
  await mallory.role.drop();
});

// the tests connect as the superuser: the evidence is under that role
const ranAsPgscope = async () => mallory.ranVia((await target.sql<{ name: string }>('SELECT current_user AS name'))[0]!.name);

describe('explain without the admin token', () => {
  it('refuses her view with UNTRUSTED_CODE, by SQL and by queryId', async () => {
    const owner = mallory.role.name;
    const bySql = await api.gql(EXPLAIN, { sql: 'SELECT * FROM mallory.summary' });
    expect(bySql.errors).toEqual([
      expect.objectContaining({
        message:
          "explain plans a statement only when the code planning could run is trusted (PostgreSQL evaluates functions while planning, as pgscope's role); " +
          `this one was not planned: it reaches function mallory.evil(text), owned by role ${owner}, through view mallory.summary. ${trustRemedy(owner)}.`,
        extensions: { code: 'UNTRUSTED_CODE', function: 'mallory.evil(text)', owner, within: 'view mallory.summary' },
      }),
    ]);
    const byQueryId = await api.gql(EXPLAIN, { queryId: hers });
    expect(byQueryId.errors?.map((error) => error.extensions)).toEqual([{ code: 'UNTRUSTED_CODE', function: 'mallory.evil(text)', owner }]);
    expect(await ranAsPgscope()).toEqual([]);
  });
});

describe('the advisor', () => {
  it('lists her statement among the skipped, with why, and recommends for the others', async () => {
    const result = await api.gql<{ indexAdvisorReport: { skipped: string[]; recommendations: Array<{ schema: string; table: string }> } }>(
      REPORT,
      undefined,
      {
        token: TEST_ADMIN_TOKEN,
      },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.indexAdvisorReport.skipped).toContain(
      `queryId ${hers}: planning it could run code pgscope does not trust: it calls function mallory.evil(text), owned by role ${mallory.role.name} ` +
        '(to trust that role, add it to PGSCOPE_TRUSTED_ROLES)',
    );
    expect(result.data!.indexAdvisorReport.recommendations).toEqual([{ schema: 'public', table: 'orders' }]);
    expect(await ranAsPgscope()).toEqual([]);
  });

  it('does not plan her statement again after applying a recommendation made for it', async () => {
    const id = encodeRecommendationId({
      schema: 'public',
      table: 'orders',
      method: 'btree',
      keys: [{ column: 'customer_id', expression: null, direction: null, nulls: null, opclass: null }],
      where: null,
      include: [],
      forQueryIds: [ours, hers],
    });
    const result = await api.gql<{ applyRecommendation: { statements: Array<{ queryId: string }> } }>(
      APPLY,
      { id },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(result.errors).toBeUndefined();
    // in the id's order, which is not the order given
    const statements = [...result.data!.applyRecommendation.statements].sort((a, b) =>
      a.queryId === ours ? -1 : b.queryId === ours ? 1 : 0,
    );
    expect(statements).toEqual([
      { queryId: ours, usesIndex: true, problem: null },
      {
        queryId: hers,
        usesIndex: false,
        problem: expect.stringMatching(/^It could not be planned: planning it could run code pgscope does not trust: /),
      },
    ]);
    expect(await ranAsPgscope()).toEqual([]);
  });
});

describe('PGSCOPE_TRUSTED_ROLES', () => {
  it('lets explain plan her statement, which then runs her function', async () => {
    const trusting = createTestApp(target.url, { env: { PGSCOPE_TRUSTED_ROLES: mallory.role.name } });
    try {
      const result = await trusting.gql<{ explain: { totalCost: number } }>(EXPLAIN, { sql: 'SELECT * FROM mallory.summary' });
      expect(result.errors).toBeUndefined();
      expect(await ranAsPgscope()).toEqual(['view']);
    } finally {
      await trusting.close();
    }
  });
});
