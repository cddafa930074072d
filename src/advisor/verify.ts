// After a recommendation is applied: plan again each statement it was meant to help and look for
// the new index in the plan. A recommendation that the planner then ignores is reported as such,
// not hidden: the estimate was wrong, and the user should know before keeping the index. A
// statement whose planning could run code pgscope does not trust is not planned (its problem says why).
import type { Capabilities } from '../db/capabilities.js';
import { statementTexts } from '../db/explain/explain.js';
import { clearStatements } from '../db/trust/statementTrust.js';
import { describeTopNode, nodesOf, planOn } from './costing/planCost.js';
import type { Db } from '../db/pool.js';
import type { TrustConfig } from '../config.js';

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

/** Plans each statement (generic plans for $n statements) and says whether it uses one of `indexNames`. */
export async function checkStatementsUse(
  db: Db,
  caps: Capabilities,
  trust: TrustConfig,
  queryIds: readonly string[],
  indexNames: ReadonlySet<string>,
): Promise<StatementCheck[]> {
  if (queryIds.length === 0) return [];
  const texts = await statementTexts(db, caps, queryIds);
  // the costing's planner: one client, read-only transactions rolled back, the pre-16 generic-plan pitfalls handled
  return db.withClient(async (client) => {
    const clearance = await clearStatements(
      client,
      trust,
      [...texts.values()].map((sql) => ({ sql })),
    );
    const checks: StatementCheck[] = [];
    for (const queryId of queryIds) {
      const sql = texts.get(queryId);
      if (sql === undefined) {
        checks.push({
          queryId,
          usesIndex: false,
          totalCost: null,
          topNode: null,
          problem: 'pg_stat_statements no longer holds it (evicted or reset).',
        });
        continue;
      }
      const planned = await planOn(client, caps, { sql, timeoutMs: PLAN_TIMEOUT_MS }, clearance);
      if (!planned.ok) {
        checks.push({ queryId, usesIndex: false, totalCost: null, topNode: null, problem: `It could not be planned: ${planned.reason}.` });
        continue;
      }
      const used = [...nodesOf(planned.plan)].some((node) => node['Index Name'] !== undefined && indexNames.has(node['Index Name']));
      checks.push({
        queryId,
        usesIndex: used,
        totalCost: planned.plan['Total Cost'],
        topNode: describeTopNode(planned.plan),
        problem: null,
      });
    }
    return checks;
  });
}

const PLAN_TIMEOUT_MS = 2_000;

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
