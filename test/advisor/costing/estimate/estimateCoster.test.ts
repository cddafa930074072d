// Costing without HypoPG, from pg_stats and pg_class, on a real server (both PostgreSQL 18 and 15):
// the same fixtures and verdicts as the what-if test, plus the statistics it reads and the
// arithmetic of the model on known inputs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arraySelectivity } from '../../../../src/advisor/costing/estimate/operatorSelectivity.js';
import {
  equalitySelectivity,
  estimateKeys,
  estimateSizeBytes,
  histogramFraction,
} from '../../../../src/advisor/costing/estimate/costModel.js';
import { limitFraction, pagesFetched } from '../../../../src/advisor/costing/estimate/costModel.js';
import { HeuristicCoster } from '../../../../src/advisor/costing/estimate/estimateCoster.js';
import { costSettings, tableStatistics, type ColumnStatistics } from '../../../../src/advisor/costing/estimate/statistics.js';
import { detectCapabilities, type Capabilities } from '../../../../src/db/capabilities.js';
import { Database } from '../../../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../../harness/database.js';
import { CANDIDATES, EXPECTED_VERDICTS, FIXTURE_SQL, WORKLOAD, verdicts } from '../costingFixtures.js';

let target: TestDatabase;
let db: Database;
let caps: Capabilities;
let coster: HeuristicCoster;

beforeAll(async () => {
  target = await createTestDatabase('heuristic');
  await target.sql(FIXTURE_SQL);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_POOL_MAX: '1' }).pool });
  caps = await detectCapabilities(db);
  coster = new HeuristicCoster(db, caps);
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

describe('HeuristicCoster', () => {
  it('gives every clear case the same verdict as HypoPG (see whatif.test.ts)', async () => {
    const result = await coster.costCandidates(Object.values(CANDIDATES), WORKLOAD);
    expect(verdicts(result.costed)).toEqual(EXPECTED_VERDICTS);
    expect(result.costed.every((each) => each.source === 'HEURISTIC')).toBe(true);
    // before: 101, 102, 108, 103, 109, 110, 111, 104, 112, 106, 107 planned (105 failed); after: one estimate each
    expect(result.plansCosted).toBe(23);
    expect(result.skipped).toEqual([{ candidate: null, queryId: '105', reason: 'PostgreSQL could not plan it (SQLSTATE 42P01)' }]);
  });

  it('estimates equality on an unindexed column far cheaper, $1 statements by their generic plan, the size from rows and widths', async () => {
    const { costed } = await coster.costCandidates([CANDIDATES.customer], WORKLOAD);
    const [customer] = costed;
    expect(customer!.perStatement.map((cost) => [cost.queryId, cost.before.topNode, cost.after.topNode])).toEqual([
      ['101', 'Seq Scan on orders', 'Bitmap Heap Scan on orders'],
      ['102', 'Seq Scan on orders', 'Bitmap Heap Scan on orders'],
      ['108', 'ModifyTable on orders > Seq Scan on orders', 'ModifyTable on orders > Bitmap Heap Scan on orders'],
    ]);
    for (const cost of customer!.perStatement) expect(cost.after.totalCost).toBeLessThan(cost.before.totalCost / 10);
    // 100,000 tuples of 20 bytes (4-byte key, 8-byte header, aligned, 4-byte line pointer) on 90%-full
    // pages: 273 leaf pages, 3 internal, 1 metapage
    expect(customer!.sizeBytes).toBe(277 * 8192);
  });

  it('estimates lower(col) from the column it folds (as many values), shown under the name the index would get', async () => {
    const { costed } = await coster.costCandidates([CANDIDATES.noteLower], WORKLOAD);
    const [cost] = costed[0]!.perStatement;
    expect([cost!.before.topNode, cost!.after.topNode]).toEqual([
      'Seq Scan on orders',
      'Index Scan using orders_lower_idx (hypothetical) on orders',
    ]);
    expect(cost!.after.totalCost).toBeLessThan(20);
  });

  it('turns a join on the key into a nested loop probing the index when few outer rows probe it (what the planner does)', async () => {
    const { costed } = await coster.costCandidates([CANDIDATES.customerJoin], WORKLOAD);
    const shown = costed[0]!.perStatement.map((cost) => [cost.queryId, cost.before.topNode, cost.after.topNode, cost.after.usesCandidate]);
    expect(shown).toEqual([
      ['109', 'Hash Join > Seq Scan on orders', 'Nested Loop > Bitmap Heap Scan on orders', true],
      ['110', 'Hash Join > Seq Scan on orders', 'Hash Join > Seq Scan on orders', false],
    ]);
  });

  it('keeps the cost before for a candidate the planner would not use (a boolean half the rows have)', async () => {
    const { costed } = await coster.costCandidates([CANDIDATES.paid], WORKLOAD);
    const [cost] = costed[0]!.perStatement;
    expect(cost!.after).toEqual(cost!.before);
    expect(cost!.after).toMatchObject({ topNode: 'Seq Scan on orders', usesCandidate: false });
  });

  it('lets an ordered index stop early for ORDER BY ... DESC LIMIT (a backward scan)', async () => {
    const { costed } = await coster.costCandidates([CANDIDATES.createdAt], WORKLOAD);
    const [cost] = costed[0]!.perStatement;
    expect(cost!.before.topNode).toBe('Limit > Seq Scan on orders');
    expect(cost!.after.topNode).toBe('Limit > Index Scan using orders_created_at_idx (hypothetical) on orders');
    expect(cost!.after.totalCost).toBeLessThan(10);
  });

  it('costs a set as each statement under its best candidate', async () => {
    const set = await coster.costSet([CANDIDATES.paid, CANDIDATES.customer, CANDIDATES.createdAt], WORKLOAD);
    expect(set.perStatement.map((cost) => [cost.queryId, cost.usedBy])).toEqual([
      ['103', []],
      ['101', [1]],
      ['102', [1]],
      ['108', [1]],
      ['104', [2]],
    ]);
    expect(set.sizesBytes).toEqual([277 * 8192, 277 * 8192, 277 * 8192]);
  });

  it('says when a partitioned table had no statistics of its own and its partitions stood in', async () => {
    const { costed } = await coster.costCandidates([CANDIDATES.eventsK], WORKLOAD);
    const [cost] = costed[0]!.perStatement;
    expect(cost!.after).toMatchObject({ topNode: 'Append > Bitmap Heap Scan on events_2026_01', usesCandidate: true });
    expect(costed[0]!.notes).toEqual([
      'public.events has no statistics of its own (autovacuum never analyzes a partitioned table; ANALYZE public.events would): ' +
        "the estimate combines its partitions' statistics.",
    ]);
    expect(costed[0]!.sizeBytes).toBe(277 * 8192);
  });

  it('skips a candidate applyIndex would refuse, with the refusal', async () => {
    const wrong = { ...CANDIDATES.customer, keys: [{ ...CANDIDATES.customer.keys[0]!, column: 'customer' }] };
    const result = await coster.costCandidates([wrong], WORKLOAD);
    expect(result.costed).toEqual([]);
    expect(result.skipped.map((skip) => skip.reason)).toEqual([
      'applyIndex would refuse it: Column customer (column 1) does not exist in table public.orders.',
    ]);
  });
});

