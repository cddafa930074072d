// Index findings as a person reads them: each row of src/db/indexFindings.ts with the finding in a
// sentence or three (what was found, what it costs, what to do and what to check first).
import type { Capabilities } from '../db/capabilities.js';
import { indexFindingRows, type FindingScope, type IndexFindingRow } from '../db/indexFindings.js';
import type { Queryable } from '../db/pool.js';

export interface IndexFinding extends IndexFindingRow {
  /** The finding in a sentence or three, for a person. */
  reason: string;
}

export async function indexFindings(db: Queryable, caps: Capabilities, scope: FindingScope): Promise<IndexFinding[]> {
  const rows = await indexFindingRows(db, caps, scope);
  return rows.map((row) => ({ ...row, reason: explain(row, caps.canReadAllStats) }));
}

function explain(row: IndexFindingRow, seesAllBuilds: boolean): string {
  const index = `${row.schema}.${row.index_name}`;
  const covering = `${row.schema}.${row.covering_index_name}`;
  const table = `${row.schema}.${row.table}`;
  const partitioned = row.is_partitioned
    ? ' It is a partitioned index (usage summed over its partitions): DROP INDEX cannot run CONCURRENTLY on it and locks the table and its partitions while it runs.'
    : '';
  const constraint = row.constraint_name
    ? ` It backs constraint ${row.constraint_name}: drop the constraint to remove it (PostgreSQL refuses while a foreign key depends on it).`
    : '';
  switch (row.reason_code) {
    case 'BUILD_IN_PROGRESS':
      return `Index ${index} is invalid because an index build on ${table} is running right now (${row.build_command}, phase "${row.build_phase}", backend ${row.build_pid}). Being built: do not touch it; it becomes valid when the build finishes.`;
    case 'BUILD_FAILED':
      return (
        `Index ${index} is invalid: a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY failed or was cancelled. Queries never use it, yet writes may still maintain it (${row.size_pretty}).` +
        (row.suggested_sql?.startsWith('REINDEX')
          ? ' It is attached to a partitioned index, so it cannot be dropped alone: rebuild it.'
          : ' Drop it, then create it again (for a unique index, remove the duplicate values first).') +
        (seesAllBuilds
          ? ''
          : " pgscope's role cannot see other roles' index builds (grant pg_read_all_stats): make sure no session is still building it.")
      );
    case 'PARTITIONS_NOT_ATTACHED':
      return `Partitioned index ${index} is invalid: some partitions have no valid index attached to it (CREATE INDEX ... ON ONLY without the per-partition steps). Create the index on those partitions (CONCURRENTLY), then ALTER INDEX ${index} ATTACH PARTITION each one; partitionedTable(...).missingIndexes lists them.`;
    case 'NO_SCANS':
      return `Index ${index} (${row.size_pretty}) has not been scanned ${statsPeriod(row)}.${recentStats(row)} Scans on standby servers are counted there, not here: check them before dropping it.${
        row.has_expressions ? " Its expressions have statistics that may still improve the planner's row estimates." : ''
      }${partitioned}`;
    case 'IDENTICAL_DEFINITION':
      return `Index ${index} has the same definition as ${covering} (access method, key columns and expressions, operator classes, collations, order, predicate and INCLUDE columns): one of them is enough, ${row.size_pretty} would be freed.${constraint}${partitioned}`;
    case 'SAME_KEYS_REVERSED':
      return `Index ${index} has the same keys as ${covering} in reverse order (every ASC/DESC and NULLS FIRST/LAST flipped): a backward scan of ${covering} serves the same queries, ${row.size_pretty} would be freed.${constraint}${partitioned}`;
    case 'SAME_KEYS_AS_UNIQUE_INDEX':
      return `Index ${index} has the same definition as the unique index ${covering}, which serves the same queries and also enforces uniqueness: ${row.size_pretty} would be freed.${partitioned}`;
    case 'LEADING_PREFIX_OF_OTHER':
      return `The key of ${index} is a leading prefix of the key of ${covering} (same operator classes, collations and predicate; same order or its exact reverse), which serves the same lookups and sorts: ${row.size_pretty} would be freed.${partitioned}`;
    case 'FEWER_INCLUDED_COLUMNS':
      return `Index ${index} has the same key as ${covering}, which also includes all of its INCLUDE columns: ${row.size_pretty} would be freed.${partitioned}`;
    case 'NO_LEADING_INDEX':
      return (
        `Foreign key ${row.foreign_key_name} on ${table} (${(row.foreign_key_columns ?? []).join(', ')}) references ${row.referenced_schema}.${row.referenced_table}, ` +
        `but no valid index on ${table} has these columns as its leading keys (a partial one counts only when its predicate is these columns IS NOT NULL): every DELETE or key UPDATE on ${row.referenced_schema}.${row.referenced_table} scans ${table} (${row.size_pretty}) for referencing rows, and joins on these columns cannot use an index.` +
        (row.is_partitioned
          ? ' CREATE INDEX cannot run CONCURRENTLY on a partitioned table: to avoid blocking writes, create it ON ONLY the parent, build it CONCURRENTLY on each partition and ATTACH those.'
          : '')
      );
  }
}

function statsPeriod(row: IndexFindingRow): string {
  if (row.stats_age_days === null)
    return "since this database's statistics began (they were never reset, so how long that is cannot be told)";
  return `since statistics were reset ${row.stats_age_days.toFixed(1)} days ago`;
}

/** Under a month of statistics misses monthly jobs and reports. */
export const RECENT_STATS_DAYS = 30;

function recentStats(row: IndexFindingRow): string {
  if (row.stats_age_days === null || row.stats_age_days >= RECENT_STATS_DAYS) return '';
  return ` Statistics that young may miss monthly jobs and reports: wait until they cover ${RECENT_STATS_DAYS} days before dropping it.`;
}
