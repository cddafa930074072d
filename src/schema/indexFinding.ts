import { assertSchemaExists, findTable } from '../db/catalog.js';
import { IndexFindingKinds, type IndexFindingKind, type IndexFindingReason } from '../db/indexFindings.js';
import { builder } from './builder.js';
import { IndexUsage } from './indexUsage.js';
import { READ_CACHE } from '../db/sharedReads.js';
import { indexFindings, type IndexFinding as IndexFindingRow } from '../review/indexFindings.js';

const IndexFindingKindEnum = builder.enumType('IndexFindingKind', {
  description: 'What is wrong with an index, or missing.',
  values: {
    INVALID: { description: 'The index is not valid: queries cannot use it (a failed, cancelled or running concurrent build).' },
    UNUSED: {
      description:
        'Never scanned since the statistics were reset. Unique, primary key, constraint and foreign-key-serving indexes are never reported.',
    },
    DUPLICATE: { description: 'Same definition as another index of the table: one is enough.' },
    REDUNDANT: { description: 'Another btree index of the table serves every query this one serves.' },
    MISSING_FK_INDEX: { description: 'A foreign key whose check no valid index serves (see IndexUsage.foreignKeys).' },
  } satisfies Record<IndexFindingKind, unknown>,
});

const IndexFindingReasonEnum = builder.enumType('IndexFindingReason', {
  description: 'Stable reason code of an index finding: scripts branch on it, people read `reason`.',
  values: {
    BUILD_IN_PROGRESS: { description: 'INVALID: an index build on its table is running right now. Do not touch it.' },
    BUILD_FAILED: { description: 'INVALID: a concurrent build or reindex failed or was cancelled and left it behind.' },
    PARTITIONS_NOT_ATTACHED: { description: 'INVALID: a partitioned index that some partitions have no valid index attached to.' },
    NO_SCANS: { description: 'UNUSED: zero scans since the statistics were reset (see evidence.statsAgeDays).' },
    IDENTICAL_DEFINITION: {
      description: 'DUPLICATE: same access method, keys, operator classes, collations, order, predicate and INCLUDE.',
    },
    SAME_KEYS_AS_UNIQUE_INDEX: { description: 'DUPLICATE: a non-unique copy of a unique index.' },
    SAME_KEYS_REVERSED: {
      description: "DUPLICATE: a btree whose key is another's read backwards (every ASC/DESC and NULLS order flipped).",
    },
    LEADING_PREFIX_OF_OTHER: { description: "REDUNDANT: its key is a leading prefix of the covering index's key." },
    FEWER_INCLUDED_COLUMNS: { description: 'REDUNDANT: same key as the covering index, which includes all of its INCLUDE columns.' },
    NO_LEADING_INDEX: {
      description:
        "MISSING_FK_INDEX: no valid index has the foreign key's columns as its leading keys (partial: only with `column IS NOT NULL` on them).",
    },
  } satisfies Record<IndexFindingReason, unknown>,
});

const IndexFindingEvidence = builder.objectRef<IndexFindingRow>('IndexFindingEvidence').implement({
  description: 'The numbers behind a finding, so its reader can judge it.',
  fields: (t) => ({
    scans: t.expose('scans', {
      type: 'BigInt',
      nullable: true,
      description: 'Scans of the index since the statistics were reset; null for MISSING_FK_INDEX.',
    }),
    sizeBytes: t.expose('size_bytes', {
      type: 'BigInt',
      description: "The index's size in bytes (what dropping it frees); for MISSING_FK_INDEX the referencing table's total size.",
    }),
    lastScanAt: t.expose('last_scan_at', {
      type: 'DateTime',
      nullable: true,
      description: 'Last scan of the index; null if never, and always null before PostgreSQL 16.',
    }),
    statsResetAt: t.expose('stats_reset_at', {
      type: 'DateTime',
      nullable: true,
      description: "When this database's statistics were last reset (pg_stat_database.stats_reset); null if never.",
    }),
    statsAgeDays: t.exposeFloat('stats_age_days', {
      nullable: true,
      description: 'Days since statsResetAt: how long "0 scans" has been watched. Null when the statistics were never reset (unknown).',
    }),
    tableSeqScans: t.expose('table_seq_scans', {
      type: 'BigInt',
      nullable: true,
      description: 'MISSING_FK_INDEX: sequential scans of the referencing table so far; null for other kinds.',
    }),
    buildPid: t.exposeInt('build_pid', {
      nullable: true,
      description: 'BUILD_IN_PROGRESS: backend pid of the running build; null for other kinds.',
    }),
    buildCommand: t.exposeString('build_command', {
      nullable: true,
      description: 'BUILD_IN_PROGRESS: the running command (CREATE INDEX CONCURRENTLY, REINDEX CONCURRENTLY...); null for other kinds.',
    }),
    buildPhase: t.exposeString('build_phase', {
      nullable: true,
      description: 'BUILD_IN_PROGRESS: its phase, from pg_stat_progress_create_index; null for other kinds.',
    }),
  }),
});

