import type { Context } from '../context.js';
import { findTable, type Relation } from '../db/catalog.js';
import {
  DEFAULT_PARTITION_COUNT_MAX_BYTES,
  loadPartitionedTables,
  loadPartitions,
  type PartitionedTableRow,
  type PartitionRow,
  type PartitionStrategy,
} from '../db/partitions.js';
import { badInput, notFound } from '../errors.js';
import { builder } from './builder.js';
import { READ_CACHE } from '../db/sharedReads.js';

const PartitionStrategyEnum = builder.enumType('PartitionStrategy', {
  description: 'How a partitioned table splits its rows (PARTITION BY ...).',
  values: {
    RANGE: { description: 'PARTITION BY RANGE: each partition holds a range of key values.' },
    LIST: { description: 'PARTITION BY LIST: each partition holds listed key values.' },
    HASH: { description: 'PARTITION BY HASH: rows are spread by a hash of the key.' },
  } satisfies Record<PartitionStrategy, unknown>,
});

export const PartitionInfo = builder.objectRef<PartitionRow>('PartitionInfo').implement({
  description: 'One partition of a partitioned table. Sizes and rows of a sub-partitioned partition are summed over its leaves.',
  fields: (t) => ({
    schema: t.exposeString('schema', { description: "Schema of the partition (it may differ from its parent's)." }),
    name: t.exposeString('name', { description: 'Name of the partition.' }),
    isDefault: t.exposeBoolean('is_default', { description: 'The DEFAULT partition: it takes the rows no other partition accepts.' }),
    bound: t.exposeString('bound', {
      description:
        'Its partition bound as PostgreSQL prints it: FOR VALUES FROM (...) TO (...), FOR VALUES IN (...), WITH (MODULUS ...), or DEFAULT.',
    }),
    rangeFrom: t.exposeString('range_from', {
      nullable: true,
      description: 'Range partitions: the lower bound as written in bound (inclusive; MINVALUE for unbounded). Null otherwise.',
    }),
    rangeTo: t.exposeString('range_to', {
      nullable: true,
      description: 'Range partitions: the upper bound as written in bound (exclusive; MAXVALUE for unbounded). Null otherwise.',
    }),
    from: t.expose('from_at', {
      type: 'DateTime',
      nullable: true,
      description:
        'Range partitions keyed by one date or timestamp column: the inclusive lower bound as an instant (a date or timestamp ' +
        "without time zone is read in the server session's TimeZone). Null for MINVALUE and other keys.",
    }),
    to: t.expose('to_at', {
      type: 'DateTime',
      nullable: true,
      description: 'Like from, for the exclusive upper bound. Null for MAXVALUE and other keys.',
    }),
    rowEstimate: t.expose('row_estimate', {
      type: 'BigInt',
      nullable: true,
      description: 'Rows as of the last VACUUM or ANALYZE (pg_class.reltuples); null when never vacuumed or analyzed.',
    }),
    liveTuples: t.expose('live_tuples', { type: 'BigInt', description: 'Live rows according to the statistics (n_live_tup).' }),
    sizeBytes: t.expose('size_bytes', { type: 'BigInt', description: 'Total size on disk: table, TOAST and indexes, in bytes.' }),
    tableSizeBytes: t.expose('table_size_bytes', { type: 'BigInt', description: 'Table size including TOAST, without indexes, in bytes.' }),
    indexesSizeBytes: t.expose('indexes_size_bytes', { type: 'BigInt', description: 'Size of its indexes, in bytes.' }),
    isDetachPending: t.exposeBoolean('is_detach_pending', {
      description:
        'An interrupted DETACH PARTITION ... CONCURRENTLY left it half-detached: finish with ALTER TABLE parent DETACH ' +
        'PARTITION name FINALIZE. Always false before PostgreSQL 14.',
    }),
    isPartitioned: t.exposeBoolean('is_partitioned', { description: 'The partition is itself partitioned (sub-partitions).' }),
    missingIndexes: t.exposeStringList('missing_indexes', {
      description: 'Indexes of the parent with no index attached on this partition: queries on it cannot use them.',
    }),
  }),
});

const PartitionIndexGap = builder.objectRef<PartitionedTableRow['missing_indexes'][number]>('PartitionIndexGap').implement({
  description: 'An index of a partitioned table that some partitions lack (it stays invalid until each has one attached).',
  fields: (t) => ({
    indexName: t.exposeString('indexName', { description: 'The partitioned index, on the parent.' }),
    partitions: t.exposeStringList('partitions', { description: 'Partitions with no index attached to it.' }),
  }),
});

