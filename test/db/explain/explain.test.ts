import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCapabilities, type Capabilities } from '../../../src/db/capabilities.js';
import { explain, explainQueryId, type ExplainOutcome, type ExplainRequest } from '../../../src/db/explain/explain.js';
import { Database, queryOnce } from '../../../src/db/pool.js';
import { isPgscopeError } from '../../../src/errors.js';
import {
  createTestApp,
  createTestDatabase,
  errorCodes,
  TEST_ADMIN_TOKEN,
  testConfig,
  type TestApp,
  type TestDatabase,
} from '../../harness/database.js';
import { createRole, type TestRole } from '../../harness/roles.js';
import { SqlState } from '../../../src/db/sqlState.js';

let target: TestDatabase;
let monitor: TestRole;
/** A role with no statistics privilege at all: it sees only its own pg_stat_statements rows. */
let plain: TestRole;
/** One connection, so that tests can look at the session explain used after it is done. */
let db: Database;
let caps: Capabilities;
let api: TestApp;

// Named fixtures. Statistics targets of 500 make ANALYZE sample 150,000 rows: every row of these
// tables, so estimates are exact and the same on every run.
const FIXTURES = /* SQL */ `
  CREATE TABLE orders (id int NOT NULL, customer_id int NOT NULL, status text NOT NULL);
  ALTER TABLE orders ALTER customer_id SET STATISTICS 500;
  INSERT INTO orders SELECT g, g % 1000, CASE WHEN g % 10 = 0 THEN 'open' ELSE 'paid' END FROM generate_series(1, 50000) g;

  CREATE TABLE invoices (id int NOT NULL, total int NOT NULL);
  ALTER TABLE invoices ALTER id SET STATISTICS 500;
  INSERT INTO invoices SELECT g, g % 500 FROM generate_series(1, 50000) g;

  -- a and b are always equal: the planner multiplies their selectivities (1/100 each) and expects
  -- 2 of 20,000 rows for a = 1 AND b = 1, where 200 match.
  CREATE TABLE readings (a int NOT NULL, b int NOT NULL);
  INSERT INTO readings SELECT g % 100, g % 100 FROM generate_series(1, 20000) g;

  CREATE TABLE events (id int NOT NULL, region text NOT NULL) PARTITION BY LIST (region);
  CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu');
  CREATE TABLE events_us PARTITION OF events FOR VALUES IN ('us');
  CREATE TABLE events_asia PARTITION OF events FOR VALUES IN ('asia');
  INSERT INTO events SELECT g, (ARRAY['eu', 'us', 'asia'])[g % 3 + 1] FROM generate_series(1, 3000) g;

  CREATE TABLE visits (id int);
  CREATE FUNCTION record_visit() RETURNS int LANGUAGE sql AS 'INSERT INTO visits VALUES (1) RETURNING id';

  CREATE TABLE secrets (id int);
  ANALYZE;`;

const ORDERS_BY_CUSTOMER = 'SELECT * FROM orders WHERE customer_id = $1';

/**
 * Runs ORDERS_BY_CUSTOMER and returns its queryid: the one entry whose calls that run raised. Before
 * pg_stat_statements 1.9 (PostgreSQL 13) a statement first seen under EXPLAIN keeps the whole EXPLAIN
 * text for its later top-level runs too, the same text as the EXPLAIN's own (utility) entry.
 */
async function runOrdersByCustomer(customerId: number): Promise<string> {
  const calls = async () =>
    new Map(
      (
        await target.sql<{ queryid: string; calls: bigint }>(
          `SELECT queryid::text AS queryid, sum(calls)::int8 AS calls
           FROM pg_stat_statements
           WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND right(query, length($1)) = $1
           GROUP BY queryid`,
          [ORDERS_BY_CUSTOMER],
        )
      ).map((row) => [row.queryid, row.calls]),
    );
  const before = await calls();
  await queryOnce(target.url, ORDERS_BY_CUSTOMER, [customerId]);
  const raised = [...(await calls())].filter(([queryid, count]) => count > (before.get(queryid) ?? 0n)).map(([queryid]) => queryid);
  expect(raised).toHaveLength(1);
  return raised[0]!;
}

