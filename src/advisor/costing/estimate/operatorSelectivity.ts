// Selectivity of the operators pg_stats says little about directly: LIKE and ILIKE patterns and
// array containment and overlap (utils/adt/selfuncs.c patternsel, utils/adt/array_selfuncs.c
// arraycontsel, simplified). Where the statement gives constants the planner's own estimate for
// the statement, or the column's most common elements, are used; with $n, the planner's defaults.
import type { ColumnStatistics } from './statistics.js';
import type { KeyPredicate } from '../../types.js';

/** patternsel with an unknown pattern (LIKE $1, ILIKE $1): DEFAULT_MATCH_SEL. */
const DEFAULT_PATTERN_SEL = 0.005;
/** array_selfuncs.c: DEFAULT_CONTAIN_SEL, for @>, <@ and && without statistics or with a parameter. */
const DEFAULT_CONTAIN_SEL = 0.005;

/**
 * LIKE and ILIKE: the planner's estimate when the statement gives it a pattern; with a $n the
 * planner's own default (a generic plan estimates the same), since pg_stats cannot tell a prefix
 * it has not seen.
 */
export function patternSelectivity(pattern: KeyPredicate, plannerSelectivity: number | null): number {
  return pattern.constant != null && plannerSelectivity !== null ? plannerSelectivity : DEFAULT_PATTERN_SEL;
}

/**
 * Array @> and && with constant elements, from the column's most common elements
 * (array_selfuncs.c, simplified: elements independent; one pg_stats does not list counts half the
 * least common frequency, at most DEFAULT_CONTAIN_SEL): @> needs every element, && any of them.
 * A parameter, or a column without element statistics: the planner's estimate, else its default.
 */
export function arraySelectivity(predicate: KeyPredicate, stats: ColumnStatistics | undefined, plannerSelectivity: number | null): number {
  const elements = predicate.elements;
  if (!elements || !stats || stats.commonElements.length === 0) return plannerSelectivity ?? DEFAULT_CONTAIN_SEL;
  const least = Math.min(...stats.commonElementFrequencies);
  const frequencies = elements.map((element) => {
    const at = stats.commonElements.indexOf(element);
    return at >= 0 ? stats.commonElementFrequencies[at]! : Math.min(DEFAULT_CONTAIN_SEL, least / 2);
  });
  const share = 1 - stats.nullFraction;
  if (predicate.overlap) return share * (1 - frequencies.reduce((none, f) => none * (1 - f), 1));
  return share * frequencies.reduce((all, f) => all * f, 1);
}
