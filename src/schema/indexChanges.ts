// applyIndex and dropIndex: build or drop an index without blocking the application, through the
// change log (src/actions/changeLog.ts). The payload gives the plan (what runs, and why) and, once
// it ran, the index as built.
import type { IndexInput } from '../actions/index/definition.js';
import { applyIndexSteps, dropIndexSteps, type DropChange, type IndexChange, type IndexOutcome } from '../actions/index/change.js';
import { builder } from './builder.js';
import {
  DRY_RUN_DESCRIPTION,
  IDEMPOTENCY_KEY_DESCRIPTION,
  idempotencyKeyArgument,
  PlannedStatementType,
  WAIT_DESCRIPTION,
} from './changeArgs.js';
import { changePayloadType, runChange } from './changePayload.js';
import { queryIdsArgument } from '../db/queryIds.js';

const IndexKeyDirection = builder.enumType('IndexKeyDirection', {
  description: 'Sort direction of an index key.',
  values: { ASC: { description: 'Ascending (the default).' }, DESC: { description: 'Descending: serves ORDER BY ... DESC.' } },
});

const IndexNullsOrder = builder.enumType('IndexNullsOrder', {
  description: 'Where NULLs sort in an index key.',
  values: { FIRST: { description: 'NULLS FIRST (the default for DESC).' }, LAST: { description: 'NULLS LAST (the default for ASC).' } },
});

const IndexKeyInput = builder.inputType('IndexKeyInput', {
  description: "One key of the index: a column, or an expression over the table's columns (exactly one of the two).",
  fields: (t) => ({
    column: t.string({ description: 'A column of the table, as the catalog names it (case-sensitive).' }),
    expression: t.string({
      description:
        "One expression over the table's columns: lower(email), (details ->> 'page'). Parsed by PostgreSQL's parser and rebuilt, " +
        'every function and operator schema-qualified (pg_catalog when none is named: name a function of another schema with ' +
        "it, app.normalize(email); its author must be trusted to run as the table's owner, else UNTRUSTED_CODE); anything else " +
        '(several statements, subqueries, other tables, volatile functions) is BAD_USER_INPUT.',
    }),
    direction: t.field({ type: IndexKeyDirection, description: 'ASC (default) or DESC.' }),
    nulls: t.field({ type: IndexNullsOrder, description: 'NULLS FIRST or LAST; the default follows the direction.' }),
    opclass: t.string({ description: 'Operator class, when not the default of the type and method: jsonb_path_ops, text_pattern_ops ...' }),
  }),
});

const ApplyIndexInput = builder.inputType('ApplyIndexInput', {
  description: 'The index to build. Every name is checked against the catalog; nothing reaches the server until it all checks out.',
  fields: (t) => ({
    schema: t.string({ description: 'Schema of the table. Default public.' }),
    table: t.string({ required: true, description: 'The table (or partitioned table) to index.' }),
    columns: t.field({ type: [IndexKeyInput], required: true, description: 'The keys, in order (1 to 32, INCLUDE columns counted).' }),
    method: t.string({ description: 'Access method: btree (default), gin, gist, hash, brin, spgist.' }),
    where: t.string({ description: "Partial-index predicate, one boolean expression over the table's columns: status = 'pending'." }),
    include: t.stringList({ description: 'Columns stored in the index without being keys (INCLUDE), for index-only scans.' }),
    unique: t.boolean({ description: 'A unique index (fails with INDEX_BUILD_FAILED when the rows hold duplicates). Default false.' }),
    name: t.string({ description: 'Name of the index; default derived like PostgreSQL does (users_email_idx).' }),
    forQueryIds: t.idList({
      description: 'pg_stat_statements queryids the index is meant to speed up: the change log shows their mean time before and after.',
    }),
    dryRun: t.boolean({ description: DRY_RUN_DESCRIPTION, defaultValue: true }),
    wait: t.boolean({ description: WAIT_DESCRIPTION, defaultValue: true }),
    idempotencyKey: t.string({ description: IDEMPOTENCY_KEY_DESCRIPTION }),
  }),
});

