// Candidates an expert would not propose, set aside with the reason before any costing: those an
// existing valid index already serves (its leading keys are the candidate's, same order, a
// compatible access method, operator class and direction; unique and primary-key indexes count),
// and those on tables too small for any index to beat a sequential scan. Existing indexes and table
// sizes are read for all candidate tables at once (two queries per workload).
import { parseExpression } from '../../sql/indexExpression.js';
import { comparableTree } from '../../sql/indexIdentity.js';
import { leavesOf, relationsByName } from '../../db/fragments.js';
import type { Queryable } from '../../db/pool.js';
import { tableArrays } from '../analysis/relations.js';
import type { CandidateIndex, CandidateKey, RejectedCandidate } from '../types.js';

export interface CoverageOptions {
  /** A table under this many estimated rows AND under minPages pages gets no candidate (default 1,000). */
  minRows?: number;
  /** See minRows; pages of 8 kB (default 8). */
  minPages?: number;
}

export interface ExistingKey {
  column: string | null;
  /** As pg_get_indexdef prints it ("lower(email)"). */
  expression: string | null;
  descending: boolean;
  nullsFirst: boolean;
  opclass: string;
  opclassIsDefault: boolean;
}

export interface ExistingIndex {
  schema: string;
  table: string;
  name: string;
  method: string;
  /** Unique or primary key: at most one row per key value. */
  unique: boolean;
  predicate: string | null;
  keys: ExistingKey[];
  /** INCLUDE columns (non-key columns stored in the index). */
  include: string[];
}

/** Valid existing indexes of the tables, key columns with direction and operator class, per index. */
const EXISTING_INDEXES_SQL = /* SQL */ `
  SELECT
    n.nspname AS schema,
    t.relname AS table,
    ic.relname AS name,
    am.amname AS method,
    i.indisunique AS unique,
    pg_get_expr(i.indpred, i.indrelid) AS predicate,
    (
      SELECT json_agg(json_build_object(
        'column', a.attname,
        'expression', CASE WHEN i.indkey[k - 1] = 0 THEN pg_get_indexdef(i.indexrelid, k, true) END,
        'descending', (i.indoption[k - 1] & 1) = 1,
        'nullsFirst', (i.indoption[k - 1] & 2) = 2,
        'opclass', oc.opcname,
        'opclassIsDefault', oc.opcdefault
      ) ORDER BY k)
      FROM generate_series(1, i.indnkeyatts) AS k
      JOIN pg_opclass oc ON oc.oid = i.indclass[k - 1]
      LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1] AND i.indkey[k - 1] <> 0
    ) AS keys,
    ARRAY(
      SELECT a.attname::text
      FROM generate_series(i.indnkeyatts + 1, i.indnatts) AS k
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1]
      ORDER BY k
    ) AS include
  FROM ${relationsByName('$1', '$2')}
  JOIN pg_index i ON i.indrelid = t.oid
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_am am ON am.oid = ic.relam
  -- an index being built, or left invalid by a failed build, serves nothing
  WHERE i.indisvalid
    AND i.indisready
    AND i.indislive
  ORDER BY
    n.nspname,
    t.relname,
    ic.relname`;

interface TableSizeRow {
  schema: string;
  table: string;
  /** Estimated rows over the leaves; null when a leaf was never analyzed (reltuples -1, PostgreSQL 14+). */
  rows: number | null;
  pages: number;
}

/**
 * Sizes summed over the partition tree's leaves (a partitioned parent has no storage or estimate
 * of its own; a plain table is its own leaf). Pages are measured, not estimated, so a table loaded
 * since its last ANALYZE is not taken for empty.
 */
const TABLE_SIZES_SQL = /* SQL */ `
  SELECT
    w.schema,
    w.name AS table,
    CASE WHEN bool_and(c.reltuples >= 0) THEN sum(greatest(c.reltuples, 0))::float8 END AS rows,
    (sum(pg_relation_size(c.oid)) / current_setting('block_size')::int8)::float8 AS pages
  FROM ${relationsByName('$1', '$2')}
  CROSS JOIN LATERAL (${leavesOf('t')}
  ) AS leaf
  JOIN pg_class c ON c.oid = leaf.relid
  GROUP BY
    w.schema,
    w.name
  ORDER BY
    w.schema,
    w.name`;

export interface CoverageResult {
  kept: CandidateIndex[];
  rejected: RejectedCandidate[];
}

/** Splits the candidates into those worth costing and those set aside with the reason. */
export async function checkCoverage(
  db: Queryable,
  candidates: readonly CandidateIndex[],
  options: CoverageOptions = {},
): Promise<CoverageResult> {
  const params = tableArrays(candidates);
  const indexes = await db.query<ExistingIndex>(EXISTING_INDEXES_SQL, params);
  const sizes = await db.query<TableSizeRow>(TABLE_SIZES_SQL, params);
  const small = new Set(sizes.filter((size) => isTooSmall(size, options)).map((size) => JSON.stringify([size.schema, size.table])));
  const comparable = new Comparable();
  const kept: CandidateIndex[] = [];
  const rejected: RejectedCandidate[] = [];
  for (const candidate of candidates) {
    if (small.has(JSON.stringify([candidate.schema, candidate.table]))) {
      rejected.push({ candidate, reason: 'TABLE_TOO_SMALL', coveredBy: null });
      continue;
    }
    const own = indexes.filter((index) => index.schema === candidate.schema && index.table === candidate.table);
    const covering = await findCovering(candidate, own, comparable);
    if (covering) rejected.push({ candidate, reason: 'COVERED_BY_EXISTING', coveredBy: covering.name });
    else kept.push(candidate);
  }
  return { kept, rejected };
}

