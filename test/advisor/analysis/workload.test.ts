// The advisor's analysis through pg_stat_statements: the workload it loads (weights, what it
// leaves out) and the candidates for the reference workload (demo/schema.sql and the query mix
// in demo/queries, run with bind parameters as the demo's driver runs them).
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeWorkload } from '../../../src/advisor/analysis/analyze.js';
import type { CandidateIndex } from '../../../src/advisor/types.js';
import { loadWorkload, workloadSql } from '../../../src/advisor/analysis/workload.js';
import { detectCapabilities, type Capabilities } from '../../../src/db/capabilities.js';
import { Database, queryOnce } from '../../../src/db/pool.js';
import { DEMO_DIR } from '../../../src/demo/load.js';
import { loadQueryMix } from '../../../src/demo/workload.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';

/** A candidate as one line, without the statements it serves (their queryids differ per run). */
function line(candidate: CandidateIndex): string {
  const keys = candidate.keys.map((key) => [key.column ?? key.expression, key.opclass, key.direction].filter(Boolean).join(' '));
  const include = candidate.include.length > 0 ? ` INCLUDE (${candidate.include.join(', ')})` : '';
  return `${candidate.table} ${candidate.method}(${keys.join(', ')})${include}${candidate.where ? ` WHERE ${candidate.where}` : ''}`;
}

describe('loadWorkload', () => {
  let target: TestDatabase;
  let db: Database;
  let caps: Capabilities;

  beforeAll(async () => {
    target = await createTestDatabase('advisor_workload');
    db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
    await target.sql(/* SQL */ `
      CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO orders (customer_id) VALUES (0), (1), (2);
    `);
    // the heavy statement: 3 calls of at least 200 ms each (one row each, one sleep per row); the light one: 5 fast
    // calls, each well under 120 ms even on a busy machine
    for (let i = 0; i < 3; i += 1) await queryOnce(target.url, 'SELECT o.id, pg_sleep(0.2) FROM orders o WHERE o.customer_id = $1', [i]);
    const light = 'SELECT id FROM orders WHERE created_at >= $1 ORDER BY created_at LIMIT 5';
    for (let i = 0; i < 5; i += 1) await queryOnce(target.url, light, [new Date()]);
    // what the advisor must leave out: utility statements, catalog reads, statements on no table
    await queryOnce(target.url, 'SET work_mem = 65536; BEGIN; SELECT count(*) FROM pg_class WHERE relpages > 0; COMMIT');
    await queryOnce(target.url, 'SELECT count(*) FROM pg_stat_statements');
    await queryOnce(target.url, 'SELECT pg_sleep(0.05)');
    await queryOnce(target.url, 'EXPLAIN SELECT * FROM orders WHERE id = 1');
    // and the queries of foreign-key triggers (nested on 14+, told apart by their text on 13)
    await target.sql('CREATE TABLE order_lines (order_id int REFERENCES orders (id)); INSERT INTO order_lines VALUES (1), (2)');
    caps = await detectCapabilities(db);
  });

  afterAll(async () => {
    await db.end();
    await target.drop();
  });

  it('keeps the statements that could use an index, heaviest first, weighted by total time', async () => {
    const statements = await loadWorkload(db, caps);
    expect(statements.map((statement) => [statement.query, statement.calls, statement.kind])).toEqual([
      ['SELECT o.id, pg_sleep($2) FROM orders o WHERE o.customer_id = $1', 3, 'SelectStmt'],
      ['SELECT id FROM orders WHERE created_at >= $1 ORDER BY created_at LIMIT $2', 5, 'SelectStmt'],
    ]);
    const [heavy] = statements;
    expect(heavy!.meanTimeMs).toBeGreaterThanOrEqual(200);
    expect(heavy!.totalTimeMs).toBeCloseTo(heavy!.meanTimeMs * 3, 6);
    expect(heavy!.rows).toBe(3);
  });

  it('honours the limit', async () => {
    const statements = await loadWorkload(db, caps, { limit: 1 });
    expect(statements.map((statement) => statement.calls)).toEqual([3]);
  });

  it('reads the columns the installed view has: PostgreSQL 13 has neither total_exec_time nor toplevel', () => {
    // nested statements are told apart where the view has toplevel (1.9, PostgreSQL 14+)
    expect(workloadSql(caps).includes('AND toplevel')).toBe(caps.pgStatStatementsColumns.has('toplevel'));
    const columns = ['userid', 'dbid', 'queryid', 'query', 'calls', 'total_time', 'mean_time', 'rows'];
    const legacy = workloadSql({ ...caps, pgStatStatementsColumns: new Set(columns) });
    expect(legacy).toContain('sum(total_time) AS total_time_ms');
    expect(legacy).not.toContain('toplevel');
    expect(legacy).not.toContain('total_exec_time');
  });

  it('says how to enable pg_stat_statements when it cannot be read', async () => {
    await expect(loadWorkload(db, { ...caps, pgStatStatementsReadable: false })).rejects.toMatchObject({
      extensions: { code: 'EXTENSION_NOT_LOADED' },
    });
  });

  it('gives the candidates of the statements pg_stat_statements recorded', async () => {
    const analysis = await analyzeWorkload(db, caps, { minRows: 0, minPages: 0 });
    expect(analysis.candidates.map(line)).toEqual([
      'orders btree(customer_id)',
      'orders btree(customer_id) INCLUDE (id)',
      'orders btree(created_at)',
      'orders btree(created_at) INCLUDE (id)',
    ]);
    // the heavy statement's queryid first: candidates follow the workload's order
    const [heavy, light] = analysis.statements.map((statement) => [statement.queryId]);
    expect(analysis.candidates.map((candidate) => candidate.forQueryIds)).toEqual([heavy, heavy, light, light]);
  });
});

