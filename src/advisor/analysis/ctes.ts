// CTEs as the planner sees them (PostgreSQL 12+, subselect.c SS_process_ctes): one that is not
// recursive, not MATERIALIZED, referenced once (or NOT MATERIALIZED), a SELECT and free of
// volatile functions is inlined as a subquery, and a simple one (views.ts) is then merged into
// the query that reads it, so that the outer conditions on its columns reach its table. Any other
// CTE is computed once, apart: a fence the outer conditions do not cross.
import type { Node } from 'libpg-query';
import { walkTree } from '../../sql/parse.js';
import type { QualifiedName } from '../../sql/references.js';
import { list } from './treeParts.js';
import { mergeableView, type MergeLookup, type MergedView } from './views.js';

type Rec = Record<string, unknown>;

/** The CTEs a statement sees, by name: merged (inlined and simple), or null (read as a query of its own). */
export type Ctes = ReadonlyMap<string, MergedView | null>;

// Volatile functions the planner does not inline a CTE over (contain_volatile_functions); by name,
// since the parse tree does not say: a user's own volatile function is not recognized.
const VOLATILE_FUNCTIONS = new Set(['random', 'random_normal', 'nextval', 'setval', 'clock_timestamp', 'timeofday', 'gen_random_uuid']);

/**
 * The CTE merged where it is referenced, or null when PostgreSQL computes it apart (or it is not
 * simple). `references` counts the statement's references by name (cteReferences). Every CTE of a
 * WITH RECURSIVE counts as recursive here, the planner only those that read themselves: the
 * outer conditions are never said to reach a table they might not.
 */
export function inlinedCte(cte: Rec, recursive: boolean, references: ReadonlyMap<string, number>, lookup: MergeLookup): MergedView | null {
  const inlined =
    !recursive &&
    cte.ctematerialized !== 'CTEMaterializeAlways' &&
    (cte.ctematerialized === 'CTEMaterializeNever' || references.get(String(cte.ctename)) === 1) &&
    !callsVolatile(cte.ctequery);
  const merged = inlined ? mergeableView(cte.ctequery as Node, lookup) : null;
  return merged ? renamed(merged, list(cte.aliascolnames)) : null;
}

/** Names a CTE's body sees: the CTEs before it, then the catalog's. */
export function cteLookup(ctes: Ctes, catalog: MergeLookup): MergeLookup {
  return (name: QualifiedName) => (name.schema === null && ctes.has(name.name) ? (ctes.get(name.name) ?? null) : catalog(name));
}

/** How many times each unqualified name is read as a relation in the statement (a CTE's references). */
export function cteReferences(statement: Node): Map<string, number> {
  const counts = new Map<string, number>();
  walkTree(statement, (key, value) => {
    const range = value as { schemaname?: string; relname?: string };
    if (key !== 'RangeVar' || range.schemaname !== undefined || !range.relname) return;
    counts.set(range.relname, (counts.get(range.relname) ?? 0) + 1);
  });
  return counts;
}

/** WITH m(a, b) AS (...): the CTE's columns renamed in order; null when the list does not fit. */
function renamed(merged: MergedView, names: unknown[]): MergedView | null {
  if (names.length === 0) return merged;
  const values = [...merged.columns.values()];
  if (names.length > values.length) return null;
  const columns = new Map(values.map((value, index) => [(names[index] as { String?: { sval: string } })?.String?.sval ?? '', value]));
  return { ...merged, columns };
}

/** The body calls a known volatile function, subqueries included. */
function callsVolatile(tree: unknown): boolean {
  let found = false;
  walkTree(tree, (key, value) => {
    if (key !== 'FuncCall') return;
    const name = (value as { funcname?: Array<{ String?: { sval: string } }> }).funcname?.at(-1)?.String?.sval;
    if (name !== undefined && VOLATILE_FUNCTIONS.has(name)) found = true;
  });
  return found;
}
