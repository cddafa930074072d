// The advisor plans the workload's statements (HypoPG's what-if plans, or the plan before of the
// pg_stats estimate): a statement whose planning could run mallory's code is skipped with the
// reason and never planned, while the other statements still get their indexes; applyRecommendation's
// re-plan (checkStatementsUse) skips it too. As a least-privilege role and as a superuser.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recommendIndexes } from '../../src/advisor/recommend.js';
import { checkStatementsUse } from '../../src/advisor/verify.js';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { createMallory, type Mallory } from '../harness/mallory.js';
import { queryIdOf, RESET_THIS_DATABASE_STATEMENTS } from '../harness/stats.js';
import { createRole, type TestRole } from '../harness/roles.js';
import { NO_EXTRA_TRUST } from '../../src/config.js';

let target: TestDatabase;
let mallory: Mallory;
let monitor: TestRole;
let superuser: string;
/** queryids of her statement (planning it folds mallory.evil()) and of the superuser's own */
let hers: string;
let ours: string;

const HERS = 'SELECT id FROM mallory.orders WHERE customer_id = 42 AND mallory.evil() > 0';
const OURS = 'SELECT id FROM orders WHERE customer_id = 42';

beforeAll(async () => {
  target = await createTestDatabase('advisor_trust');
  mallory = await createMallory(target);
  monitor = await createRole('scope', ['pg_monitor']);
  superuser = (await target.sql<{ name: string }>('SELECT current_user AS name'))[0]!.name;
  await target.sql(`
    CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL);
    INSERT INTO orders SELECT g, g % 5000 FROM generate_series(1, 100000) g;
    ANALYZE orders;
    GRANT SELECT ON orders TO PUBLIC`);
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
});

afterAll(async () => {
  await target.drop();
  await Promise.all([mallory.role.drop(), monitor.drop()]);
});

const connections = [
  { label: 'a least-privilege role (pg_monitor)', url: () => monitor.url(target.name), role: () => monitor.name },
  { label: 'a superuser', url: () => target.url, role: () => superuser },
];

const tables = (report: { recommendations: Array<{ candidate: { schema: string; table: string } }> }) =>
  report.recommendations.map((r) => `${r.candidate.schema}.${r.candidate.table}`);

describe.each(connections)('the advisor as $label', (connection) => {
  let db: Database;
  let caps: Capabilities;
  /** Statements analyzed while her statement is skipped. */
  let analyzed: number;

  beforeAll(async () => {
    db = new Database(connection.url(), { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_POOL_MAX: '2' }).pool });
    caps = await detectCapabilities(db);
  });

  afterAll(async () => {
    await db.end();
  });

  const reason = () =>
    `planning it could run code pgscope does not trust: it calls function mallory.evil(text), owned by role ${mallory.role.name} ` +
    '(to trust that role, add it to PGSCOPE_TRUSTED_ROLES)';

  it('skips her statement with the reason, plans nothing of it, and still recommends for the others', async () => {
    const report = await recommendIndexes(db, caps, { minImprovement: 0 });
    expect(report.source).toBe(inject('hypopgAvailable') ? 'HYPOPG' : 'HEURISTIC');
    expect(report.skipped).toContainEqual({ candidate: null, queryId: hers, reason: reason() });
    analyzed = report.statementsAnalyzed;
    expect(tables(report)).toEqual(['public.orders']);
    expect(report.recommendations[0]!.statements.map((s) => s.statement.queryId)).toEqual([ours]);
    expect(await mallory.ranVia(connection.role())).not.toContain('no_argument');
  });

  it("does not plan it again after a recommendation is applied (applyRecommendation's check)", async () => {
    const checks = await checkStatementsUse(db, caps, NO_EXTRA_TRUST, [hers, ours], new Set(['orders_pkey']), {
      method: 'btree',
      where: null,
    });
    expect(checks).toEqual([
      { queryId: hers, usesIndex: false, totalCost: null, topNode: null, problem: `It could not be planned: ${reason()}.`, note: null },
      expect.objectContaining({ queryId: ours, problem: null }),
    ]);
    expect(await mallory.ranVia(connection.role())).not.toContain('no_argument');
  });

  it('analyzes and plans it when PGSCOPE_TRUSTED_ROLES names her, and her function runs', async () => {
    const report = await recommendIndexes(db, caps, { minImprovement: 0, trust: { roles: [mallory.role.name], extensions: [] } });
    expect(report.skipped.filter((skip) => skip.queryId === hers)).toEqual([]);
    expect(report.statementsAnalyzed).toBe(analyzed + 1);
    expect(await mallory.ranVia(connection.role())).toContain('no_argument');
  });
});
