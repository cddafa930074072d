// Partitioning: each partition of a partitioned table with its bound, rows and size, and per
// partitioned table its strategy, key, default partition, detach-pending partitions, indexes
// missing on some partitions, and how far ahead of now() its time-range partitions reach.
import { type Capabilities, perServerVersion } from './capabilities.js';
import { leavesOf } from './fragments.js';
import type { Queryable } from './pool.js';

export interface PartitionRow {
  parent_oid: number;
  oid: number;
  schema: string;
  name: string;
  is_default: boolean;
  /** pg_get_expr(relpartbound): "FOR VALUES FROM (...) TO (...)", "FOR VALUES IN (...)", "DEFAULT"... */
  bound: string;
  /** Range partitions: the lower and upper bound as written in `bound` ('MINVALUE'/'MAXVALUE' included). */
  range_from: string | null;
  range_to: string | null;
  /** Range partitions on one date/timestamp column: the bounds as instants (null for MINVALUE/MAXVALUE). */
  from_at: Date | null;
  to_at: Date | null;
  row_estimate: bigint | null;
  live_tuples: bigint;
  size_bytes: bigint;
  table_size_bytes: bigint;
  indexes_size_bytes: bigint;
  /** Always false before PostgreSQL 14 (no DETACH CONCURRENTLY there). */
  is_detach_pending: boolean;
  is_partitioned: boolean;
  /** Indexes of the parent that have no index attached on this partition. */
  missing_indexes: string[];
}

export type PartitionStrategy = 'RANGE' | 'LIST' | 'HASH';

export interface PartitionedTableRow {
  oid: number;
  schema: string;
  name: string;
  strategy: PartitionStrategy;
  key: string;
  /** True when the key is one date, timestamp or timestamptz column: from/to and coverage apply. */
  is_time_range: boolean;
  partition_count: number;
  default_partition_name: string | null;
  default_partition_rows: bigint | null;
  /** True when default_partition_rows was counted; false when it is the statistics' n_live_tup. */
  default_partition_rows_exact: boolean | null;
  detach_pending_partitions: string[];
  missing_indexes: Array<{ indexName: string; partitions: string[] }>;
  covered_until: Date | null;
  coverage_unbounded: boolean;
  coverage_ahead_days: number | null;
}

/**
 * Counting the default partition's rows is exact only when cheap: up to this many bytes of heap,
 * and only when pgscope's role may read the table. Otherwise the statistics' n_live_tup stands in.
 */
export const DEFAULT_PARTITION_COUNT_MAX_BYTES = 16 * 1024 * 1024;

