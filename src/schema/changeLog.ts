// The change log as GraphQL: ChangeLogEntry (returned by every mutation), changeLog (newest first)
// and changeLogEntry (what a client polls after wait: false).
import DataLoader from 'dataloader';
import { changeLogPage, changeLogUnavailable, readEntry, type ChangeLogRow, type ChangeStatus } from '../actions/changeLog.js';
import { createContextCache } from '@pothos/core';
import type { Context } from '../context.js';
import { badInput, notFound } from '../errors.js';
import { loadIndexBuilds, type IndexBuild as IndexBuildShape } from '../db/indexBuilds.js';
import { changeEffect, type EffectWindow, type StatementEffect } from '../db/history/changeEffect.js';
import { intInRange } from './args.js';
import { builder } from './builder.js';
import { IndexBuild } from './indexBuild.js';
import { intervalArgs, ticks, tickValue } from './live.js';

/**
 * The index build each DDL session (by pid) runs now: one read of pg_stat_progress_create_index for
 * all the RUNNING entries a page resolves together. Not cached: a subscription resolves its events
 * with one context, and each event must read the progress anew.
 */
const buildsBySession = createContextCache(
  (ctx: Context) =>
    new DataLoader<number, IndexBuildShape | null>(
      async (pids) => {
        const builds = await loadIndexBuilds(ctx.db);
        return pids.map((pid) => builds.find((build) => build.pid === pid) ?? null);
      },
      { cache: false },
    ),
);

const ChangeStatusEnum = builder.enumType('ChangeStatus', {
  description: 'Where a change stands.',
  values: {
    PLANNED: { description: 'A dry run: validated and recorded with its SQL; nothing was executed.' },
    RUNNING: { description: 'Executing on the DDL session (wait: false returns this at once; poll changeLogEntry).' },
    SUCCEEDED: { description: 'Every statement ran.' },
    FAILED: { description: 'Refused or failed: errorCode and errorMessage say why; statements lists what had run.' },
    INTERRUPTED: { description: 'pgscope stopped (or died) while it ran; its statement was cancelled.' },
  } satisfies Record<ChangeStatus, unknown>,
});

const EffectWindowType = builder.objectRef<EffectWindow>('EffectWindow').implement({
  description: "A statement's counters between two query-statistics snapshots.",
  fields: (t) => ({
    from: t.expose('from', { type: 'DateTime', description: 'The snapshot the window starts at.' }),
    to: t.expose('to', { type: 'DateTime', description: 'The snapshot the window ends at.' }),
    calls: t.expose('calls', { type: 'BigInt', description: 'Calls within the window.' }),
    meanTimeMs: t.exposeFloat('meanTimeMs', { nullable: true, description: 'Mean execution time within the window; null without calls.' }),
  }),
});

const StatementEffectType = builder.objectRef<StatementEffect>('StatementEffect').implement({
  description:
    'The measured effect of a change on one statement it was meant to help: calls and mean time before and after, from ' +
    "pgscope's query-statistics snapshots (PGSCOPE_CAPTURE_INTERVAL_S). Nothing is estimated here.",
  fields: (t) => ({
    queryId: t.exposeID('queryId', { description: 'pg_stat_statements queryid.' }),
    query: t.exposeString('query', { nullable: true, description: 'Its text as the history stored it; null when never captured.' }),
    before: t.field({
      type: EffectWindowType,
      nullable: true,
      description:
        'From the first snapshot of the day before the change to the last one before it; null until two exist (or after a reset).',
      resolve: (effect) => effect.before,
    }),
    after: t.field({
      type: EffectWindowType,
      nullable: true,
      description: 'From the first snapshot after the change finished to the latest; null until two exist.',
      resolve: (effect) => effect.after,
    }),
    meanTimeRatio: t.float({
      nullable: true,
      description: 'after.meanTimeMs / before.meanTimeMs: below 1 the statement got faster. Null until both are known.',
      resolve: ({ before, after }) => (before?.meanTimeMs && after?.meanTimeMs != null ? after.meanTimeMs / before.meanTimeMs : null),
    }),
  }),
});

