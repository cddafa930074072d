// Tables: sizes, tuple counts, scans, vacuum/analyze history and stale statistics, loaded for many
// tables in one statement (the Table loader), plus the keyset-paginated list of table keys.
// A partitioned table holds no rows itself: its sizes and counters are sums over its leaf
// partitions, while its vacuum/analyze times are its own (PostgreSQL never auto-analyzes it).
import { type Capabilities, perServerVersion } from './capabilities.js';
import type { Queryable } from './pool.js';
import { DEFAULT_LISTED_SCHEMAS, leavesOf } from './fragments.js';

export type StaleStatisticsReason = 'NEVER_ANALYZED' | 'MODIFIED_PAST_THRESHOLD' | 'PARTITIONED_NEVER_ANALYZED';

export interface TableRow {
  oid: number;
  schema: string;
  name: string;
  /** pg_class.relkind: r table, p partitioned table, m materialized view, f foreign table. */
  kind: 'r' | 'p' | 'm' | 'f';
  is_partition: boolean;
  parent_oid: number | null;
  parent_schema: string | null;
  parent_name: string | null;
  size_bytes: bigint;
  table_size_bytes: bigint;
  indexes_size_bytes: bigint;
  toast_size_bytes: bigint;
  row_estimate: bigint | null;
  live_tuples: bigint;
  dead_tuples: bigint;
  dead_tuple_ratio: number | null;
  seq_scans: bigint;
  seq_tuples_read: bigint;
  index_scans: bigint;
  index_tuples_fetched: bigint;
  inserts: bigint;
  updates: bigint;
  hot_updates: bigint;
  deletes: bigint;
  modifications_since_analyze: bigint;
  inserts_since_vacuum: bigint;
  /** Null before PostgreSQL 16, which added pg_stat_all_tables.last_seq_scan. */
  last_seq_scan_at: Date | null;
  last_vacuum_at: Date | null;
  last_autovacuum_at: Date | null;
  last_analyze_at: Date | null;
  last_autoanalyze_at: Date | null;
  vacuum_count: bigint;
  autovacuum_count: bigint;
  analyze_count: bigint;
  autoanalyze_count: bigint;
  autovacuum_enabled: boolean | null;
  auto_analyze_threshold: number | null;
  stale_statistics_reason: StaleStatisticsReason | null;
  heap_cache_hit_ratio: number | null;
  index_cache_hit_ratio: number | null;
}

/** The sizes of a table, each relation on disk measured once (relationSizesCtes). */
export interface TableSizes {
  size_bytes: bigint;
  table_size_bytes: bigint;
  indexes_size_bytes: bigint;
  toast_size_bytes: bigint;
  /** The size of each of its own indexes (main fork, as pg_relation_size), by index OID as text; a partitioned index summed over its leaves. */
  index_sizes: Record<string, string>;
}

/**
 * The size of every fork of relation \`oid\` (whose pg_class row is \`rel\`), as pg_relation_size
 * per fork sums them, asking only for forks that can exist: each ask of a missing fork is a failed
 * open() of a file. A visibility map only a table has, an init fork only an unlogged relation.
 */
const forksSize = (oid: string, rel: string, isTable: boolean): string =>
  `pg_relation_size(${oid}, 'main') + ${otherForksSize(oid, rel, isTable)}`;

/** forksSize but for the main fork. */
const otherForksSize = (oid: string, rel: string, isTable: boolean): string =>
  [
    `pg_relation_size(${oid}, 'fsm')`,
    ...(isTable ? [`pg_relation_size(${oid}, 'vm')`] : []),
    `CASE WHEN ${rel}.relpersistence = 'u' THEN pg_relation_size(${oid}, 'init') ELSE 0 END`,
  ].join(' + ');

