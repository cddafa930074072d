import { loadIndexBuilds, type IndexBuild as IndexBuildRow } from '../db/indexBuilds.js';
import { builder } from './builder.js';

/** PostgreSQL hides other roles' builds from roles without pg_read_all_stats: only the pid is known then. */
const HIDDEN = "Null when the build belongs to another role and pgscope's role lacks pg_read_all_stats (pg_monitor).";

const counter = (description: string) => ({ type: 'BigInt' as const, nullable: true as const, description: `${description} ${HIDDEN}` });

export const IndexBuild = builder.objectRef<IndexBuildRow>('IndexBuild').implement({
  description:
    'An index build running now in this database (CREATE INDEX [CONCURRENTLY] or REINDEX, by any session), from ' +
    'pg_stat_progress_create_index. The counters describe the current phase; poll to follow it.',
  fields: (t) => ({
    pid: t.exposeInt('pid', { description: 'Backend process id of the building session (pg_cancel_backend takes it).' }),
    schema: t.exposeString('schema', { nullable: true, description: `Schema of the table being indexed. ${HIDDEN}` }),
    table: t.exposeString('table', { nullable: true, description: `The table being indexed. ${HIDDEN}` }),
    indexName: t.exposeString('index_name', {
      nullable: true,
      description: `The index being built; null until a concurrent build has created it in the catalog, and for a plain CREATE INDEX. ${HIDDEN}`,
    }),
    command: t.exposeString('command', {
      nullable: true,
      description: `CREATE INDEX, CREATE INDEX CONCURRENTLY, REINDEX or REINDEX CONCURRENTLY. ${HIDDEN}`,
    }),
    phase: t.exposeString('phase', {
      nullable: true,
      description:
        'Phase as PostgreSQL names it: initializing, waiting for writers before build, building index: scanning table, ' +
        `building index: sorting live tuples, building index: loading tuples in tree, index validation: ..., waiting for old snapshots ... ${HIDDEN}`,
    }),
    lockersTotal: t.expose(
      'lockers_total',
      counter('Sessions the build must wait for in a waiting phase (older transactions); 0 otherwise.'),
    ),
    lockersDone: t.expose('lockers_done', counter('Of lockersTotal, those already waited for.')),
    currentLockerPid: t.exposeInt('current_locker_pid', {
      nullable: true,
      description: `Pid of the session it waits for now (a long-running transaction delays a concurrent build); 0 when none. ${HIDDEN}`,
    }),
    blocksTotal: t.expose('blocks_total', counter('Blocks to scan in the current phase (the table, or the index while validating).')),
    blocksDone: t.expose('blocks_done', counter('Of blocksTotal, blocks scanned.')),
    tuplesTotal: t.expose('tuples_total', counter('Tuples to process in the current phase (sorting, loading, validating).')),
    tuplesDone: t.expose('tuples_done', counter('Of tuplesTotal, tuples processed.')),
    partitionsTotal: t.expose('partitions_total', counter('For a CREATE INDEX on a partitioned table: partitions to index; 0 otherwise.')),
    partitionsDone: t.expose('partitions_done', counter('Of partitionsTotal, partitions indexed.')),
    transactionStart: t.expose('transaction_start', {
      type: 'DateTime',
      nullable: true,
      description: `When the building session's transaction started (a concurrent build runs several). ${HIDDEN}`,
    }),
    queryStart: t.expose('query_start', {
      type: 'DateTime',
      nullable: true,
      description: `When the building statement started. ${HIDDEN}`,
    }),
    durationMs: t.exposeFloat('duration_ms', { nullable: true, description: `Milliseconds since queryStart. ${HIDDEN}` }),
    waitEventType: t.exposeString('wait_event_type', {
      nullable: true,
      description: `What the build waits for now (Lock when it waits for older transactions, IO ...); null when running. ${HIDDEN}`,
    }),
    waitEvent: t.exposeString('wait_event', { nullable: true, description: `The wait event, e.g. "virtualxid". ${HIDDEN}` }),
    progressRatio: t.exposeFloat('progress_ratio', {
      nullable: true,
      description:
        "Estimated fraction done, 0 to 1, for a progress bar: the current phase's blocks, tuples or lockers done of total; for a " +
        'partitioned table, (partitionsDone + that fraction) / partitionsTotal. A concurrent build goes through several phases, so ' +
        'the bar restarts with each one: show phase beside it. Null when no counter has a total yet.',
    }),
  }),
});

builder.queryField('indexBuilds', (t) =>
  t.field({
    type: [IndexBuild],
    description:
      "Index builds (CREATE INDEX, REINDEX) running now in the current database, by any session, pgscope's own included; oldest " +
      "first, then by pid. Poll it to follow a build. Without pg_monitor, other roles' builds show only their pid.",
    resolve: (_, __, ctx) => loadIndexBuilds(ctx.db),
  }),
);
