// Index expressions and partial-index predicates sent by a client, read with PostgreSQL's own parser
// and written back out from the parse tree: the SQL that reaches the server is rebuilt here, node by
// node, from a short list of node kinds an index expression needs (column references, constants,
// operators, function calls, casts, CASE, COALESCE...). Anything else (a subquery, a parameter, a
// second statement, a star, an aggregate's ORDER BY or FILTER, a window) is refused with the reason,
// so text a client smuggles in has no way through: it is either a node of that list or an error.
// Names the tree mentions (columns, functions, operators) are returned for the catalog checks.
//
// Every function and operator is written schema-qualified: one named without a schema is written
// as PostgreSQL's own (pg_catalog.lower, OPERATOR(pg_catalog.->>)), which is what it resolves to
// on the DDL session (search_path pg_catalog, pg_temp, see DDL_SEARCH_PATH), so the definition
// means the same wherever it is run. BETWEEN is written as the two comparisons PostgreSQL turns
// it into. IN, IS DISTINCT FROM, NULLIF and CASE x WHEN have no qualified spelling: their
// operator is looked up by the server, in pg_catalog on the DDL session.
import type { Node } from 'libpg-query';
import { badInput, isPgscopeError } from '../errors.js';
import { parseStatements, type ParsedStatement } from './parse.js';
import { quoteIdent } from './quote.js';
import type { QualifiedName } from './references.js';

export interface ParsedExpression {
  /** The expression's parse tree (one node). */
  node: Node;
  /** The expression rebuilt from the tree, every identifier quoted, fully parenthesized. */
  sql: string;
  /** Columns of the table it refers to, as the parser folded them. */
  columns: string[];
  /** Functions it calls, with the number of arguments of each call. */
  functions: Array<QualifiedName & { args: number }>;
  /** Operators it uses (LIKE is ~~, IN is =, BETWEEN is >= and <=). */
  operators: QualifiedName[];
  /** The name PostgreSQL derives for an index column over it: the function's name, else "expr". */
  derivedName: string;
}

// The wrapper: one parenthesized target of a SELECT. A newline before the closing parenthesis lets
// a trailing -- comment end where it should; any text that escapes the parentheses (a FROM, a
// second target, a second statement) shows up in the tree and is refused below.
const PREFIX = 'SELECT (\n';
const SUFFIX = '\n)';

/** Parses `text` as one expression; `what` names it in messages ("the predicate", "expression 2"). */
export async function parseExpression(text: string, what: string): Promise<ParsedExpression> {
  if (text.trim() === '') throw badInput(`${capitalize(what)} is empty.`);
  const node = await parseWrapped(text, what);
  const found: Omit<ParsedExpression, 'node' | 'sql' | 'derivedName'> = { columns: [], functions: [], operators: [] };
  const sql = deparse(node, found, what);
  const call = (node as { FuncCall?: { funcname?: unknown } }).FuncCall;
  return {
    node,
    sql,
    columns: [...new Set(found.columns)],
    functions: found.functions,
    operators: found.operators,
    derivedName: call ? qualified(call.funcname, what).name : 'expr',
  };
}

/**
 * An expression node taken from a statement's parse tree (the index advisor's keys and partial
 * predicates), rebuilt exactly as parseExpression rebuilds a client's text: what the advisor
 * proposes is what planIndex will accept and print. Nodes outside the allowed list (a parameter,
 * a subquery...) are BAD_USER_INPUT, as for a client.
 */
export function deparseExpressionNode(node: Node, what: string): { sql: string; columns: string[] } {
  const found: Found = { columns: [], functions: [], operators: [] };
  const sql = deparse(node, found, what);
  return { sql, columns: [...new Set(found.columns)] };
}

async function parseWrapped(text: string, what: string): Promise<Node> {
  let statements: ParsedStatement[];
  try {
    statements = await parseStatements(`${PREFIX}${text}${SUFFIX}`);
  } catch (error) {
    if (!isPgscopeError(error)) throw error;
    // the parser's reason, without its position: that counts from the start of the wrapper
    const reason = error.message.replace(/ \(at character \d+\)\.$/, '.').replace(/^The SQL could not be parsed: /, '');
    throw badInput(`${capitalize(what)} could not be parsed: ${reason}`);
  }
  const select = statements.length === 1 ? (statements[0]!.node as { SelectStmt?: Record<string, unknown> }).SelectStmt : undefined;
  const extra = select ? Object.keys(select).filter((key) => !['targetList', 'limitOption', 'op'].includes(key)) : [];
  const targets = (select?.targetList as Array<{ ResTarget?: { val?: Node; name?: string } }> | undefined) ?? [];
  if (!select || extra.length > 0 || select.op !== 'SETOP_NONE' || targets.length !== 1 || targets[0]!.ResTarget?.name) {
    throw badInput(`${capitalize(what)} must be a single expression over the table's columns, with nothing around it.`);
  }
  return targets[0]!.ResTarget!.val!;
}

