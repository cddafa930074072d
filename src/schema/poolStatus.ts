import {
  connectionsByApplication,
  connectionsByState,
  serverConnections,
  type ConnectionCountRow,
  type ServerConnectionsRow,
} from '../db/connections.js';
import type { PoolCounters } from '../db/pool.js';
import type { SharedReadCounters } from '../db/sharedReads.js';
import { builder } from './builder.js';
import { intervalArgs, ticks, tickValue } from './live.js';

const ConnectionCount = builder.objectRef<ConnectionCountRow>('ConnectionCount').implement({
  description: 'Number of server connections that share a key (a state or an application name).',
  fields: (t) => ({
    key: t.exposeString('key', { description: 'The state (active, idle, idle in transaction...) or application_name.' }),
    count: t.exposeInt('count', { description: 'Connections with this key.' }),
  }),
});

const IdleTransaction = builder.objectRef<{ pid: number; applicationName: string; idleSeconds: number }>('IdleTransaction').implement({
  description: 'A session that opened a transaction and went idle: it holds its locks and its snapshot blocks vacuum.',
  fields: (t) => ({
    pid: t.exposeInt('pid', { description: 'Backend process id (for pg_terminate_backend).' }),
    applicationName: t.exposeString('applicationName', { description: "The session's application_name." }),
    idleSeconds: t.exposeFloat('idleSeconds', { description: 'Seconds since the transaction went idle.' }),
  }),
});

const ServerConnections = builder.objectRef<ServerConnectionsRow>('ServerConnections').implement({
  description: 'Connections as the PostgreSQL server counts them, all clients included.',
  fields: (t) => ({
    maxConnections: t.exposeInt('max_connections', { description: "The server's max_connections setting." }),
    reservedConnections: t.exposeInt('reserved_connections', {
      description: 'Slots reserved for superusers and pg_use_reserved_connections (not usable by applications).',
    }),
    total: t.exposeInt('total', { description: 'Client connections open now.' }),
    usageRatio: t.float({
      description: 'total / (maxConnections - reservedConnections): above 0.8 new connections may soon be refused.',
      resolve: (row) => row.total / Math.max(row.max_connections - row.reserved_connections, 1),
    }),
    byState: t.field({
      type: [ConnectionCount],
      description: 'Client connections by state, most first.',
      resolve: (_, __, ctx) => connectionsByState(ctx.db),
    }),
    byApplication: t.field({
      type: [ConnectionCount],
      description: 'Client connections by application_name, most first.',
      resolve: (_, __, ctx) => connectionsByApplication(ctx.db),
    }),
    oldestIdleInTransaction: t.field({
      type: IdleTransaction,
      nullable: true,
      description: 'The session idle in a transaction for longest; null when no session is idle in a transaction.',
      resolve: (row) =>
        row.oldest_idle_in_transaction_pid === null
          ? null
          : {
              pid: row.oldest_idle_in_transaction_pid,
              applicationName: row.oldest_idle_in_transaction_application ?? '',
              idleSeconds: row.oldest_idle_in_transaction_seconds ?? 0,
            },
    }),
  }),
});

const SharedReadStatus = builder.objectRef<SharedReadCounters>('SharedReadStatus').implement({
  description:
    'Reads shared between requests: an identical statement already in flight is joined, not sent again (PGSCOPE_READ_COALESCING), ' +
    'and answers may be kept for PGSCOPE_READ_CACHE_MS.',
  fields: (t) => ({
    coalesced: t.expose('coalesced', {
      type: 'BigInt',
      description: 'Reads since start answered by an identical round trip already in flight (no pool wait, no statement of their own).',
    }),
    cached: t.expose('cached', { type: 'BigInt', description: 'Reads since start answered from the read cache.' }),
    waiting: t.exposeInt('waiting', { description: 'Reads waiting now for an identical round trip already in flight.' }),
    cacheEntries: t.exposeInt('cacheEntries', { description: 'Answers held in the read cache now.' }),
  }),
});

const PoolStatus = builder.objectRef<PoolCounters>('PoolStatus').implement({
  description: "pgscope's own connection pool (one pg.Pool per target) and the server's connection usage.",
  fields: (t) => ({
    max: t.exposeInt('max', { description: 'Most connections the pool opens (PGSCOPE_POOL_MAX).' }),
    min: t.exposeInt('min', { description: 'Connections kept open when idle (PGSCOPE_POOL_MIN).' }),
    total: t.exposeInt('total', { description: 'Connections open now.' }),
    idle: t.exposeInt('idle', { description: 'Open connections not in use.' }),
    checkedOut: t.exposeInt('checkedOut', { description: 'Connections running a statement now.' }),
    waiting: t.exposeInt('waiting', { description: 'Requests waiting for a connection.' }),
    timeouts: t.exposeInt('timeouts', {
      description:
        'Statements that gave up waiting for a connection since start, each answering POOL_EXHAUSTED to every request ' +
        'that waited for it (identical reads wait once: see reads).',
    }),
    idleErrors: t.exposeInt('idleErrors', {
      description: 'Idle connections that failed since start (network drops, server restarts) and were replaced.',
    }),
    reads: t.field({
      type: SharedReadStatus,
      description: 'Identical reads shared between requests, and the read cache.',
      resolve: (_, __, ctx) => ctx.sharedReads.counters(),
    }),
    server: t.field({
      type: ServerConnections,
      description: 'Connections as the server sees them.',
      resolve: (_, __, ctx) => serverConnections(ctx.db),
    }),
  }),
});

builder.queryField('poolStatus', (t) =>
  t.field({
    type: PoolStatus,
    description: "State of pgscope's connection pool, and of the server's connection slots.",
    resolve: (_, __, ctx) => ctx.database.counters(),
  }),
);

builder.subscriptionField('poolStatus', (t) =>
  t.field({
    type: PoolStatus,
    description: "poolStatus now, then every intervalMs: a dashboard of the pool and the server's connection slots.",
    args: intervalArgs,
    subscribe: (_, args, ctx) => ticks(ctx, args.intervalMs, async () => ctx.database.counters()),
    resolve: tickValue,
  }),
);
