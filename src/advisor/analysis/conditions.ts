// One WHERE / JOIN ON condition, read as what it asks of each table: equality (=, IN, = ANY),
// ranges (<, <=, >, >=, BETWEEN), IS NULL, jsonb containment and key existence, array
// containment and overlap, LIKE and ILIKE patterns (patterns.ts), join keys
// (a = between columns of two tables gives an equality key on each side, the inner side being
// the planner's choice), constant predicates kept for partial indexes, and OR at the top of one
// table's conditions (each branch read on its own). Everything else asks nothing indexable.
import type { Node } from 'libpg-query';
import type { KeyPredicate, KeyUse } from '../types.js';
import { columnType, deparse, isConstant, operand, type Operand, type Scope, type ScopeEntry } from './scope.js';
import { arrayElements, isArrayColumn, patternPredicate } from './patterns.js';

/** Where the conditions of one query level go, per FROM entry. */
export interface ConditionSink {
  filter(entry: ScopeEntry, predicate: KeyPredicate, partialPredicate: string | null): void;
  join(entry: ScopeEntry, predicate: KeyPredicate): void;
  /** A condition no index searches by, but that a partial index can have as its predicate (status <> 'done'). */
  partial(entry: ScopeEntry, predicate: string | null): void;
  /** An OR whose branches all ask something of `entry` alone: each branch's predicates. */
  or(entry: ScopeEntry, branches: KeyPredicate[][]): void;
}

const RANGE_OPERATORS = new Set(['<', '<=', '>', '>=']);
const EXISTS_OPERATORS = new Set(['?', '?|', '?&']);

/** The AND-ed parts of a condition (nested ANDs flattened). */
export function conjuncts(node: Node | undefined | null): Node[] {
  if (!node) return [];
  const bool = (node as { BoolExpr?: { boolop: string; args: Node[] } }).BoolExpr;
  if (bool?.boolop === 'AND_EXPR') return bool.args.flatMap(conjuncts);
  return [node];
}

/** Reads every conjunct of `condition` into `sink`. */
export function readCondition(condition: Node | undefined | null, scope: Scope, sink: ConditionSink): void {
  for (const part of conjuncts(condition)) readConjunct(part, scope, sink);
}

function readConjunct(node: Node, scope: Scope, sink: ConditionSink): void {
  const expression = (node as { A_Expr?: Record<string, unknown> }).A_Expr;
  if (expression) return readOperator(expression, node, scope, sink);
  const nullTest = (node as { NullTest?: { arg: Node; nulltesttype: string } }).NullTest;
  if (nullTest) return readNullTest(nullTest.arg, nullTest.nulltesttype === 'IS_NULL', node, scope, sink);
  const bool = (node as { BoolExpr?: { boolop: string; args: Node[] } }).BoolExpr;
  if (bool?.boolop === 'OR_EXPR') return readOr(bool.args, scope, sink);
  if (bool?.boolop === 'NOT_EXPR') return readBooleanColumn(bool.args[0]!, node, scope, sink);
  const sublink = (node as { SubLink?: { subLinkType: string; testexpr?: Node; operName?: unknown } }).SubLink;
  if (sublink?.subLinkType === 'ANY_SUBLINK' && sublink.testexpr && (!sublink.operName || operatorName(sublink.operName) === '=')) {
    // x IN (SELECT ...) is a semi-join: x is a join key (the subquery itself is read as a query of its own)
    const side = operand(sublink.testexpr, scope);
    if (side.kind === 'KEY') sink.join(side.entry, { ...side.key, use: 'EQUALITY' });
    return;
  }
  readBooleanColumn(node, node, scope, sink);
}

/**
 * IS NULL and IS NOT NULL are written without a constant, so pg_stat_statements keeps them: both
 * make a partial index predicate (WHERE deleted_at IS NULL); IS NULL is also a key a B-tree searches.
 */
function readNullTest(arg: Node, isNull: boolean, node: Node, scope: Scope, sink: ConditionSink): void {
  const side = operand(arg, scope);
  if (side.kind !== 'KEY') return;
  if (isNull) sink.filter(side.entry, { ...side.key, use: 'IS_NULL', inPartialPredicate: true }, deparse(node));
  else sink.partial(side.entry, deparse(node));
}

/** WHERE is_active, WHERE NOT is_deleted: a boolean column alone is "= true" (or false), a constant pg_stat_statements keeps. */
function readBooleanColumn(column: Node, node: Node, scope: Scope, sink: ConditionSink): void {
  const side = (column as { ColumnRef?: unknown }).ColumnRef ? operand(column, scope) : null;
  if (side?.kind !== 'KEY' || columnType(side) !== 'boolean') return;
  sink.filter(side.entry, { ...side.key, use: 'EQUALITY', inPartialPredicate: true }, deparse(node));
}