beforeAll(async () => {
  [target, monitor, plain] = await Promise.all([
    createTestDatabase('explain'),
    createRole('explain_monitor', ['pg_monitor']),
    createRole('explain_plain'),
  ]);
  await target.sql(FIXTURES);
  await target.sql(`GRANT SELECT ON orders TO ${monitor.name}, ${plain.name}`);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_POOL_MAX: '1' }).pool });
  caps = await detectCapabilities(db);
  api = createTestApp(target.url);
});

afterAll(async () => {
  await Promise.all([db.end(), api.close()]);
  await target.drop();
  await Promise.all([monitor.drop(), plain.drop()]);
});

const plainRequest = (sql: string, more: Partial<ExplainRequest> = {}): ExplainRequest => ({
  sql,
  params: null,
  analyze: false,
  timeoutMs: 10_000,
  ...more,
});

const rootNode = (outcome: Pick<ExplainOutcome, 'plan'>) => outcome.plan[0].Plan;

async function failure(work: Promise<unknown>) {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isPgscopeError(error)) throw new Error(`expected a PgscopeError, got ${String(error)}`);
  return { code: error.code, message: error.message, extensions: error.extensions };
}

async function tableFacts(table: string) {
  const [row] = await target.sql<{ size_bytes: bigint; row_estimate: number }>(
    'SELECT pg_relation_size($1::regclass) AS size_bytes, reltuples::float8 AS row_estimate FROM pg_class WHERE oid = $1::regclass',
    [table],
  );
  return row!;
}

