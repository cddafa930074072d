import { createContextCache } from '@pothos/core';
import type { Context } from '../context.js';
import { assertSchemaExists, findTable } from '../db/catalog.js';
import type { FieldNode } from 'graphql';
import { indexPartsKey, loadIndexesWithoutSizes, type IndexParts, type PartialIndexRow } from '../db/indexes.js';
import { loadPartitions, type PartitionRow } from '../db/partitions.js';
import {
  countTables,
  loadTableStats,
  tablePage,
  type TableOrder,
  type StaleStatisticsReason,
  type TablePageFilter,
  type TablePageKey,
  type TablePageRow,
  type TableStatsRow,
} from '../db/tables.js';
import { badInput, notFound } from '../errors.js';
import { intInRange } from './args.js';
import { builder } from './builder.js';
import { IndexUsage, indexPartsSelected } from './indexUsage.js';
import { PartitionedTable, PartitionInfo } from './partition.js';
import { READ_CACHE } from '../db/sharedReads.js';
import { tableSize, tableSizes } from './sizes.js';
import { RequestLoader } from './requestLoader.js';
import { selectsPath } from './lookahead.js';

const TableKindEnum = builder.enumType('TableKind', {
  description: 'What kind of relation a table is.',
  values: {
    TABLE: { value: 'r', description: 'An ordinary table (a partition is one too).' },
    PARTITIONED_TABLE: { value: 'p', description: 'A partitioned table: no rows of its own, its partitions hold them.' },
    MATERIALIZED_VIEW: { value: 'm', description: 'A materialized view.' },
    FOREIGN_TABLE: { value: 'f', description: 'A foreign table (its data lives elsewhere: no sizes or counters here).' },
  },
});

const StaleStatisticsReasonEnum = builder.enumType('StaleStatisticsReason', {
  description: "Why the planner's statistics of a table are stale.",
  values: {
    NEVER_ANALYZED: { description: 'The table has rows but was never analyzed, manually or by autovacuum.' },
    MODIFIED_PAST_THRESHOLD: {
      description: 'More rows changed since the last ANALYZE than its autovacuum analyze threshold (see autoAnalyzeThreshold).',
    },
    PARTITIONED_NEVER_ANALYZED: {
      description: 'A partitioned table with rows that was never analyzed: autovacuum never analyzes one, run ANALYZE on it yourself.',
    },
  } satisfies Record<StaleStatisticsReason, unknown>,
});

const TableOrderEnum = builder.enumType('TableOrder', {
  description: 'Sort order of tables: NAME ascending, every other key largest first; ties by table OID.',
  values: {
    NAME: { description: 'Schema, then table name.' },
    TOTAL_SIZE: { description: 'Total size on disk (sizeBytes).' },
    TABLE_SIZE: { description: 'Table size without indexes (tableSizeBytes).' },
    INDEXES_SIZE: { description: 'Size of the indexes (indexesSizeBytes).' },
    LIVE_TUPLES: { description: 'Live rows (liveTuples).' },
    DEAD_TUPLES: { description: 'Dead rows waiting for VACUUM (deadTuples).' },
    SEQ_SCANS: { description: 'Sequential scans (seqScans).' },
    SEQ_TUPLES_READ: { description: 'Rows read by sequential scans (seqTuplesRead).' },
    MODIFICATIONS_SINCE_ANALYZE: { description: 'Rows changed since the last ANALYZE (modificationsSinceAnalyze).' },
  } satisfies Record<TableOrder, unknown>,
});

const bigint = (description: string) => ({ type: 'BigInt' as const, description });
const when = (description: string) => ({ type: 'DateTime' as const, nullable: true as const, description });

interface IndexLoader {
  parts: IndexParts;
  loader: RequestLoader<number, PartialIndexRow[]>;
}

/**
 * The request's loaders of tables' indexes by table OID, one per set of parts asked for (see
 * IndexParts): every table's indexes in one statement, without sizes (IndexUsage.sizeBytes takes
 * them from the request's size loader, by table). The tables resolver preloads one beside the
 * page's statistics when the page asks for indexes.
 */