export const IndexChangePlan = builder.objectRef<IndexChange>('IndexChangePlan').implement({
  description: 'What applyIndex runs (or, for a dry run, would run).',
  fields: (t) => ({
    schema: t.string({ description: 'Schema of the index (that of its table).', resolve: (p) => p.index.schema }),
    table: t.string({ description: 'The table.', resolve: (p) => p.index.table }),
    name: t.string({
      description: 'Name of the index (given or derived); that of the identical index when one exists.',
      resolve: (p) => p.index.existing?.name ?? p.index.name,
    }),
    definition: t.string({
      description: 'The index as one CREATE INDEX CONCURRENTLY statement, as a person would run it on a plain table.',
      resolve: (p) => p.index.definitionSql,
    }),
    partitioned: t.boolean({
      description: 'A partitioned table: CREATE INDEX ON ONLY the parent, a concurrent build per partition, then ATTACH each.',
      resolve: (p) => p.index.partitioned,
    }),
    alreadyExists: t.boolean({
      description:
        'An identical valid index exists already: nothing runs and applyIndex returns it (applying twice is safe). An identical ' +
        'INVALID one is not this: the statements drop it and build it again.',
      resolve: (p) => p.index.existing !== null,
    }),
    statements: t.field({ type: [PlannedStatementType], description: 'The statements, in order.', resolve: (p) => p.statements }),
    warnings: t.stringList({
      description: 'Things to know first, such as transactions open for minutes that a concurrent build must wait for.',
      resolve: (p) => p.index.warnings,
    }),
  }),
});

export const BuiltIndex = builder.objectRef<IndexOutcome>('BuiltIndex').implement({
  description: 'The index applyIndex built (or found already there).',
  fields: (t) => ({
    schema: t.exposeString('schema', { description: 'Schema of the index.' }),
    name: t.exposeString('name', { description: 'Name of the index.' }),
    sizeBytes: t.field({
      type: 'BigInt',
      description: 'Its size on disk; summed over the partitions for a partitioned index.',
      resolve: (o) => BigInt(o.sizeBytes),
    }),
    valid: t.exposeBoolean('valid', { description: 'PostgreSQL marks it valid: the planner may use it.' }),
    alreadyExisted: t.exposeBoolean('alreadyExisted', { description: 'It was there already; nothing was built.' }),
    durationMs: t.exposeFloat('durationMs', { description: 'Milliseconds the build took on the DDL session.' }),
    executedSql: t.exposeStringList('executedSql', {
      description: 'The statements executed, in order (lock-timeout retries and cleanup included).',
    }),
  }),
});

const ApplyIndexPayload = changePayloadType<'applyIndex'>('ApplyIndexPayload', {
  description: 'What applyIndex planned or did.',
  plan: { type: IndexChangePlan, description: 'What runs, in order, and the warnings.' },
  fields: (t) => ({
    index: t.field({
      type: BuiltIndex,
      nullable: true,
      description:
        'The index, once built: null for a dry run and for wait: false (poll changeLogEntry; its outcome holds the same fields).',
      resolve: (payload) => payload.outcome,
    }),
  }),
});

