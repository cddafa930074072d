// The chosen set costed together: a join served by an index on each side is given both (with
// HypoPG, which plans them together), and no chosen index is left that the others make useless.
// Checked against real indexes: each recommended index, built for real alongside the others, is in
// the plan of a statement it was recommended for.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recommendIndexes, type AdvisorReport } from '../../src/advisor/recommend.js';
import { detectCapabilities } from '../../src/db/capabilities.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { RESET_THIS_DATABASE_STATEMENTS } from '../harness/stats.js';

let target: TestDatabase;
let db: Database;
let report: AdvisorReport;

const JOIN = 'SELECT r.stars, b.title FROM book b JOIN review r ON r.book_id = b.id WHERE b.author_id = $1';
const RECENT = 'SELECT id, title FROM task WHERE tenant_id = $1 ORDER BY updated_at DESC LIMIT $2';
const RECENT_OPEN = 'SELECT id, title FROM task WHERE tenant_id = $1 AND done = $2 ORDER BY updated_at DESC LIMIT $3';

beforeAll(async () => {
  target = await createTestDatabase('select_together');
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  await target.sql(`
    CREATE TABLE book (id int PRIMARY KEY, author_id int NOT NULL, title text NOT NULL);
    CREATE TABLE review (id int PRIMARY KEY, book_id int NOT NULL, stars int NOT NULL, body text);
    INSERT INTO book SELECT g, g % 5000, 'title ' || g FROM generate_series(1, 50000) g;
    INSERT INTO review SELECT g, ((g::bigint * 7919) % 50000 + 1)::int, g % 5, repeat('x', 40) FROM generate_series(1, 400000) g;
    CREATE TABLE task (id int PRIMARY KEY, tenant_id int NOT NULL, done boolean NOT NULL, updated_at timestamptz NOT NULL, title text NOT NULL);
    INSERT INTO task SELECT g, g % 400, g % 10 = 0, '2026-01-01'::timestamptz + g * interval '1 minute', 'task ' || g
      FROM generate_series(1, 200000) g;
    ANALYZE book; ANALYZE review; ANALYZE task`);
  await target.sql(RESET_THIS_DATABASE_STATEMENTS);
  for (let i = 0; i < 20; i++) {
    await target.sql(JOIN, [i]);
    await target.sql(RECENT, [i, 50]);
    await target.sql(RECENT_OPEN, [i, false, 50]);
  }
  report = await recommendIndexes(db, await detectCapabilities(db));
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

const keysOf = (candidate: { table: string; keys: Array<{ column: string | null; direction: string | null }> }) =>
  `${candidate.table}(${candidate.keys.map((key) => key.column + (key.direction === 'DESC' ? ' DESC' : '')).join(', ')})`;

/** The statement's generic plan, as JSON text: it names every index it uses. */
async function planOf(sql: string, types: string): Promise<string> {
  return db.withClient(async (client) => {
    await client.query(`PREPARE together_check(${types}) AS ${sql}`);
    try {
      await client.query("SET plan_cache_mode = 'force_generic_plan'");
      const explain = await client.query<{ 'QUERY PLAN': unknown }>(
        `EXPLAIN (FORMAT JSON) EXECUTE together_check(${types
          .split(',')
          .map(() => 'NULL')
          .join(', ')})`,
      );
      return JSON.stringify(explain[0]!['QUERY PLAN']);
    } finally {
      await client.query('DEALLOCATE together_check');
      await client.query('RESET plan_cache_mode');
    }
  });
}

describe('the chosen set, costed together', () => {
  it('gives a join an index on each side when HypoPG plans them together', () => {
    const chosen = report.recommendations.map((r) => keysOf(r.candidate));
    expect(chosen).toContain('review(book_id)');
    if (!inject('hypopgAvailable')) return;
    expect(chosen).toContain('book(author_id)');
    const book = report.recommendations.find((r) => keysOf(r.candidate) === 'book(author_id)')!;
    // chosen for what it saves with review(book_id) in place
    expect(book.statements[0]!.after.totalCost).toBeLessThan(book.statements[0]!.before.totalCost / 10);
  });

  it('recommends no index that the others make useless: built for real, each is in a plan it was chosen for', async () => {
    expect(report.recommendations.length).toBeGreaterThan(1);
    for (const recommendation of report.recommendations) await target.sql(recommendation.sql);
    await target.sql('ANALYZE book; ANALYZE review; ANALYZE task');
    const plans = new Map([
      [JOIN, await planOf(JOIN, 'int')],
      [RECENT, await planOf(RECENT, 'int, int')],
      [RECENT_OPEN, await planOf(RECENT_OPEN, 'int, boolean, int')],
    ]);
    for (const recommendation of report.recommendations) {
      const used = recommendation.statements.some((s) => plans.get(s.statement.query)?.includes(`"${recommendation.name}"`));
      expect({ index: recommendation.name, used }).toEqual({ index: recommendation.name, used: true });
    }
  });
});
