import { explain, explainQueryId, type ExplainOutcome } from '../db/explain/explain.js';
import type { ExplainSummary, RowMisestimate, SequentialScan } from '../db/explain/planSummary.js';
import { queryIdArgument } from '../db/queryIds.js';
import { badInput, ErrorCode, isPgscopeError, PgscopeError } from '../errors.js';
import { intInRange } from './args.js';
import { builder } from './builder.js';
import { SqlState, sqlStateOf } from '../db/sqlState.js';

const SequentialScanRef = builder.objectRef<SequentialScan>('SequentialScan').implement({
  description: 'A Seq Scan node of the plan: every row of the table is read.',
  fields: (t) => ({
    schema: t.exposeString('schema', {
      nullable: true,
      description: "The table's schema; null if EXPLAIN printed none (VERBOSE, which pgscope passes, prints it for every table).",
    }),
    table: t.exposeString('table', { description: 'The table (a partition when the plan scans partitions).' }),
    alias: t.exposeString('alias', {
      nullable: true,
      description: 'The name the statement gives the table (its own name without an alias); null if EXPLAIN printed none.',
    }),
    filter: t.exposeString('filter', {
      nullable: true,
      description:
        'The condition checked on every row read, as PostgreSQL prints it; an index on its columns may avoid the scan. Null when the ' +
        'scan reads every row unfiltered.',
    }),
    estimatedRows: t.exposeFloat('estimatedRows', { description: 'Rows the planner expects the scan to return, per loop.' }),
    actualRows: t.exposeFloat('actualRows', { nullable: true, description: 'Rows it returned, per loop; null unless analyzed.' }),
    loops: t.exposeFloat('loops', { nullable: true, description: 'Times the scan ran; null unless analyzed.' }),
    tableRowEstimate: t.exposeFloat('tableRowEstimate', {
      nullable: true,
      description: "The table's row count as of its last VACUUM or ANALYZE (pg_class.reltuples); null when never analyzed.",
    }),
    tableSizeBytes: t.expose('tableSizeBytes', {
      type: 'BigInt',
      nullable: true,
      description: "Size of the table's heap, which the scan reads, in bytes; null when the table could not be found.",
    }),
    large: t.exposeBoolean('large', {
      description:
        'The table has more than 10,000 rows or more than 8 MB: a scan worth avoiding when the statement is frequent or selective.',
    }),
  }),
});

const RowMisestimateRef = builder.objectRef<RowMisestimate>('RowMisestimate').implement({
  description:
    'A plan node whose measured rows differ from the estimate by a factor of 10 or more: the planner chose its plan on wrong numbers ' +
    '(stale statistics, correlated columns, functions it cannot see through).',
  fields: (t) => ({
    nodeType: t.exposeString('nodeType', { description: 'The node, as PostgreSQL names it, e.g. "Seq Scan", "Hash Join".' }),
    schema: t.exposeString('schema', { nullable: true, description: "The scanned table's schema; null for nodes that scan no table." }),
    table: t.exposeString('table', {
      nullable: true,
      description: 'The scanned table; null for nodes that scan no table (joins, sorts...).',
    }),
    estimatedRows: t.exposeFloat('estimatedRows', { description: 'Rows the planner expected, per loop.' }),
    actualRows: t.exposeFloat('actualRows', { description: 'Rows measured, per loop.' }),
    loops: t.exposeFloat('loops', { description: 'Times the node ran.' }),
    factor: t.exposeFloat('factor', {
      description: 'The larger of estimated/actual and actual/estimated (each at least 1 row), 10 or more.',
    }),
    underestimated: t.exposeBoolean('underestimated', { description: 'True when more rows came than expected, false when fewer.' }),
  }),
});

const ExplainSummaryRef = builder.objectRef<ExplainSummary>('ExplainSummary').implement({
  description: 'What to look at first in a plan.',
  fields: (t) => ({
    sequentialScans: t.expose('sequentialScans', {
      type: [SequentialScanRef],
      description: 'Every sequential scan, in plan order (parents before children).',
    }),
    misestimates: t.expose('misestimates', {
      type: [RowMisestimateRef],
      description: 'Nodes whose row estimate was off by a factor of 10 or more, in plan order; empty unless analyzed.',
    }),
    notes: t.exposeStringList('notes', {
      description: 'How to read this plan: generic plans, partitions pruned only because parameters were NULL, parts proven empty.',
    }),
  }),
});

const ExplainResult = builder.objectRef<ExplainOutcome>('ExplainResult').implement({
  description: 'The plan PostgreSQL chose for one statement, and a summary of it.',
  fields: (t) => ({
    statement: t.exposeString('statement', {
      description: "The statement explained: the sql argument, or pg_stat_statements' text for queryId.",
    }),
    queryId: t.exposeID('queryId', { nullable: true, description: 'The queryId argument; null when sql was given.' }),
    plan: t.expose('plan', {
      type: 'JSON',
      description:
        'The output of EXPLAIN (VERBOSE, SETTINGS, SUMMARY, FORMAT JSON), plus ANALYZE and BUFFERS when analyzed: a one-element array, ' +
        'ready for plan visualizers. "Query Identifier" is left out (JSON numbers cannot carry its 64 bits).',
    }),
    genericPlan: t.exposeBoolean('genericPlan', {
      description: 'The statement has $n parameters and no params were given: the plan was made without their values.',
    }),
    analyzed: t.exposeBoolean('analyzed', {
      description: 'The statement was executed (EXPLAIN ANALYZE) and the plan holds measured rows and times.',
    }),
    totalCost: t.exposeFloat('totalCost', {
      description: "The planner's total cost estimate of the root node, in its abstract cost units.",
    }),
    estimatedRows: t.exposeFloat('estimatedRows', { description: 'Rows the planner expects the statement to return.' }),
    actualRows: t.exposeFloat('actualRows', { nullable: true, description: 'Rows it returned; null unless analyzed.' }),
    planningTimeMs: t.exposeFloat('planningTimeMs', {
      nullable: true,
      description: 'Planning time, in milliseconds; null if EXPLAIN printed none (it does with the SUMMARY option pgscope always passes).',
    }),
    executionTimeMs: t.exposeFloat('executionTimeMs', {
      nullable: true,
      description: 'Execution time, in milliseconds; null unless analyzed.',
    }),
    summary: t.expose('summary', { type: ExplainSummaryRef, description: 'What to look at first: sequential scans, misestimates, notes.' }),
  }),
});