function readOperator(expression: Record<string, unknown>, node: Node, scope: Scope, sink: ConditionSink): void {
  const name = operatorName(expression.name);
  const left = expression.lexpr as Node | undefined;
  const right = expression.rexpr as Node | undefined;
  if (!left || !right || name === null) return;
  switch (expression.kind) {
    case 'AEXPR_OP':
      return readComparison(name, left, right, node, scope, sink);
    case 'AEXPR_LIKE':
    case 'AEXPR_ILIKE':
      return readPattern(name, left, right, scope, sink);
    case 'AEXPR_IN':
    case 'AEXPR_OP_ANY':
      // x IN (...) and x = ANY ($1) are equality for an index; NOT IN (<>) is not
      if (name === '=') readKeyed(operand(left, scope), 'EQUALITY', sink);
      // $1 = ANY (tags): the array column on the right, which no index serves as written
      if (name === '=' && expression.kind === 'AEXPR_OP_ANY') readArrayAny(operand(left, scope), operand(right, scope), sink);
      return;
    case 'AEXPR_BETWEEN':
      return readBetween(operand(left, scope), right, sink);
    case 'AEXPR_BETWEEN_SYM':
      // either bound may be the low one: one range, bounds unknown
      readKeyed(operand(left, scope), 'RANGE', sink);
      return;
  }
}

function readComparison(name: string, leftNode: Node, rightNode: Node, node: Node, scope: Scope, sink: ConditionSink): void {
  const left = operand(leftNode, scope);
  const right = operand(rightNode, scope);
  if (name === '@>' || name === '<@') {
    // the indexed column is the container: col @> value, or value <@ col
    const [container, contained] = name === '@>' ? [left, right] : [right, left];
    const containedNode = name === '@>' ? rightNode : leftNode;
    if (contained.kind !== 'VALUE') return;
    if (isArrayColumn(container)) return readArrayContains(container, containedNode, false, sink);
    if (isJsonb(container)) readKeyed(container, 'JSONB_CONTAINS', sink);
    return;
  }
  if (name === '&&') {
    if (isArrayColumn(left) && right.kind === 'VALUE') readArrayContains(left, rightNode, true, sink);
    else if (isArrayColumn(right) && left.kind === 'VALUE') readArrayContains(right, leftNode, true, sink);
    return;
  }
  if (name === '~~' || name === '~~*') return readPattern(name, leftNode, rightNode, scope, sink);
  if (EXISTS_OPERATORS.has(name)) {
    if (isJsonb(left) && right.kind === 'VALUE') readKeyed(left, 'JSONB_EXISTS', sink);
    return;
  }
  if (name === '<>') return readExclusion(left, right, rightNode, node, sink);
  if (name !== '=' && !RANGE_OPERATORS.has(name)) return;
  const use: KeyUse = name === '=' ? 'EQUALITY' : 'RANGE';
  if (left.kind === 'KEY' && right.kind === 'VALUE') return readValueComparison(left, name, rightNode, node, sink);
  if (right.kind === 'KEY' && left.kind === 'VALUE') return readValueComparison(right, FLIPPED[name] ?? name, leftNode, node, sink);
  if (use === 'EQUALITY') readJoin(left, right, sink);
}

// $1 < key is key > $1
const FLIPPED: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

/** key = value, key < value...: a constant value also makes a partial index predicate (status = 'pending'). */
function readValueComparison(key: Extract<Operand, { kind: 'KEY' }>, name: string, value: Node, node: Node, sink: ConditionSink): void {
  if (name !== '=') {
    const operator = name as NonNullable<KeyPredicate['operator']>;
    return sink.filter(key.entry, { ...key.key, use: 'RANGE', operator, ...constantOf(value) }, null);
  }
  const partial = isConstant(value) ? deparse(node) : null;
  sink.filter(key.entry, { ...key.key, use: 'EQUALITY', ...(partial ? { inPartialPredicate: true, ...constantOf(value) } : {}) }, partial);
}

/**
 * x BETWEEN a AND b is x >= a AND x <= b to the planner: a range with two bounds (0.005 of the
 * rows for two parameters, clauselist_selectivity), not one bound (a third of them).
 */
function readBetween(side: Operand, bounds: Node, sink: ConditionSink): void {
  if (side.kind !== 'KEY') return;
  const [low, high] = (bounds as { List?: { items?: Node[] } }).List?.items ?? [];
  sink.filter(side.entry, { ...side.key, use: 'RANGE', operator: '>=', ...(low ? constantOf(low) : {}) }, null);
  sink.filter(side.entry, { ...side.key, use: 'RANGE', operator: '<=', ...(high ? constantOf(high) : {}) }, null);
}

/** A range's bound as text, when the statement keeps a constant (the pg_stats estimate places it in the histogram); nothing for a $n. */
function constantOf(value: Node): { constant?: string } {
  if (!isConstant(value)) return {};
  const cast = (value as { TypeCast?: { arg: Node } }).TypeCast;
  const constant = (cast?.arg ?? value) as { A_Const?: Record<string, Record<string, unknown> | undefined> };
  const parts = constant.A_Const ?? {};
  const text = parts.sval?.sval ?? parts.ival?.ival ?? parts.fval?.fval;
  // an A_Const's ival of 0 is printed without its value: absent means 0
  if (text === undefined) return parts.ival ? { constant: '0' } : {};
  return { constant: String(text) };
}