type Found = Omit<ParsedExpression, 'node' | 'sql' | 'derivedName'>;

/** SQL for one node of the allowed kinds; any other kind is BAD_USER_INPUT naming it. */
function deparse(node: Node, found: Found, what: string): string {
  const [kind, value] = Object.entries(node)[0] as [string, Record<string, unknown>];
  const sub = (child: unknown) => deparse(child as Node, found, what);
  const list = (children: unknown) => ((children as Node[] | undefined) ?? []).map(sub).join(', ');
  switch (kind) {
    case 'ColumnRef':
      return columnRef(value, found, what);
    case 'A_Const':
      return constant(value, what);
    case 'TypeCast':
      return `(${sub(value.arg)})::${typeName(value.typeName as Record<string, unknown>, what)}`;
    case 'CollateClause':
      return `(${sub(value.arg)} COLLATE ${qualifiedSql(qualified(value.collname, what))})`;
    case 'FuncCall':
      return functionCall(value, found, what, list);
    case 'A_Expr':
      return operatorExpression(value, found, what, sub, list);
    case 'BoolExpr': {
      const args = (value.args as Node[]).map(sub);
      if (value.boolop === 'NOT_EXPR') return `(NOT ${args[0]})`;
      return `(${args.join(value.boolop === 'AND_EXPR' ? ' AND ' : ' OR ')})`;
    }
    case 'NullTest':
      return `(${sub(value.arg)} ${value.nulltesttype === 'IS_NOT_NULL' ? 'IS NOT NULL' : 'IS NULL'})`;
    case 'BooleanTest': {
      const test = BOOLEAN_TESTS[String(value.booltesttype)];
      if (!test) throw badInput(`${capitalize(what)} has a boolean test pgscope cannot read.`);
      return `(${sub(value.arg)} ${test})`;
    }
    case 'CoalesceExpr':
      return `COALESCE(${list(value.args)})`;
    case 'MinMaxExpr':
      return `${value.op === 'IS_GREATEST' ? 'GREATEST' : 'LEAST'}(${list(value.args)})`;
    case 'A_ArrayExpr':
      return `ARRAY[${list(value.elements)}]`;
    case 'CaseExpr': {
      const whens = (value.args as Array<{ CaseWhen: { expr: Node; result: Node } }>).map(
        (when) => ` WHEN ${sub(when.CaseWhen.expr)} THEN ${sub(when.CaseWhen.result)}`,
      );
      const subject = value.arg ? ` ${sub(value.arg)}` : '';
      const otherwise = value.defresult ? ` ELSE ${sub(value.defresult)}` : '';
      return `(CASE${subject}${whens.join('')}${otherwise} END)`;
    }
    default: {
      const phrase = NODE_PHRASES[kind] ?? `a ${kind} node`;
      throw badInput(`${capitalize(what)} cannot contain ${phrase}; an index accepts a single expression over the table's columns.`);
    }
  }
}

const BOOLEAN_TESTS: Record<string, string> = {
  IS_TRUE: 'IS TRUE',
  IS_NOT_TRUE: 'IS NOT TRUE',
  IS_FALSE: 'IS FALSE',
  IS_NOT_FALSE: 'IS NOT FALSE',
  IS_UNKNOWN: 'IS UNKNOWN',
  IS_NOT_UNKNOWN: 'IS NOT UNKNOWN',
};

const NODE_PHRASES: Record<string, string> = {
  SubLink: 'a subquery',
  ParamRef: 'a parameter ($n)',
  SQLValueFunction: 'CURRENT_DATE, CURRENT_TIMESTAMP, CURRENT_USER or the like (not immutable)',
  A_Indirection: 'subscripts or field selection',
  RowExpr: 'a row constructor',
  A_Star: 'a star',
  GroupingFunc: 'GROUPING()',
};

function columnRef(value: Record<string, unknown>, found: Found, what: string): string {
  const fields = value.fields as Array<{ String?: { sval: string }; A_Star?: unknown }>;
  if (fields.length !== 1 || !fields[0]!.String) {
    throw badInput(`${capitalize(what)} must name columns by their name alone (no table prefix, no star).`);
  }
  found.columns.push(fields[0]!.String.sval);
  return quoteIdent(fields[0]!.String.sval);
}

