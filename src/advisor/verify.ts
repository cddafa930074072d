// After a recommendation is applied: plan again each statement it was meant to help and look for
// the new index in the plan. A recommendation that the planner then ignores is reported as such,
// not hidden: the estimate was wrong, and the user should know before keeping the index. A
// statement whose planning could run code pgscope does not trust is not planned (its problem says why).
// A B-tree for LIKE $n is not in the statement's generic plan (the planner needs the pattern to
// turn its prefix into a range), only in the custom plans that run it with a value: the check says so.
// So for an index chosen for a skewed column's heavy values (advisor/analysis/skew.ts): the generic
// plan, at the average value, may do without it; the statement is then planned at a heavy value too.
import type { Capabilities } from '../db/capabilities.js';
import { statementEntries, type StatementEntry } from '../db/explain/explain.js';
import { clearStatements } from '../db/trust/statementTrust.js';
import { describeTopNode, nodesOf, planOn, type CostNode } from './costing/planCost.js';
import { parseOneStatement, walkTree } from '../sql/parse.js';
import type { Db, Queryable } from '../db/pool.js';
import type { TrustConfig } from '../config.js';
import { withHeavyVariants } from './analysis/skew.js';
import { pageSize, withPageSizes } from './analysis/pageSize.js';
import { parseWorkloadStatement } from './analysis/workload.js';

export interface StatementCheck {
  queryId: string;
  /** The plan names the index (or, on a partitioned table, one of its partitions' indexes). */
  usesIndex: boolean;
  totalCost: number | null;
  /** "Index Scan using users_email_idx on users", as the top of the plan reads. */
  topNode: string | null;
  /** Why the statement could not be planned (evicted from pg_stat_statements ...); null when it was. */
  problem: string | null;
  /** Why usesIndex is false although the index serves the statement when it runs (LIKE $n); null otherwise. */
  note: string | null;
}

const GENERIC_LIKE_NOTE =
  'Its generic plan cannot use a B-tree for LIKE $n (the prefix is known only with the value); the custom plans that run it ' +
  'with a value do: EXPLAIN it with a value to see.';

/** Plans each statement (generic plans for $n statements) and says whether it uses one of `indexNames`. */
export async function checkStatementsUse(
  db: Db,
  caps: Capabilities,
  trust: TrustConfig,
  queryIds: readonly string[],
  indexNames: ReadonlySet<string>,
  /** The index's method and predicate: a B-tree for LIKE $n, or a partial index for a $n, is only in custom plans. */
  index: { method: string; where: string | null },
): Promise<StatementCheck[]> {
  if (queryIds.length === 0) return [];
  const entries = await statementEntries(db, caps, queryIds);
  // the costing's planner: one client, read-only transactions rolled back, the pre-16 generic-plan pitfalls handled
  return db.withClient(async (client) => {
    const clearance = await clearStatements(
      client,
      trust,
      [...entries.values()].map(({ sql }) => ({ sql })),
    );
    const checks: StatementCheck[] = [];
    for (const queryId of queryIds) {
      const entry = entries.get(queryId);
      if (entry === undefined) {
        checks.push({
          queryId,
          usesIndex: false,
          totalCost: null,
          topNode: null,
          problem: 'pg_stat_statements no longer holds it (evicted or reset).',
          note: null,
        });
        continue;
      }
      const { sql } = entry;
      const planned = await planOn(client, caps, { sql, timeoutMs: PLAN_TIMEOUT_MS }, clearance);
      if (!planned.ok) {
        const problem = `It could not be planned: ${planned.reason}.`;
        checks.push({ queryId, usesIndex: false, totalCost: null, topNode: null, problem, note: null });
        continue;
      }
      const used = usesAny(planned.plan, indexNames);
      checks.push({
        queryId,
        usesIndex: used,
        totalCost: planned.plan['Total Cost'],
        topNode: describeTopNode(planned.plan),
        problem: null,
        note: used
          ? null
          : ((await asCostedNote(client, caps, trust, { queryId, ...entry }, indexNames)) ?? (await genericPlanNote(sql, index))),
      });
    }
    return checks;
  });
}

