// What-if costing with HypoPG: on ONE checked-out session (hypothetical indexes live in the
// backend's memory, seen only by plain EXPLAIN in that backend), each statement is planned once
// without hypothetical indexes, then each candidate is created hypothetically, its statements are
// planned again, and it is dropped before the next one. The pool resets HypoPG before the
// connection is pooled again (src/db/pool.ts); this module also drops what it creates, so a run
// that ends early leaves nothing either. A statement with a heavy variant (analysis/skew.ts) is
// planned twice each time, as it is and at the heavy value, and its cost is the two weighed.
// Verified on PostgreSQL 15 with HypoPG 1.3.1: an index on a partitioned parent is accepted and
// used on every leaf; GIN and GiST are refused ("access method is not supported"), so those
// candidates are estimated from pg_stats instead (HEURISTIC).
// So is a B-tree for LIKE $n: a generic plan cannot use one (the prefix is known only with the
// value), while the custom plans that run such statements do (literals, and prepared statements,
// whose generic plan would cost more than their custom ones); HypoPG would find it unused.
import { ErrorCode, PgscopeError } from '../../../errors.js';
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
import { estimateSizeBytes } from '../estimate/costModel.js';
import { HeuristicCoster } from '../estimate/estimateCoster.js';
import { CandidateDefinitions, createHypothetical, dropHypothetical, resetHypothetical } from '../candidateIndex.js';
import type { HypotheticalIndex } from '../candidateIndex.js';
import { planCost, planOn, usesIndex, weighedCost, type CostNode, type PlanOutcome } from '../planCost.js';
import { tableStatistics } from '../estimate/statistics.js';
import type { CandidateIndex, CostedCandidate, PlanCost, StatementCost, TableAccess, WorkloadStatement } from '../../types.js';
import { NO_EXTRA_TRUST, type TrustConfig } from '../../../config.js';

export interface WhatIfResult extends CostingResult {
  /** Candidates HypoPG cannot simulate (unsupported access method...), with the reason: for another path. */
  unsupported: Array<{ candidate: CandidateIndex; reason: string }>;
}

/**
 * A statement's plans: as it is (generic when it has $n) and, when it compares a skewed column with
 * $n (analysis/skew.ts), at a heavy value; its cost weighs the two by the heavy values' share.
 */
interface StatementPlans {
  generic: CostNode;
  heavy: CostNode | null;
  weight: number;
}

type PlansOutcome = { ok: true; plans: StatementPlans } | { ok: false; reason: string };

/** The statement's cost: the plans weighed (planCost.ts weighedCost), the generic one describing it. */
function costOf(plans: StatementPlans, usesCandidate: boolean, names?: ReadonlyMap<string, string>): PlanCost {
  const cost = planCost(plans.generic, usesCandidate, names);
  return plans.heavy ? weighedCost(cost, planCost(plans.heavy, usesCandidate, names), plans.weight) : cost;
}

const usesIndexIn = (plans: StatementPlans, indexName: string) =>
  usesIndex(plans.generic, indexName) || (plans.heavy !== null && usesIndex(plans.heavy, indexName));

/** One costing run's state on its session: the plans without hypothetical indexes, cached per statement. */
class Session {
  readonly skipped: CostingSkip[] = [];
  plansCosted = 0;
  private readonly before = new Map<string, PlansOutcome>();

  constructor(
    readonly client: Queryable,
    readonly caps: Capabilities,
    readonly hypopgSchema: string,
    readonly budget: Budget,
    private readonly planTimeoutMs: number,
    private readonly clearance: PlanClearance,
    readonly trust: TrustConfig,
    private readonly definitions: CandidateDefinitions,
  ) {}

  /** The candidate's definition, validated once per advisor run (see CandidateDefinitions). */
  define(candidate: CandidateIndex) {
    return this.definitions.define(this.client, candidate, this.caps.serverVersionNum, this.trust);
  }

  /** The statement's plans; a heavy variant that cannot be planned leaves the generic plan alone. */
  async plan(statement: WorkloadStatement): Promise<PlansOutcome> {
    const generic = await this.planText(statement.query);
    if (!generic.ok) return generic;
    const heavy = statement.heavy ? await this.planText(statement.heavy.query) : null;
    if (heavy === null || !heavy.ok) return { ok: true, plans: { generic: generic.plan, heavy: null, weight: 0 } };
    return { ok: true, plans: { generic: generic.plan, heavy: heavy.plan, weight: statement.heavy!.weight } };
  }

