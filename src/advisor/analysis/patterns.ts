// LIKE, ILIKE and array operators, read as what an index can do for them. pg_stat_statements
// replaces every constant with $n, so the advisor mostly sees `LIKE $1`: an unknown pattern is
// taken for a prefix pattern ('abc%'), the shape applications write LIKE for (search-as-you-type,
// codes, paths); an infix search ('%abc%') is usually written ILIKE, or keeps its '%' when the
// application builds the text itself. A prefix pattern is served by a B-tree whose operator class
// compares byte-wise (text_pattern_ops...) unless the column's collation is C, where the default
// one does; an infix pattern and ILIKE only by a trigram GIN index (pg_trgm's gin_trgm_ops).
// The planner uses a B-tree for LIKE only with the pattern in hand (custom plans, literals): a
// generic plan of LIKE $1 never does (costing takes that into account, see costing/hypopg/).
import type { Node } from 'libpg-query';
import type { KeyPredicate } from '../types.js';
import { collatesAsC, columnType, isConstant, type Operand } from './scope.js';

type Key = Extract<Operand, { kind: 'KEY' }>;

/** The B-tree operator class for LIKE per text type (format_type's names, without a length). */
const PATTERN_OPCLASSES: Record<string, string> = {
  text: 'text_pattern_ops',
  'character varying': 'varchar_pattern_ops',
  character: 'bpchar_pattern_ops',
};

/** What `key LIKE pattern` (ILIKE when `insensitive`) asks of an index; null for a key that is not text. */
export function patternPredicate(key: Key, insensitive: boolean, pattern: Node): KeyPredicate | null {
  const type = textType(key);
  if (type === null) return null;
  const constant = stringConstant(pattern);
  const base = { ...key.key, ...(constant !== null ? { constant } : {}) };
  // a pattern that starts with a wildcard has no prefix; ILIKE folds case, which no B-tree order gives
  if (insensitive || (constant !== null && /^[%_]/.test(constant)) || wrappedInWildcards(pattern)) {
    // gin_trgm_ops takes text (varchar through its binary cast); bpchar's cast to text is a function
    return type === 'character' ? null : { ...base, use: 'PATTERN_INFIX' };
  }
  return { ...base, use: 'PATTERN_PREFIX', patternOpclass: collatesAsC(key) ? null : PATTERN_OPCLASSES[type]! };
}

/**
 * A pattern built as '%' || $1 || '%': three parts or more joined with ||, the first a parameter
 * (pg_stat_statements normalizes the '%' too) or a constant starting with a wildcard. Two parts
 * ($1 || '%', a prefix search, or '%' || $1) stay unknown: taken for a prefix, as LIKE $1 is.
 */
function wrappedInWildcards(pattern: Node): boolean {
  const parts = concatenated(pattern);
  if (parts.length < 3) return false;
  const first = stringConstant(parts[0]!);
  return first !== null ? /^[%_]/.test(first) : (parts[0] as { ParamRef?: unknown }).ParamRef !== undefined;
}

/** The operands of a chain of ||, left to right; the node alone when it is no concatenation. */
function concatenated(node: Node): Node[] {
  const expr = (node as { A_Expr?: { kind?: string; name?: Array<{ String?: { sval?: string } }>; lexpr?: Node; rexpr?: Node } }).A_Expr;
  if (expr?.kind !== 'AEXPR_OP' || expr.name?.length !== 1 || expr.name[0]?.String?.sval !== '||' || !expr.lexpr || !expr.rexpr)
    return [node];
  return [...concatenated(expr.lexpr), ...concatenated(expr.rexpr)];
}

/** text, character varying or character for a text key; an expression is taken as text (lower(x), x || y); null otherwise. */
function textType(key: Key): string | null {
  if (key.key.column === null) return 'text';
  const type = (columnType(key) ?? '').replace(/\(\d+\)$/, '');
  return type in PATTERN_OPCLASSES ? type : null;
}

/** A plain column of an array type (format_type writes them with []). */
export function isArrayColumn(side: Operand): side is Key {
  return side.kind === 'KEY' && side.key.column !== null && (columnType(side) ?? '').endsWith('[]');
}

/** The elements of ARRAY['a', 'b'] or '{a,b}' written as constants; null when any is a parameter or the literal is not simple. */
export function arrayElements(node: Node): string[] | null {
  const cast = (node as { TypeCast?: { arg?: Node } }).TypeCast;
  if (cast?.arg) return arrayElements(cast.arg);
  const array = (node as { A_ArrayExpr?: { elements?: Node[] } }).A_ArrayExpr;
  if (array) {
    const elements = (array.elements ?? []).map(stringConstant);
    return elements.every((element) => element !== null) ? (elements as string[]) : null;
  }
  const literal = stringConstant(node);
  // '{a,b}' without quotes, escapes or nesting: anything else is left to the planner's own estimate
  const simple = literal !== null ? /^\{([^{}"\\]*)\}$/.exec(literal) : null;
  if (!simple) return null;
  return simple[1] === '' ? [] : simple[1]!.split(',').map((element) => element.trim());
}

/** The text of a constant ('abc', 42, 'x'::text); null for a parameter or an expression. */
function stringConstant(node: Node): string | null {
  if (!isConstant(node)) return null;
  const cast = (node as { TypeCast?: { arg?: Node } }).TypeCast;
  if (cast?.arg) return stringConstant(cast.arg);
  const constant = (node as { A_Const: Record<string, unknown> }).A_Const;
  for (const kind of ['sval', 'ival', 'fval', 'boolval'] as const) {
    const value = (constant[kind] as Record<string, unknown> | undefined) ?? undefined;
    if (value !== undefined) return String(Object.values(value)[0] ?? (kind === 'ival' ? 0 : ''));
  }
  return null;
}