const PLAN_TIMEOUT_MS = 2_000;

const GENERIC_PARTIAL_NOTE =
  'Its generic plan cannot use a partial index for a $n (the predicate holds only for some values); the custom plans ' +
  'that run it with the value the index was chosen for do (pgscope sampled it from the running statements): EXPLAIN it with that value to see.';

const heavyNote = (column: string, share: number, averageShare: number) =>
  `Its generic plan, for an average value of ${column} (${percent(averageShare)} of the rows), does without it; planned for one of the ` +
  `column's most common values (${percent(share)} of the rows), as the calls about them run, it uses it.`;

const percent = (share: number) => `${share >= 0.01 ? (share * 100).toFixed(1) : (share * 100).toPrecision(1)} %`;

const pageSizeNote = (rows: number) =>
  `Its generic plan takes its LIMIT $n to fetch 10 % of the rows; planned with LIMIT ${rows}, the rows its calls return, as the ` +
  'calls run, it uses it.';

/**
 * The note when the statement, planned as the advisor costed it, uses the index: with its LIMIT $n at
 * the rows its calls return (analysis/pageSize.ts), then at a heavy value of a skewed column it
 * compares with $n (analysis/skew.ts); else null.
 */
async function asCostedNote(
  client: Queryable,
  caps: Capabilities,
  trust: TrustConfig,
  statement: StatementEntry & { queryId: string },
  indexNames: ReadonlySet<string>,
): Promise<string | null> {
  const parsed = await parseWorkloadStatement({
    queryId: statement.queryId,
    query: statement.sql,
    calls: statement.calls,
    totalTimeMs: 0,
    meanTimeMs: 0,
    rows: statement.rows,
  });
  if (!parsed) return null;
  const [paged = parsed] = await withPageSizes([parsed]);
  const rows = pageSize(statement);
  const usedBy = async (sql: string) => {
    const clearance = await clearStatements(client, trust, [{ sql }]);
    const planned = await planOn(client, caps, { sql, timeoutMs: PLAN_TIMEOUT_MS }, clearance);
    return planned.ok && usesAny(planned.plan, indexNames);
  };
  if (rows !== null && paged.query !== parsed.query && (await usedBy(paged.query))) return pageSizeNote(rows);
  const [withHeavy] = await withHeavyVariants(client, [paged]);
  const heavy = withHeavy?.heavy;
  return heavy && (await usedBy(heavy.query)) ? heavyNote(heavy.column, heavy.share, heavy.averageShare) : null;
}

/** Some node of the plan reads one of the indexes. */
const usesAny = (plan: CostNode, indexNames: ReadonlySet<string>) =>
  [...nodesOf(plan)].some((node) => node['Index Name'] !== undefined && indexNames.has(node['Index Name']));

/** Why a generic plan may leave out an index the statement's real executions use; null when nothing explains it. */
async function genericPlanNote(sql: string, index: { method: string; where: string | null }): Promise<string | null> {
  if (index.method === 'btree' && (await likesParameter(sql))) return GENERIC_LIKE_NOTE;
  if (index.where !== null && /\$\d/.test(sql)) return GENERIC_PARTIAL_NOTE;
  return null;
}

/** The statement matches something with LIKE (~~) against a pattern holding a $n. */
async function likesParameter(sql: string): Promise<boolean> {
  let found = false;
  walkTree((await parseOneStatement(sql)).node, (key, value) => {
    if (key !== 'A_Expr') return;
    const expression = value as { kind: string; name?: Array<{ String?: { sval: string } }>; rexpr?: unknown };
    const like = expression.kind === 'AEXPR_LIKE' || expression.name?.at(-1)?.String?.sval === '~~';
    if (like && JSON.stringify(expression.rexpr ?? null).includes('"ParamRef"')) found = true;
  });
  return found;
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
