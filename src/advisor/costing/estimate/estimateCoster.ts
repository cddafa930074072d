// Costing without HypoPG: each statement's real current plan (plain EXPLAIN, generic for $n) is
// the cost before; the cost after is estimated from pg_stats, pg_class and the planner's cost
// settings (costModel.ts, statementEstimate.ts) for the way the statement uses the candidate's keys (the
// analysis step's TableAccess). Same CostedCandidate shape as the what-if path, source HEURISTIC.
// A candidate is validated as applyIndex would validate it before it is estimated (advisor/costing/candidateIndex.ts).
import type { Capabilities } from '../../../db/capabilities.js';
import type { PlanClearance } from '../../../db/trust/statementTrust.js';
import type { Db, Queryable } from '../../../db/pool.js';
import {
  Budget,
  budgetReason,
  clearanceOf,
  DEFAULT_BUDGET_MS,
  DEFAULT_PLAN_TIMEOUT_MS,
  statementsById,
  statementsFor,
  type Coster,
  type CostingOptions,
  type CostingResult,
  type CostingSkip,
  type CostingWorkload,
  type SetCostingResult,
  type SetStatementCost,
} from '../coster.js';
import { estimateSizeBytes, foldedColumn } from './costModel.js';
import { estimateAfter } from './statementEstimate.js';
import { candidateDefinition } from '../candidateIndex.js';
import { planCost, planOn, weighedCost, type CostNode, type PlanOutcome } from '../planCost.js';
import { costSettings, tableStatistics, type CostSettings, type TableStatistics } from './statistics.js';
import type { CandidateIndex, CostedCandidate, HeavyVariant, StatementCost, TableAccess, WorkloadStatement } from '../../types.js';
import { NO_EXTRA_TRUST, type TrustConfig } from '../../../config.js';

/** One run's reads, each done once: plans per statement, statistics per table. */
class Run {
  readonly skipped: CostingSkip[] = [];
  plansCosted = 0;
  private readonly plans = new Map<string, PlanOutcome>();
  private readonly tables = new Map<string, Promise<TableStatistics | null>>();

  constructor(
    readonly client: Queryable,
    readonly caps: Capabilities,
    readonly settings: CostSettings,
    readonly workload: CostingWorkload,
    /** Every candidate of the run: the statistics read for a table serve all of them. */
    readonly candidates: readonly CandidateIndex[],
    readonly budget: Budget,
    private readonly planTimeoutMs: number,
    private readonly clearance: PlanClearance,
    readonly trust: TrustConfig,
  ) {}

  async planBefore(statement: WorkloadStatement): Promise<CostNode | null> {
    let outcome = this.plans.get(statement.queryId);
    if (!outcome) {
      const request = { sql: statement.query, timeoutMs: this.budget.planTimeoutMs(this.planTimeoutMs) };
      outcome = await planOn(this.client, this.caps, request, this.clearance);
      this.plans.set(statement.queryId, outcome);
      if (outcome.ok) this.plansCosted += 1;
      else this.skipped.push({ candidate: null, queryId: statement.queryId, reason: outcome.reason });
    }
    return outcome.ok ? outcome.plan : null;
  }

  /** The plan at the statement's heavy value (analysis/skew.ts), once; null without one or when it cannot be planned. */
  async planHeavy(statement: WorkloadStatement): Promise<CostNode | null> {
    if (!statement.heavy) return null;
    const key = `${statement.queryId}\u0000heavy`;
    let outcome = this.plans.get(key);
    if (!outcome) {
      const request = { sql: statement.heavy.query, timeoutMs: this.budget.planTimeoutMs(this.planTimeoutMs) };
      outcome = await planOn(this.client, this.caps, request, this.clearance);
      this.plans.set(key, outcome);
      if (outcome.ok) this.plansCosted += 1;
    }
    return outcome.ok ? outcome.plan : null;
  }

