// Selection over the workload: one index serving several statements beats narrower ones, what a
// chosen index already serves is not counted twice, and every candidate left out says why.
import { describe, expect, it } from 'vitest';
import { selectIndexes, withPrefixStatements } from '../../src/advisor/select.js';
import type { CandidateIndex, CostedCandidate } from '../../src/advisor/types.js';

function candidate(table: string, columns: string[], method: CandidateIndex['method'] = 'btree'): CandidateIndex {
  return {
    schema: 'public',
    table,
    method,
    keys: columns.map((column) => ({ column, expression: null, direction: null, nulls: null, opclass: null })),
    where: null,
    include: [],
    forQueryIds: [],
  };
}

/** A candidate with, per statement, [cost before, cost after, used by the plan]. */
function costed(c: CandidateIndex, statements: Record<string, [number, number, boolean]>): CostedCandidate {
  return {
    candidate: c,
    source: 'HYPOPG',
    sizeBytes: 1_000_000,
    perStatement: Object.entries(statements).map(([queryId, [before, after, uses]]) => ({
      queryId,
      before: { totalCost: before, topNode: 'Seq Scan', usesCandidate: false },
      after: { totalCost: after, topNode: uses ? 'Index Scan' : 'Seq Scan', usesCandidate: uses },
    })),
  };
}

const calls = new Map([
  ['1', 1000],
  ['2', 1000],
]);

describe('selectIndexes', () => {
  it('prefers one composite serving both statements, and rejects the narrower one as DOMINATED', () => {
    const composite = costed(candidate('logs', ['user_id', 'at']), { '1': [5000, 10, true], '2': [5000, 12, true] });
    const narrow = costed(candidate('logs', ['user_id']), { '1': [5000, 40, true] });
    const { selected, rejected } = selectIndexes({ costed: [narrow, composite], calls, writes: new Map(), minImprovement: 0.1 });
    expect(selected.map((s) => s.costed.candidate.keys.map((k) => k.column))).toEqual([['user_id', 'at']]);
    expect(selected[0]!.benefit).toBe(1000 * 4990 + 1000 * 4988);
    expect(rejected.map((r) => [r.candidate.keys.map((k) => k.column), r.reason])).toEqual([[['user_id'], 'DOMINATED']]);
  });

  it('says why: not used by the planner, too small an improvement, more write cost than read benefit', () => {
    const unused = costed(candidate('logs', ['action']), { '1': [5000, 5000, false] });
    const small = costed(candidate('logs', ['ip']), { '1': [5000, 4800, true] });
    const writeHeavy = costed(candidate('events', ['payload'], 'gin'), { '2': [100, 50, true] });
    const { selected, rejected } = selectIndexes({
      costed: [unused, small, writeHeavy],
      calls,
      writes: new Map([['public.events', 1_000_000]]),
      minImprovement: 0.1,
    });
    expect(selected).toEqual([]);
    expect(rejected.map((r) => r.reason)).toEqual(['NOT_USED_BY_PLANNER', 'IMPROVEMENT_TOO_SMALL', 'WRITE_OVERHEAD']);
  });

  it('adds a second index only for what it saves beyond the first', () => {
    const first = costed(candidate('logs', ['user_id']), { '1': [5000, 100, true], '2': [5000, 100, true] });
    const better = costed(candidate('logs', ['user_id', 'at']), { '1': [5000, 10, true] });
    const { selected } = selectIndexes({ costed: [first, better], calls, writes: new Map(), minImprovement: 0.01 });
    expect(selected.map((s) => [s.costed.candidate.keys.length, s.benefit])).toEqual([
      [1, 1000 * 4900 * 2],
      [2, 1000 * 90],
    ]);
  });
});

describe('selectIndexes: INCLUDE columns must buy a gain that counts', () => {
  // costs and sizes HypoPG gave on the shop workload (bench/workloads/shop.ts), PostgreSQL 15
  const sized = (c: CostedCandidate, megabytes: number): CostedCandidate => ({ ...c, sizeBytes: megabytes * 1_000_000 });
  const covering = (c: CandidateIndex, include: string[]) => ({ ...c, include });
  const recent = ['customer_id', 'at'];

  it('takes the index without INCLUDE when the index-only scan saves under minImprovement of the statement', () => {
    const twin = sized(costed(candidate('events', recent), { '1': [25_553, 27.2, true] }), 37.8);
    const wide = sized(costed(covering(candidate('events', recent), ['kind', 'payload']), { '1': [25_553, 8.4, true] }), 113.5);
    const { selected, rejected } = selectIndexes({ costed: [wide, twin], calls, writes: new Map(), minImprovement: 0.1 });
    expect(selected.map((s) => s.costed)).toEqual([twin]);
    expect(rejected.map((r) => [r.candidate.include, r.reason, r.detail])).toEqual([
      [
        ['kind', 'payload'],
        'IMPROVEMENT_TOO_SMALL',
        "Its INCLUDE columns save less than 10% of each statement's cost beyond the same index without them, which takes about 36 MB instead of 108.2 MB.",
      ],
    ]);
  });

  it('keeps the INCLUDE when the index-only scan spares a range most of its cost', () => {
    const twin = sized(costed(candidate('orders', ['created_at']), { '2': [7_615, 3_509, true] }), 12.5);
    const narrow = sized(costed(covering(candidate('orders', ['created_at']), ['total']), { '2': [7_615, 102, true] }), 19.8);
    const { selected, rejected } = selectIndexes({ costed: [twin, narrow], calls, writes: new Map(), minImprovement: 0.1 });
    expect(selected.map((s) => s.costed)).toEqual([narrow]);
    expect(rejected.map((r) => [r.candidate.include, r.reason])).toEqual([[[], 'DOMINATED']]);
  });

  it("compares the other candidates without the covering one: a shorter prefix beats the covering one's twin", () => {
    const keys = ['order_id', 'product_id'];
    const prefix = sized(costed(candidate('order_items', ['order_id']), { '1': [17_265, 41.3, true] }), 37.6);
    const twin = sized(costed(candidate('order_items', keys), { '1': [17_265, 46.6, true] }), 62.7);
    const wide = sized(costed(covering(candidate('order_items', keys), ['quantity', 'unit_price']), { '1': [17_265, 37.3, true] }), 116);
    const { selected } = selectIndexes({ costed: [prefix, twin, wide], calls, writes: new Map(), minImprovement: 0.1 });
    expect(selected.map((s) => s.costed)).toEqual([prefix]);
  });
});

describe('withPrefixStatements', () => {
  it("gives a wider candidate its prefixes' statements, and nothing to candidates of another method, table or predicate", () => {
    const narrow = { ...candidate('logs', ['user_id']), forQueryIds: ['1'] };
    const wide = { ...candidate('logs', ['user_id', 'at']), forQueryIds: ['2'] };
    const otherTable = { ...candidate('events', ['user_id', 'at']), forQueryIds: ['3'] };
    const partial = { ...candidate('logs', ['user_id', 'at']), where: "status = 'x'", forQueryIds: ['4'] };
    expect(withPrefixStatements([narrow, wide, otherTable, partial]).map((c) => c.forQueryIds)).toEqual([['1'], ['2', '1'], ['3'], ['4']]);
  });
});
