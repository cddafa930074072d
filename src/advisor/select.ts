// Selection over the whole workload: greedy on benefit minus write overhead. A statement served by
// an index already chosen counts only what a further index saves beyond it, so one index that
// serves several statements wins over several narrow ones, and a candidate that adds nothing once a
// better one is chosen is rejected as DOMINATED. Benefit and overhead are in the planner's cost
// units: calls x cost saved per call, and rows written x the cost of maintaining one more index.
// A covering candidate competes with its twin without INCLUDE only on what its index-only scan
// adds (includePays): its columns are bytes in every entry.
import { formatBytes } from '../review/settings.js';
import { candidateId } from './candidates/candidates.js';
import type { CandidateIndex, CostedCandidate, RejectionReason, StatementCost } from './types.js';

/**
 * Cost of keeping one index up to date per row written (insert, non-HOT update, delete), in
 * planner cost units. Measured on this project's reference machine (PostgreSQL 18, 500,000-row
 * inserts with and without a B-tree, against the time of a sequential scan of its planned cost):
 * 0.6 to 0.8 units per row for ascending keys (timestamps, ids), 1.0 to 1.7 for random keys. A GIN
 * index inserts one entry per key of the document (not measured: its pending list batches them).
 */
const WRITE_COST_PER_ROW: Record<CandidateIndex['method'], number> = { btree: 1, hash: 1, brin: 0.05, gist: 2, gin: 3 };
/** Each key beyond the first makes the entry wider and its comparisons longer. */
const WRITE_COST_PER_EXTRA_KEY = 0.1;

export interface SelectionInput {
  costed: CostedCandidate[];
  /** Calls per queryId over the window the write counts cover. */
  calls: ReadonlyMap<string, number>;
  /** Rows written per table (`schema.table`) over the same window. */
  writes: ReadonlyMap<string, number>;
  /** The share of a statement's cost an index must save on it to count as helping it (0 to 1). */
  minImprovement: number;
}

export interface SelectedIndex {
  costed: CostedCandidate;
  /** calls x cost saved, over the statements it helps (beyond the indexes selected before it). */
  benefit: number;
  /** rows written x the cost of maintaining it. */
  writeOverhead: number;
  /** The statements it helps, with their costs before and after. */
  helps: StatementCost[];
}

export interface SelectionRejection {
  candidate: CandidateIndex;
  reason: RejectionReason;
  detail: string;
}

export interface Selection {
  selected: SelectedIndex[];
  rejected: SelectionRejection[];
}

export const tableKey = (candidate: { schema: string; table: string }) => `${candidate.schema}.${candidate.table}`;

export function writeOverhead(candidate: CandidateIndex, writes: ReadonlyMap<string, number>): number {
  const perRow = WRITE_COST_PER_ROW[candidate.method] * (1 + WRITE_COST_PER_EXTRA_KEY * Math.max(0, candidate.keys.length - 1));
  return (writes.get(tableKey(candidate)) ?? 0) * perRow;
}

/**
 * An index on another table than the chosen ones that serve a statement helps it when it makes what
 * is left at least this many times cheaper, even below minImprovement of the statement's first
 * cost: book(author_id) after review(book_id) takes a join from 2,322 to 476 cost units, 8 % of the
 * 22,603 it cost at first but five times faster again. A second index on the same table must save
 * minImprovement of the first cost, like any other: a covering variant of the chosen index is
 * faster again, but rarely worth a second index on the table's writes.
 */
const FURTHER_SPEEDUP = 2;

/**
 * `after` is enough of a gain on a statement that costs `current` now and `before` without new
 * indexes; `otherTable`: the candidate is on a table no chosen index serving the statement is on.
 */
export function helpsEnough(before: number, current: number, after: number, minImprovement: number, otherTable = false): boolean {
  if (before <= 0 || !(after < current)) return false;
  return (current - after) / before >= minImprovement || (otherTable && after * FURTHER_SPEEDUP <= current);
}

/** The statements `costed` helps enough, given the best cost each statement has so far. */
function helped(costed: CostedCandidate, best: ReadonlyMap<string, number>, minImprovement: number): StatementCost[] {
  return costed.perStatement.filter((cost) => {
    if (!cost.after.usesCandidate) return false;
    const current = best.get(cost.queryId) ?? cost.before.totalCost;
    return helpsEnough(cost.before.totalCost, current, cost.after.totalCost, minImprovement);
  });
}

