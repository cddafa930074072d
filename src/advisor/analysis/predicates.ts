// From a statement's parse tree (libpg-query's JSON) to what it asks of each table: the
// TableAccess list. Every query level is read on its own: its FROM items (tables, views, subqueries,
// CTE references, joins), its WHERE and JOIN ON conditions (conditions.ts), its ORDER BY and LIMIT;
// then its CTEs, subqueries in FROM, subqueries in conditions (correlated ones see the outer
// tables) and the views it reads. Simple views, and the CTEs PostgreSQL inlines, are merged into
// the level that reads them (views.ts). Statements that read no table through a condition or an order
// (INSERT ... VALUES) give nothing.
import type { Node } from 'libpg-query';
import type { KeyPredicate, TableAccess, WorkloadStatement } from '../types.js';
import { INDEXABLE_RELKINDS, relationKey, type RelationCatalog } from './relations.js';
import { operand, replaceColumns, resolveColumn, throughViews, type Scope, type ScopeEntry } from './scope.js';
import { readCondition, type ConditionSink } from './conditions.js';
import { catalogLookup, mergeableView, type MergedView } from './views.js';
import { cteLookup, cteReferences, inlinedCte, type Ctes } from './ctes.js';
import { limitOf, list, orderedBy, subLinks, usingCondition, visit } from './treeParts.js';

type Rec = Record<string, unknown>;

/** What one FROM entry of one level collected. */
interface Accumulator {
  entry: ScopeEntry;
  filters: KeyPredicate[];
  partials: string[];
  joins: KeyPredicate[];
  /** The first OR over this entry alone (several ORs would multiply the accesses). */
  orBranches: KeyPredicate[][] | null;
  sort: KeyPredicate[];
  limit: number | 'PARAM' | null;
  /** null once the level reads every column (* or t.*). */
  readColumns: Set<string> | null;
}

interface Walk {
  catalog: RelationCatalog;
  accumulators: Map<number, Accumulator>;
  nextId: number;
  /** Views being expanded, so a view over itself (impossible, but cheap to guard) ends. */
  expanding: Set<string>;
}

/** The accesses of one statement (parsed), given the workload's resolved relations. */
export function tableAccesses(statement: WorkloadStatement & { node: Node }, catalog: RelationCatalog): TableAccess[] {
  const walk: Walk = { catalog, accumulators: new Map(), nextId: 0, expanding: new Set() };
  readStatement(statement.node, null, new Map(), walk);
  return [...walk.accumulators.values()].flatMap((acc) => accessesOf(acc, statement.queryId));
}

function readStatement(node: Node, parent: Scope | null, ctes: Ctes, walk: Walk): void {
  const [kind, body] = Object.entries(node)[0] as [string, Rec];
  const visible = withCtes(body.withClause as Rec | undefined, parent, ctes, walk, node);
  switch (kind) {
    case 'SelectStmt':
      return readSelect(body, parent, visible, walk);
    case 'UpdateStmt':
      return readLevel({ from: [target(body), ...list(body.fromClause)], where: body.whereClause as Node }, parent, visible, walk);
    case 'DeleteStmt':
      return readLevel({ from: [target(body), ...list(body.usingClause)], where: body.whereClause as Node }, parent, visible, walk);
    case 'InsertStmt':
      // INSERT ... SELECT reads through its SELECT; INSERT ... VALUES reads nothing
      if (body.selectStmt) readStatement(body.selectStmt as Node, parent, visible, walk);
      return;
    case 'MergeStmt':
      return readLevel({ from: [target(body), body.sourceRelation], where: body.joinCondition as Node }, parent, visible, walk);
  }
}

/** The table an UPDATE, DELETE or MERGE writes: a bare RangeVar in the tree, wrapped here like a FROM item. */
function target(body: Rec): Node {
  return { RangeVar: body.relation } as Node;
}

/**
 * Reads a WITH clause's queries; returns the CTEs visible to the statement. One PostgreSQL inlines,
 * simple enough to merge, is read where it is referenced (ctes.ts); any other is read on its own.
 */
function withCtes(withClause: Rec | undefined, parent: Scope | null, ctes: Ctes, walk: Walk, statement: Node): Ctes {
  if (!withClause) return ctes;
  const visible = new Map(ctes);
  const references = cteReferences(statement);
  for (const item of list(withClause.ctes)) {
    const cte = (item as { CommonTableExpr: Rec }).CommonTableExpr;
    const merged = inlinedCte(cte, Boolean(withClause.recursive), references, cteLookup(visible, catalogLookup(walk.catalog)));
    if (!merged) readStatement(cte.ctequery as Node, parent, visible, walk);
    visible.set(String(cte.ctename), merged);
  }
  return visible;
}

function readSelect(select: Rec, parent: Scope | null, ctes: Ctes, walk: Walk): void {
  if (select.op && select.op !== 'SETOP_NONE') {
    // UNION / INTERSECT / EXCEPT: each arm is a query of its own
    for (const arm of [select.larg, select.rarg]) if (arm) readSelect(arm as Rec, parent, ctes, walk);
    return;
  }
  readLevel(
    {
      from: list(select.fromClause),
      where: select.whereClause as Node,
      sort: orderedBy(list(select.sortClause) as Node[], list(select.targetList) as Node[]),
      limit: select.limitCount as Node | undefined,
      targets: list(select.targetList) as Node[],
      other: [select.havingClause, select.groupClause],
    },
    parent,
    ctes,
    walk,
  );
}