/** Loaded by table OID, so that Table.partitioning for many tables is one statement. */
export const PartitionedTable = builder.loadableObject('PartitionedTable', {
  description:
    'How a partitioned table is partitioned, and what needs attention: default rows, pending detaches, missing indexes, coverage.',
  load: async (oids: number[], ctx: Context): Promise<(PartitionedTableRow | Error)[]> => {
    const rows = await loadPartitionedTables(ctx.db, await ctx.capabilities(), oids);
    const byOid = new Map(rows.map((row) => [row.oid, row]));
    return oids.map((oid) => byOid.get(oid) ?? notFound('The partitioned table no longer exists or is no longer partitioned.'));
  },
  fields: (t) => ({
    schema: t.exposeString('schema', { description: 'Schema of the partitioned table.' }),
    name: t.exposeString('name', { description: 'Name of the partitioned table.' }),
    strategy: t.field({ type: PartitionStrategyEnum, description: 'RANGE, LIST or HASH.', resolve: (row) => row.strategy }),
    key: t.exposeString('key', { description: 'The partition key as declared, e.g. RANGE ("timestamp") (pg_get_partkeydef).' }),
    partitionCount: t.exposeInt('partition_count', { description: 'Direct partitions, the default and detach-pending ones included.' }),
    defaultPartition: t.exposeString('default_partition_name', {
      nullable: true,
      description: 'Name of the DEFAULT partition; null if there is none.',
    }),
    defaultPartitionRows: t.expose('default_partition_rows', {
      type: 'BigInt',
      nullable: true,
      description:
        'Rows in the DEFAULT partition: while it holds rows of a range, creating a partition for that range fails (23514). ' +
        'Counted exactly when cheap (see defaultPartitionRowsExact), else n_live_tup. Null without a default partition.',
    }),
    defaultPartitionRowsExact: t.exposeBoolean('default_partition_rows_exact', {
      nullable: true,
      description: `True when defaultPartitionRows was counted; false when it is the statistics' estimate (the partition exceeds ${DEFAULT_PARTITION_COUNT_MAX_BYTES / 1024 / 1024} MB or pgscope's role may not read it). Null without a default partition.`,
    }),
    detachPendingPartitions: t.exposeStringList('detach_pending_partitions', {
      description:
        'Partitions left half-detached by an interrupted DETACH ... CONCURRENTLY: finish each with DETACH PARTITION ... FINALIZE.',
    }),
    missingIndexes: t.field({
      type: [PartitionIndexGap],
      description: 'Indexes of the parent that some partitions lack, with those partitions.',
      resolve: (row) => row.missing_indexes,
    }),
    isTimeRange: t.exposeBoolean('is_time_range', {
      description: 'RANGE on one date or timestamp column: partitions have from/to and coverage fields apply.',
    }),
    coveredUntil: t.expose('covered_until', {
      type: 'DateTime',
      nullable: true,
      description:
        'Time ranges: the upper bound of the furthest partition; rows from then on go to the default partition, or fail ' +
        'without one. Null when not a time range, when a partition reaches MAXVALUE, or when there is no range partition.',
    }),
    coverageAheadDays: t.exposeFloat('coverage_ahead_days', {
      nullable: true,
      description:
        'Days from now to coveredUntil (negative when already past): create partitions before it nears zero. Null when coveredUntil is.',
    }),
    coverageUnbounded: t.exposeBoolean('coverage_unbounded', { description: 'A range partition reaches MAXVALUE: no upper limit.' }),
    partitions: t.loadableGroup({
      type: PartitionInfo,
      description: 'Its partitions, by lower bound with the default last (the same list as partitions(...)).',
      load: async (oids: number[], ctx: Context): Promise<PartitionRow[]> => loadPartitions(ctx.db, await ctx.capabilities(), oids),
      group: (partition) => partition.parent_oid,
      resolve: (row) => row.oid,
    }),
  }),
});

/** The named table, which must be partitioned. */
async function partitionedTableNamed(ctx: Context, schema: string | null | undefined, table: string): Promise<Relation> {
  const relation = await findTable(ctx.db, schema, table);
  if (relation.kind !== 'p') {
    throw badInput(`${relation.schema}.${relation.name} is not a partitioned table, so it has no partitions.`, {
      argument: 'table',
    });
  }
  return relation;
}

builder.queryField('partitions', (t) =>
  t.field({
    extensions: READ_CACHE,
    type: [PartitionInfo],
    description:
      'The partitions of a partitioned table, by lower bound (the default partition last). A table that is not partitioned is BAD_USER_INPUT.',
    args: {
      schema: t.arg.string({ description: 'Schema of the table; without it the table is looked up on the search_path.' }),
      table: t.arg.string({ required: true, description: 'The partitioned table (NOT_FOUND if absent).' }),
    },
    resolve: async (_, args, ctx) => {
      const relation = await partitionedTableNamed(ctx, args.schema, args.table);
      return loadPartitions(ctx.db, await ctx.capabilities(), [relation.oid]);
    },
  }),
);

builder.queryField('partitionedTable', (t) =>
  t.field({
    extensions: READ_CACHE,
    type: PartitionedTable,
    description: 'Partitioning of one table: strategy, key, default partition, pending detaches, missing indexes and coverage.',
    args: {
      schema: t.arg.string({ description: 'Schema of the table; without it the table is looked up on the search_path.' }),
      table: t.arg.string({
        required: true,
        description: 'The partitioned table (NOT_FOUND if absent, BAD_USER_INPUT if not partitioned).',
      }),
    },
    resolve: async (_, args, ctx) => (await partitionedTableNamed(ctx, args.schema, args.table)).oid,
  }),
);