export const ChangeLogEntry = builder.objectRef<ChangeLogRow>('ChangeLogEntry').implement({
  description: 'One change pgscope planned or made, from its own table pgscope.change_log: who asked, what, the SQL, the outcome.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Entry id; later requests have larger ids.' }),
    requestedAt: t.expose('requested_at', { type: 'DateTime', description: 'When the change was asked for (database server clock).' }),
    finishedAt: t.expose('finished_at', {
      type: 'DateTime',
      nullable: true,
      description: 'When it finished; null while RUNNING and for dry runs.',
    }),
    action: t.exposeString('action', { description: 'The mutation: analyzeTable, resetQueryStats, ...' }),
    targetSchema: t.exposeString('target_schema', {
      nullable: true,
      description: 'Schema of the object changed; null when the change has none.',
    }),
    targetName: t.exposeString('target_name', {
      nullable: true,
      description: 'Name of the object changed; null when the change has none.',
    }),
    statements: t.exposeStringList('statements', {
      description: 'For a dry run, the SQL it would run; otherwise the SQL executed, in order (each recorded as it started).',
    }),
    dryRun: t.exposeBoolean('dry_run', { description: 'Only planned, never executed.' }),
    status: t.expose('status', { type: ChangeStatusEnum, description: 'Where the change stands.' }),
    errorCode: t.exposeString('error_code', {
      nullable: true,
      description:
        'extensions.code of the error when it FAILED (QUERY_TIMEOUT when its statement was cancelled at a stop); null otherwise, ' +
        'and for a change found INTERRUPTED at start.',
    }),
    errorMessage: t.exposeString('error_message', {
      nullable: true,
      description: 'Why it FAILED or was INTERRUPTED, with what start-up recovery did after; null while PLANNED, RUNNING or SUCCEEDED.',
    }),
    tokenName: t.exposeString('actor', { description: 'Which token asked, by name (admin); never the token itself.' }),
    input: t.expose('input', { type: 'JSON', description: 'The arguments of the mutation, as sent.' }),
    outcome: t.expose('outcome', {
      type: 'JSON',
      nullable: true,
      description:
        'What the change did (per action), once it SUCCEEDED; for a FAILED or INTERRUPTED change, what it left and what start-up ' +
        'recovery did with it. Null while PLANNED or RUNNING, and when a failed change left nothing to record.',
    }),
    durationMs: t.exposeFloat('duration_ms', {
      nullable: true,
      description: 'Milliseconds its execution took on the DDL session; null for dry runs and while RUNNING.',
    }),
    indexBuild: t.field({
      type: IndexBuild,
      nullable: true,
      description:
        'The index build its session runs now (pg_stat_progress_create_index: phase, blocks and tuples done, progressRatio), ' +
        'for a progress bar; null unless it is RUNNING and building an index at this moment.',
      resolve: (entry, _, ctx) =>
        entry.status === 'RUNNING' && entry.session_pid !== null ? buildsBySession(ctx).load(entry.session_pid) : null,
    }),
    sessionPid: t.exposeInt('session_pid', {
      nullable: true,
      description: 'Backend pid of the DDL session it ran on (pg_stat_activity, pg_stat_progress_create_index); null for dry runs.',
    }),
    idempotencyKey: t.exposeString('idempotency_key', {
      nullable: true,
      description: 'The idempotencyKey the request sent (kept after the key expired); null without one and for dry runs.',
    }),
    helpsQueryIds: t.exposeIDList('helps_query_ids', { description: 'pg_stat_statements queryids the change is meant to speed up.' }),
    effect: t.field({
      type: [StatementEffectType],
      description:
        'For each of helpsQueryIds, its calls and mean time before and after the change, measured from the query-statistics ' +
        'history once snapshots exist on both sides. Empty when the change named no statements or has not SUCCEEDED.',
      resolve: (entry, _, ctx) =>
        entry.status === 'SUCCEEDED' && entry.finished_at
          ? changeEffect(ctx.db, entry.helps_query_ids, entry.requested_at, entry.finished_at)
          : [],
    }),
  }),
});

