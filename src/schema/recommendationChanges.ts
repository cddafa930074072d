// applyRecommendation: an index recommendation, applied through the same planner and executor as
// applyIndex (the id is re-validated against the catalog), then the statements it was meant to
// help planned again: does the planner use it?
import { applyIndexSteps } from '../actions/index/change.js';
import { decodeRecommendationId } from '../advisor/recommendationId.js';
import { checkStatementsUse, indexTreeNames, type StatementCheck } from '../advisor/verify.js';
import { builder } from './builder.js';
import { DRY_RUN_DESCRIPTION, IDEMPOTENCY_KEY_DESCRIPTION, idempotencyKeyArgument, WAIT_DESCRIPTION } from './changeArgs.js';
import { changePayloadType, runChange, type ChangePayload } from './changePayload.js';
import { BuiltIndex, IndexChangePlan } from './indexChanges.js';

const StatementCheckType = builder.objectRef<StatementCheck>('StatementIndexCheck').implement({
  description: 'One statement the index was meant to help, planned again after the build.',
  fields: (t) => ({
    queryId: t.exposeID('queryId', { description: 'pg_stat_statements queryid.' }),
    usesIndex: t.exposeBoolean('usesIndex', { description: "The new plan uses the index (or one of its partitions' indexes)." }),
    totalCost: t.exposeFloat('totalCost', {
      nullable: true,
      description: "The new plan's estimated total cost; null when it could not be planned.",
    }),
    topNode: t.exposeString('topNode', {
      nullable: true,
      description: 'The top of the new plan: "Limit", "Index Scan using ... on ..."; null when it could not be planned (see problem).',
    }),
    problem: t.exposeString('problem', {
      nullable: true,
      description: 'Why the statement could not be planned again (evicted from pg_stat_statements ...); null when it was planned.',
    }),
    note: t.exposeString('note', {
      nullable: true,
      description:
        'Why usesIndex is false although the index serves the statement as it runs: a B-tree for LIKE $n is not in the generic ' +
        'plan, only in the custom plans that know the pattern. Null when usesIndex is true, or when no such reason is known.',
    }),
  }),
});

interface ApplyRecommendationResult extends ChangePayload<'applyRecommendation'> {
  statements: StatementCheck[] | null;
}

const ApplyRecommendationPayload = changePayloadType<'applyRecommendation', ApplyRecommendationResult>('ApplyRecommendationPayload', {
  description: 'What applyRecommendation planned or did, and whether the statements it was for now use the index.',
  change: 'The change-log entry (its effect shows the measured before/after).',
  plan: { type: IndexChangePlan, description: 'What runs, in order, and the warnings.' },
  fields: (t) => ({
    index: t.field({
      type: BuiltIndex,
      nullable: true,
      description: 'The index, once built; null for a dry run and for wait: false.',
      resolve: (payload) => payload.outcome,
    }),
    statements: t.field({
      type: [StatementCheckType],
      nullable: true,
      description: 'Each statement it was recommended for, planned again once the index exists; null for a dry run and for wait: false.',
      resolve: (payload) => payload.statements,
    }),
  }),
});

builder.mutationField('applyRecommendation', (t) =>
  t.field({
    type: ApplyRecommendationPayload,
    authScopes: { admin: true },
    description:
      'Builds the index of an indexRecommendations result by its id, through the same safe path as applyIndex (names checked ' +
      'against the catalog again, CREATE INDEX CONCURRENTLY, partitioned-table path, lock timeout, cleanup of a failed build), ' +
      'then plans again the statements it was recommended for and says whether they use it. Ids stay valid across restarts and ' +
      'after other recommendations were applied (an identical index is returned, not duplicated). Dry run by default.',
    args: {
      id: t.arg.id({ required: true, description: 'IndexRecommendation.id.' }),
      dryRun: t.arg.boolean({ description: DRY_RUN_DESCRIPTION, defaultValue: true }),
      wait: t.arg.boolean({ description: WAIT_DESCRIPTION, defaultValue: true }),
      idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_DESCRIPTION }),
    },
    resolve: async (_, args, ctx) => {
      const recommended = decodeRecommendationId(String(args.id));
      const idempotencyKey = idempotencyKeyArgument(args.idempotencyKey);
      const caps = await ctx.capabilities();
      const dryRun = args.dryRun ?? true;
      const wait = args.wait ?? true;
      const definition = {
        schema: recommended.schema,
        table: recommended.table,
        columns: recommended.keys,
        method: recommended.method,
        where: recommended.where,
        include: recommended.include,
      };
      const steps = applyIndexSteps(definition, { versionNum: caps.serverVersionNum }, ctx.config.ddlLockTimeoutMs, ctx.config.trust);
      const request = {
        target: { schema: recommended.schema, name: null },
        input: { id: String(args.id), ...definition, dryRun, wait },
        dryRun,
        wait,
        helpsQueryIds: recommended.forQueryIds,
        idempotencyKey,
      };
      const payload = await runChange(ctx, 'applyRecommendation', request, steps);
      if (payload.outcome === null) return { ...payload, statements: null };
      const names = await indexTreeNames(ctx.db, payload.outcome.schema, payload.outcome.name);
      const statements = await checkStatementsUse(ctx.db, caps, ctx.config.trust, recommended.forQueryIds, names, recommended);
      return { ...payload, statements };
    },
  }),
);
