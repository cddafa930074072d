import { captureQueryStats, historyUnavailable, type QueryStatsSnapshotRow } from '../db/history/snapshots.js';
import { type QueryStatsDeltaOrder, queryStatsWindow, type QueryStatsDeltaRow, type QueryStatsWindowResult } from '../db/history/deltas.js';
import { queryStatsHistory, type QueryStatsHistoryResult, type QueryStatsIntervalRow } from '../db/history/series.js';
import { queryIdArgument } from '../db/queryIds.js';
import { badInput, isPgscopeError } from '../errors.js';
import type { Context } from '../context.js';
import { intInRange, nonNegative } from './args.js';
import { builder } from './builder.js';
import { statementCounterFields } from './statementCounters.js';
import { READ_CACHE } from '../db/sharedReads.js';
import { windowNotes } from '../review/queryWindow.js';

const QueryStatsSnapshot = builder.objectRef<QueryStatsSnapshotRow>('QueryStatsSnapshot').implement({
  description:
    "A snapshot of the current database's pg_stat_statements counters, kept in pgscope's own schema " +
    '(tables pgscope.query_stats_*). Taking one never resets pg_stat_statements.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Snapshot id; later snapshots have larger ids.' }),
    capturedAt: t.expose('captured_at', { type: 'DateTime', description: 'When it was taken, by the database server clock.' }),
    statements: t.exposeInt('statements', { description: 'Distinct statements (queryids) of this database it holds.' }),
    hiddenStatements: t.exposeInt('hidden_statements', {
      description: "Entries of other roles it could not hold: pgscope's role lacks pg_read_all_stats, so their queryid is hidden.",
    }),
    statsResetAt: t.expose('stats_reset', {
      type: 'DateTime',
      nullable: true,
      description: 'When pg_stat_statements was last reset as a whole (pg_stat_statements_info.stats_reset); null before PostgreSQL 14.',
    }),
    resetSincePrevious: t.exposeBoolean('reset_since_previous', {
      nullable: true,
      description:
        'pg_stat_statements was reset as a whole since the previous snapshot; null for the first snapshot and before PostgreSQL 14.',
    }),
    deallocationsSincePrevious: t.expose('deallocations_since_previous', {
      type: 'BigInt',
      nullable: true,
      description:
        'Times pg_stat_statements evicted its least-used entries (server-wide) since the previous snapshot; ' +
        'null for the first snapshot and before PostgreSQL 14.',
    }),
    deletedSnapshots: t.exposeInt('deleted_snapshots', {
      description: 'Snapshots older than PGSCOPE_HISTORY_RETENTION_DAYS that this capture deleted.',
    }),
  }),
});

const QueryStatsDeltaOrderEnum = builder.enumType('QueryStatsDeltaOrder', {
  description: 'Sort order of the statements of a query-statistics window, always largest first.',
  values: {
    TOTAL_TIME: { description: 'Execution time inside the window: the statements that cost the server most.' },
    MEAN_TIME: { description: 'Mean execution time per call inside the window.' },
    CALLS: { description: 'Executions inside the window.' },
    ROWS: { description: 'Rows returned or affected inside the window.' },
    SHARED_BLOCKS_READ: { description: 'Blocks read from disk or the OS cache (not found in shared_buffers) inside the window.' },
    TEMP_BLOCKS_WRITTEN: { description: 'Temporary blocks written (sorts and hashes that spilled past work_mem) inside the window.' },
  } satisfies Record<QueryStatsDeltaOrder, unknown>,
});

const QueryStatsDelta = builder.objectRef<QueryStatsDeltaRow>('QueryStatsDelta').implement({
  description:
    "A statement's activity inside a window: the differences of its pg_stat_statements counters, summed over the roles " +
    'that ran it. Minimum, maximum and standard deviation of the time cannot be derived from cumulative counters: ' +
    'slowQueries has them for the whole counting period.',
  fields: (t) => ({
    ...statementCounterFields(t, 'window'),
    restarted: t.exposeBoolean('restarted', {
      description:
        'Its counters restarted inside the window (reset, or evicted and seen again), so it counts from that restart only. ' +
        'Detected when its calls went down, from PostgreSQL 17 also by its stats_since.',
    }),
  }),
});