  /** The table's statistics for the columns the workload's accesses to it and the candidate name (once per table per run). */
  statistics(candidate: CandidateIndex): Promise<TableStatistics | null> {
    const key = JSON.stringify([candidate.schema, candidate.table]);
    let stats = this.tables.get(key);
    if (!stats) {
      const columns = new Set<string>();
      for (const access of this.accessesTo(candidate)) {
        for (const p of [...access.predicates, ...access.sort]) if (p.column) columns.add(p.column);
      }
      for (const other of this.candidates) {
        if (other.schema !== candidate.schema || other.table !== candidate.table) continue;
        for (const k of other.keys) {
          const name = k.column ?? foldedColumn(k.expression);
          if (name) columns.add(name);
        }
        for (const column of other.include) columns.add(column);
      }
      stats = tableStatistics(this.client, candidate.schema, candidate.table, [...columns]);
      this.tables.set(key, stats);
    }
    return stats;
  }

  accessesTo(candidate: CandidateIndex, queryId?: string): TableAccess[] {
    return this.workload.accesses.filter(
      (a) => a.schema === candidate.schema && a.table === candidate.table && (queryId === undefined || a.queryId === queryId),
    );
  }
}

async function withRun<T>(
  db: Db,
  caps: Capabilities,
  run: { workload: CostingWorkload; candidates: readonly CandidateIndex[] },
  options: CostingOptions,
  work: (run: Run) => Promise<T>,
): Promise<T> {
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const planTimeoutMs = options.planTimeoutMs ?? DEFAULT_PLAN_TIMEOUT_MS;
  const budget = new Budget(budgetMs);
  return db.withClient(
    async (client) => {
      const clearance = await clearanceOf(client, run.workload, options.trust);
      const trust = options.trust ?? NO_EXTRA_TRUST;
      return work(new Run(client, caps, await costSettings(client), run.workload, run.candidates, budget, planTimeoutMs, clearance, trust));
    },
    { statementTimeoutMs: planTimeoutMs },
  );
}

/** Each candidate alone, estimated from statistics, over the statements it was generated for. */
export async function heuristicCosts(
  db: Db,
  caps: Capabilities,
  candidates: readonly CandidateIndex[],
  workload: CostingWorkload,
  options: CostingOptions = {},
): Promise<CostingResult> {
  return withRun(db, caps, { workload, candidates }, options, async (run) => {
    const byId = statementsById(workload);
    const costed: CostedCandidate[] = [];
    let budgetExhausted = false;
    for (const candidate of candidates) {
      if (run.budget.spent) {
        budgetExhausted = true;
        run.skipped.push({ candidate, queryId: null, reason: budgetReason(options.budgetMs ?? DEFAULT_BUDGET_MS) });
        continue;
      }
      const result = await estimateOne(run, candidate, statementsFor(candidate, byId, run.skipped));
      if (result) costed.push(result);
    }
    return { costed, plansCosted: run.plansCosted, skipped: run.skipped, elapsedMs: run.budget.elapsedMs(), budgetExhausted };
  });
}

async function estimateOne(run: Run, candidate: CandidateIndex, statements: WorkloadStatement[]): Promise<CostedCandidate | null> {
  const definition = await candidateDefinition(run.client, candidate, run.caps.serverVersionNum, run.trust);
  if (!definition.ok) {
    run.skipped.push({ candidate, queryId: null, reason: definition.reason });
    return null;
  }
  const stats = await run.statistics(candidate);
  if (!stats) {
    run.skipped.push({ candidate, queryId: null, reason: 'its table no longer exists' });
    return null;
  }
  const perStatement: StatementCost[] = [];
  for (const statement of statements) {
    const cost = await estimateStatement(run, candidate, definition.definition.name, stats, statement);
    if (cost) perStatement.push(cost);
  }
  if (perStatement.length === 0) return null;
  const notes = statisticsNotes(candidate, stats);
  const sizeBytes = estimateSizeBytes(candidate, stats);
  return { candidate, source: 'HEURISTIC', sizeBytes, perStatement, ...(notes.length > 0 ? { notes } : {}) };
}

