// Statement shapes applications write and the advisor once misread (issue 14): views that rename
// or compute their columns, materialized views, CTEs PostgreSQL inlines, ORDER BY a number or an
// alias, ORDER BY without LIMIT, and several ranges on one table. End to end on a real workload
// (pg_stat_statements), with HypoPG where the server has it and the pg_stats estimate otherwise;
// each recommended index is then built for real and every statement it claims to help is planned
// again: the planner must use it (pgscope never recommends an index the planner would not use).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recommendIndexes, type AdvisorReport, type Recommendation } from '../../src/advisor/recommend.js';
import { checkStatementsUse } from '../../src/advisor/verify.js';
import { NO_EXTRA_TRUST } from '../../src/config.js';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { Database } from '../../src/db/pool.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { createTestApp, createTestDatabase, TEST_ADMIN_TOKEN, testConfig, type TestDatabase } from '../harness/database.js';
import { RESET_THIS_DATABASE_STATEMENTS, runAndFlushStats } from '../harness/stats.js';

let target: TestDatabase;
let db: Database;
let caps: Capabilities;
let report: AdvisorReport;

// Each shape has its own table (a copy of the same 100,000 rows), so that its recommendations are
// its own: owner_id has 5,000 values of 20 rows spread over the table; created_at grows with id
// (correlation 1); amount is spread evenly over 0-9,999 in no order; note is random text.
const TABLE = (name: string) => /* SQL */ `
  CREATE TABLE ${name} (
    id int PRIMARY KEY,
    owner_id int NOT NULL,
    email text NOT NULL,
    created_at timestamptz NOT NULL,
    amount int NOT NULL,
    note text NOT NULL
  ) WITH (autovacuum_enabled = false);
  INSERT INTO ${name}
  SELECT g, g % 5000, 'user' || g || '@example.com', timestamptz '2026-01-01 00:00+00' + g * interval '1 minute',
    (g * 7919) % 10000, md5(g::text)
  FROM generate_series(1, 100000) g;
  -- a sample of every row (300 x 334 > 100,000): the same statistics on every run, not a random
  -- 30,000 rows whose estimates can tip a close choice (a plain or a covering index) either way;
  -- and no autovacuum, which could analyze again with such a sample while the suite runs
  SET default_statistics_target = 334;
  ANALYZE ${name};
  RESET default_statistics_target`;

const WORKLOAD = [
  // views: a rename, an expression column, a view over a view
  'SELECT id FROM member_logins WHERE user_id = 42',
  "SELECT id FROM member_logins WHERE login = 'user42@example.com'",
  'SELECT member FROM recent_logins WHERE account = 4242',
  // a materialized view
  'SELECT members FROM member_counts WHERE owner_id = 42',
  // CTEs: inlined (the outer predicate reaches visits), and materialized (it does not)
  'WITH v AS (SELECT id, owner_id AS account FROM visits) SELECT id FROM v WHERE account = 42',
  'WITH v AS MATERIALIZED (SELECT id, email FROM visits) SELECT id FROM v WHERE email = $$user42@example.com$$',
  // ORDER BY a column number, an alias
  'SELECT id, created_at FROM posts WHERE owner_id = 42 ORDER BY 2 DESC LIMIT 10',
  'SELECT id, created_at AS since FROM posts ORDER BY since DESC LIMIT 10',
  // ORDER BY without LIMIT: over the correlated created_at an index removes the sort; over random text it would not pay
  'SELECT id, amount FROM entries ORDER BY created_at',
  "SELECT id, amount FROM entries WHERE created_at >= '2026-02-01' ORDER BY created_at",
  'SELECT id, note FROM entries ORDER BY note',
  // ranges: BETWEEN, and two ranges on two columns
  'SELECT id FROM readings WHERE amount BETWEEN 100 AND 120',
  "SELECT id FROM readings WHERE created_at >= '2026-01-10' AND created_at < '2026-01-11' AND amount > 5000",
  'SELECT id, note FROM readings WHERE owner_id >= 10 AND owner_id < 20 AND amount >= 100 AND amount < 200',
  'SELECT id, note FROM readings WHERE owner_id BETWEEN 10 AND 20',
];

