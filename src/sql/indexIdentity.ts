// Whether an existing index is the one a client asks for. Both sides are CREATE INDEX statements
// read with the same parser: the existing index as pg_get_indexdef prints it, the new one as
// pg_get_indexdef prints it too, created on an empty temporary table (actions/index/resolution.ts), so
// implicit casts, IN, BETWEEN and constants' types are written alike on both sides. Their parse
// trees are compared after removing what does not change the index: positions in the text, the
// names of the index and table, CONCURRENTLY, storage parameters, the tablespace, default
// directions, NULLS orders and operator classes spelled out, pg_catalog. prefixes, and the casts
// pg_get_indexdef adds to constants ('pending'::text).
//
// The advisor compares its candidates' keys and predicates, as pgscope writes them, with existing
// indexes the same way (comparableTree); there, known misses (they lead to a second candidate,
// never to a wrong "identical") are casts the server adds to columns (lower((name)::text) for a
// varchar), constants it rewrites (a timestamp literal printed with its time), and a COLLATE
// written inside an expression.
import { parseOneStatement } from './parse.js';

export interface IndexShape {
  /** Operator classes that are their type's default for the method: the same as naming none. */
  defaultOpclasses: ReadonlySet<string>;
}

/** The comparable form of a CREATE INDEX statement's parse tree. */
export async function indexShape(definition: string, shape: IndexShape): Promise<string> {
  const index = await indexStatement(definition);
  const comparable = {
    method: index.accessMethod ?? 'btree',
    unique: Boolean(index.unique),
    nullsNotDistinct: Boolean(index.nulls_not_distinct),
    keys: ((index.indexParams as unknown[]) ?? []).map((element) => indexElement(element, shape)),
    include: ((index.indexIncludingParams as unknown[]) ?? []).map((element) => indexElement(element, shape)),
    where: index.whereClause ? normalize(index.whereClause) : null,
  };
  return canonicalJson(comparable);
}

/**
 * What no way of writing an index changes: its method, uniqueness, number of keys and of INCLUDE
 * columns, and whether it has a predicate. Two indexes whose outlines differ are never identical.
 */
export async function indexOutline(definition: string): Promise<string> {
  const index = await indexStatement(definition);
  const count = (list: unknown) => ((list as unknown[] | undefined) ?? []).length;
  return canonicalJson({
    method: index.accessMethod ?? 'btree',
    unique: Boolean(index.unique),
    keys: count(index.indexParams),
    include: count(index.indexIncludingParams),
    partial: Boolean(index.whereClause),
  });
}

async function indexStatement(definition: string): Promise<Record<string, unknown>> {
  const statement = await parseOneStatement(definition);
  const index = (statement.node as { IndexStmt?: Record<string, unknown> }).IndexStmt;
  if (!index) throw new Error(`Not a CREATE INDEX statement: ${statement.kind}`);
  return index;
}

/**
 * The comparable form of one expression or predicate tree (the index advisor compares its
 * candidates' keys and predicates with existing indexes' this way): same normalization as above.
 */
export function comparableTree(tree: unknown): string {
  return canonicalJson(normalize(tree));
}

function indexElement(wrapped: unknown, shape: IndexShape): unknown {
  const element = (wrapped as { IndexElem: Record<string, unknown> }).IndexElem;
  const descending = element.ordering === 'SORTBY_DESC';
  // PostgreSQL's defaults: NULLS LAST ascending, NULLS FIRST descending
  const nullsFirst = element.nulls_ordering === 'SORTBY_NULLS_FIRST' || (element.nulls_ordering !== 'SORTBY_NULLS_LAST' && descending);
  const opclass = names(element.opclass).join('.');
  return {
    column: element.name ?? null,
    expression: element.expr ? normalize(element.expr) : null,
    collation: names(element.collation).join('.') || null,
    opclass: opclass === '' || shape.defaultOpclasses.has(opclass) ? null : opclass,
    descending,
    nullsFirst,
  };
}

function names(list: unknown): string[] {
  return ((list as Array<{ String?: { sval: string } }> | undefined) ?? [])
    .map((part) => part.String?.sval ?? '')
    .filter((part, index, all) => !(part === 'pg_catalog' && index < all.length - 1));
}

/** A copy of the tree without locations, pg_catalog. prefixes and casts around constants. */
function normalize(tree: unknown): unknown {
  if (Array.isArray(tree)) return tree.map(normalize);
  if (tree === null || typeof tree !== 'object') return tree;
  const node = tree as Record<string, unknown>;
  const cast = node.TypeCast as { arg?: Record<string, unknown> } | undefined;
  if (cast?.arg?.A_Const) return normalize(cast.arg);
  const expression = node.A_Expr as Record<string, unknown> | undefined;
  if (expression?.kind === 'AEXPR_IN') return normalize(inAsOperator(expression));
  // stored, and printed, as NOT (a IS DISTINCT FROM b)
  if (expression?.kind === 'AEXPR_NOT_DISTINCT') {
    return normalize({ BoolExpr: { boolop: 'NOT_EXPR', args: [{ A_Expr: { ...expression, kind: 'AEXPR_DISTINCT' } }] } });
  }
  if (node.A_Const) return { A_Const: constantText(node.A_Const as Record<string, unknown>) };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    // positions in the text: location, list_start, rexpr_list_end...
    if (/(^|_)(location|start|end)$/.test(key)) continue;
    if (key === 'funcname' || key === 'names' || key === 'name' || key === 'collname') {
      out[key] = Array.isArray(value) ? names(value) : value;
      continue;
    }
    out[key] = normalize(value);
  }
  return out;
}

// x IN (a, b) is stored, and printed, as x = ANY (ARRAY[a, b]) and NOT IN as <> ALL; with a
// single element, as x = a and x <> a.
function inAsOperator(expression: Record<string, unknown>): Record<string, unknown> {
  const items = ((expression.rexpr as { List?: { items?: unknown[] } }).List?.items ?? []) as unknown[];
  if (items.length === 1) return { A_Expr: { ...expression, kind: 'AEXPR_OP', rexpr: items[0] } };
  const kind = names(expression.name).join('.') === '<>' ? 'AEXPR_OP_ALL' : 'AEXPR_OP_ANY';
  return { A_Expr: { ...expression, kind, rexpr: { A_ArrayExpr: { elements: items } } } };
}

// pg_get_indexdef prints some numbers as quoted literals with a cast ('-5'::integer,
// '1.5'::double precision): a constant compares by its text, whatever the parser made of it. Within
// one column's comparison the column's type decides what the text means, so this merges nothing
// the server would tell apart.
function constantText(value: Record<string, unknown>): string | null {
  if (value.isnull) return null;
  if ('ival' in value) return String((value.ival as { ival?: number }).ival ?? 0);
  if ('fval' in value) return String((value.fval as { fval?: string }).fval);
  if ('boolval' in value) return String(Boolean((value.boolval as { boolval?: boolean }).boolval));
  if ('sval' in value) return String((value.sval as { sval?: string }).sval ?? '');
  return String((value.bsval as { bsval?: string } | undefined)?.bsval ?? '');
}

/** JSON with object keys sorted, so equal trees give equal text whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}
