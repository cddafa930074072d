// The advisor's first step: the workload, i.e. the statements of the current database that
// pg_stat_statements has seen, heaviest first (weight = total time = calls x mean time), parsed
// with PostgreSQL's own parser. Only statements that could use an index on a user table are kept:
// utility statements (DDL, SET, BEGIN, EXPLAIN, VACUUM...) and statements on the catalogs,
// pg_stat_* views or pgscope's own schema are dropped. pg_stat_statements does not record
// application_name, so pgscope's own reads are recognised by what they read, not by who ran them.
import type { Node } from 'libpg-query';
import type { Capabilities } from '../../db/capabilities.js';
import { listedByDefault } from '../../db/fragments.js';
import type { Queryable } from '../../db/pool.js';
import { perQueryIdTotals, staleExtensionError, thisDatabaseEntries } from '../../db/queryStats.js';
import { parseStatements, type ParsedStatement } from '../../sql/parse.js';
import { rangeVarsOf } from './relations.js';
import type { WorkloadStatement } from '../types.js';

/** How many statements the advisor looks at by default: the heaviest ones carry the workload. */
export const DEFAULT_WORKLOAD_LIMIT = 500;

export interface WorkloadOptions {
  /** At most this many statements, heaviest first (default DEFAULT_WORKLOAD_LIMIT). */
  limit?: number;
}

/** A workload statement with its parse tree (one statement: pg_stat_statements keeps one per entry). */
export interface ParsedWorkloadStatement extends WorkloadStatement {
  node: Node;
  /** The node type: SelectStmt, UpdateStmt, DeleteStmt, InsertStmt or MergeStmt. */
  kind: string;
}

interface EntryRow {
  query_id: string;
  query: string;
  calls: bigint;
  total_time_ms: number;
  mean_time_ms: number;
  rows: bigint;
}

/**
 * Entries of the current database aggregated per queryid (over roles), heaviest first, one page.
 * Nested statements (run inside functions) are left out where the view says which they are
 * (toplevel, extension 1.9+): their time is already in the calling statement's, and the advisor
 * would count it twice. The tie-breaker on queryid keeps pages stable.
 */
export function workloadSql(caps: Capabilities): string {
  return /* SQL */ `
    SELECT
      ${perQueryIdTotals(caps)},
      sum(rows)::int8 AS rows
    ${thisDatabaseEntries(caps, { topLevelOnly: true })}
    GROUP BY queryid
    ORDER BY
      total_time_ms DESC,
      query_id
    LIMIT $1
    OFFSET $2`;
}

/**
 * The heaviest statements that could use an index, at most `limit`. Rows are read a page at a time
 * until enough are kept (pgscope's own and utility statements are skipped after parsing, since
 * only the parser tells them apart reliably), and at most ten pages, so a workload made of
 * nothing but utility statements does not read the whole view.
 */
export async function loadWorkload(db: Queryable, caps: Capabilities, options: WorkloadOptions = {}): Promise<ParsedWorkloadStatement[]> {
  const limit = options.limit ?? DEFAULT_WORKLOAD_LIMIT;
  const sql = workloadSql(caps);
  const kept: ParsedWorkloadStatement[] = [];
  for (let page = 0; page < 10 && kept.length < limit; page += 1) {
    let rows: EntryRow[];
    try {
      rows = await db.query<EntryRow>(sql, [limit, page * limit]);
    } catch (error) {
      throw staleExtensionError(error, caps);
    }
    for (const row of rows) {
      const parsed = await parseWorkloadStatement(toStatement(row));
      if (parsed && kept.length < limit) kept.push(parsed);
    }
    if (rows.length < limit) break;
  }
  return kept;
}

function toStatement(row: EntryRow): WorkloadStatement {
  return {
    queryId: row.query_id,
    query: row.query,
    calls: Number(row.calls),
    totalTimeMs: row.total_time_ms,
    meanTimeMs: row.mean_time_ms ?? 0,
    rows: Number(row.rows),
  };
}

/** Statement kinds that read rows through a WHERE clause, a join or an ORDER BY. */
const DATA_STATEMENTS = new Set(['SelectStmt', 'UpdateStmt', 'DeleteStmt', 'InsertStmt', 'MergeStmt']);

/**
 * The statement with its parse tree, or null when it cannot use an index on a user table: not
 * parsable (a text truncated by track_activity_query_size, "<insufficient privilege>"), not a
 * data statement, naming no relation at all (SELECT 1, SELECT pg_sleep($1)), an INSERT that reads
 * no table, or reading a system relation or pgscope's schema.
 */
export async function parseWorkloadStatement(statement: WorkloadStatement): Promise<ParsedWorkloadStatement | null> {
  if (isForeignKeyCheck(statement.query)) return null;
  let parsed: ParsedStatement[];
  try {
    parsed = await parseStatements(statement.query);
  } catch {
    return null;
  }
  if (parsed.length !== 1) return null;
  const [{ node, kind }] = parsed as [(typeof parsed)[0]];
  if (!DATA_STATEMENTS.has(kind)) return null;
  const relations = rangeVarsOf(node);
  if (relations.length === 0 || relations.some(isSystemRelation)) return null;
  // INSERT ... VALUES writes without reading: only INSERT ... SELECT from a table can use an index
  const insert = (node as { InsertStmt?: { selectStmt?: unknown } }).InsertStmt;
  if (insert && rangeVarsOf(insert.selectStmt).length === 0) return null;
  return { ...statement, node, kind };
}

/**
 * The queries PostgreSQL's foreign-key triggers run (ri_triggers.c): every name qualified, ONLY,
 * operators spelled OPERATOR(pg_catalog.=). From PostgreSQL 14 pg_stat_statements marks them
 * nested (toplevel false) and the workload leaves them out; on 13 only their text tells them apart.
 */
function isForeignKeyCheck(text: string): boolean {
  return /\bFROM\s+ONLY\s/i.test(text) && /\bOPERATOR\s*\(\s*pg_catalog\./i.test(text);
}

/**
 * PostgreSQL reserves the pg_ prefix for its schemas, and its catalogs and statistics views are
 * named pg_* (pg_stat_statements too): an unqualified pg_* name is one of them in practice.
 * pgscope names the extension's views with their schema (a user schema, often public): its own
 * reads of them (pg_stat_statements_info alone, for one) are not the user's workload.
 */
function isSystemRelation(relation: { schema: string | null; name: string }): boolean {
  const schema = relation.schema;
  if (relation.name === 'pg_stat_statements' || relation.name === 'pg_stat_statements_info') return true;
  if (schema !== null) return !listedByDefault(schema);
  return relation.name.startsWith('pg_');
}
