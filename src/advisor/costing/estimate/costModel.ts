// The pg_stats estimate's arithmetic, pure functions: how selective a candidate's leading keys
// are for one statement's predicates, and what reading the matching rows through the index would
// cost. The formulas are PostgreSQL's own, simplified (src/backend/optimizer/path/costsize.c:
// cost_index with the Mackert-Lohman page estimate and correlation between random and sequential
// heap access, cost_bitmap_heap_scan; utils/adt/selfuncs.c: btcostestimate's descent, the
// default selectivities), so that the estimate agrees with the planner where the planner is clear.
import type { ColumnStatistics, CostSettings, TableStatistics } from './statistics.js';
import type { CandidateIndex, KeyPredicate, TableAccess } from '../../types.js';
import { arraySelectivity, patternSelectivity } from './operatorSelectivity.js';

// selfuncs.h: the planner's defaults when nothing better is known.
const DEFAULT_EQ_SEL = 0.005;
const DEFAULT_INEQ_SEL = 1 / 3;
const DEFAULT_RANGE_INEQ_SEL = 0.005;
const DEFAULT_MATCHING_SEL = 0.01;
/** preprocess_limit: a LIMIT given as a parameter is planned as fetching 10% of the rows. */
const PARAM_LIMIT_FRACTION = 0.1;

const PAGE_BYTES = 8192;
/** B-tree leaf pages are filled to 90% (fillfactor) by CREATE INDEX; 24 bytes of page header. */
const USABLE_PAGE_BYTES = PAGE_BYTES * 0.9 - 24;
/** Index tuple header (8) and its line pointer (4). */
const INDEX_TUPLE_OVERHEAD = 12;

export interface KeyEstimate {
  /** Fraction of the table's rows the index scan reads (its leading usable keys). */
  indexSelectivity: number;
  /** Keys used as index conditions. */
  keysUsed: number;
  /** The index returns rows in the ORDER BY's order (all keys in one direction or all reversed). */
  ordered: boolean;
}

/** A key of the candidate as the statement uses it, matched by column or expression text. */
function predicatesOn(key: { column: string | null; expression: string | null }, predicates: readonly KeyPredicate[]): KeyPredicate[] {
  const same = (a: string | null, b: string | null) => a !== null && b !== null && normalize(a) === normalize(b);
  return predicates.filter((p) => (key.column !== null ? p.column === key.column : same(p.expression, key.expression)));
}

// "(details ->> 'page')" and "details->>'page'" name the same expression (case kept: constants differ by it)
const normalize = (text: string) => text.replace(/\s+/g, '').replace(/^\((.*)\)$/, '$1');

// lower(col), upper(col): as many distinct values as the column, or nearly (case folded)
// (as the analysis writes it, quoted: "pg_catalog"."lower"("email"))
const CASE_FOLDED = /^\(?\s*(?:"?pg_catalog"?\.)?"?(?:lower|upper)"?\s*\(\s*"?([A-Za-z_][A-Za-z0-9_$]*)"?\s*\)\s*\)?$/i;

/** The column an expression key folds case on ("lower(email)"), whose statistics stand in for it. */
export function foldedColumn(expression: string | null): string | null {
  return expression === null ? null : (CASE_FOLDED.exec(expression)?.[1] ?? null);
}

/** A key's statistics: its column's, or for lower(col)/upper(col) the column's (other expressions have none before an index exists). */
function keyStatistics(key: { column: string | null; expression: string | null }, stats: TableStatistics): ColumnStatistics | undefined {
  const column = key.column ?? foldedColumn(key.expression);
  const found = column === null ? undefined : stats.columns.get(column);
  // the column's common values are not the expression's: only the counts carry over
  const counts = { commonValues: [], commonFrequencies: [], histogram: [], commonElements: [], commonElementFrequencies: [] };
  return found && key.column === null ? { ...found, ...counts } : found;
}

/** Selectivity of equality (selfuncs.c): a constant among the most common values, else the rest spread evenly; no constant: 1/distinct. */
export function equalitySelectivity(stats: ColumnStatistics | undefined, constant?: string | null): number {
  if (!stats) return DEFAULT_EQ_SEL;
  const mostCommon = stats.commonFrequencies[0];
  if (constant == null) {
    // var_eq_non_const (a generic plan's $n): never more than the most common value's frequency
    const even = (1 - stats.nullFraction) / stats.distinct;
    return mostCommon === undefined ? even : Math.min(even, mostCommon);
  }
  const at = stats.commonValues.indexOf(constant);
  if (at >= 0) return stats.commonFrequencies[at]!;
  // var_eq_const: the rows outside the common values, spread over the other distinct values
  const common = stats.commonFrequencies.reduce((sum, f) => sum + f, 0);
  const rest = Math.max(stats.distinct - stats.commonValues.length, 1);
  const spread = (1 - stats.nullFraction - common) / rest;
  return Math.max(0, Math.min(spread, stats.commonFrequencies.at(-1) ?? 1));
}

