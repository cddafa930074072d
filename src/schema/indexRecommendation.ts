// indexRecommendations and indexAdvisorReport: the advisor (src/advisor/recommend.ts) as GraphQL.
import {
  DEFAULT_LIMIT,
  DEFAULT_MIN_IMPROVEMENT,
  DEFAULT_MIN_MEAN_TIME_MS,
  recommendIndexes,
  type AdvisorReport,
  type Recommendation,
  type RecommendedStatement,
  type RejectedIndex,
} from '../advisor/recommend.js';
import type { CandidateKey } from '../advisor/types.js';
import { slowQueries, type SlowQueryRow } from '../db/queryStats.js';
import type { Context } from '../context.js';
import { maskLiterals } from '../sql/redact.js';
import { badInput } from '../errors.js';
import { intInRange, nonNegative } from './args.js';
import { advisorScope, MAX_EXCLUDED_TABLES } from './advisorScope.js';
import { AdvisorWindowType } from './advisorWindow.js';
import { builder } from './builder.js';
import { SlowQuery } from './slowQuery.js';

const AdvisorSourceEnum = builder.enumType('AdvisorSource', {
  description: 'How the advisor costed an index.',
  values: {
    HYPOPG: { description: 'HypoPG: the planner planned each statement with the index present as a hypothetical index.' },
    HEURISTIC: {
      description: 'Without HypoPG: an estimate from pg_stats (null fraction, distinct values, correlation) and the table sizes.',
    },
  },
});

const RecommendationReasonEnum = builder.enumType('RecommendationReason', {
  description: 'What kind of access a recommended index serves.',
  values: {
    JSONB_CONTAINMENT: { description: 'GIN for jsonb @>, ?, ?| and ?& (jsonb_path_ops when only @> is used).' },
    ARRAY_CONTAINMENT: { description: 'GIN (array_ops) for array @>, <@ and &&.' },
    TRIGRAM_SEARCH: { description: "GIN with pg_trgm's gin_trgm_ops for ILIKE and LIKE '%abc%'." },
    PREFIX_PATTERN: {
      description:
        "B-tree for LIKE 'abc%' (text_pattern_ops or varchar_pattern_ops unless the collation is C); LIKE $1 is taken for a prefix pattern.",
    },
    PARTIAL_INDEX: { description: "A partial index over the rows the statements ask for (status = 'pending')." },
    EXPRESSION_LOOKUP: { description: "An expression index: lower(email) = $1, (details ->> 'k') = $1." },
    SORT_WITH_LIMIT: { description: 'Rows read in ORDER BY order, so LIMIT stops early and nothing is sorted.' },
    COMPOSITE: { description: 'Several columns: equality keys first, then one range key or the sort keys.' },
    RANGE_SCAN: { description: 'One column compared with a range (<, >, BETWEEN).' },
    EQUALITY_LOOKUP: { description: 'One column compared for equality (=, IN, = ANY).' },
  },
});

const IndexKeyType = builder.objectRef<CandidateKey>('IndexKey').implement({
  description: 'One key of an index, as applyIndex takes it.',
  fields: (t) => ({
    column: t.exposeString('column', { nullable: true, description: 'A column; null for an expression key.' }),
    expression: t.exposeString('expression', { nullable: true, description: 'An expression over the columns; null for a column key.' }),
    direction: t.exposeString('direction', { nullable: true, description: 'ASC or DESC; null: the default (ASC).' }),
    nulls: t.exposeString('nulls', { nullable: true, description: 'FIRST or LAST; null: the default for the direction.' }),
    opclass: t.exposeString('opclass', {
      nullable: true,
      description: "Operator class when not the type's default (jsonb_path_ops, text_pattern_ops, gin_trgm_ops); null for the default.",
    }),
  }),
});

interface StatementShape extends RecommendedStatement {
  slow: SlowQueryRow | null;
  text: string;
}