interface Level {
  from: unknown[];
  where?: Node | null;
  sort?: Node[];
  limit?: Node;
  targets?: Node[];
  other?: unknown[];
}

/** A JOIN ON condition (read in the level's scope), or a merged view's WHERE (read in its own). */
interface Condition {
  node: Node;
  scope: Scope | null;
}

function readLevel(read: Level, parent: Scope | null, ctes: Ctes, walk: Walk): void {
  const scope: Scope = { entries: [], parent };
  const written: Condition[] = [];
  for (const item of read.from) if (item) addFromItem(item as Node, scope, ctes, walk, written);
  // merged views' and CTEs' columns are their tables' expressions from here on
  const level = { ...read, ...throughViews({ where: read.where, sort: read.sort, targets: read.targets, other: read.other }, scope) };
  const conditions = written.map((condition) =>
    condition.scope === null ? { ...condition, node: throughViews(condition.node, scope) } : condition,
  );
  const sink = levelSink(walk);
  readCondition(level.where, scope, sink);
  for (const condition of conditions) readCondition(condition.node, condition.scope ?? scope, sink);
  const joinConditions = conditions.filter((condition) => condition.scope === null).map((condition) => condition.node);
  readOrder(level.sort ?? [], level.limit, scope, walk);
  readColumns([level.targets, level.where, level.sort, joinConditions, level.other], scope, walk);
  // subqueries in conditions, targets and HAVING see this level's tables
  for (const sublink of subLinks([level.where, joinConditions, level.targets, level.other])) {
    readStatement(sublink, scope, ctes, walk);
  }
}

function addFromItem(item: Node, scope: Scope, ctes: Ctes, walk: Walk, conditions: Condition[]): void {
  const [kind, body] = Object.entries(item)[0] as [string, Rec];
  const alias = (body.alias as { aliasname?: string } | undefined)?.aliasname;
  if (kind === 'RangeVar') return addRelation(body, alias, scope, ctes, walk, conditions);
  if (kind === 'JoinExpr') {
    addFromItem(body.larg as Node, scope, ctes, walk, conditions);
    addFromItem(body.rarg as Node, scope, ctes, walk, conditions);
    if (body.quals) conditions.push({ node: body.quals as Node, scope: null });
    for (const column of list(body.usingClause)) conditions.push(...usingCondition(column, body).map((node) => ({ node, scope: null })));
    return;
  }
  if (kind === 'RangeSubselect') readStatement(body.subquery as Node, body.lateral ? scope : scope.parent, ctes, walk);
  // a subquery, a function or a table sample: opaque, but its alias is in scope
  scope.entries.push({ id: walk.nextId++, alias: alias ?? '', relationName: null, table: null });
}

function addRelation(range: Rec, alias: string | undefined, scope: Scope, ctes: Ctes, walk: Walk, conditions: Condition[]): void {
  const name = { schema: (range.schemaname as string | undefined) ?? null, name: String(range.relname) };
  const entry: ScopeEntry = { id: walk.nextId++, alias: alias ?? name.name, relationName: name.name, table: null };
  scope.entries.push(entry);
  if (name.schema === null && ctes.has(name.name)) {
    // an inlined CTE is merged here; another was read with its WITH
    const cte = ctes.get(name.name);
    if (cte) addMerged(entry, cte, scope, walk, conditions);
    return;
  }
  const relation = walk.catalog.get(relationKey(name));
  if (!relation) return;
  if (INDEXABLE_RELKINDS.has(relation.relkind)) entry.table = relation;
  const key = relationKey(name);
  const merged = relation.view ? mergeableView(relation.view, catalogLookup(walk.catalog)) : null;
  if (merged) return addMerged(entry, merged, scope, walk, conditions);
  if (relation.view && !walk.expanding.has(key)) {
    // a view reads its tables as its definition says; its columns stay opaque at this level
    walk.expanding.add(key);
    readStatement(relation.view, null, new Map(), walk);
    walk.expanding.delete(key);
  }
}

/**
 * A merged view (or CTE) at this level: its table becomes a hidden entry of the level, which the
 * view's columns (and its WHERE) refer to by a name no query can write.
 */
function addMerged(entry: ScopeEntry, merged: MergedView, scope: Scope, walk: Walk, conditions: Condition[]): void {
  const id = walk.nextId++;
  const inner: ScopeEntry = { id, alias: `\u0000${id}`, relationName: null, table: merged.table, hidden: true };
  scope.entries.push(inner);
  const onInner = <T>(tree: T) =>
    replaceColumns(tree, (fields) => ({ ColumnRef: { fields: [{ String: { sval: inner.alias } }, fields.at(-1)!] } }) as Node) as T;
  entry.merged = { inner, columns: new Map([...merged.columns].map(([name, value]) => [name, onInner(value)])) };
  for (const where of merged.where) conditions.push({ node: onInner(where), scope: { entries: [inner], parent: null } });
}

