// The workload's writes, from the same pg_stat_statements entries its reads come from, so that
// an index's write overhead and its benefit count the same window. Table counters
// (pg_stat_user_tables) count since the table statistics were last reset, which on a restored or
// freshly loaded database is the whole bulk load; pg_stat_statements may have been reset minutes
// ago. Each INSERT, UPDATE, DELETE, MERGE and COPY FROM statement is parsed (the real PostgreSQL
// parser) for its target table, resolved as the reads' relations are (a partition to its root).
import type { Node } from 'libpg-query';
import type { Capabilities } from '../../db/capabilities.js';
import type { Queryable } from '../../db/pool.js';
import { staleExtensionError, thisDatabaseEntries } from '../../db/queryStats.js';
import { infoSql } from '../../db/history/snapshots.js';
import { parseStatements } from '../../sql/parse.js';
import type { QualifiedName } from '../../sql/references.js';
import { tableKey } from '../select.js';
import { relationKey, resolveRelations } from './relations.js';
import type { WorkloadWindow } from '../types.js';

/** Rows a table's write statements wrote over pg_stat_statements' window, by what they did. */
export interface TableWrites {
  inserted: number;
  /** Updated rows, HOT or not (pg_stat_statements cannot tell). */
  updated: number;
  deleted: number;
}

type WriteKind = keyof TableWrites;

/** One write statement's target, as written, and what it does to the target's rows. */
export interface WriteTarget {
  relation: QualifiedName;
  kind: WriteKind;
}

interface WriteEntryRow {
  query: string;
  calls: bigint;
  rows: bigint;
}

/**
 * A write statement run at most this many times, each writing at least ONE_OFF_MIN_ROWS_PER_CALL
 * rows, is a one-off: the load of a restored or freshly loaded database, a backfill, a migration.
 * Charged to an index, it would outweigh weeks of reads, yet the index will never pay for it again
 * (and a DBA builds indexes after a load). It is left out of write overhead, and the report says so.
 * A nightly batch of that size is left out too until it has run three times in the window.
 */
const ONE_OFF_MAX_CALLS = 2;
const ONE_OFF_MIN_ROWS_PER_CALL = 10_000;

/** The write statements left out of write overhead as one-offs. */
export interface OneOffWrites {
  statements: number;
  rows: number;
}

export interface StatementWrites {
  /** Rows written per table (`schema.table`), one-offs aside. */
  byTable: Map<string, TableWrites>;
  oneOff: OneOffWrites;
}

/**
 * Rows written per queryid, nested statements included (with pg_stat_statements.track = all, a
 * function's INSERT is a write the calling SELECT does not show). The regular expression only
 * spares parsing the reads: the parser decides.
 */
export function writeEntriesSql(caps: Capabilities): string {
  return /* SQL */ `
    SELECT
      (array_agg(query ORDER BY calls DESC, userid))[1] AS query,
      sum(calls)::int8 AS calls,
      sum(rows)::int8 AS rows
    ${thisDatabaseEntries(caps, { topLevelOnly: false })}
        AND query ~* '\\m(insert|update|delete|merge|copy)\\M'
    GROUP BY queryid
    ORDER BY
      queryid`;
}

/**
 * The table a statement writes and how, or null for anything else. INSERT ... ON CONFLICT DO
 * UPDATE counts its rows as inserted (pg_stat_statements does not split them), and so does a
 * MERGE whose actions differ: an inserted row maintains every index, the costlier guess. Rows
 * written by a data-modifying WITH inside another statement are not counted (the statement's rows
 * are its own target's or its output's).
 */
export function writeTarget(node: Node): WriteTarget | null {
  const tree = node as Record<string, { relation?: { schemaname?: string; relname?: string } } | undefined>;
  const [kind, statement] = Object.entries(tree)[0] ?? [];
  const relname = statement?.relation?.relname;
  if (!kind || !relname) return null;
  const relation = { schema: statement.relation!.schemaname ?? null, name: relname };
  if (kind === 'InsertStmt') return { relation, kind: 'inserted' };
  if (kind === 'UpdateStmt') return { relation, kind: 'updated' };
  if (kind === 'DeleteStmt') return { relation, kind: 'deleted' };
  if (kind === 'CopyStmt') return (statement as { is_from?: boolean }).is_from ? { relation, kind: 'inserted' } : null;
  if (kind === 'MergeStmt') return { relation, kind: mergeKind(statement as { mergeWhenClauses?: unknown[] }) };
  return null;
}