const IndexFindingForeignKey = builder.objectRef<IndexFindingRow>('IndexFindingForeignKey').implement({
  description: 'The foreign key of a MISSING_FK_INDEX finding.',
  fields: (t) => ({
    name: t.string({ description: 'Name of the foreign key constraint.', resolve: (row) => row.foreign_key_name! }),
    columns: t.stringList({ description: 'Referencing columns, in constraint order.', resolve: (row) => row.foreign_key_columns ?? [] }),
    referencedSchema: t.string({ description: 'Schema of the referenced table.', resolve: (row) => row.referenced_schema! }),
    referencedTable: t.string({ description: 'The referenced table.', resolve: (row) => row.referenced_table! }),
  }),
});

export const IndexFinding = builder.objectRef<IndexFindingRow>('IndexFinding').implement({
  description: 'Something to fix about indexes, with a stable reason code, its evidence and the SQL that fixes it.',
  fields: (t) => ({
    kind: t.field({ type: IndexFindingKindEnum, description: 'What kind of problem.', resolve: (row) => row.kind }),
    reasonCode: t.field({ type: IndexFindingReasonEnum, description: 'Why, as a stable code.', resolve: (row) => row.reason_code }),
    reason: t.exposeString('reason', { description: 'Why, in sentences, with what to check before acting.' }),
    schema: t.exposeString('schema', { description: 'Schema of the table.' }),
    table: t.exposeString('table', { description: 'The table.' }),
    indexName: t.exposeString('index_name', { nullable: true, description: 'The index at fault; null for MISSING_FK_INDEX.' }),
    index: t.field({
      type: IndexUsage,
      nullable: true,
      description: 'The index at fault, with its usage; null for MISSING_FK_INDEX.',
      resolve: (row) => row.index_oid,
    }),
    coveringIndexName: t.exposeString('covering_index_name', {
      nullable: true,
      description: 'DUPLICATE and REDUNDANT: the index that stays and serves the same queries; null for other kinds.',
    }),
    coveringIndex: t.field({
      type: IndexUsage,
      nullable: true,
      description: 'DUPLICATE and REDUNDANT: the index that stays, with its usage; null for other kinds.',
      resolve: (row) => row.covering_index_oid,
    }),
    foreignKey: t.field({
      type: IndexFindingForeignKey,
      nullable: true,
      description: 'MISSING_FK_INDEX: the foreign key without a supporting index; null for other kinds.',
      resolve: (row) => (row.foreign_key_name ? row : null),
    }),
    evidence: t.field({ type: IndexFindingEvidence, description: 'The numbers behind the finding.', resolve: (row) => row }),
    suggestedSql: t.exposeString('suggested_sql', {
      nullable: true,
      description:
        'The statement that fixes it (DROP INDEX CONCURRENTLY, REINDEX INDEX CONCURRENTLY, CREATE INDEX CONCURRENTLY...); ' +
        'null when nothing should be run (a build in progress) or it takes several steps (see reason).',
    }),
  }),
});

builder.queryField('indexFindings', (t) =>
  t.field({
    extensions: READ_CACHE,
    type: [IndexFinding],
    description:
      'Invalid, unused, duplicate and redundant indexes and foreign keys without a supporting index, ordered by schema, ' +
      "table and kind. Without schema or table: every schema except the system ones and pgscope's own schema `pgscope` (name it to see it).",
    args: {
      schema: t.arg.string({ description: "Only this schema (NOT_FOUND if it does not exist); with table, the table's schema." }),
      table: t.arg.string({ description: 'Only this table (NOT_FOUND if absent); looked up on the search_path without schema.' }),
      kinds: t.arg({ type: [IndexFindingKindEnum], description: 'Only these kinds. Default: all.' }),
      includePartitions: t.arg.boolean({
        description: 'Without table: also judge the indexes of partitions on their own (a stray index on one partition). Default true.',
        defaultValue: true,
      }),
    },
    resolve: async (_, args, ctx) => {
      const caps = await ctx.capabilities();
      const kinds = args.kinds ?? IndexFindingKinds;
      if (args.table) {
        const table = await findTable(ctx.db, args.schema, args.table);
        return indexFindings(ctx.db, caps, { tableOids: [table.oid], schema: null, includePartitions: true, kinds });
      }
      if (args.schema) await assertSchemaExists(ctx.db, args.schema);
      return indexFindings(ctx.db, caps, {
        tableOids: null,
        schema: args.schema ?? null,
        includePartitions: args.includePartitions ?? true,
        kinds,
      });
    },
  }),
);
