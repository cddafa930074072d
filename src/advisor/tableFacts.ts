// What selection and the recommendations read about the tables themselves: how much of what is
// written to them costs an index (every write but a HOT update), and which existing indexes a new
// one would make redundant.
import { leavesOf, relationsByName } from '../db/fragments.js';
import type { Queryable } from '../db/pool.js';
import type { TableWrites } from './analysis/writes.js';
import type { CandidateIndex } from './types.js';
import { tableKey } from './select.js';

/**
 * Rows written per table that cost each of its indexes an entry: inserts, deletes and the updates
 * that were not HOT (a HOT update touches no index), from `statementWrites`, the workload's own
 * write statements over the window its reads come from. Which share of a table's updates were
 * HOT only its counters say (pg_stat_all_tables, summed over a partitioned table's leaves): a
 * ratio, which holds whatever the window its counters cover. A table written by no statement of
 * the window is charged nothing.
 */
export async function loadTableWrites(
  db: Queryable,
  statementWrites: ReadonlyMap<string, TableWrites>,
  tables: ReadonlyArray<{ schema: string; table: string }>,
): Promise<Map<string, number>> {
  const written = [...new Map(tables.map((t) => [tableKey(t), t])).values()].filter((t) => statementWrites.has(tableKey(t)));
  const hotShares = await loadHotUpdateShares(db, written);
  return new Map(
    written.map((t) => {
      const writes = statementWrites.get(tableKey(t))!;
      const nonHotUpdated = writes.updated * (1 - (hotShares.get(tableKey(t)) ?? 0));
      return [tableKey(t), writes.inserted + nonHotUpdated + writes.deleted];
    }),
  );
}

/** The share of each table's updated rows that were HOT, by its counters; absent for a table its counters show no update. */
export async function loadHotUpdateShares(
  db: Queryable,
  tables: ReadonlyArray<{ schema: string; table: string }>,
): Promise<Map<string, number>> {
  if (tables.length === 0) return new Map();
  const rows = await db.query<{ schema: string; table: string; hot_update_share: number | null }>(
    /* SQL */ `
    SELECT
      w.schema,
      w.name AS table,
      sum(s.n_tup_hot_upd)::float8 / nullif(sum(s.n_tup_upd), 0) AS hot_update_share
    FROM ${relationsByName('$1', '$2')}
    CROSS JOIN LATERAL (${leavesOf('t')}) leaf
    LEFT JOIN pg_stat_all_tables s ON s.relid = leaf.relid
    GROUP BY w.schema, w.name`,
    [tables.map((t) => t.schema), tables.map((t) => t.table)],
  );
  return new Map(rows.flatMap((row) => (row.hot_update_share === null ? [] : [[tableKey(row), row.hot_update_share] as const])));
}

interface ExistingIndexRow {
  name: string;
  columns: Array<string | null>;
  descending: boolean[];
}

/**
 * Existing B-tree indexes that the candidate makes redundant: plain (not unique, not behind a
 * constraint, no predicate, no INCLUDE) and whose keys are the candidate's leading keys, in order,
 * with the same directions. Dropping them after the candidate exists loses nothing they served.
 */
export async function redundantIndexes(db: Queryable, candidate: CandidateIndex): Promise<string[]> {
  if (candidate.method !== 'btree' || candidate.where !== null) return [];
  const rows = await db.query<ExistingIndexRow>(
    /* SQL */ `
    SELECT
      ic.relname AS name,
      ARRAY(
        SELECT a.attname::text
        FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, position)
        LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0
        ORDER BY k.position
      ) AS columns,
      ARRAY(
        SELECT (o.option & 1) = 1
        FROM unnest(i.indoption::int2[]) WITH ORDINALITY AS o(option, position)
        ORDER BY o.position
      ) AS descending
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_am am ON am.oid = ic.relam
    WHERE n.nspname = $1
      AND t.relname = $2
      AND am.amname = 'btree'
      AND i.indisvalid
      AND NOT i.indisunique
      AND i.indpred IS NULL
      AND i.indexprs IS NULL
      AND i.indnatts = i.indnkeyatts
      AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
      -- the index of one partition goes with its parent's
      AND NOT ic.relispartition
    ORDER BY ic.relname`,
    [candidate.schema, candidate.table],
  );
  return rows.filter((row) => isLeadingPart(row, candidate)).map((row) => row.name);
}

function isLeadingPart(existing: ExistingIndexRow, candidate: CandidateIndex): boolean {
  if (existing.columns.length >= candidate.keys.length) return false;
  return existing.columns.every((column, k) => {
    const key = candidate.keys[k]!;
    return column !== null && key.column === column && existing.descending[k] === (key.direction === 'DESC');
  });
}
