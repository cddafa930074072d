// One statement, one candidate, without HypoPG: the statement's real plan (plain EXPLAIN, before)
// with the candidate's table access replaced by the cheapest way the candidate offers to read it
// (costModel.ts). Single-table plans are re-costed whole (the index may also remove the sort and
// let a LIMIT stop early); in a join, the table's scans are replaced in place, and a scan whose
// key is a join key (not in its own filter) becomes a nested loop probing the index once per
// outer row, as the planner would consider it.
import type { PlanCost, TableAccess } from '../../types.js';
import type { CandidateIndex } from '../../types.js';
import { bitmapScanCost, descentCost, estimateKeys, estimateSizeBytes, indexScanCost, limitFraction, sortCost } from './costModel.js';
import type { AccessCostInput } from './costModel.js';
import { describeNode, isScan, nodesOf, planCost, type CostNode } from '../planCost.js';
import type { CostSettings, TableStatistics } from './statistics.js';

export interface EstimateInput {
  candidate: CandidateIndex;
  /** The name the index would get (shown in the after plan's top node). */
  name: string;
  access: TableAccess;
  stats: TableStatistics;
  settings: CostSettings;
  before: CostNode;
}

const JOINS = new Set(['Nested Loop', 'Hash Join', 'Merge Join']);
// wrappers the index makes unnecessary on a single table: the sort, and parallel workers for a scan that became small
const DROPPED_WRAPPERS = new Set(['Sort', 'Incremental Sort', 'Gather', 'Gather Merge']);

interface Access {
  cost: number;
  kind: 'Index Scan' | 'Bitmap Heap Scan';
}

/** The statement's estimated cost with the candidate (never above the cost without it: the planner would not use it then). */
export function estimateAfter(input: EstimateInput): PlanCost {
  const { candidate, access, stats, before } = input;
  const unchanged = planCost(before, false);
  const own = new Set(stats.leaves.map((leaf) => `${leaf.schema}.${leaf.table}`));
  const scans = [...nodesOf(before)].filter(isScan);
  const mine = scans.filter((node) => own.has(`${node.Schema}.${node['Relation Name']}`));
  const kept = plannerSelectivity(before, mine, stats.rows);
  const estimate = estimateKeys(candidate, access, stats, kept);
  // no row estimate (never analyzed): no evidence of a gain (statisticsNotes says so)
  if (stats.rows === 0 || (estimate.keysUsed === 0 && !estimate.ordered)) return unchanged;
  // a partial index serves only statements whose own predicate implies the index's
  if (candidate.where !== null && !samePredicate(candidate.where, access.partialPredicate)) return unchanged;
  if (mine.length === 0) return unchanged;
  const firstKey = candidate.keys[0]!;
  const correlation = firstKey.column !== null ? (stats.columns.get(firstKey.column)?.correlation ?? 0) : 0;
  const indexPages = estimateSizeBytes(candidate, stats) / 8192;
  const base: AccessCostInput = { estimate, stats, settings: input.settings, correlation, indexPages, fraction: 1 };
  const single = mine.length === scans.length;
  const chosen = single ? singleTableAccess(base, candidate, access, kept) : cheapest(base, candidate, false, 0);
  const joined = single ? { total: chosen.cost, nestedLoops: [] } : replacedInJoin(before, mine, chosen.cost, access, input.settings);
  if (!(joined.total < before['Total Cost'])) return unchanged;
  // two decimals, as EXPLAIN prints costs
  const totalCost = Math.round(joined.total * 100) / 100;
  return { totalCost, topNode: topNode(before, chosen, input, mine, joined.nestedLoops), usesCandidate: true };
}

/**
 * The planner's estimate of the share of the table's rows the statement's conditions keep: its
 * scans' rows (a parallel scan's times the processes sharing it, as cost_seqscan divides them)
 * over the table's. Null without a scan of the table or a row estimate.
 */
function plannerSelectivity(before: CostNode, mine: readonly CostNode[], tableRows: number): number | null {
  if (mine.length === 0 || tableRows <= 0) return null;
  const parents = parentsOf(before);
  const rows = mine.reduce((sum, scan) => sum + scan['Plan Rows'] * parallelShare(scan, parents), 0);
  return Math.min(1, rows / tableRows);
}

/** get_parallel_divisor: each worker, and the leader for what is left of its time (30% less per worker). */
function parallelShare(scan: CostNode, parents: Map<CostNode, CostNode>): number {
  if (!scan['Parallel Aware']) return 1;
  for (let at = parents.get(scan); at; at = parents.get(at)) {
    const workers = at['Workers Planned'];
    if (workers !== undefined) return workers + Math.max(0, 1 - 0.3 * workers);
  }
  return 1;
}

/** The cheaper of an index scan (in order) and a bitmap scan (sorted after when the statement sorts). */
function cheapest(base: AccessCostInput, candidate: CandidateIndex, sorts: boolean, sortRows: number, limit: number | null = null): Access {
  const rows = Math.max(1, base.estimate.indexSelectivity * base.stats.rows);
  const sort = sorts ? sortCost(sortRows || rows, base.settings, limit) : 0;
  const bitmap = bitmapScanCost(base) + sort;
  if (candidate.method === 'gin' || candidate.method === 'brin') return { cost: bitmap, kind: 'Bitmap Heap Scan' };
  const index = indexScanCost(base) + (base.estimate.ordered ? 0 : sort);
  return index <= bitmap ? { cost: index, kind: 'Index Scan' } : { cost: bitmap, kind: 'Bitmap Heap Scan' };
}