const RecommendedStatementType = builder.objectRef<StatementShape>('RecommendedStatement').implement({
  description: 'A statement a recommended index helps, with the estimated plan cost before and after.',
  fields: (t) => ({
    queryId: t.id({ description: 'pg_stat_statements queryid.', resolve: (s) => s.statement.queryId }),
    query: t.string({ description: 'Its text as pg_stat_statements keeps it, every constant masked as $1, $2...', resolve: (s) => s.text }),
    statement: t.field({
      type: SlowQuery,
      nullable: true,
      description: 'The statement as slowQueries reports it; null when pg_stat_statements no longer holds it.',
      resolve: (s) => s.slow,
    }),
    calls: t.field({
      type: 'BigInt',
      description: 'Calls counted by pg_stat_statements.',
      resolve: (s) => BigInt(Math.round(s.statement.calls)),
    }),
    meanTimeMs: t.float({ description: 'Its mean execution time now.', resolve: (s) => s.statement.meanTimeMs }),
    costBefore: t.float({ description: "The planner's estimated total cost today.", resolve: (s) => s.before.totalCost }),
    costAfter: t.float({ description: 'The estimated total cost with the index.', resolve: (s) => s.after.totalCost }),
    planBefore: t.string({ description: 'The top of the plan today ("Seq Scan on users").', resolve: (s) => s.before.topNode }),
    planAfter: t.string({
      description: 'The top of the plan with the index ("Index Scan using ... on users").',
      resolve: (s) => s.after.topNode,
    }),
    usesIndex: t.boolean({ description: 'The plan with the index uses it.', resolve: (s) => s.after.usesCandidate }),
  }),
});

interface RecommendationShape extends Omit<Recommendation, 'statements'> {
  statements: StatementShape[];
}

const IndexRecommendationType = builder.objectRef<RecommendationShape>('IndexRecommendation').implement({
  description: 'An index the workload needs, with the statements it helps, what it costs, and why.',
  fields: (t) => ({
    id: t.exposeID('id', {
      description: 'Stable id: it encodes the definition, stays valid across restarts and other applies; pass it to applyRecommendation.',
    }),
    schema: t.string({ description: 'Schema of the table.', resolve: (r) => r.candidate.schema }),
    table: t.string({
      description: 'The table (the parent, for a partitioned table: one index for all partitions).',
      resolve: (r) => r.candidate.table,
    }),
    name: t.exposeString('name', { description: 'The name applyRecommendation gives it.' }),
    method: t.string({ description: 'Access method: btree or gin.', resolve: (r) => r.candidate.method }),
    keys: t.field({ type: [IndexKeyType], description: 'Its keys, in order.', resolve: (r) => r.candidate.keys }),
    where: t.string({ nullable: true, description: 'Partial-index predicate; null for a full index.', resolve: (r) => r.candidate.where }),
    include: t.stringList({ description: 'INCLUDE columns (for index-only scans).', resolve: (r) => r.candidate.include }),
    sql: t.exposeString('sql', {
      description: 'A runnable CREATE INDEX CONCURRENTLY statement, names checked against the catalog and quoted.',
    }),
    sizeBytes: t.field({ type: 'BigInt', description: 'Estimated size on disk.', resolve: (r) => BigInt(Math.round(r.sizeBytes)) }),
    statements: t.field({
      type: [RecommendedStatementType],
      description: 'The statements it helps, heaviest first.',
      resolve: (r) => r.statements,
    }),
    benefit: t.exposeFloat('benefit', {
      description: 'Estimated benefit: calls x cost saved per call, over its statements (planner cost units).',
    }),
    writeOverhead: t.exposeFloat('writeOverhead', {
      description: 'Estimated cost of keeping it up to date: rows written to the table x the cost per row (same units as benefit).',
    }),
    source: t.field({ type: AdvisorSourceEnum, description: 'HYPOPG or HEURISTIC.', resolve: (r) => r.source }),
    reason: t.field({ type: RecommendationReasonEnum, description: 'What kind of access it serves.', resolve: (r) => r.reason }),
    sentence: t.exposeString('sentence', { description: 'The recommendation in one sentence.' }),
    makesRedundant: t.exposeStringList('makesRedundant', {
      description: 'Existing indexes whose keys lead this one: once it exists they serve nothing it does not (consider dropIndex).',
    }),
  }),
});