function mergeKind(merge: { mergeWhenClauses?: unknown[] }): WriteKind {
  const commands = new Set(
    (merge.mergeWhenClauses ?? []).map((clause) => (clause as { MergeWhenClause?: { commandType?: string } }).MergeWhenClause?.commandType),
  );
  commands.delete('CMD_NOTHING');
  if (commands.size === 1 && commands.has('CMD_UPDATE')) return 'updated';
  if (commands.size === 1 && commands.has('CMD_DELETE')) return 'deleted';
  return 'inserted';
}

/**
 * Rows written per table (`schema.table`, a partition counted in its root's) by the current
 * database's statements in pg_stat_statements, one-offs aside. A table no write statement names is
 * absent: over this window nothing was written to it.
 */
export async function loadStatementWrites(db: Queryable, caps: Capabilities): Promise<StatementWrites> {
  let rows: WriteEntryRow[];
  try {
    rows = await db.query<WriteEntryRow>(writeEntriesSql(caps));
  } catch (error) {
    throw staleExtensionError(error, caps);
  }
  const writes: Array<WriteTarget & { rows: number }> = [];
  const oneOff: OneOffWrites = { statements: 0, rows: 0 };
  for (const row of rows) {
    const target = await parsedTarget(row.query);
    if (!target || row.rows <= 0n) continue;
    const [calls, written] = [Number(row.calls), Number(row.rows)];
    if (calls <= ONE_OFF_MAX_CALLS && written >= calls * ONE_OFF_MIN_ROWS_PER_CALL) {
      oneOff.statements += 1;
      oneOff.rows += written;
      continue;
    }
    writes.push({ ...target, rows: written });
  }
  const catalog = await resolveRelations(
    db,
    writes.map((write) => ({ relation: { schemaname: write.relation.schema ?? undefined, relname: write.relation.name } })),
    1,
  );
  const totals = new Map<string, TableWrites>();
  for (const write of writes) {
    const resolved = catalog.get(relationKey(write.relation));
    // a view's writes reach its base table through rules or triggers the advisor does not follow
    if (!resolved || (resolved.relkind !== 'r' && resolved.relkind !== 'p')) continue;
    const key = tableKey({ schema: resolved.indexSchema, table: resolved.indexTable });
    const total = totals.get(key) ?? { inserted: 0, updated: 0, deleted: 0 };
    total[write.kind] += write.rows;
    totals.set(key, total);
  }
  return { byTable: totals, oneOff };
}

/** A text that is not one parsable statement (truncated by track_activity_query_size) writes nothing the advisor can place. */
async function parsedTarget(query: string): Promise<WriteTarget | null> {
  try {
    const parsed = await parseStatements(query);
    return parsed.length === 1 ? writeTarget(parsed[0]!.node) : null;
  } catch {
    return null;
  }
}

/**
 * The window reads and writes share. pg_stat_statements_info.stats_reset moves only when the view
 * is reset as a whole: entries reset one by one, or evicted and seen again, count from later.
 */
export async function loadWorkloadWindow(db: Queryable, caps: Capabilities, oneOff: OneOffWrites): Promise<WorkloadWindow> {
  const [info] = await db.query<{ stats_reset: Date | null }>(infoSql(caps));
  const since = info?.stats_reset ?? null;
  const shared = 'Reads and writes are both counted from pg_stat_statements, over the same window';
  const window =
    since === null
      ? `${shared}; this version of it (before extension 1.9, PostgreSQL 14) does not say when it was last reset.`
      : `${shared}: since it was last reset as a whole, at ${since.toISOString()} (statements reset one by one or evicted since count from later).`;
  return { source: 'PG_STAT_STATEMENTS', since, sentence: oneOff.statements === 0 ? window : `${window} ${oneOffSentence(oneOff)}` };
}

function oneOffSentence({ statements, rows }: OneOffWrites): string {
  const count = (n: number) => n.toLocaleString('en-US');
  const them = statements === 1 ? '1 write statement that' : `${count(statements)} write statements that each`;
  return (
    `Not charged to any index: ${them} wrote ${count(ONE_OFF_MIN_ROWS_PER_CALL)} rows or more a call in at most ` +
    `${ONE_OFF_MAX_CALLS} calls (${count(rows)} rows in all): a load, backfill or migration, not the workload's steady writes.`
  );
}
