// Selection's second look, with the planner. The greedy step (select.ts) costs each candidate
// alone, but the planner uses the chosen indexes together, and alone-costs miss two things:
//  - indexes that work together. For `book JOIN review ON ... WHERE book.author_id = $1`,
//    review(book_id) alone takes the statement from 22,603 to 2,322 cost units, book(author_id)
//    alone only to 20,756 (the join still hashes all of review), both together to 476. Each
//    candidate the greedy step left out, that the planner used on a statement the chosen set
//    serves, is costed again with the set in place, and chosen when it pays then.
//  - indexes the set made useless: one chosen early for a statement that a wider one chosen later
//    serves as well. Each chosen index is costed out of the set over its statements; when they
//    cost about the same without it, it goes.
// With HypoPG the set is planned together. The pg_stats estimate cannot see two indexes helping
// one plan (its costSet takes each statement's best candidate), so there only the second check
// changes anything. HypoPG simulates no GIN or GiST index: a chosen one is left out of the planned
// set and counts by its own estimate, the planner taking the cheaper (estimatedOn).
import {
  Budget,
  DEFAULT_BUDGET_MS,
  type Coster,
  type CostingOptions,
  type CostingWorkload,
  type SetStatementCost,
} from './costing/coster.js';
import {
  helpsEnough,
  selectIndexes,
  tableKey,
  writeOverhead,
  type Selection,
  type SelectionInput,
  type SelectedIndex,
  type SelectionRejection,
} from './select.js';
import type { CandidateIndex, CostedCandidate, StatementCost } from './types.js';

export interface TogetherInput extends SelectionInput {
  coster: Coster;
  workload: CostingWorkload;
  /** budgetMs: what is left of the advisor's costing budget for these extra plans. */
  options: CostingOptions;
}

export interface TogetherSelection extends Selection {
  plansCosted: number;
  /** The budget ran out before every check was made: the greedy step's choice stands where it did. */
  budgetExhausted: boolean;
}

/** Rounds of adding a partner: each round costs every contender once more. */
const MAX_PARTNERS = 10;

export async function selectTogether(input: TogetherInput): Promise<TogetherSelection> {
  const greedy = selectIndexes(input);
  const run = new SetRun(input);
  const verdicts = new Map<CostedCandidate, SelectionRejection>();
  const selected = await addPartners(run, greedy.selected, verdicts);
  const kept = await dropUseless(run, selected, verdicts);
  const rejected = input.costed
    .filter((costed) => !kept.some((chosen) => chosen.costed === costed))
    .map((costed) => verdicts.get(costed) ?? greedy.rejected.find((r) => r.candidate === costed.candidate)!);
  return { selected: kept, rejected, plansCosted: run.plansCosted, budgetExhausted: run.budgetExhausted };
}

/** costSet over the given statements only, keeping the plans count and the budget. */
class SetRun {
  plansCosted = 0;
  budgetExhausted = false;
  private readonly budget: Budget;

  constructor(readonly input: TogetherInput) {
    this.budget = new Budget(input.options.budgetMs ?? DEFAULT_BUDGET_MS);
  }

  /**
   * The statements' costs with `candidates` all in place, each candidate over those of
   * `queryIds` it was costed for alone (the estimate costs a candidate only on its own table's
   * statements); null when the budget is spent.
   */
  async cost(candidates: readonly CostedCandidate[], queryIds: ReadonlySet<string>) {
    if (!candidates.every((costed) => this.canCost(costed))) throw new Error('selectTogether: a candidate this coster cannot plan');
    if (this.budget.spent) {
      this.budgetExhausted = true;
      return null;
    }
    const over = candidates.map((costed) => ({
      ...costed.candidate,
      forQueryIds: costed.perStatement.map((cost) => cost.queryId).filter((id) => queryIds.has(id)),
    }));
    const result = await this.input.coster.costSet(over, this.input.workload, {
      ...this.input.options,
      budgetMs: Math.max(1, this.budget.remainingMs()),
    });
    this.plansCosted += result.plansCosted;
    if (result.budgetExhausted) this.budgetExhausted = true;
    return new Map(result.perStatement.map((cost) => [cost.queryId, cost]));
  }

