// The advisor's analysis, steps 1-4 in one call: the workload from pg_stat_statements, what each
// statement asks of each table, the candidate indexes, and those set aside before costing.
// Costing (advisor/costing/hypopg/whatIfCoster.ts, advisor/costing/estimate/estimateCoster.ts) and selection take it from here. Catalog reads per workload, not
// per statement: relations (one query per level of views), distinct values, existing indexes and
// table sizes. First of all, statements whose planning could run code pgscope does not trust are
// set aside with the reason (src/db/trust/statementTrust.ts): they give no candidate and are never planned.
import type { Capabilities } from '../../db/capabilities.js';
import { clearStatements, type PlanClearance } from '../../db/trust/statementTrust.js';
import type { Queryable } from '../../db/pool.js';
import { generateCandidates, type CandidateOptions } from '../candidates/candidates.js';
import { checkCoverage, type CoverageOptions } from '../candidates/coverage.js';
import { tableAccesses } from './predicates.js';
import { resolveRelations, tableArrays } from './relations.js';
import { loadDistinctValues } from '../candidates/selectivity.js';
import type { CandidateIndex, RejectedCandidate, TableAccess, WorkloadStatement } from '../types.js';
import { loadWorkload, parseWorkloadStatement, type ParsedWorkloadStatement, type WorkloadOptions } from './workload.js';
import { NO_EXTRA_TRUST, type TrustConfig } from '../../config.js';
import { atLeastMeanTime, ExcludedTables, type TableName } from './exclusions.js';
import { type ConstantSamples, sampleActivity } from './samples.js';
import { specializeStatements } from './specialize.js';
import { withHeavyVariants } from './skew.js';
import { withPageSizes } from './pageSize.js';
import { asksForTrigrams, patternNotes, trigramSupport, type AnalysisNote } from './patternNotes.js';

export interface AnalyzeOptions extends WorkloadOptions, Omit<CandidateOptions, 'distinctValues' | 'trigram'>, CoverageOptions {
  /** Whose code planning may run besides PostgreSQL's, superusers' and pgscope's own role's (config.trust); absent: nobody else's. */
  trust?: TrustConfig;
  /** Statements whose mean time is below this many milliseconds are left out (counted). Default 0: none. */
  minMeanTimeMs?: number;
  /** Tables given no candidate; statements reading only these are set aside (see exclusions.ts). Default: none. */
  excludeTables?: readonly TableName[];
  /** The constants the statements were seen running with (samples.ts): a dominant one on a category column is analyzed in place of its $n. */
  samples?: ConstantSamples;
}

/** A statement of the workload that is not analyzed nor planned, and why. */
export interface SetAsideStatement {
  queryId: string;
  /** A sentence fragment, as costing's skip reasons. */
  reason: string;
}

export interface WorkloadAnalysis {
  /** The statements analyzed (those that could use an index), heaviest first. */
  statements: WorkloadStatement[];
  /** What each statement asks of each table, in statement order. */
  accesses: TableAccess[];
  /** Candidates worth costing, deduplicated, in the order the heaviest statements ask for them. */
  candidates: CandidateIndex[];
  /** Candidates set aside before costing (covered by an existing index, table too small). */
  rejected: RejectedCandidate[];
  /** Statements left out because planning them could run code pgscope does not trust. */
  untrusted: SetAsideStatement[];
  /** Statements left out because they read only tables of excludeTables. */
  excluded: SetAsideStatement[];
  /** How many statements were left out for a mean time below minMeanTimeMs. */
  belowMinMeanTime: number;
  /** What costing may plan: the statements analyzed. */
  clearance: PlanClearance;
  /** What the statements ask that no candidate can give, and what would (patternNotes.ts). */
  notes: AnalysisNote[];
}

/** Steps 1-4 on the current database's pg_stat_statements. */
export async function analyzeWorkload(db: Queryable, caps: Capabilities, options: AnalyzeOptions = {}): Promise<WorkloadAnalysis> {
  const loaded = await loadWorkload(db, caps, options);
  // one more look now (what runs while the advisor does); samples are a bonus: a failed look changes nothing else
  if (options.samples) await sampleActivity(db, caps, options.samples).catch(() => 0);
  return analyzeParsed(db, await specializeStatements(db, loaded, options.samples), options);
}

/**
 * Steps 2-4 on statements given as pg_stat_statements would give them (tests, the synthetic
 * benchmark workload); those that cannot use an index are dropped as loadWorkload drops them.
 */
export async function analyzeStatements(
  db: Queryable,
  statements: readonly WorkloadStatement[],
  options: AnalyzeOptions = {},
): Promise<WorkloadAnalysis> {
  const parsed: ParsedWorkloadStatement[] = [];
  for (const statement of statements) {
    const one = await parseWorkloadStatement(statement);
    if (one) parsed.push(one);
  }
  return analyzeParsed(db, parsed, options);
}

async function analyzeParsed(db: Queryable, loaded: ParsedWorkloadStatement[], options: AnalyzeOptions): Promise<WorkloadAnalysis> {
  const { kept: timely, below: belowMinMeanTime } = atLeastMeanTime(loaded, options.minMeanTimeMs ?? 0);
  const all = await withHeavyVariants(db, await withPageSizes(timely));
  const clearance = await clearStatements(db, options.trust ?? NO_EXTRA_TRUST, [
    ...all.map((statement) => ({ sql: statement.query, node: statement.node })),
    ...all.flatMap((statement) => (statement.heavy ? [{ sql: statement.heavy.query }] : [])),
  ]);
  const untrusted = all.flatMap((statement) => {
    const reason = clearance.refusal(statement.query);
    return reason === null ? [] : [{ queryId: statement.queryId, reason }];
  });
  const cleared = all.filter((statement) => clearance.refusal(statement.query) === null);
  const catalog = await resolveRelations(
    db,
    cleared.map((statement) => statement.node),
  );
  const exclude = new ExcludedTables(options.excludeTables ?? []);
  const excluded = cleared.flatMap((statement) => {
    const reason = exclude.reasonToSkip(statement.node, catalog);
    return reason === null ? [] : [{ queryId: statement.queryId, reason }];
  });
  const setAside = new Set(excluded.map((statement) => statement.queryId));
  const parsed = cleared.filter((statement) => !setAside.has(statement.queryId));
  const accesses = parsed.flatMap((statement) => tableAccesses(statement, catalog)).filter((access) => !exclude.has(access));
  const distinctValues = await loadDistinctValues(db, tableArrays(accesses));
  const trigram = asksForTrigrams(accesses) ? await trigramSupport(db) : { usable: false, schema: null };
  const generated = generateCandidates(accesses, { ...options, distinctValues, trigram: trigram.usable });
  const { kept, rejected } = generated.length > 0 ? await checkCoverage(db, generated, options) : { kept: [], rejected: [] };
  const statements = parsed.map(({ node: _node, kind: _kind, ...statement }) => statement);
  const notes = patternNotes(accesses, trigram);
  return { statements, accesses, candidates: kept, rejected, untrusted, excluded, belowMinMeanTime, clearance, notes };
}
