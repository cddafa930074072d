// A statement that compares a skewed column with $n is costed at two values, not one. The generic
// plan costs `tenant_id = $1` at the average tenant (1 / n_distinct of the rows); where a few
// tenants hold most rows, the application asks about them as often as they are large, and the
// custom plans that run those calls read thousands of rows where the generic one read dozens. An
// index that only the heavy values need, (tenant_id, updated_at) for `ORDER BY updated_at DESC
// LIMIT 50` where (tenant_id) and a sort serve the average tenant, is then never seen to pay.
//
// So, when pg_stats shows heavy values on the column (most common values each holding at least
// HEAVY_RATIO times the average share, together at least MIN_HEAVY_MASS of the rows), the statement
// gets a variant with one heavy value in place of its $n: the one whose share is nearest the heavy
// values' size-weighted mean share, as a typical call about a heavy value reads. Costing plans both
// and weighs them: the variant by the heavy values' share of the rows, the generic plan by the rest
// (calls assumed in proportion to rows, as a tenant's users make calls in proportion to its size).
// Only a column with at least MIN_DISTINCT values: a category (status) is specialize.ts's concern.
// The variant's literal comes from pg_stats and is only ever planned: it is never shown (notes
// name the column and the shares, not the value).
import type { Queryable } from '../../db/pool.js';
import { equalityComparisons, loadMostCommon, withLiterals } from './specialize.js';
import type { HeavyVariant } from '../types.js';
import type { ParsedWorkloadStatement } from './workload.js';

const MIN_DISTINCT = 100;
const HEAVY_RATIO = 10;
const MIN_HEAVY_MASS = 0.1;

interface ColumnSkew {
  column: string;
  value: string;
  weight: number;
  share: number;
  averageShare: number;
}

/** The statements, each given its heavy variant where one of its `column = $n` is on a skewed column. */
export async function withHeavyVariants(db: Queryable, statements: readonly ParsedWorkloadStatement[]): Promise<ParsedWorkloadStatement[]> {
  const comparisons = new Map(statements.map((statement) => [statement, equalityComparisons(statement.node)]));
  const wanted = [...comparisons.values()].flat().flatMap((c) => c.relations.map((relation) => ({ relation, column: c.column })));
  if (wanted.length === 0) return [...statements];
  const skews = await loadSkews(db, wanted);
  if (skews.size === 0) return [...statements];
  const out: ParsedWorkloadStatement[] = [];
  for (const statement of statements) {
    let best: { parameter: number; skew: ColumnSkew } | null = null;
    for (const comparison of comparisons.get(statement) ?? []) {
      const skew = comparison.relations.map((relation) => skews.get(`${relation}\u0000${comparison.column}`)).find(Boolean);
      if (skew && (best === null || skew.weight > best.skew.weight)) best = { parameter: comparison.parameter, skew };
    }
    const variant = best && (await withLiterals(statement, new Map([[best.parameter, quoteLiteral(best.skew.value)]])));
    if (!best || !variant) {
      out.push(statement);
      continue;
    }
    const heavy: HeavyVariant = { query: variant.query, ...best.skew };
    out.push({ ...statement, heavy });
  }
  return out;
}

/** The skewed columns among `columns`, by `relation\0column` (relation as the statement wrote it). */
async function loadSkews(db: Queryable, columns: Array<{ relation: string; column: string }>): Promise<Map<string, ColumnSkew>> {
  const skews = new Map<string, ColumnSkew>();
  for (const [key, common] of await loadMostCommon(db, columns)) {
    const skew = skewOf(common.values, common.freqs, common.distinctValues);
    if (skew) skews.set(key, { ...skew, column: common.column });
  }
  return skews;
}

/** The heavy values of a column's statistics, or null when it has too few to matter. */
export function skewOf(values: readonly string[], freqs: readonly number[], distinctValues: number): Omit<ColumnSkew, 'column'> | null {
  if (!(distinctValues >= MIN_DISTINCT)) return null;
  const averageShare = 1 / distinctValues;
  const heavy = freqs.flatMap((freq, at) => (freq >= HEAVY_RATIO * averageShare ? [{ value: values[at]!, freq }] : []));
  const weight = heavy.reduce((sum, each) => sum + each.freq, 0);
  if (weight < MIN_HEAVY_MASS) return null;
  // a call about a heavy value picked in proportion to rows reads, on average, this share
  const typical = heavy.reduce((sum, each) => sum + each.freq * each.freq, 0) / weight;
  const nearest = heavy.reduce((best, each) => (Math.abs(each.freq - typical) < Math.abs(best.freq - typical) ? each : best));
  return { value: nearest.value, weight, share: nearest.freq, averageShare };
}

/** A string literal (standard_conforming_strings on, as costing sets it): the column's type takes it as typed. */
const quoteLiteral = (value: string) => `'${value.replaceAll("'", "''")}'`;
