// Generic plans of $n statements as pg_stat_statements keeps them, on every major: EXPLAIN
// (GENERIC_PLAN) from 16, PREPARE + EXECUTE with NULLs before. Two pitfalls of the older path:
// parameters PREPARE cannot type (jsonb_build_object($1, $2)), and start-up partition pruning that
// would remove every partition for NULL parameters and hide the scans.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCapabilities, type Capabilities } from '../../../src/db/capabilities.js';
import { explain } from '../../../src/db/explain/explain.js';
import type { ExplainDocument } from '../../../src/db/explain/planSummary.js';
import { Database } from '../../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';

let target: TestDatabase;
let db: Database;
let caps: Capabilities;

beforeAll(async () => {
  target = await createTestDatabase('explain_generic');
  await target.sql(`
    CREATE TABLE docs (id int, doc jsonb);
    INSERT INTO docs SELECT g, jsonb_build_object('tag', 'tag' || g) FROM generate_series(1, 1000) g;
    CREATE TABLE hits (at date NOT NULL, n int) PARTITION BY RANGE (at);
    CREATE TABLE hits_2026_01 PARTITION OF hits FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
    CREATE TABLE hits_2026_02 PARTITION OF hits FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
    ANALYZE`);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(db);
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

const request = (sql: string) => ({ sql, params: null, analyze: false, timeoutMs: 1000 });

function relations(plan: ExplainDocument): string[] {
  const names: string[] = [];
  const walk = (node: ExplainDocument[0]['Plan']) => {
    const relation = (node as { 'Relation Name'?: string })['Relation Name'];
    if (relation) names.push(relation);
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(plan[0].Plan);
  return names.sort();
}

describe('generic plans', () => {
  it('plans a statement whose parameters only the call sites type (jsonb_build_object($1, $2))', async () => {
    const outcome = await explain(db, caps, request('SELECT id FROM docs WHERE doc @> jsonb_build_object($1, $2)'));
    expect(outcome.genericPlan).toBe(true);
    expect(relations(outcome.plan)).toEqual(['docs']);
  });

  it('shows the scans of every partition a parameter could select', async () => {
    const outcome = await explain(db, caps, request('SELECT count(*) FROM hits WHERE at >= $1'));
    expect(relations(outcome.plan)).toEqual(['hits_2026_01', 'hits_2026_02']);
  });
});
