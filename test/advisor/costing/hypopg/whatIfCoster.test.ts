// What-if costing with HypoPG on a real server: PostgreSQL 15 with HypoPG in CI
// (PGSCOPE_TEST_PG_BINDIR=/usr/lib/postgresql/15/bin); on the embedded PostgreSQL 18, which has no
// HypoPG, each case asserts the refusal and the heuristic fallback instead.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCoster } from '../../../../src/advisor/costing/createCoster.js';
import { whatIfCosts, whatIfSetCost } from '../../../../src/advisor/costing/hypopg/whatIfCoster.js';
import { detectCapabilities, type Capabilities } from '../../../../src/db/capabilities.js';
import { Database } from '../../../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../../harness/database.js';
import { CANDIDATES, EXPECTED_VERDICTS, FIXTURE_SQL, WORKLOAD, verdicts } from '../costingFixtures.js';

let target: TestDatabase;
/** One connection: the next borrower gets the very session costing used. */
let db: Database;
let caps: Capabilities;

beforeAll(async () => {
  target = await createTestDatabase('whatif');
  await target.sql(FIXTURE_SQL);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_POOL_MAX: '1' }).pool });
  caps = await detectCapabilities(db);
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

const costedFor = <T extends { candidate: unknown }>(costed: T[], candidate: unknown) =>
  costed.find((each) => each.candidate === candidate);

/** Without HypoPG: the typed refusal, and createCoster's choice of the estimate. */
async function expectRefusal(): Promise<void> {
  expect(caps.hypopg.installed).toBe(false);
  await expect(whatIfCosts(db, caps, [CANDIDATES.customer], WORKLOAD)).rejects.toMatchObject({
    extensions: { code: 'EXTENSION_NOT_LOADED' },
  });
  expect(createCoster(db, caps).source).toBe('HEURISTIC');
}

