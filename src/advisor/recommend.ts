// The index advisor, end to end: the workload's statements and what they ask of each table
// (advisor/analysis/analyze.ts), candidates costed with HypoPG or estimated from pg_stats (advisor/costing/createCoster.ts), a greedy
// selection over the whole workload (select.ts), then each chosen index validated by applyIndex's
// own planner, so that its SQL is exactly what applyRecommendation would run.
import { performance } from 'node:perf_hooks';
import { planIndex } from '../actions/index/definition.js';
import type { Capabilities } from '../db/capabilities.js';
import type { Db } from '../db/pool.js';
import { isPgscopeError } from '../errors.js';
import { analyzeWorkload } from './analysis/analyze.js';
import { loadStatementWrites, loadWorkloadWindow } from './analysis/writes.js';
import { createCoster } from './costing/createCoster.js';
import { Budget, DEFAULT_BUDGET_MS, type CostingSkip } from './costing/coster.js';
import { encodeRecommendationId } from './recommendationId.js';
import { describeRecommendation, reasonOf, type RecommendationReason } from './explainRecommendation.js';
import { tableKey, withPrefixStatements } from './select.js';
import { selectTogether } from './selectTogether.js';
import type { CandidateIndex, PlanCost, RejectionReason, WorkloadStatement, WorkloadWindow } from './types.js';
import { loadTableWrites, redundantIndexes } from './tableFacts.js';
import type { TrustConfig } from '../config.js';
import type { TableName } from './analysis/exclusions.js';
import type { ConstantSamples } from './analysis/samples.js';

export interface RecommendOptions {
  /** The share of a statement's cost an index must save on it to count (0 to 1). Default {@link DEFAULT_MIN_IMPROVEMENT}. */
  minImprovement?: number;
  /** Recommendations returned, best first. Default {@link DEFAULT_LIMIT}. */
  limit?: number;
  schema?: string | null;
  table?: string | null;
  /** Statements whose mean time is below this many milliseconds are left out. Default {@link DEFAULT_MIN_MEAN_TIME_MS}. */
  minMeanTimeMs?: number;
  /** Tables given no candidate, names as the catalog has them; statements reading only these are skipped. Default: none. */
  excludeTables?: readonly TableName[];
  /** Statements analyzed, heaviest first. Default 500. */
  maxStatements?: number;
  /**
   * Wall-clock budget of the analysis and the costing together, milliseconds, counted from the
   * start of the run; the costing gets what the analysis left, and never less than a quarter of it.
   * Default 7,000.
   */
  budgetMs?: number;
  /** Whose code planning may run besides PostgreSQL's, superusers' and pgscope's own role's (config.trust); absent: nobody else's. */
  trust?: TrustConfig;
  /** The constants statements were seen running with (the server's sampler): partial indexes for a dominant one. */
  samples?: ConstantSamples;
}

// The advisor's defaults, also those of the indexRecommendations arguments (src/schema/indexRecommendation.ts).
export const DEFAULT_MIN_IMPROVEMENT = 0.1;
export const DEFAULT_LIMIT = 20;
/** 0: every statement of the workload counts, however fast. */
export const DEFAULT_MIN_MEAN_TIME_MS = 0;

/** The share of the budget the costing gets however long the analysis took: some advice, if less of it, rather than none. */
const MIN_COSTING_SHARE = 0.25;

export interface RecommendedStatement {
  statement: WorkloadStatement;
  before: PlanCost;
  after: PlanCost;
}

export interface Recommendation {
  id: string;
  candidate: CandidateIndex;
  name: string;
  sql: string;
  source: 'HYPOPG' | 'HEURISTIC';
  sizeBytes: number;
  statements: RecommendedStatement[];
  /** calls x estimated cost saved per call, summed over its statements (planner cost units). */
  benefit: number;
  writeOverhead: number;
  reason: RecommendationReason;
  sentence: string;
  /** Existing indexes whose keys lead this one's: once it exists they serve nothing it does not. */
  makesRedundant: string[];
}

export interface RejectedIndex {
  candidate: CandidateIndex;
  reason: RejectionReason | 'INVALID_DEFINITION';
  detail: string;
}

export interface AdvisorReport {
  recommendations: Recommendation[];
  rejected: RejectedIndex[];
  statementsAnalyzed: number;
  /** Statements left out of the workload for a mean time below minMeanTimeMs. */
  statementsBelowMinMeanTime: number;
  candidatesConsidered: number;
  plansCosted: number;
  source: 'HYPOPG' | 'HEURISTIC';
  budgetExhausted: boolean;
  skipped: CostingSkip[];
  /** Where reads and writes were counted, and since when. */
  window: WorkloadWindow;
  /** What statements ask that no candidate could give, and what would (advisor/analysis/patternNotes.ts). */
  notes: string[];
  durationMs: number;
}