describe('explain of SQL', () => {
  it('flags a sequential scan of a large table, with its size, and does not execute the statement', async () => {
    const outcome = await explain(db, caps, plainRequest('SELECT * FROM orders WHERE customer_id = 42'));
    expect(rootNode(outcome)['Node Type']).toBe('Seq Scan');
    expect(outcome).toMatchObject({
      genericPlan: false,
      analyzed: false,
      estimatedRows: 50,
      actualRows: null,
      executionTimeMs: null,
      queryId: null,
    });
    expect(outcome.totalCost).toBe(rootNode(outcome)['Total Cost']);
    expect(typeof outcome.planningTimeMs).toBe('number');
    const orders = await tableFacts('orders');
    expect(orders.row_estimate).toBe(50000);
    expect(outcome.summary).toEqual({
      sequentialScans: [
        {
          schema: 'public',
          table: 'orders',
          alias: 'orders',
          filter: '(orders.customer_id = 42)',
          estimatedRows: 50,
          actualRows: null,
          loops: null,
          tableRowEstimate: 50000,
          tableSizeBytes: orders.size_bytes,
          large: true,
        },
      ],
      misestimates: [],
      notes: [],
    });
    // 64-bit ids cannot survive JSON numbers: left out rather than wrong.
    expect(outcome.plan[0]).not.toHaveProperty('Query Identifier');
  });

  it('shows an index scan and no flagged sequential scan once an index exists', async () => {
    const sql = 'SELECT * FROM invoices WHERE id = 4242';
    const before = await explain(db, caps, plainRequest(sql));
    expect(before.summary.sequentialScans.map((scan) => [scan.table, scan.large])).toEqual([['invoices', true]]);
    await target.sql('CREATE INDEX invoices_id_idx ON invoices (id); ANALYZE invoices');
    const after = await explain(db, caps, plainRequest(sql));
    expect(rootNode(after)).toMatchObject({
      'Node Type': 'Index Scan',
      'Index Name': 'invoices_id_idx',
      'Relation Name': 'invoices',
      'Plan Rows': 1,
    });
    expect(after.summary.sequentialScans).toEqual([]);
  });

  it('plans an UPDATE without running it', async () => {
    const outcome = await explain(db, caps, plainRequest("UPDATE orders SET status = 'void' WHERE customer_id = 3"));
    expect(rootNode(outcome)).toMatchObject({ 'Node Type': 'ModifyTable', Operation: 'Update', 'Relation Name': 'orders' });
    expect(await target.sql("SELECT count(*)::int AS n FROM orders WHERE status = 'void'")).toEqual([{ n: 0 }]);
  });

  it('binds params and plans for their values', async () => {
    const outcome = await explain(db, caps, plainRequest(ORDERS_BY_CUSTOMER, { params: ['42'] }));
    expect(outcome.genericPlan).toBe(false);
    expect(outcome.summary.sequentialScans[0]).toMatchObject({ filter: '(orders.customer_id = 42)', estimatedRows: 50 });
    expect(outcome.summary.notes).toEqual([]);
    // Planner-time pruning with a known value leaves one partition.
    const eu = await explain(db, caps, plainRequest('SELECT * FROM events WHERE region = $1', { params: ['eu'] }));
    expect(eu.summary.sequentialScans.map((scan) => scan.table)).toEqual(['events_eu']);
  });

  it('makes a generic plan for $n parameters without params (GENERIC_PLAN on 16+, PREPARE below)', async () => {
    const outcome = await explain(db, caps, plainRequest(ORDERS_BY_CUSTOMER));
    expect(outcome.genericPlan).toBe(true);
    expect(rootNode(outcome)['Node Type']).toBe('Seq Scan');
    expect(outcome.summary.sequentialScans.map((scan) => [scan.table, scan.filter, scan.large])).toEqual([
      ['orders', '(orders.customer_id = $1)', true],
    ]);
    expect(outcome.summary.notes).toHaveLength(1);
    expect(outcome.summary.notes[0]).toContain(
      caps.serverVersionNum >= 160000 ? '(EXPLAIN GENERIC_PLAN)' : 'made with PREPARE and plan_cache_mode = force_generic_plan',
    );
  });

  it("analyzes with the server's jit, not the pool's (off)", async () => {
    const [server] = await db.query<{ jit: string }>("SELECT reset_val AS jit FROM pg_settings WHERE name = 'jit'");
    const [session] = await db.query<{ jit: string }>("SELECT current_setting('jit') AS jit");
    expect(session!.jit).toBe('off');
    const outcome = await explain(db, caps, plainRequest('SELECT count(*) FROM readings', { analyze: true, timeoutMs: 5000 }));
    // EXPLAIN (SETTINGS) lists the planner settings that differ from their defaults, jit among them
    const settings = (outcome.plan[0] as { Settings?: Record<string, string> }).Settings ?? {};
    expect(settings.jit ?? 'on').toBe(server!.jit);
  });

  it('leaves the pooled session as it found it', async () => {
    await explain(db, caps, plainRequest(ORDERS_BY_CUSTOMER));
    await explain(db, caps, plainRequest('SELECT count(*) FROM readings', { analyze: true, timeoutMs: 1234 }));
    const [session] = await db.query<Record<string, string>>(
      /* SQL */ `
      SELECT
        -- pgscope's pool keeps its own statements prepared (pgscope_<hash>); explain's must be gone
        (SELECT count(*) FROM pg_prepared_statements WHERE name !~ '^pgscope_[0-9a-f]{24}$')::text AS prepared,
        current_setting('plan_cache_mode') AS plan_cache_mode,
        current_setting('jit') AS jit,
        current_setting('transaction_read_only') AS read_only,
        current_setting('statement_timeout') AS statement_timeout,
        current_setting('standard_conforming_strings') AS strings`,
    );
    // force_generic_plan and jit off are the pool's own session settings (src/db/pool.ts), not explain's
    expect(session).toEqual({
      prepared: '0',
      plan_cache_mode: 'force_generic_plan',
      jit: 'off',
      read_only: 'off',
      statement_timeout: '10s',
      strings: 'on',
    });
  });

  it('shows every partition of a partitioned generic plan (below 16 too: no start-up pruning for the NULL parameters)', async () => {
    const outcome = await explain(db, caps, plainRequest('SELECT * FROM events WHERE region = $1'));
    expect(outcome.genericPlan).toBe(true);
    expect(rootNode(outcome)['Node Type']).toBe('Append');
    expect(outcome.summary.sequentialScans.map((scan) => scan.table)).toEqual(['events_asia', 'events_eu', 'events_us']);
    expect(outcome.summary.notes).toHaveLength(1);
  });

  it('notes a part of the plan proven empty', async () => {
    const outcome = await explain(db, caps, plainRequest("SELECT * FROM orders WHERE status = 'open' AND false"));
    expect(rootNode(outcome)).toMatchObject({ 'Node Type': 'Result', 'One-Time Filter': 'false' });
    expect(outcome.summary.notes).toEqual([
      'A One-Time Filter is false: PostgreSQL proved part of the statement returns no rows and skips it entirely.',
    ]);
  });

  it('sizes every scanned table in one extra statement', async () => {
    const result = await api.gql<{
      explain: { summary: { sequentialScans: Array<{ table: string; tableRowEstimate: number; large: boolean }> } };
    }>(
      '{ explain(sql: "SELECT * FROM orders o JOIN readings r ON r.a = o.customer_id WHERE o.id = 5") { summary { sequentialScans { table tableRowEstimate large } } } }',
    );
    const scans = result.data!.explain.summary.sequentialScans.map((scan) => [scan.table, scan.tableRowEstimate, scan.large]).sort();
    expect(scans).toEqual([
      ['orders', 50000, true],
      ['readings', 20000, true],
    ]);
    // The search for untrusted code (there is none), BEGIN, settings, EXPLAIN, ROLLBACK, then one
    // statement for both tables' sizes.
    expect(result.extensions?.sqlStatements).toBe(6);
  });
});