const indexLoaders = createContextCache((_ctx: Context) => new Map<string, IndexLoader>());

function indexLoader(ctx: Context, parts: IndexParts): RequestLoader<number, PartialIndexRow[]> {
  const loaders = indexLoaders(ctx);
  const key = indexPartsKey(parts);
  let entry = loaders.get(key);
  if (!entry) {
    const loader = new RequestLoader<number, PartialIndexRow[]>(async (oids) => {
      const rows = await loadIndexesWithoutSizes(ctx.db, await ctx.capabilities(), { tableOids: [...oids] }, parts);
      const byTable = new Map<number, PartialIndexRow[]>(oids.map((oid) => [oid, []]));
      for (const row of rows) byTable.get(row.table_oid)?.push(row);
      return oids.map((oid) => byTable.get(oid) ?? []);
    });
    entry = { parts, loader };
    loaders.set(key, entry);
  }
  return entry.loader;
}

/**
 * The indexes of table `oid` with at least `parts`: loaded already by a loader with more parts (the
 * tables resolver preloads the union of what every alias of indexes reads), else from the loader
 * of exactly these parts.
 */
function indexesOf(ctx: Context, oid: number, parts: IndexParts): PartialIndexRow[] | Promise<PartialIndexRow[]> {
  for (const entry of indexLoaders(ctx).values()) {
    if (entry.loader.has(oid) && [...parts].every((part) => entry.parts.has(part))) return entry.loader.get(oid);
  }
  return indexLoader(ctx, parts).get(oid);
}

/** The parts Table.indexes reads, once per selection of the field in a request. */
const indexPartsByField = createContextCache((_ctx: Context) => new WeakMap<readonly FieldNode[], IndexParts>());

/** Table fields measured by the request's size loader (an index's sizeBytes too, under indexes). */
const SIZE_FIELDS = ['sizeBytes', 'tableSizeBytes', 'indexesSizeBytes', 'toastSizeBytes'];

/**
 * Loaded by OID: any number of tables, with their statistics, in one statement. Their sizes load
 * apart (schema/sizes.ts), once per request and only when a size field is asked for.
 */
export const Table = builder.loadableObjectRef('Table', {
  load: async (oids: number[], ctx: Context): Promise<(TableStatsRow | Error)[]> => {
    const rows = await loadTableStats(ctx.db, await ctx.capabilities(), oids);
    const byOid = new Map(rows.map((row) => [row.oid, row]));
    return oids.map((oid) => byOid.get(oid) ?? notFound('The table no longer exists (it was dropped while the request ran).'));
  },
});