function constant(value: Record<string, unknown>, what: string): string {
  if (value.isnull) return 'NULL';
  if ('ival' in value) return `(${Number((value.ival as { ival?: number }).ival ?? 0)})`;
  if ('fval' in value) {
    const text = String((value.fval as { fval?: string }).fval ?? '');
    if (!/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text)) throw badInput(`${capitalize(what)} has a number pgscope cannot read: ${text}.`);
    return `(${text})`;
  }
  if ('boolval' in value) return (value.boolval as { boolval?: boolean }).boolval ? 'true' : 'false';
  if ('sval' in value) return stringLiteral(String((value.sval as { sval?: string }).sval ?? ''));
  if ('bsval' in value) {
    const text = String((value.bsval as { bsval?: string }).bsval ?? '');
    if (!/^(b[01]*|x[0-9a-f]*)$/i.test(text)) throw badInput(`${capitalize(what)} has a bit string pgscope cannot read.`);
    return `${text[0]!.toUpperCase()}'${text.slice(1)}'`;
  }
  throw badInput(`${capitalize(what)} has a constant pgscope cannot read.`);
}

/**
 * A string literal that means the same whatever standard_conforming_strings says: with a
 * backslash inside, the E'' form (backslashes doubled) rather than a plain literal that a server
 * with standard_conforming_strings off would read differently.
 */