/** The partitions (direct children) of the partitioned tables in $1, with parsed range bounds. */
function partitionsCte(caps: Capabilities): string {
  // inhdetachpending exists from PostgreSQL 14, with DETACH PARTITION ... CONCURRENTLY.
  const detachPending = caps.serverVersionNum >= 140000 ? 'inh.inhdetachpending' : 'false';
  return /* SQL */ `
    parts AS (
      SELECT
        inh.inhparent AS parent_oid,
        c.oid,
        n.nspname AS schema,
        c.relname AS name,
        c.oid = pt.partdefid AS is_default,
        pg_get_expr(c.relpartbound, c.oid) AS bound,
        pt.partstrat = 'r'
          AND pt.partnatts = 1
          AND key_column.atttypid IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype)
          AS is_time_range,
        ${detachPending} AS is_detach_pending,
        c.relkind,
        c.relkind = 'p' AS is_partitioned
      FROM pg_inherits inh
      JOIN pg_partitioned_table pt ON pt.partrelid = inh.inhparent
      JOIN pg_class c ON c.oid = inh.inhrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      -- partattrs[0] is 0 for an expression key: no column, no time range
      LEFT JOIN pg_attribute key_column
        ON key_column.attrelid = pt.partrelid
        AND key_column.attnum = pt.partattrs[0]
      WHERE inh.inhparent = ANY ($1::oid[])
    ),
    bounded AS (
      SELECT
        p.*,
        range_bound.range_from,
        range_bound.range_to
      FROM parts p
      LEFT JOIN LATERAL (
        SELECT
          m[1] AS range_from,
          m[2] AS range_to
        FROM regexp_match(p.bound, '^FOR VALUES FROM \\((.*)\\) TO \\((.*)\\)$') m
      ) range_bound ON true
    ),
    timed AS (
      SELECT
        b.*,
        -- A single time column's bound is one quoted literal; as timestamptz it is read in the
        -- session's TimeZone, as PostgreSQL reads a timestamp without time zone compared with now().
        CASE WHEN b.is_time_range AND b.range_from LIKE '''%''' THEN btrim(b.range_from, '''')::timestamptz END AS from_at,
        CASE WHEN b.is_time_range AND b.range_to LIKE '''%''' THEN btrim(b.range_to, '''')::timestamptz END AS to_at
      FROM bounded b
    ),
    index_gaps AS (
      -- (partition, index of its parent) pairs where the partition has no attached index: queries
      -- on that partition cannot use the index, and ATTACH of a new partition builds it while locked
      SELECT
        p.parent_oid,
        p.oid AS partition_oid,
        p.name AS partition_name,
        parent_index.relname::text AS index_name
      FROM parts p
      JOIN pg_index pi ON pi.indrelid = p.parent_oid
      JOIN pg_class parent_index ON parent_index.oid = pi.indexrelid
      WHERE NOT EXISTS (
        SELECT
        FROM pg_inherits attached
        JOIN pg_index ci ON ci.indexrelid = attached.inhrelid
        WHERE attached.inhparent = pi.indexrelid
          AND ci.indrelid = p.oid
      )
    )`;
}

/** Every partition of the partitioned tables in $1, ordered by lower bound, the default last. */
export const partitionsSql = perServerVersion(
  (caps) => /* SQL */ `
    WITH ${partitionsCte(caps)}
    SELECT
      p.parent_oid,
      p.oid,
      p.schema,
      p.name,
      p.is_default,
      p.bound,
      p.range_from,
      p.range_to,
      p.from_at,
      p.to_at,
      sizes.row_estimate,
      coalesce(sizes.live_tuples, 0) AS live_tuples,
      coalesce(sizes.size_bytes, 0) AS size_bytes,
      coalesce(sizes.table_size_bytes, 0) AS table_size_bytes,
      coalesce(sizes.indexes_size_bytes, 0) AS indexes_size_bytes,
      p.is_detach_pending,
      p.is_partitioned,
      ARRAY(
        SELECT gap.index_name
        FROM index_gaps gap
        WHERE gap.partition_oid = p.oid
        ORDER BY gap.index_name
      ) AS missing_indexes
    FROM timed p
    LEFT JOIN LATERAL (
      SELECT
        CASE WHEN bool_and(lc.reltuples < 0) THEN NULL ELSE sum(greatest(lc.reltuples, 0)) END::int8 AS row_estimate,
        sum(s.n_live_tup)::int8 AS live_tuples,
        sum(size.table_bytes + size.indexes_bytes)::int8 AS size_bytes,
        sum(size.table_bytes)::int8 AS table_size_bytes,
        sum(size.indexes_bytes)::int8 AS indexes_size_bytes
      FROM (${leavesOf('p')}
      ) leaf
      JOIN pg_class lc ON lc.oid = leaf.relid
      -- each leaf measured once (pg_total_relation_size = pg_table_size + pg_indexes_size);
      -- OFFSET 0 keeps the planner from repeating the calls in every sum
      CROSS JOIN LATERAL (
        SELECT
          pg_table_size(leaf.relid) AS table_bytes,
          pg_indexes_size(leaf.relid) AS indexes_bytes
        OFFSET 0
      ) size
      LEFT JOIN pg_stat_all_tables s ON s.relid = leaf.relid
    ) sizes ON true
    ORDER BY
      p.parent_oid,
      p.is_default,
      p.from_at NULLS FIRST,
      p.name,
      p.oid`,
);