export async function recommendIndexes(db: Db, caps: Capabilities, options: RecommendOptions = {}): Promise<AdvisorReport> {
  const started = performance.now();
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  // one budget for the whole run: a slow analysis (a busy server) takes its time off the costing's
  const budget = new Budget(budgetMs);
  const minImprovement = options.minImprovement ?? DEFAULT_MIN_IMPROVEMENT;
  const analysis = await analyzeWorkload(db, caps, {
    limit: options.maxStatements,
    trust: options.trust,
    minMeanTimeMs: options.minMeanTimeMs ?? DEFAULT_MIN_MEAN_TIME_MS,
    excludeTables: options.excludeTables,
    samples: options.samples,
  });
  const wanted = (c: { schema: string; table: string }) =>
    (!options.schema || c.schema === options.schema) && (!options.table || c.table === options.table);
  const candidates = withPrefixStatements(analysis.candidates.filter(wanted));
  const coster = createCoster(db, caps);
  const costingBudgetMs = Math.max(budget.remainingMs(), Math.round(budgetMs * MIN_COSTING_SHARE));
  const costing = await coster.costCandidates(candidates, analysis, { budgetMs: costingBudgetMs, trust: options.trust });
  const statements = new Map(analysis.statements.map((statement) => [statement.queryId, statement]));
  const calls = new Map(analysis.statements.map((statement) => [statement.queryId, statement.calls]));
  const statementWrites = await loadStatementWrites(db, caps);
  const writes = await loadTableWrites(db, statementWrites.byTable, candidates);
  // the chosen set costed together, within what is left of the budget
  const selection = await selectTogether({
    costed: costing.costed,
    calls,
    writes,
    minImprovement,
    coster,
    workload: analysis,
    options: { budgetMs: Math.max(0, budget.remainingMs()), trust: options.trust },
  });

  const rejected: RejectedIndex[] = [
    ...analysis.rejected
      .filter((r) => wanted(r.candidate))
      .map((r) => ({ candidate: r.candidate, reason: r.reason, detail: coveredDetail(r) })),
    ...selection.rejected,
  ];
  const recommendations: Recommendation[] = [];
  for (const chosen of selection.selected) {
    if (recommendations.length >= (options.limit ?? DEFAULT_LIMIT)) break;
    const { candidate } = chosen.costed;
    const planned = await validated(db, caps, candidate, options.trust);
    if ('problem' in planned) {
      rejected.push({ candidate, reason: 'INVALID_DEFINITION', detail: planned.problem });
      continue;
    }
    const helped = chosen.helps.flatMap((cost) => {
      const statement = statements.get(cost.queryId);
      if (!statement) return [];
      // shown as pg_stat_statements keeps it: the constants the analysis put back were only planned
      const { keptQuery, ...shown } = statement;
      return [{ statement: { ...shown, query: keptQuery ?? statement.query }, before: cost.before, after: cost.after }];
    });
    const makesRedundant = await redundantIndexes(db, candidate);
    const recommendation = {
      id: encodeRecommendationId({ ...candidate, forQueryIds: helped.map((h) => h.statement.queryId) }),
      candidate,
      name: planned.name,
      sql: planned.sql,
      source: chosen.costed.source,
      sizeBytes: chosen.costed.sizeBytes,
      statements: helped,
      benefit: chosen.benefit,
      writeOverhead: chosen.writeOverhead,
      reason: reasonOf(candidate, helped, analysis.accesses),
      makesRedundant,
    };
    recommendations.push({ ...recommendation, sentence: describeRecommendation(recommendation, tableKey(candidate)) });
  }
  return {
    recommendations,
    rejected,
    statementsAnalyzed: analysis.statements.length,
    statementsBelowMinMeanTime: analysis.belowMinMeanTime,
    candidatesConsidered: candidates.length,
    plansCosted: costing.plansCosted + selection.plansCosted,
    source: coster.source,
    budgetExhausted: costing.budgetExhausted || selection.budgetExhausted,
    // statements set aside (for trust, then for excludeTables) first: they were neither analyzed nor planned
    skipped: [...[...analysis.untrusted, ...analysis.excluded].map((statement) => ({ candidate: null, ...statement })), ...costing.skipped],
    window: await loadWorkloadWindow(db, caps, statementWrites.oneOff),
    notes: analysis.notes.filter(wanted).map((note) => note.sentence),
    durationMs: performance.now() - started,
  };
}

/** The candidate through applyIndex's planner: the SQL applyRecommendation will run, or why it cannot. */
async function validated(
  db: Db,
  caps: Capabilities,
  candidate: CandidateIndex,
  trust: TrustConfig | undefined,
): Promise<{ name: string; sql: string } | { problem: string }> {
  try {
    const plan = await planIndex(db, { ...candidate, columns: candidate.keys }, { versionNum: caps.serverVersionNum }, { trust });
    if (plan.existing) return { problem: `An identical index exists already: ${plan.existing.schema}.${plan.existing.name}.` };
    return { name: plan.name, sql: plan.definitionSql };
  } catch (error) {
    if (!isPgscopeError(error)) throw error;
    return { problem: error.message };
  }
}

function coveredDetail(rejected: { reason: RejectionReason; coveredBy: string | null; candidate: CandidateIndex }): string {
  if (rejected.reason === 'COVERED_BY_EXISTING' && rejected.coveredBy)
    return `The existing index ${rejected.candidate.schema}.${rejected.coveredBy} serves these keys already.`;
  if (rejected.reason === 'TABLE_TOO_SMALL') return 'The table is small enough that a sequential scan is as fast.';
  return rejected.reason;
}
