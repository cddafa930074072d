import { assertSchemaExists, findTable } from '../db/catalog.js';
import type { Context } from '../context.js';
import type { GraphQLResolveInfo } from 'graphql';
import { loadIndexes, type IndexConstraintType, type IndexPart, type IndexParts, type PartialIndexRow } from '../db/indexes.js';
import { notFound } from '../errors.js';
import { builder } from './builder.js';
import { indexSize } from './sizes.js';
import { READ_CACHE } from '../db/sharedReads.js';
import { selectedFields } from './lookahead.js';

const IndexConstraintTypeEnum = builder.enumType('IndexConstraintType', {
  description: 'The kind of table constraint an index enforces.',
  values: {
    PRIMARY_KEY: { description: 'The primary key.' },
    UNIQUE: { description: 'A UNIQUE constraint.' },
    EXCLUSION: { description: 'An EXCLUDE constraint.' },
  } satisfies Record<IndexConstraintType, unknown>,
});

/**
 * The part of an index's facts each field reads (see IndexParts); the other fields read pg_index's
 * own columns, or the request's size loader. A list that loads many indexes computes only the
 * parts its selection reads.
 */
const FIELD_PARTS: Readonly<Record<string, IndexPart>> = {
  definition: 'definition',
  predicate: 'predicate',
  keyColumns: 'columns',
  includeColumns: 'columns',
  backsConstraint: 'constraint',
  constraintName: 'constraint',
  constraintType: 'constraint',
  foreignKeys: 'foreignKeys',
  supportsForeignKey: 'foreignKeys',
  parentIndexName: 'parent',
  scans: 'usage',
  tuplesRead: 'usage',
  tuplesFetched: 'usage',
  lastScanAt: 'usage',
  cacheHitRatio: 'usage',
};

/** The parts of IndexUsage the operation reads below `path` (a field of type [IndexUsage]). */
export function indexPartsSelected(info: GraphQLResolveInfo, path: readonly string[] = []): IndexParts {
  const parts = new Set<IndexPart>();
  for (const name of selectedFields(info, path)) {
    const part = FIELD_PARTS[name];
    if (part) parts.add(part);
  }
  return parts;
}

/**
 * A part's column of a row. Absent, the row's statement was not told the field was asked for: a
 * bug, reported as an error rather than as a null or an empty list that would read as a fact.
 */
function loaded<K extends keyof PartialIndexRow>(row: PartialIndexRow, column: K): Exclude<PartialIndexRow[K], undefined> {
  const value = row[column];
  if (value === undefined) throw new Error(`IndexUsage: ${String(column)} was not loaded for this selection`);
  return value as Exclude<PartialIndexRow[K], undefined>;
}

