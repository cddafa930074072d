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

describe('withPrefixStatements', () => {
  it("gives a wider candidate its prefixes' statements, and nothing to candidates of another method, table or predicate", () => {
    const narrow = { ...candidate('logs', ['user_id']), forQueryIds: ['1'] };
    const wide = { ...candidate('logs', ['user_id', 'at']), forQueryIds: ['2'] };
    const otherTable = { ...candidate('events', ['user_id', 'at']), forQueryIds: ['3'] };
    const partial = { ...candidate('logs', ['user_id', 'at']), where: "status = 'x'", forQueryIds: ['4'] };
    expect(withPrefixStatements([narrow, wide, otherTable, partial]).map((c) => c.forQueryIds)).toEqual([['1'], ['2', '1'], ['3'], ['4']]);
  });
});
