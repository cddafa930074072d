// A failed or interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index behind: unused by
// queries, yet maintained on every write. pgscope drops the ones it left, and never one that
// another session is still building (an index is INVALID for the whole of its concurrent build).
import type { Queryable } from '../../db/pool.js';
import { isLockTimeout, prepareDdlSession, type DdlEventHandler } from '../lockRetry.js';
import { quoteIdent } from '../../sql/quote.js';

/** Recovery runs at start, beside the application's traffic: it waits briefly, and tries again next start. */
const DEFAULT_RECOVERY_LOCK_TIMEOUT_MS = 5_000;

/** An index as the catalog knows it now. */
export interface IndexState {
  oid: number;
  /** OID of the indexed table (or partitioned table). */
  table_oid: number;
  valid: boolean;
  /** A partitioned index (relkind 'I'), on a partitioned table. */
  partitioned: boolean;
}

/** The index `schema`.`name`, or null when there is none. */
export async function lookupIndex(db: Queryable, schema: string, name: string): Promise<IndexState | null> {
  const [row] = await db.query<IndexState>(
    /* SQL */ `
    SELECT
      c.oid AS oid,
      i.indrelid AS table_oid,
      i.indisvalid AS valid,
      c.relkind = 'I' AS partitioned
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_index i ON i.indexrelid = c.oid
    WHERE n.nspname = $1
      AND c.relname = $2`,
    [schema, name],
  );
  return row ?? null;
}

/**
 * True when a session other than `ownPid` is building this index (REINDEX included), or builds
 * on its table an index pg_stat_progress_create_index does not name yet (index_relid 0: a
 * concurrent build before its catalog entry exists, or a plain CREATE INDEX): in doubt, wait.
 */
export async function buildingElsewhere(db: Queryable, index: IndexState, ownPid: number | null): Promise<boolean> {
  const [row] = await db.query<{ busy: boolean }>(
    /* SQL */ `
    SELECT EXISTS (
      SELECT 1
      FROM pg_stat_progress_create_index p
      WHERE p.pid IS DISTINCT FROM $3::int4
        AND (p.index_relid = $1::oid OR (p.relid = $2::oid AND p.index_relid = 0))
    ) AS busy`,
    [index.oid, index.table_oid, ownPid],
  );
  return row!.busy;
}

/** DROP INDEX for `schema`.`name`: CONCURRENTLY unless it is a partitioned index (PostgreSQL refuses that). */
export function dropIndexSql(schema: string, name: string, partitioned: boolean): string {
  return `DROP INDEX ${partitioned ? '' : 'CONCURRENTLY '}IF EXISTS ${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * Drops `schema`.`name` if it exists, and (unless `evenIfValid`) only if it is INVALID, and only
 * if no other session is building on its table. Returns the statement it ran, or null.
 */
export async function dropLeftoverIndex(
  session: Queryable,
  target: { schema: string; name: string; ownPid: number | null; evenIfValid?: boolean },
  onEvent?: DdlEventHandler,
): Promise<string | null> {
  const index = await lookupIndex(session, target.schema, target.name);
  if (!index || (index.valid && !target.evenIfValid)) return null;
  if (await buildingElsewhere(session, index, target.ownPid)) return null;
  const sql = dropIndexSql(target.schema, target.name, index.partitioned);
  await onEvent?.({ kind: 'cleanup', sql, purpose: `drop the index ${target.schema}.${target.name} the failed build left` });
  await session.query(sql);
  return sql;
}

/** What dropInterruptedBuilds did with each candidate. */
export interface InterruptedBuild {
  schema: string;
  name: string;
  /** LOCKED: the table stayed locked past lock_timeout; the index is left for the next start. */
  outcome: 'DROPPED' | 'ABSENT' | 'VALID' | 'BUILDING_ELSEWHERE' | 'LOCKED';
  sql: string | null;
}

/**
 * At start: the change log names the indexes pgscope was building when it stopped. Each that is
 * still INVALID (or, with evenIfValid, left over from an unfinished build) and that nobody builds
 * now is dropped; a valid one (the build finished after all) and one another session builds are left alone. `session` is a dedicated connection outside any
 * transaction (DROP INDEX CONCURRENTLY); its statement_timeout is turned off, lock_timeout set.
 */
export async function dropInterruptedBuilds(
  session: Queryable,
  candidates: ReadonlyArray<{ schema: string; name: string; evenIfValid?: boolean }>,
  options: { lockTimeoutMs: number } = { lockTimeoutMs: DEFAULT_RECOVERY_LOCK_TIMEOUT_MS },
): Promise<InterruptedBuild[]> {
  const pid = await prepareDdlSession(session, options.lockTimeoutMs);
  const results: InterruptedBuild[] = [];
  for (const { schema, name, evenIfValid = false } of candidates) {
    const index = await lookupIndex(session, schema, name);
    if (!index) {
      results.push({ schema, name, outcome: 'ABSENT', sql: null });
    } else if (index.valid && !evenIfValid) {
      results.push({ schema, name, outcome: 'VALID', sql: null });
    } else {
      try {
        const sql = await dropLeftoverIndex(session, { schema, name, ownPid: pid, evenIfValid });
        results.push({ schema, name, outcome: sql ? 'DROPPED' : 'BUILDING_ELSEWHERE', sql });
      } catch (error) {
        if (!isLockTimeout(error)) throw error;
        results.push({ schema, name, outcome: 'LOCKED', sql: null });
      }
    }
  }
  return results;
}
