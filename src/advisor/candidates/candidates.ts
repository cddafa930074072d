// From what statements ask of tables (TableAccess) to the indexes that could serve them, before
// any costing: the way a DBA writes them. A B-tree puts the equality keys first (IN and = ANY are
// equality; the most selective first when pg_stats says, else as written), then either one range
// key or the ORDER BY keys with their direction (an index read in order answers ORDER BY, LIMIT or not,
// without sorting); each multi-column candidate comes with its prefixes, which costing may prefer.
// jsonb containment and key existence give GIN (jsonb_path_ops, smaller and faster, when the
// workload only ever uses @> on that key); array containment and overlap GIN with the default
// array_ops. LIKE with a prefix pattern is a range for a B-tree (with a pattern operator class
// unless the collation is C: analysis/patterns.ts); ILIKE and infix LIKE give a trigram GIN index
// when pg_trgm is there to build it. A constant predicate gives a partial index too.
// Identical candidates from several statements become one, serving all of them.
import type { CandidateIndex, CandidateKey, KeyPredicate, KeyRef, TableAccess } from '../types.js';

/** Key columns of a B-tree candidate, at most: past three, an index grows more than it helps, as a rule. */
export const DEFAULT_MAX_COLUMNS = 3;

/** INCLUDE columns of a covering candidate, at most: more would make the index a second copy of the table. */
export const DEFAULT_MAX_INCLUDE_COLUMNS = 2;

export interface CandidateOptions {
  /** Key columns of a B-tree candidate, at most (default DEFAULT_MAX_COLUMNS). */
  maxColumns?: number;
  /** INCLUDE columns of a covering candidate, at most (default DEFAULT_MAX_INCLUDE_COLUMNS; 0: none). */
  maxIncludeColumns?: number;
  /** Estimated distinct values of a key (from pg_stats), to put the most selective equality key first. */
  distinctValues?: (schema: string, table: string, key: KeyRef) => number | undefined;
  /** pg_trgm's gin_trgm_ops can be named (installed, on the search_path): ILIKE and infix LIKE get a trigram candidate. */
  trigram?: boolean;
}

/** Candidates for the accesses, deduplicated, in the order the accesses first ask for them. */
export function generateCandidates(accesses: readonly TableAccess[], options: CandidateOptions = {}): CandidateIndex[] {
  const pathOpsKeys = containmentOnlyKeys(accesses);
  const found = new Map<string, CandidateIndex>();
  for (const access of accesses) {
    const candidates = [...btreeCandidates(access, options), ...ginCandidates(access, pathOpsKeys, options.trigram ?? false)];
    for (const candidate of candidates) {
      const id = candidateId(candidate);
      const existing = found.get(id);
      if (!existing) found.set(id, candidate);
      else if (!existing.forQueryIds.includes(access.queryId)) existing.forQueryIds.push(access.queryId);
    }
  }
  return [...found.values()];
}

/** What makes two candidates the same index. */
export function candidateId(candidate: CandidateIndex): string {
  const { schema, table, method, keys, where, include } = candidate;
  const keyParts = keys.map((key) => [key.column, key.expression, key.direction, key.nulls, key.opclass]);
  return JSON.stringify([schema, table, method, keyParts, where, include]);
}

const keyId = (key: KeyRef) => JSON.stringify([key.column, key.expression]);

