// Which table an expression of a statement belongs to. A query level's FROM items are its scope
// (aliases, schema-qualified names, unqualified columns found through the tables' column lists);
// a subquery sees the levels around it (correlated references). An expression over the columns
// of one table is a key of that table: a plain column, or an expression rebuilt by applyIndex's
// own deparser (so that a candidate over it passes planIndex); one over no column is a value
// (parameters, constants, now(), functions of those).
import type { Node } from 'libpg-query';
import { deparseExpressionNode } from '../../sql/indexExpression.js';
import type { KeyRef } from '../types.js';
import type { ResolvedRelation } from './relations.js';

/** One FROM item of a query level. */
export interface ScopeEntry {
  /** Unique over the statement: accumulators are keyed by it. */
  id: number;
  /** The name the level refers to it by: its alias, else the relation's name. */
  alias: string;
  /** The relation's own name (matches a schema.table.column reference). */
  relationName: string | null;
  /** A table an index can go on; null for a subquery, function, view or CTE (opaque, or merged: see `merged`). */
  table: ResolvedRelation | null;
  /** A view or CTE the planner merges into the level: its columns, each an expression over `inner`'s. */
  merged?: { inner: ScopeEntry; columns: ReadonlyMap<string, Node> };
  /** The table a merged view reads: reached only through the view's columns, never by a name the query writes. */
  hidden?: boolean;
}

export interface Scope {
  entries: ScopeEntry[];
  parent: Scope | null;
}

/** What one side of a comparison is. */
export type Operand =
  | { kind: 'KEY'; entry: ScopeEntry; key: KeyRef }
  | { kind: 'VALUE' }
  // columns of several entries, of an opaque entry, a key with a parameter in it (col ->> $1), unknown columns
  | { kind: 'OTHER'; entry: ScopeEntry | null };

export type Fields = Array<{ String?: { sval: string }; A_Star?: unknown }>;

/** The entry a column reference (fields as the parser gives them) belongs to, searching outwards. */
export function resolveColumn(fields: Fields, scope: Scope | null): ScopeEntry | null {
  const names = fields.map((field) => field.String?.sval ?? null);
  if (names.some((name) => name === null)) return null;
  const column = names.at(-1)!;
  const qualifier = names.length >= 2 ? names.at(-2)! : null;
  for (let level = scope; level; level = level.parent) {
    if (qualifier !== null) {
      // t.col by alias; s.t.col by the relation's own name
      const byName = level.entries.find((entry) => (names.length === 2 ? entry.alias : entry.relationName) === qualifier);
      if (byName) return byName;
      continue;
    }
    const owners = level.entries.filter((entry) => columnsOf(entry).includes(column));
    if (owners.length === 1) return owners[0]!;
    if (owners.length > 1) return null; // ambiguous: PostgreSQL would refuse it
    // not a column of a table here: an opaque entry (subquery, CTE) of this level may have it
    const opaque = level.entries.find((entry) => entry.table === null && !entry.merged);
    if (opaque) return opaque;
  }
  return null;
}

/** The column names an unqualified reference may mean: a merged view's own names, a table's, none for the rest. */
function columnsOf(entry: ScopeEntry): readonly string[] {
  if (entry.hidden) return [];
  return entry.merged ? [...entry.merged.columns.keys()] : (entry.table?.columns ?? []);
}

/**
 * A copy of an expression with each reference to a merged view's column replaced by what the column
 * is, over the view's table (the planner's own rewrite): `user_id` of a view renaming owner_id reads
 * owner_id. Subqueries are left as they are: they are read as levels of their own.
 */
export function throughViews<T>(tree: T, scope: Scope): T {
  return replaceColumns(tree, (fields) => {
    const entry = resolveColumn(fields, scope);
    const name = fields.at(-1)?.String?.sval;
    return name === undefined ? undefined : entry?.merged?.columns.get(name);
  }) as T;
}

