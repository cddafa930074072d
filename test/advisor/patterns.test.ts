// Arrays and text patterns end to end, through pg_stat_statements (which turns every constant
// into $n): what the advisor recommends for array containment and overlap, LIKE prefixes under a
// non-C and the C collation, and ILIKE with pg_trgm; then each recommended index is built for real
// and the statements it was recommended for, with constants again, are planned to use it. On
// PostgreSQL 15 with HypoPG the B-trees for LIKE $n are estimated too: see whatIfCoster.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recommendIndexes, type AdvisorReport } from '../../src/advisor/recommend.js';
import { checkStatementsUse } from '../../src/advisor/verify.js';
import { planOn } from '../../src/advisor/costing/planCost.js';
import { NO_EXTRA_TRUST } from '../../src/config.js';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { clearStatements } from '../../src/db/trust/statementTrust.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { RESET_THIS_DATABASE_STATEMENTS, runAndFlushStats } from '../harness/stats.js';

let target: TestDatabase;
let db: Database;
let report: AdvisorReport;
let caps: Capabilities;

// what each shape is run as; pg_stat_statements keeps them with $n
const SHAPES = {
  contains: "SELECT * FROM posts WHERE tags @> ARRAY['t5']",
  overlaps: "SELECT * FROM posts WHERE tags && ARRAY['t7', 't8']",
  anyOf: "SELECT * FROM posts WHERE 't9' = ANY (tags)",
  emailPrefix: "SELECT * FROM posts WHERE email LIKE 'user12%'",
  foldedPrefix: "SELECT * FROM posts WHERE lower(email) LIKE 'user77%'",
  codePrefix: "SELECT * FROM posts WHERE code LIKE 'c00012%'",
  titleSearch: "SELECT * FROM posts WHERE title ILIKE '%abc%'",
  // built by the statement: pg_stat_statements keeps title LIKE $1 || $2 || $3, an infix search still
  titleContains: "SELECT * FROM posts WHERE title LIKE '%' || 'abd' || '%'",
};

beforeAll(async () => {
  target = await createTestDatabase('advisor_patterns');
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  // the database's collation is C (the test server's initdb): email is given a non-C one, code keeps C
  await runAndFlushStats(target.url, [
    'CREATE EXTENSION IF NOT EXISTS pg_trgm',
    `CREATE TABLE posts (
       id int PRIMARY KEY,
       tags text[] NOT NULL,
       email text COLLATE "und-x-icu" NOT NULL,
       code text NOT NULL,
       title text NOT NULL
     )`,
    `INSERT INTO posts
     SELECT g, ARRAY['t' || (g % 1000), 'c' || (g % 3)], 'user' || g || '@example.com', 'c' || lpad(g::text, 7, '0'), md5(g::text)
     FROM generate_series(1, 200000) g`,
    'ANALYZE posts',
    RESET_THIS_DATABASE_STATEMENTS,
    ...Object.values(SHAPES).flatMap((sql) => [sql, sql, sql]),
  ]);
  statements = await target.sql<{ queryId: string; query: string }>(/* SQL */ `
    SELECT
      s.queryid::text AS "queryId",
      s.query
    FROM pg_stat_statements s
    JOIN pg_database d ON d.oid = s.dbid
    WHERE d.datname = current_database()`);
  caps = await detectCapabilities(db);
  report = await recommendIndexes(db, caps);
}, 120_000);

afterAll(async () => {
  await db.end();
  await target.drop();
});

