// Why a recommendation: a reason code automation can branch on, and one sentence a person reads.
import { TRIGRAM_OPCLASS } from './candidates/candidates.js';
import type { CandidateIndex, PlanCost, TableAccess, WorkloadStatement } from './types.js';

export type RecommendationReason =
  | 'JSONB_CONTAINMENT' // GIN for @>, ?, ?|, ?&
  | 'ARRAY_CONTAINMENT' // GIN for array @>, <@, &&
  | 'TRIGRAM_SEARCH' // GIN gin_trgm_ops for ILIKE and LIKE '%abc%'
  | 'PREFIX_PATTERN' // B-tree for LIKE 'abc%' (a pattern operator class unless the collation is C)
  | 'PARTIAL_INDEX' // a constant predicate the statements share (status = 'pending')
  | 'EXPRESSION_LOOKUP' // lower(email) = $1, (details ->> 'k') = $1
  | 'SORT_WITH_LIMIT' // ORDER BY ... LIMIT read in index order, no sort
  | 'COMPOSITE' // equality keys first, then a range or the sort
  | 'RANGE_SCAN'
  | 'EQUALITY_LOOKUP';

export interface Helped {
  statement: WorkloadStatement;
  before: PlanCost;
  after: PlanCost;
}

const sameKey = (a: { column: string | null; expression: string | null }, b: { column: string | null; expression: string | null }) =>
  a.column === b.column && a.expression === b.expression;

export function reasonOf(candidate: CandidateIndex, helped: readonly Helped[], accesses: readonly TableAccess[]): RecommendationReason {
  const ids = new Set(helped.map((h) => h.statement.queryId));
  const mine = accesses.filter((a) => ids.has(a.queryId) && a.schema === candidate.schema && a.table === candidate.table);
  const first = candidate.keys[0]!;
  const asked = (use: TableAccess['predicates'][number]['use']) =>
    mine.some((a) => a.predicates.some((p) => p.use === use && sameKey(p, first)));
  if (candidate.method === 'gin' && first.opclass === TRIGRAM_OPCLASS) return 'TRIGRAM_SEARCH';
  if (candidate.method === 'gin') return asked('ARRAY_CONTAINS') ? 'ARRAY_CONTAINMENT' : 'JSONB_CONTAINMENT';
  if (candidate.where !== null) return 'PARTIAL_INDEX';
  if (candidate.keys.length === 1 && asked('PATTERN_PREFIX')) return 'PREFIX_PATTERN';
  if (candidate.keys.some((key) => key.expression !== null)) return 'EXPRESSION_LOOKUP';
  const sorts = mine.some((a) => a.limit !== null && a.sort.length > 0 && a.sort.every((s) => candidate.keys.some((k) => sameKey(k, s))));
  if (sorts) return 'SORT_WITH_LIMIT';
  if (candidate.keys.length > 1) return 'COMPOSITE';
  const ranged = mine.some((a) => a.predicates.some((p) => p.use === 'RANGE' && sameKey(p, first)));
  return ranged ? 'RANGE_SCAN' : 'EQUALITY_LOOKUP';
}

const REASON_WORDS: Record<RecommendationReason, string> = {
  JSONB_CONTAINMENT: 'a GIN index for the JSON containment and key tests',
  ARRAY_CONTAINMENT: 'a GIN index for the array containment and overlap tests',
  TRIGRAM_SEARCH: 'a trigram GIN index for the ILIKE and infix LIKE searches',
  PREFIX_PATTERN: 'an index for the LIKE prefix search',
  PARTIAL_INDEX: 'a partial index over the rows the statements ask for',
  EXPRESSION_LOOKUP: 'an index on the expression the statements compare',
  SORT_WITH_LIMIT: 'an index read in the ORDER BY order, so LIMIT stops early with no sort',
  COMPOSITE: 'a multi-column index, equality keys first',
  RANGE_SCAN: 'an index for the range condition',
  EQUALITY_LOOKUP: 'an index for the equality lookup',
};

const number = (value: number) => (value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3));

function bytes(value: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? size : size.toFixed(1)} ${units[unit]}`;
}

export function describeRecommendation(
  recommendation: { reason: RecommendationReason; statements: readonly Helped[]; sizeBytes: number; makesRedundant: readonly string[] },
  table: string,
): string {
  const { statements } = recommendation;
  const calls = statements.reduce((sum, h) => sum + h.statement.calls, 0);
  const before = statements.reduce((sum, h) => sum + h.statement.calls * h.before.totalCost, 0) / Math.max(calls, 1);
  const after = statements.reduce((sum, h) => sum + h.statement.calls * h.after.totalCost, 0) / Math.max(calls, 1);
  const share = before > 0 ? (1 - after / before) * 100 : 0;
  const saved = share >= 99.5 ? 'over 99%' : `${Math.round(share)}%`;
  const plural = statements.length === 1 ? 'statement' : 'statements';
  const go = statements.length === 1 ? 'goes' : 'go';
  const replaces = recommendation.makesRedundant.length ? ` It makes ${recommendation.makesRedundant.join(', ')} redundant.` : '';
  const heavy = statements.find((h) => h.statement.heavy)?.statement.heavy;
  // the costs above are weighed (analysis/skew.ts): say so, with the column and the heavy values' share
  const weighed = heavy
    ? ` Costs weigh an average value of ${heavy.column} with its most common values (${Math.round(heavy.weight * 100)}% of the rows), as calls about each run.`
    : '';
  return (
    `${REASON_WORDS[recommendation.reason][0]!.toUpperCase()}${REASON_WORDS[recommendation.reason].slice(1)} on ${table}: ` +
    `${statements.length} ${plural} (${calls.toLocaleString('en-US')} calls) ${go} from an estimated cost of ${number(before)} to ${number(after)} ` +
    `per call (${saved} less), and the planner uses it. About ${bytes(recommendation.sizeBytes)}.${replaces}${weighed}`
  );
}