/**
 * RANGE predicates on one key: a constant is placed in the histogram (the rows outside the common
 * values and nulls), a parameter counts 1/3; two parameters (BETWEEN) 0.005, as the planner assumes.
 */
export function rangeSelectivity(onKey: readonly KeyPredicate[], stats: ColumnStatistics | undefined): number {
  const ranges = onKey.filter((p) => p.use === 'RANGE');
  const placed = ranges.flatMap((p) => {
    const at = p.constant != null && p.operator && stats ? histogramFraction(stats.histogram, p.constant) : null;
    return at === null ? [] : [{ below: p.operator!.startsWith('<'), at }];
  });
  if (placed.length === 0) return ranges.length >= 2 ? DEFAULT_RANGE_INEQ_SEL : DEFAULT_INEQ_SEL;
  const low = Math.max(0, ...placed.filter((p) => !p.below).map((p) => p.at));
  const high = Math.min(1, ...placed.filter((p) => p.below).map((p) => p.at));
  const share = 1 - stats!.nullFraction - stats!.commonFrequencies.reduce((sum, f) => sum + f, 0);
  const unknown = ranges.length - placed.length;
  return Math.max(high - low, 0) * Math.max(share, 0) * DEFAULT_INEQ_SEL ** unknown;
}

/**
 * Where `constant` falls in a histogram's bounds, as the fraction of the histogram below it
 * (ineq_histogram_selectivity, simplified): numbers interpolated within their bucket, other
 * values (dates, timestamps, text) compared as text, half a bucket. Null without a histogram.
 */
export function histogramFraction(bounds: readonly string[], constant: string): number | null {
  if (bounds.length < 2) return null;
  const numeric = [constant, ...bounds].every((value) => value.trim() !== '' && Number.isFinite(Number(value)));
  const compare = (a: string, b: string) => (numeric ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0);
  if (compare(constant, bounds[0]!) <= 0) return 0;
  if (compare(constant, bounds.at(-1)!) >= 0) return 1;
  const above = bounds.findIndex((bound) => compare(constant, bound) < 0);
  const [low, high] = [Number(bounds[above - 1]), Number(bounds[above])];
  const within = numeric && high > low ? (Number(constant) - low) / (high - low) : 0.5;
  return (above - 1 + within) / (bounds.length - 1);
}

/**
 * How far the candidate's keys serve the access: equality keys first, then one range key (a LIKE
 * prefix is one, when the key's operator class serves LIKE), or the sort. `plannerSelectivity`
 * is the planner's own estimate for the statement's conditions on the table (its plan's rows over
 * the table's): what the pattern and array operators, whose selectivity pg_stats does not give
 * directly, are estimated by.
 */
export function estimateKeys(
  candidate: CandidateIndex,
  access: TableAccess,
  stats: TableStatistics,
  plannerSelectivity: number | null = null,
): KeyEstimate {
  if (candidate.method === 'gin') return ginEstimate(candidate, access, stats, plannerSelectivity);
  // a partial index holds only the rows its predicate keeps (the statement's own constant predicates: statementEstimate checks they match)
  let selectivity = candidate.where === null ? 1 : partialFraction(access, stats);
  let keysUsed = 0;
  for (const key of candidate.keys) {
    const onKey = predicatesOn(key, access.predicates);
    const stat = keyStatistics(key, stats);
    const equality = onKey.find((p) => p.use === 'EQUALITY');
    const pattern = onKey.find((p) => p.use === 'PATTERN_PREFIX' && (p.patternOpclass ?? null) === key.opclass);
    if (equality) selectivity *= equalitySelectivity(stat, equality.constant);
    else if (onKey.some((p) => p.use === 'IS_NULL')) {
      selectivity *= stat ? Math.max(stat.nullFraction, 1 / Math.max(stats.rows, 1)) : DEFAULT_EQ_SEL;
    } else if (onKey.some((p) => p.use === 'RANGE') && candidate.method !== 'hash') {
      selectivity *= Math.max(rangeSelectivity(onKey, stat), 1 / Math.max(stats.rows, 1));
      keysUsed += 1;
      break;
    } else if (pattern && candidate.method === 'btree') {
      selectivity *= Math.max(patternSelectivity(pattern, plannerSelectivity), 1 / Math.max(stats.rows, 1));
      keysUsed += 1;
      break;
    } else break;
    keysUsed += 1;
  }
  if (candidate.method === 'hash' && keysUsed !== candidate.keys.length) return { indexSelectivity: 1, keysUsed: 0, ordered: false };
  return { indexSelectivity: selectivity, keysUsed, ordered: candidate.method === 'btree' && providesOrder(candidate, access, keysUsed) };
}

