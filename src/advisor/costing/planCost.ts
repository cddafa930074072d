// The costing steps' EXPLAIN: one workload statement planned on a client the caller holds (so
// that the session's hypothetical indexes are visible), its total cost and top node read from the
// plan. As src/db/explain/explain.ts does: plain EXPLAIN only (HypoPG's indexes are seen by nothing else),
// inside a read-only transaction that is rolled back, generic plans for statements with $n
// parameters (EXPLAIN (GENERIC_PLAN) on PostgreSQL 16+, PREPARE + force_generic_plan below).
// Unlike explain(), a statement that cannot be planned is an outcome here, not an error: costing
// goes on with the other statements on the same session, so every step cleans up after itself.
// Only statements a PlanClearance lets through are planned: planning runs functions, and a
// statement that could run code pgscope does not trust is refused before anything reaches the server.
import { isPgscopeError } from '../../errors.js';
import type { Capabilities } from '../../db/capabilities.js';
import type { PlanClearance } from '../../db/trust/statementTrust.js';
import type { Queryable } from '../../db/pool.js';
import { paramCount, parseOneStatement, statementPhrase } from '../../sql/parse.js';
import { castTypedParameters } from '../../sql/typedParameters.js';
import { genericPlanStatements, UNTYPED_PARAMETER } from '../../db/explain/genericPlan.js';
import type { PlanCost } from '../types.js';
import { SqlState, SqlStateClass, inSqlStateClass, sqlStateOf } from '../../db/sqlState.js';

/** One node of EXPLAIN (FORMAT JSON): the keys costing reads. */
export interface CostNode {
  'Node Type': string;
  'Relation Name'?: string;
  /** With VERBOSE (scans). */
  Schema?: string;
  'Index Name'?: string;
  /** With VERBOSE: column names qualified by the relation's alias ("(t.a = $1)"). */
  Filter?: string;
  'Startup Cost': number;
  'Total Cost': number;
  'Plan Rows': number;
  /** A parallel scan's rows are per process (Gather's "Workers Planned" says how many share them). */
  'Parallel Aware'?: boolean;
  'Workers Planned'?: number;
  Plans?: CostNode[];
}

export type PlanOutcome = { ok: true; plan: CostNode } | { ok: false; reason: string };

// What EXPLAIN accepts (as in src/db/explain/explain.ts): anything else is skipped before reaching the server.
const EXPLAINABLE = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

// VERBOSE gives each scan its schema: costing matches scans to the candidate's table by schema and name.
const PLAIN_EXPLAIN = /* SQL */ `EXPLAIN (VERBOSE, FORMAT JSON) `;
const GENERIC_EXPLAIN = /* SQL */ `EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON) `;

const ROLLBACK_SQL = /* SQL */ `ROLLBACK`;

// standard_conforming_strings = on: the server splits the text as libpg-query did (see db/explain/explain.ts).
// enable_partition_pruning = off only for the PREPARE path: EXECUTE with NULL parameters would
// prune every partition at executor start-up, hiding the scans (and the index they use) while the
// Append's cost, computed at planning, stays the same. Normalized statements have $n where
// constants were, so the planning-time pruning this also turns off has little left to prune.
// The transaction and its settings go in one round trip (costing plans thousands of statements):
// SET takes no bind parameter, and every value here is pgscope's own, a whole number of
// milliseconds or one of two fixed words, never text from the workload.
function beginSql(timeoutMs: number, prepared: boolean): string {
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new Error(`planOn: bad statement_timeout ${timeoutMs}`);
  return [
    /* SQL */ `BEGIN TRANSACTION READ ONLY`,
    /* SQL */ `SET LOCAL statement_timeout = ${timeoutMs}`,
    /* SQL */ `SET LOCAL plan_cache_mode = ${prepared ? 'force_generic_plan' : 'auto'}`,
    /* SQL */ `SET LOCAL standard_conforming_strings = on`,
    /* SQL */ `SET LOCAL enable_partition_pruning = ${prepared ? 'off' : 'on'}`,
  ].join('; ');
}

const PREPARED_NAME = 'pgscope_costing';