function levelSink(walk: Walk): ConditionSink {
  return {
    filter(entry, predicate, partial) {
      const acc = accumulator(entry, walk);
      if (!acc) return;
      acc.filters.push(predicate);
      if (partial) acc.partials.push(partial);
    },
    join(entry, predicate) {
      accumulator(entry, walk)?.joins.push(predicate);
    },
    partial(entry, predicate) {
      if (predicate) accumulator(entry, walk)?.partials.push(predicate);
    },
    or(entry, branches) {
      const acc = accumulator(entry, walk);
      if (acc && !acc.orBranches) acc.orBranches = branches;
    },
  };
}

function accumulator(entry: ScopeEntry, walk: Walk): Accumulator | null {
  if (!entry.table) return null;
  let acc = walk.accumulators.get(entry.id);
  if (!acc) {
    acc = { entry, filters: [], partials: [], joins: [], orBranches: null, sort: [], limit: null, readColumns: new Set() };
    walk.accumulators.set(entry.id, acc);
  }
  return acc;
}

/** ORDER BY counts only when all its keys are keys of one table of this level. */
function readOrder(sort: Node[], limit: Node | undefined, scope: Scope, walk: Walk): void {
  if (sort.length === 0) return;
  const keys: KeyPredicate[] = [];
  let entry: ScopeEntry | null = null;
  for (const item of sort) {
    const by = (item as { SortBy?: Rec }).SortBy;
    if (!by || by.useOp) return; // ORDER BY ... USING: a custom operator
    const side = operand(by.node as Node, scope);
    if (side.kind !== 'KEY' || !scope.entries.includes(side.entry) || (entry && entry !== side.entry)) return;
    entry = side.entry;
    const nulls = by.sortby_nulls === 'SORTBY_NULLS_FIRST' ? 'FIRST' : by.sortby_nulls === 'SORTBY_NULLS_LAST' ? 'LAST' : undefined;
    keys.push({ ...side.key, use: 'SORT', direction: by.sortby_dir === 'SORTBY_DESC' ? 'DESC' : 'ASC', ...(nulls ? { nulls } : {}) });
  }
  const acc = entry && accumulator(entry, walk);
  if (!acc) return;
  acc.sort = keys;
  acc.limit = limitOf(limit);
}

/** Columns each table of the level is read for; a star (or t.*) means all of them. */
function readColumns(parts: unknown[], scope: Scope, walk: Walk): void {
  visit(parts, (key, value) => {
    if (key !== 'ColumnRef') return;
    const fields = (value as { fields: Array<{ String?: { sval: string }; A_Star?: unknown }> }).fields;
    const star = fields.at(-1)?.A_Star !== undefined;
    // * is every entry of the level; t.* is the entry t (resolved as t.<any column>)
    const named = star ? [...fields.slice(0, -1), { String: { sval: '' } }] : fields;
    const owners = star && fields.length === 1 ? scope.entries : [resolveColumn(named, scope)];
    for (const owner of owners) {
      // a merged view's t.*: every column of its table it shows (all of them, as far as an index can tell)
      const acc = owner ? accumulator(owner.merged?.inner ?? owner, walk) : null;
      if (!acc) continue;
      if (star) acc.readColumns = null;
      else acc.readColumns?.add(fields.at(-1)!.String!.sval);
    }
  });
}

/**
 * The accesses one table occurrence gives: its own conditions (one access per OR branch), and,
 * when it is joined, the join keys first followed by its own conditions (the plan where it is the
 * inner side of a nested loop), and each join key alone when there are several. An occurrence
 * asking nothing (no condition, no usable ORDER BY) gives none.
 */
function accessesOf(acc: Accumulator, queryId: string): TableAccess[] {
  const table = acc.entry.table!;
  const base = {
    queryId,
    schema: table.indexSchema,
    table: table.indexTable,
    sort: acc.sort,
    limit: acc.limit,
    partialPredicate: acc.partials.length > 0 ? [...new Set(acc.partials)].join(' AND ') : null,
    readColumns: acc.readColumns ? [...acc.readColumns].sort() : null,
  };
  const branches = acc.orBranches ? acc.orBranches.map((branch) => [...acc.filters, ...branch]) : [acc.filters];
  const accesses: TableAccess[] = branches
    .filter((predicates) => predicates.length > 0 || acc.sort.length > 0)
    .map((predicates) => ({ ...base, predicates }));
  if (acc.joins.length > 0) accesses.push({ ...base, predicates: [...acc.joins, ...acc.filters], sort: [], limit: null });
  // joined to several tables, it is probed by one of them at a time (supabase's book, joined to its
  // author, its publisher and its reviews, is searched by author_id): each join key alone as well
  if (new Set(acc.joins.map((key) => JSON.stringify([key.column, key.expression]))).size > 1)
    for (const key of acc.joins) accesses.push({ ...base, predicates: [key, ...acc.filters], sort: [], limit: null });
  return accesses;
}
