import {
  activity,
  blockedQueries,
  type ActivityFilter,
  type BlockedQuery as BlockedQueryRow,
  type SessionRow,
  type SessionState,
} from '../db/activity.js';
import { redactLiveText } from '../sql/redact.js';
import { intInRange, nonNegative } from './args.js';
import { builder } from './builder.js';
import { intervalArgs, ticks, tickValue } from './live.js';

/** PostgreSQL hides most of other roles' sessions from roles without pg_read_all_stats. */
const HIDDEN = "Null when hidden from pgscope's role (see queryVisible).";

const SessionStateEnum = builder.enumType('SessionState', {
  description: 'What a session is doing (pg_stat_activity.state).',
  values: {
    ACTIVE: { description: 'Running a statement.' },
    IDLE: { description: 'Connected, waiting for the client to send a statement.' },
    IDLE_IN_TRANSACTION: {
      description: 'Inside an open transaction, waiting for the client: it keeps its locks and holds back vacuum.',
    },
    IDLE_IN_TRANSACTION_ABORTED: { description: 'Inside a transaction that failed, waiting for the client to roll back.' },
    FASTPATH_FUNCTION_CALL: { description: 'Running a fast-path function call.' },
    DISABLED: { description: 'track_activities is off for this session, so its state is unknown.' },
  } satisfies Record<SessionState, unknown>,
});

const Session = builder.objectRef<SessionRow>('Session').implement({
  description: 'A server process from pg_stat_activity: a client connection, or a background process when asked for.',
  fields: (t) => ({
    pid: t.exposeInt('pid', { description: 'Backend process id (pg_cancel_backend / pg_terminate_backend take it).' }),
    role: t.exposeString('role', { nullable: true, description: 'Role the session logged in as; null for background processes.' }),
    applicationName: t.exposeString('application_name', {
      nullable: true,
      description: 'application_name the client set; empty when none; null for some background processes.',
    }),
    clientAddress: t.exposeString('client_address', {
      nullable: true,
      description: `Client IP address; null for Unix-socket connections and background processes. ${HIDDEN}`,
    }),
    database: t.exposeString('database', {
      nullable: true,
      description: 'Database the session is connected to; null for some background processes.',
    }),
    state: t.expose('state', { type: SessionStateEnum, nullable: true, description: `What the session is doing. ${HIDDEN}` }),
    waitEventType: t.exposeString('wait_event_type', {
      nullable: true,
      description: `Kind of thing it waits for (Lock, LWLock, IO, Client, Timeout...); null when not waiting. ${HIDDEN}`,
    }),
    waitEvent: t.exposeString('wait_event', { nullable: true, description: `The wait event, e.g. "relation" or "PgSleep". ${HIDDEN}` }),
    backendType: t.exposeString('backend_type', {
      nullable: true,
      description: `Process kind: "client backend" for connections, else e.g. "autovacuum worker", "walsender". ${HIDDEN}`,
    }),
    backendStart: t.expose('backend_start', {
      type: 'DateTime',
      nullable: true,
      description: `When the process started (connection time). ${HIDDEN}`,
    }),
    transactionStart: t.expose('transaction_start', {
      type: 'DateTime',
      nullable: true,
      description: `When its current transaction started; null outside a transaction. ${HIDDEN}`,
    }),
    queryStart: t.expose('query_start', {
      type: 'DateTime',
      nullable: true,
      description: `When its current statement started (or, when idle, its last one). ${HIDDEN}`,
    }),
    stateChange: t.expose('state_change', { type: 'DateTime', nullable: true, description: `When state last changed. ${HIDDEN}` }),
    durationMs: t.exposeFloat('duration_ms', {
      nullable: true,
      description: `Milliseconds since queryStart: how long the statement has run (for an idle session, since its last one started). ${HIDDEN}`,
    }),
    transactionDurationMs: t.exposeFloat('transaction_duration_ms', {
      nullable: true,
      description: `Milliseconds since transactionStart; null outside a transaction. ${HIDDEN}`,
    }),
    // Every live text (activity, longRunningQueries, blockedQueries and their blockers) passes here.
    query: t.string({
      nullable: true,
      description:
        'Text of the current (or, when idle, last) statement, truncated at track_activity_query_size. Its constants read $1, $2... ' +
        `unless PGSCOPE_SHOW_QUERY_LITERALS is on; passwords are always masked. ${HIDDEN}`,
      resolve: (row, _, ctx) => (row.query === null ? null : redactLiveText(row.query, ctx.config.showQueryLiterals)),
    }),
    queryVisible: t.exposeBoolean('query_visible', {
      description:
        "False when PostgreSQL hid this session's details from pgscope's role (grant it pg_monitor to see them): only pid, role, " +
        'database and application are known then. It is listed as a client session but matches no state or duration filter.',
    }),
    queryId: t.exposeID('query_id', {
      nullable: true,
      description: 'Statement id, the same as SlowQuery.queryId; null before PostgreSQL 14, with compute_query_id off, or when hidden.',
    }),
    blockedBy: t.exposeIntList('blocked_by', {
      description:
        'Pids of the sessions holding the lock this one waits for (pg_blocking_pids); 0 is a prepared transaction. Empty when not blocked.',
    }),
  }),
});