/** The share of the table's rows that the statement's constant equality predicates keep (status = 'pending'). */
function partialFraction(access: TableAccess, stats: TableStatistics): number {
  return access.predicates
    .filter((p) => p.inPartialPredicate && p.use === 'EQUALITY')
    .reduce((fraction, p) => fraction * equalitySelectivity(keyStatistics(p, stats), p.constant), 1);
}

/** What the GIN operator class searches by: jsonb's operators, an array's, or (gin_trgm_ops) LIKE and ILIKE with any pattern. */
const GIN_USES: Record<string, ReadonlyArray<KeyPredicate['use']>> = {
  jsonb: ['JSONB_CONTAINS', 'JSONB_EXISTS'],
  array: ['ARRAY_CONTAINS'],
  gin_trgm_ops: ['PATTERN_INFIX', 'PATTERN_PREFIX'],
};

function ginEstimate(
  candidate: CandidateIndex,
  access: TableAccess,
  stats: TableStatistics,
  plannerSelectivity: number | null,
): KeyEstimate {
  const key = candidate.keys[0]!;
  const onKey = predicatesOn(key, access.predicates);
  const family = key.opclass === 'gin_trgm_ops' ? 'gin_trgm_ops' : onKey.some((p) => p.use === 'ARRAY_CONTAINS') ? 'array' : 'jsonb';
  const used = onKey.filter((p) => GIN_USES[family]!.includes(p.use));
  if (used.length === 0) return { indexSelectivity: 1, keysUsed: 0, ordered: false };
  const selectivity =
    family === 'jsonb'
      ? DEFAULT_MATCHING_SEL
      : family === 'array'
        ? Math.min(...used.map((p) => arraySelectivity(p, keyStatistics(key, stats), plannerSelectivity)))
        : Math.min(...used.map((p) => patternSelectivity(p, plannerSelectivity)));
  return { indexSelectivity: Math.max(selectivity, 1 / Math.max(stats.rows, 1)), keysUsed: 1, ordered: false };
}

/** After the equality prefix, the keys follow the ORDER BY, all in its direction or all reversed (a backward scan). */
function providesOrder(candidate: CandidateIndex, access: TableAccess, keysUsed: number): boolean {
  if (access.sort.length === 0) return false;
  // the sort may start at the first key after the equalities, or at a range key on the sort's first key
  const equalities = candidate.keys
    .slice(0, keysUsed)
    .filter((key) => predicatesOn(key, access.predicates).some((p) => p.use !== 'RANGE')).length;
  const rest = candidate.keys.slice(equalities);
  if (rest.length < access.sort.length) return false;
  const flips = access.sort.map((sort, index) => {
    const key = rest[index]!;
    if (predicatesOn(key, [sort]).length === 0) return null;
    return (key.direction ?? 'ASC') === (sort.direction ?? 'ASC');
  });
  return flips.every((same) => same === true) || flips.every((same) => same === false);
}

/** Average width of an index tuple, bytes (keys' widths, 8 when unknown, plus header and line pointer, aligned). */
export function indexTupleBytes(candidate: CandidateIndex, stats: TableStatistics): number {
  const width = (column: string | null) => (column !== null ? stats.columns.get(column)?.avgWidthBytes : undefined);
  // lower(col) is as wide as col; other expressions are not known before the index exists
  const widths = [...candidate.keys.map((key) => width(key.column ?? foldedColumn(key.expression))), ...candidate.include.map(width)];
  const data = widths.reduce<number>((sum, width) => sum + (width ?? 8), 0);
  return Math.ceil((data + 8) / 8) * 8 + 4;
}

/**
 * Estimated size on disk, bytes: the tuples on leaf pages filled to the fillfactor, a metapage
 * and about 1% of internal pages. GIN stores each row's distinct keys compressed: a rough
 * fraction of the column's width per row (HypoPG cannot size GIN either).
 */
export function estimateSizeBytes(candidate: CandidateIndex, stats: TableStatistics): number {
  const rows = Math.max(stats.rows, 0);
  const first = candidate.keys[0]!;
  const width = stats.columns.get(first.column ?? foldedColumn(first.expression) ?? '')?.avgWidthBytes ?? 32;
  // a trigram index holds about one entry per character of the text, each a posting of the row:
  // about three bytes per character (27 MB against an estimate of 22 MB for 200,000 md5 texts,
  // test/advisor/patterns.test.ts); repetitive text compresses better
  const tuple =
    candidate.method === 'gin'
      ? Math.max(8, first.opclass === 'gin_trgm_ops' ? width * 3 : width / 4)
      : indexTupleBytes(candidate, stats) - (candidate.method === 'btree' ? 0 : INDEX_TUPLE_OVERHEAD / 2);
  const leafPages = Math.ceil((rows * tuple) / USABLE_PAGE_BYTES);
  return (1 + leafPages + Math.ceil(leafPages / 100)) * PAGE_BYTES;
}

