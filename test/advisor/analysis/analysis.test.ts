// The advisor's analysis (steps 1-4) on a real database: one table and statement per shape the
// index advisor must handle, with the exact candidates expected (or none, and why).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planIndex } from '../../../src/actions/index/definition.js';
import { analyzeStatements, type AnalyzeOptions } from '../../../src/advisor/analysis/analyze.js';
import type { CandidateIndex, RejectedCandidate } from '../../../src/advisor/types.js';
import { Database } from '../../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';

let target: TestDatabase;
let db: Database;

beforeAll(async () => {
  target = await createTestDatabase('advisor_analysis');
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  await target.sql(/* SQL */ `
    CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL, username text NOT NULL, is_active boolean NOT NULL);
    CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, total numeric,
      created_at timestamptz NOT NULL, details jsonb, deleted_at timestamptz);
    CREATE TABLE templates (id serial PRIMARY KEY, name text, config jsonb NOT NULL, tags int[]);
    CREATE TABLE logs (id bigserial, user_id int NOT NULL, ts timestamptz NOT NULL, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
    CREATE TABLE logs_2025 PARTITION OF logs FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    CREATE TABLE logs_2026 PARTITION OF logs FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
    CREATE SCHEMA app;
    CREATE TABLE app.invoices (id serial PRIMARY KEY, number text NOT NULL, customer_id int NOT NULL);
    CREATE VIEW active_customers AS SELECT * FROM customers WHERE is_active = true;
    CREATE VIEW customer_totals AS SELECT customer_id, sum(total) AS total FROM orders WHERE status = 'paid' GROUP BY customer_id;
    CREATE TABLE posts (id serial PRIMARY KEY, tags text[] NOT NULL, title text, code text NOT NULL,
      email text COLLATE "und-x-icu" NOT NULL, name varchar(100) COLLATE "und-x-icu", sku char(8) COLLATE "und-x-icu");
    CREATE TABLE tiny (id serial PRIMARY KEY, code text NOT NULL);
    INSERT INTO tiny (code) SELECT 'c' || g FROM generate_series(1, 10) g;
    ANALYZE tiny;
  `);
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

// nearly empty fixture tables: the size rule is tested on its own below
const ANY_SIZE: AnalyzeOptions = { minRows: 0, minPages: 0 };

/** Runs the analysis on statements given as pg_stat_statements would give them (q1, q2...). */
function analyze(queries: string[], options: AnalyzeOptions = ANY_SIZE) {
  const statements = queries.map((query, index) => ({
    queryId: `q${index + 1}`,
    query,
    calls: 10,
    totalTimeMs: 100,
    meanTimeMs: 10,
    rows: 10,
  }));
  return analyzeStatements(db, statements, options);
}

/** A candidate as one line: "orders btree(customer_id, created_at DESC) WHERE ... [q1,q2]". */
function line(candidate: CandidateIndex): string {
  const keys = candidate.keys.map((key) =>
    [key.column ?? key.expression, key.opclass, key.direction, key.nulls && `NULLS ${key.nulls}`].filter(Boolean).join(' '),
  );
  const where = candidate.where ? ` WHERE ${candidate.where}` : '';
  const table = candidate.schema === 'public' ? candidate.table : `${candidate.schema}.${candidate.table}`;
  const include = candidate.include.length > 0 ? ` INCLUDE (${candidate.include.join(', ')})` : '';
  return `${table} ${candidate.method}(${keys.join(', ')})${include}${where} [${candidate.forQueryIds.join(',')}]`;
}

const rejectedLine = (rejected: RejectedCandidate) =>
  `${line(rejected.candidate)} ${rejected.reason}${rejected.coveredBy ? ` by ${rejected.coveredBy}` : ''}`;

async function candidates(...queries: string[]): Promise<string[]> {
  return (await analyze(queries)).candidates.map(line);
}

describe('analyzeStatements: one shape per case', () => {
  it('equality', async () => {
    expect(await candidates('SELECT * FROM customers WHERE email = $1')).toEqual(['customers btree(email) [q1]']);
  });

  it('equality then range', async () => {
    expect(await candidates('SELECT id, total FROM orders WHERE created_at >= $1 AND customer_id = $2')).toEqual([
      'orders btree(customer_id) [q1]',
      'orders btree(customer_id, created_at) [q1]',
      // the other columns it reads, for an index-only scan
      'orders btree(customer_id, created_at) INCLUDE (id, total) [q1]',
    ]);
    const { accesses } = await analyze(['SELECT id, total FROM orders WHERE created_at >= $1 AND customer_id = $2']);
    expect(accesses.map((access) => access.readColumns)).toEqual([['created_at', 'customer_id', 'id', 'total']]);
  });

  it('BETWEEN is a range', async () => {
    expect(await candidates('SELECT count(*) FROM orders o WHERE o.created_at BETWEEN $1 AND $2')).toEqual([
      'orders btree(created_at) [q1]',
    ]);
  });

  it('BETWEEN is two bounds, as the planner reads it (>= and <=); a constant bound is kept for the estimate', async () => {
    const { accesses } = await analyze([
      'SELECT id FROM orders WHERE created_at BETWEEN $1 AND $2',
      "SELECT id FROM orders WHERE $1 < total AND total <= 100 AND created_at > '2026-01-01'::date",
    ]);
    const bounds = accesses.map((access) => access.predicates.map((p) => `${p.column} ${p.use} ${p.operator} ${p.constant ?? '$'}`));
    expect(bounds).toEqual([
      ['created_at RANGE >= $', 'created_at RANGE <= $'],
      ['total RANGE > $', 'total RANGE <= 100', 'created_at RANGE > 2026-01-01'],
    ]);
  });

  it('ORDER BY ... DESC LIMIT: the sort keys with their direction after the equality keys', async () => {
    expect(await candidates('SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2')).toEqual([
      'orders btree(customer_id) [q1]',
      'orders btree(customer_id, created_at DESC) [q1]',
    ]);
    // a range on the first sort key is served by the same index
    expect(await candidates('SELECT * FROM orders WHERE created_at > $1 ORDER BY created_at DESC NULLS LAST LIMIT 20')).toEqual([
      'orders btree(created_at DESC NULLS LAST) [q1]',
    ]);
    // without a LIMIT an index read in order still spares the sort: a candidate, which costing may find not worth it
    expect(await candidates('SELECT * FROM orders ORDER BY created_at DESC')).toEqual(['orders btree(created_at DESC) [q1]']);
  });

  it('join: the join key on each side, as separate accesses', async () => {
    const result = await analyze(['SELECT o.id, o.total FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = $1']);
    expect(result.candidates.map(line)).toEqual([
      'customers btree(email) [q1]',
      'customers btree(email) INCLUDE (id) [q1]',
      'orders btree(customer_id) [q1]',
      'orders btree(customer_id) INCLUDE (id, total) [q1]',
    ]);
    // the customers side's join key is its primary key: (id) and (id, email) gain nothing
    expect(result.rejected.map(rejectedLine)).toEqual([
      'customers btree(id) [q1] COVERED_BY_EXISTING by customers_pkey',
      'customers btree(id, email) [q1] COVERED_BY_EXISTING by customers_pkey',
    ]);
    expect(result.accesses.map((access) => [access.table, access.predicates.map((p) => `${p.column} ${p.use}`)])).toEqual([
      ['customers', ['email EQUALITY']],
      ['customers', ['id EQUALITY', 'email EQUALITY']],
      ['orders', ['customer_id EQUALITY']],
    ]);
    // an ORDER BY over two tables cannot come from one index; over the joined table's keys alone it can
    expect(
      await candidates(
        'SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY c.email, o.created_at LIMIT 5',
        'SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY c.email DESC LIMIT 5',
      ),
    ).toEqual(['orders btree(customer_id) [q1,q2]', 'customers btree(email DESC) [q2]']);
  });

  it('join written with USING, and a correlated EXISTS', async () => {
    expect(
      await candidates(
        'SELECT * FROM app.invoices JOIN orders USING (customer_id) WHERE invoices.number = $1',
        'SELECT * FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status = $1)',
      ),
    ).toEqual([
      'app.invoices btree(number) [q1]',
      'app.invoices btree(customer_id) [q1]',
      'app.invoices btree(customer_id, number) [q1]',
      'orders btree(customer_id) [q1,q2]',
      'orders btree(status) [q2]',
      'orders btree(status) INCLUDE (customer_id) [q2]',
      'orders btree(customer_id, status) [q2]',
    ]);
  });

  it('x IN (SELECT ...): x is a join key, and the subquery is read too', async () => {
    const sql = 'SELECT * FROM orders WHERE status = $2 AND customer_id IN (SELECT id FROM customers WHERE username = $1)';
    expect(await candidates(sql)).toEqual([
      'orders btree(status) [q1]',
      'orders btree(customer_id) [q1]',
      'orders btree(customer_id, status) [q1]',
      'customers btree(username) [q1]',
      'customers btree(username) INCLUDE (id) [q1]',
    ]);
  });

  it('OR: each branch its own candidate', async () => {
    expect(await candidates('SELECT * FROM customers WHERE email = $1 OR lower(username) = $2')).toEqual([
      'customers btree(email) [q1]',
      'customers btree("pg_catalog"."lower"("username")) [q1]',
    ]);
    // a branch that asks nothing indexable makes the OR useless to an index
    expect(await candidates('SELECT * FROM customers WHERE email = $1 OR username <> $2')).toEqual([]);
  });

  it('IN and = ANY are equality', async () => {
    const queries = ['SELECT * FROM orders WHERE customer_id IN ($1, $2, $3)', 'SELECT * FROM orders WHERE customer_id = ANY ($1)'];
    expect(await candidates(...queries)).toEqual(['orders btree(customer_id) [q1,q2]']);
  });

  it('jsonb @>: GIN with jsonb_path_ops; with ? on the same column, the default jsonb_ops', async () => {
    expect(await candidates('SELECT id, name FROM templates WHERE config @> jsonb_build_object($1, $2)')).toEqual([
      'templates gin(config jsonb_path_ops) [q1]',
    ]);
    expect(await candidates('SELECT id FROM templates WHERE config @> $1', 'SELECT id FROM templates WHERE config ? $1')).toEqual([
      'templates gin(config) [q1,q2]',
    ]);
    // array containment is not jsonb's: GIN with the array's default operator class (array_ops)
    expect(await candidates('SELECT id FROM templates WHERE tags @> $1')).toEqual(['templates gin(tags) [q1]']);
  });

  it('lower(email) = gives an expression key, written as applyIndex writes it', async () => {
    expect(await candidates('SELECT * FROM customers c WHERE lower(c.email) = lower($1)')).toEqual([
      'customers btree("pg_catalog"."lower"("email")) [q1]',
    ]);
  });

  it('->> with a constant key gives an expression key; with a parameter key, nothing', async () => {
    expect(await candidates("SELECT * FROM orders WHERE details ->> 'page' = $1")).toEqual([
      `orders btree(("details" OPERATOR("pg_catalog".->>) 'page')) [q1]`,
    ]);
    expect(await candidates('SELECT * FROM orders WHERE details ->> $1 = $2')).toEqual([]);
  });

  it("status = 'pending' ORDER BY created_at LIMIT: a partial index beside the full ones", async () => {
    expect(await candidates("SELECT * FROM orders WHERE status = 'pending' ORDER BY created_at LIMIT 10")).toEqual([
      'orders btree(status) [q1]',
      'orders btree(status, created_at) [q1]',
      `orders btree(created_at) WHERE ("status" OPERATOR("pg_catalog".=) 'pending') [q1]`,
    ]);
    expect(await candidates('SELECT * FROM orders WHERE customer_id = $1 AND deleted_at IS NULL')).toEqual([
      'orders btree(customer_id) [q1]',
      'orders btree(customer_id, deleted_at) [q1]',
      'orders btree(customer_id) WHERE ("deleted_at" IS NULL) [q1]',
    ]);
  });

  it('<> a constant, IS NOT NULL and NOT a boolean column: partial predicates', async () => {
    const sql = "SELECT * FROM orders WHERE status <> 'done' AND deleted_at IS NOT NULL ORDER BY created_at DESC LIMIT 10";
    expect(await candidates(sql)).toEqual([
      'orders btree(created_at DESC) [q1]',
      `orders btree(created_at DESC) WHERE ("status" OPERATOR("pg_catalog".<>) 'done') AND ("deleted_at" IS NOT NULL) [q1]`,
    ]);
    expect(await candidates('SELECT * FROM customers WHERE NOT is_active AND email = $1')).toEqual([
      'customers btree(is_active) [q1]',
      'customers btree(is_active, email) [q1]',
      'customers btree(email) WHERE (NOT "is_active") [q1]',
    ]);
  });

  it('a boolean column alone is a constant predicate too', async () => {
    expect(await candidates('SELECT * FROM customers WHERE is_active AND username = $1')).toEqual([
      'customers btree(is_active) [q1]',
      'customers btree(is_active, username) [q1]',
      'customers btree(username) WHERE "is_active" [q1]',
    ]);
  });

  it('at most maxColumns keys', async () => {
    const sql = 'SELECT * FROM orders WHERE customer_id = $1 AND status = $2 ORDER BY created_at DESC LIMIT 5';
    expect((await analyze([sql], { ...ANY_SIZE, maxColumns: 2 })).candidates.map(line)).toEqual([
      'orders btree(customer_id) [q1]',
      'orders btree(customer_id, status) [q1]',
    ]);
  });

  it('a partitioned table: one parent-level candidate, also for statements on a partition', async () => {
    expect(await candidates('SELECT * FROM logs WHERE user_id = $1', 'SELECT * FROM logs_2026 WHERE user_id = $1')).toEqual([
      'logs btree(user_id) [q1,q2]',
    ]);
  });

  it('CTEs, subqueries in FROM and views: the tables inside are read', async () => {
    expect(
      await candidates(
        'WITH recent AS (SELECT * FROM orders WHERE customer_id = $1) SELECT * FROM recent',
        'SELECT * FROM (SELECT * FROM customers WHERE username = $1) AS c',
        'SELECT * FROM active_customers WHERE email = $1',
      ),
    ).toEqual([
      'orders btree(customer_id) [q1]',
      'customers btree(username) [q2]',
      // a simple view is merged: its WHERE (is_active = true) joins the query's conditions
      'customers btree(email) [q3]',
      'customers btree(email, is_active) [q3]',
      'customers btree(email) WHERE ("is_active" OPERATOR("pg_catalog".=) true) [q3]',
    ]);
    // a view that groups is read as a query of its own
    expect(await candidates('SELECT * FROM customer_totals WHERE customer_id = $1')).toEqual([
      'orders btree(status) [q1]',
      'orders btree(status) INCLUDE (customer_id, total) [q1]',
    ]);
  });

  it('UNION: each arm is read', async () => {
    expect(await candidates('SELECT * FROM customers WHERE email = $1 UNION ALL SELECT * FROM customers WHERE username = $2')).toEqual([
      'customers btree(email) [q1]',
      'customers btree(username) [q1]',
    ]);
  });

  it('UPDATE and DELETE read their rows through their WHERE', async () => {
    const update = 'UPDATE orders SET status = $1 WHERE customer_id = $2';
    const remove = 'DELETE FROM orders o USING customers c WHERE o.customer_id = c.id AND c.username = $1';
    expect(await candidates(update, remove)).toEqual([
      'orders btree(customer_id) [q1,q2]',
      'customers btree(username) [q2]',
      'customers btree(username) INCLUDE (id) [q2]',
    ]);
  });

  it('statements that cannot use an index give nothing', async () => {
    const result = await analyze([
      'INSERT INTO orders (customer_id, status, created_at) VALUES ($1, $2, $3)',
      'CREATE INDEX ON orders (status)',
      'SET work_mem = $1',
      'SELECT * FROM pg_stat_statements WHERE calls > $1',
      'SELECT * FROM pgscope.change_log WHERE id = $1',
      'SELECT 1',
    ]);
    const { clearance: _clearance, ...analysis } = result;
    expect(analysis).toEqual({
      statements: [],
      accesses: [],
      candidates: [],
      rejected: [],
      untrusted: [],
      excluded: [],
      belowMinMeanTime: 0,
      notes: [],
    });
  });
});

// The test server's database collation is C (initdb --locale=C): posts.code is C, email, name and sku are not.
describe('analyzeStatements: arrays and patterns', () => {
  it('array @>, <@ and &&: GIN on the array column (array_ops); the constant elements are kept for the estimate', async () => {
    const result = await analyze([
      'SELECT * FROM posts WHERE tags @> $1',
      'SELECT * FROM posts WHERE ARRAY[$1, $2] <@ tags',
      "SELECT * FROM posts WHERE tags && ARRAY['a', 'b']",
      "SELECT * FROM posts WHERE tags @> '{x}'",
    ]);
    expect(result.candidates.map(line)).toEqual(['posts gin(tags) [q1,q2,q3,q4]']);
    expect(result.accesses.map((access) => access.predicates)).toEqual([
      [{ column: 'tags', expression: null, use: 'ARRAY_CONTAINS' }],
      [{ column: 'tags', expression: null, use: 'ARRAY_CONTAINS' }],
      [{ column: 'tags', expression: null, use: 'ARRAY_CONTAINS', elements: ['a', 'b'], overlap: true }],
      [{ column: 'tags', expression: null, use: 'ARRAY_CONTAINS', elements: ['x'] }],
    ]);
    expect(result.notes).toEqual([]);
  });

  it('$1 = ANY (array column): no candidate (no index serves it), and a note with the rewrite that one would', async () => {
    const result = await analyze([
      'SELECT * FROM posts WHERE $1 = ANY (tags)',
      'SELECT * FROM posts p WHERE $1 = ANY (p.tags) AND code = $2',
    ]);
    // a scalar column compared with = ANY is still equality
    expect(result.candidates.map(line)).toEqual(['posts btree(code) [q2]']);
    // in an OR, a branch no index serves makes the whole OR a sequential scan
    expect(await candidates('SELECT * FROM posts WHERE code = $1 OR $2 = ANY (tags)')).toEqual([]);
    expect(result.notes.map((note) => note.sentence)).toEqual([
      'Statements q1, q2 test $n = ANY (tags) on public.posts, which no index serves as written: tags @> ARRAY[$n] asks the ' +
        'same of a non-null value, and with it pgscope can propose a GIN index on tags.',
    ]);
  });

  it('LIKE with a prefix or a parameter: a B-tree with the pattern operator class of the type, or the default one under C', async () => {
    expect(
      await candidates(
        'SELECT * FROM posts WHERE email LIKE $1',
        "SELECT * FROM posts WHERE name LIKE 'abc%'",
        'SELECT * FROM posts WHERE lower(name) LIKE $1',
        'SELECT * FROM posts WHERE sku ~~ $1',
        'SELECT * FROM posts WHERE code LIKE $1',
        'SELECT * FROM posts WHERE code NOT LIKE $1',
      ),
    ).toEqual([
      'posts btree(email text_pattern_ops) [q1]',
      'posts btree(name varchar_pattern_ops) [q2]',
      // an expression's collation is not known to the analysis: the operator class that serves every collation
      'posts btree("pg_catalog"."lower"("name") text_pattern_ops) [q3]',
      'posts btree(sku bpchar_pattern_ops) [q4]',
      'posts btree(code) [q5]',
    ]);
  });

  it('a LIKE prefix is covered by an index with its pattern operator class, not by a plain B-tree under a non-C collation', async () => {
    await target.sql(
      'CREATE INDEX posts_email_plain ON posts (email); CREATE INDEX posts_name_pattern ON posts (name varchar_pattern_ops)',
    );
    try {
      const result = await analyze(['SELECT * FROM posts WHERE email LIKE $1', 'SELECT * FROM posts WHERE name LIKE $1']);
      expect(result.candidates.map(line)).toEqual(['posts btree(email text_pattern_ops) [q1]']);
      expect(result.rejected.map(rejectedLine)).toEqual([
        'posts btree(name varchar_pattern_ops) [q2] COVERED_BY_EXISTING by posts_name_pattern',
      ]);
    } finally {
      await target.sql('DROP INDEX posts_email_plain; DROP INDEX posts_name_pattern');
    }
  });

  it('ILIKE and LIKE with a leading wildcard: without pg_trgm no candidate, and a note that says what to install', async () => {
    const result = await analyze([
      'SELECT * FROM posts WHERE title ILIKE $1',
      "SELECT * FROM posts WHERE title LIKE '%abc%'",
      'SELECT * FROM posts WHERE sku ILIKE $1',
    ]);
    expect(result.candidates.map(line)).toEqual([]);
    expect(result.notes.map((note) => note.sentence)).toEqual([
      'Statements q1, q2 match title with ILIKE or a LIKE pattern starting with a wildcard on public.posts: only a trigram ' +
        'index (USING gin (title gin_trgm_ops)) serves that, and pg_trgm is not installed in this database ' +
        '(CREATE EXTENSION pg_trgm; then run the advisor again).',
    ]);
  });

  it('ILIKE and LIKE with a leading wildcard: a trigram GIN index once pg_trgm is installed, and no note', async () => {
    await target.sql('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    try {
      const result = await analyze(['SELECT * FROM posts WHERE title ILIKE $1', "SELECT * FROM posts WHERE lower(title) LIKE '%abc%'"]);
      expect(result.candidates.map(line)).toEqual([
        'posts gin(title gin_trgm_ops) [q1]',
        'posts gin("pg_catalog"."lower"("title") gin_trgm_ops) [q2]',
      ]);
      expect(result.notes).toEqual([]);
    } finally {
      await target.sql('DROP EXTENSION pg_trgm');
    }
  });

  it('array, pattern and trigram candidates pass planIndex as they are', async () => {
    await target.sql('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    try {
      const { candidates: found } = await analyze([
        'SELECT * FROM posts WHERE tags && $1',
        'SELECT * FROM posts WHERE lower(name) LIKE $1',
        'SELECT * FROM posts WHERE title ILIKE $1',
      ]);
      const [version] = await target.sql<{ num: number }>('SELECT current_setting($1)::int AS num', ['server_version_num']);
      const definitions: string[] = [];
      for (const candidate of found) {
        definitions.push((await planIndex(db, { ...candidate, columns: candidate.keys }, { versionNum: version!.num })).definitionSql);
      }
      expect(definitions).toEqual([
        `CREATE INDEX CONCURRENTLY "posts_tags_idx" ON "public"."posts" USING "gin" ("tags")`,
        `CREATE INDEX CONCURRENTLY "posts_lower_idx" ON "public"."posts" USING "btree" (("pg_catalog"."lower"("name")) "text_pattern_ops")`,
        `CREATE INDEX CONCURRENTLY "posts_title_idx" ON "public"."posts" USING "gin" ("title" "public"."gin_trgm_ops")`,
      ]);
    } finally {
      await target.sql('DROP EXTENSION pg_trgm');
    }
  });
});

describe('analyzeStatements: what the operator leaves out', () => {
  const excludeTables = [
    { schema: 'public', table: 'customers' },
    { schema: 'public', table: 'logs' },
  ];

  it('excludeTables: statements reading only those (through a view, a partition) are set aside; a join keeps its other table', async () => {
    const result = await analyze(
      [
        'SELECT * FROM active_customers WHERE email = $1',
        'SELECT * FROM logs_2026 WHERE user_id = $1',
        'DELETE FROM orders o USING customers c WHERE o.customer_id = c.id AND c.username = $1',
      ],
      { ...ANY_SIZE, excludeTables },
    );
    expect(result.excluded).toEqual([
      { queryId: 'q1', reason: 'it reads only tables excludeTables leaves out (public.customers)' },
      { queryId: 'q2', reason: 'it reads only tables excludeTables leaves out (public.logs)' },
    ]);
    expect(result.statements.map((statement) => statement.queryId)).toEqual(['q3']);
    expect(result.candidates.map(line)).toEqual(['orders btree(customer_id) [q3]']);
  });

  it('minMeanTimeMs: statements faster on average are left out and counted', async () => {
    const result = await analyzeStatements(
      db,
      [
        { queryId: 'fast', query: 'SELECT * FROM orders WHERE status = $1', calls: 10, totalTimeMs: 10, meanTimeMs: 1, rows: 1 },
        { queryId: 'slow', query: 'SELECT * FROM orders WHERE customer_id = $1', calls: 10, totalTimeMs: 50, meanTimeMs: 5, rows: 1 },
      ],
      { ...ANY_SIZE, minMeanTimeMs: 5 },
    );
    expect(result.belowMinMeanTime).toBe(1);
    expect(result.statements.map((statement) => statement.queryId)).toEqual(['slow']);
    expect(result.candidates.map(line)).toEqual(['orders btree(customer_id) [slow]']);
  });
});

describe('candidates are what applyIndex takes', () => {
  it('each candidate passes planIndex as it is, giving the SQL a DBA would write', async () => {
    const { candidates: found } = await analyze([
      "SELECT * FROM orders WHERE details ->> 'page' = $1 AND status = 'pending' ORDER BY created_at DESC NULLS LAST LIMIT 10",
      'SELECT * FROM customers WHERE lower(email) = $1',
      'SELECT id FROM templates WHERE config @> $1',
      'SELECT * FROM logs WHERE user_id = $1 AND ts >= $2',
    ]);
    const [version] = await target.sql<{ num: number }>('SELECT current_setting($1)::int AS num', ['server_version_num']);
    const versionNum = version!.num;
    const definitions: string[] = [];
    for (const candidate of found) {
      const plan = await planIndex(db, { ...candidate, columns: candidate.keys }, { versionNum });
      expect(plan.existing).toBeNull();
      definitions.push(plan.definitionSql);
    }
    expect(definitions).toEqual([
      `CREATE INDEX CONCURRENTLY "orders_expr_idx" ON "public"."orders" USING "btree" ((("details" OPERATOR("pg_catalog".->>) 'page')))`,
      `CREATE INDEX CONCURRENTLY "orders_expr_status_idx" ON "public"."orders" USING "btree" ((("details" OPERATOR("pg_catalog".->>) 'page')), "status")`,
      `CREATE INDEX CONCURRENTLY "orders_expr_status_created_at_idx" ON "public"."orders" USING "btree" ((("details" OPERATOR("pg_catalog".->>) 'page')), "status", "created_at" DESC NULLS LAST)`,
      `CREATE INDEX CONCURRENTLY "orders_expr_idx" ON "public"."orders" USING "btree" ((("details" OPERATOR("pg_catalog".->>) 'page'))) WHERE ("status" OPERATOR("pg_catalog".=) 'pending')`,
      `CREATE INDEX CONCURRENTLY "orders_expr_created_at_idx" ON "public"."orders" USING "btree" ((("details" OPERATOR("pg_catalog".->>) 'page')), "created_at" DESC NULLS LAST) WHERE ("status" OPERATOR("pg_catalog".=) 'pending')`,
      `CREATE INDEX CONCURRENTLY "customers_lower_idx" ON "public"."customers" USING "btree" (("pg_catalog"."lower"("email")))`,
      `CREATE INDEX CONCURRENTLY "templates_config_idx" ON "public"."templates" USING "gin" ("config" "jsonb_path_ops")`,
      // a partitioned parent: planIndex builds it per partition; this is the statement one would write by hand
      `CREATE INDEX "logs_user_id_idx" ON "public"."logs" USING "btree" ("user_id")`,
      `CREATE INDEX "logs_user_id_ts_idx" ON "public"."logs" USING "btree" ("user_id", "ts")`,
    ]);
  });

  it('puts the most selective equality key first when pg_stats knows', async () => {
    await target.sql(/* SQL */ `
      CREATE TABLE analyzed (id serial PRIMARY KEY, kind int NOT NULL, account int NOT NULL);
      INSERT INTO analyzed (kind, account) SELECT g % 3, g % 500 FROM generate_series(1, 3000) g;
      ANALYZE analyzed;
    `);
    expect(await candidates('SELECT * FROM analyzed WHERE kind = $1 AND account = $2')).toEqual([
      'analyzed btree(account) [q1]',
      'analyzed btree(account, kind) [q1]',
    ]);
  });
});

describe('analyzeStatements: candidates already served or not worth it', () => {
  beforeAll(async () => {
    await target.sql(/* SQL */ `
      CREATE TABLE covered (id serial PRIMARY KEY, account_id int NOT NULL, created_at timestamptz NOT NULL, code text NOT NULL, doc jsonb);
      CREATE INDEX covered_account_created ON covered (account_id, created_at);
      CREATE UNIQUE INDEX covered_code ON covered (code);
      CREATE INDEX covered_doc ON covered USING gin (doc);
      CREATE INDEX covered_lower_code ON covered (lower(code)) WHERE account_id > 0;
      CREATE INDEX covered_doc_kind ON covered ((doc ->> 'kind'));
    `);
  });

  it('covered by a composite or a unique index: nothing, with the covering index named', async () => {
    const result = await analyze([
      'SELECT * FROM covered WHERE account_id = $1 AND created_at >= $2',
      'SELECT * FROM covered WHERE code = $1 AND account_id = $2',
      'SELECT * FROM covered WHERE account_id = $1 ORDER BY created_at DESC LIMIT 5',
      'SELECT * FROM covered WHERE doc @> $1',
      "SELECT * FROM covered WHERE doc ->> 'kind' = $1",
    ]);
    expect(result.candidates).toEqual([]);
    expect(result.rejected.map(rejectedLine)).toEqual([
      'covered btree(account_id) [q1,q3] COVERED_BY_EXISTING by covered_account_created',
      'covered btree(account_id, created_at) [q1] COVERED_BY_EXISTING by covered_account_created',
      'covered btree(code) [q2] COVERED_BY_EXISTING by covered_code',
      'covered btree(code, account_id) [q2] COVERED_BY_EXISTING by covered_code',
      // a backward scan of (account_id, created_at) gives created_at DESC
      'covered btree(account_id, created_at DESC) [q3] COVERED_BY_EXISTING by covered_account_created',
      'covered gin(doc jsonb_path_ops) [q4] COVERED_BY_EXISTING by covered_doc',
      // printed by PostgreSQL as ((doc ->> 'kind'::text)): compared as parse trees
      `covered btree(("doc" OPERATOR("pg_catalog".->>) 'kind')) [q5] COVERED_BY_EXISTING by covered_doc_kind`,
    ]);
  });

  it('a partial index covers only its own predicate; an index in another order does not cover', async () => {
    const result = await analyze([
      'SELECT * FROM covered WHERE lower(code) = $1',
      'SELECT * FROM covered WHERE created_at = $1 AND account_id > $2',
    ]);
    expect(result.candidates.map(line)).toEqual([
      'covered btree("pg_catalog"."lower"("code")) [q1]',
      'covered btree(created_at) [q2]',
      'covered btree(created_at, account_id) [q2]',
    ]);
  });

  it('an INCLUDE candidate is covered only by an index that stores those columns', async () => {
    await target.sql(/* SQL */ `
      CREATE TABLE stored (id serial PRIMARY KEY, account_id int NOT NULL, code text NOT NULL, note text);
      CREATE INDEX stored_account_code ON stored (account_id) INCLUDE (code);
    `);
    const result = await analyze(['SELECT code FROM stored WHERE account_id = $1', 'SELECT note FROM stored WHERE account_id = $1']);
    expect(result.candidates.map(line)).toEqual(['stored btree(account_id) INCLUDE (note) [q2]']);
    expect(result.rejected.map(rejectedLine)).toEqual([
      'stored btree(account_id) [q1,q2] COVERED_BY_EXISTING by stored_account_code',
      'stored btree(account_id) INCLUDE (code) [q1] COVERED_BY_EXISTING by stored_account_code',
    ]);
  });

  it('a tiny table: nothing (TABLE_TOO_SMALL)', async () => {
    const result = await analyze(['SELECT * FROM tiny WHERE code = $1'], {});
    expect(result.candidates).toEqual([]);
    expect(result.rejected.map(rejectedLine)).toEqual(['tiny btree(code) [q1] TABLE_TOO_SMALL']);
  });
});

describe('analyzeStatements: shapes applications write (issue 14)', () => {
  beforeAll(async () => {
    await target.sql(/* SQL */ `
      CREATE TABLE members (id serial PRIMARY KEY, owner_id int NOT NULL, email text NOT NULL, joined_at timestamptz NOT NULL,
        is_active boolean NOT NULL);
      CREATE VIEW member_logins AS SELECT id, owner_id AS user_id, lower(email) AS login, joined_at, is_active FROM members;
      CREATE VIEW active_logins AS SELECT id AS member, user_id AS account, login FROM member_logins WHERE is_active;
      CREATE MATERIALIZED VIEW member_counts AS SELECT owner_id, count(*) AS members FROM members GROUP BY owner_id;
      CREATE VIEW member_total AS SELECT count(*) AS members, max(joined_at) AS latest FROM members WHERE is_active;
    `);
  });

  it('a view that renames its columns: the predicate is on the table column it renames', async () => {
    expect(await candidates('SELECT id FROM member_logins WHERE user_id = $1')).toEqual([
      'members btree(owner_id) [q1]',
      'members btree(owner_id) INCLUDE (id) [q1]',
    ]);
  });

  it('a view column that is an expression: the predicate is on the expression', async () => {
    expect(await candidates('SELECT m.id FROM member_logins m WHERE m.login = $1')).toEqual([
      'members btree("pg_catalog"."lower"("email")) [q1]',
      // the expression's column too: an index-only scan returns the expression's value, not email
      'members btree("pg_catalog"."lower"("email")) INCLUDE (email, id) [q1]',
    ]);
  });

  it("a view over a view: renames compose, and the inner view's WHERE holds", async () => {
    expect(await candidates('SELECT member FROM active_logins WHERE account = $1')).toEqual([
      'members btree(owner_id) [q1]',
      'members btree(owner_id, is_active) [q1]',
      'members btree(owner_id, is_active) INCLUDE (id) [q1]',
      'members btree(owner_id) WHERE "is_active" [q1]',
    ]);
  });

  it('a materialized view is a relation of its own: the index goes on it', async () => {
    expect(await candidates('SELECT members FROM member_counts WHERE owner_id = $1')).toEqual([
      'member_counts btree(owner_id) [q1]',
      'member_counts btree(owner_id) INCLUDE (members) [q1]',
    ]);
  });

  it('a CTE PostgreSQL inlines (referenced once, or NOT MATERIALIZED): the outer predicate reaches the table', async () => {
    expect(
      await candidates(
        'WITH m AS (SELECT id, owner_id AS account FROM members) SELECT id FROM m WHERE account = $1',
        'WITH m AS NOT MATERIALIZED (SELECT * FROM members WHERE is_active) SELECT a.id FROM m a JOIN m b ON b.id = a.id WHERE a.owner_id = $1',
      ),
    ).toEqual([
      'members btree(owner_id) [q1,q2]',
      'members btree(owner_id) INCLUDE (id) [q1]',
      // both references of q2 read members with the CTE's is_active; b is joined on id (its primary key)
      'members btree(owner_id, is_active) [q2]',
      'members btree(owner_id, is_active) INCLUDE (id) [q2]',
      'members btree(owner_id) WHERE "is_active" [q2]',
      'members btree(id) WHERE "is_active" [q2]',
      'members btree(id, owner_id) WHERE "is_active" [q2]',
      'members btree(is_active) [q2]',
      'members btree(is_active) INCLUDE (id) [q2]',
    ]);
  });

  it('a materialized CTE keeps its own conditions only: the outer ones do not reach the table', async () => {
    expect(
      await candidates(
        'WITH m AS MATERIALIZED (SELECT id, owner_id FROM members WHERE joined_at > $1) SELECT id FROM m WHERE owner_id = $2',
        // referenced twice: materialized
        'WITH m AS (SELECT id, owner_id FROM members WHERE joined_at > $1) SELECT * FROM m a JOIN m b USING (id) WHERE a.owner_id = $2',
        'WITH RECURSIVE m AS (SELECT id, owner_id FROM members UNION ALL SELECT id, owner_id FROM m WHERE false) SELECT id FROM m WHERE owner_id = $1',
        // a volatile function: computed apart, once
        'WITH m AS (SELECT id, owner_id, random() AS r FROM members) SELECT id FROM m WHERE owner_id = $1',
      ),
    ).toEqual(['members btree(joined_at) [q1,q2]', 'members btree(joined_at) INCLUDE (id, owner_id) [q1,q2]']);
  });

  it('an aggregate is no column of the table: a view over one is read on its own, ORDER BY its alias asks nothing', async () => {
    expect(
      await candidates(
        'SELECT latest FROM member_total WHERE members > $1',
        'SELECT owner_id, max(joined_at) AS latest FROM members GROUP BY owner_id ORDER BY latest DESC LIMIT $1',
      ),
    ).toEqual(['members btree(is_active) [q1]', 'members btree(is_active) INCLUDE (joined_at) [q1]']);
  });

  it('ORDER BY a column number or an output alias is the column (or expression) it names', async () => {
    expect(
      await candidates(
        'SELECT id, joined_at FROM members WHERE owner_id = $1 ORDER BY 2 DESC LIMIT $2',
        'SELECT id, joined_at AS since FROM members WHERE owner_id = $1 ORDER BY since DESC LIMIT $2',
        'SELECT lower(email) AS login FROM members ORDER BY login LIMIT $1',
      ),
    ).toEqual([
      'members btree(owner_id) [q1,q2]',
      'members btree(owner_id, joined_at DESC) [q1,q2]',
      'members btree(owner_id, joined_at DESC) INCLUDE (id) [q1,q2]',
      'members btree("pg_catalog"."lower"("email")) [q3]',
      'members btree("pg_catalog"."lower"("email")) INCLUDE (email) [q3]',
    ]);
  });
});