const BlockedQuery = builder.objectRef<BlockedQueryRow>('BlockedQuery').implement({
  description: 'A session waiting for a lock that other sessions hold, with what it waits for and who holds it.',
  fields: (t) => ({
    session: t.field({ type: Session, description: 'The waiting session.', resolve: (row) => row }),
    lockType: t.exposeString('lock_type', {
      nullable: true,
      description:
        'Kind of lock awaited (pg_locks.locktype): relation, transactionid (a row another transaction changed), tuple, advisory... ' +
        'Null when pg_locks no longer shows the wait (the lock was granted between reading the sessions and the locks).',
    }),
    lockMode: t.exposeString('lock_mode', {
      nullable: true,
      description: 'Mode requested, e.g. AccessShareLock, RowExclusiveLock; null when lockType is.',
    }),
    lockSchema: t.exposeString('lock_schema', {
      nullable: true,
      description: 'Schema of the locked relation; null when the lock is not on a relation of this database.',
    }),
    lockRelation: t.exposeString('lock_relation', {
      nullable: true,
      description: 'Name of the locked table or index; null when the lock is not on a relation of this database.',
    }),
    lockTransactionId: t.exposeString('lock_transaction_id', {
      nullable: true,
      description: 'For transactionid locks, the transaction whose end it waits for; null for other kinds of lock.',
    }),
    waitingMs: t.exposeFloat('lock_waiting_ms', {
      nullable: true,
      description: 'Milliseconds it has waited for the lock (PostgreSQL 14+); null before.',
    }),
    blockerPids: t.exposeIntList('blocked_by', {
      description: 'Pids of the blocking sessions (pg_blocking_pids); 0 stands for a prepared transaction (see pg_prepared_xacts).',
    }),
    blockers: t.expose('blockers', {
      type: [Session],
      description:
        'The blocking sessions, longest-running first. A blocker that is itself blocked lists its own blockedBy; the one with none heads the chain.',
    }),
  }),
});

const activityArgs = builder.args((t) => ({
  state: t.field({
    type: [SessionStateEnum],
    description: 'Only sessions in one of these states (then includeIdle is ignored).',
  }),
  includeIdle: t.boolean({ description: 'Also list IDLE sessions. Default false.', defaultValue: false }),
  includeBackground: t.boolean({
    description: 'Also list autovacuum workers, WAL senders and other background processes. Default false.',
    defaultValue: false,
  }),
  minDurationMs: t.float({ description: 'Only sessions whose statement started at least this many milliseconds ago.' }),
  applicationName: t.string({ description: 'Only sessions with exactly this application_name.' }),
  allDatabases: t.boolean({
    description: 'Also sessions connected to other databases of the server. Default false: the current database only.',
    defaultValue: false,
  }),
  limit: t.int({ description: 'Most sessions returned, 1 to 1000. Default 100.', defaultValue: 100 }),
}));