describe('whatIfCosts', () => {
  it('is available exactly when the server has HypoPG, and createCoster picks it then', async () => {
    expect(caps.hypopg.installed).toBe(inject('hypopgAvailable'));
    expect(createCoster(db, caps).source).toBe(inject('hypopgAvailable') ? 'HYPOPG' : 'HEURISTIC');
  });

  it('costs equality on an unindexed column far lower with the index, literal and $1 (generic plan) alike, and sizes it', async () => {
    if (!caps.hypopg.installed) return expectRefusal();
    const result = await whatIfCosts(db, caps, [CANDIDATES.customer], WORKLOAD);
    const costed = result.costed[0]!;
    expect(costed.source).toBe('HYPOPG');
    // 105 reads a table that does not exist: skipped, the others still costed
    expect(costed.perStatement.map((cost) => cost.queryId)).toEqual(['101', '102', '108']);
    expect(result.skipped).toEqual([{ candidate: null, queryId: '105', reason: 'PostgreSQL could not plan it (SQLSTATE 42P01)' }]);
    for (const cost of costed.perStatement) {
      expect(cost.after.usesCandidate).toBe(true);
      expect(cost.after.totalCost).toBeLessThan(cost.before.totalCost / 10);
    }
    expect(costed.perStatement.map((cost) => [cost.before.topNode, cost.after.topNode])).toEqual([
      ['Seq Scan on orders', 'Bitmap Heap Scan on orders'],
      ['Seq Scan on orders', 'Bitmap Heap Scan on orders'],
      ['ModifyTable on orders > Seq Scan on orders', 'ModifyTable on orders > Bitmap Heap Scan on orders'],
    ]);
    // 100,000 int4 keys: between 2 and 3 MB as HypoPG estimates a B-tree
    expect(costed.sizeBytes).toBeGreaterThan(2_000_000);
    expect(costed.sizeBytes).toBeLessThan(3_000_000);
    // three statements planned before (105 failed), three after
    expect(result.plansCosted).toBe(6);
    expect(result.budgetExhausted).toBe(false);
  });

  it('reports a candidate the planner would not use (a boolean half the rows have)', async () => {
    if (!caps.hypopg.installed) return expectRefusal();
    const { costed } = await whatIfCosts(db, caps, [CANDIDATES.paid], WORKLOAD);
    expect(costed[0]!.perStatement).toEqual([
      {
        queryId: '103',
        before: { totalCost: costed[0]!.perStatement[0]!.before.totalCost, topNode: 'Seq Scan on orders', usesCandidate: false },
        after: { totalCost: costed[0]!.perStatement[0]!.before.totalCost, topNode: 'Seq Scan on orders', usesCandidate: false },
      },
    ]);
  });

  it('costs a partitioned parent (the index on every leaf) and an ORDER BY ... LIMIT; GIN goes to the estimate', async () => {
    if (!caps.hypopg.installed) return expectRefusal();
    const result = await whatIfCosts(db, caps, [CANDIDATES.eventsK, CANDIDATES.createdAt, CANDIDATES.docsBody], WORKLOAD);
    const events = costedFor(result.costed, CANDIDATES.eventsK)!;
    expect(events.perStatement[0]!.before.topNode).toBe('Append > Seq Scan on events_2026_01');
    expect(events.perStatement[0]!.after).toMatchObject({ topNode: 'Append > Bitmap Heap Scan on events_2026_01', usesCandidate: true });
    // HypoPG says 8 kB for a parent never ANALYZEd: the leaves' statistics give the size instead
    expect(events.sizeBytes).toBe(277 * 8192);
    expect(events.notes).toEqual([
      "HypoPG sizes an index on public.events from the table's own statistics, which a partitioned table has only after a manual ANALYZE: " +
        'the size is estimated from its partitions.',
    ]);
    const latest = costedFor(result.costed, CANDIDATES.createdAt)!;
    expect(latest.perStatement[0]!.after.topNode).toBe('Limit > Index Scan using orders_created_at_idx (hypothetical) on orders');
    const gin = 'HypoPG cannot simulate it (access method "gin" is not supported)';
    expect(result.unsupported).toEqual([{ candidate: CANDIDATES.docsBody, reason: gin }]);
    const viaCoster = await createCoster(db, caps).costCandidates([CANDIDATES.docsBody], WORKLOAD);
    expect(viaCoster.costed.map((each) => [each.source, each.perStatement[0]!.after.usesCandidate, each.notes])).toEqual([
      ['HEURISTIC', true, [`${gin}; its costs are estimated from pg_stats instead.`]],
    ]);
  });

  it('gives every clear case the expected verdict (the heuristic test holds the estimate to the same list)', async () => {
    if (!caps.hypopg.installed) return expectRefusal();
    const result = await createCoster(db, caps).costCandidates(Object.values(CANDIDATES), WORKLOAD);
    expect(verdicts(result.costed)).toEqual(EXPECTED_VERDICTS);
    expect(result.costed.map((each) => each.source)).toEqual([...Array(7).fill('HYPOPG'), 'HEURISTIC']);
    // the join on customer_id: a nested loop probing the index for one region, the hash join kept for a third of them
    const join = costedFor(result.costed, CANDIDATES.customerJoin)!.perStatement;
    expect(join.map((cost) => [cost.before.topNode, cost.after.topNode])).toEqual([
      ['Hash Join > Seq Scan on orders', 'Nested Loop > Bitmap Heap Scan on orders'],
      ['Hash Join > Seq Scan on orders', 'Hash Join > Seq Scan on orders'],
    ]);
  });

  it('costs a set of candidates together and says which statement uses which', async () => {
    if (!caps.hypopg.installed) return expectRefusal();
    const set = await whatIfSetCost(db, caps, [CANDIDATES.customer, CANDIDATES.createdAt, CANDIDATES.docsBody], WORKLOAD);
    expect(set.perStatement.map((cost) => [cost.queryId, cost.usedBy, cost.after.usesCandidate])).toEqual([
      ['101', [0], true],
      ['102', [0], true],
      ['108', [0], true],
      ['104', [1], true],
      ['107', [], false],
    ]);
    expect(set.unsupported).toEqual([2]);
    expect(set.sizesBytes[2]).toBe(0);
    expect(set.skipped.map((skip) => skip.queryId ?? skip.reason)).toEqual([
      '105',
      'HypoPG cannot simulate it (access method "gin" is not supported)',
    ]);
  });

  it('stops at its time budget and says what it did not cost', async () => {
    if (!caps.hypopg.installed) return expectRefusal();
    const result = await whatIfCosts(db, caps, [CANDIDATES.customer, CANDIDATES.paid], WORKLOAD, { budgetMs: 0 });
    expect(result).toMatchObject({ costed: [], plansCosted: 0, budgetExhausted: true });
    expect(result.skipped.map((skip) => [skip.candidate, skip.reason])).toEqual([
      [CANDIDATES.customer, 'the costing time budget (0 ms) was spent before it was costed'],
      [CANDIDATES.paid, 'the costing time budget (0 ms) was spent before it was costed'],
    ]);
  });

  it('returns the connection clean: no hypothetical index, no prepared statement, plain plans again', async () => {
    if (!caps.hypopg.installed) return expectRefusal();
    const [{ pid: before }] = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
    await whatIfCosts(db, caps, Object.values(CANDIDATES), WORKLOAD);
    expect(await db.query('SELECT pg_backend_pid() AS pid, (SELECT count(*)::int FROM hypopg_list_indexes) AS hypothetical')).toEqual([
      { pid: before, hypothetical: 0 },
    ]);
    expect(await db.query('SELECT name FROM pg_prepared_statements WHERE name = $1', ['pgscope_costing'])).toEqual([]);
    const explained = 'EXPLAIN (FORMAT JSON) SELECT * FROM orders WHERE customer_id = 42';
    const [row] = await db.query<{ 'QUERY PLAN': Array<{ Plan: { 'Node Type': string } }> }>(explained);
    expect(row!['QUERY PLAN'][0]!.Plan['Node Type']).toBe('Seq Scan');
  });
});