/** `tree` with each column reference for which `replacement` gives a node replaced by it (not inside subqueries). */
export function replaceColumns(tree: unknown, replacement: (fields: Fields) => Node | undefined): unknown {
  if (Array.isArray(tree)) return tree.map((item) => replaceColumns(item, replacement));
  if (tree === null || typeof tree !== 'object') return tree;
  const ref = (tree as { ColumnRef?: { fields: Fields } }).ColumnRef;
  if (ref) return replacement(ref.fields) ?? tree;
  if ('SubLink' in tree) return tree;
  return Object.fromEntries(Object.entries(tree).map(([key, value]) => [key, replaceColumns(value, replacement)]));
}

/** Column references and parameters of an expression, not looking into subqueries. */
function scan(node: unknown, found: { columns: Fields[]; params: number; sublinks: number }): void {
  if (Array.isArray(node)) {
    for (const item of node) scan(item, found);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'ColumnRef') found.columns.push((value as { fields: Fields }).fields);
    else if (key === 'ParamRef') found.params += 1;
    else if (key === 'SubLink') found.sublinks += 1;
    else scan(value, found);
  }
}

/** Classifies one operand of a comparison. */
export function operand(node: Node, scope: Scope): Operand {
  const found = { columns: [] as Fields[], params: 0, sublinks: 0 };
  scan(node, found);
  // a subquery's value is a value for the table compared with it (correlated or not)
  if (found.columns.length === 0) return { kind: 'VALUE' };
  if (found.sublinks > 0) return { kind: 'OTHER', entry: null };
  const entries = new Set(found.columns.map((fields) => resolveColumn(fields, scope)));
  if (entries.size !== 1 || entries.has(null)) return { kind: 'OTHER', entry: null };
  const entry = [...entries][0]!;
  if (!entry.table || found.params > 0) return { kind: 'OTHER', entry };
  const key = keyOf(node);
  return key ? { kind: 'KEY', entry, key } : { kind: 'OTHER', entry };
}

/** A plain column, or the expression rebuilt over unqualified columns; null if applyIndex would refuse it. */
export function keyOf(node: Node): KeyRef | null {
  const ref = (node as { ColumnRef?: { fields: Fields } }).ColumnRef;
  if (ref) {
    const column = ref.fields.at(-1)?.String?.sval;
    return column === undefined ? null : { column, expression: null };
  }
  const expression = deparse(node);
  return expression === null ? null : { column: null, expression };
}

/** SQL text for an expression or predicate over one table's columns, as applyIndex writes it; null if refused. */
export function deparse(node: Node): string | null {
  try {
    return deparseExpressionNode(unqualified(node) as Node, 'the expression').sql;
  } catch {
    return null;
  }
}

/** A copy of the tree with t.col and s.t.col written as col (an index expression names bare columns). */
function unqualified(tree: unknown): unknown {
  if (Array.isArray(tree)) return tree.map(unqualified);
  if (tree === null || typeof tree !== 'object') return tree;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(tree)) {
    if (key === 'ColumnRef') {
      const fields = (value as { fields: Fields }).fields;
      out[key] = { ...(value as object), fields: fields.slice(-1) };
    } else {
      out[key] = unqualified(value);
    }
  }
  return out;
}

/** A constant written in the statement ('pending', true, 42, '2024-01-01'::date), not a parameter. */
export function isConstant(node: Node): boolean {
  const cast = (node as { TypeCast?: { arg?: Node } }).TypeCast;
  if (cast?.arg) return isConstant(cast.arg);
  const constant = (node as { A_Const?: { isnull?: boolean } }).A_Const;
  return constant !== undefined && !constant.isnull;
}

/** The type of a plain column key (format_type's name), undefined for an expression. */
export function columnType(side: Extract<Operand, { kind: 'KEY' }>): string | undefined {
  const table = side.entry.table!;
  return side.key.column === null ? undefined : table.columnTypes[table.columns.indexOf(side.key.column)];
}

/** The collation of a plain column key compares as C (false for an expression: its collation is not known here). */
export function collatesAsC(side: Extract<Operand, { kind: 'KEY' }>): boolean {
  const table = side.entry.table!;
  return side.key.column !== null && table.columnsCollateC[table.columns.indexOf(side.key.column)] === true;
}