export async function loadPartitions(db: Queryable, caps: Capabilities, parentOids: readonly number[]): Promise<PartitionRow[]> {
  return db.query<PartitionRow>(partitionsSql(caps), [parentOids]);
}

/** One row per partitioned table in $1 (other relations in $1 yield no row). */
export const partitionedTablesSql = perServerVersion(
  (caps) => /* SQL */ `
    WITH ${partitionsCte(caps)},
    coverage AS (
      SELECT
        parent_oid,
        bool_or(is_time_range) AS is_time_range,
        max(to_at) AS covered_until,
        bool_or(range_to = 'MAXVALUE') AS coverage_unbounded
      FROM timed
      WHERE NOT is_detach_pending
      GROUP BY parent_oid
    )
    SELECT
      c.oid,
      n.nspname AS schema,
      c.relname AS name,
      CASE pt.partstrat
        WHEN 'r' THEN 'RANGE'
        WHEN 'l' THEN 'LIST'
        WHEN 'h' THEN 'HASH'
      END AS strategy,
      pg_get_partkeydef(c.oid) AS key,
      coalesce(cov.is_time_range, false) AS is_time_range,
      (SELECT count(*) FROM parts p WHERE p.parent_oid = c.oid)::int AS partition_count,
      d.relname AS default_partition_name,
      coalesce(default_count.counted, ds.n_live_tup) AS default_partition_rows,
      CASE WHEN d.oid IS NOT NULL THEN default_count.counted IS NOT NULL END AS default_partition_rows_exact,
      ARRAY(
        SELECT p.name::text
        FROM parts p
        WHERE p.parent_oid = c.oid
          AND p.is_detach_pending
        ORDER BY p.name
      ) AS detach_pending_partitions,
      (
        SELECT coalesce(json_agg(json_build_object('indexName', gap.index_name, 'partitions', gap.partitions) ORDER BY gap.index_name), '[]')
        FROM (
          SELECT
            index_name,
            array_agg(partition_name::text ORDER BY partition_name) AS partitions
          FROM index_gaps
          WHERE parent_oid = c.oid
          GROUP BY index_name
        ) gap
      ) AS missing_indexes,
      CASE WHEN cov.is_time_range AND NOT cov.coverage_unbounded THEN cov.covered_until END AS covered_until,
      coalesce(cov.coverage_unbounded, false) AS coverage_unbounded,
      CASE WHEN cov.is_time_range AND NOT cov.coverage_unbounded
        THEN extract(epoch FROM cov.covered_until - now())::float8 / 86400
      END AS coverage_ahead_days
    FROM pg_partitioned_table pt
    JOIN pg_class c ON c.oid = pt.partrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN coverage cov ON cov.parent_oid = c.oid
    LEFT JOIN pg_class d ON d.oid = pt.partdefid
    LEFT JOIN pg_namespace dn ON dn.oid = d.relnamespace
    LEFT JOIN pg_stat_all_tables ds ON ds.relid = d.oid
    LEFT JOIN LATERAL (
      -- query_to_xml runs the count server-side in this same statement, so a batch of tables
      -- stays one statement; the names come from the catalog and are quoted by format(%I).
      SELECT (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', dn.nspname, d.relname), false, true, '')))[1]::text::int8 AS counted
      WHERE d.relkind = 'r'
        AND has_table_privilege(d.oid, 'SELECT')
        AND pg_relation_size(d.oid) <= ${DEFAULT_PARTITION_COUNT_MAX_BYTES}
    ) default_count ON true
    WHERE pt.partrelid = ANY ($1::oid[])
    ORDER BY c.oid`,
);

export async function loadPartitionedTables(db: Queryable, caps: Capabilities, oids: readonly number[]): Promise<PartitionedTableRow[]> {
  return db.query<PartitionedTableRow>(partitionedTablesSql(caps), [oids]);
}