/** Small on both counts: a few pages are read faster whole than through any index. */
function isTooSmall(size: TableSizeRow, options: CoverageOptions): boolean {
  const fewRows = size.rows === null || size.rows < (options.minRows ?? 1_000);
  return fewRows && size.pages < (options.minPages ?? 8);
}

/** The first existing index (by name) that covers the candidate, or null. */
export async function findCovering(
  candidate: CandidateIndex,
  existing: readonly ExistingIndex[],
  comparable = new Comparable(),
): Promise<ExistingIndex | null> {
  for (const index of existing) {
    if (index.method !== candidate.method) continue;
    if (!(await samePredicate(candidate.where, index.predicate, comparable))) continue;
    const covers =
      candidate.method === 'gin'
        ? await ginCovers(candidate, index, comparable)
        : ((await btreeCovers(candidate, index, comparable)) && storesColumns(index, candidate.include)) ||
          (await uniqueCovers(candidate, index, comparable));
    if (covers) return index;
  }
  return null;
}

/** A partial index serves only its own predicate; a full index does not replace a partial candidate's. */
async function samePredicate(wanted: string | null, existing: string | null, comparable: Comparable): Promise<boolean> {
  if (wanted === null || existing === null) return wanted === existing;
  return (await comparable.of(wanted)) === (await comparable.of(existing));
}

/**
 * The index's first keys are the candidate's, in order, with the type's default operator class
 * (or the one asked for). Directions matter only on the keys the candidate orders (DESC or NULLS
 * given): they must all match, or all be reversed (a backward scan).
 */
async function btreeCovers(candidate: CandidateIndex, index: ExistingIndex, comparable: Comparable): Promise<boolean> {
  if (index.keys.length < candidate.keys.length) return false;
  const relations = new Set<string>();
  for (const [position, key] of candidate.keys.entries()) {
    const have = index.keys[position]!;
    if (!(await sameKey(key, have, comparable)) || !opclassFits(key, have)) return false;
    if (key.direction === null && key.nulls === null) continue;
    const descending = key.direction === 'DESC';
    const nullsFirst = key.nulls === null ? descending : key.nulls === 'FIRST';
    const same = have.descending === descending && have.nullsFirst === nullsFirst;
    const reversed = have.descending !== descending && have.nullsFirst !== nullsFirst;
    if (!same && !reversed) return false;
    relations.add(same ? 'same' : 'reversed');
  }
  return relations.size <= 1;
}

/**
 * A unique index whose keys are the candidate's first keys in any order: the statement finds at
 * most one row through it, so longer or reordered keys gain nothing ((id, email) next to the primary key (id)).
 */
async function uniqueCovers(candidate: CandidateIndex, index: ExistingIndex, comparable: Comparable): Promise<boolean> {
  if (!index.unique || index.method !== 'btree' || index.keys.length > candidate.keys.length) return false;
  const leading = candidate.keys.slice(0, index.keys.length);
  for (const have of index.keys) {
    let found = false;
    for (const key of leading) if ((await sameKey(key, have, comparable)) && opclassFits(key, have)) found = true;
    if (!found) return false;
  }
  return true;
}

/** An index-only scan needs the INCLUDE columns stored in the index, as keys or INCLUDE columns. */
function storesColumns(index: ExistingIndex, columns: readonly string[]): boolean {
  const stored = new Set([...index.keys.flatMap((key) => (key.column === null ? [] : [key.column])), ...index.include]);
  return columns.every((column) => stored.has(column));
}

/** GIN keys have no order: any key of the index over the same column, with an operator class that has the operators. */
async function ginCovers(candidate: CandidateIndex, index: ExistingIndex, comparable: Comparable): Promise<boolean> {
  const wanted = candidate.keys[0]!;
  for (const have of index.keys) {
    if (!(await sameKey(wanted, have, comparable))) continue;
    // jsonb_ops (the default) has @> as well as ?, ?|, ?&: it serves a jsonb_path_ops candidate too
    if (have.opclassIsDefault || have.opclass === wanted.opclass) return true;
  }
  return false;
}

function opclassFits(key: CandidateKey, have: ExistingKey): boolean {
  return key.opclass === null ? have.opclassIsDefault : have.opclass === key.opclass;
}

async function sameKey(key: CandidateKey, have: ExistingKey, comparable: Comparable): Promise<boolean> {
  if (key.column !== null) return have.column === key.column;
  if (have.expression === null || key.expression === null) return false;
  return (await comparable.of(key.expression)) === (await comparable.of(have.expression));
}

/**
 * Expressions and predicates compared as parse trees, normalized as applyIndex compares indexes
 * (sql/indexIdentity.ts): pg_get_indexdef's `(details ->> 'page'::text)` equals the candidate's
 * `("details" ->> 'page')`. Text that does not parse compares as itself. Memoized per run.
 */
export class Comparable {
  private readonly seen = new Map<string, Promise<string>>();

  of(text: string): Promise<string> {
    let found = this.seen.get(text);
    if (!found) {
      found = parseExpression(text, 'the expression').then(
        (parsed) => comparableTree(parsed.node),
        () => `text:${text}`,
      );
      this.seen.set(text, found);
    }
    return found;
  }
}
