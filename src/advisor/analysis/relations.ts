// The relations a workload names, resolved against the catalog in one query for the whole
// workload (never one per statement): schema-qualified names as written, unqualified ones through
// the search_path as PostgreSQL resolves them (to_regclass). A partition is mapped to the root of
// its tree, since the advisor proposes one parent-level index, never one per partition. A view
// brings its definition, so that the tables it reads are found too (a second round of the same query).
import type { Node } from 'libpg-query';
import type { Queryable } from '../../db/pool.js';
import { parseStatements, walkTree } from '../../sql/parse.js';
import type { QualifiedName } from '../../sql/references.js';

export interface ResolvedRelation {
  /** The relation itself. */
  schema: string;
  name: string;
  /** r table, p partitioned table, m materialized view, v view, f foreign table... */
  relkind: string;
  /** Where an index would go: the root partitioned table of a partition, else the relation itself. */
  indexSchema: string;
  indexTable: string;
  /** Its columns in order (a partition has its root's). */
  columns: string[];
  /** Their types (format_type), in the same order: jsonb operators only count on jsonb columns. */
  columnTypes: string[];
  /** In the same order: the column's collation compares as C does (LIKE 'abc%' can use its default B-tree). */
  columnsCollateC: boolean[];
  /** A view's definition, parsed; null for anything else or when it cannot be parsed. */
  view: Node | null;
}

/** Resolved relations by the name as written (see relationKey). */
export type RelationCatalog = Map<string, ResolvedRelation>;

export const relationKey = (name: QualifiedName) => `${name.schema ?? ''}\u0000${name.name}`;

interface RelationRow {
  ordinality: string;
  schema: string;
  name: string;
  relkind: string;
  index_schema: string;
  index_table: string;
  columns: string[] | null;
  column_types: string[] | null;
  columns_collate_c: boolean[] | null;
  view_definition: string | null;
}

/**
 * A column's collation is C for LIKE (the planner's lc_collate_is_c): a libc collation named C or
 * POSIX, or the database default when the database's is. Only the libc provider: an ICU default
 * (datlocprovider 'i', PostgreSQL 15+; absent before, hence to_jsonb) never is. PostgreSQL 17's
 * builtin C provider is also C for the planner; taking it for non-C only costs a pattern operator
 * class where the default one would do (text_pattern_ops serves LIKE under every collation).
 */
const COLLATES_AS_C = /* SQL */ `(
        CASE
          WHEN co.oid IS NULL THEN false
          WHEN co.collname = 'default' THEN (
            SELECT coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c' AND d.datcollate IN ('C', 'POSIX')
            FROM pg_database d
            WHERE d.datname = current_database()
          )
          ELSE co.collprovider = 'c' AND co.collcollate IN ('C', 'POSIX')
        END
      )`;

/** One row per name that exists; names that resolve to nothing (CTE names, typos) give none. */
const RESOLVE_SQL = /* SQL */ `
  WITH wanted AS (
    SELECT
      w.ordinality,
      CASE
        WHEN w.schema IS NULL THEN to_regclass(quote_ident(w.name))
        ELSE to_regclass(quote_ident(w.schema) || '.' || quote_ident(w.name))
      END AS oid
    FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(schema, name, ordinality)
  )
  SELECT
    w.ordinality::text AS ordinality,
    n.nspname AS schema,
    c.relname AS name,
    c.relkind::text AS relkind,
    rn.nspname AS index_schema,
    rc.relname AS index_table,
    (
      SELECT array_agg(a.attname::text ORDER BY a.attnum)
      FROM pg_attribute a
      WHERE a.attrelid = c.oid
        AND a.attnum > 0
        AND NOT a.attisdropped
    ) AS columns,
    (
      SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
      FROM pg_attribute a
      WHERE a.attrelid = c.oid
        AND a.attnum > 0
        AND NOT a.attisdropped
    ) AS column_types,
    (
      SELECT array_agg(${COLLATES_AS_C} ORDER BY a.attnum)
      FROM pg_attribute a
      LEFT JOIN pg_collation co ON co.oid = a.attcollation
      WHERE a.attrelid = c.oid
        AND a.attnum > 0
        AND NOT a.attisdropped
    ) AS columns_collate_c,
    CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END AS view_definition
  FROM wanted w
  JOIN pg_class c ON c.oid = w.oid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  -- pg_partition_root is NULL for a relation outside any partition tree
  JOIN pg_class rc ON rc.oid = coalesce(pg_partition_root(c.oid), c.oid)
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
  ORDER BY
    w.ordinality`;