export interface PlanRequest {
  /** The statement's text (one statement; pg_stat_statements' normalized text with $n). */
  sql: string;
  /** statement_timeout of this EXPLAIN, milliseconds (planning only). */
  timeoutMs: number;
}

/** Plans `request.sql` on `client` (plain EXPLAIN, generic when it has $n) if `clearance` lets it; never throws for the statement's own faults. */
export async function planOn(client: Queryable, caps: Capabilities, request: PlanRequest, clearance: PlanClearance): Promise<PlanOutcome> {
  const refusal = clearance.refusal(request.sql);
  if (refusal !== null) return { ok: false, reason: refusal };
  const statement = await explainable(request.sql);
  if (!statement.ok) return statement;
  const { sql, parameters } = statement;
  const prepared = parameters > 0 && caps.serverVersionNum < 160000;
  const begin = beginSql(Math.max(1, Math.round(request.timeoutMs)), prepared);
  const generic = prepared ? genericPlanStatements(PREPARED_NAME, parameters, 'VERBOSE, FORMAT JSON') : null;
  const first = await planOnce(client, sql, parameters, begin, generic, false);
  if (!first.ok && generic && first.state === UNTYPED_PARAMETER) return planOnce(client, sql, parameters, begin, generic, true);
  return first;
}

type Explainable = { ok: true; sql: string; parameters: number } | { ok: false; reason: string };

// Costing plans each statement before and with every candidate: the text is cast and parsed once.
// The answer depends on the text alone; the memo is emptied when it grows past a few workloads.
const explainables = new Map<string, Promise<Explainable>>();
const MAX_REMEMBERED = 5_000;

function explainable(text: string): Promise<Explainable> {
  let found = explainables.get(text);
  if (!found) {
    if (explainables.size >= MAX_REMEMBERED) explainables.clear();
    found = readExplainable(text);
    explainables.set(text, found);
    // an unexpected failure is not remembered: the next call meets it afresh
    found.catch(() => explainables.delete(text));
  }
  return found;
}

async function readExplainable(text: string): Promise<Explainable> {
  // interval $2, as pg_stat_statements writes interval '30 days', does not plan: $2::interval does
  const sql = await castTypedParameters(text);
  try {
    const statement = await parseOneStatement(sql);
    if (!EXPLAINABLE.has(statement.kind)) {
      return { ok: false, reason: `it is ${statementPhrase(statement.kind)}, which has no plan to cost` };
    }
    return { ok: true, sql, parameters: paramCount(statement.node) };
  } catch (error) {
    if (!isPgscopeError(error)) throw error;
    return { ok: false, reason: 'pgscope could not parse it as one statement' };
  }
}

/** One EXPLAIN in its own read-only transaction, opened by `begin`; `generic` null: EXPLAIN directly (generic on 16+). */
async function planOnce(
  client: Queryable,
  sql: string,
  parameters: number,
  begin: string,
  generic: ReturnType<typeof genericPlanStatements> | null,
  typed: boolean,
): Promise<PlanOutcome & { state?: string }> {
  let preparedOk = false;
  try {
    await client.query(begin);
    if (generic) {
      await client.query((typed ? generic.prepareTyped : generic.prepare) + sql);
      preparedOk = true;
      return { ok: true, plan: rootNode(await client.query(generic.explainExecute)) };
    }
    return { ok: true, plan: rootNode(await client.query((parameters > 0 ? GENERIC_EXPLAIN : PLAIN_EXPLAIN) + sql)) };
  } catch (error) {
    return { ok: false, reason: planFailure(error), state: sqlStateOf(error) };
  } finally {
    // one round trip: DEALLOCATE runs after the ROLLBACK, outside the transaction
    await client.query(preparedOk && generic ? `${ROLLBACK_SQL}; ${generic.deallocate}` : ROLLBACK_SQL);
  }
}

function rootNode(rows: unknown[]): CostNode {
  return (rows[0] as { 'QUERY PLAN': Array<{ Plan: CostNode }> })['QUERY PLAN'][0]!.Plan;
}