describe('explain on a server where standard_conforming_strings is off', () => {
  it('sends one statement, as the parser saw it, even when backslashes would split it', async () => {
    await target.sql(`ALTER DATABASE ${target.name} SET standard_conforming_strings = off`);
    const fresh = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_POOL_MAX: '1' }).pool });
    try {
      // With the setting on (libpg-query's view) this is one SELECT of one string literal; with
      // it off, PostgreSQL would read a SELECT, a COMMIT ending the read-only transaction, and a DROP.
      const outcome = await explain(fresh, caps, plainRequest(String.raw`SELECT 'a\'';COMMIT;DROP TABLE secrets;--'`));
      expect(rootNode(outcome)['Node Type']).toBe('Result');
      expect(await target.sql("SELECT to_regclass('secrets') IS NOT NULL AS kept")).toEqual([{ kept: true }]);
    } finally {
      await fresh.end();
      await target.sql(`ALTER DATABASE ${target.name} RESET standard_conforming_strings`);
    }
  });
});

describe('explain of SQL the user got wrong', () => {
  it.each([
    ['SELEC 1', null, 'The SQL could not be parsed: syntax error at or near "SELEC" (at character 1).'],
    ['SELECT 1; SELECT 2', null, 'The SQL contains 2 statements; send exactly one.'],
    [
      'CREATE TABLE t (a int)',
      null,
      'explain accepts a SELECT, INSERT, UPDATE, DELETE or MERGE statement; this is a CREATE TABLE statement.',
    ],
    ['SELECT * FROM missing_table', null, 'PostgreSQL rejected the statement: relation "missing_table" does not exist (at character 15).'],
    [ORDERS_BY_CUSTOMER, ['1', '2'], 'The statement has 1 parameter(s) ($1 to $1) but params has 2 value(s).'],
    // The server's text would echo the value; a value can as well come from a table: withheld.
    [
      ORDERS_BY_CUSTOMER,
      ['abc'],
      'PostgreSQL rejected the statement with SQLSTATE 22P02: a value was invalid for its type or operation (a cast, a division by zero, a parameter). ' +
        'Its message is withheld because it can contain data read by the statement; run the statement yourself to see it.',
    ],
  ])('%s with params %j is BAD_USER_INPUT', async (sql, params, message) => {
    expect(await failure(explain(db, caps, plainRequest(sql, { params })))).toMatchObject({ code: 'BAD_USER_INPUT', message });
  });

  it('gives PostgreSQL’s SQLSTATE and the position in the user’s text', async () => {
    const { extensions } = await failure(explain(db, caps, plainRequest('SELECT nope FROM orders')));
    expect(extensions).toEqual({ code: 'BAD_USER_INPUT', sqlState: SqlState.UNDEFINED_COLUMN, position: 8 });
  });
});