interface ChangeLogConnectionShape {
  edges: Array<{ cursor: string; node: ChangeLogRow }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

const ChangeLogConnection = builder.connectionObject(
  { type: ChangeLogEntry, name: 'ChangeLogConnection', description: 'One page of the change log, newest first.' },
  { description: 'A change-log entry and its cursor.' },
);

const encodeCursor = (id: string) => Buffer.from(`change:${id}`).toString('base64url');

function decodeCursor(cursor: string): string {
  const id = /^change:(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))?.[1];
  if (!id) throw badInput('after is not a changeLog cursor: pass the endCursor of the previous page.', { argument: 'after' });
  return id;
}

async function requireChangeLog(ctx: Context): Promise<void> {
  if (!ctx.ownSchemaReady) throw changeLogUnavailable(await ctx.capabilities());
}

builder.queryField('changeLog', (t) =>
  t.field({
    type: ChangeLogConnection,
    description: 'Every change pgscope planned or made (dry runs and failures included), newest first, one page at a time.',
    args: {
      first: t.arg.int({ description: 'Entries per page, 1 to 500. Default 20.', defaultValue: 20 }),
      after: t.arg.string({ description: 'The endCursor of the previous page.' }),
    },
    resolve: async (_, args, ctx) => {
      const first = intInRange('first', args.first ?? 20, 1, 500);
      const after = args.after ? decodeCursor(args.after) : null;
      await requireChangeLog(ctx);
      // one row more than asked tells whether another page follows
      const rows = await changeLogPage(ctx.db, first + 1, after);
      const edges = rows.slice(0, first).map((row) => ({ cursor: encodeCursor(row.id), node: row }));
      const connection: ChangeLogConnectionShape = {
        edges,
        pageInfo: {
          hasNextPage: rows.length > first,
          hasPreviousPage: after !== null,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
      return connection;
    },
  }),
);

builder.queryField('changeLogEntry', (t) =>
  t.field({
    type: ChangeLogEntry,
    description: 'One change-log entry by id (NOT_FOUND when absent): what a client polls after a mutation with wait: false.',
    args: { id: t.arg.id({ required: true, description: 'The id of the entry (change.id of the mutation).' }) },
    resolve: async (_, args, ctx) => {
      const id = entryId(args.id);
      await requireChangeLog(ctx);
      return existingEntry(ctx, id);
    },
  }),
);

builder.subscriptionField('changeProgress', (t) =>
  t.field({
    type: ChangeLogEntry,
    description:
      'Follows one change (a mutation sent with wait: false): its entry now, then every intervalMs while it is RUNNING; the last ' +
      'event is its final state (SUCCEEDED, FAILED, INTERRUPTED), then the stream ends. Ask for indexBuild for a progress bar. ' +
      'NOT_FOUND at once when the entry does not exist.',
    args: {
      id: t.arg.id({ required: true, description: 'The id of the entry (change.id of the mutation).' }),
      ...intervalArgs,
    },
    subscribe: async (_, args, ctx) => {
      const id = entryId(args.id);
      await requireChangeLog(ctx);
      await existingEntry(ctx, id);
      return ticks(
        ctx,
        args.intervalMs,
        () => existingEntry(ctx, id),
        (entry) => entry.status !== 'RUNNING',
      );
    },
    resolve: tickValue,
  }),
);

function entryId(id: string | number): string {
  const digits = String(id);
  if (!/^\d{1,19}$/.test(digits)) throw badInput('id must be a change-log entry id (digits).', { argument: 'id' });
  return digits;
}

async function existingEntry(ctx: Context, id: string): Promise<ChangeLogRow> {
  const row = await readEntry(ctx.db, id);
  if (!row) throw notFound(`No change-log entry with id ${id}.`, { id });
  return row;
}