const QueryStatsWindow = builder.objectRef<QueryStatsWindowResult>('QueryStatsWindow').implement({
  description:
    'What pg_stat_statements counted between two points in time: a snapshot and a later snapshot, or the live view. ' +
    'Resets and evictions inside the window are detected and reported, never caused.',
  fields: (t) => ({
    from: t.expose('from_time', {
      type: 'DateTime',
      description: 'Start: the latest snapshot at or before since; when no snapshot is that old, the oldest one (notes say so).',
    }),
    to: t.expose('to_time', {
      type: 'DateTime',
      description: 'End: the latest snapshot at or before until; without until, now (the live view).',
    }),
    fromSnapshotId: t.exposeID('from_snapshot_id', { description: 'The snapshot the window starts at.' }),
    toSnapshotId: t.exposeID('to_snapshot_id', {
      nullable: true,
      description: 'The snapshot the window ends at; null when it ends at the live view.',
    }),
    resetDetected: t.exposeBoolean('reset_detected', {
      description: 'Counters restarted inside the window, for everything (statsResetAt) or for some statements (restartedStatements).',
    }),
    statsResetAt: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When pg_stat_statements was reset as a whole, if that happened inside the window: every statement then counts from it. ' +
        'Null when it was not (or before PostgreSQL 14, which cannot tell).',
      resolve: (window) => (window.everything_reset ? window.stats_reset : null),
    }),
    restartedStatements: t.exposeInt('restarted_statements', {
      description: 'Statements whose counters restarted inside the window (all of them after a reset as a whole).',
    }),
    evictedStatements: t.exposeInt('evicted_statements', {
      description:
        'Statements present at the start and gone at the end: evicted by pg_stat_statements, or reset. ' +
        'Their calls inside the window are not counted.',
    }),
    deallocations: t.expose('deallocations', {
      type: 'BigInt',
      nullable: true,
      description:
        'Times pg_stat_statements evicted its least-used entries inside the window, server-wide (pg_stat_statements_info.dealloc); ' +
        'null before PostgreSQL 14.',
    }),
    notes: t.field({
      type: ['String'],
      description:
        'What limits this comparison, in plain words (resets, evictions, hidden statements, a shorter window). Empty when nothing does.',
      resolve: async (window, _, ctx) => windowNotes(window, await ctx.capabilities()),
    }),
    statements: t.expose('statements', {
      type: [QueryStatsDelta],
      description: 'Statements active inside the window, largest first by orderBy.',
    }),
  }),
});

const QueryStatsInterval = builder.objectRef<QueryStatsIntervalRow>('QueryStatsInterval').implement({
  description: "One statement's activity between two consecutive snapshots.",
  fields: (t) => ({
    from: t.expose('from_time', { type: 'DateTime', description: 'The earlier snapshot.' }),
    to: t.expose('to_time', { type: 'DateTime', description: 'The later snapshot.' }),
    tracked: t.exposeBoolean('tracked', {
      description:
        'pg_stat_statements held the statement at the later snapshot; false: not run yet, or evicted (its calls are then unknown, shown as 0).',
    }),
    restarted: t.exposeBoolean('restarted', {
      description: 'Its counters restarted in this interval (reset, or evicted and back): it counts from the restart.',
    }),
    calls: t.expose('calls', { type: 'BigInt', description: 'Executions in this interval.' }),
    totalTimeMs: t.exposeFloat('total_time_ms', { description: 'Execution time in this interval, in milliseconds.' }),
    meanTimeMs: t.exposeFloat('mean_time_ms', {
      nullable: true,
      description: 'Mean execution time per call in this interval, in milliseconds; null without calls.',
    }),
    rows: t.expose('rows', { type: 'BigInt', description: 'Rows returned or affected in this interval.' }),
    sharedBlocksHit: t.expose('shared_blocks_hit', { type: 'BigInt', description: 'Blocks found in shared_buffers in this interval.' }),
    sharedBlocksRead: t.expose('shared_blocks_read', {
      type: 'BigInt',
      description: 'Blocks read from the OS (page cache or disk) in this interval.',
    }),
    tempBlocksWritten: t.expose('temp_blocks_written', { type: 'BigInt', description: 'Temporary blocks written in this interval.' }),
  }),
});

const QueryStatsHistory = builder.objectRef<QueryStatsHistoryResult>('QueryStatsHistory').implement({
  description: "One statement's activity over time, interval by interval between snapshots (for dashboards).",
  fields: (t) => ({
    queryId: t.exposeID('query_id', { description: 'pg_stat_statements queryid.' }),
    query: t.exposeString('query', { description: 'The normalized statement text, as last captured.' }),
    intervals: t.expose('intervals', { type: [QueryStatsInterval], description: 'Intervals between consecutive snapshots, oldest first.' }),
  }),
});

