// Small readings of libpg-query parse trees that the predicate walk (predicates.ts) needs: the
// condition a JOIN ... USING stands for, a LIMIT's value, the subqueries inside an expression, a
// visit that stops at subqueries (each is read as a query level of its own).
import type { Node } from 'libpg-query';

type Rec = Record<string, unknown>;

/** JOIN ... USING (col): left.col = right.col, written as the condition it stands for. */
export function usingCondition(column: unknown, join: Rec): Node[] {
  const name = (column as { String?: { sval: string } }).String?.sval;
  const left = sideName(join.larg as Node);
  const right = sideName(join.rarg as Node);
  if (!name || !left || !right) return [];
  const ref = (table: string) => ({ ColumnRef: { fields: [{ String: { sval: table } }, { String: { sval: name } }] } });
  return [{ A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '=' } }], lexpr: ref(left), rexpr: ref(right) } } as unknown as Node];
}

function sideName(side: Node): string | null {
  const range = (side as { RangeVar?: { relname: string; alias?: { aliasname: string } } }).RangeVar;
  return range ? (range.alias?.aliasname ?? range.relname) : null;
}

/** LIMIT n (a number), LIMIT $1 (normalized by pg_stat_statements, or a parameter), or none (LIMIT ALL, NULL). */
export function limitOf(limit: Node | undefined): number | 'PARAM' | null {
  if (!limit) return null;
  const constant = (limit as { A_Const?: { isnull?: boolean; ival?: { ival?: number } } }).A_Const;
  if (constant) return constant.isnull ? null : (constant.ival?.ival ?? 0);
  return 'PARAM';
}

/** Visits nodes, not descending into subqueries (read as levels of their own). */
export function visit(tree: unknown, visitor: (key: string, value: unknown) => void): void {
  if (Array.isArray(tree)) {
    for (const item of tree) visit(item, visitor);
    return;
  }
  if (tree === null || typeof tree !== 'object') return;
  for (const [key, value] of Object.entries(tree)) {
    if (key === 'SubLink') continue;
    visitor(key, value);
    visit(value, visitor);
  }
}

/** The subqueries directly inside these parts (not those nested in another subquery). */
export function subLinks(parts: unknown[]): Node[] {
  const found: Node[] = [];
  const search = (tree: unknown): void => {
    if (Array.isArray(tree)) return tree.forEach(search);
    if (tree === null || typeof tree !== 'object') return;
    for (const [key, value] of Object.entries(tree)) {
      if (key === 'SubLink') {
        const subselect = (value as { subselect?: Node }).subselect;
        if (subselect) found.push(subselect);
        search((value as { testexpr?: unknown }).testexpr);
      } else search(value);
    }
  };
  search(parts);
  return found;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * ORDER BY items with a column number (ORDER BY 2) or an output name (ORDER BY since, for
 * `created_at AS since`) replaced by the expression they stand for: an output name wins over an
 * input column of the same name, as in PostgreSQL (findTargetlistEntrySQL92).
 */
export function orderedBy(sort: Node[], targets: Node[]): Node[] {
  const results = targets.map((target) => (target as { ResTarget?: { name?: string; val?: Node } }).ResTarget);
  return sort.map((item) => {
    const by = (item as { SortBy?: Rec }).SortBy;
    if (!by) return item;
    const number = (by.node as { A_Const?: { ival?: { ival?: number } } }).A_Const?.ival?.ival;
    const fields = (by.node as { ColumnRef?: { fields: Array<{ String?: { sval: string } }> } }).ColumnRef?.fields;
    const name = fields?.length === 1 ? fields[0]!.String?.sval : undefined;
    const target = number !== undefined ? results[number - 1] : name !== undefined ? results.find((r) => r?.name === name) : undefined;
    // an aggregate's or a window function's value is computed after the scan: no index gives its order
    if (!target?.val || aggregates(target.val)) return item;
    return { SortBy: { ...by, node: target.val } } as Node;
  });
}

// The standard aggregates, by name (the parse tree does not say which functions aggregate); a
// user-defined one is not recognized, and applyIndex refuses an index over it.
const AGGREGATES = new Set(
  (
    'count sum avg min max array_agg string_agg bool_and bool_or every bit_and bit_or json_agg jsonb_agg ' +
    'json_object_agg jsonb_object_agg stddev variance percentile_cont percentile_disc mode'
  ).split(' '),
);

/** The expression calls an aggregate or a window function (outside subqueries): its value is not a row's. */
export function aggregates(tree: unknown): boolean {
  let found = false;
  visit(tree, (key, value) => {
    if (key !== 'FuncCall') return;
    const call = value as { funcname?: Array<{ String?: { sval: string } }>; over?: unknown; agg_star?: boolean; agg_filter?: unknown };
    const name = call.funcname?.at(-1)?.String?.sval;
    if (call.over !== undefined || call.agg_star || call.agg_filter !== undefined || (name !== undefined && AGGREGATES.has(name)))
      found = true;
  });
  return found;
}