describe('explain by queryId', () => {
  let queryId: string;

  beforeAll(async () => {
    queryId = await runOrdersByCustomer(7);
  });

  it("explains pg_stat_statements' text with a generic plan", async () => {
    const outcome = await explainQueryId(db, caps, queryId, { params: null, analyze: false, timeoutMs: 10_000 });
    expect(outcome).toMatchObject({ statement: ORDERS_BY_CUSTOMER, queryId, genericPlan: true });
    expect(rootNode(outcome)['Node Type']).toBe('Seq Scan');
    expect(outcome.summary.sequentialScans.map((scan) => scan.table)).toEqual(['orders']);
  });

  it('is NOT_FOUND for an unknown queryId and BAD_USER_INPUT for one that is not a number', async () => {
    const request = { params: null, analyze: false, timeoutMs: 10_000 };
    expect(await failure(explainQueryId(db, caps, '12345', request))).toMatchObject({
      code: 'NOT_FOUND',
      message: `pg_stat_statements has no statement with queryId 12345 in database "${target.name}" (it may have been evicted or reset).`,
    });
    expect((await failure(explainQueryId(db, caps, 'abc', request))).code).toBe('BAD_USER_INPUT');
    expect((await failure(explainQueryId(db, caps, '9223372036854775808', request))).code).toBe('BAD_USER_INPUT');
  });

  it('is EXTENSION_NOT_LOADED without pg_stat_statements', async () => {
    const without = { ...caps, pgStatStatements: { ...caps.pgStatStatements, installed: false } };
    const { code } = await failure(explainQueryId(db, without, queryId, { params: null, analyze: false, timeoutMs: 10_000 }));
    expect(code).toBe('EXTENSION_NOT_LOADED');
  });
});

const EXPLAIN_QUERY = /* GraphQL */ `
  query Explain($sql: String, $queryId: ID, $params: [String], $analyze: Boolean, $timeoutMs: Int) {
    explain(sql: $sql, queryId: $queryId, params: $params, analyze: $analyze, timeoutMs: $timeoutMs) {
      statement
      plan
      analyzed
      genericPlan
      actualRows
      executionTimeMs
      summary {
        sequentialScans { table estimatedRows actualRows loops large }
        misestimates { nodeType schema table estimatedRows actualRows loops factor underestimated }
        notes
      }
    }
  }`;

type ExplainData = { explain: ExplainOutcome };

