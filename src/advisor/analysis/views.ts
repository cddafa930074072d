// Views and CTEs as the planner sees them: a simple one (one table, or one such view, a WHERE,
// nothing that groups, orders or limits) is merged into the query that reads it (subquery pull-up,
// prepjointree.c), so the query's conditions on its columns and its own WHERE are conditions on
// one table. Its columns may rename the table's or compute from them: `member_logins WHERE user_id
// = $1` asks members for owner_id when the view says `owner_id AS user_id`, and a condition on
// `lower(email) AS login` is one on the expression. A materialized view is a relation of its own
// (relations.ts), never merged. Any other view is read as a query of its own (its tables'
// conditions count, the outer query's conditions on it do not).
import type { Node } from 'libpg-query';
import type { QualifiedName } from '../../sql/references.js';
import { INDEXABLE_RELKINDS, relationKey, type RelationCatalog, type ResolvedRelation } from './relations.js';
import { replaceColumns, type Fields } from './scope.js';
import { aggregates } from './treeParts.js';

export interface MergedView {
  /** The table the view reads (through the views it reads, if any). */
  table: ResolvedRelation;
  /** Its columns by name, in order, each an expression over the table's columns (unqualified references). */
  columns: ReadonlyMap<string, Node>;
  /** Its conditions and those of the views it reads, over the table's columns (unqualified references). */
  where: Node[];
}

/** What a name in a view's FROM clause is, merged: a table (its own columns), a simple view, or null. */
export type MergeLookup = (name: QualifiedName) => MergedView | null;

// Clauses that make a view more than a filter over its table: the planner cannot push conditions through them
const BLOCKING_CLAUSES = [
  'groupClause',
  'havingClause',
  'distinctClause',
  'limitCount',
  'limitOffset',
  'windowClause',
  'withClause',
  'sortClause',
  'lockingClause',
];

/** Views over views are merged this many levels deep (resolveRelations resolves as many). */
const MAX_DEPTH = 3;

/** The view (or CTE) body merged as above, or null when it is not that simple. */
export function mergeableView(body: Node, lookup: MergeLookup): MergedView | null {
  const select = (body as { SelectStmt?: Record<string, unknown> }).SelectStmt;
  if (!select || (select.op && select.op !== 'SETOP_NONE')) return null;
  if (BLOCKING_CLAUSES.some((clause) => hasContent(select[clause]))) return null;
  // a subquery in the columns or the WHERE, an aggregate or a window function: not a plain filter over the table
  if (contains([select.targetList, select.whereClause], (key) => key === 'SubLink') || aggregates(select.targetList)) return null;
  const from = select.fromClause as Node[] | undefined;
  const range = from?.length === 1 ? (from[0] as { RangeVar?: Record<string, unknown> }).RangeVar : undefined;
  if (!range) return null;
  const inner = lookup({ schema: (range.schemaname as string | undefined) ?? null, name: String(range.relname) });
  if (!inner) return null;
  const columns = columnsOver(select.targetList, inner);
  if (!columns) return null;
  const where = select.whereClause ? over(select.whereClause as Node, inner) : null;
  if (select.whereClause && !where) return null;
  return { table: inner.table, columns, where: where ? [...inner.where, where] : inner.where };
}

/** Names in views resolved through the catalog: tables as themselves, views merged (MAX_DEPTH deep). */
export function catalogLookup(catalog: RelationCatalog, depth = MAX_DEPTH): MergeLookup {
  return (name) => {
    const relation = catalog.get(relationKey(name));
    if (!relation) return null;
    if (INDEXABLE_RELKINDS.has(relation.relkind)) return asMerged(relation);
    if (!relation.view || depth === 0) return null;
    return mergeableView(relation.view, catalogLookup(catalog, depth - 1));
  };
}

/** A table read as a view of itself: each column under its own name. */
function asMerged(table: ResolvedRelation): MergedView {
  const columns = new Map(table.columns.map((column) => [column, { ColumnRef: { fields: [{ String: { sval: column } }] } } as Node]));
  return { table, columns, where: [] };
}

/** The view's output columns over the inner source's, by name (`*` brings all of them); null if one cannot be read. */
function columnsOver(targets: unknown, inner: MergedView): Map<string, Node> | null {
  if (!Array.isArray(targets) || targets.length === 0) return null;
  const columns = new Map<string, Node>();
  for (const target of targets) {
    const result = (target as { ResTarget?: { name?: string; val?: Node } }).ResTarget;
    const fields = (result?.val as { ColumnRef?: { fields: Fields } } | undefined)?.ColumnRef?.fields;
    if (fields?.at(-1)?.A_Star !== undefined) {
      for (const [name, value] of inner.columns) columns.set(name, value);
      continue;
    }
    const value = result?.val ? over(result.val, inner) : null;
    if (!value) return null;
    // an expression without AS has a name (?column?, the function's) no query would write: it cannot be filtered on
    const name = result!.name ?? fields?.at(-1)?.String?.sval;
    if (name !== undefined) columns.set(name, value);
  }
  return columns;
}

/** An expression of the view's level rewritten over the inner source's table; null if it names an unknown column. */
function over(node: Node, inner: MergedView): Node | null {
  let unknown = false;
  const rewritten = replaceColumns(node, (fields) => {
    const found = inner.columns.get(fields.at(-1)?.String?.sval ?? '');
    if (!found) unknown = true;
    return found;
  });
  return unknown ? null : (rewritten as Node);
}

function contains(tree: unknown, test: (key: string, value: unknown) => boolean): boolean {
  if (Array.isArray(tree)) return tree.some((item) => contains(item, test));
  if (tree === null || typeof tree !== 'object') return false;
  return Object.entries(tree).some(([key, value]) => test(key, value) || contains(value, test));
}

function hasContent(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return value !== undefined && value !== null && !(typeof value === 'string');
}