export function stringLiteral(text: string): string {
  if (text.includes('\u0000')) throw badInput('A string constant cannot contain a NUL character.');
  const quoted = text.replace(/'/g, "''");
  return text.includes('\\') ? `E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

function typeName(value: Record<string, unknown>, what: string): string {
  const names = ((value.names as Array<{ String?: { sval: string } }>) ?? []).map((part) => part.String?.sval);
  if (names.length === 0 || names.some((part) => part === undefined) || value.setof || value.pct_type) {
    throw badInput(`${capitalize(what)} has a cast to a type pgscope cannot read.`);
  }
  const modifiers = ((value.typmods as Array<{ A_Const?: { ival?: { ival?: number } } }>) ?? []).map((mod) => {
    if (!mod.A_Const?.ival) throw badInput(`${capitalize(what)} has a type modifier pgscope cannot read.`);
    return String(mod.A_Const.ival.ival ?? 0);
  });
  // interval with a field restriction (interval '1' day) encodes it as a bit mask pgscope does not rebuild
  if (names.at(-1) === 'interval' && modifiers.length > 0) {
    throw badInput(`${capitalize(what)} has an interval field restriction; write the interval without it.`);
  }
  const base = (names as string[]).map(quoteIdent).join('.') + (modifiers.length > 0 ? `(${modifiers.join(', ')})` : '');
  const bounds = (value.arrayBounds as unknown[] | undefined)?.length ? '[]' : '';
  return base + bounds;
}

function functionCall(value: Record<string, unknown>, found: Found, what: string, list: (children: unknown) => string): string {
  const name = qualified(value.funcname, what);
  if (value.agg_star || value.agg_order || value.agg_filter || value.agg_distinct || value.agg_within_group) {
    throw badInput(`${capitalize(what)} cannot contain an aggregate (${name.name}); an index expression is computed from one row.`);
  }
  if (value.over) throw badInput(`${capitalize(what)} cannot contain a window function (${name.name}).`);
  if (value.func_variadic) throw badInput(`${capitalize(what)} cannot use VARIADIC in a call of ${name.name}.`);
  const args = (value.args as unknown[] | undefined) ?? [];
  if (args.some((arg) => (arg as Record<string, unknown>).NamedArgExpr)) {
    throw badInput(`${capitalize(what)} passes arguments by name to ${name.name}; pass them by position.`);
  }
  found.functions.push({ ...name, args: args.length });
  return `${qualifiedSql({ schema: name.schema ?? 'pg_catalog', name: name.name })}(${list(args)})`;
}

const OPERATOR_CHARACTERS = /^[+\-*/<>=~!@#%^&|`?]{1,63}$/;

function operatorExpression(
  value: Record<string, unknown>,
  found: Found,
  what: string,
  sub: (child: unknown) => string,
  list: (children: unknown) => string,
): string {
  const name = qualified(value.name, what);
  // BETWEEN's name is its keyword; the other kinds name an operator, written out below
  const between = String(value.kind).includes('BETWEEN');
  if (!between && !OPERATOR_CHARACTERS.test(name.name)) throw badInput(`${capitalize(what)} uses an operator pgscope cannot read.`);
  const op = qualifiedOperator(name);
  const left = value.lexpr ? sub(value.lexpr) : null;
  switch (value.kind) {
    case 'AEXPR_OP':
    case 'AEXPR_LIKE':
    case 'AEXPR_ILIKE':
      found.operators.push(name);
      return left === null ? `(${op} ${sub(value.rexpr)})` : `(${left} ${op} ${sub(value.rexpr)})`;
    case 'AEXPR_OP_ANY':
    case 'AEXPR_OP_ALL':
      found.operators.push(name);
      return `(${left} ${op} ${value.kind === 'AEXPR_OP_ANY' ? 'ANY' : 'ALL'} (${sub(value.rexpr)}))`;
    case 'AEXPR_IN':
      found.operators.push(name);
      return `(${left} ${name.name === '<>' ? 'NOT IN' : 'IN'} (${list(listItems(value.rexpr))}))`;
    case 'AEXPR_DISTINCT':
    case 'AEXPR_NOT_DISTINCT':
      found.operators.push({ schema: null, name: '=' });
      return `(${left} IS ${value.kind === 'AEXPR_DISTINCT' ? '' : 'NOT '}DISTINCT FROM ${sub(value.rexpr)})`;
    case 'AEXPR_NULLIF':
      found.operators.push({ schema: null, name: '=' });
      return `NULLIF(${left}, ${sub(value.rexpr)})`;
    case 'AEXPR_BETWEEN':
    case 'AEXPR_NOT_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
    case 'AEXPR_NOT_BETWEEN_SYM':
      return betweenComparisons(String(value.kind), left!, listItems(value.rexpr).map(sub), found);
    default: {
      const kind = String(value.kind).replace('AEXPR_', '');
      throw badInput(`${capitalize(what)} uses a ${kind} expression pgscope does not accept; use an operator or a function call.`);
    }
  }
}

/**
 * BETWEEN as PostgreSQL's parser rewrites it (transformAExprBetween), each comparison qualified:
 * x >= a AND x <= b; NOT: x < a OR x > b; SYMMETRIC: either order of the bounds.
 */
function betweenComparisons(kind: string, x: string, bounds: string[], found: Found): string {
  const [low, high] = bounds as [string, string];
  const compare = (op: string, bound: string) => {
    found.operators.push({ schema: null, name: op });
    return `(${x} ${qualifiedOperator({ schema: null, name: op })} ${bound})`;
  };
  const inside = (a: string, b: string) => `(${compare('>=', a)} AND ${compare('<=', b)})`;
  const outside = (a: string, b: string) => `(${compare('<', a)} OR ${compare('>', b)})`;
  switch (kind) {
    case 'AEXPR_BETWEEN':
      return inside(low, high);
    case 'AEXPR_NOT_BETWEEN':
      return outside(low, high);
    case 'AEXPR_BETWEEN_SYM':
      return `(${inside(low, high)} OR ${inside(high, low)})`;
    default:
      return `(${outside(low, high)} AND ${outside(high, low)})`;
  }
}

/** OPERATOR(schema.op), pg_catalog's when the client named no schema (pg_dump writes them so). */
function qualifiedOperator(name: QualifiedName): string {
  return `OPERATOR(${quoteIdent(name.schema ?? 'pg_catalog')}.${name.name})`;
}

/** The items of a List node (IN and BETWEEN keep their operands in one). */
function listItems(node: unknown): Node[] {
  const items = (node as { List?: { items?: Node[] } } | undefined)?.List?.items;
  if (!Array.isArray(items) || items.length === 0) throw badInput('An expression has a list pgscope cannot read.');
  return items;
}

/** [schema.]name from a parse tree's list of String nodes. */
function qualified(list: unknown, what: string): QualifiedName {
  const parts = ((list as Array<{ String?: { sval: string } }>) ?? []).map((part) => part.String?.sval);
  if (parts.length === 0 || parts.length > 2 || parts.some((part) => part === undefined)) {
    throw badInput(`${capitalize(what)} names an object with more than a schema and a name.`);
  }
  return { schema: parts.length === 2 ? parts[0]! : null, name: parts.at(-1)! };
}

function qualifiedSql(name: QualifiedName): string {
  return name.schema === null ? quoteIdent(name.name) : `${quoteIdent(name.schema)}.${quoteIdent(name.name)}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