/**
 * CTEs ending in \`sizes\`: one row per relation of \`requested\` (a CTE with pg_class's oid and
 * relkind) with the columns of TableSizes. Sizing is most of the time of a large listing, so each
 * relation on disk (heap, TOAST table with its index, every index of every leaf) is measured once,
 * fork by fork, and every total is a sum of those measures: pg_table_size is the heap's forks plus
 * the TOAST table's total, pg_indexes_size the forks of its live indexes, and an index's own size
 * (pg_relation_size) its main fork. MATERIALIZED keeps the planner from calling a size function
 * once per use of its result.
 */
export const relationSizesCtes = (requested: string) => /* SQL */ `
    size_leaves AS MATERIALIZED (
      SELECT
        r.oid AS table_oid,
        leaf.relid,
        ${forksSize('leaf.relid', 'lc', true)} AS heap_bytes,
        -- the TOAST table's forks and its index's, as pg_table_size counts them: one call opens
        -- the TOAST relations once (fork by fork, they were opened once per fork)
        CASE WHEN lc.reltoastrelid <> 0 THEN pg_total_relation_size(lc.reltoastrelid) ELSE 0 END AS toast_bytes
      FROM ${requested} r
      CROSS JOIN LATERAL (${leavesOf('r')}
      ) leaf
      JOIN pg_class lc ON lc.oid = leaf.relid
    ),
    size_leaf_indexes AS MATERIALIZED (
      SELECT
        l.table_oid,
        i.indexrelid,
        i.indislive,
        pg_relation_size(i.indexrelid, 'main') AS main_bytes,
        ${otherForksSize('i.indexrelid', 'ic', false)} AS other_bytes
      FROM size_leaves l
      JOIN pg_index i ON i.indrelid = l.relid
      JOIN pg_class ic ON ic.oid = i.indexrelid
    ),
    size_heaps AS (
      SELECT
        table_oid,
        sum(heap_bytes + toast_bytes)::int8 AS table_size_bytes,
        sum(toast_bytes)::int8 AS toast_size_bytes
      FROM size_leaves
      GROUP BY table_oid
    ),
    size_indexes AS (
      -- pg_indexes_size counts only live indexes (one being dropped concurrently is not)
      SELECT
        table_oid,
        sum(main_bytes + other_bytes) FILTER (WHERE indislive)::int8 AS indexes_size_bytes
      FROM size_leaf_indexes
      GROUP BY table_oid
    ),
    size_own_index_leaves AS (
      -- each index of a requested table with the relations that hold it: itself, or the leaves of
      -- a partitioned index. Joined to size_leaf_indexes once, by hash: a lateral subquery probing
      -- that CTE per table would read all of it per table (quadratic in the page).
      SELECT
        r.oid AS table_oid,
        i.indexrelid AS index_oid,
        leaf.relid AS leaf_oid
      FROM ${requested} r
      JOIN pg_index i ON i.indrelid = r.oid
      JOIN pg_class ic ON ic.oid = i.indexrelid
      CROSS JOIN LATERAL (${leavesOf('ic')}
      ) leaf
    ),
    size_own_indexes AS (
      -- each index of a requested table; a partitioned index is the sum of its leaf indexes
      SELECT
        own.table_oid,
        jsonb_object_agg(own.index_oid::text, own.bytes::text) AS index_sizes
      FROM (
        SELECT
          o.table_oid,
          o.index_oid,
          coalesce(sum(li.main_bytes), 0)::int8 AS bytes
        FROM size_own_index_leaves o
        LEFT JOIN size_leaf_indexes li ON li.indexrelid = o.leaf_oid
        GROUP BY o.table_oid, o.index_oid
      ) own
      GROUP BY own.table_oid
    ),
    sizes AS (
      SELECT
        r.oid AS table_oid,
        (coalesce(h.table_size_bytes, 0) + coalesce(x.indexes_size_bytes, 0))::int8 AS size_bytes,
        coalesce(h.table_size_bytes, 0) AS table_size_bytes,
        coalesce(x.indexes_size_bytes, 0) AS indexes_size_bytes,
        coalesce(h.toast_size_bytes, 0) AS toast_size_bytes,
        coalesce(o.index_sizes, '{}') AS index_sizes
      FROM ${requested} r
      LEFT JOIN size_heaps h ON h.table_oid = r.oid
      LEFT JOIN size_indexes x ON x.table_oid = r.oid
      LEFT JOIN size_own_indexes o ON o.table_oid = r.oid
    )`;