interface ActivityArgs {
  state?: readonly SessionState[] | null;
  includeIdle?: boolean | null;
  includeBackground?: boolean | null;
  minDurationMs?: number | null;
  applicationName?: string | null;
  allDatabases?: boolean | null;
  limit?: number | null;
}

/** The activity filter the arguments ask for (BAD_USER_INPUT when out of range). */
function activityFilter(args: ActivityArgs): ActivityFilter {
  return {
    states: args.state ?? null,
    includeIdle: args.includeIdle ?? false,
    includeBackground: args.includeBackground ?? false,
    allDatabases: args.allDatabases ?? false,
    minDurationMs: args.minDurationMs == null ? null : nonNegative('minDurationMs', args.minDurationMs),
    applicationName: args.applicationName ?? null,
    limit: intInRange('limit', args.limit ?? 100, 1, 1000),
  };
}

const ACTIVITY =
  "Sessions connected to the current database (pgscope's own excluded), longest-running statement first, then by pid. " +
  "Idle sessions and background processes are left out unless asked for. Without pg_monitor, other roles' sessions appear with queryVisible false.";

builder.queryField('activity', (t) =>
  t.field({
    type: [Session],
    description: ACTIVITY,
    args: activityArgs,
    resolve: async (_, args, ctx) => activity(ctx.db, await ctx.capabilities(), activityFilter(args)),
  }),
);

builder.subscriptionField('activity', (t) =>
  t.field({
    type: [Session],
    description: `activity now, then every intervalMs. ${ACTIVITY}`,
    args: { ...activityArgs, ...intervalArgs },
    subscribe: (_, args, ctx) => {
      const filter = activityFilter(args);
      return ticks(ctx, args.intervalMs, async () => activity(ctx.db, await ctx.capabilities(), filter));
    },
    resolve: tickValue,
  }),
);

builder.queryField('longRunningQueries', (t) =>
  t.field({
    type: [Session],
    description:
      'Client sessions of the current database running one statement (state ACTIVE) for at least minDurationMs, longest first, then by pid.',
    args: {
      minDurationMs: t.arg.float({ description: 'Threshold in milliseconds. Default 5000.', defaultValue: 5000 }),
      allDatabases: t.arg.boolean({
        description: 'Also sessions connected to other databases of the server. Default false: the current database only.',
        defaultValue: false,
      }),
      limit: t.arg.int({ description: 'Most sessions returned, 1 to 1000. Default 100.', defaultValue: 100 }),
    },
    resolve: async (_, args, ctx) =>
      activity(ctx.db, await ctx.capabilities(), {
        states: ['ACTIVE'],
        includeIdle: false,
        includeBackground: false,
        allDatabases: args.allDatabases ?? false,
        minDurationMs: nonNegative('minDurationMs', args.minDurationMs ?? 5000),
        applicationName: null,
        limit: intInRange('limit', args.limit ?? 100, 1, 1000),
      }),
  }),
);

builder.queryField('blockedQueries', (t) =>
  t.field({
    type: [BlockedQuery],
    description:
      'Sessions of the current database waiting for a lock held by others, longest waiting first, then by pid; each with its blockers. ' +
      "Without pg_read_all_stats (pg_monitor) other roles' waits are invisible and so missing here.",
    args: {
      allDatabases: t.arg.boolean({
        description: 'Also blocked sessions of other databases (their lock relation names are then null). Default false.',
        defaultValue: false,
      }),
    },
    resolve: async (_, args, ctx) => blockedQueries(ctx.db, await ctx.capabilities(), { allDatabases: args.allDatabases ?? false }),
  }),
);