Table.implement({
  description:
    'A table (or partitioned table, materialized view) with its sizes and statistics. For a partitioned table, sizes and ' +
    'counters are summed over its leaf partitions; its vacuum and analyze times are its own.',
  fields: (t) => ({
    schema: t.exposeString('schema', { description: 'Schema of the table.' }),
    name: t.exposeString('name', { description: 'Name of the table.' }),
    kind: t.field({ type: TableKindEnum, description: 'Ordinary, partitioned, materialized view or foreign.', resolve: (row) => row.kind }),
    isPartition: t.exposeBoolean('is_partition', { description: 'The table is a partition of a partitioned table (see parent).' }),
    parent: t.field({
      type: Table,
      nullable: true,
      description: 'The partitioned table this partition belongs to; null when not a partition.',
      resolve: (row) => row.parent_oid,
    }),
    sizeBytes: t.field({
      ...bigint('Total size on disk: table, TOAST and indexes (pg_total_relation_size), in bytes.'),
      resolve: (row, _args, ctx) => tableSize(ctx, row.oid, (sizes) => sizes.size_bytes),
    }),
    tableSizeBytes: t.field({
      ...bigint('Table size including TOAST, without indexes (pg_table_size), in bytes.'),
      resolve: (row, _args, ctx) => tableSize(ctx, row.oid, (sizes) => sizes.table_size_bytes),
    }),
    indexesSizeBytes: t.field({
      ...bigint('Size of all its indexes (pg_indexes_size), in bytes.'),
      resolve: (row, _args, ctx) => tableSize(ctx, row.oid, (sizes) => sizes.indexes_size_bytes),
    }),
    toastSizeBytes: t.field({
      ...bigint('Size of its TOAST table and TOAST index (part of tableSizeBytes), in bytes.'),
      resolve: (row, _args, ctx) => tableSize(ctx, row.oid, (sizes) => sizes.toast_size_bytes),
    }),
    rowEstimate: t.expose('row_estimate', {
      type: 'BigInt',
      nullable: true,
      description: 'Rows as of the last VACUUM or ANALYZE (pg_class.reltuples); null when never vacuumed or analyzed.',
    }),
    liveTuples: t.expose('live_tuples', bigint('Live rows according to the statistics (n_live_tup).')),
    deadTuples: t.expose('dead_tuples', bigint('Dead rows not yet removed by VACUUM (n_dead_tup).')),
    deadTupleRatio: t.exposeFloat('dead_tuple_ratio', {
      nullable: true,
      description: 'deadTuples / (liveTuples + deadTuples), from 0 to 1; null when both are 0.',
    }),
    seqScans: t.expose('seq_scans', bigint('Sequential scans started.')),
    seqTuplesRead: t.expose('seq_tuples_read', bigint('Rows read by sequential scans.')),
    indexScans: t.expose('index_scans', bigint('Index scans started on its indexes.')),
    indexTuplesFetched: t.expose('index_tuples_fetched', bigint('Rows fetched by index scans.')),
    inserts: t.expose('inserts', bigint('Rows inserted.')),
    updates: t.expose('updates', bigint('Rows updated, HOT updates included.')),
    hotUpdates: t.expose('hot_updates', bigint('Rows updated without touching indexes (HOT).')),
    deletes: t.expose('deletes', bigint('Rows deleted.')),
    modificationsSinceAnalyze: t.expose('modifications_since_analyze', bigint('Rows inserted, updated or deleted since the last ANALYZE.')),
    insertsSinceVacuum: t.expose('inserts_since_vacuum', bigint('Rows inserted since the last VACUUM.')),
    lastSeqScanAt: t.expose('last_seq_scan_at', when('Last sequential scan; null if never, and always null before PostgreSQL 16.')),
    lastVacuumAt: t.expose('last_vacuum_at', when('Last manual VACUUM; null if never.')),
    lastAutovacuumAt: t.expose('last_autovacuum_at', when('Last VACUUM by autovacuum; null if never.')),
    lastAnalyzeAt: t.expose(
      'last_analyze_at',
      when('Last manual ANALYZE; null if never (always null for a partitioned table before PostgreSQL 14).'),
    ),
    lastAutoanalyzeAt: t.expose(
      'last_autoanalyze_at',
      when('Last ANALYZE by autovacuum; null if never (always, for a partitioned table).'),
    ),
    vacuumCount: t.expose('vacuum_count', bigint('Manual VACUUMs.')),
    autovacuumCount: t.expose('autovacuum_count', bigint('VACUUMs by autovacuum.')),
    analyzeCount: t.expose('analyze_count', bigint('Manual ANALYZEs.')),
    autoanalyzeCount: t.expose('autoanalyze_count', bigint('ANALYZEs by autovacuum.')),
    autovacuumEnabled: t.exposeBoolean('autovacuum_enabled', {
      nullable: true,
      description:
        "Autovacuum processes this table (the autovacuum setting and the table's autovacuum_enabled option); null for a partitioned or foreign table.",
    }),
    autoAnalyzeThreshold: t.exposeFloat('auto_analyze_threshold', {
      nullable: true,
      description:
        'Changed rows after which autovacuum analyzes it: autovacuum_analyze_threshold + autovacuum_analyze_scale_factor x rows, ' +
        "the table's own settings winning. Null for a partitioned or foreign table.",
    }),
    statisticsStale: t.boolean({
      description: "The planner's statistics are stale (see staleStatisticsReason): estimates and plans may be wrong. Run ANALYZE.",
      resolve: (row) => row.stale_statistics_reason !== null,
    }),
    staleStatisticsReason: t.field({
      type: StaleStatisticsReasonEnum,
      nullable: true,
      description: 'Why the statistics are stale; null when they are not.',
      resolve: (row) => row.stale_statistics_reason,
    }),
    heapCacheHitRatio: t.exposeFloat('heap_cache_hit_ratio', {
      nullable: true,
      description: 'Table blocks found in shared_buffers / all table blocks read, from 0 to 1; null when none was read.',
    }),
    indexCacheHitRatio: t.exposeFloat('index_cache_hit_ratio', {
      nullable: true,
      description: 'Index blocks found in shared_buffers / all index blocks read, from 0 to 1; null when none was read.',
    }),
    indexes: t.field({
      type: [IndexUsage],
      description: 'Its indexes with their usage, by name (for a partitioned table, its partitioned indexes).',
      resolve: (row, _args, ctx, info) => {
        const known = indexPartsByField(ctx);
        let parts = known.get(info.fieldNodes);
        if (!parts) {
          parts = indexPartsSelected(info);
          known.set(info.fieldNodes, parts);
        }
        return indexesOf(ctx, row.oid, parts);
      },
    }),
    partitions: t.loadableGroup({
      type: PartitionInfo,
      description: 'Its partitions, by lower bound with the default last; empty when it is not partitioned.',
      load: async (oids: number[], ctx: Context): Promise<PartitionRow[]> => loadPartitions(ctx.db, await ctx.capabilities(), oids),
      group: (partition: PartitionRow) => partition.parent_oid,
      resolve: (row) => row.oid,
    }),
    partitioning: t.field({
      type: PartitionedTable,
      nullable: true,
      description: 'How it is partitioned and what needs attention; null when it is not partitioned.',
      resolve: (row) => (row.kind === 'p' ? row.oid : null),
    }),
  }),
});