builder.mutationField('captureQueryStats', (t) =>
  t.field({
    type: QueryStatsSnapshot,
    description:
      "Takes a snapshot of the current database's pg_stat_statements counters into pgscope's own schema, and deletes snapshots " +
      'older than PGSCOPE_HISTORY_RETENTION_DAYS. Never resets pg_stat_statements. Writes nothing outside schema pgscope, so ' +
      'the change log does not record it; the snapshot is its own record. PGSCOPE_CAPTURE_INTERVAL_S captures on a timer.',
    authScopes: { admin: true },
    resolve: async (_, __, ctx) => {
      const caps = await ctx.capabilities();
      if (!ctx.ownSchemaReady) throw historyUnavailable(caps);
      return captureQueryStats(ctx.db, caps, ctx.config.historyRetentionDays).catch(redetectOnStale(ctx));
    },
  }),
);

builder.queryField('queryStatsWindow', (t) =>
  t.field({
    extensions: READ_CACHE,
    type: QueryStatsWindow,
    description:
      'What was slow between since and until (default: now), from the snapshots of captureQueryStats: each statement counts ' +
      'only what it did inside the window. The window starts at the latest snapshot at or before since; when no snapshot is ' +
      'that old, at the oldest one (notes say so). NOT_FOUND when no snapshot exists yet.',
    args: {
      since: t.arg({ type: 'DateTime', required: true, description: 'Start of the window; must be in the past.' }),
      until: t.arg({
        type: 'DateTime',
        description: 'End of the window, after since; the latest snapshot at or before it is used. Default: now, from the live view.',
      }),
      minMeanTimeMs: t.arg.float({
        description:
          'Only statements whose mean time inside the window is at least this many milliseconds. Default: PGSCOPE_SLOW_QUERY_MS (100).',
      }),
      minCalls: t.arg.int({
        description: 'Only statements run at least this many times inside the window (1 or more). Default 1.',
        defaultValue: 1,
      }),
      orderBy: t.arg({ type: QueryStatsDeltaOrderEnum, description: 'Sort key. Default TOTAL_TIME.', defaultValue: 'TOTAL_TIME' }),
      limit: t.arg.int({ description: 'Most statements returned, 1 to 1000. Default 20.', defaultValue: 20 }),
    },
    resolve: async (_, args, ctx) => {
      const until = args.until ?? null;
      const request = {
        since: inThePast('since', args.since),
        until: until === null ? null : after('until', until, args.since),
        minMeanTimeMs: nonNegative('minMeanTimeMs', args.minMeanTimeMs ?? ctx.config.slowQueryMs),
        minCalls: intInRange('minCalls', args.minCalls ?? 1, 1, Number.MAX_SAFE_INTEGER),
        orderBy: args.orderBy ?? 'TOTAL_TIME',
        limit: intInRange('limit', args.limit ?? 20, 1, 1000),
      };
      return queryStatsWindow(ctx.db, await ctx.capabilities(), request).catch(redetectOnStale(ctx));
    },
  }),
);

const DAY_MS = 24 * 60 * 60 * 1000;

builder.queryField('queryStatsHistory', (t) =>
  t.field({
    extensions: READ_CACHE,
    type: QueryStatsHistory,
    description:
      "One statement's calls and time between consecutive snapshots from since to until, for charts. The first interval starts " +
      'at the latest snapshot at or before since (or the oldest one). NOT_FOUND when no snapshot holds the statement.',
    args: {
      queryId: t.arg.id({ required: true, description: 'The statement, by pg_stat_statements queryid (SlowQuery.queryId).' }),
      since: t.arg({ type: 'DateTime', description: 'Start. Default: 24 hours before until.' }),
      until: t.arg({ type: 'DateTime', description: 'End, after since. Default: now.' }),
    },
    resolve: async (_, args, ctx) => {
      const until = args.until ?? new Date();
      const since = args.since ?? new Date(until.getTime() - DAY_MS);
      after('until', until, since);
      return queryStatsHistory(ctx.db, await ctx.capabilities(), queryIdArgument('queryId', args.queryId), { since, until });
    },
  }),
);

function inThePast(name: string, value: Date): Date {
  if (value.getTime() > Date.now()) throw badInput(`${name} must be in the past, got ${value.toISOString()}.`, { argument: name });
  return value;
}

function after(name: string, value: Date, start: Date): Date {
  if (value <= start)
    throw badInput(`${name} must be after since (${start.toISOString()}), got ${value.toISOString()}.`, { argument: name });
  return value;
}

/** The view vanished since detection: detect again on the next request (as slowQueries does). */
function redetectOnStale(ctx: Context) {
  return (error: unknown): never => {
    if (isPgscopeError(error, 'EXTENSION_NOT_LOADED')) ctx.invalidateCapabilities();
    throw error;
  };
}
