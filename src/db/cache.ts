// Cache hit ratios: how often PostgreSQL found a block in shared_buffers instead of asking the OS.
// A "read" in pg_statio is a block not found in shared_buffers; it may still come from the OS page
// cache, so a low ratio means "outgrew shared_buffers", not necessarily "hits the disk".
// Counters are cumulative since the last statistics reset of the database.
import type { Queryable } from './pool.js';

/** The seed guide's thresholds: under 95% deserves a look, above 99% is healthy. */
export const CACHE_WARN_BELOW = 0.95;
export const CACHE_GOOD_ABOVE = 0.99;

export type CacheStatus = 'GOOD' | 'OK' | 'WARNING' | 'UNKNOWN';

/** Blocks found in shared_buffers (hit) and blocks that had to be requested from the OS (read). */
export interface BlockCounts {
  blocks_hit: bigint;
  blocks_read: bigint;
}

export interface CacheTotalsRow {
  heap_blocks_hit: bigint;
  heap_blocks_read: bigint;
  index_blocks_hit: bigint;
  index_blocks_read: bigint;
  database_blocks_hit: bigint;
  database_blocks_read: bigint;
  stats_reset_at: Date | null;
}

export interface TableCacheRow {
  schema: string;
  table: string;
  heap_blocks_hit: bigint;
  heap_blocks_read: bigint;
  index_blocks_hit: bigint;
  index_blocks_read: bigint;
}

export interface TableCacheFilter {
  schema: string | null;
  limit: number;
}

/** hit / (hit + read), or null when no block was touched (a ratio of nothing is not 100%). */
export function hitRatio({ blocks_hit, blocks_read }: BlockCounts): number | null {
  const total = blocks_hit + blocks_read;
  return total === 0n ? null : Number(blocks_hit) / Number(total);
}

/** GOOD strictly above 0.99, WARNING strictly below 0.95, OK in between (both bounds included). */
export function cacheStatus(ratio: number | null): CacheStatus {
  if (ratio === null) return 'UNKNOWN';
  if (ratio > CACHE_GOOD_ABOVE) return 'GOOD';
  if (ratio < CACHE_WARN_BELOW) return 'WARNING';
  return 'OK';
}

// pg_statio_user_tables covers the current database's user tables (leaf partitions, not their
// parents, which hold no blocks); idx_blks_* is the sum over a table's indexes and is NULL for a
// table without one. pg_stat_database counts every block of the database, catalogs and TOAST too.
const CACHE_TOTALS_SQL = /* SQL */ `
  SELECT
    coalesce(sum(s.heap_blks_hit), 0)::int8 AS heap_blocks_hit,
    coalesce(sum(s.heap_blks_read), 0)::int8 AS heap_blocks_read,
    coalesce(sum(s.idx_blks_hit), 0)::int8 AS index_blocks_hit,
    coalesce(sum(s.idx_blks_read), 0)::int8 AS index_blocks_read,
    d.blks_hit AS database_blocks_hit,
    d.blks_read AS database_blocks_read,
    d.stats_reset AS stats_reset_at
  FROM pg_stat_database d
  LEFT JOIN pg_statio_user_tables s ON true
  WHERE d.datname = current_database()
  GROUP BY
    d.blks_hit,
    d.blks_read,
    d.stats_reset`;

// Ranked by blocks read (what the cache missed), then by blocks touched, then by name.
const TABLE_CACHE_SQL = /* SQL */ `
  SELECT
    schemaname AS schema,
    relname AS table,
    heap_blks_hit AS heap_blocks_hit,
    heap_blks_read AS heap_blocks_read,
    coalesce(idx_blks_hit, 0) AS index_blocks_hit,
    coalesce(idx_blks_read, 0) AS index_blocks_read
  FROM pg_statio_user_tables
  WHERE $1::text IS NULL
    OR schemaname = $1::text
  ORDER BY
    heap_blks_read + coalesce(idx_blks_read, 0) DESC,
    heap_blks_hit + coalesce(idx_blks_hit, 0) DESC,
    schemaname,
    relname
  LIMIT $2`;

export async function cacheTotals(db: Queryable): Promise<CacheTotalsRow> {
  const [row] = await db.query<CacheTotalsRow>(CACHE_TOTALS_SQL);
  return row!;
}

export function tableCacheRatios(db: Queryable, filter: TableCacheFilter): Promise<TableCacheRow[]> {
  return db.query<TableCacheRow>(TABLE_CACHE_SQL, [filter.schema, filter.limit]);
}