const SIZE_COLUMNS = `
      sz.size_bytes,
      sz.table_size_bytes,
      sz.indexes_size_bytes,
      sz.toast_size_bytes,`;

/** The sizes of any number of tables in one statement: the per-request size loader's batch. */
const TABLE_SIZES_SQL = /* SQL */ `
    WITH requested AS (
      SELECT
        c.oid,
        c.relkind
      FROM pg_class c
      WHERE c.oid = ANY ($1::oid[])
    ),
    ${relationSizesCtes('requested')}
    SELECT
      table_oid AS oid,
      size_bytes,
      table_size_bytes,
      indexes_size_bytes,
      toast_size_bytes,
      index_sizes
    FROM sizes`;

export async function loadTableSizes(db: Queryable, oids: readonly number[]): Promise<Array<TableSizes & { oid: number }>> {
  return db.query<TableSizes & { oid: number }>(TABLE_SIZES_SQL, [oids]);
}

/** Everything of a table but its sizes: what the Table loader reads (sizes load apart, when asked for). */
export type TableStatsRow = Omit<TableRow, keyof Omit<TableSizes, 'index_sizes'>>;

/** One statement for any number of tables, with their sizes (tablesSql) or without (tableStatsSql). */
export const tablesSql = perServerVersion((caps) => buildTablesSql(caps, true));
export const tableStatsSql = perServerVersion((caps) => buildTablesSql(caps, false));

