// createPartitions and detachPartitions: calendar partition maintenance through the change log
// (src/actions/changeLog.ts), with the plan in the payload and what was done once it ran.
import type { CreatePartitionsResult } from '../actions/partition/create.js';
import type { DetachResult } from '../actions/partition/detach.js';
import { createPartitionsSteps, detachPartitionsSteps, type DetachChange, type PartitionChange } from '../actions/partition/change.js';
import { DEFAULT_AHEAD, MAX_AHEAD, type PlannedPartition } from '../actions/partition/plan.js';
import type { PlannedDetach } from '../actions/partition/detach.js';
import { builder } from './builder.js';
import {
  DRY_RUN_DESCRIPTION,
  IDEMPOTENCY_KEY_DESCRIPTION,
  idempotencyKeyArgument,
  PlannedStatementType,
  WAIT_DESCRIPTION,
} from './changeArgs.js';
import { changePayloadType, runChange } from './changePayload.js';

const PartitionIntervalEnum = builder.enumType('PartitionInterval', {
  description: 'The calendar period one partition covers.',
  values: {
    DAY: { description: 'One day.' },
    WEEK: { description: 'One week (starting on the weekday the existing partitions start on).' },
    MONTH: { description: 'One calendar month (January 31 + 1 month is February 28 or 29, never March).' },
    YEAR: { description: 'One calendar year.' },
  },
});

const CreatePartitionsInput = builder.inputType('CreatePartitionsInput', {
  description: 'Which table to extend, how far ahead, and whether to do it.',
  fields: (t) => ({
    schema: t.string({ description: 'Schema of the partitioned table. Default public.' }),
    table: t.string({ required: true, description: 'A table partitioned BY RANGE on one date, timestamp or timestamptz column.' }),
    ahead: t.int({
      description: `Periods after the current one that must have a partition, 0 to ${MAX_AHEAD}. Default ${DEFAULT_AHEAD} (the next 3 months).`,
      defaultValue: DEFAULT_AHEAD,
    }),
    interval: t.field({ type: PartitionIntervalEnum, description: "Default: inferred from the existing partitions' bounds." }),
    dryRun: t.boolean({ description: DRY_RUN_DESCRIPTION, defaultValue: true }),
    wait: t.boolean({ description: WAIT_DESCRIPTION, defaultValue: true }),
    idempotencyKey: t.string({ description: IDEMPOTENCY_KEY_DESCRIPTION }),
  }),
});

const PlannedPartitionType = builder.objectRef<PlannedPartition>('PlannedPartition').implement({
  description: 'A partition createPartitions creates.',
  fields: (t) => ({
    schema: t.exposeString('schema', { description: 'Its schema (that of the newest sibling).' }),
    name: t.exposeString('name', { description: "Its name, following the siblings' pattern." }),
    from: t.exposeString('from', { description: 'Lower bound (inclusive), as PostgreSQL reads it.' }),
    to: t.exposeString('to', { description: 'Upper bound (exclusive).' }),
    rowsInDefault: t.exposeInt('defaultRows', {
      description: 'Rows of this range waiting in the DEFAULT partition (counted up to 100,000): they move into the new partition.',
    }),
    rowsInDefaultCapped: t.exposeBoolean('defaultRowsCapped', { description: 'The count stopped at its cap: at least that many rows.' }),
    movesRowsFromDefault: t.exposeBoolean('moveFromDefault', {
      description:
        'Created standalone and filled with a copy of those rows while writes go on; then, in one short transaction while writes to the ' +
        'parent wait, the rows are deleted from the DEFAULT partition (those that changed since the copy added) and it is ATTACHed.',
    }),
    writeWaitEstimateMs: t.float({
      nullable: true,
      description:
        'How long writes to the parent are expected to wait while the rows move, in ms: an estimate from the rows to move, calibrated ' +
        'by bench/partitions.ts. Null when no row moves.',
      resolve: (p) => p.writeWaitEstimateMs,
    }),
  }),
});

