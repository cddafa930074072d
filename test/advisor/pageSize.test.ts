// A LIMIT that pg_stat_statements masked as $n (issue 14): costed at the rows its calls returned,
// not at the generic plan's 10% of the rows. 20,000 products with one to three of 200 tags each;
// "the cheapest 24 with a tag" runs for ten tags and returns 24 rows each time. At 10% of the
// rows a tag matches, reading the price index in order and stopping early looks cheaper than
// finding the tag's rows through GIN (tags) and sorting them; at 24 rows it is the other way
// round, and a rare tag's call walks most of the price index. The DBA's answer is GIN (tags) alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recommendIndexes, type AdvisorReport } from '../../src/advisor/recommend.js';
import { analyzeWorkload } from '../../src/advisor/analysis/analyze.js';
import { pageSize } from '../../src/advisor/analysis/pageSize.js';
import { detectCapabilities, type Capabilities } from '../../src/db/capabilities.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { queryIdOf, RESET_THIS_DATABASE_STATEMENTS } from '../harness/stats.js';

const BY_TAG = 'SELECT id, name, price FROM products WHERE tags @> $1::text[] ORDER BY price LIMIT $2';
const PAGED = 'SELECT id, name, price FROM products WHERE tags @> $1::text[] ORDER BY price LIMIT $2 OFFSET $3';

let target: TestDatabase;
let db: Database;
let caps: Capabilities;
let report: AdvisorReport;

beforeAll(async () => {
  target = await createTestDatabase('advisor_page_size');
  await target.sql(`
    CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric NOT NULL, tags text[] NOT NULL);
    INSERT INTO products
    SELECT g, 'product ' || g, ((g::bigint * 7919) % 50000) / 100.0,
           ARRAY(SELECT DISTINCT 'tag' || (1 + ((g::bigint * 31 + i * 7877) % 200)) FROM generate_series(0, g % 3) i)
    FROM generate_series(1, 20000) g`);
  await target.sql('VACUUM ANALYZE products');
  await target.sql(RESET_THIS_DATABASE_STATEMENTS);
  for (let tag = 1; tag <= 10; tag += 1) {
    await target.sql(BY_TAG, [[`tag${tag * 17}`], 24]);
    await target.sql(PAGED, [[`tag${tag * 17}`], 24, 48]);
  }
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(db);
  report = await recommendIndexes(db, caps, { table: 'products' });
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

describe('a LIMIT masked as $n', () => {
  it('is the mean rows per call, rounded up; none when the calls returned no rows', () => {
    expect(pageSize({ calls: 10, rows: 240 })).toBe(24);
    expect(pageSize({ calls: 4, rows: 30 })).toBe(8);
    expect(pageSize({ calls: 10, rows: 0 })).toBeNull();
    expect(pageSize({ calls: 0, rows: 0 })).toBeNull();
  });

  it('is costed at the rows its calls returned, and left masked beside an OFFSET $n', async () => {
    const analysis = await analyzeWorkload(db, caps);
    const byId = new Map(analysis.statements.map((statement) => [statement.queryId, statement]));
    const byTag = byId.get(await queryIdOf(target, BY_TAG))!;
    expect(byTag.query).toBe('SELECT id, name, price FROM products WHERE tags @> $1::text[] ORDER BY price LIMIT 24');
    expect(byTag.keptQuery).toBe(BY_TAG);
    // an unknown offset sends the planner back to 10% whatever the LIMIT: nothing to gain
    expect(byId.get(await queryIdOf(target, PAGED))!.query).toBe(PAGED);
  });

  it('gives GIN (tags), not the price index that the generic plan at 10% of the rows prefers', () => {
    const byTag = report.recommendations.filter((r) => r.statements.some((s) => s.statement.query === BY_TAG));
    expect(byTag.map((r) => `${r.candidate.method} (${r.candidate.keys.map((k) => k.column).join(', ')})`)).toEqual(['gin (tags)']);
    // shown as pg_stat_statements keeps it, its LIMIT masked
    expect(byTag[0]!.statements.map((s) => s.statement.query)).toContain(BY_TAG);
    const price = report.rejected.find((r) => r.candidate.keys.length === 1 && r.candidate.keys[0]!.column === 'price');
    expect(price?.reason).toBe('DOMINATED');
  });
});