/** An index row by its OID: findings point at indexes, all of them loaded in one statement. */
export const IndexUsage = builder.loadableObject('IndexUsage', {
  description:
    'An index with its definition, flags, size and usage since the statistics were last reset. A partitioned index has ' +
    'no statistics of its own: its scans, tuples and size are summed over the indexes of its partitions.',
  load: async (oids: number[], ctx: Context): Promise<(PartialIndexRow | Error)[]> => {
    const rows = await loadIndexes(ctx.db, await ctx.capabilities(), { indexOids: oids });
    const byOid = new Map(rows.map((row) => [row.oid, row]));
    return oids.map((oid) => byOid.get(oid) ?? notFound('The index no longer exists (it was dropped while the request ran).'));
  },
  fields: (t) => ({
    schema: t.exposeString('schema', { description: "Schema of the table (an index always lives in its table's schema)." }),
    table: t.exposeString('table', { description: 'The indexed table.' }),
    indexName: t.exposeString('index_name', { description: 'Name of the index.' }),
    scans: t.field({
      type: 'BigInt',
      description: 'Index scans started (pg_stat_all_indexes.idx_scan).',
      resolve: (row) => loaded(row, 'scans'),
    }),
    tuplesRead: t.field({
      type: 'BigInt',
      description: 'Index entries returned by its scans (idx_tup_read).',
      resolve: (row) => loaded(row, 'tuples_read'),
    }),
    tuplesFetched: t.field({
      type: 'BigInt',
      description: 'Live table rows fetched by simple index scans (idx_tup_fetch); index-only and bitmap scans do not count here.',
      resolve: (row) => loaded(row, 'tuples_fetched'),
    }),
    lastScanAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the index was last scanned; null if never, and always null before PostgreSQL 16.',
      resolve: (row) => loaded(row, 'last_scan_at'),
    }),
    sizeBytes: t.field({
      type: 'BigInt',
      description: 'Size on disk, in bytes.',
      // listed under a table, an index comes without its size: the table's size loader measures it once
      resolve: (row, _args, ctx) => row.size_bytes ?? indexSize(ctx, row.table_oid, row.oid),
    }),
    cacheHitRatio: t.float({
      nullable: true,
      description: 'Index blocks found in shared_buffers / all index blocks read, from 0 to 1; null when none was read.',
      resolve: (row) => loaded(row, 'cache_hit_ratio'),
    }),
    definition: t.string({
      description: 'The CREATE INDEX statement (pg_get_indexdef).',
      resolve: (row) => loaded(row, 'definition'),
    }),
    accessMethod: t.exposeString('access_method', { description: 'Access method: btree, hash, gin, gist, brin, spgist...' }),
    keyColumns: t.stringList({
      description: 'Key columns and expressions, in index order.',
      resolve: (row) => loaded(row, 'key_columns'),
    }),
    includeColumns: t.stringList({
      description: 'Columns of the INCLUDE clause (stored, not searchable).',
      resolve: (row) => loaded(row, 'include_columns'),
    }),
    predicate: t.string({
      nullable: true,
      description: 'WHERE clause of a partial index; null for a full index.',
      resolve: (row) => loaded(row, 'predicate'),
    }),
    isUnique: t.exposeBoolean('is_unique', { description: 'Enforces uniqueness.' }),
    isPrimary: t.exposeBoolean('is_primary', { description: 'Backs the primary key.' }),
    isValid: t.exposeBoolean('is_valid', {
      description: 'Usable by queries. False after a failed or still running CREATE INDEX CONCURRENTLY (see indexFindings).',
    }),
    isReady: t.exposeBoolean('is_ready', { description: 'Maintained by writes (false early in a concurrent build).' }),
    isPartitioned: t.exposeBoolean('is_partitioned', { description: 'A partitioned index: the parent of one index per partition.' }),
    parentIndexName: t.string({
      nullable: true,
      description: 'The partitioned index this index of a partition is attached to; null otherwise.',
      resolve: (row) => loaded(row, 'parent_index_name'),
    }),
    backsConstraint: t.boolean({
      description: 'Enforces a primary key, unique or exclusion constraint: it goes away only with ALTER TABLE ... DROP CONSTRAINT.',
      resolve: (row) => loaded(row, 'constraint_name') !== null,
    }),
    constraintName: t.string({
      nullable: true,
      description: 'The constraint this index enforces (primary key, unique, exclusion); null when it enforces none.',
      resolve: (row) => loaded(row, 'constraint_name'),
    }),
    constraintType: t.field({
      type: IndexConstraintTypeEnum,
      nullable: true,
      description: 'Kind of the constraint this index enforces; null when it enforces none.',
      resolve: (row) => loaded(row, 'constraint_type'),
    }),
    foreignKeys: t.stringList({
      resolve: (row) => loaded(row, 'foreign_keys'),
      description:
        'Foreign keys of the table whose checks this index serves when referenced rows are deleted or updated, as PostgreSQL ' +
        "plans those checks: the index is valid, its leading key columns are the key's columns (any order) with an operator " +
        "class that has the key's equality, and it has no predicate, or only `column IS NOT NULL` on those columns.",
    }),
    supportsForeignKey: t.boolean({
      description: 'Serves at least one foreign key of its table (see foreignKeys): dropping it makes those checks scan the table.',
      resolve: (row) => loaded(row, 'foreign_keys').length > 0,
    }),
  }),
});

builder.queryField('indexUsage', (t) =>
  t.field({
    extensions: READ_CACHE,
    type: [IndexUsage],
    description:
      'Indexes with their usage, ordered by schema, table and index name. Without arguments: every index outside the ' +
      "system schemas and pgscope's own schema `pgscope` (name it to see it). Counters run since the statistics were last reset.",
    args: {
      schema: t.arg.string({ description: "Only this schema (NOT_FOUND if it does not exist); with table, the table's schema." }),
      table: t.arg.string({
        description: 'Only the indexes of this table (NOT_FOUND if absent); looked up on the search_path when schema is not given.',
      }),
      includePartitions: t.arg.boolean({
        description: 'Without table: also list the indexes of partitions (their partitioned parents already sum them). Default false.',
        defaultValue: false,
      }),
    },
    resolve: async (_, args, ctx) => {
      const caps = await ctx.capabilities();
      if (args.table) {
        const table = await findTable(ctx.db, args.schema, args.table);
        return loadIndexes(ctx.db, caps, { tableOids: [table.oid] });
      }
      if (args.schema) await assertSchemaExists(ctx.db, args.schema);
      return loadIndexes(ctx.db, caps, { schema: args.schema ?? null, includePartitions: args.includePartitions ?? false });
    },
  }),
);
