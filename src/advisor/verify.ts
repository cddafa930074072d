// After a recommendation is applied: plan again each statement it was meant to help and look for
// the new index in the plan. A recommendation that the planner then ignores is reported as such,
// not hidden: the estimate was wrong, and the user should know before keeping the index.
import type { Capabilities } from '../db/capabilities.js';
import { explainQueryId } from '../db/explain.js';
import type { ExplainDocument } from '../db/planSummary.js';
import type { Db } from '../db/pool.js';
import { isPgscopeError } from '../errors.js';

export interface StatementCheck {
  queryId: string;
  /** The plan names the index (or, on a partitioned table, one of its partitions' indexes). */
  usesIndex: boolean;
  totalCost: number | null;
  /** "Index Scan using users_email_idx on users", as the top of the plan reads. */
  topNode: string | null;
  /** Why the statement could not be planned (evicted from pg_stat_statements ...); null when it was. */
  problem: string | null;
}

type Node = ExplainDocument[0]['Plan'];

/** Every "Index Name" in the plan tree. */
export function indexNamesIn(node: Node, names: Set<string> = new Set()): Set<string> {
  const name = (node as { 'Index Name'?: unknown })['Index Name'];
  if (typeof name === 'string') names.add(name);
  for (const child of node.Plans ?? []) indexNamesIn(child, names);
  return names;
}

export function describeNode(node: Node): string {
  const n = node as { 'Node Type': string; 'Index Name'?: string; 'Relation Name'?: string };
  return [n['Node Type'], n['Index Name'] ? `using ${n['Index Name']}` : null, n['Relation Name'] ? `on ${n['Relation Name']}` : null]
    .filter(Boolean)
    .join(' ');
}

/** Plans each statement (generic plans for $n statements) and says whether it uses one of `indexNames`. */
export async function checkStatementsUse(db: Db, caps: Capabilities, queryIds: readonly string[], indexNames: ReadonlySet<string>): Promise<StatementCheck[]> {
  const checks: StatementCheck[] = [];
  for (const queryId of queryIds) {
    try {
      const outcome = await explainQueryId(db, caps, queryId, { params: null, analyze: false, timeoutMs: 0 });
      const used = [...indexNamesIn(outcome.plan[0].Plan)].some((name) => indexNames.has(name));
      checks.push({ queryId, usesIndex: used, totalCost: outcome.totalCost, topNode: describeNode(outcome.plan[0].Plan), problem: null });
    } catch (error) {
      if (!isPgscopeError(error)) throw error;
      checks.push({ queryId, usesIndex: false, totalCost: null, topNode: null, problem: error.message });
    }
  }
  return checks;
}

/** The index and, for a partitioned index, its partitions' indexes: any of them in a plan means it is used. */
export async function indexTreeNames(db: Db, schema: string, name: string): Promise<Set<string>> {
  const rows = await db.query<{ name: string }>(
    /* SQL */ `
    SELECT
      c.relname AS name
    FROM pg_partition_tree(to_regclass(format('%I.%I', $1::text, $2::text))) tree
    JOIN pg_class c ON c.oid = tree.relid`,
    [schema, name],
  );
  return new Set([name, ...rows.map((row) => row.name)]);
}
