// What the pg_stats estimate reads: the table's size (pg_class), its columns' statistics
// (pg_stats) and the planner's cost settings (pg_settings), each in one statement. A partitioned
// parent has no pg_stats rows until someone runs ANALYZE on it (autovacuum never does): then its
// leaves' statistics are combined, weighted by their row counts, and `combinedFromLeaves` says so.
import { leavesOf, relationsByName } from '../../../db/fragments.js';
import type { Queryable } from '../../../db/pool.js';

export interface TableStatistics {
  /** Estimated rows (pg_class.reltuples, leaves summed; 0 when never analyzed or vacuumed). */
  rows: number;
  /** Heap pages (pg_class.relpages, leaves summed). */
  pages: number;
  partitioned: boolean;
  /** Leaf tables whose scans stand for this table in plans (the table itself when not partitioned). */
  leaves: Array<{ schema: string; table: string }>;
  columns: Map<string, ColumnStatistics>;
  /** A partitioned parent without statistics of its own: its leaves' were combined. */
  combinedFromLeaves: boolean;
}

export interface ColumnStatistics {
  nullFraction: number;
  /** Distinct non-null values (pg_stats' negative fractions turned into counts). */
  distinct: number;
  /** Physical order vs value order, -1..1 (0 when unknown). */
  correlation: number;
  avgWidthBytes: number;
  /** Most common values as text, with their frequencies (empty when combined from leaves). */
  commonValues: string[];
  commonFrequencies: number[];
  /** Histogram bounds as text (empty when combined from leaves or absent). */
  histogram: string[];
  /** For an array column: its most common elements as text, with their frequencies (empty when combined from leaves or absent). */
  commonElements: string[];
  commonElementFrequencies: number[];
}

interface TableSizeRow {
  rows: number;
  pages: number;
  partitioned: boolean;
  leaf_schemas: string[];
  leaf_names: string[];
  parent_analyzed: boolean;
}

// A plain table, or a partition named on its own, is its own single leaf.
const TABLE_SQL = /* SQL */ `
  WITH target AS (
    SELECT
      c.oid,
      c.relkind
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1
      AND c.relname = $2
  )
  SELECT
    coalesce(sum(greatest(l.reltuples, 0)), 0)::float8 AS rows,
    coalesce(sum(l.relpages), 0)::float8 AS pages,
    bool_or(t.relkind = 'p') AS partitioned,
    array_agg(ln.nspname::text ORDER BY ln.nspname, l.relname) AS leaf_schemas,
    array_agg(l.relname::text ORDER BY ln.nspname, l.relname) AS leaf_names,
    EXISTS (
      SELECT FROM pg_stats s
      WHERE s.schemaname = $1
        AND s.tablename = $2
        AND s.inherited
    ) AS parent_analyzed
  FROM target t
  CROSS JOIN LATERAL (${leavesOf('t')}
  ) AS leaf
  JOIN pg_class l ON l.oid = leaf.relid
  JOIN pg_namespace ln ON ln.oid = l.relnamespace`;

interface ColumnStatsRow {
  column_name: string;
  /** The leaf's (or table's) rows, to weigh combined statistics. */
  source_rows: number;
  null_frac: number;
  n_distinct: number;
  correlation: number | null;
  avg_width: number;
  common_values: string[] | null;
  common_freqs: number[] | null;
  histogram: string[] | null;
  common_elements: string[] | null;
  common_element_freqs: number[] | null;
}

// pg_stats' anyarray columns become text[] through text (their element type varies by column).
// $3: read the parent's own inherited statistics; else the leaves' (a plain table is its own leaf),
// named by $4 and $5.
const COLUMNS_SQL = /* SQL */ `
  SELECT
    s.attname::text AS column_name,
    greatest(t.reltuples, 0)::float8 AS source_rows,
    s.null_frac::float8 AS null_frac,
    s.n_distinct::float8 AS n_distinct,
    s.correlation::float8 AS correlation,
    s.avg_width AS avg_width,
    s.most_common_vals::text::text[] AS common_values,
    s.most_common_freqs::float8[] AS common_freqs,
    s.histogram_bounds::text::text[] AS histogram,
    s.most_common_elems::text::text[] AS common_elements,
    s.most_common_elem_freqs::float8[] AS common_element_freqs
  FROM ${relationsByName('$4', '$5')}
  JOIN pg_stats s
    ON CASE WHEN $3 THEN s.schemaname = $1 AND s.tablename = $2 AND s.inherited
       ELSE s.schemaname = w.schema AND s.tablename = w.name AND NOT s.inherited END
  WHERE s.attname = ANY ($6::text[])
  ORDER BY
    s.attname,
    w.schema,
    w.name`;

