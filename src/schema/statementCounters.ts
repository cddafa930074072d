// The pg_stat_statements counters that SlowQuery (since the last reset) and QueryStatsDelta (inside
// a window) both expose: one list of fields, each described for the period its type covers.
import type { SlowQueryRow } from '../db/queryStats.js';
import type { builder } from './builder.js';

/** The columns both rows have: a window cannot give the cumulative extremes (min, max, stddev) nor stats_since. */
type StatementCounters = Omit<SlowQueryRow, 'min_time_ms' | 'max_time_ms' | 'stddev_time_ms' | 'stats_since'>;

type FieldBuilder = PothosSchemaTypes.ObjectFieldBuilder<typeof builder.$inferSchemaTypes, StatementCounters>;

/** What the counters count: everything since pg_stat_statements last started counting, or what happened inside a window. */
export type CounterPeriod = 'sinceReset' | 'window';

/** The shared fields, in the order both types list them; SlowQuery puts its extremes after meanTimeMs. */
export function statementCounterFields(t: FieldBuilder, period: CounterPeriod) {
  const described = (words: Record<CounterPeriod, string>) => words[period];
  return {
    queryId: t.exposeID('query_id', { description: 'pg_stat_statements queryid: stable for a statement shape on one server.' }),
    query: t.exposeString('query', { description: 'The normalized statement text, constants replaced by $1, $2...' }),
    calls: t.expose('calls', {
      type: 'BigInt',
      description: described({ sinceReset: 'Number of executions.', window: 'Executions inside the window.' }),
    }),
    totalTimeMs: t.exposeFloat('total_time_ms', {
      description: described({
        sinceReset: 'Total execution time, in milliseconds.',
        window: 'Execution time inside the window, in milliseconds.',
      }),
    }),
    meanTimeMs: t.exposeFloat('mean_time_ms', {
      description: described({
        sinceReset: 'Mean execution time per call, in milliseconds.',
        window: 'Mean execution time per call inside the window, in milliseconds.',
      }),
    }),
    rows: t.expose('rows', {
      type: 'BigInt',
      description: described({
        sinceReset: 'Rows returned or affected, over all calls.',
        window: 'Rows returned or affected inside the window.',
      }),
    }),
    sharedBlocksHit: t.expose('shared_blocks_hit', {
      type: 'BigInt',
      description: described({
        sinceReset: 'Blocks found in shared_buffers.',
        window: 'Blocks found in shared_buffers inside the window.',
      }),
    }),
    sharedBlocksRead: t.expose('shared_blocks_read', {
      type: 'BigInt',
      description: described({
        sinceReset: 'Blocks read from the OS (page cache or disk): not in shared_buffers.',
        window: 'Blocks read from the OS (page cache or disk) inside the window: not in shared_buffers.',
      }),
    }),
    cacheHitRatio: t.exposeFloat('cache_hit_ratio', {
      nullable: true,
      description: 'sharedBlocksHit / (sharedBlocksHit + sharedBlocksRead), from 0 to 1; null when the statement touched no block.',
    }),
    tempBlocksRead: t.expose('temp_blocks_read', {
      type: 'BigInt',
      description: described({ sinceReset: 'Temporary blocks read.', window: 'Temporary blocks read inside the window.' }),
    }),
    tempBlocksWritten: t.expose('temp_blocks_written', {
      type: 'BigInt',
      description: described({
        sinceReset: 'Temporary blocks written: sorts or hashes that did not fit in work_mem.',
        window: 'Temporary blocks written inside the window: sorts or hashes that did not fit in work_mem.',
      }),
    }),
    planningTimeMs: t.exposeFloat('planning_time_ms', {
      nullable: true,
      description: described({
        sinceReset: 'Total planning time in milliseconds; null unless pg_stat_statements.track_planning is on.',
        window: 'Planning time inside the window, in milliseconds; null unless pg_stat_statements.track_planning is on.',
      }),
    }),
    blockReadTimeMs: t.exposeFloat('block_read_time_ms', {
      nullable: true,
      description: described({
        sinceReset: 'Time spent reading shared blocks, in milliseconds; null unless track_io_timing is on.',
        window: 'Time spent reading shared blocks inside the window, in milliseconds; null unless track_io_timing is on.',
      }),
    }),
    shareOfTotalTime: t.exposeFloat('share_of_total_time', {
      nullable: true,
      description: described({
        sinceReset:
          "This statement's part of the execution time of all statements in this database, from 0 to 1; null when that total is 0.",
        window:
          "This statement's part of the execution time of all statements of this database inside the window, from 0 to 1; null when " +
          'that total is 0.',
      }),
    }),
    toplevel: t.exposeBoolean('toplevel', {
      nullable: true,
      description: described({
        sinceReset: 'True when it ran at top level at least once (not only inside functions); null before PostgreSQL 14.',
        window: 'True when it ran at top level (not only inside functions); null before PostgreSQL 14.',
      }),
    }),
  };
}