/** Pages read to fetch `tuples` of a table of `pages` pages with `cache` pages of cache (Mackert and Lohman, index_pages_fetched). */
export function pagesFetched(tuples: number, pages: number, cache: number): number {
  const T = Math.max(pages, 1);
  const b = Math.max(cache, 1);
  if (T <= b) return Math.min((2 * T * tuples) / (2 * T + tuples), T);
  const limit = (2 * T * b) / (2 * T - b);
  if (tuples <= limit) return (2 * T * tuples) / (2 * T + tuples);
  return b + ((tuples - limit) * (T - b)) / T;
}

export interface AccessCostInput {
  estimate: KeyEstimate;
  stats: TableStatistics;
  settings: CostSettings;
  /** The candidate's keys' correlation with the heap's order (its first key's). */
  correlation: number;
  indexPages: number;
  /** Fraction of the matching rows read (a LIMIT on an ordered index), 1 otherwise. */
  fraction: number;
}

/**
 * Descending the B-tree (an index scan's start-up cost): a comparison per level of a binary
 * search, plus 50 operator costs per page touched (btcostestimate).
 */
export function descentCost({ stats, settings, indexPages }: AccessCostInput): number {
  const height = Math.max(1, Math.ceil(Math.log(Math.max(indexPages, 2)) / Math.log(100)));
  return (Math.ceil(Math.log2(Math.max(stats.rows, 2))) + (height + 1) * 50) * settings.cpuOperatorCost;
}

/** CPU per index tuple read: the tuple, and each index condition checked on it. */
const indexTupleCost = ({ settings, estimate }: AccessCostInput) =>
  settings.cpuIndexTupleCost + settings.cpuOperatorCost * estimate.keysUsed;

/** An index scan reading `fraction` of the matching rows, heap in index order (cost_index). */
export function indexScanCost(input: AccessCostInput): number {
  const { estimate, stats, settings } = input;
  const tuples = Math.max(1, estimate.indexSelectivity * stats.rows * input.fraction);
  const indexPagesRead = Math.max(1, Math.ceil(estimate.indexSelectivity * input.fraction * input.indexPages));
  const indexCost = indexPagesRead * settings.randomPageCost + tuples * indexTupleCost(input);
  const maxIo = pagesFetched(tuples, stats.pages, settings.effectiveCachePages) * settings.randomPageCost;
  const sequentialPages = Math.max(1, Math.ceil(estimate.indexSelectivity * input.fraction * stats.pages));
  const minIo = settings.randomPageCost + (sequentialPages - 1) * settings.seqPageCost;
  const squared = input.correlation * input.correlation;
  const heapIo = maxIo + squared * (minIo - maxIo);
  return descentCost(input) + indexCost + heapIo + tuples * settings.cpuTupleCost;
}

/** A bitmap scan over every matching row: heap pages in physical order, each read once (cost_bitmap_heap_scan). */
export function bitmapScanCost(input: AccessCostInput): number {
  const { estimate, stats, settings } = input;
  const tuples = Math.max(1, estimate.indexSelectivity * stats.rows);
  const indexPagesRead = Math.max(1, Math.ceil(estimate.indexSelectivity * input.indexPages));
  const indexCost = indexPagesRead * settings.randomPageCost + tuples * indexTupleCost(input);
  const heapPages = Math.min(pagesFetched(tuples, stats.pages, settings.effectiveCachePages), Math.max(stats.pages, 1));
  // the more of the table is read, the closer to sequential reading (cost_bitmap_heap_scan)
  const { randomPageCost: random, seqPageCost: sequential } = settings;
  const perPage = heapPages >= 2 ? random - (random - sequential) * Math.sqrt(heapPages / Math.max(stats.pages, 1)) : random;
  return descentCost(input) + indexCost + heapPages * perPage + tuples * (settings.cpuTupleCost + settings.cpuOperatorCost);
}

/** Sorting `rows` rows (cost_sort: 2 operator costs per comparison, n log2 n comparisons; top-N with a small LIMIT). */
export function sortCost(rows: number, settings: CostSettings, limit: number | null): number {
  const n = Math.max(rows, 2);
  const compared = limit !== null && limit * 2 < n ? Math.log2(Math.max(2 * limit, 2)) : Math.log2(n);
  return 2 * settings.cpuOperatorCost * n * compared;
}

/** The LIMIT as a fraction of the matching rows (a parameter: 10%, as the planner assumes). */
export function limitFraction(limit: TableAccess['limit'], matchingRows: number): number {
  if (limit === null) return 1;
  if (limit === 'PARAM') return PARAM_LIMIT_FRACTION;
  return Math.min(1, Math.max(limit, 1) / Math.max(matchingRows, 1));
}