function buildTablesSql(caps: Capabilities, withSizes: boolean): string {
  const lastSeqScan = caps.serverVersionNum >= 160000 ? 'max(pg_stat_get_lastscan(leaf.relid))' : 'NULL::timestamptz';
  // pg_stat_all_tables has a row for a partitioned table from PostgreSQL 14 on
  const statKinds = caps.serverVersionNum >= 140000 ? "'r', 't', 'm', 'p'" : "'r', 't', 'm'";
  return /* SQL */ `
    WITH requested AS (
      SELECT
        c.oid,
        n.nspname,
        c.relname,
        c.relkind,
        c.relispartition,
        c.reltuples,
        c.reloptions
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY ($1::oid[])
    ),
    -- A table's leaves: itself, or the leaf partitions of a partitioned table.
    requested_leaves AS MATERIALIZED (
      SELECT
        r.oid AS table_oid,
        leaf.relid
      FROM requested r
      CROSS JOIN LATERAL (${leavesOf('r')}
      ) leaf
    ),
    -- The counters come from the functions behind pg_stat_all_tables and pg_statio_all_tables,
    -- called on each leaf (and each leaf's indexes) directly, with the views' arithmetic: the views
    -- would join pg_class, pg_namespace and pg_index again for every relation they read.
    leaf_indexes AS (
      SELECT
        i.indrelid AS relid,
        sum(pg_stat_get_numscans(i.indexrelid)) AS scans,
        sum(pg_stat_get_tuples_fetched(i.indexrelid)) AS tuples_fetched,
        sum(pg_stat_get_blocks_fetched(i.indexrelid) - pg_stat_get_blocks_hit(i.indexrelid)) AS blocks_read,
        sum(pg_stat_get_blocks_hit(i.indexrelid)) AS blocks_hit
      FROM pg_index i
      WHERE i.indrelid IN (SELECT relid FROM requested_leaves)
      GROUP BY i.indrelid
    ),
    totals AS (
      SELECT
        leaf.table_oid,
        -- reltuples is -1 until the first VACUUM or ANALYZE (PostgreSQL 14+): unknown, not zero
        CASE WHEN bool_and(lc.reltuples < 0) THEN NULL ELSE sum(greatest(lc.reltuples, 0)) END::int8 AS row_estimate,
        sum(pg_stat_get_live_tuples(leaf.relid))::int8 AS live_tuples,
        sum(pg_stat_get_dead_tuples(leaf.relid))::int8 AS dead_tuples,
        sum(pg_stat_get_numscans(leaf.relid))::int8 AS seq_scans,
        sum(pg_stat_get_tuples_returned(leaf.relid))::int8 AS seq_tuples_read,
        sum(ix.scans)::int8 AS index_scans,
        -- as the view: index fetches plus the table's own, unknown for a leaf without indexes
        sum(ix.tuples_fetched + pg_stat_get_tuples_fetched(leaf.relid))::int8 AS index_tuples_fetched,
        sum(pg_stat_get_tuples_inserted(leaf.relid))::int8 AS inserts,
        sum(pg_stat_get_tuples_updated(leaf.relid))::int8 AS updates,
        sum(pg_stat_get_tuples_hot_updated(leaf.relid))::int8 AS hot_updates,
        sum(pg_stat_get_tuples_deleted(leaf.relid))::int8 AS deletes,
        sum(pg_stat_get_mod_since_analyze(leaf.relid))::int8 AS modifications_since_analyze,
        sum(pg_stat_get_ins_since_vacuum(leaf.relid))::int8 AS inserts_since_vacuum,
        ${lastSeqScan} AS last_seq_scan_at,
        sum(pg_stat_get_blocks_hit(leaf.relid))::float8 / nullif(sum(pg_stat_get_blocks_fetched(leaf.relid)), 0) AS heap_cache_hit_ratio,
        sum(ix.blocks_hit)::float8 / nullif(sum(ix.blocks_hit) + sum(ix.blocks_read), 0) AS index_cache_hit_ratio
      FROM requested_leaves leaf
      JOIN pg_class lc ON lc.oid = leaf.relid
      LEFT JOIN leaf_indexes ix ON ix.relid = leaf.relid
      GROUP BY leaf.table_oid
    ),
${withSizes ? `${relationSizesCtes('requested')},` : ''}
    thresholds AS (
      -- What autovacuum compares n_mod_since_analyze with: per-table reloptions win over settings.
      SELECT
        r.oid AS table_oid,
        coalesce(opt.enabled, current_setting('autovacuum')::bool) AS autovacuum_enabled,
        coalesce(opt.threshold, current_setting('autovacuum_analyze_threshold')::float8)
          + coalesce(opt.scale_factor, current_setting('autovacuum_analyze_scale_factor')::float8)
          * greatest(r.reltuples, 0) AS auto_analyze_threshold
      FROM requested r
      CROSS JOIN LATERAL (
        SELECT
          max(option_value) FILTER (WHERE option_name = 'autovacuum_enabled')::bool AS enabled,
          max(option_value) FILTER (WHERE option_name = 'autovacuum_analyze_threshold')::float8 AS threshold,
          max(option_value) FILTER (WHERE option_name = 'autovacuum_analyze_scale_factor')::float8 AS scale_factor
        FROM pg_options_to_table(r.reloptions)
      ) opt
      WHERE r.relkind IN ('r', 'm')
    )
    SELECT
      r.oid,
      r.nspname AS schema,
      r.relname AS name,
      r.relkind::text AS kind,
      r.relispartition AS is_partition,
      parent.oid AS parent_oid,
      parent.schema AS parent_schema,
      parent.name AS parent_name,
${withSizes ? SIZE_COLUMNS : ''}      t.row_estimate,
      coalesce(t.live_tuples, 0) AS live_tuples,
      coalesce(t.dead_tuples, 0) AS dead_tuples,
      t.dead_tuples::float8 / nullif(t.live_tuples + t.dead_tuples, 0) AS dead_tuple_ratio,
      coalesce(t.seq_scans, 0) AS seq_scans,
      coalesce(t.seq_tuples_read, 0) AS seq_tuples_read,
      coalesce(t.index_scans, 0) AS index_scans,
      coalesce(t.index_tuples_fetched, 0) AS index_tuples_fetched,
      coalesce(t.inserts, 0) AS inserts,
      coalesce(t.updates, 0) AS updates,
      coalesce(t.hot_updates, 0) AS hot_updates,
      coalesce(t.deletes, 0) AS deletes,
      coalesce(t.modifications_since_analyze, 0) AS modifications_since_analyze,
      coalesce(t.inserts_since_vacuum, 0) AS inserts_since_vacuum,
      t.last_seq_scan_at,
      own.last_vacuum AS last_vacuum_at,
      own.last_autovacuum AS last_autovacuum_at,
      own.last_analyze AS last_analyze_at,
      own.last_autoanalyze AS last_autoanalyze_at,
      coalesce(own.vacuum_count, 0) AS vacuum_count,
      coalesce(own.autovacuum_count, 0) AS autovacuum_count,
      coalesce(own.analyze_count, 0) AS analyze_count,
      coalesce(own.autoanalyze_count, 0) AS autoanalyze_count,
      th.autovacuum_enabled,
      th.auto_analyze_threshold,
      CASE
        -- Autovacuum never analyzes a partitioned parent. PostgreSQL 13 keeps no statistics row for
        -- it, so pg_stats (visible only for readable columns) is the fallback there; a role that may
        -- read none of its columns cannot tell, and is not told it was never analyzed.
        WHEN r.relkind = 'p' THEN
          CASE
            WHEN own.last_analyze IS NULL
              AND (own.relid IS NOT NULL OR has_any_column_privilege(r.oid, 'SELECT'))
              AND (t.live_tuples > 0 OR t.row_estimate > 0)
              AND NOT EXISTS (
                SELECT
                FROM pg_stats st
                WHERE st.schemaname = r.nspname
                  AND st.tablename = r.relname
                  AND st.inherited
              )
            THEN 'PARTITIONED_NEVER_ANALYZED'
          END
        WHEN r.relkind IN ('r', 'm') THEN
          CASE
            WHEN own.last_analyze IS NULL
              AND own.last_autoanalyze IS NULL
              AND t.live_tuples > 0
            THEN 'NEVER_ANALYZED'
            WHEN own.n_mod_since_analyze > th.auto_analyze_threshold THEN 'MODIFIED_PAST_THRESHOLD'
          END
      END AS stale_statistics_reason,
      t.heap_cache_hit_ratio,
      t.index_cache_hit_ratio
    FROM requested r
    LEFT JOIN totals t ON t.table_oid = r.oid
    LEFT JOIN thresholds th ON th.table_oid = r.oid
${withSizes ? 'LEFT JOIN sizes sz ON sz.table_oid = r.oid' : ''}
    -- the table's own row of pg_stat_all_tables, from the functions behind it
    CROSS JOIN LATERAL (
      SELECT
        CASE WHEN r.relkind IN (${statKinds}) THEN r.oid END AS relid,
        pg_stat_get_last_vacuum_time(r.oid) AS last_vacuum,
        pg_stat_get_last_autovacuum_time(r.oid) AS last_autovacuum,
        pg_stat_get_last_analyze_time(r.oid) AS last_analyze,
        pg_stat_get_last_autoanalyze_time(r.oid) AS last_autoanalyze,
        pg_stat_get_vacuum_count(r.oid) AS vacuum_count,
        pg_stat_get_autovacuum_count(r.oid) AS autovacuum_count,
        pg_stat_get_analyze_count(r.oid) AS analyze_count,
        pg_stat_get_autoanalyze_count(r.oid) AS autoanalyze_count,
        pg_stat_get_mod_since_analyze(r.oid) AS n_mod_since_analyze
    ) own
    LEFT JOIN LATERAL (
      SELECT
        pc.oid,
        pn.nspname AS schema,
        pc.relname AS name
      FROM pg_inherits inh
      JOIN pg_class pc ON pc.oid = inh.inhparent
      JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE inh.inhrelid = r.oid
        AND r.relispartition
    ) parent ON true
    ORDER BY r.oid`;
}