  private async planText(sql: string): Promise<PlanOutcome> {
    const timeoutMs = this.budget.planTimeoutMs(this.planTimeoutMs);
    const outcome = await planOn(this.client, this.caps, { sql, timeoutMs }, this.clearance);
    if (outcome.ok) this.plansCosted += 1;
    return outcome;
  }

  /** The plans without hypothetical indexes (planned once per statement; a failure is reported once). */
  async planBefore(statement: WorkloadStatement): Promise<StatementPlans | null> {
    let outcome = this.before.get(statement.queryId);
    if (!outcome) {
      outcome = await this.plan(statement);
      this.before.set(statement.queryId, outcome);
      if (!outcome.ok) this.skipped.push({ candidate: null, queryId: statement.queryId, reason: outcome.reason });
    }
    return outcome.ok ? outcome.plans : null;
  }
}

async function withSession<T>(
  db: Db,
  caps: Capabilities,
  workload: Pick<CostingWorkload, 'statements' | 'clearance'>,
  options: CostingOptions,
  definitions: CandidateDefinitions,
  work: (session: Session) => Promise<T>,
): Promise<T> {
  const schema = caps.hypopg.installed ? caps.hypopg.schema : null;
  if (schema === null) {
    throw new PgscopeError(
      ErrorCode.EXTENSION_NOT_LOADED,
      'What-if costing needs HypoPG in this database: install it (postgresql-<version>-hypopg), then CREATE EXTENSION hypopg.',
    );
  }
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const budget = new Budget(budgetMs);
  const planTimeoutMs = options.planTimeoutMs ?? DEFAULT_PLAN_TIMEOUT_MS;
  // statementTimeoutMs lets the pool's client-side deadline allow the EXPLAINs' own timeouts
  return db.withClient(
    async (client) => {
      const session = new Session(
        client,
        caps,
        schema,
        budget,
        planTimeoutMs,
        await clearanceOf(client, workload, options.trust),
        options.trust ?? NO_EXTRA_TRUST,
        definitions,
      );
      await resetHypothetical(client, schema);
      try {
        return await work(session);
      } finally {
        await resetHypothetical(client, schema);
      }
    },
    { statementTimeoutMs: planTimeoutMs },
  );
}

/** Each candidate alone, with HypoPG, over the statements it was generated for. */
export async function whatIfCosts(
  db: Db,
  caps: Capabilities,
  candidates: readonly CandidateIndex[],
  workload: Pick<CostingWorkload, 'statements' | 'clearance'>,
  options: CostingOptions = {},
  definitions = new CandidateDefinitions(),
): Promise<WhatIfResult> {
  return withSession(db, caps, workload, options, definitions, async (session) => {
    const byId = statementsById(workload);
    const costed: CostedCandidate[] = [];
    const unsupported: WhatIfResult['unsupported'] = [];
    let budgetExhausted = false;
    for (const candidate of candidates) {
      if (session.budget.spent) {
        budgetExhausted = true;
        session.skipped.push({ candidate, queryId: null, reason: budgetReason(options.budgetMs ?? DEFAULT_BUDGET_MS) });
        continue;
      }
      const outcome = await costOne(session, candidate, statementsFor(candidate, byId, session.skipped));
      if (outcome === null) continue;
      if ('unsupported' in outcome) unsupported.push({ candidate, reason: outcome.unsupported });
      else costed.push(outcome);
    }
    const { skipped, plansCosted } = session;
    return { costed, unsupported, skipped, plansCosted, elapsedMs: session.budget.elapsedMs(), budgetExhausted };
  });
}

type OneOutcome = CostedCandidate | { unsupported: string } | null;

/**
 * HypoPG (1.3.1, PostgreSQL 15) creates an expression index on each partition, but the planner
 * never uses it there, where it uses the real index: ((payload ->> 'order_id')) on a partitioned
 * events table came out NOT_USED_BY_PLANNER.
 */
const EXPRESSION_ON_PARTITIONS = "HypoPG's expression indexes on a partitioned table's partitions are not seen by the planner";