/**
 * @> and ? also exist for arrays, ranges and hstore, whose indexes are other operator classes or
 * methods: only a jsonb column counts (an expression's type is not known here; it is taken as jsonb).
 */
function isJsonb(side: Operand): side is Extract<Operand, { kind: 'KEY' }> {
  if (side.kind !== 'KEY') return false;
  return side.key.column === null || columnType(side) === 'jsonb';
}

/** col @> value, value <@ col, col && value on an array column: GIN (array_ops) serves all three. */
function readArrayContains(key: Extract<Operand, { kind: 'KEY' }>, value: Node, overlap: boolean, sink: ConditionSink): void {
  const elements = arrayElements(value);
  const predicate: KeyPredicate = { ...key.key, use: 'ARRAY_CONTAINS', ...(elements ? { elements } : {}), ...(overlap ? { overlap } : {}) };
  sink.filter(key.entry, predicate, null);
}

/**
 * value = ANY (array column): the planner uses no index for it (GIN's array_ops has @>, <@, &&
 * and =, not a scalar against the elements; verified on PostgreSQL 15 and 18). Kept as a predicate
 * no candidate reads, so that the analysis can say how to write it (col @> ARRAY[value]).
 */
function readArrayAny(value: Operand, array: Operand, sink: ConditionSink): void {
  if (value.kind === 'VALUE' && isArrayColumn(array)) sink.filter(array.entry, { ...array.key, use: 'ARRAY_ANY' }, null);
}

/** key LIKE / ILIKE pattern (also written ~~ and ~~*; NOT LIKE searches nothing). */
function readPattern(name: string, keyNode: Node, patternNode: Node, scope: Scope, sink: ConditionSink): void {
  if (name !== '~~' && name !== '~~*') return;
  const key = operand(keyNode, scope);
  if (key.kind !== 'KEY' || operand(patternNode, scope).kind !== 'VALUE') return;
  const predicate = patternPredicate(key, name === '~~*', patternNode);
  if (predicate) sink.filter(key.entry, predicate, null);
}

/** key <> constant (also written !=): no index searches by it, a partial index can exclude those rows. */
function readExclusion(left: Operand, right: Operand, rightNode: Node, node: Node, sink: ConditionSink): void {
  if (left.kind === 'KEY' && right.kind === 'VALUE' && isConstant(rightNode)) sink.partial(left.entry, deparse(node));
}

function readKeyed(side: Operand, use: KeyUse, sink: ConditionSink): void {
  if (side.kind === 'KEY') sink.filter(side.entry, { ...side.key, use }, null);
}

/** a.x = b.y: a join key on each table side (a subquery's or CTE's side has no index to build). */
function readJoin(left: Operand, right: Operand, sink: ConditionSink): void {
  const leftEntry = left.kind === 'OTHER' ? left.entry : left.kind === 'KEY' ? left.entry : null;
  const rightEntry = right.kind === 'OTHER' ? right.entry : right.kind === 'KEY' ? right.entry : null;
  if (!leftEntry || !rightEntry || leftEntry === rightEntry) return;
  if (left.kind === 'KEY') sink.join(left.entry, { ...left.key, use: 'EQUALITY' });
  if (right.kind === 'KEY') sink.join(right.entry, { ...right.key, use: 'EQUALITY' });
}

/**
 * An OR helps an index only when every branch asks something of the same table (a BitmapOr of
 * one index scan per branch); then each branch becomes its own access. Join keys inside a branch
 * are not followed: the planner cannot use them per branch.
 */
function readOr(branches: Node[], scope: Scope, sink: ConditionSink): void {
  let only: ScopeEntry | null = null;
  const read: KeyPredicate[][] = [];
  for (const branch of branches) {
    const found: KeyPredicate[] = [];
    let usable = true;
    const branchSink: ConditionSink = {
      filter(entry, predicate) {
        // a test no index serves leaves the branch asking nothing indexable
        if (predicate.use === 'ARRAY_ANY') return;
        if (only !== null && entry !== only) usable = false;
        only = entry;
        // a constant inside one branch does not hold for the others: not a partial predicate
        const { inPartialPredicate: _inPartialPredicate, ...plain } = predicate;
        found.push(plain);
      },
      join() {
        usable = false;
      },
      // a partial predicate inside one branch does not hold for the others; it searches nothing either
      partial() {},
      or() {
        usable = false;
      },
    };
    readCondition(branch, scope, branchSink);
    // a branch that asks nothing indexable makes the whole OR a sequential scan
    if (!usable || found.length === 0) return;
    read.push(found);
  }
  if (only !== null) sink.or(only, read);
}

function operatorName(list: unknown): string | null {
  const parts = ((list as Array<{ String?: { sval: string } }>) ?? []).map((part) => part.String?.sval);
  const last = parts.at(-1);
  // OPERATOR(pg_catalog.=) is still =; another schema's operator is not the built-in one
  if (last === undefined || (parts.length > 1 && parts[0] !== 'pg_catalog')) return null;
  return last;
}
