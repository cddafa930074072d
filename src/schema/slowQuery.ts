import { isPgscopeError } from '../errors.js';
import { slowQueries, type SlowQueryOrder, type SlowQueryRow } from '../db/queryStats.js';
import { intInRange, nonNegative } from './args.js';
import { builder } from './builder.js';
import { statementCounterFields } from './statementCounters.js';
import { READ_CACHE } from '../db/sharedReads.js';

const SlowQueryOrderEnum = builder.enumType('SlowQueryOrder', {
  description: 'Sort order of slowQueries, always largest first.',
  values: {
    TOTAL_TIME: { description: 'Total execution time: the statements that cost the server most.' },
    MEAN_TIME: { description: 'Mean execution time per call.' },
    MAX_TIME: { description: 'Slowest single execution.' },
    CALLS: { description: 'Number of executions.' },
    ROWS: { description: 'Rows returned or affected.' },
    SHARED_BLOCKS_READ: { description: 'Blocks read from disk or the OS cache (not found in shared_buffers).' },
    TEMP_BLOCKS_WRITTEN: { description: 'Temporary blocks written (sorts and hashes that spilled past work_mem).' },
  } satisfies Record<SlowQueryOrder, unknown>,
});

export const SlowQuery = builder.objectRef<SlowQueryRow>('SlowQuery').implement({
  description: 'A normalized statement from pg_stat_statements in the current database, summed over the roles that ran it.',
  fields: (t) => {
    const { queryId, query, calls, totalTimeMs, meanTimeMs, ...rest } = statementCounterFields(t, 'sinceReset');
    return {
      queryId,
      query,
      calls,
      totalTimeMs,
      meanTimeMs,
      // Only cumulative counters know the extremes; they sit beside the mean.
      minTimeMs: t.exposeFloat('min_time_ms', { description: 'Fastest execution, in milliseconds.' }),
      maxTimeMs: t.exposeFloat('max_time_ms', { description: 'Slowest execution, in milliseconds.' }),
      stddevTimeMs: t.exposeFloat('stddev_time_ms', { description: 'Standard deviation of the execution time, in milliseconds.' }),
      ...rest,
      statsSince: t.expose('stats_since', {
        type: 'DateTime',
        nullable: true,
        description:
          'Since when these counters run; null before PostgreSQL 17 (pg_stat_statements 1.11). For what happened in a time window, ' +
          'see queryStatsWindow.',
      }),
    };
  },
});

builder.queryField('slowQueries', (t) =>
  t.field({
    extensions: READ_CACHE,
    type: [SlowQuery],
    description:
      'Statements of the current database from pg_stat_statements whose mean time is at least minMeanTimeMs, ' +
      'largest first by orderBy. Counters are cumulative since the last reset; never resets them.',
    args: {
      minMeanTimeMs: t.arg.float({
        description: 'Only statements whose mean time is at least this many milliseconds. Default: PGSCOPE_SLOW_QUERY_MS (100).',
      }),
      minCalls: t.arg.int({ description: 'Only statements run at least this many times. Default 1.', defaultValue: 1 }),
      orderBy: t.arg({ type: SlowQueryOrderEnum, description: 'Sort key. Default TOTAL_TIME.', defaultValue: 'TOTAL_TIME' }),
      limit: t.arg.int({ description: 'Most statements returned, 1 to 1000. Default 20.', defaultValue: 20 }),
    },
    resolve: async (_, args, ctx) => {
      const filter = {
        minMeanTimeMs: nonNegative('minMeanTimeMs', args.minMeanTimeMs ?? ctx.config.slowQueryMs),
        minCalls: intInRange('minCalls', args.minCalls ?? 1, 0, Number.MAX_SAFE_INTEGER),
        orderBy: args.orderBy ?? 'TOTAL_TIME',
        limit: intInRange('limit', args.limit ?? 20, 1, 1000),
      };
      return slowQueries(ctx.db, await ctx.capabilities(), filter).catch((error: unknown) => {
        if (isPgscopeError(error, 'EXTENSION_NOT_LOADED')) ctx.invalidateCapabilities();
        throw error;
      });
    },
  }),
);