/** What the estimate had to make do with, for the person reading the recommendation. */
export function statisticsNotes(candidate: CandidateIndex, stats: TableStatistics): string[] {
  const table = `${candidate.schema}.${candidate.table}`;
  if (stats.rows === 0) {
    return [`${table} has no row estimate (never analyzed nor vacuumed): run ANALYZE ${table} for a meaningful estimate.`];
  }
  if (!stats.combinedFromLeaves) return [];
  return [
    `${table} has no statistics of its own (autovacuum never analyzes a partitioned table; ANALYZE ${table} would): ` +
      "the estimate combines its partitions' statistics.",
  ];
}

/** The statement's cost before (its plan) and after (the best estimate over its accesses to the table). */
async function estimateStatement(
  run: Run,
  candidate: CandidateIndex,
  name: string,
  stats: TableStatistics,
  statement: WorkloadStatement,
): Promise<StatementCost | null> {
  const before = await run.planBefore(statement);
  if (!before) return null;
  const accesses = run.accessesTo(candidate, statement.queryId);
  if (accesses.length === 0) {
    run.skipped.push({ candidate, queryId: statement.queryId, reason: 'the analysis found no use of its table in the statement' });
    return null;
  }
  run.plansCosted += 1;
  // OR branches give one access each: the statement gains what its best branch gains (a lower bound)
  const estimate = (plan: CostNode, each: readonly TableAccess[]) =>
    each
      .map((access) => estimateAfter({ candidate, name, access, stats, settings: run.settings, before: plan }))
      .reduce((best, one) => (one.totalCost < best.totalCost ? one : best));
  const after = estimate(before, accesses);
  const heavy = await run.planHeavy(statement);
  if (!heavy || !statement.heavy) return { queryId: statement.queryId, before: planCost(before, false), after };
  const { weight } = statement.heavy;
  const heavyAfter = estimate(
    heavy,
    accesses.map((access) => atHeavyValue(access, statement.heavy!)),
  );
  return {
    queryId: statement.queryId,
    before: weighedCost(planCost(before, false), planCost(heavy, false), weight),
    after: weighedCost(after, heavyAfter, weight),
  };
}

/** The access with the heavy value as the constant its skewed column is compared with (the estimate looks it up in pg_stats). */
function atHeavyValue(access: TableAccess, heavy: HeavyVariant): TableAccess {
  const predicates = access.predicates.map((p) =>
    p.use === 'EQUALITY' && p.constant == null && `${access.schema}.${access.table}.${p.column}` === heavy.column
      ? { ...p, constant: heavy.value }
      : p,
  );
  return { ...access, predicates };
}

/** The HEURISTIC path of Coster. */
export class HeuristicCoster implements Coster {
  readonly source = 'HEURISTIC' as const;

  constructor(
    private readonly db: Db,
    private readonly caps: Capabilities,
  ) {}

  costCandidates(candidates: readonly CandidateIndex[], workload: CostingWorkload, options: CostingOptions = {}): Promise<CostingResult> {
    return heuristicCosts(this.db, this.caps, candidates, workload, options);
  }

  /**
   * Without a planner to try them together, a statement under a set is estimated as its best
   * candidate alone: the planner uses one index per table scan, except for a bitmap AND of two,
   * which this leaves out (pessimistic).
   */
  async costSet(candidates: readonly CandidateIndex[], workload: CostingWorkload, options: CostingOptions = {}): Promise<SetCostingResult> {
    const alone = await heuristicCosts(this.db, this.caps, candidates, workload, options);
    const byStatement = new Map<string, SetStatementCost>();
    for (const costed of alone.costed) {
      const position = candidates.indexOf(costed.candidate);
      for (const cost of costed.perStatement) {
        const best = byStatement.get(cost.queryId);
        if (best && best.after.totalCost <= cost.after.totalCost) continue;
        byStatement.set(cost.queryId, { ...cost, usedBy: cost.after.usesCandidate ? [position] : [] });
      }
    }
    const sizesBytes = candidates.map((candidate) => alone.costed.find((costed) => costed.candidate === candidate)?.sizeBytes ?? 0);
    const { plansCosted, skipped, elapsedMs, budgetExhausted } = alone;
    return { source: 'HEURISTIC', perStatement: [...byStatement.values()], sizesBytes, plansCosted, skipped, elapsedMs, budgetExhausted };
  }
}