const PartitionCreatePlan = builder.objectRef<PartitionChange>('PartitionCreatePlan').implement({
  description: 'What createPartitions runs (or, for a dry run, would run).',
  fields: (t) => ({
    schema: t.string({ description: 'Schema of the partitioned table.', resolve: (p) => p.partitionPlan.schema }),
    table: t.string({ description: 'The partitioned table.', resolve: (p) => p.partitionPlan.table }),
    interval: t.field({
      type: PartitionIntervalEnum,
      description: 'The period of each partition.',
      resolve: (p) => p.partitionPlan.interval,
    }),
    intervalInferred: t.boolean({
      description: 'The interval was inferred from the existing partitions.',
      resolve: (p) => p.partitionPlan.intervalInferred,
    }),
    partitions: t.field({
      type: [PlannedPartitionType],
      description: 'The partitions to create, oldest first; empty when the table is covered already (idempotent).',
      resolve: (p) => p.partitionPlan.partitions,
    }),
    owner: t.string({
      description:
        "The role the new partitions (and their indexes) belong to: the parent's owner. They also get its grants, row-level security and replica identity.",
      resolve: (p) => p.partitionPlan.dress.owner,
    }),
    copiesBeforeLock: t.boolean({
      description:
        'Rows waiting in the DEFAULT partition are copied while writes go on, and only those that changed since move while writes wait. ' +
        'False when every row moves while writes wait (the warnings say why) or no row moves.',
      resolve: (p) => Boolean(p.partitionPlan.move?.copyFirst) && p.partitionPlan.partitions.some((x) => x.moveFromDefault),
    }),
    suppressedOnMove: t.stringList({
      description:
        'Foreign keys, triggers and rules that would act on the rows deleted from the DEFAULT partition (an ON DELETE CASCADE, an audit ' +
        'trigger), kept from acting by session_replication_role = replica in the move transaction. Empty when nothing would act or no row moves.',
      resolve: (p) => (p.partitionPlan.partitions.some((x) => x.moveFromDefault) ? (p.partitionPlan.move?.safety.suppressed ?? []) : []),
    }),
    statements: t.field({ type: [PlannedStatementType], description: 'The statements, in order.', resolve: (p) => p.statements }),
    warnings: t.stringList({
      description:
        'Rows to move out of the DEFAULT partition and how long writes wait, gaps left alone, names that could not be read, grants not copied.',
      resolve: (p) => p.partitionPlan.warnings,
    }),
  }),
});

type CreatedPartition = CreatePartitionsResult['created'][number];

const CreatedPartitionType = builder.objectRef<CreatedPartition>('CreatedPartition').implement({
  description: 'A partition createPartitions created.',
  fields: (t) => ({
    schema: t.exposeString('schema', { description: 'Its schema.' }),
    name: t.exposeString('name', { description: 'Its name.' }),
    from: t.exposeString('from', { description: 'Lower bound (inclusive).' }),
    to: t.exposeString('to', { description: 'Upper bound (exclusive).' }),
    rowsMoved: t.exposeInt('rowsMoved', { description: 'Rows moved into it from the DEFAULT partition.' }),
    rowsMovedUnderLock: t.exposeInt('rowsMovedUnderLock', {
      description:
        'Of those, the rows moved while writes to the parent waited: they arrived or changed after the copy (all of them when there was no copy).',
    }),
    writesHeldMs: t.exposeFloat('writesHeldMs', {
      description: 'How long the transaction that made it a partition held writes to the parent, in ms (from the lock to the commit).',
    }),
  }),
});

const CreatePartitionsPayload = changePayloadType<'createPartitions'>('CreatePartitionsPayload', {
  description: 'What createPartitions planned or did.',
  plan: { type: PartitionCreatePlan, description: 'What runs, in order, and the warnings.' },
  fields: (t) => ({
    created: t.field({
      type: [CreatedPartitionType],
      nullable: true,
      description: 'The partitions created and the rows moved; null for a dry run and for wait: false (see changeLogEntry outcome).',
      resolve: (payload) => payload.outcome?.created ?? null,
    }),
  }),
});

builder.mutationField('createPartitions', (t) =>
  t.field({
    type: CreatePartitionsPayload,
    authScopes: { admin: true },
    description:
      'Creates the next partitions of a range-partitioned table in calendar steps, named like the existing ones, skipping ' +
      "ranges that exist (idempotent); they belong to the parent's owner, with its grants, row-level security and replica identity. " +
      'Rows of a new range waiting in the DEFAULT partition are moved without losing or doubling any: the partition is built ' +
      'standalone and filled with a copy while writes go on, then in one short transaction, while writes to the parent wait, the ' +
      'rows are deleted from the DEFAULT partition (those that changed since the copy added) and it is ATTACHed (a lock_timeout ' +
      'bounds every wait). Foreign keys, triggers and rules that would act on those deletes are kept from acting ' +
      '(session_replication_role = replica); when that is not possible or a publication would ship the deletes, the request is ' +
      'refused with UNSAFE_ROW_MOVE and nothing changes. Tables managed by pg_partman are refused. Dry run by default. ' +
      'Recorded in the change log.',
    args: { input: t.arg({ type: CreatePartitionsInput, required: true, description: 'The table, how far ahead, dryRun / wait.' }) },
    resolve: async (_, { input }, ctx) => {
      const caps = await ctx.capabilities();
      const dryRun = input.dryRun ?? true;
      const wait = input.wait ?? true;
      const definition = {
        schema: input.schema ?? 'public',
        table: input.table,
        ahead: input.ahead ?? DEFAULT_AHEAD,
        interval: input.interval ?? null,
      };
      const request = {
        target: { schema: definition.schema, name: definition.table },
        input: { ...definition, dryRun, wait },
        dryRun,
        wait,
        idempotencyKey: idempotencyKeyArgument(input.idempotencyKey),
      };
      return runChange(ctx, 'createPartitions', request, createPartitionsSteps(definition, caps, ctx.config.ddlLockTimeoutMs));
    },
  }),
);