describe('tableStatistics', () => {
  it('reads a plain table and its columns', async () => {
    const stats = await tableStatistics(db, 'public', 'orders', ['customer_id', 'is_paid']);
    expect(stats).toMatchObject({
      rows: 100_000,
      partitioned: false,
      combinedFromLeaves: false,
      leaves: [{ schema: 'public', table: 'orders' }],
    });
    expect(stats!.columns.get('customer_id')).toMatchObject({ nullFraction: 0, avgWidthBytes: 4 });
    // ANALYZE estimates distinct values from a sample of 30,000 rows: 5,000 within 2%
    expect(Math.abs(stats!.columns.get('customer_id')!.distinct - 5000)).toBeLessThan(100);
    // half the rows each: the order of the two common values is the sample's
    expect(stats!.columns.get('is_paid')).toMatchObject({ distinct: 2 });
    expect([...stats!.columns.get('is_paid')!.commonValues].sort()).toEqual(['f', 't']);
  });

  it('combines the leaves of a partitioned parent that was never analyzed', async () => {
    const stats = await tableStatistics(db, 'public', 'events', ['k']);
    expect(stats).toMatchObject({
      rows: 100_000,
      partitioned: true,
      combinedFromLeaves: true,
      leaves: [
        { schema: 'public', table: 'events_2026_01' },
        { schema: 'public', table: 'events_2026_02' },
      ],
    });
    expect(stats!.columns.get('k')).toMatchObject({ nullFraction: 0, avgWidthBytes: 4, commonValues: [] });
    // each leaf holds every k (g % 3000 spreads over both months): the largest leaf count, sampled
    expect(Math.abs(stats!.columns.get('k')!.distinct - 3000)).toBeLessThan(60);
  });

  it('is null for a table that does not exist', async () => {
    expect(await tableStatistics(db, 'public', 'no_such_table', ['id'])).toBeNull();
  });

  it('places a range constant in the histogram instead of assuming a third of the rows', async () => {
    const stats = (await tableStatistics(db, 'public', 'orders', ['created_at']))!;
    const access = { ...WORKLOAD.accesses.find((each) => each.queryId === '104')!, sort: [], limit: null };
    const range = (operator?: '>') => ({ column: 'created_at', expression: null, use: 'RANGE' as const, constant: '2026-03-05', operator });
    const withRange = (operator?: '>') => ({ ...access, predicates: [range(operator)] });
    // created_at runs a minute apart from 2026-01-01 00:01 UTC: 9,280 of the 100,000 rows are later than
    // 2026-03-05 (within the histogram's 1% buckets and the session's time zone offset)
    expect(Math.abs(estimateKeys(CANDIDATES.createdAt, withRange('>'), stats).indexSelectivity - 0.0928)).toBeLessThan(0.015);
    // without the operator the constant cannot be placed: the planner's default for a parameter
    expect(estimateKeys(CANDIDATES.createdAt, withRange(), stats).indexSelectivity).toBeCloseTo(1 / 3, 10);
  });

  it("reads the server's cost settings", async () => {
    expect(await costSettings(db)).toEqual({
      randomPageCost: 4,
      seqPageCost: 1,
      cpuTupleCost: 0.01,
      cpuIndexTupleCost: 0.005,
      cpuOperatorCost: 0.0025,
      effectiveCachePages: 524288,
    });
  });
});