describe('explain with analyze', () => {
  const analyze = (variables: Record<string, unknown>, { token = TEST_ADMIN_TOKEN as string | null } = {}) =>
    api.gql<ExplainData>(EXPLAIN_QUERY, { analyze: true, ...variables }, { token: token ?? undefined });

  it('executes a SELECT with its params and reports measured rows', async () => {
    const result = await analyze({ sql: 'SELECT count(*) FROM orders WHERE customer_id = $1', params: ['7'] });
    expect(result.errors).toBeUndefined();
    const outcome = result.data!.explain;
    expect(outcome).toMatchObject({ analyzed: true, genericPlan: false, actualRows: 1 });
    expect(typeof outcome.executionTimeMs).toBe('number');
    expect(rootNode(outcome)['Node Type']).toBe('Aggregate');
    expect(rootNode(outcome)).toHaveProperty('Shared Hit Blocks');
    expect(outcome.summary.sequentialScans).toEqual([{ table: 'orders', estimatedRows: 50, actualRows: 50, loops: 1, large: true }]);
    expect(outcome.summary.misestimates).toEqual([]);
  });

  it('finds a row misestimate on correlated columns', async () => {
    const result = await analyze({ sql: 'SELECT * FROM readings WHERE a = 1 AND b = 1' });
    expect(result.data!.explain.summary.misestimates).toEqual([
      {
        nodeType: 'Seq Scan',
        schema: 'public',
        table: 'readings',
        estimatedRows: 2,
        actualRows: 200,
        loops: 1,
        factor: 100,
        underestimated: true,
      },
    ]);
  });

  it('needs the admin token, and is FORBIDDEN when none is configured', async () => {
    const anonymous = await analyze({ sql: 'SELECT 1' }, { token: null });
    expect(errorCodes(anonymous)).toEqual(['UNAUTHENTICATED']);
    expect(anonymous.data).toEqual({ explain: null });
    const tokenless = createTestApp(target.url, { env: { PGSCOPE_ADMIN_TOKEN: '' } });
    try {
      expect(errorCodes(await tokenless.gql(EXPLAIN_QUERY, { sql: 'SELECT 1', analyze: true }))).toEqual(['FORBIDDEN']);
    } finally {
      await tokenless.close();
    }
  });

  it.each([
    ["UPDATE orders SET status = 'void'", 'UNSAFE_STATEMENT', 'this one is refused: it is an UPDATE statement, not a SELECT.'],
    ['SELECT 1; DELETE FROM orders', 'BAD_USER_INPUT', 'The SQL contains 2 statements; send exactly one.'],
    [
      'WITH gone AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM gone',
      'UNSAFE_STATEMENT',
      'this one is refused: it contains a data-modifying DELETE in a WITH query.',
    ],
    ['SELECT * FROM orders WHERE id = 1 FOR UPDATE', 'UNSAFE_STATEMENT', 'this one is refused: FOR UPDATE/SHARE locks rows.'],
    ['SELECT * INTO copied FROM orders', 'UNSAFE_STATEMENT', 'this one is refused: SELECT INTO creates a table.'],
    ['SELECT record_visit()', 'UNSAFE_STATEMENT', 'this one is refused: it uses volatile function public.record_visit.'],
    [
      ORDERS_BY_CUSTOMER,
      'BAD_USER_INPUT',
      'analyze executes the statement, so it needs a value for each of its 1 parameter(s): pass params.',
    ],
  ])('refuses %s and changes nothing', async (sql, code, message) => {
    const result = await analyze({ sql });
    expect(errorCodes(result)).toEqual([code]);
    expect(result.errors![0]!.message).toContain(message);
    expect(
      await target.sql(
        "SELECT (SELECT count(*)::int FROM orders) AS orders, (SELECT count(*)::int FROM orders WHERE status = 'void') AS void, (SELECT count(*)::int FROM visits) AS visits",
      ),
    ).toEqual([{ orders: 50000, void: 0, visits: 0 }]);
  });

  it('refuses to take an advisory lock (a volatile function), so none is left held', async () => {
    const result = await analyze({ sql: 'SELECT pg_advisory_lock(4242)' });
    expect(errorCodes(result)).toEqual(['UNSAFE_STATEMENT']);
    expect(await target.sql("SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242")).toEqual([
      { held: 0 },
    ]);
  });

  it('is cancelled after timeoutMs with QUERY_TIMEOUT', async () => {
    // 2.5 billion joined rows: far longer than 200 ms, with no volatile function (pg_sleep is one).
    const result = await analyze({ sql: 'SELECT count(*) FROM orders a CROSS JOIN orders b', timeoutMs: 200 });
    expect(errorCodes(result)).toEqual(['QUERY_TIMEOUT']);
    expect(result.errors![0]!.message).toBe(
      'EXPLAIN ANALYZE ran longer than timeoutMs (200 ms) and was cancelled; its transaction was rolled back.',
    );
    expect(errorCodes(await analyze({ sql: 'SELECT 1', timeoutMs: 0 }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('explain arguments', () => {
  it('needs exactly one of queryId and sql', async () => {
    expect(errorCodes(await api.gql(EXPLAIN_QUERY, {}))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await api.gql(EXPLAIN_QUERY, { sql: 'SELECT 1', queryId: '1' }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('explain as a role with only pg_monitor', () => {
  let app: TestApp;

  beforeAll(() => {
    app = createTestApp(monitor.url(target.name));
  });

  afterAll(() => app.close());

  it('explains what the role may read, by SQL and by queryId of another role', async () => {
    const bySql = await app.gql<ExplainData>(EXPLAIN_QUERY, { sql: 'SELECT * FROM orders WHERE customer_id = 42' });
    expect(bySql.data!.explain.summary.sequentialScans).toEqual([
      { table: 'orders', estimatedRows: 50, actualRows: null, loops: null, large: true },
    ]);
    await queryOnce(target.url, 'SELECT * FROM orders WHERE id = $1', [1]);
    const [row] = await target.sql<{ queryid: string }>(
      "SELECT queryid::text AS queryid FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query = 'SELECT * FROM orders WHERE id = $1'",
    );
    const byId = await app.gql<ExplainData>(EXPLAIN_QUERY, { queryId: row!.queryid });
    expect(byId.errors).toBeUndefined();
    expect(byId.data!.explain.statement).toBe('SELECT * FROM orders WHERE id = $1');
  });

  it('is INSUFFICIENT_PRIVILEGE, naming the table, where running the statement would be', async () => {
    const result = await app.gql(EXPLAIN_QUERY, { sql: 'SELECT * FROM secrets' });
    expect(errorCodes(result)).toEqual(['INSUFFICIENT_PRIVILEGE']);
    expect(result.errors![0]!.message).toBe(
      `EXPLAIN needs the privileges that running the statement needs, and role "${monitor.name}" lacks one (permission denied for table secrets). ` +
        `Grant them to that role (for reads: GRANT SELECT ON <table> TO ${monitor.name}, or pg_read_all_data on PostgreSQL 14+).`,
    );
  });
});

describe('explain as a role without pg_read_all_stats', () => {
  it("explains SQL, and says why another role's statement is not found by queryId", async () => {
    const app = createTestApp(plain.url(target.name));
    try {
      const bySql = await app.gql<ExplainData>(EXPLAIN_QUERY, { sql: 'SELECT * FROM orders WHERE customer_id = 42' });
      expect(bySql.data!.explain.summary.sequentialScans).toEqual([
        { table: 'orders', estimatedRows: 50, actualRows: null, loops: null, large: true },
      ]);
      const queryId = await runOrdersByCustomer(8);
      const byId = await app.gql(EXPLAIN_QUERY, { queryId });
      expect(errorCodes(byId)).toEqual(['NOT_FOUND']);
      expect(byId.errors![0]!.message).toBe(
        `pg_stat_statements has no statement with queryId ${queryId} in database "${target.name}" (it may have been evicted or reset). ` +
          `Role "${plain.name}" sees only its own statements there; GRANT pg_read_all_stats TO ${plain.name} to explain other roles' statements.`,
      );
    } finally {
      await app.close();
    }
  });
});
