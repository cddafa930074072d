// analyzeTable and resetQueryStats: the first mutations on the change log (see src/actions/changeLog.ts).
import { analyzeTableSteps, resetQueryStatsSteps } from '../actions/maintenance.js';
import { builder } from './builder.js';
import { DRY_RUN_DESCRIPTION, WAIT_DESCRIPTION } from './changeArgs.js';
import { changePayloadType, runChange } from './changePayload.js';

const AnalyzeTablePayload = changePayloadType<'analyzeTable'>('AnalyzeTablePayload', {
  description: 'What analyzeTable planned or did.',
  change: 'The change-log entry: status, SQL, duration; outcome { schema table kind } once it SUCCEEDED.',
});

const ResetQueryStatsPayload = changePayloadType<'resetQueryStats'>('ResetQueryStatsPayload', {
  description: 'What resetQueryStats planned or did.',
  change: 'The change-log entry: status, SQL, duration.',
});

builder.mutationField('analyzeTable', (t) =>
  t.field({
    type: AnalyzeTablePayload,
    authScopes: { admin: true },
    description:
      "Refreshes one table's planner statistics (ANALYZE) on pgscope's DDL session. On a partitioned table it also gives the " +
      'parent its own statistics, which autovacuum never does ("never analyzed" parents). Names are checked against the ' +
      'catalog (NOT_FOUND) and quoted. Recorded in the change log.',
    args: {
      schema: t.arg.string({ description: 'Schema of the table; without it the table is looked up on the search_path.' }),
      table: t.arg.string({ required: true, description: 'Name of the table, partitioned table, materialized view or foreign table.' }),
      dryRun: t.arg.boolean({ description: DRY_RUN_DESCRIPTION, defaultValue: true }),
      wait: t.arg.boolean({ description: WAIT_DESCRIPTION, defaultValue: true }),
    },
    resolve: async (_, args, ctx) => {
      const request = {
        target: { schema: args.schema ?? null, name: args.table },
        input: { schema: args.schema ?? null, table: args.table, dryRun: args.dryRun ?? true, wait: args.wait ?? true },
        dryRun: args.dryRun ?? true,
        wait: args.wait ?? true,
      };
      return runChange(ctx, 'analyzeTable', request, analyzeTableSteps(args.schema ?? null, args.table));
    },
  }),
);

builder.mutationField('resetQueryStats', (t) =>
  t.field({
    type: ResetQueryStatsPayload,
    authScopes: { admin: true },
    description:
      "Discards the pg_stat_statements statistics of the current database's statements (pg_stat_statements_reset(0, <this " +
      "database>, 0); other databases keep theirs), so that counting starts afresh. Only when pgscope's role may execute that " +
      'function (superusers, or an explicit GRANT): INSUFFICIENT_PRIVILEGE otherwise. Snapshots in pgscope.query_stats_* are kept; ' +
      'history sees the counters restart. Recorded in the change log.',
    args: { dryRun: t.arg.boolean({ description: DRY_RUN_DESCRIPTION, defaultValue: true }) },
    resolve: async (_, args, ctx) => {
      const dryRun = args.dryRun ?? true;
      const request = { target: { schema: null, name: null }, input: { dryRun }, dryRun };
      return runChange(ctx, 'resetQueryStats', request, resetQueryStatsSteps());
    },
  }),
);