function btreeCandidates(access: TableAccess, options: CandidateOptions): CandidateIndex[] {
  const maxColumns = options.maxColumns ?? DEFAULT_MAX_COLUMNS;
  const distinct = (key: KeyRef) => options.distinctValues?.(access.schema, access.table, key);
  const searched = access.predicates.filter((p) => (p.use === 'EQUALITY' && !isOneValue(p, distinct)) || p.use === 'IS_NULL');
  const equality = orderBySelectivity(unique(searched), distinct);
  const equal = new Set(equality.map(keyId));
  const ranges = unique(access.predicates.filter((p) => (p.use === 'RANGE' || p.use === 'PATTERN_PREFIX') && !equal.has(keyId(p))));
  // read in order, an index stops early under a LIMIT, or spares sorting the whole result without one
  // (often not worth a scan in index order: costing decides); keys fixed by equality need no order
  const sort = access.sort.filter((key) => !equal.has(keyId(key)));
  const tails = tailsOf(ranges, sort);
  const out: CandidateIndex[] = [];
  for (const tail of tails) {
    const keys = [...equality.map(plainKey), ...tail].slice(0, maxColumns);
    out.push(...withPrefixes(access, keys, maxColumns, null));
    const covering = coveringCandidate(access, keys, options.maxIncludeColumns ?? DEFAULT_MAX_INCLUDE_COLUMNS);
    if (covering) out.push(covering);
    if (access.partialPredicate) {
      // the partial index's predicate already fixes the constant keys: they need not be keys too
      const rest = equality.filter((key) => !key.inPartialPredicate).map(plainKey);
      if (rest.length + tail.length > 0) out.push(...withPrefixes(access, [...rest, ...tail], maxColumns, access.partialPredicate));
    }
  }
  return out;
}

/**
 * What follows the equality keys: the ORDER BY keys (which also serve a range on the first of them:
 * WHERE ts >= $1 ORDER BY ts DESC), or one range key per candidate (a B-tree uses one range
 * well; the keys after it are only filters).
 */
function tailsOf(ranges: KeyPredicate[], sort: KeyPredicate[]): CandidateKey[][] {
  const tails: CandidateKey[][] = [];
  if (sort.length > 0) tails.push(sort.map(sortKey));
  const first = sort[0] ? keyId(sort[0]) : null;
  // a LIKE prefix under a non-C collation needs its pattern operator class, which does not give the ORDER BY's order
  for (const range of ranges) if (keyId(range) !== first || range.patternOpclass) tails.push([rangeKey(range)]);
  return tails.length > 0 ? tails : [[]];
}

/**
 * The candidate with the other columns the statement reads as INCLUDE, when they are few: an
 * index-only scan then answers without visiting the table (a count or GROUP BY over many rows
 * of a key). Not for SELECT * (readColumns null). An expression key's columns are included too:
 * the scan can return the expression's value only, not the columns it is computed from. Whether
 * the index-only scan is worth the bytes is selection's to judge (select.ts, includeAddsTooLittle).
 */
function coveringCandidate(access: TableAccess, keys: CandidateKey[], maxInclude: number): CandidateIndex | null {
  if (access.readColumns === null || maxInclude === 0 || keys.length === 0) return null;
  const keyColumns = new Set(keys.flatMap((key) => (key.column === null ? [] : [key.column])));
  const include = access.readColumns.filter((column) => !keyColumns.has(column));
  if (include.length === 0 || include.length > maxInclude) return null;
  return { ...candidate(access, 'btree', keys, null), include };
}

/** The candidate over `keys` (at most maxColumns of them) and each shorter prefix. */
function withPrefixes(access: TableAccess, keys: CandidateKey[], maxColumns: number, where: string | null): CandidateIndex[] {
  const kept = keys.slice(0, maxColumns);
  const out: CandidateIndex[] = [];
  for (let length = 1; length <= kept.length; length += 1) {
    out.push(candidate(access, 'btree', kept.slice(0, length), where));
  }
  return out;
}

function candidate(access: TableAccess, method: CandidateIndex['method'], keys: CandidateKey[], where: string | null): CandidateIndex {
  return { schema: access.schema, table: access.table, method, keys, where, include: [], forQueryIds: [access.queryId] };
}

function plainKey(key: KeyRef): CandidateKey {
  return { column: key.column, expression: key.expression, direction: null, nulls: null, opclass: null };
}

/** A range key; a LIKE prefix with the operator class that serves it (analysis/patterns.ts). */
function rangeKey(key: KeyPredicate): CandidateKey {
  return { ...plainKey(key), opclass: key.use === 'PATTERN_PREFIX' ? (key.patternOpclass ?? null) : null };
}

