// Distinct values per column from pg_stats, so that candidates put the most selective equality key
// first. One query for all the workload's tables. A partitioned parent has statistics only after a
// manual ANALYZE (autovacuum never analyzes parents): without them its keys stay as written.
import { leavesOf, relationsByName } from '../../db/fragments.js';
import type { Queryable } from '../../db/pool.js';
import type { KeyRef } from '../types.js';

interface DistinctRow {
  schema: string;
  table: string;
  column: string;
  distinct_values: number;
}

/**
 * n_distinct is a count when positive and minus a fraction of the rows when negative (-1: unique);
 * rows are the table's estimate, summed over the leaves for a partitioned parent. A parent's own
 * rows are those with inherited = true (over its partitions), a plain table's inherited = false.
 */
const DISTINCT_SQL = /* SQL */ `
  WITH wanted AS (
    SELECT
      w.schema,
      w.name,
      t.oid,
      t.relkind,
      t.relkind = 'p' AS partitioned
    FROM ${relationsByName('$1', '$2')}
  ),
  sized AS (
    SELECT
      wanted.*,
      (
        SELECT sum(greatest(c.reltuples, 0))
        FROM (${leavesOf('wanted')}
        ) AS leaf
        JOIN pg_class c ON c.oid = leaf.relid
      )::float8 AS rows
    FROM wanted
  )
  SELECT
    sized.schema,
    sized.name AS table,
    s.attname::text AS column,
    CASE
      WHEN s.n_distinct >= 0 THEN s.n_distinct
      ELSE -s.n_distinct * sized.rows
    END::float8 AS distinct_values
  FROM sized
  JOIN pg_stats s ON s.schemaname = sized.schema
    AND s.tablename = sized.name
    AND s.inherited = sized.partitioned
  ORDER BY
    sized.schema,
    sized.name,
    s.attname`;

export type DistinctValues = (schema: string, table: string, key: KeyRef) => number | undefined;

/** A lookup of distinct values per plain column of the tables (expressions: unknown). */
export async function loadDistinctValues(db: Queryable, [schemas, tables]: [string[], string[]]): Promise<DistinctValues> {
  if (tables.length === 0) return () => undefined;
  const rows = await db.query<DistinctRow>(DISTINCT_SQL, [schemas, tables]);
  const found = new Map(rows.map((row) => [JSON.stringify([row.schema, row.table, row.column]), row.distinct_values]));
  return (schema, table, key) => (key.column === null ? undefined : found.get(JSON.stringify([schema, table, key.column])));
}