  /**
   * Whether the coster plans this candidate as it does the others: HypoPG simulates no GIN or GiST
   * index (those were estimated from pg_stats), so in a set it would be missing, not costed.
   */
  canCost(costed: CostedCandidate): boolean {
    return costed.source === this.input.coster.source;
  }

  calls(queryId: string): number {
    return this.input.calls.get(queryId) ?? 0;
  }
}

/** The statements the chosen indexes serve, by their own costs. */
const servedBy = (selected: readonly SelectedIndex[]) => new Set(selected.flatMap((chosen) => chosen.helps.map((cost) => cost.queryId)));

const usedOn = (costed: CostedCandidate) => costed.perStatement.filter((cost) => cost.after.usesCandidate).map((cost) => cost.queryId);

/** Candidates left out that, costed with the chosen indexes in place on their statements, pay after all. */
async function addPartners(run: SetRun, greedy: readonly SelectedIndex[], verdicts: Map<CostedCandidate, SelectionRejection>) {
  const selected = [...greedy];
  const { input } = run;
  let changed: ReadonlySet<string> | null = null; // the statements the last partner helps: only their contenders are costed again
  for (let round = 0; round < MAX_PARTNERS; round++) {
    const served = servedBy(selected);
    const contenders = input.costed.filter((costed) => {
      if (!run.canCost(costed) || selected.some((chosen) => chosen.costed === costed)) return false;
      const ids = usedOn(costed);
      return ids.some((id) => served.has(id)) && (changed === null || !verdicts.has(costed) || ids.some((id) => changed!.has(id)));
    });
    if (contenders.length === 0) break;
    const chosen = selected.map((each) => each.costed).filter((costed) => run.canCost(costed));
    const now = await run.cost(chosen, new Set(contenders.flatMap(usedOn)));
    if (!now) break;
    let pick: SelectedIndex | null = null;
    for (const costed of contenders) {
      const together = await run.cost([costed, ...chosen], new Set(usedOn(costed)));
      if (!together) break;
      const helps: StatementCost[] = [];
      let benefit = 0;
      for (const cost of together.values()) {
        const floor = estimatedOn(selected, run, cost.queryId);
        const current = Math.min(now.get(cost.queryId)?.after.totalCost ?? cost.before.totalCost, floor);
        const after = Math.min(cost.after.totalCost, floor);
        const otherTable = partnersOn(selected, [cost.queryId]).every((partner) => tableKey(partner) !== tableKey(costed.candidate));
        if (!cost.usedBy.includes(0) || !helpsEnough(cost.before.totalCost, current, after, input.minImprovement, otherTable)) {
          continue;
        }
        helps.push({ queryId: cost.queryId, before: cost.before, after: cost.after });
        benefit += run.calls(cost.queryId) * (current - after);
      }
      const overhead = writeOverhead(costed.candidate, input.writes);
      if (helps.length > 0 && benefit > overhead) {
        // it pays: no verdict, so that the next round costs it again if another is picked first
        verdicts.delete(costed);
        if (!pick || benefit - overhead > pick.benefit - pick.writeOverhead) pick = { costed, benefit, writeOverhead: overhead, helps };
        continue;
      }
      const partners = partnersOn(selected, usedOn(costed));
      verdicts.set(costed, withTheSet(costed.candidate, helps.length > 0, benefit, overhead, partners, input.minImprovement));
    }
    if (!pick) break;
    selected.push(pick);
    verdicts.delete(pick.costed);
    changed = new Set(pick.helps.map((cost) => cost.queryId));
  }
  return selected;
}

/**
 * What the chosen indexes the coster cannot plan (a GIN index beside HypoPG's B-trees) cost the
 * statement by their own estimates, the cheapest of them; Infinity when none serves it. The planner
 * takes the cheaper of that and the planned set's plan, so a candidate only pays below it.
 */
const estimatedOn = (selected: readonly SelectedIndex[], run: SetRun, queryId: string) =>
  Math.min(
    ...selected
      .filter((chosen) => !run.canCost(chosen.costed))
      .flatMap((chosen) => chosen.helps.filter((cost) => cost.queryId === queryId).map((cost) => cost.after.totalCost)),
  );