builder.mutationField('applyIndex', (t) =>
  t.field({
    type: ApplyIndexPayload,
    authScopes: { admin: true },
    description:
      'Builds an index without blocking writes: CREATE INDEX CONCURRENTLY on its own DDL session (no statement timeout, a short ' +
      'lock_timeout with bounded retries); on a partitioned table ON ONLY the parent, one concurrent build per partition and ' +
      "ATTACH, each checked valid; the session's search_path is pg_catalog, pg_temp. A failed or cancelled build drops what it " +
      'left; rows that make it fail give INDEX_BUILD_FAILED. An identical valid index is returned, not duplicated; an identical ' +
      'INVALID one is dropped and built again (ALREADY_EXISTS, reason BEING_BUILT, while another session builds it); another ' +
      'index with that name is ALREADY_EXISTS. Refused on PostgreSQL 14.0-14.3 (concurrent builds could ' +
      'corrupt indexes there). Dry run by default. Recorded in the change log.',
    args: { input: t.arg({ type: ApplyIndexInput, required: true, description: 'The index, and dryRun / wait.' }) },
    resolve: async (_, { input }, ctx) => {
      const helpsQueryIds = queryIdsArgument('forQueryIds', input.forQueryIds);
      const idempotencyKey = idempotencyKeyArgument(input.idempotencyKey);
      const caps = await ctx.capabilities();
      const dryRun = input.dryRun ?? true;
      const wait = input.wait ?? true;
      const definition: IndexInput = {
        schema: input.schema,
        table: input.table,
        columns: input.columns,
        method: input.method,
        where: input.where,
        include: input.include,
        unique: input.unique,
        name: input.name,
      };
      const steps = applyIndexSteps(definition, { versionNum: caps.serverVersionNum }, ctx.config.ddlLockTimeoutMs, ctx.config.trust);
      const request = {
        target: { schema: input.schema ?? 'public', name: input.name ?? null },
        input: { ...definition, forQueryIds: helpsQueryIds, dryRun, wait },
        dryRun,
        wait,
        helpsQueryIds,
        idempotencyKey,
      };
      return runChange(ctx, 'applyIndex', request, steps);
    },
  }),
);

const DropIndexPlan = builder.objectRef<DropChange>('DropIndexPlan').implement({
  description: 'What dropIndex runs (or, for a dry run, would run).',
  fields: (t) => ({
    schema: t.string({ description: 'Schema of the index.', resolve: (p) => p.drop.schema }),
    name: t.string({ description: 'The index.', resolve: (p) => p.drop.name }),
    table: t.string({ description: 'Its table.', resolve: (p) => p.drop.table }),
    partitioned: t.boolean({
      description: 'A partitioned index: plain DROP INDEX under a short lock_timeout (PostgreSQL cannot drop it concurrently).',
      resolve: (p) => p.drop.partitioned,
    }),
    statements: t.field({ type: [PlannedStatementType], description: 'The statements, in order.', resolve: (p) => p.statements }),
  }),
});

const DropIndexPayload = changePayloadType<'dropIndex'>('DropIndexPayload', {
  description: 'What dropIndex planned or did.',
  plan: { type: DropIndexPlan, description: 'What runs.' },
});

builder.mutationField('dropIndex', (t) =>
  t.field({
    type: DropIndexPayload,
    authScopes: { admin: true },
    description:
      'Drops an index without blocking the application: DROP INDEX CONCURRENTLY, or for a partitioned index a plain DROP INDEX ' +
      'under a short lock_timeout with bounded retries. Refuses an index that backs a primary key, unique or exclusion ' +
      'constraint or a foreign key (INDEX_BACKS_CONSTRAINT), a unique index that keeps duplicates out without a constraint or the ' +
      "table's replica identity index (INDEX_PROTECTED), and the index of a single partition. Dry run by default. Recorded in the change log.",
    args: {
      schema: t.arg.string({ description: 'Schema of the index. Default public.' }),
      name: t.arg.string({ required: true, description: 'Name of the index.' }),
      dryRun: t.arg.boolean({ description: DRY_RUN_DESCRIPTION, defaultValue: true }),
      wait: t.arg.boolean({ description: WAIT_DESCRIPTION, defaultValue: true }),
      idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_DESCRIPTION }),
    },
    resolve: async (_, args, ctx) => {
      const target = { schema: args.schema ?? 'public', name: args.name };
      const dryRun = args.dryRun ?? true;
      const wait = args.wait ?? true;
      const idempotencyKey = idempotencyKeyArgument(args.idempotencyKey);
      const request = { target, input: { ...target, dryRun, wait }, dryRun, wait, idempotencyKey };
      return runChange(ctx, 'dropIndex', request, dropIndexSteps(target, ctx.config.ddlLockTimeoutMs));
    },
  }),
);