beforeAll(async () => {
  target = await createTestDatabase('advisor_shapes');
  // a cache smaller than the tables (as on a database larger than its memory): reading a table in
  // the order of an uncorrelated column then costs about a page per row, and a sort is cheaper
  await target.sql(`ALTER DATABASE "${target.name}" SET effective_cache_size = '8MB'`);
  await target.sql(`
    ${TABLE('members')};
    CREATE VIEW member_logins AS SELECT id, owner_id AS user_id, lower(email) AS login, created_at FROM members;
    CREATE VIEW recent_logins AS SELECT id AS member, user_id AS account FROM member_logins WHERE created_at >= '2026-01-01';
    CREATE MATERIALIZED VIEW member_counts AS SELECT owner_id, count(*) AS members FROM members GROUP BY owner_id;
    ANALYZE member_counts;
    ${TABLE('visits')};
    ${TABLE('posts')};
    ${TABLE('entries')};
    ${TABLE('readings')};
  `);
  await runAndFlushStats(target.url, [RESET_THIS_DATABASE_STATEMENTS, ...WORKLOAD.flatMap((sql) => [sql, sql, sql])]);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(db);
  report = await recommendIndexes(db, caps);
}, 60_000);

afterAll(async () => {
  await db.end();
  await target.drop();
});

/** `USING "btree" ("owner_id") <- SELECT ...`, one per statement a recommendation on `table` helps, sorted. */
function recommended(table: string): string[] {
  return report.recommendations
    .filter((r) => r.candidate.table === table)
    .flatMap((r) => r.statements.map((s) => `${r.sql.slice(r.sql.indexOf('USING'))} <- ${s.statement.query}`))
    .sort();
}

const hypopg = () => report.source === 'HYPOPG';

/** Builds the index for real, plans each statement it claims to help, drops it: whether each plan uses it. */
async function plannerUses(recommendation: Recommendation): Promise<boolean[]> {
  await target.sql(recommendation.sql);
  try {
    const queryIds = recommendation.statements.map((s) => s.statement.queryId);
    const checks = await checkStatementsUse(db, caps, NO_EXTRA_TRUST, queryIds, new Set([recommendation.name]), recommendation.candidate);
    return checks.map((check) => check.usesIndex);
  } finally {
    await target.sql(`DROP INDEX "${recommendation.name}"`);
  }
}