// Connection-level failures end the run (every later statement would fail the same way); the
// statement's own failures are a reason to skip it. The server's message is not kept: it can
// carry data (see db/explain/explain.ts), the SQLSTATE says enough to look into it.
const FATAL_CLASSES = [SqlStateClass.CONNECTION_EXCEPTION, SqlStateClass.INTERNAL_ERROR];
// The server ended the session: shutdown, crash, start-up, database dropped, idle_session_timeout.
const SESSION_ENDED: readonly string[] = [
  SqlState.ADMIN_SHUTDOWN,
  SqlState.CRASH_SHUTDOWN,
  SqlState.CANNOT_CONNECT_NOW,
  SqlState.DATABASE_DROPPED,
  SqlState.IDLE_SESSION_TIMEOUT,
];

function planFailure(error: unknown): string {
  const state = sqlStateOf(error);
  if (state === SqlState.LOCK_NOT_AVAILABLE) return 'it waited too long for a lock on a table it reads (SQLSTATE 55P03)';
  if (isPgscopeError(error) && error.code === 'QUERY_TIMEOUT') return 'planning it took longer than the time left for costing';
  if (state === undefined || inSqlStateClass(state, ...FATAL_CLASSES) || SESSION_ENDED.includes(state)) throw error;
  return `PostgreSQL could not plan it (SQLSTATE ${state})`;
}

/** Depth first, parents before children. */
export function* nodesOf(node: CostNode): Generator<CostNode> {
  yield node;
  for (const child of node.Plans ?? []) yield* nodesOf(child);
}

/** The plan uses an index named `indexName` in some node (HypoPG's name for a hypothetical one). */
export function usesIndex(plan: CostNode, indexName: string): boolean {
  for (const node of nodesOf(plan)) if (node['Index Name'] === indexName) return true;
  return false;
}

/** A node that reads a table (ModifyTable names the table it writes, above the scan that finds the rows). */
export const isScan = (node: CostNode) => node['Relation Name'] !== undefined && node['Node Type'] !== 'ModifyTable';

/**
 * "Seq Scan on users", "Limit > Index Scan using users_email_idx (hypothetical) on users": the
 * root node, then a scan below it (the one using the hypothetical index, else the first) when the
 * root is not a scan itself. `names` maps
 * HypoPG's session-local names ("<13556>btree_users_email") to the names the index would get.
 */
export function describeTopNode(plan: CostNode, names: ReadonlyMap<string, string> = new Map()): string {
  if (isScan(plan)) return describeNode(plan, names);
  // in a join, the scan that reads through the hypothetical index tells most
  const scans = [...nodesOf(plan)].filter(isScan);
  const hypothetical = scans.find((scan) => [...nodesOf(scan)].some((node) => names.has(node['Index Name'] ?? '')));
  const scan = hypothetical ?? scans[0];
  return scan ? `${describeNode(plan, names)} > ${describeNode(scan, names)}` : describeNode(plan, names);
}

export function describeNode(node: CostNode, names: ReadonlyMap<string, string> = new Map()): string {
  const index = node['Index Name'];
  const shown = index === undefined ? '' : names.has(index) ? ` using ${names.get(index)} (hypothetical)` : ` using ${index}`;
  return `${node['Node Type']}${shown}${node['Relation Name'] ? ` on ${node['Relation Name']}` : ''}`;
}

/** The plan's cost as the costing types carry it. */
export function planCost(plan: CostNode, usesCandidate: boolean, names?: ReadonlyMap<string, string>): PlanCost {
  return { totalCost: plan['Total Cost'], topNode: describeTopNode(plan, names), usesCandidate };
}

/**
 * A statement's cost from its generic plan and its plan at a skewed column's heavy value
 * (advisor/analysis/skew.ts): the two weighed by the heavy values' share of the rows, described by
 * the generic plan; it uses the candidate when either plan does.
 */
export function weighedCost(generic: PlanCost, heavy: PlanCost, weight: number): PlanCost {
  return {
    ...generic,
    totalCost: (1 - weight) * generic.totalCost + weight * heavy.totalCost,
    usesCandidate: generic.usesCandidate || heavy.usesCandidate,
  };
}