const PlannedDetachType = builder.objectRef<PlannedDetach>('PlannedDetach').implement({
  description: 'A partition detachPartitions detaches (and drops, when asked).',
  fields: (t) => ({
    schema: t.exposeString('schema', { description: 'Its schema.' }),
    name: t.exposeString('name', { description: 'Its name.' }),
    bound: t.exposeString('bound', { description: 'Its bound as PostgreSQL prints it (FOR VALUES FROM (...) TO (...)).' }),
    detachPending: t.exposeBoolean('detachPending', {
      description: 'An interrupted DETACH ... CONCURRENTLY left it half-detached: finished with DETACH ... FINALIZE.',
    }),
    expired: t.exposeBoolean('expired', {
      description: 'Its upper bound is at or before olderThan (a pending one is finished even if not).',
    }),
  }),
});

const PartitionDetachPlan = builder.objectRef<DetachChange>('PartitionDetachPlan').implement({
  description: 'What detachPartitions runs (or, for a dry run, would run).',
  fields: (t) => ({
    schema: t.string({ description: 'Schema of the partitioned table.', resolve: (p) => p.detachPlan.schema }),
    table: t.string({ description: 'The partitioned table.', resolve: (p) => p.detachPlan.table }),
    concurrently: t.boolean({
      description:
        'DETACH ... CONCURRENTLY (PostgreSQL 14+, no DEFAULT partition): writes go on. Otherwise a plain DETACH with a short lock_timeout.',
      resolve: (p) => p.detachPlan.concurrently,
    }),
    drop: t.boolean({ description: 'The detached tables are dropped too.', resolve: (p) => p.detachPlan.drop }),
    partitions: t.field({
      type: [PlannedDetachType],
      description: 'The partitions, oldest first.',
      resolve: (p) => p.detachPlan.partitions,
    }),
    statements: t.field({ type: [PlannedStatementType], description: 'The statements, in order.', resolve: (p) => p.statements }),
  }),
});

const DetachResultType = builder.objectRef<DetachResult>('DetachResult').implement({
  description: 'What detachPartitions did.',
  fields: (t) => ({
    detached: t.exposeStringList('detached', { description: 'Partitions detached (now standalone tables unless dropped).' }),
    finalized: t.exposeStringList('finalized', { description: 'Of those, detach-pending ones finished with FINALIZE.' }),
    dropped: t.exposeStringList('dropped', { description: 'Detached tables dropped (drop: true).' }),
  }),
});

const DetachPartitionsPayload = changePayloadType<'detachPartitions'>('DetachPartitionsPayload', {
  description: 'What detachPartitions planned or did.',
  plan: { type: PartitionDetachPlan, description: 'What runs, in order.' },
  fields: (t) => ({
    result: t.field({
      type: DetachResultType,
      nullable: true,
      description: 'What was detached and dropped; null for a dry run and for wait: false (see changeLogEntry outcome).',
      resolve: (payload) => payload.outcome,
    }),
  }),
});

builder.mutationField('detachPartitions', (t) =>
  t.field({
    type: DetachPartitionsPayload,
    authScopes: { admin: true },
    description:
      'Retention: detaches the partitions whose upper bound is at or before olderThan, CONCURRENTLY where PostgreSQL allows it ' +
      '(14+, no DEFAULT partition), otherwise with a short lock_timeout and bounded retries; finishes detach-pending ones; drops ' +
      'the detached tables only when drop is true. A partition whose range reaches now or later is never detached: such an ' +
      'olderThan is refused with PARTITION_IN_USE and nothing changes. Dry run by default. Recorded in the change log.',
    args: {
      schema: t.arg.string({ description: 'Schema of the partitioned table. Default public.' }),
      table: t.arg.string({ required: true, description: 'A table partitioned BY RANGE on one date, timestamp or timestamptz column.' }),
      olderThan: t.arg({ type: 'DateTime', required: true, description: 'Partitions entirely before this instant go.' }),
      drop: t.arg.boolean({
        description: 'Drop the detached tables too. Default false: they stay as standalone tables.',
        defaultValue: false,
      }),
      dryRun: t.arg.boolean({ description: DRY_RUN_DESCRIPTION, defaultValue: true }),
      wait: t.arg.boolean({ description: WAIT_DESCRIPTION, defaultValue: true }),
      idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_DESCRIPTION }),
    },
    resolve: async (_, args, ctx) => {
      const idempotencyKey = idempotencyKeyArgument(args.idempotencyKey);
      const caps = await ctx.capabilities();
      const dryRun = args.dryRun ?? true;
      const wait = args.wait ?? true;
      const definition = { schema: args.schema ?? 'public', table: args.table, olderThan: args.olderThan, drop: args.drop ?? false };
      const request = {
        target: { schema: definition.schema, name: definition.table },
        input: { ...definition, olderThan: definition.olderThan.toISOString(), dryRun, wait },
        dryRun,
        wait,
        idempotencyKey,
      };
      return runChange(ctx, 'detachPartitions', request, detachPartitionsSteps(definition, caps, ctx.config.ddlLockTimeoutMs));
    },
  }),
);