export async function loadTables(db: Queryable, caps: Capabilities, oids: readonly number[]): Promise<TableRow[]> {
  return db.query<TableRow>(tablesSql(caps), [oids]);
}

export async function loadTableStats(db: Queryable, caps: Capabilities, oids: readonly number[]): Promise<TableStatsRow[]> {
  return db.query<TableStatsRow>(tableStatsSql(caps), [oids]);
}

/** Sort orders of the table list: NAME ascending, every metric largest first. */
export const TableOrder = {
  NAME: 'name',
  TOTAL_SIZE: 'total_size',
  TABLE_SIZE: 'table_size',
  INDEXES_SIZE: 'indexes_size',
  LIVE_TUPLES: 'live_tuples',
  DEAD_TUPLES: 'dead_tuples',
  SEQ_SCANS: 'seq_scans',
  SEQ_TUPLES_READ: 'seq_tuples_read',
  MODIFICATIONS_SINCE_ANALYZE: 'modifications_since_analyze',
} as const;
export type TableOrder = keyof typeof TableOrder;

export interface TablePageFilter {
  /** Null: every schema except the system ones. */
  schema: string | null;
  includePartitions: boolean;
  orderBy: TableOrder;
  /** Rows to return; the caller asks for one more to learn whether a next page exists. */
  limit: number;
}