interface TableConnectionShape {
  edges: TableEdge[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  filter: Pick<TablePageFilter, 'schema' | 'includePartitions'>;
  /** The count, started beside the page when the request asks for it. */
  totalCount?: Promise<number>;
}

const TableConnection = builder.connectionObject(
  {
    type: Table,
    name: 'TableConnection',
    description: 'One page of tables.',
    fields: (t) => ({
      totalCount: t.int({
        description: 'Tables in all pages together (one more statement, run only when asked for).',
        // the connection object is the one the tables resolver built
        resolve: (connection, _args, ctx) => {
          const shape = connection as unknown as TableConnectionShape;
          return shape.totalCount ?? countTables(ctx.db, shape.filter);
        },
      }),
    }),
  },
  { description: 'A table and its cursor.' },
);

/** An edge whose cursor is encoded when read: a page of 5,000 tables seldom asks for each one's. */
class TableEdge {
  constructor(
    private readonly orderBy: TableOrder,
    private readonly row: TablePageRow,
    readonly node: number | TableStatsRow,
  ) {}

  get cursor(): string {
    return encodeCursor(this.orderBy, this.row);
  }
}

/** Opaque cursors: the sort order, the sort key of a row and its OID, as base64url JSON. */
function encodeCursor(orderBy: TableOrder, row: TablePageRow): string {
  const key = orderBy === 'NAME' ? [row.schema, row.name] : [row.sort_key];
  return Buffer.from(JSON.stringify([orderBy, ...key, row.oid])).toString('base64url');
}

const isOid = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffffffff;

function decodeCursor(cursor: string, orderBy: TableOrder): TablePageKey {
  let parts: unknown[] = [];
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(decoded) && decoded[0] === orderBy && isOid(decoded.at(-1))) parts = decoded;
  } catch {
    // not JSON: reported below like any other foreign cursor
  }
  const [, first, second, third] = parts;
  if (orderBy === 'NAME' && parts.length === 4 && typeof first === 'string' && typeof second === 'string') {
    return { orderBy, schema: first, name: second, oid: third as number };
  }
  if (orderBy !== 'NAME' && parts.length === 3 && typeof first === 'string' && /^-?\d+(\.\d+)?$/.test(first)) {
    return { orderBy, key: first, oid: second as number };
  }
  throw badInput(`after is not a cursor of tables(orderBy: ${orderBy}): pass the endCursor of the previous page, with the same orderBy.`, {
    argument: 'after',
  });
}