/**
 * Every relation the tree names, as written: RangeVar nodes, and the target of UPDATE, DELETE,
 * INSERT and MERGE, which the parser gives as a bare RangeVar under the key "relation".
 */
export function rangeVarsOf(tree: unknown): QualifiedName[] {
  const found: QualifiedName[] = [];
  walkTree(tree, (key, value) => {
    const range = value as { schemaname?: string; relname?: string };
    if (key !== 'RangeVar' && !(key === 'relation' && typeof range.relname === 'string')) return;
    found.push({ schema: range.schemaname ?? null, name: range.relname ?? '' });
  });
  return found;
}

/** Every relation the trees name, deduplicated. */
export function namedRelations(trees: readonly unknown[]): QualifiedName[] {
  const found = new Map<string, QualifiedName>();
  for (const name of trees.flatMap(rangeVarsOf)) found.set(relationKey(name), name);
  return [...found.values()];
}

/**
 * Resolves the names the trees mention, then the names the views among them mention, and so on
 * for views over views (at most `depth` rounds, each one query).
 */
export async function resolveRelations(db: Queryable, trees: readonly unknown[], depth = 3): Promise<RelationCatalog> {
  const catalog: RelationCatalog = new Map();
  const asked = new Set<string>();
  let pending = namedRelations(trees);
  for (let round = 0; round < depth && pending.length > 0; round += 1) {
    for (const name of pending) asked.add(relationKey(name));
    const resolved = await resolveNames(db, pending);
    for (const [key, relation] of resolved) catalog.set(key, relation);
    const views = [...resolved.values()].flatMap((relation) => (relation.view ? [relation.view] : []));
    pending = namedRelations(views).filter((name) => !asked.has(relationKey(name)));
  }
  return catalog;
}

async function resolveNames(db: Queryable, names: QualifiedName[]): Promise<RelationCatalog> {
  const rows = await db.query<RelationRow>(RESOLVE_SQL, [names.map((name) => name.schema), names.map((name) => name.name)]);
  const resolved: RelationCatalog = new Map();
  for (const row of rows) {
    const name = names[Number(row.ordinality) - 1]!;
    resolved.set(relationKey(name), {
      schema: row.schema,
      name: row.name,
      relkind: row.relkind,
      indexSchema: row.index_schema,
      indexTable: row.index_table,
      columns: row.columns ?? [],
      columnTypes: row.column_types ?? [],
      columnsCollateC: row.columns_collate_c ?? [],
      view: row.view_definition ? await parseView(row.view_definition) : null,
    });
  }
  return resolved;
}

/** A view's SELECT; a definition the parser refuses (it should not happen) is treated as opaque. */
async function parseView(definition: string): Promise<Node | null> {
  try {
    const [statement] = await parseStatements(definition);
    return statement?.node ?? null;
  } catch {
    return null;
  }
}

/** The distinct (schema, table) pairs of candidates or accesses, in first-seen order, as bind-parameter arrays. */
export function tableArrays(items: ReadonlyArray<{ schema: string; table: string }>): [string[], string[]] {
  const pairs = new Map(items.map((item) => [JSON.stringify([item.schema, item.table]), item]));
  const distinct = [...pairs.values()];
  return [distinct.map((item) => item.schema), distinct.map((item) => item.table)];
}

/** Relation kinds an index can be built on. */
export const INDEXABLE_RELKINDS = new Set(['r', 'p', 'm']);
