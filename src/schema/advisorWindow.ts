// AdvisorWindow: where the index advisor counted the workload's reads and writes, and since when
// (src/advisor/analysis/writes.ts), so that a reader can judge how much the counts cover.
import type { WorkloadWindow } from '../advisor/types.js';
import { builder } from './builder.js';

const AdvisorCountsSourceEnum = builder.enumType('AdvisorCountsSource', {
  description: "Where the advisor counts the workload's reads and writes.",
  values: {
    PG_STAT_STATEMENTS: {
      description:
        "pg_stat_statements: reads are the calls of each statement, writes the rows of the workload's own INSERT, UPDATE, DELETE, " +
        'MERGE and COPY FROM statements, both over the same entries. Table counters only tell which share of updates were HOT.',
    },
  } satisfies Record<WorkloadWindow['source'], unknown>,
});

export const AdvisorWindowType = builder.objectRef<WorkloadWindow>('AdvisorWindow').implement({
  description:
    "The window the advisor's reads (benefit) and writes (writeOverhead) are both counted over, so that the two compare. " +
    'Table counters, which count since the table statistics were reset (on a restored database: the whole load), are not used as counts.',
  fields: (t) => ({
    source: t.field({ type: AdvisorCountsSourceEnum, description: 'Where both were counted.', resolve: (w) => w.source }),
    since: t.expose('since', {
      type: 'DateTime',
      nullable: true,
      description:
        'When pg_stat_statements was last reset as a whole (pg_stat_statements_info.stats_reset): the window starts then, or later ' +
        'for statements reset one by one or evicted since. Null before PostgreSQL 14, which does not record it.',
    }),
    sentence: t.exposeString('sentence', { description: 'The window in a sentence.' }),
  }),
});