function gain(
  costed: CostedCandidate,
  input: SelectionInput,
  best: ReadonlyMap<string, number>,
): { benefit: number; helps: StatementCost[] } {
  const helps = helped(costed, best, input.minImprovement);
  const benefit = helps.reduce((sum, cost) => {
    const current = best.get(cost.queryId) ?? cost.before.totalCost;
    return sum + (input.calls.get(cost.queryId) ?? 0) * (current - cost.after.totalCost);
  }, 0);
  return { benefit, helps };
}

const keyText = (key: CandidateIndex['keys'][number]) => `${key.column ?? ''}\u0000${key.expression ?? ''}\u0000${key.opclass ?? ''}`;

/** `prefix` is `candidate`'s leading keys (directions aside), on the same table, method and predicate. */
function isLeadingPrefix(prefix: CandidateIndex, candidate: CandidateIndex): boolean {
  return (
    prefix !== candidate &&
    prefix.schema === candidate.schema &&
    prefix.table === candidate.table &&
    prefix.method === candidate.method &&
    prefix.where === candidate.where &&
    prefix.keys.length < candidate.keys.length &&
    prefix.keys.every((key, k) => keyText(key) === keyText(candidate.keys[k]!))
  );
}

/**
 * A wider index serves every statement its leading keys serve: (user_id, timestamp) serves
 * user_id = $1 as well as (user_id) does. Each candidate is costed over its prefixes' statements
 * too, so that selection can see one index serving both instead of choosing the narrow one.
 */
export function withPrefixStatements(candidates: readonly CandidateIndex[]): CandidateIndex[] {
  return candidates.map((candidate) => {
    const extra = candidates.filter((other) => isLeadingPrefix(other, candidate)).flatMap((other) => other.forQueryIds);
    return extra.length === 0 ? candidate : { ...candidate, forQueryIds: [...new Set([...candidate.forQueryIds, ...extra])] };
  });
}

/** Greedy selection: the best net benefit first, then what still pays given what was chosen. */
export function selectIndexes(input: SelectionInput): Selection {
  const best = new Map<string, number>();
  const remaining = new Set(input.costed);
  const selected: SelectedIndex[] = [];
  const twins = uncoveredTwins(input.costed);
  for (;;) {
    const contenders: SelectedIndex[] = [];
    for (const costed of remaining) {
      const { benefit, helps } = gain(costed, input, best);
      const overhead = writeOverhead(costed.candidate, input.writes);
      if (helps.length > 0 && benefit > overhead) contenders.push({ costed, benefit, writeOverhead: overhead, helps });
    }
    const contending = new Set(contenders.map((each) => each.costed));
    const pick = bestContender(
      contenders.filter((each) => {
        const twin = twins.get(each.costed);
        return !(twin && contending.has(twin) && !includePays(each.costed, twin, best, input.minImprovement));
      }),
    );
    if (!pick) break;
    selected.push(pick);
    remaining.delete(pick.costed);
    for (const cost of pick.helps) best.set(cost.queryId, Math.min(best.get(cost.queryId) ?? Infinity, cost.after.totalCost));
  }
  return { selected, rejected: [...remaining].map((costed) => rejection(costed, input, twins.get(costed))) };
}

/**
 * Net benefits this close are a tie, which a partial index wins (the smallest, if several) when its
 * predicate leaves out a real share of the rows: the queue's (created_at) WHERE status = 'pending'
 * plans as fast as (status, created_at) and is a twentieth of its size. A predicate that leaves out
 * little (WHERE zip_code IS NOT NULL over a column with a few nulls) buys no bytes and serves only
 * statements that imply it: the tie goes to the plain index then. Between indexes that are not
 * partial the larger net benefit stays first: the generic plan's costs do not show a skewed key's
 * heavy values, which an ORDER BY key in the index serves where a narrower index must sort.
 */
const TIE = 0.05;
/** A partial index wins a tie when at most this share of the size of the plain index it ties with. */
const PARTIAL_SHRINK = 0.8;

function bestContender(contenders: readonly SelectedIndex[]): SelectedIndex | null {
  const net = (chosen: SelectedIndex) => chosen.benefit - chosen.writeOverhead;
  const first = (list: readonly SelectedIndex[]) =>
    list.reduce<SelectedIndex | null>((pick, each) => (!pick || net(each) > net(pick) ? each : pick), null);
  const top = first(contenders);
  if (!top) return null;
  const tied = contenders.filter((chosen) => net(chosen) >= net(top) * (1 - TIE));
  const plain = first(tied.filter((chosen) => chosen.costed.candidate.where === null));
  const partial = tied.filter(
    (chosen) => chosen.costed.candidate.where !== null && (!plain || chosen.costed.sizeBytes <= PARTIAL_SHRINK * plain.costed.sizeBytes),
  );
  return (
    partial.reduce<SelectedIndex | null>((pick, each) => (!pick || each.costed.sizeBytes < pick.costed.sizeBytes ? each : pick), null) ??
    plain ??
    top
  );
}