builder.queryField('tables', (t) =>
  t.field({
    extensions: READ_CACHE,
    type: TableConnection,
    description:
      'Tables with their statistics, one page at a time. Keyset pagination: tables added or dropped meanwhile do not shift ' +
      'the next page (a metric that changes between requests can move a table, though). ' +
      "Without schema: every schema except the system ones and pgscope's own schema `pgscope` (name it to see it). Statistics of all the tables of a page load in one statement.",
    args: {
      schema: t.arg.string({ description: 'Only this schema (NOT_FOUND if it does not exist).' }),
      first: t.arg.int({ description: 'Tables per page, 1 to 5000. Default 50.', defaultValue: 50 }),
      after: t.arg.string({ description: 'The endCursor of the previous page (with the same orderBy).' }),
      orderBy: t.arg({ type: TableOrderEnum, description: 'Sort order. Default NAME.', defaultValue: 'NAME' }),
      includePartitions: t.arg.boolean({
        description: 'Also list partitions as tables of their own (their partitioned parents already sum them). Default false.',
        defaultValue: false,
      }),
    },
    resolve: async (_, args, ctx, info) => {
      const first = intInRange('first', args.first ?? 50, 1, 5000);
      const orderBy = args.orderBy ?? 'NAME';
      const after = args.after ? decodeCursor(args.after, orderBy) : null;
      if (args.schema) await assertSchemaExists(ctx.db, args.schema);
      const filter = { schema: args.schema ?? null, includePartitions: args.includePartitions ?? false };
      const totalCount = selectsPath(info, ['totalCount']) ? countTables(ctx.db, filter) : undefined;
      // the field reports its failure; until then it must not count as unhandled
      totalCount?.catch(() => undefined);
      // one row more than asked tells whether another page follows
      const rows = await tablePage(ctx.db, { ...filter, orderBy, limit: first + 1 }, after);
      const page = rows.slice(0, first);
      // a size order measured every table for its sort: the size fields use those measures
      for (const row of page) if (row.sizes) tableSizes(ctx).prime(row.oid, row.sizes);
      // Whatever the page's fields need loads now, in statements side by side (lookahead.ts), and
      // the tables' fields then resolve to values, not promises. A table that failed to load stays
      // a key, and its node reports the loader's error (loadMany settles with an Error in its place).
      const oids = page.map((row) => row.oid);
      const node = ['edges', 'node'];
      const asks = (path: string[]) => selectsPath(info, [...node, ...path]);
      const [nodes] = await Promise.all([
        asks([]) ? Table.getDataloader(ctx).loadMany(oids) : oids,
        asks(['indexes']) ? indexLoader(ctx, indexPartsSelected(info, [...node, 'indexes'])).preload(oids) : undefined,
        SIZE_FIELDS.some((field) => asks([field])) || asks(['indexes', 'sizeBytes']) ? tableSizes(ctx).preload(oids) : undefined,
      ]);
      const edges = page.map((row, i) => {
        const loaded = nodes[i];
        return new TableEdge(orderBy, row, loaded === undefined || loaded instanceof Error ? row.oid : loaded);
      });
      const connection: TableConnectionShape = {
        edges,
        pageInfo: {
          hasNextPage: rows.length > first,
          hasPreviousPage: after !== null,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
        filter,
        totalCount,
      };
      return connection;
    },
  }),
);

builder.queryField('table', (t) =>
  t.field({
    extensions: READ_CACHE,
    type: Table,
    description: 'One table with its statistics (NOT_FOUND when absent).',
    args: {
      schema: t.arg.string({ description: 'Schema of the table; without it the table is looked up on the search_path.' }),
      name: t.arg.string({ required: true, description: 'Name of the table.' }),
    },
    resolve: async (_, args, ctx) => (await findTable(ctx.db, args.schema, args.name)).oid,
  }),
);