/** The chosen indexes that serve any of the statements. */
const partnersOn = (selected: readonly SelectedIndex[], queryIds: readonly string[]) =>
  selected.filter((chosen) => chosen.helps.some((cost) => queryIds.includes(cost.queryId))).map((chosen) => chosen.costed.candidate);

/** Chosen indexes, least benefit first, dropped when the others serve their statements about as well. */
async function dropUseless(run: SetRun, selected: readonly SelectedIndex[], verdicts: Map<CostedCandidate, SelectionRejection>) {
  const costable = selected.filter((chosen) => run.canCost(chosen.costed));
  if (costable.length === 0 || selected.length < 2) return [...selected];
  const { input } = run;
  const withAll = await run.cost(
    costable.map((chosen) => chosen.costed),
    servedBy(costable),
  );
  if (!withAll) return [...selected];
  const kept = [...selected];
  for (const chosen of [...costable].sort((a, b) => a.benefit - b.benefit)) {
    const others = kept.filter((other) => other !== chosen && run.canCost(other.costed));
    const queryIds = new Set(chosen.helps.map((cost) => cost.queryId));
    const without =
      others.length > 0
        ? await run.cost(
            others.map((other) => other.costed),
            queryIds,
          )
        : new Map<string, SetStatementCost>();
    if (!without) break;
    let stillHelps = false;
    let benefit = 0;
    let unknown = false;
    for (const id of queryIds) {
      const withIt = withAll.get(id);
      // no evidence (the statement could not be planned again): it stays
      if (!withIt) {
        unknown = true;
        continue;
      }
      // no other index costed on the statement: it costs what it did without any, or what the uncostable ones cost it
      const floor = estimatedOn(kept, run, id);
      const withoutIt = Math.min(without.get(id)?.after.totalCost ?? withIt.before.totalCost, floor);
      const withItCost = Math.min(withIt.after.totalCost, floor);
      const otherTable = partnersOn(others, [id]).every((other) => tableKey(other) !== tableKey(chosen.costed.candidate));
      if (helpsEnough(withIt.before.totalCost, withoutIt, withItCost, input.minImprovement, otherTable)) stillHelps = true;
      benefit += run.calls(id) * Math.max(0, withoutIt - withItCost);
    }
    const overhead = writeOverhead(chosen.costed.candidate, input.writes);
    if (unknown || (stillHelps && benefit > overhead)) continue;
    kept.splice(kept.indexOf(chosen), 1);
    for (const id of queryIds) {
      const withoutIt = without.get(id);
      if (withoutIt) withAll.set(id, withoutIt);
      else withAll.delete(id);
    }
    verdicts.set(chosen.costed, {
      candidate: chosen.costed.candidate,
      reason: 'DOMINATED',
      detail: `With ${describeAll(partnersOn(others, [...queryIds]))} in place, its statements cost about the same without it.`,
    });
  }
  return kept;
}

function withTheSet(
  candidate: CandidateIndex,
  helpsSome: boolean,
  benefit: number,
  overhead: number,
  partners: readonly CandidateIndex[],
  minImprovement: number,
): SelectionRejection {
  const set = describeAll(partners);
  if (helpsSome) {
    return {
      candidate,
      reason: 'WRITE_OVERHEAD',
      detail: `With ${set} in place, keeping it up to date on ${tableKey(candidate)}'s writes (about ${Math.round(overhead)} cost units) costs more than it saves its reads (${Math.round(benefit)}).`,
    };
  }
  const threshold = Math.round(minImprovement * 100);
  return {
    candidate,
    reason: 'DOMINATED',
    detail: `Costed together with ${set}, it saves less than ${threshold}% more on each of its statements.`,
  };
}

/** "public.review (book_id) and public.book (author_id)" */
function describeAll(candidates: readonly CandidateIndex[]): string {
  const names = candidates.map(describe);
  return names.length <= 1 ? (names[0] ?? 'the selected indexes') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

function describe(candidate: CandidateIndex): string {
  const keys = candidate.keys.map((key) => `${key.column ?? key.expression}${key.direction === 'DESC' ? ' DESC' : ''}`).join(', ');
  const include = candidate.include.length > 0 ? ` INCLUDE (${candidate.include.join(', ')})` : '';
  return `${tableKey(candidate)} (${keys})${include}`;
}