describe('arrays and text patterns', () => {
  it('recommends GIN for arrays, pattern B-trees for LIKE prefixes, and a trigram GIN index for ILIKE', () => {
    expect(report.recommendations.map((r) => [r.sql, r.reason, r.source]).sort()).toEqual([
      [`CREATE INDEX CONCURRENTLY "posts_code_idx" ON "public"."posts" USING "btree" ("code")`, 'PREFIX_PATTERN', 'HEURISTIC'],
      [
        `CREATE INDEX CONCURRENTLY "posts_email_idx" ON "public"."posts" USING "btree" ("email" "text_pattern_ops")`,
        'PREFIX_PATTERN',
        'HEURISTIC',
      ],
      [
        `CREATE INDEX CONCURRENTLY "posts_lower_idx" ON "public"."posts" USING "btree" (("pg_catalog"."lower"("email")) "text_pattern_ops")`,
        'PREFIX_PATTERN',
        'HEURISTIC',
      ],
      [`CREATE INDEX CONCURRENTLY "posts_tags_idx" ON "public"."posts" USING "gin" ("tags")`, 'ARRAY_CONTAINMENT', 'HEURISTIC'],
      [
        `CREATE INDEX CONCURRENTLY "posts_title_idx" ON "public"."posts" USING "gin" ("title" "public"."gin_trgm_ops")`,
        'TRIGRAM_SEARCH',
        'HEURISTIC',
      ],
    ]);
  });

  it('says how to write $1 = ANY (array column) so that an index can serve it', () => {
    const anyOf = queryIdOf(SHAPES.anyOf);
    expect(report.notes).toEqual([
      `Statement ${anyOf} tests $n = ANY (tags) on public.posts, which no index serves as written: tags @> ARRAY[$n] asks the ` +
        'same of a non-null value, and with it pgscope can propose a GIN index on tags.',
    ]);
  });

  it('every recommended index, built for real, is used by the planner for the statements it was recommended for', async () => {
    const shapeOf = new Map(Object.values(SHAPES).map((sql) => [queryIdOf(sql), sql]));
    const checked: string[] = [];
    for (const recommendation of report.recommendations) {
      await target.sql(recommendation.sql);
      await target.sql('ANALYZE posts');
      // the size estimate, within a factor of two of the index built (GIN and trigram sizes are rough)
      const [built] = await target.sql<{ bytes: string }>('SELECT pg_relation_size($1::regclass)::text AS bytes', [recommendation.name]);
      const sizeRatio = recommendation.sizeBytes / Number(built!.bytes);
      expect(sizeRatio, `${recommendation.name}: ${recommendation.sizeBytes} bytes estimated, ${built!.bytes} built`).toBeGreaterThan(0.5);
      expect(sizeRatio, `${recommendation.name}: ${recommendation.sizeBytes} bytes estimated, ${built!.bytes} built`).toBeLessThan(2);
      for (const { statement } of recommendation.statements) {
        const sql = shapeOf.get(statement.queryId)!;
        const plan = (await target.sql<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`)).map((row) => row['QUERY PLAN']).join('\n');
        // "Index Scan using <name> on posts", or "Bitmap Index Scan on <name>" under a Bitmap Heap Scan
        expect(plan, sql).toMatch(new RegExp(`Index (Only )?Scan (using|on) ${recommendation.name}\\b`));
        checked.push(`${recommendation.name}: ${sql}`);
      }
      await target.sql(`DROP INDEX ${recommendation.name}`);
    }
    expect(checked.sort()).toEqual([
      `posts_code_idx: ${SHAPES.codePrefix}`,
      `posts_email_idx: ${SHAPES.emailPrefix}`,
      `posts_lower_idx: ${SHAPES.foldedPrefix}`,
      `posts_tags_idx: ${SHAPES.overlaps}`,
      `posts_tags_idx: ${SHAPES.contains}`,
      `posts_title_idx: ${SHAPES.titleSearch}`,
      `posts_title_idx: ${SHAPES.titleContains}`,
    ]);
  });
});

describe('the estimate of a GIN index against the planner with the index built', () => {
  it('is within 25% of the generic plan of the statement as pg_stat_statements has it', async () => {
    const compared: string[] = [];
    for (const recommendation of report.recommendations.filter((r) => r.candidate.method === 'gin')) {
      await target.sql(recommendation.sql);
      await target.sql('ANALYZE posts');
      for (const { statement, after } of recommendation.statements) {
        const clearance = await clearStatements(db, NO_EXTRA_TRUST, [{ sql: statement.query }]);
        const planned = await db.withClient((client) => planOn(client, caps, { sql: statement.query, timeoutMs: 5_000 }, clearance));
        if (!planned.ok) throw new Error(planned.reason);
        const ratio = after.totalCost / planned.plan['Total Cost'];
        expect(ratio, `${statement.query}: estimated ${after.totalCost}, planned ${planned.plan['Total Cost']}`).toBeGreaterThan(0.8);
        expect(ratio, `${statement.query}: estimated ${after.totalCost}, planned ${planned.plan['Total Cost']}`).toBeLessThan(1.25);
        compared.push(`${recommendation.name}: ${after.topNode}`);
      }
      await target.sql(`DROP INDEX ${recommendation.name}`);
    }
    expect(compared.sort()).toEqual([
      'posts_tags_idx: Bitmap Heap Scan on posts',
      'posts_tags_idx: Bitmap Heap Scan on posts',
      'posts_title_idx: Bitmap Heap Scan on posts',
      'posts_title_idx: Bitmap Heap Scan on posts',
    ]);
  });
});

describe("applyRecommendation's check after the build", () => {
  it('says why a B-tree for LIKE $n is not in the generic plan, and finds a GIN index in it', async () => {
    const checked = [];
    for (const recommendation of report.recommendations.filter((r) => ['posts_email_idx', 'posts_tags_idx'].includes(r.name))) {
      await target.sql(recommendation.sql);
      const queryIds = recommendation.statements.map((s) => s.statement.queryId);
      const names = new Set([recommendation.name]);
      checked.push(...(await checkStatementsUse(db, caps, NO_EXTRA_TRUST, queryIds, names, recommendation.candidate)));
      await target.sql(`DROP INDEX ${recommendation.name}`);
    }
    expect(
      checked.map(({ queryId, usesIndex, note }) => ({ queryId, usesIndex, note })).sort((a, b) => a.queryId.localeCompare(b.queryId)),
    ).toEqual(
      [
        {
          queryId: queryIdOf(SHAPES.emailPrefix),
          usesIndex: false,
          note:
            'Its generic plan cannot use a B-tree for LIKE $n (the prefix is known only with the value); the custom plans that ' +
            'run it with a value do: EXPLAIN it with a value to see.',
        },
        { queryId: queryIdOf(SHAPES.contains), usesIndex: true, note: null },
        { queryId: queryIdOf(SHAPES.overlaps), usesIndex: true, note: null },
      ].sort((a, b) => a.queryId.localeCompare(b.queryId)),
    );
  });
});

/** The queryId pg_stat_statements gave a shape (its constants are $n there). */
function queryIdOf(sql: string): string {
  const found = statements.find((statement) => normalized(statement.query) === normalized(sql));
  if (!found) throw new Error(`No statement for ${sql}`);
  return found.queryId;
}

let statements: Array<{ queryId: string; query: string }> = [];
// PostgreSQL 18 keeps a list of constants as one: ARRAY[$1 /*, ... */]
const normalized = (sql: string) =>
  sql
    .replace(/ARRAY\[[^\]]*\]/g, 'ARRAY[]')
    .replace(/'[^']*'/g, '$')
    .replace(/\$\d+/g, '$');
