// Views as the planner sees them: a simple view (one table, its columns passed through under
// their own names, a WHERE, nothing that groups, orders or limits) is merged into the query that
// reads it, so the query's conditions on the view's columns and the view's own WHERE are
// conditions on one table: `active_customers WHERE email = $1` asks customers for email with
// is_active = true. Any other view is read as a query of its own (its tables' conditions count,
// the outer query's conditions on it do not).
import type { Node } from 'libpg-query';
import { INDEXABLE_RELKINDS, relationKey, type RelationCatalog, type ResolvedRelation } from './relations.js';

export interface MergedView {
  /** The table the view reads. */
  table: ResolvedRelation;
  /** The name the view's definition refers to the table by (its alias, else its name). */
  alias: string;
  /** The view's WHERE, written over `alias`; null without one. */
  where: Node | null;
}

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
];

/** The view merged as above, or null when it is not that simple. */
export function mergeableView(view: Node, catalog: RelationCatalog): MergedView | null {
  const select = (view as { SelectStmt?: Record<string, unknown> }).SelectStmt;
  if (!select || (select.op && select.op !== 'SETOP_NONE')) return null;
  if (BLOCKING_CLAUSES.some((clause) => hasContent(select[clause]))) return null;
  const from = select.fromClause as Node[] | undefined;
  const range = from?.length === 1 ? (from[0] as { RangeVar?: Record<string, unknown> }).RangeVar : undefined;
  if (!range) return null;
  const name = { schema: (range.schemaname as string | undefined) ?? null, name: String(range.relname) };
  const table = catalog.get(relationKey(name));
  if (!table || !INDEXABLE_RELKINDS.has(table.relkind)) return null;
  if (!passesColumnsThrough(select.targetList)) return null;
  const alias = (range.alias as { aliasname?: string } | undefined)?.aliasname ?? name.name;
  return { table, alias, where: (select.whereClause as Node | undefined) ?? null };
}

/** Every output column is a column of the table under its own name (no renames, no expressions). */
function passesColumnsThrough(targets: unknown): boolean {
  if (!Array.isArray(targets) || targets.length === 0) return false;
  return targets.every((target) => {
    const result = (target as { ResTarget?: { name?: string; val?: Node } }).ResTarget;
    const fields = (result?.val as { ColumnRef?: { fields: Array<{ String?: { sval: string } }> } } | undefined)?.ColumnRef?.fields;
    const column = fields?.at(-1)?.String?.sval;
    return column !== undefined && (result!.name === undefined || result!.name === column);
  });
}

function hasContent(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return value !== undefined && value !== null && !(typeof value === 'string');
}