/**
 * INCLUDE columns are bytes spent on an index-only scan, and the scan must be worth them. Net
 * benefits cannot tell: counted from a sequential scan, the keys' gain drowns the INCLUDE's. On the
 * shop's `events WHERE customer_id = $1 ORDER BY at DESC LIMIT 20` (bench/workloads/shop.ts),
 * (customer_id, at DESC) takes the statement from 25,553 cost units to 27.2, and INCLUDE (kind,
 * payload) to 8.4: 0.07 % more of its cost, for a jsonb document in every entry (114 MB against
 * 38 MB, as HypoPG estimates them). So a covering candidate stays a contender next to its twin
 * without INCLUDE only when, with the twin chosen, it would still help a statement by the
 * selection's own bar (minImprovement of its cost, as any second index on the table must: see
 * FURTHER_SPEEDUP). A day of orders summed, 3,509 to 102 with (created_at) INCLUDE (total), keeps
 * its narrow column; twenty rows read from the heap keep their plain index scan. Bytes are not
 * weighed in cost units: no exchange rate between the two is measured, and the INCLUDE only ever
 * adds bytes, so the gain it must buy is the one that counts as a gain at all. It adds more than
 * HypoPG estimates, too: a B-tree with INCLUDE columns is never deduplicated (PostgreSQL 13+), and
 * the saas's tasks (project_id, tenant_id) INCLUDE (status) took 40 MB more on disk than its twin.
 * The twins are found once per selection (a candidate's id is a hash: on 750 candidates, comparing
 * every pair in each round took 4 s).
 */
function uncoveredTwins(costed: readonly CostedCandidate[]): Map<CostedCandidate, CostedCandidate> {
  const plain = new Map(costed.filter((each) => each.candidate.include.length === 0).map((each) => [candidateId(each.candidate), each]));
  const twins = new Map<CostedCandidate, CostedCandidate>();
  for (const each of costed) {
    const twin = each.candidate.include.length > 0 ? plain.get(candidateId({ ...each.candidate, include: [] })) : undefined;
    if (twin) twins.set(each, twin);
  }
  return twins;
}

/** `covering` helps some statement enough beyond what `twin` would make it cost. */
function includePays(covering: CostedCandidate, twin: CostedCandidate, best: ReadonlyMap<string, number>, minImprovement: number) {
  const withTwin = new Map(best);
  for (const cost of twin.perStatement) {
    if (!cost.after.usesCandidate) continue;
    const current = withTwin.get(cost.queryId) ?? cost.before.totalCost;
    withTwin.set(cost.queryId, Math.min(current, cost.after.totalCost));
  }
  return helped(covering, withTwin, minImprovement).length > 0;
}

/** Why a candidate was left out, judged against the statements' costs without any new index. */
function rejection(costed: CostedCandidate, input: SelectionInput, twin: CostedCandidate | undefined): SelectionRejection {
  const { candidate } = costed;
  if (!costed.perStatement.some((cost) => cost.after.usesCandidate)) {
    return {
      candidate,
      reason: 'NOT_USED_BY_PLANNER',
      detail: 'With the index in place the planner still chose other plans for every statement.',
    };
  }
  const alone = gain(costed, input, new Map());
  if (alone.helps.length === 0) {
    const threshold = Math.round(input.minImprovement * 100);
    return {
      candidate,
      reason: 'IMPROVEMENT_TOO_SMALL',
      detail: `It saves less than ${threshold}% of the cost of each statement it serves.`,
    };
  }
  const overhead = writeOverhead(candidate, input.writes);
  if (alone.benefit <= overhead) {
    return {
      candidate,
      reason: 'WRITE_OVERHEAD',
      detail: `Keeping it up to date on ${tableKey(candidate)}'s writes (about ${Math.round(overhead)} cost units) costs more than it saves its reads (${Math.round(alone.benefit)}).`,
    };
  }
  if (twin && !includePays(costed, twin, new Map(), input.minImprovement)) {
    const threshold = Math.round(input.minImprovement * 100);
    return {
      candidate,
      reason: 'IMPROVEMENT_TOO_SMALL',
      detail: `Its INCLUDE columns save less than ${threshold}% of each statement's cost beyond the same index without them, which takes about ${formatBytes(twin.sizeBytes)} instead of ${formatBytes(costed.sizeBytes)}.`,
    };
  }
  return { candidate, reason: 'DOMINATED', detail: 'The indexes selected before it already serve its statements as well or better.' };
}