async function costOne(session: Session, candidate: CandidateIndex, statements: WorkloadStatement[]): Promise<OneOutcome> {
  const planned: Array<{ statement: WorkloadStatement; before: StatementPlans }> = [];
  for (const statement of statements) {
    const before = await session.planBefore(statement);
    if (before) planned.push({ statement, before });
  }
  if (planned.length === 0) {
    session.skipped.push({ candidate, queryId: null, reason: 'none of the statements it was generated for could be planned' });
    return null;
  }
  const definition = await session.define(candidate);
  if (!definition.ok) {
    session.skipped.push({ candidate, queryId: null, reason: definition.reason });
    return null;
  }
  if (definition.definition.partitioned && candidate.keys.some((key) => key.expression !== null))
    return { unsupported: EXPRESSION_ON_PARTITIONS };
  const created = await createHypothetical(session.client, session.hypopgSchema, definition.definition.sql);
  if (!created.ok && created.unsupported) return { unsupported: created.reason };
  if (!created.ok) {
    session.skipped.push({ candidate, queryId: null, reason: created.reason });
    return null;
  }
  const names = new Map([[created.index.indexName, definition.definition.name]]);
  try {
    const perStatement: StatementCost[] = [];
    for (const { statement, before } of planned) {
      const after = await session.plan(statement);
      if (!after.ok) {
        session.skipped.push({ candidate, queryId: statement.queryId, reason: after.reason });
        continue;
      }
      const uses = usesIndexIn(after.plans, created.index.indexName);
      perStatement.push({ queryId: statement.queryId, before: costOf(before, false), after: costOf(after.plans, uses, names) });
    }
    if (perStatement.length === 0) return null;
    const size = await sizeOf(session, candidate, definition.definition.partitioned, created.index);
    return { candidate, source: 'HYPOPG', sizeBytes: size.bytes, perStatement, ...(size.note ? { notes: [size.note] } : {}) };
  } finally {
    await dropHypothetical(session.client, session.hypopgSchema, created.index);
  }
}

/**
 * HypoPG sizes an index from its table's pg_class row: a partitioned parent has none until
 * someone runs ANALYZE on it (it answered 8192 bytes for 100,000 rows on PostgreSQL 15), so
 * there the leaves' statistics give the estimate when it is larger.
 */
async function sizeOf(session: Session, candidate: CandidateIndex, partitioned: boolean, index: HypotheticalIndex) {
  const size = index.sizeBytes;
  if (!partitioned) return { bytes: size, note: null };
  const columns = [...candidate.keys.flatMap((key) => key.column ?? []), ...candidate.include];
  const stats = await tableStatistics(session.client, candidate.schema, candidate.table, columns);
  const estimate = stats ? estimateSizeBytes(candidate, stats) : 0;
  if (estimate <= size) return { bytes: size, note: null };
  const note =
    `HypoPG sizes an index on ${candidate.schema}.${candidate.table} from the table's own statistics, ` +
    'which a partitioned table has only after a manual ANALYZE: the size is estimated from its partitions.';
  return { bytes: estimate, note };
}

/** All candidates hypothetical at once, over the union of their statements. */
export async function whatIfSetCost(
  db: Db,
  caps: Capabilities,
  candidates: readonly CandidateIndex[],
  workload: Pick<CostingWorkload, 'statements' | 'clearance'>,
  options: CostingOptions = {},
  definitions = new CandidateDefinitions(),
): Promise<SetCostingResult & { unsupported: number[] }> {
  return withSession(db, caps, workload, options, definitions, async (session) => {
    const byId = statementsById(workload);
    const statements = [...new Map(candidates.flatMap((c) => statementsFor(c, byId, session.skipped)).map((s) => [s.queryId, s])).values()];
    const before = new Map<string, StatementPlans>();
    for (const statement of statements) {
      const plan = await session.planBefore(statement);
      if (plan) before.set(statement.queryId, plan);
    }
    const created = await createAll(session, candidates);
    const perStatement: SetStatementCost[] = [];
    let budgetExhausted = false;
    for (const statement of statements) {
      const plan = before.get(statement.queryId);
      if (!plan) continue;
      if (session.budget.spent) {
        budgetExhausted = true;
        session.skipped.push({ candidate: null, queryId: statement.queryId, reason: budgetReason(options.budgetMs ?? DEFAULT_BUDGET_MS) });
        continue;
      }
      const after = await session.plan(statement);
      if (!after.ok) {
        session.skipped.push({ candidate: null, queryId: statement.queryId, reason: after.reason });
        continue;
      }
      const usedBy = created.flatMap((index, position) =>
        index && usesIndexIn(after.plans, index.hypothetical.indexName) ? [position] : [],
      );
      const names = new Map(created.flatMap((index) => (index ? [[index.hypothetical.indexName, index.name] as const] : [])));
      const cost = { queryId: statement.queryId, before: costOf(plan, false), after: costOf(after.plans, usedBy.length > 0, names) };
      perStatement.push({ ...cost, usedBy });
    }
    const sizesBytes: number[] = [];
    for (const [position, index] of created.entries()) {
      sizesBytes.push(index ? (await sizeOf(session, candidates[position]!, index.partitioned, index.hypothetical)).bytes : 0);
    }
    const unsupported = created.flatMap((index, position) => (index ? [] : [position]));
    const { skipped, plansCosted } = session;
    const elapsedMs = session.budget.elapsedMs();
    return { source: 'HYPOPG', perStatement, sizesBytes, plansCosted, skipped, elapsedMs, budgetExhausted, unsupported };
  });
}