const RejectedCandidateType = builder.objectRef<RejectedIndex>('RejectedIndexCandidate').implement({
  description: 'An index the advisor considered and did not recommend, with why.',
  fields: (t) => ({
    schema: t.string({ description: 'Schema of the table.', resolve: (r) => r.candidate.schema }),
    table: t.string({ description: 'The table.', resolve: (r) => r.candidate.table }),
    method: t.string({ description: 'Access method.', resolve: (r) => r.candidate.method }),
    keys: t.field({ type: [IndexKeyType], description: 'Its keys, in order.', resolve: (r) => r.candidate.keys }),
    where: t.string({ nullable: true, description: 'Partial-index predicate; null for a full index.', resolve: (r) => r.candidate.where }),
    include: t.stringList({
      description: 'INCLUDE columns, as IndexRecommendation shows them: two candidates may differ in these alone.',
      resolve: (r) => r.candidate.include,
    }),
    reason: t.exposeString('reason', {
      description:
        'COVERED_BY_EXISTING, TABLE_TOO_SMALL, NOT_USED_BY_PLANNER, IMPROVEMENT_TOO_SMALL, WRITE_OVERHEAD, DOMINATED or INVALID_DEFINITION.',
    }),
    detail: t.exposeString('detail', { description: 'The reason in a sentence.' }),
  }),
});

interface ReportShape extends Omit<AdvisorReport, 'recommendations'> {
  recommendations: RecommendationShape[];
}

const IndexAdvisorReportType = builder.objectRef<ReportShape>('IndexAdvisorReport').implement({
  description: 'The advisor run in full: recommendations, the candidates it rejected with why, and how much it looked at.',
  fields: (t) => ({
    recommendations: t.field({ type: [IndexRecommendationType], description: 'Best first.', resolve: (r) => r.recommendations }),
    rejected: t.field({
      type: [RejectedCandidateType],
      description: 'Candidates considered and left out, with why.',
      resolve: (r) => r.rejected,
    }),
    statementsAnalyzed: t.exposeInt('statementsAnalyzed', {
      description:
        'Statements of the workload that could use an index (those whose planning could run untrusted code, or that read only ' +
        'excludeTables, are skipped instead; those below minMeanTimeMs are left out).',
    }),
    statementsBelowMinMeanTime: t.exposeInt('statementsBelowMinMeanTime', {
      description: 'Statements of the workload left out because their mean time is below minMeanTimeMs (0 by default).',
    }),
    candidatesConsidered: t.exposeInt('candidatesConsidered', { description: 'Candidate indexes costed.' }),
    plansCosted: t.exposeInt('plansCosted', { description: 'Plans (HypoPG) or statement estimates (HEURISTIC) computed.' }),
    source: t.field({ type: AdvisorSourceEnum, description: 'How candidates were costed.', resolve: (r) => r.source }),
    budgetExhausted: t.exposeBoolean('budgetExhausted', {
      description: 'The costing time budget ran out: some candidates were not costed.',
    }),
    skipped: t.stringList({
      description:
        'Statements or candidates that could not be costed, with why; first the statements never planned because planning them could run ' +
        'a function pgscope does not trust (its owner is named: PGSCOPE_TRUSTED_ROLES trusts it), then those reading only excludeTables.',
      resolve: (r) =>
        r.skipped.map((s) =>
          [s.queryId ? `queryId ${s.queryId}` : null, s.candidate ? `${s.candidate.schema}.${s.candidate.table}` : null, s.reason]
            .filter(Boolean)
            .join(': '),
        ),
    }),
    notes: t.exposeStringList('notes', {
      description:
        'What statements ask that the advisor could not propose an index for, and what would let it: $1 = ANY (array column), ' +
        'which no index serves as written (the rewrite that one does), or ILIKE and infix LIKE while pg_trgm is not installed.',
    }),
    durationMs: t.exposeFloat('durationMs', { description: 'Milliseconds the run took.' }),
    window: t.field({
      type: AdvisorWindowType,
      description: 'Where the reads (benefit) and writes (writeOverhead) were counted, and since when: the same window for both.',
      resolve: (r) => r.window,
    }),
  }),
});

