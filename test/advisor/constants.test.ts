// The constants statements run with (issue 14, item 4): pg_stat_statements shows `status = $1`, the
// samples of pg_stat_activity show 'pending' nearly every time, pg_stats says status is a category
// where 'pending' is 5 % of the rows: the advisor offers the partial index a DBA would write. A hot
// customer id is no category: no partial index for it. PostgreSQL 13 has no query_id in
// pg_stat_activity: nothing is sampled there, and the advisor works as without samples.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recommendIndexes, type AdvisorReport } from '../../src/advisor/recommend.js';
import { alignConstants, ConstantSamples, sampleActivity } from '../../src/advisor/analysis/samples.js';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { RESET_THIS_DATABASE_STATEMENTS } from '../harness/stats.js';

const QUEUE = "SELECT id FROM jobs WHERE status = 'pending' ORDER BY created_at LIMIT 20";
const HOT_CUSTOMER = 'SELECT id, status FROM jobs WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 20';
/** A jsonb key in the text, the value a bind parameter: pg_stat_statements shows payload ->> $2 = $1. */
const BY_REFERENCE = "SELECT id FROM jobs WHERE payload ->> 'ref' = $1";
/** The same on a partitioned table, where HypoPG cannot show the planner an expression index. */
const EVENT_BY_ORDER = "SELECT id FROM events WHERE payload ->> 'order_id' = $1";

let target: TestDatabase;
let db: Database;
let caps: Capabilities;
let app: pg.Client;
const samples = new ConstantSamples();
let withSamples: AdvisorReport;
let without: AdvisorReport;

beforeAll(async () => {
  target = await createTestDatabase('advisor_constants');
  await target.sql(`
    CREATE TABLE jobs (
      id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL, payload jsonb NOT NULL);
    INSERT INTO jobs
    SELECT g, g % 2000,
      CASE WHEN g % 100 < 5 THEN 'pending' WHEN g % 100 < 7 THEN 'failed' ELSE 'done' END,
      '2026-01-01'::timestamptz + g * interval '1 minute',
      jsonb_build_object('ref', 'r' || g, 'note', repeat('x', 20))
    FROM generate_series(1, 200000) g;
    ANALYZE jobs;
    CREATE TABLE events (id int NOT NULL, payload jsonb NOT NULL) PARTITION BY RANGE (id);
    CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM (0) TO (100001);
    CREATE TABLE events_2 PARTITION OF events FOR VALUES FROM (100001) TO (200001);
    INSERT INTO events SELECT g, jsonb_build_object('order_id', g::text) FROM generate_series(1, 200000) g;
    ANALYZE events`);
  await target.sql(RESET_THIS_DATABASE_STATEMENTS);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(db);
  // the application: its own session, constants in the text (the simple query protocol)
  app = new pg.Client({ connectionString: target.url, application_name: 'shop-app' });
  await app.connect();
  for (let i = 0; i < 8; i++) {
    for (const statement of [QUEUE, HOT_CUSTOMER, BY_REFERENCE, EVENT_BY_ORDER]) {
      const parameters = { [BY_REFERENCE]: [`r${i * 1000 + 7}`], [EVENT_BY_ORDER]: [String(i * 1000 + 7)] }[statement] ?? [];
      await app.query(statement, parameters);
      // the sampler sees the session idle, showing its last statement (one sighting per execution)
      await sampleActivity(db, caps, samples);
      await sampleActivity(db, caps, samples);
    }
  }
  without = await recommendIndexes(db, caps);
  withSamples = await recommendIndexes(db, caps, { samples });
});

afterAll(async () => {
  await app.end();
  await db.end();
  await target.drop();
});

const shapes = (report: AdvisorReport) =>
  report.recommendations.map(
    (r) => `${r.candidate.keys.map((k) => k.column).join(', ')}${r.candidate.where ? ` WHERE ${r.candidate.where}` : ''}`,
  );

describe('alignConstants', () => {
  it('reads the literal behind each $n, as pg_stat_statements numbers them', () => {
    expect(alignConstants("SELECT id FROM t WHERE a = $1 AND s = 'it''s' AND n > -5 AND ok = true LIMIT 10")).toEqual({
      normalized: 'SELECT id FROM t WHERE a = $1 AND s = $2 AND n > $3 AND ok = $4 LIMIT $5',
      constants: new Map([
        [2, "'it''s'"],
        [3, '-5'],
        [4, 'true'],
        [5, '10'],
      ]),
    });
    // cut at track_activity_query_size: nothing to align
    expect(alignConstants("SELECT id FROM t WHERE s = 'pend")).toBeNull();
  });
});

describe('partial indexes from sampled constants', () => {
  it('samples each execution once, from PostgreSQL 14 (query_id in pg_stat_activity)', () => {
    if (inject('pgMajorVersion') < 14) {
      expect(samples.size).toBe(0);
      return;
    }
    expect(samples.size).toBe(4);
  });

  it("offers the queue's partial index, on created_at WHERE status = 'pending', and nothing partial without samples", async () => {
    expect(shapes(without).filter((shape) => shape.includes('WHERE'))).toEqual([]);
    if (inject('pgMajorVersion') < 14) return;
    const queue = withSamples.recommendations.find((r) => r.candidate.where !== null)!;
    // the operator qualified, as every definition pgscope writes (no search_path can swap it)
    expect(shapes(withSamples)).toContain(`created_at WHERE ("status" OPERATOR("pg_catalog".=) 'pending')`);
    // built for real, the statement as the application sends it uses it
    await target.sql(queue.sql);
    const plan = await target.sql<{ 'QUERY PLAN': string }>(`EXPLAIN ${QUEUE}`);
    expect(plan.map((line) => line['QUERY PLAN']).join('\n')).toContain(queue.name);
    await target.sql(`DROP INDEX ${queue.name}`);
  });

  it("puts a sampled jsonb key back: the expression index on (payload ->> 'ref')", async () => {
    const expressions = (report: AdvisorReport) =>
      report.recommendations.flatMap((r) => r.candidate.keys.flatMap((k) => k.expression ?? []));
    expect(expressions(without)).toEqual([]);
    if (inject('pgMajorVersion') < 14) return;
    expect(expressions(withSamples)).toEqual([
      `("payload" OPERATOR("pg_catalog".->>) 'ref')`,
      `("payload" OPERATOR("pg_catalog".->>) 'order_id')`,
    ]);
    // on the partitioned table, estimated from pg_stats even where HypoPG is installed, and then used by the planner
    const onEvents = withSamples.recommendations.find((r) => r.candidate.table === 'events')!;
    expect(onEvents.source).toBe('HEURISTIC');
    await target.sql(onEvents.sql);
    const plan = await target.sql<{ 'QUERY PLAN': string }>(`EXPLAIN ${EVENT_BY_ORDER.replace('$1', "'7'")}`);
    expect(plan.map((line) => line['QUERY PLAN']).join('\n')).toMatch(/Index Scan|Bitmap Index Scan/);
  });

  it('gives a hot customer id no partial index: the column is no category', () => {
    expect(shapes(withSamples).filter((shape) => shape.includes('customer_id = '))).toEqual([]);
  });
});
