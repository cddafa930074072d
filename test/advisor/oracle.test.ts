// The oracle: on the reference workload (the seed guide's application, demo/), with primary keys
// only, the advisor must find the equivalent of the guide's strategic indexes that the query mix
// needs, and nothing redundant (no activity_logs (user_id) beside (user_id, timestamp)). Runs with
// HypoPG where the server has it (PostgreSQL 15 in CI) and with the pg_stats estimate otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCapabilities } from '../../src/db/capabilities.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database } from '../../src/db/pool.js';
import { loadReferenceWorkload } from '../../src/demo/load.js';
import { loadQueryMix, seededRandom } from '../../src/demo/workload.js';
import { RESET_THIS_DATABASE_STATEMENTS } from '../harness/stats.js';
import { createTestApp, createTestDatabase, TEST_ADMIN_TOKEN, testConfig, type TestApp, type TestDatabase } from '../harness/database.js';

const SCALE = 0.1;
let target: TestDatabase;
let api: TestApp;
let hypopg: boolean;

interface Recommendation {
  id: string;
  table: string;
  method: string;
  keys: Array<{ column: string | null; expression: string | null; direction: string | null; opclass: string | null }>;
  where: string | null;
  source: string;
  sql: string;
  statements: Array<{ usesIndex: boolean }>;
}

beforeAll(async () => {
  target = await createTestDatabase('advisor_oracle');
  await loadReferenceWorkload(target.url, SCALE, () => undefined);
  // primary keys only: every index that backs no constraint goes (the planted problems too)
  await target
    .sql(`
    DO $$
    DECLARE r record;
    BEGIN
      FOR r IN
        SELECT n.nspname, c.relname
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'
          AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
          AND NOT c.relispartition
      LOOP
        EXECUTE format('DROP INDEX %I.%I', r.nspname, r.relname);
      END LOOP;
    END $$;
    CREATE EXTENSION IF NOT EXISTS hypopg;
    ANALYZE`)
    .catch(async () => {
      // no HypoPG on this server: the same without it
      await target.sql('ANALYZE');
    });
  // steady state: the bulk load is history, not the write rate the indexes will pay for. The table
  // counters keep it (as on a freshly restored database): the advisor counts writes over
  // pg_stat_statements' window, as it counts reads.
  await target.sql(RESET_THIS_DATABASE_STATEMENTS);
  const db = new Database(target.url, { applicationName: 'pgscope-test-workload', pool: testConfig().pool });
  try {
    hypopg = (await detectCapabilities(db)).hypopg.installed;
    const random = seededRandom(11);
    for (const script of loadQueryMix(SCALE)) {
      for (let i = 0; i < 10; i++) await db.query(script.sql, script.draw(random));
    }
  } finally {
    await db.end();
  }
  const owner = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  try {
    expect(await migrateOwnSchema(owner)).toMatchObject({ ok: true });
  } finally {
    await owner.end();
  }
  api = createTestApp(target.url, { ownSchemaReady: true });
}, 180_000);

afterAll(async () => {
  await api.close();
  await target.drop();
});

const shape = (r: Recommendation) => `${r.table} ${r.method} (${r.keys.map((k) => k.column ?? k.expression).join(', ')})`;

describe('the advisor on the reference workload', () => {
  let recommendations: Recommendation[];
  beforeAll(async () => {
    const result = await api.gql<{ indexRecommendations: Recommendation[] }>(
      '{ indexRecommendations(limit: 50) { id table method keys { column expression direction opclass } where source sql statements { usesIndex } } }',
    );
    expect(result.errors).toBeUndefined();
    recommendations = result.data!.indexRecommendations;
  }, 120_000);

  it('costs B-trees with HypoPG where the server has it; GIN (which HypoPG cannot simulate) and everything else from pg_stats', () => {
    for (const r of recommendations)
      expect([r.method, r.source]).toEqual([r.method, hypopg && r.method === 'btree' ? 'HYPOPG' : 'HEURISTIC']);
  });

  it("finds the guide's strategic indexes the query mix needs", () => {
    const found = recommendations.map(shape);
    expect(found).toEqual(
      expect.arrayContaining([
        'users btree (email)',
        'users btree (username)',
        'activity_logs btree (user_id, timestamp)',
        'activity_logs btree (timestamp)',
        'workflow_templates gin (config)',
        'audit_trails gin (metadata)',
      ]),
    );
  });

  it('recommends nothing redundant: no activity_logs (user_id) next to (user_id, timestamp), no two indexes with the same leading keys', () => {
    const found = recommendations.map(shape);
    expect(found).not.toContain('activity_logs btree (user_id)');
    const leading = recommendations.map((r) => `${r.table} ${r.method} ${r.keys[0]!.column ?? r.keys[0]!.expression}`);
    expect(new Set(leading).size).toBe(leading.length);
  });

  it('gives runnable SQL whose statements the planner would use the index for', () => {
    for (const r of recommendations) {
      expect(r.sql).toMatch(/^CREATE (UNIQUE )?INDEX /);
      expect(r.statements.length).toBeGreaterThan(0);
      expect(r.statements.every((s) => s.usesIndex)).toBe(true);
    }
  });

  it('applies the partitioned-table recommendation through the API, and its statements then use the index on the partitions', async () => {
    const recommendation = recommendations.find((r) => r.table === 'activity_logs' && r.keys[0]!.column === 'user_id')!;
    const result = await api.gql<{
      applyRecommendation: {
        change: { status: string };
        index: { valid: boolean };
        statements: Array<{ usesIndex: boolean; problem: string | null }>;
      };
    }>(
      'mutation($id: ID!) { applyRecommendation(id: $id, dryRun: false) { change { status } index { valid } statements { usesIndex problem } } }',
      { id: recommendation.id },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.applyRecommendation.change.status).toBe('SUCCEEDED');
    expect(result.data!.applyRecommendation.index.valid).toBe(true);
    expect(result.data!.applyRecommendation.statements.length).toBeGreaterThan(0);
    expect(result.data!.applyRecommendation.statements).toEqual(
      result.data!.applyRecommendation.statements.map(() => ({ usesIndex: true, problem: null })),
    );
  });
});