/** Creates every candidate hypothetically; null where it could not be (the reason is in skipped). */
async function createAll(session: Session, candidates: readonly CandidateIndex[]) {
  const created: Array<{ name: string; partitioned: boolean; hypothetical: HypotheticalIndex } | null> = [];
  for (const candidate of candidates) {
    const definition = await session.define(candidate);
    const index = definition.ok ? await createHypothetical(session.client, session.hypopgSchema, definition.definition.sql) : definition;
    if (!index.ok) session.skipped.push({ candidate, queryId: null, reason: index.reason });
    created.push(definition.ok && index.ok ? { ...definition.definition, hypothetical: index.index } : null);
  }
  return created;
}

/** The HypoPG path of Coster; candidates HypoPG cannot simulate are estimated by the heuristic. */
export class WhatIfCoster implements Coster {
  readonly source = 'HYPOPG' as const;
  // recommend.ts makes one coster per advisor run: the definitions are kept for that run only
  private readonly definitions = new CandidateDefinitions();

  constructor(
    private readonly db: Db,
    private readonly caps: Capabilities,
  ) {}

  async costCandidates(
    candidates: readonly CandidateIndex[],
    workload: CostingWorkload,
    options: CostingOptions = {},
  ): Promise<CostingResult> {
    const byPattern = candidates.filter((candidate) => patternInHand(candidate, workload.accesses));
    const planned = candidates.filter((candidate) => !byPattern.includes(candidate));
    const result = await whatIfCosts(this.db, this.caps, planned, workload, options, this.definitions);
    result.unsupported.push(...byPattern.map((candidate) => ({ candidate, reason: PATTERN_REASON })));
    if (result.unsupported.length === 0) return withoutUnsupported(result);
    const budgetMs = Math.max(0, (options.budgetMs ?? DEFAULT_BUDGET_MS) - result.elapsedMs);
    const estimated = await new HeuristicCoster(this.db, this.caps).costCandidates(
      result.unsupported.map((entry) => entry.candidate),
      workload,
      { ...options, budgetMs },
    );
    const reasons = new Map(result.unsupported.map((entry) => [entry.candidate, entry.reason]));
    const noted = estimated.costed.map((costed) => ({
      ...costed,
      notes: [`${reasons.get(costed.candidate)}; its costs are estimated from pg_stats instead.`, ...(costed.notes ?? [])],
    }));
    return {
      costed: [...result.costed, ...noted],
      plansCosted: result.plansCosted + estimated.plansCosted,
      skipped: [...result.skipped, ...estimated.skipped],
      elapsedMs: result.elapsedMs + estimated.elapsedMs,
      budgetExhausted: result.budgetExhausted || estimated.budgetExhausted,
    };
  }

  async costSet(candidates: readonly CandidateIndex[], workload: CostingWorkload, options: CostingOptions = {}): Promise<SetCostingResult> {
    const { unsupported: _unsupported, ...result } = await whatIfSetCost(
      this.db,
      this.caps,
      candidates,
      workload,
      options,
      this.definitions,
    );
    return result;
  }
}

const PATTERN_REASON =
  "A generic plan cannot use a B-tree for LIKE $n (the prefix is known only with the value, as the custom plans that run the statement know it), so HypoPG's plan cannot judge it";

/** A B-tree whose statements search one of its keys with LIKE $n (a pattern not in the text): see PATTERN_REASON. */
function patternInHand(candidate: CandidateIndex, accesses: readonly TableAccess[]): boolean {
  if (candidate.method !== 'btree') return false;
  const keys = new Set(candidate.keys.map((key) => JSON.stringify([key.column, key.expression])));
  return accesses.some(
    (access) =>
      candidate.forQueryIds.includes(access.queryId) &&
      access.schema === candidate.schema &&
      access.table === candidate.table &&
      access.predicates.some((p) => p.use === 'PATTERN_PREFIX' && p.constant == null && keys.has(JSON.stringify([p.column, p.expression]))),
  );
}

function withoutUnsupported(result: WhatIfResult): CostingResult {
  const { unsupported: _unsupported, ...rest } = result;
  return rest;
}