/** An ORDER BY key as an index key: DESC spelled out, NULLS only when not the direction's default. */
function sortKey(key: KeyPredicate): CandidateKey {
  const descending = key.direction === 'DESC';
  // PostgreSQL's defaults, for ORDER BY as for an index: NULLS LAST ascending, NULLS FIRST descending
  const defaultNulls = descending ? 'FIRST' : 'LAST';
  const nulls = key.nulls && key.nulls !== defaultNulls ? key.nulls : null;
  return { ...plainKey(key), direction: descending ? 'DESC' : null, nulls };
}

/** The first predicate of each key (a key compared twice, as in BETWEEN-like pairs, is one key). */
function unique(predicates: KeyPredicate[]): KeyPredicate[] {
  const seen = new Map<string, KeyPredicate>();
  for (const predicate of predicates) if (!seen.has(keyId(predicate))) seen.set(keyId(predicate), predicate);
  return [...seen.values()];
}

/**
 * An equality with a parameter on a column that holds one value (every user active): the planner
 * takes it for every row, so as a key it narrows nothing, and a key after it would be searched
 * under it for no gain (PgHero's `email LIKE $1 AND active = $2`). A constant kept in the text is
 * left to costing: it may be the rare value.
 */
function isOneValue(predicate: KeyPredicate, distinct: (key: KeyRef) => number | undefined): boolean {
  const count = distinct(predicate);
  return count !== undefined && count <= 1 && (predicate.constant ?? null) === null;
}

/** Most distinct values first when every key's count is known; as written otherwise. */
function orderBySelectivity(keys: KeyPredicate[], distinct: (key: KeyRef) => number | undefined): KeyPredicate[] {
  const counts = keys.map(distinct);
  if (counts.some((count) => count === undefined)) return keys;
  return keys
    .map((key, index) => ({ key, count: counts[index]!, index }))
    .sort((a, b) => b.count - a.count || a.index - b.index)
    .map((item) => item.key);
}

function ginCandidates(access: TableAccess, pathOpsKeys: ReadonlySet<string>, trigram: boolean): CandidateIndex[] {
  const json = unique(access.predicates.filter((p) => p.use === 'JSONB_CONTAINS' || p.use === 'JSONB_EXISTS'));
  const jsonCandidates = json.map((key) => {
    const opclass = pathOpsKeys.has(tableKeyId(access, key)) ? 'jsonb_path_ops' : null;
    return candidate(access, 'gin', [{ ...plainKey(key), opclass }], null);
  });
  const arrays = unique(access.predicates.filter((p) => p.use === 'ARRAY_CONTAINS'));
  const arrayCandidates = arrays.map((key) => candidate(access, 'gin', [plainKey(key)], null));
  const patterns = trigram ? unique(access.predicates.filter((p) => p.use === 'PATTERN_INFIX')) : [];
  const trigramCandidates = patterns.map((key) => candidate(access, 'gin', [{ ...plainKey(key), opclass: TRIGRAM_OPCLASS }], null));
  return [...jsonCandidates, ...arrayCandidates, ...trigramCandidates];
}

/** pg_trgm's GIN operator class: LIKE, ILIKE, ~ and ~* with any pattern, also as $n in a generic plan. */
export const TRIGRAM_OPCLASS = 'gin_trgm_ops';

const tableKeyId = (access: TableAccess, key: KeyRef) => JSON.stringify([access.schema, access.table, key.column, key.expression]);

/**
 * jsonb keys the whole workload only uses with @>: jsonb_path_ops supports @> (not ?, ?| or ?&)
 * and makes a smaller, faster index; one index must serve every statement on the key.
 */
function containmentOnlyKeys(accesses: readonly TableAccess[]): Set<string> {
  const contains = new Set<string>();
  const exists = new Set<string>();
  for (const access of accesses) {
    for (const predicate of access.predicates) {
      if (predicate.use === 'JSONB_CONTAINS') contains.add(tableKeyId(access, predicate));
      if (predicate.use === 'JSONB_EXISTS') exists.add(tableKeyId(access, predicate));
    }
  }
  return new Set([...contains].filter((key) => !exists.has(key)));
}