builder.queryField('explain', (t) =>
  t.field({
    type: ExplainResult,
    description:
      'The plan of one statement, given as sql or as a pg_stat_statements queryId. Runs in a read-only transaction that is rolled back; ' +
      'the statement itself is executed only with analyze (admin token, a single SELECT). Planning runs functions, so a statement that could ' +
      "run a function pgscope does not trust (not PostgreSQL's, a superuser's, its own role's, nor PGSCOPE_TRUSTED_ROLES') is refused with " +
      'UNTRUSTED_CODE before anything is planned. Without the admin token, planning may take ' +
      'at most PGSCOPE_ANONYMOUS_EXPLAIN_TIMEOUT_MS (QUERY_TIMEOUT past it). At most PGSCOPE_MAX_EXPENSIVE_FIELDS explains per operation.',
    args: {
      queryId: t.arg.id({ description: 'Explain this statement of pg_stat_statements (see slowQueries). Give queryId or sql, not both.' }),
      sql: t.arg.string({
        description: 'Explain this one statement: SELECT, INSERT, UPDATE, DELETE or MERGE. Give sql or queryId, not both.',
      }),
      params: t.arg({
        type: ['String'],
        required: { list: false, items: false },
        description:
          'Values for $1, $2... as text (null is SQL NULL), one per parameter; PostgreSQL converts them to the types the statement needs. ' +
          'Without params, a statement with parameters gets its generic plan.',
      }),
      analyze: t.arg.boolean({
        defaultValue: false,
        description:
          'Execute the statement (EXPLAIN ANALYZE, BUFFERS) to measure rows and times. Needs the admin token; only for a single read-only SELECT ' +
          'that reaches no volatile function (directly or through operators, casts, views, policies) and no foreign table: else UNSAFE_STATEMENT.',
      }),
      timeoutMs: t.arg.int({
        defaultValue: 10_000,
        description: 'With analyze: cancel the statement after this many milliseconds (QUERY_TIMEOUT), 1 to 60000. Default 10000.',
      }),
    },
    resolve: async (_, args, ctx) => {
      const sql = args.sql ?? null;
      const queryId = args.queryId === null || args.queryId === undefined ? null : queryIdArgument('queryId', args.queryId);
      if ((sql === null) === (queryId === null)) {
        throw badInput('Give exactly one of queryId and sql.', { argument: queryId === null ? 'sql' : 'queryId' });
      }
      const analyze = args.analyze ?? false;
      if (analyze && !ctx.isAdmin) {
        throw ctx.config.adminToken
          ? new PgscopeError(
              ErrorCode.UNAUTHENTICATED,
              'analyze executes the statement, so it needs the admin token: send the header "Authorization: Bearer <PGSCOPE_ADMIN_TOKEN>".',
            )
          : new PgscopeError(ErrorCode.FORBIDDEN, 'analyze is disabled: no admin token is configured (set PGSCOPE_ADMIN_TOKEN).');
      }
      // Plain EXPLAIN still plans, and planning folds immutable functions: md5(repeat('x', 1e9))
      // held a backend 4.5 s at 1.35 GB. Without the admin token, planning gets a tighter budget.
      const budgetMs = ctx.isAdmin ? undefined : ctx.config.limits.anonymousExplainTimeoutMs;
      const request = {
        params: args.params?.map((value) => value ?? null) ?? null,
        analyze,
        timeoutMs: intInRange('timeoutMs', args.timeoutMs ?? 10_000, 1, 60_000),
        planTimeoutMs: budgetMs,
        trust: ctx.config.trust,
      };
      const caps = await ctx.capabilities();
      const run = sql !== null ? explain(ctx.db, caps, { ...request, sql }) : explainQueryId(ctx.db, caps, queryId!, request);
      return run.catch((error: unknown) => {
        if (isPgscopeError(error, ErrorCode.EXTENSION_NOT_LOADED)) ctx.invalidateCapabilities();
        if (budgetMs !== undefined && isPgscopeError(error, ErrorCode.QUERY_TIMEOUT) && sqlStateOf(error) === SqlState.QUERY_CANCELED) {
          throw new PgscopeError(
            ErrorCode.QUERY_TIMEOUT,
            `The statement took longer than ${budgetMs} ms to plan, the limit for explain without the admin token ` +
              '(PGSCOPE_ANONYMOUS_EXPLAIN_TIMEOUT_MS); its transaction was rolled back.',
            { timeoutMs: budgetMs },
          );
        }
        throw error;
      });
    },
  }),
);