/** Where the previous page ended: the sort key of its last row and that row's OID. */
export type TablePageKey =
  | { orderBy: 'NAME'; schema: string; name: string; oid: number }
  | { orderBy: Exclude<TableOrder, 'NAME'>; key: string; oid: number };

export interface TablePageRow {
  oid: number;
  schema: string;
  name: string;
  /** The metric as exact decimal text (sizes outgrow 2^53); null for NAME. */
  sort_key: string | null;
  /** With a size order: the table's sizes, measured for the sort. */
  sizes?: TableSizes;
}

const CANDIDATES = /* SQL */ `
    candidates AS (
      SELECT
        c.oid,
        c.relkind,
        n.nspname,
        c.relname
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'm')
        AND CASE WHEN $1::text IS NULL THEN ${DEFAULT_LISTED_SCHEMAS} ELSE n.nspname = $1::text END
        AND ($2::bool OR NOT c.relispartition)
    )`;

const TABLE_PAGE_BY_NAME_SQL = /* SQL */ `
  WITH ${CANDIDATES}
  SELECT
    c.oid,
    c.nspname AS schema,
    c.relname AS name,
    NULL::text AS sort_key
  FROM candidates c
  WHERE $3::text IS NULL
    OR (c.nspname, c.relname, c.oid) > ($3::name, $4::name, $5::oid)
  ORDER BY
    c.nspname,
    c.relname,
    c.oid
  LIMIT $6`;

/** The page of `keyed` (oid, sort_key) after the cursor ($4 key, $5 OID), largest key first, ties by OID, $6 rows. */
const AFTER_KEY_LARGEST_FIRST = /* SQL */ `
  FROM keyed k
  WHERE $4::numeric IS NULL
    OR k.sort_key < $4::numeric
    OR (k.sort_key = $4::numeric AND k.oid > $5::oid)
  ORDER BY
    k.sort_key DESC,
    k.oid
  LIMIT $6`;

const TABLE_PAGE_BY_METRIC_SQL = /* SQL */ `
  WITH ${CANDIDATES},
  keyed AS (
    SELECT
      r.oid,
      r.nspname,
      r.relname,
      (
        SELECT
          coalesce(sum(
            CASE $3::text
              WHEN 'live_tuples' THEN s.n_live_tup
              WHEN 'dead_tuples' THEN s.n_dead_tup
              WHEN 'seq_scans' THEN s.seq_scan
              WHEN 'seq_tuples_read' THEN s.seq_tup_read
              WHEN 'modifications_since_analyze' THEN s.n_mod_since_analyze
            END
          ), 0)::numeric
        FROM (${leavesOf('r')}
        ) leaf
        LEFT JOIN pg_stat_all_tables s ON s.relid = leaf.relid
      ) AS sort_key
    FROM candidates r
  )
  SELECT
    k.oid,
    k.nspname AS schema,
    k.relname AS name,
    k.sort_key::text AS sort_key
${AFTER_KEY_LARGEST_FIRST}`;