/** Size and statistics of `schema.table` for `columns`; null when the table does not exist. */
export async function tableStatistics(
  db: Queryable,
  schema: string,
  table: string,
  columns: readonly string[],
): Promise<TableStatistics | null> {
  const [row] = await db.query<TableSizeRow>(TABLE_SQL, [schema, table]);
  if (!row || row.partitioned === null) return null;
  const leaves = row.leaf_names.map((name, index) => ({ schema: row.leaf_schemas[index]!, table: name }));
  const ownStatistics = !row.partitioned || row.parent_analyzed;
  // the parent's inherited rows are read once: one leaf stands in for the join
  const sources = row.partitioned && row.parent_analyzed ? leaves.slice(0, 1) : leaves;
  const columnRows = await db.query<ColumnStatsRow>(COLUMNS_SQL, [
    schema,
    table,
    row.partitioned && row.parent_analyzed,
    sources.map((leaf) => leaf.schema),
    sources.map((leaf) => leaf.table),
    [...columns],
  ]);
  return {
    rows: row.rows,
    pages: row.pages,
    partitioned: row.partitioned,
    leaves,
    columns: combineColumns(columnRows, row.rows, ownStatistics),
    combinedFromLeaves: !ownStatistics,
  };
}

function combineColumns(rows: ColumnStatsRow[], tableRows: number, single: boolean): Map<string, ColumnStatistics> {
  const byColumn = new Map<string, ColumnStatsRow[]>();
  for (const row of rows) byColumn.set(row.column_name, [...(byColumn.get(row.column_name) ?? []), row]);
  const combined = new Map<string, ColumnStatistics>();
  for (const [name, parts] of byColumn) combined.set(name, single ? fromOne(parts[0]!, tableRows) : fromLeaves(parts));
  return combined;
}

/** pg_stats' n_distinct: positive is a count, negative a fraction of the rows. */
const distinctCount = (nDistinct: number, rows: number) => (nDistinct < 0 ? -nDistinct * rows : nDistinct);

function fromOne(row: ColumnStatsRow, rows: number): ColumnStatistics {
  return {
    nullFraction: row.null_frac,
    distinct: Math.max(1, distinctCount(row.n_distinct, rows)),
    correlation: row.correlation ?? 0,
    avgWidthBytes: row.avg_width,
    commonValues: row.common_values ?? [],
    commonFrequencies: row.common_freqs ?? [],
    histogram: row.histogram ?? [],
    commonElements: row.common_elements ?? [],
    // pg_stats appends the minimum, the maximum and the null-element frequency after one per element
    commonElementFrequencies: (row.common_element_freqs ?? []).slice(0, row.common_elements?.length ?? 0),
  };
}

/**
 * Leaves weighted by their rows. Distinct values: the largest leaf count, a lower bound (a key
 * spread over time partitions, such as a user id, repeats in each); the partition key itself
 * would rather add up, which makes its equality estimate pessimistic.
 */
function fromLeaves(parts: ColumnStatsRow[]): ColumnStatistics {
  const total = parts.reduce((sum, part) => sum + part.source_rows, 0) || parts.length;
  const weigh = (value: (part: ColumnStatsRow) => number) =>
    parts.reduce((sum, part) => sum + value(part) * (part.source_rows || total / parts.length), 0) / total;
  return {
    nullFraction: weigh((part) => part.null_frac),
    distinct: Math.max(1, ...parts.map((part) => distinctCount(part.n_distinct, part.source_rows))),
    correlation: weigh((part) => part.correlation ?? 0),
    avgWidthBytes: weigh((part) => part.avg_width),
    commonValues: [],
    commonFrequencies: [],
    histogram: [],
    commonElements: [],
    commonElementFrequencies: [],
  };
}

/** The planner's cost settings (PostgreSQL's defaults in parentheses). */
export interface CostSettings {
  randomPageCost: number; // 4.0
  seqPageCost: number; // 1.0
  cpuTupleCost: number; // 0.01
  cpuIndexTupleCost: number; // 0.005
  cpuOperatorCost: number; // 0.0025
  /** effective_cache_size in 8 kB pages (4 GB = 524288). */
  effectiveCachePages: number;
}

const SETTINGS_SQL = /* SQL */ `
  SELECT
    current_setting('random_page_cost')::float8 AS random_page_cost,
    current_setting('seq_page_cost')::float8 AS seq_page_cost,
    current_setting('cpu_tuple_cost')::float8 AS cpu_tuple_cost,
    current_setting('cpu_index_tuple_cost')::float8 AS cpu_index_tuple_cost,
    current_setting('cpu_operator_cost')::float8 AS cpu_operator_cost,
    (SELECT setting::float8 FROM pg_settings WHERE name = 'effective_cache_size') AS effective_cache_pages`;

export async function costSettings(db: Queryable): Promise<CostSettings> {
  const [row] = await db.query<Record<string, number>>(SETTINGS_SQL);
  return {
    randomPageCost: row!.random_page_cost!,
    seqPageCost: row!.seq_page_cost!,
    cpuTupleCost: row!.cpu_tuple_cost!,
    cpuIndexTupleCost: row!.cpu_index_tuple_cost!,
    cpuOperatorCost: row!.cpu_operator_cost!,
    effectiveCachePages: row!.effective_cache_pages!,
  };
}