describe('the cost model', () => {
  const column: ColumnStatistics = {
    nullFraction: 0.1,
    distinct: 100,
    correlation: 0,
    avgWidthBytes: 4,
    commonValues: ['7', '8'],
    commonFrequencies: [0.3, 0.2],
    histogram: [],
    commonElements: [],
    commonElementFrequencies: [],
  };

  it('estimates equality as PostgreSQL does: common values by frequency, others spread, parameters 1/distinct', () => {
    expect(equalitySelectivity(column, '8')).toBe(0.2);
    // (1 - 0.1 - 0.5) / (100 - 2)
    expect(equalitySelectivity(column, '9')).toBeCloseTo(0.4 / 98, 10);
    // (1 - 0.1) / 100
    expect(equalitySelectivity(column, null)).toBeCloseTo(0.009, 10);
    expect(equalitySelectivity(undefined, null)).toBe(0.005);
  });

  it('counts pages read with the Mackert-Lohman formula', () => {
    expect(pagesFetched(10, 1000, 100_000)).toBeCloseTo((2 * 1000 * 10) / (2 * 1000 + 10), 10);
    expect(pagesFetched(1_000_000, 1000, 100_000)).toBe(1000);
  });

  it('places constants in a histogram: numbers within their bucket, other values by text', () => {
    expect(histogramFraction(['0', '10', '20', '30', '40'], '15')).toBeCloseTo(0.375, 10);
    expect(histogramFraction(['0', '10', '20', '30', '40'], '-5')).toBe(0);
    expect(histogramFraction(['0', '10', '20', '30', '40'], '45')).toBe(1);
    expect(histogramFraction(['2026-01-01', '2026-02-01', '2026-03-01'], '2026-02-10')).toBe(0.75);
    expect(histogramFraction([], '1')).toBeNull();
  });

  it('plans a LIMIT parameter as 10% of the rows, a constant as its share', () => {
    expect(limitFraction('PARAM', 500)).toBe(0.1);
    expect(limitFraction(10, 500)).toBe(0.02);
    expect(limitFraction(null, 500)).toBe(1);
  });

  it('estimates array @> and && with constant elements from the most common elements, as the planner does', async () => {
    await target.sql(/* SQL */ `
      CREATE TABLE tagged (id int PRIMARY KEY, tags text[] NOT NULL);
      INSERT INTO tagged SELECT g, ARRAY['t' || (g % 50), 'c' || (g % 3)] FROM generate_series(1, 30000) g;
      ANALYZE tagged;`);
    const stats = (await tableStatistics(db, 'public', 'tagged', ['tags']))!.columns.get('tags')!;
    expect(stats.commonElements).toContain('c1');
    const contains = (elements: string[], overlap = false) =>
      arraySelectivity({ column: 'tags', expression: null, use: 'ARRAY_CONTAINS', elements, ...(overlap ? { overlap } : {}) }, stats, null);
    const planned = async (condition: string) => {
      const [row] = await target.sql<{ 'QUERY PLAN': Array<{ Plan: { 'Plan Rows': number } }> }>(
        `EXPLAIN (FORMAT JSON) SELECT * FROM tagged WHERE ${condition}`,
      );
      return row!['QUERY PLAN'][0]!.Plan['Plan Rows'] / 30000;
    };
    for (const [elements, condition] of [
      [['c1'], "tags @> ARRAY['c1']"],
      [['t7', 'c1'], "tags @> ARRAY['t7', 'c1']"],
    ] as const) {
      expect(contains([...elements]) / (await planned(condition))).toBeCloseTo(1, 1);
    }
    expect(contains(['t7', 't8'], true) / (await planned("tags && ARRAY['t7', 't8']"))).toBeCloseTo(1, 1);
    // an element pg_stats does not list: half the least common frequency, at most DEFAULT_CONTAIN_SEL
    expect(contains(['nowhere'])).toBeLessThanOrEqual(0.005);
    // no constant elements: the planner's estimate for the statement when given, else its default
    expect(arraySelectivity({ column: 'tags', expression: null, use: 'ARRAY_CONTAINS' }, stats, 0.02)).toBe(0.02);
    expect(arraySelectivity({ column: 'tags', expression: null, use: 'ARRAY_CONTAINS' }, stats, null)).toBe(0.005);
  });

  it('sizes an empty table as one metapage', () => {
    const stats = { rows: 0, pages: 0, partitioned: false, leaves: [], columns: new Map(), combinedFromLeaves: false };
    expect(estimateSizeBytes(CANDIDATES.customer, stats)).toBe(8192);
  });
});