const advisorArgs = (t: Parameters<Parameters<typeof builder.queryField>[1]>[0]) => ({
  minImprovement: t.arg.float({
    description: `The share of a statement's estimated cost an index must save on it to count, 0 to 1. Default ${DEFAULT_MIN_IMPROVEMENT}.`,
  }),
  limit: t.arg.int({ description: `Recommendations returned, 1 to 100. Default ${DEFAULT_LIMIT}.` }),
  schema: t.arg.string({ description: "Only tables of this schema (NOT_FOUND if it does not exist); with table, the table's schema." }),
  table: t.arg.string({ description: 'Only this table (NOT_FOUND if absent); looked up on the search_path without schema.' }),
  minMeanTimeMs: t.arg.float({
    description:
      "Only statements whose mean time is at least this many milliseconds (as slowQueries' minMeanTimeMs); the others are left " +
      `out of the workload and counted in the report's statementsBelowMinMeanTime. Default ${DEFAULT_MIN_MEAN_TIME_MS}: every statement.`,
  }),
  excludeTables: t.arg.stringList({
    description:
      'Tables given no candidate: "schema.table", or a bare name looked up as table is (in schema, else on the search_path), spelled ' +
      "as the catalog spells them; statements reading only these are skipped (listed in the report's skipped). A name that does not " +
      'exist is NOT_FOUND, as for table: an exclusion that silently excluded nothing would hide a typo; a malformed one (empty part, ' +
      `more than one dot) or more than ${MAX_EXCLUDED_TABLES} names is BAD_USER_INPUT. Default: none.`,
  }),
});

async function runAdvisor(
  ctx: Context,
  args: {
    minImprovement?: number | null;
    limit?: number | null;
    schema?: string | null;
    table?: string | null;
    minMeanTimeMs?: number | null;
    excludeTables?: readonly string[] | null;
  },
): Promise<ReportShape> {
  const minImprovement = args.minImprovement ?? DEFAULT_MIN_IMPROVEMENT;
  if (!(minImprovement >= 0 && minImprovement <= 1))
    throw badInput('minImprovement must be between 0 and 1.', { argument: 'minImprovement' });
  const limit = intInRange('limit', args.limit ?? DEFAULT_LIMIT, 1, 100);
  const minMeanTimeMs = nonNegative('minMeanTimeMs', args.minMeanTimeMs ?? DEFAULT_MIN_MEAN_TIME_MS);
  const scope = await advisorScope(ctx.db, args);
  const caps = await ctx.capabilities();
  const report = await recommendIndexes(ctx.db, caps, {
    minImprovement,
    limit,
    minMeanTimeMs,
    ...scope,
    trust: ctx.config.trust,
    samples: ctx.constantSamples,
  });
  ctx.metrics?.advisorRun(report.source, report.durationMs / 1000);
  const ids = [...new Set(report.recommendations.flatMap((r) => r.statements.map((s) => s.statement.queryId)))];
  const rows = ids.length
    ? await slowQueries(ctx.db, caps, { minMeanTimeMs: 0, minCalls: 0, orderBy: 'TOTAL_TIME', limit: ids.length, queryIds: ids })
    : [];
  const byId = new Map(rows.map((row) => [row.query_id, row]));
  const recommendations = await Promise.all(
    report.recommendations.map(async (r) => ({
      ...r,
      statements: await Promise.all(
        r.statements.map(async (s) => {
          const slow = byId.get(s.statement.queryId) ?? null;
          return { ...s, slow, text: slow?.query ?? (await maskLiterals(s.statement.query)) };
        }),
      ),
    })),
  );
  return { ...report, recommendations };
}

builder.queryField('indexRecommendations', (t) =>
  t.field({
    type: [IndexRecommendationType],
    description:
      "Indexes the workload needs, best first, found from pg_stat_statements: each statement parsed by PostgreSQL's parser, " +
      'candidates costed with HypoPG (or estimated from pg_stats without it), selected over the whole workload on benefit minus ' +
      'write overhead. Expensive: counts toward PGSCOPE_MAX_EXPENSIVE_FIELDS.',
    args: advisorArgs(t),
    resolve: async (_, args, ctx) => (await runAdvisor(ctx, args)).recommendations,
  }),
);

builder.queryField('indexAdvisorReport', (t) =>
  t.field({
    type: IndexAdvisorReportType,
    description: 'The advisor run in full: indexRecommendations plus the candidates it rejected with why, and the work done. Expensive.',
    args: advisorArgs(t),
    resolve: (_, args, ctx) => runAdvisor(ctx, args),
  }),
);