describe('shapes the advisor reads (issue 14)', () => {
  it('a view renaming or computing its columns, and a view over it: the index goes on the table, on what the column is', () => {
    expect(recommended('members')).toEqual([
      'USING "btree" ("owner_id") <- SELECT id FROM member_logins WHERE user_id = $1',
      'USING "btree" ("owner_id") <- SELECT member FROM recent_logins WHERE account = $1',
      // HypoPG (1.3.1, PostgreSQL 15) builds a hypothetical expression index the planner never picks: no what-if verdict for it
      ...(hypopg() ? [] : ['USING "btree" (("pg_catalog"."lower"("email"))) <- SELECT id FROM member_logins WHERE login = $1']),
    ]);
  });

  it('a materialized view: the index goes on the materialized view', () => {
    expect(recommended('member_counts')).toEqual(['USING "btree" ("owner_id") <- SELECT members FROM member_counts WHERE owner_id = $1']);
  });

  it('applyRecommendation builds the materialized view index, and its statement uses it', async () => {
    expect(await migrateOwnSchema(db)).toMatchObject({ ok: true });
    const api = createTestApp(target.url, { ownSchemaReady: true });
    try {
      const { id } = report.recommendations.find((r) => r.candidate.table === 'member_counts')!;
      const result = await api.gql<{ applyRecommendation: { change: { status: string }; statements: Array<{ usesIndex: boolean }> } }>(
        'mutation($id: ID!) { applyRecommendation(id: $id, dryRun: false) { change { status } statements { usesIndex } } }',
        { id },
        { token: TEST_ADMIN_TOKEN },
      );
      expect(result.errors).toBeUndefined();
      expect(result.data!.applyRecommendation).toEqual({ change: { status: 'SUCCEEDED' }, statements: [{ usesIndex: true }] });
    } finally {
      await api.close();
      await target.sql('DROP INDEX IF EXISTS member_counts_owner_id_idx');
    }
  });

  it('an inlined CTE: its outer predicate reaches the table; a materialized one: it does not', () => {
    expect(recommended('visits')).toEqual([
      'USING "btree" ("owner_id") <- WITH v AS (SELECT id, owner_id AS account FROM visits) SELECT id FROM v WHERE account = $1',
    ]);
  });

  it('ORDER BY a column number or an alias: the column it names, in its direction', () => {
    expect(recommended('posts')).toEqual([
      'USING "btree" ("created_at" DESC) <- SELECT id, created_at AS since FROM posts ORDER BY since DESC LIMIT $1',
      'USING "btree" ("owner_id", "created_at" DESC) <- SELECT id, created_at FROM posts WHERE owner_id = $1 ORDER BY 2 DESC LIMIT $2',
    ]);
  });

  it('ORDER BY without LIMIT: an index where reading in order beats sorting, none where the sort is cheaper', () => {
    expect(recommended('entries')).toEqual([
      'USING "btree" ("created_at") <- SELECT id, amount FROM entries ORDER BY created_at',
      'USING "btree" ("created_at") <- SELECT id, amount FROM entries WHERE created_at >= $1 ORDER BY created_at',
    ]);
    // in the order of random text, every row is a page read: sorting the table is cheaper, the planner and the estimate agree
    const note = report.rejected.filter((r) => r.candidate.table === 'entries' && r.candidate.keys[0]!.column === 'note');
    expect(note.map((r) => r.reason)).toEqual(['NOT_USED_BY_PLANNER', 'NOT_USED_BY_PLANNER']);
  });

  it('BETWEEN and several ranges on one table: an index per range key, BETWEEN costed as the two bounds it is', () => {
    expect(recommended('readings')).toEqual([
      'USING "btree" ("amount") <- SELECT id FROM readings WHERE amount BETWEEN $1 AND $2',
      'USING "btree" ("amount") <- SELECT id FROM readings WHERE created_at >= $1 AND created_at < $2 AND amount > $3',
      'USING "btree" ("amount") <- SELECT id, note FROM readings WHERE owner_id >= $1 AND owner_id < $2 AND amount >= $3 AND amount < $4',
      'USING "btree" ("created_at") <- SELECT id FROM readings WHERE created_at >= $1 AND created_at < $2 AND amount > $3',
      'USING "btree" ("owner_id") <- SELECT id, note FROM readings WHERE owner_id BETWEEN $1 AND $2',
    ]);
    // the planner takes x BETWEEN $1 AND $2 for 0.5% of the rows (two bounds), and so does the estimate now
    // (it took it for a third of them: 16% saved where the planner sees 65%, under the 10% bar on wider tables)
    const between = report.recommendations
      .flatMap((r) => r.statements)
      .find((s) => s.statement.query === 'SELECT id FROM readings WHERE amount BETWEEN $1 AND $2')!;
    expect(between.after.totalCost / between.before.totalCost).toBeLessThan(0.5);
  });

  it('the planner uses every recommended index for every statement it is recommended for', async () => {
    expect(report.recommendations.length).toBeGreaterThan(0);
    for (const recommendation of report.recommendations) {
      const uses = await plannerUses(recommendation);
      expect([recommendation.sql, uses]).toEqual([recommendation.sql, uses.map(() => true)]);
    }
  });
});
