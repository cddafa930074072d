import { assertSchemaExists } from '../db/catalog.js';
import {
  CACHE_GOOD_ABOVE,
  CACHE_WARN_BELOW,
  cacheStatus,
  cacheTotals,
  hitRatio,
  tableCacheRatios,
  type BlockCounts,
  type CacheStatus,
  type CacheTotalsRow,
  type TableCacheRow,
} from '../db/cache.js';
import { intInRange } from './args.js';
import { builder } from './builder.js';
import { READ_CACHE } from '../db/sharedReads.js';

const CacheStatusEnum = builder.enumType('CacheStatus', {
  description: `How a cache hit ratio compares with the thresholds (warn below ${CACHE_WARN_BELOW}, good above ${CACHE_GOOD_ABOVE}).`,
  values: {
    GOOD: { description: `Above ${CACHE_GOOD_ABOVE}: the working set fits in shared_buffers.` },
    OK: { description: `From ${CACHE_WARN_BELOW} to ${CACHE_GOOD_ABOVE}, both included: acceptable, worth watching.` },
    WARNING: {
      description: `Below ${CACHE_WARN_BELOW}: many blocks come from outside shared_buffers; consider more shared_buffers or fewer blocks read (indexes).`,
    },
    UNKNOWN: { description: 'No block was touched since the statistics were reset, so there is no ratio.' },
  } satisfies Record<CacheStatus, unknown>,
});

const CacheRatio = builder.objectRef<BlockCounts>('CacheRatio').implement({
  description: 'Blocks found in shared_buffers versus blocks requested from the operating system, cumulative since the statistics reset.',
  fields: (t) => ({
    blocksHit: t.expose('blocks_hit', { type: 'BigInt', description: 'Blocks found in shared_buffers.' }),
    blocksRead: t.expose('blocks_read', {
      type: 'BigInt',
      description: 'Blocks not in shared_buffers, requested from the OS (its page cache or the disk).',
    }),
    ratio: t.float({
      nullable: true,
      description: 'blocksHit / (blocksHit + blocksRead), from 0 to 1; null when no block was touched.',
      resolve: (counts) => hitRatio(counts),
    }),
    status: t.field({
      type: CacheStatusEnum,
      description: 'The ratio against the thresholds warnBelow and goodAbove.',
      resolve: (counts) => cacheStatus(hitRatio(counts)),
    }),
  }),
});

const heap = (row: TableCacheRow | CacheTotalsRow): BlockCounts => ({ blocks_hit: row.heap_blocks_hit, blocks_read: row.heap_blocks_read });
const index = (row: TableCacheRow | CacheTotalsRow): BlockCounts => ({
  blocks_hit: row.index_blocks_hit,
  blocks_read: row.index_blocks_read,
});

const TableCacheRatio = builder.objectRef<TableCacheRow>('TableCacheRatio').implement({
  description: 'Cache hit ratios of one table (a leaf partition counts as a table) and of its indexes.',
  fields: (t) => ({
    schema: t.exposeString('schema', { description: 'Schema of the table.' }),
    table: t.exposeString('table', { description: 'Table name.' }),
    heap: t.field({ type: CacheRatio, description: "Blocks of the table's own data.", resolve: heap }),
    index: t.field({
      type: CacheRatio,
      description: "Blocks of all the table's indexes together; UNKNOWN for a table without indexes.",
      resolve: index,
    }),
  }),
});

const CacheHitRatios = builder.objectRef<CacheTotalsRow>('CacheHitRatios').implement({
  description:
    'Shared-buffer cache hit ratios of the current database, overall and per table, with the thresholds a dashboard can colour them by. ' +
    'Counters are cumulative since statsResetAt.',
  fields: (t) => ({
    warnBelow: t.float({
      description: 'Ratios below this (0.95) are WARNING.',
      resolve: () => CACHE_WARN_BELOW,
    }),
    goodAbove: t.float({
      description: 'Ratios above this (0.99) are GOOD.',
      resolve: () => CACHE_GOOD_ABOVE,
    }),
    heap: t.field({ type: CacheRatio, description: 'Table data blocks, summed over every user table of the database.', resolve: heap }),
    index: t.field({ type: CacheRatio, description: 'Index blocks, summed over every index of the user tables.', resolve: index }),
    database: t.field({
      type: CacheRatio,
      description: 'Every block of the database (pg_stat_database): user tables, indexes, TOAST and system catalogs.',
      resolve: (row) => ({ blocks_hit: row.database_blocks_hit, blocks_read: row.database_blocks_read }),
    }),
    statsResetAt: t.expose('stats_reset_at', {
      type: 'DateTime',
      nullable: true,
      description: "When this database's statistics were last reset; null when they never were.",
    }),
    tables: t.field({
      type: [TableCacheRatio],
      description: 'Tables that missed the cache most: largest blocksRead (heap plus index) first, then most blocks touched, then by name.',
      args: {
        schema: t.arg.string({ description: 'Only tables in this schema. Default: every schema.' }),
        limit: t.arg.int({ description: 'Most tables returned, 1 to 1000. Default 20.', defaultValue: 20 }),
      },
      resolve: async (_, args, ctx) => {
        const limit = intInRange('limit', args.limit ?? 20, 1, 1000);
        if (args.schema) await assertSchemaExists(ctx.db, args.schema);
        return tableCacheRatios(ctx.db, { schema: args.schema ?? null, limit });
      },
    }),
  }),
});

builder.queryField('cacheHitRatios', (t) =>
  t.field({
    extensions: READ_CACHE,
    type: CacheHitRatios,
    description: 'How well shared_buffers serves the current database: heap and index hit ratios overall and per table, with thresholds.',
    resolve: (_, __, ctx) => cacheTotals(ctx.db),
  }),
);