describe('analyzeWorkload on the reference workload', () => {
  let target: TestDatabase;
  let db: Database;
  let caps: Capabilities;

  beforeAll(async () => {
    target = await createTestDatabase('advisor_reference');
    db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
    await target.sql(fs.readFileSync(`${DEMO_DIR}schema.sql`, 'utf8'));
    // each script of the mix twice, with drawn parameters, as the demo's background driver runs them
    let seed = 1;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (const script of loadQueryMix(1)) {
      for (let i = 0; i < 2; i += 1) await queryOnce(target.url, script.sql, script.draw(random));
    }
    caps = await detectCapabilities(db);
  });

  afterAll(async () => {
    await db.end();
    await target.drop();
  });

  it("includes the guide's strategic indexes the mix needs, on the partitioned parent", async () => {
    // the tables are empty: the size rule would set every candidate aside
    const analysis = await analyzeWorkload(db, caps, { minRows: 0, minPages: 0 });
    expect(analysis.statements).toHaveLength(7);
    expect(analysis.candidates.map(line).sort()).toEqual([
      'activity_logs btree(timestamp)',
      'activity_logs btree(user_id)',
      // recent_actions reads only action: an index-only scan
      'activity_logs btree(user_id) INCLUDE (action)',
      'activity_logs btree(user_id, timestamp DESC)',
      'audit_trails gin(metadata jsonb_path_ops)',
      'users btree(email)',
      'users btree(username)',
      'users btree(username) INCLUDE (email, id)',
      'workflow_templates gin(config jsonb_path_ops)',
    ]);
    expect(analysis.rejected).toEqual([]);
  });

  it("with the guide's indexes in place, every candidate is covered but the index-only one", async () => {
    await target.sql(fs.readFileSync(`${DEMO_DIR}seed_indexes.sql`, 'utf8'));
    const analysis = await analyzeWorkload(db, caps, { minRows: 0, minPages: 0 });
    // none of the guide's indexes stores action
    expect(analysis.candidates.map(line)).toEqual(['activity_logs btree(user_id) INCLUDE (action)']);
    expect(analysis.rejected.map((rejected) => `${line(rejected.candidate)} ${rejected.reason} by ${rejected.coveredBy}`).sort()).toEqual([
      'activity_logs btree(timestamp) COVERED_BY_EXISTING by idx_activity_logs_timestamp',
      'activity_logs btree(user_id) COVERED_BY_EXISTING by idx_activity_logs_user_id',
      'activity_logs btree(user_id, timestamp DESC) COVERED_BY_EXISTING by idx_activity_logs_user_timestamp',
      'audit_trails gin(metadata jsonb_path_ops) COVERED_BY_EXISTING by idx_audit_trails_metadata_gin',
      'users btree(email) COVERED_BY_EXISTING by idx_users_email',
      'users btree(username) COVERED_BY_EXISTING by idx_users_username',
      // a unique index finds one row: storing more columns gains nothing
      'users btree(username) INCLUDE (email, id) COVERED_BY_EXISTING by idx_users_username',
      'workflow_templates gin(config jsonb_path_ops) COVERED_BY_EXISTING by idx_workflow_templates_config_gin',
    ]);
  });
});