/**
 * The whole statement on one table: an ordered index with a LIMIT reads only the rows it returns,
 * the LIMIT's share of the rows the statement's conditions keep (`kept`, the planner's share of the
 * table; the index's own when unknown), not of those the index reads: a filter the index does not
 * serve, tags @> $1 under ORDER BY price, makes it read further for as many rows.
 */
function singleTableAccess(base: AccessCostInput, candidate: CandidateIndex, access: TableAccess, kept: number | null): Access {
  const rows = Math.max(1, base.estimate.indexSelectivity * base.stats.rows);
  const returned = kept === null ? rows : Math.max(1, Math.min(rows, kept * base.stats.rows));
  const sorts = access.sort.length > 0;
  const limit = typeof access.limit === 'number' ? access.limit : null;
  const whole = cheapest(base, candidate, sorts, rows, limit);
  if (!base.estimate.ordered || access.limit === null) return whole;
  // as the planner costs a LIMIT: the start-up cost, then the fraction of the run cost (the descent is the start-up)
  const startup = descentCost(base);
  const full = indexScanCost(base);
  const early = startup + limitFraction(access.limit, returned) * (full - startup);
  return early < whole.cost ? { cost: early, kind: 'Index Scan' } : whole;
}

/**
 * The plan's cost with the table's scans replaced; a join-key scan becomes an index probe per
 * outer row (a nested loop), kept only where it is cheaper than the join it replaces.
 */
function replacedInJoin(before: CostNode, mine: CostNode[], probe: number, access: TableAccess, settings: CostSettings) {
  const parents = parentsOf(before);
  const nestedLoops: CostNode[] = [];
  let total = before['Total Cost'];
  for (const scan of mine) {
    const join = nearestJoin(scan, parents);
    const outer = join?.Plans?.find((child) => !contains(child, scan));
    if (join?.['Node Type'] === 'Nested Loop' && outer && outer === join.Plans?.[0]) {
      // already the inner side of a nested loop: the scan runs once per outer row
      total += Math.min(0, probe - scan['Total Cost']) * Math.max(outer['Plan Rows'], 1);
    } else if (join && outer && !filtersOnKeys(scan, access)) {
      const nestedLoop = outer['Total Cost'] + outer['Plan Rows'] * probe + join['Plan Rows'] * settings.cpuTupleCost;
      if (nestedLoop < join['Total Cost']) {
        total += nestedLoop - join['Total Cost'];
        nestedLoops.push(join);
      }
    } else {
      total += Math.min(0, probe - scan['Total Cost']);
    }
  }
  return { total: Math.max(total, 0), nestedLoops };
}

/** The scan filters on a key the candidate uses (a $n or constant predicate), rather than joining on it. */
function filtersOnKeys(scan: CostNode, access: TableAccess): boolean {
  const filter = scan.Filter ?? '';
  const columns = access.predicates.filter((p) => p.column !== null && p.use !== 'SORT').map((p) => p.column!);
  const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return columns.some((column) => new RegExp(`\\b${escapeRegExp(column)}\\b`).test(filter));
}

// compared as text, spaces and outer parentheses aside: the analysis step writes both
const samePredicate = (where: string, statement: string | null) => statement !== null && normalized(where) === normalized(statement);
const normalized = (text: string) => text.replace(/\s+/g, '').replace(/^\((.*)\)$/, '$1');

function parentsOf(root: CostNode): Map<CostNode, CostNode> {
  const parents = new Map<CostNode, CostNode>();
  for (const node of nodesOf(root)) for (const child of node.Plans ?? []) parents.set(child, node);
  return parents;
}

function nearestJoin(node: CostNode, parents: Map<CostNode, CostNode>): CostNode | undefined {
  for (let at = parents.get(node); at; at = parents.get(at)) if (JOINS.has(at['Node Type'])) return at;
  return undefined;
}

function contains(tree: CostNode, node: CostNode): boolean {
  for (const each of nodesOf(tree)) if (each === node) return true;
  return false;
}

/** "Limit > Index Scan using users_email_idx (hypothetical) on users", shaped like the what-if path's. */
function topNode(before: CostNode, chosen: Access, input: EstimateInput, mine: CostNode[], nestedLoops: CostNode[]): string {
  const using = chosen.kind === 'Index Scan' ? ` using ${input.name} (hypothetical)` : '';
  // a partitioned table's scans are its leaves', as in the plan
  const scan = `${chosen.kind}${using} on ${mine[0]!['Relation Name']}`;
  let root = before;
  const single = nestedLoops.length === 0 && mine.length === [...nodesOf(before)].filter(isScan).length;
  while (single && DROPPED_WRAPPERS.has(root['Node Type']) && root.Plans?.[0]) root = root.Plans[0];
  if (nestedLoops.includes(root)) return `Nested Loop > ${scan}`;
  return isScan(root) ? scan : `${describeNode(root)} > ${scan}`;
}