/**
 * The size orders: every candidate is sized for the sort anyway, so the page returns its rows'
 * sizes too (relationSizesCtes, each relation measured once) and the request uses them rather
 * than measuring those tables again.
 */
const TABLE_PAGE_BY_SIZE_SQL = /* SQL */ `
  WITH ${CANDIDATES},
  ${relationSizesCtes('candidates')},
  keyed AS (
    SELECT
      c.oid,
      c.nspname,
      c.relname,
      (CASE $3::text
        WHEN 'total_size' THEN sz.size_bytes
        WHEN 'table_size' THEN sz.table_size_bytes
        WHEN 'indexes_size' THEN sz.indexes_size_bytes
      END)::numeric AS sort_key,
      sz.size_bytes,
      sz.table_size_bytes,
      sz.indexes_size_bytes,
      sz.toast_size_bytes,
      sz.index_sizes
    FROM candidates c
    JOIN sizes sz ON sz.table_oid = c.oid
  )
  SELECT
    k.oid,
    k.nspname AS schema,
    k.relname AS name,
    k.sort_key::text AS sort_key,
    k.size_bytes,
    k.table_size_bytes,
    k.indexes_size_bytes,
    k.toast_size_bytes,
    k.index_sizes
${AFTER_KEY_LARGEST_FIRST}`;

const SIZE_ORDERS: ReadonlySet<TableOrder> = new Set(['TOTAL_SIZE', 'TABLE_SIZE', 'INDEXES_SIZE']);

const TABLE_COUNT_SQL = /* SQL */ `
  WITH ${CANDIDATES}
  SELECT
    count(*)::int AS total
  FROM candidates`;

/** How many tables the list holds across all its pages. */
export async function countTables(db: Queryable, filter: Pick<TablePageFilter, 'schema' | 'includePartitions'>): Promise<number> {
  const [row] = await db.query<{ total: number }>(TABLE_COUNT_SQL, [filter.schema, filter.includePartitions]);
  return row?.total ?? 0;
}

/** One page of table keys (OID and sort key) in a stable order: keyset pagination, no OFFSET. */
export async function tablePage(db: Queryable, filter: TablePageFilter, after: TablePageKey | null): Promise<TablePageRow[]> {
  const common = [filter.schema, filter.includePartitions];
  if (filter.orderBy === 'NAME') {
    const cursor = after?.orderBy === 'NAME' ? [after.schema, after.name, after.oid] : [null, null, null];
    return db.query<TablePageRow>(TABLE_PAGE_BY_NAME_SQL, [...common, ...cursor, filter.limit]);
  }
  const cursor = after && after.orderBy !== 'NAME' ? [after.key, after.oid] : [null, null];
  if (SIZE_ORDERS.has(filter.orderBy)) {
    const rows = await db.query<TablePageRow & TableSizes>(TABLE_PAGE_BY_SIZE_SQL, [
      ...common,
      TableOrder[filter.orderBy],
      ...cursor,
      filter.limit,
    ]);
    return rows.map(({ size_bytes, table_size_bytes, indexes_size_bytes, toast_size_bytes, index_sizes, ...row }) => ({
      ...row,
      sizes: { size_bytes, table_size_bytes, indexes_size_bytes, toast_size_bytes, index_sizes },
    }));
  }
  return db.query<TablePageRow>(TABLE_PAGE_BY_METRIC_SQL, [...common, TableOrder[filter.orderBy], ...cursor, filter.limit]);
}
