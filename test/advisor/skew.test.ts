// A skewed column's heavy values (issue 14): tenant 1 holds a quarter of the tasks, tenants 2-5
// a twentieth each, a thousand others the rest. The rows are stored grouped by tenant, as after a
// per-tenant migration or a CLUSTER, and (tenant_id) exists: the generic plan of "a tenant's latest
// tasks", at the average tenant, reads its 120 rows through (tenant_id) and sorts them, cheaper
// than (tenant_id, updated_at DESC). A call about tenant 1 sorts 50,000 rows. Planned at a heavy
// value too, the statement is seen to need the composite index; its verification says why the
// generic plan does without it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recommendIndexes, type AdvisorReport } from '../../src/advisor/recommend.js';
import { analyzeWorkload } from '../../src/advisor/analysis/analyze.js';
import { skewOf } from '../../src/advisor/analysis/skew.js';
import { checkStatementsUse } from '../../src/advisor/verify.js';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { Database } from '../../src/db/pool.js';
import { NO_EXTRA_TRUST } from '../../src/config.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { queryIdOf, RESET_THIS_DATABASE_STATEMENTS } from '../harness/stats.js';

const LATEST = 'SELECT * FROM tasks WHERE tenant_id = $1 ORDER BY updated_at DESC LIMIT $2';
/** The same on a table whose tenants are all alike: no heavy value. */
const LATEST_EVEN = 'SELECT * FROM even_tasks WHERE tenant_id = $1 ORDER BY updated_at DESC LIMIT $2';

let target: TestDatabase;
let db: Database;
let caps: Capabilities;
let report: AdvisorReport;

beforeAll(async () => {
  target = await createTestDatabase('advisor_skew');
  await target.sql(`
    CREATE TABLE tasks (id int PRIMARY KEY, tenant_id int NOT NULL, status text NOT NULL, updated_at timestamptz NOT NULL, title text NOT NULL);
    INSERT INTO tasks
    SELECT * FROM (
      SELECT g,
        CASE WHEN (g::bigint * 7919) % 100 < 25 THEN 1 WHEN (g::bigint * 7919) % 100 < 45 THEN 2 + g % 4 ELSE 6 + g % 1000 END AS tenant_id,
        CASE WHEN g % 10 < 8 THEN 'done' ELSE 'open' END,
        '2026-01-01'::timestamptz + ((g::bigint * 15485863) % 1000000) * interval '1 second',
        'task ' || g
      FROM generate_series(1, 200000) g) t
    ORDER BY tenant_id, g;
    CREATE INDEX tasks_tenant_idx ON tasks (tenant_id);
    CREATE TABLE even_tasks (LIKE tasks);
    INSERT INTO even_tasks SELECT id, 1 + id % 400, status, updated_at, title FROM tasks ORDER BY 2, 1;
    ALTER TABLE even_tasks ADD PRIMARY KEY (id);
    CREATE INDEX even_tasks_tenant_idx ON even_tasks (tenant_id)`);
  await target.sql('VACUUM ANALYZE tasks, even_tasks');
  await target.sql(RESET_THIS_DATABASE_STATEMENTS);
  for (const tenant of [1, 2, 7, 8, 9]) {
    await target.sql(LATEST, [tenant, 50]);
    await target.sql(LATEST_EVEN, [tenant, 50]);
  }
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(db);
  report = await recommendIndexes(db, caps, { table: 'tasks' });
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

describe('heavy values of a skewed column', () => {
  it('are the most common values well above the average share, weighed by their rows', () => {
    // 1,000 values: the average holds 0.1 %; 25 % and four of 5 % are heavy, 45 % of the rows
    const skew = skewOf(['1', '2', '3', '4', '5', '6'], [0.25, 0.05, 0.05, 0.05, 0.05, 0.002], 1000)!;
    expect(skew.weight).toBeCloseTo(0.45);
    // a call about a heavy value, drawn by rows, reads 16 % of the table on average: tenant 1 is nearest
    expect(skew.value).toBe('1');
    expect(skew.share).toBe(0.25);
    // a category (status) is no key, and evenly spread values have no heavy ones
    expect(skewOf(['done', 'open'], [0.8, 0.2], 2)).toBeNull();
    expect(skewOf(['1', '2'], [0.002, 0.002], 1000)).toBeNull();
  });

  it('are planned beside the generic plan only where pg_stats shows them', async () => {
    const analysis = await analyzeWorkload(db, caps);
    const [latestId, evenId] = [await queryIdOf(target, LATEST), await queryIdOf(target, LATEST_EVEN)];
    const latest = analysis.statements.find((s) => s.queryId === latestId)!;
    const even = analysis.statements.find((s) => s.queryId === evenId)!;
    expect(even.heavy).toBeUndefined();
    expect(latest.heavy).toMatchObject({ column: 'public.tasks.tenant_id', value: '1' });
    expect(latest.heavy!.weight).toBeGreaterThan(0.3);
    // its LIMIT at the rows its calls returned (analysis/pageSize.ts): 50, 50, 0, 0 and 50
    expect(latest.heavy!.query).toBe("SELECT * FROM tasks WHERE tenant_id = '1' ORDER BY updated_at DESC LIMIT 30");
  });

  it('give the index the heavy calls need, which the generic plan alone never shows', () => {
    const keys = report.recommendations.map((r) =>
      r.candidate.keys.map((k) => `${k.column}${k.direction === 'DESC' ? ' DESC' : ''}`).join(', '),
    );
    expect(keys).toEqual(['tenant_id, updated_at DESC']);
    // the statement as pg_stat_statements has it: the heavy value is planned, never shown
    expect(report.recommendations[0]!.statements.map((s) => s.statement.query)).toEqual([LATEST]);
    // the sentence says its costs are weighed, with the column and the heavy values' share, not a value
    expect(report.recommendations[0]!.sentence).toMatch(
      / Costs weigh an average value of public\.tasks\.tenant_id with its most common values \(4\d% of the rows\), as calls about each run\.$/,
    );
  });

  it('explain, once the index is built, why the generic plan does without it', async () => {
    const recommended = report.recommendations[0]!;
    await target.sql(recommended.sql.replace(' CONCURRENTLY', ''));
    const queryId = await queryIdOf(target, LATEST);
    const [check] = await checkStatementsUse(db, caps, NO_EXTRA_TRUST, [queryId], new Set([recommended.name]), recommended.candidate);
    expect(check).toMatchObject({ usesIndex: false, problem: null });
    expect(check!.topNode).toContain('tasks_tenant_idx');
    expect(check!.note).toMatch(
      /^Its generic plan, for an average value of public\.tasks\.tenant_id \(0\.\d % of the rows\), does without it; planned for one of the column's most common values \(2\d\.\d % of the rows\), as the calls about them run, it uses it\.$/,
    );
  });
});
