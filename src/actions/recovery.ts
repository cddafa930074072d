// Start-up recovery: a change that was RUNNING when pgscope stopped (SIGKILL, a crash, a lost
// connection) is marked INTERRUPTED, and what it was creating is dropped when left half-done: an
// INVALID index is never used by queries yet is maintained on every write. A change that ended
// FAILED or INTERRUPTED but could not clean up then (its table stayed locked, pgscope stopped
// first) is finished the same way. What was done is written into the entry, so the change log says
// what happened.
import type { Database } from '../db/pool.js';
import { COLUMNS, markInterruptedChanges, recordRecovery, runningElsewhere, type ChangeLogRow, type CreatedObject } from './changeLog.js';
import { createdStatesSql, describeLeftovers, dropLeftovers, LEFTOVER_STATES, type Leftover } from './leftovers.js';

/**
 * A DDL backend whose pgscope died notices within client_connection_check_interval (1 s, set on
 * DDL sessions from PostgreSQL 14) and cancels its statement; recovery waits that long for it.
 */
const ORPHAN_GRACE_MS = 3_000;
const POLL_MS = 250;

export interface RecoveryReport {
  change: ChangeLogRow;
  /** How the change had ended: RUNNING (pgscope died with it), or FAILED / INTERRUPTED with leftovers. */
  endedAs: ChangeLogRow['status'];
  leftovers: Leftover[];
}

export interface RecoveryOptions {
  lockTimeoutMs: number;
  graceMs?: number;
}

/** Marks the changes that died with an earlier pgscope INTERRUPTED, and drops what they and earlier failed changes left. */
export async function recoverInterruptedChanges(database: Database, options: RecoveryOptions): Promise<RecoveryReport[]> {
  const interrupted = await markAfterGrace(database, options.graceMs ?? ORPHAN_GRACE_MS);
  const reports: RecoveryReport[] = [];
  for (const change of interrupted) {
    // as after a crash: a partition's index is not kept for a parent that never became valid
    const leftovers = change.creates.length ? await cleanUp(database, change, change.creates, { ...options, validLeaves: true }) : [];
    reports.push({ change, endedAs: 'RUNNING', leftovers });
  }
  for (const { leftovers: objects, ...change } of await changesWithLeftovers(
    database,
    interrupted.map((change) => change.id),
  )) {
    // a change that ended and recorded so may have finished some indexes: only INVALID ones go
    const leftovers = await cleanUp(database, change, objects, { ...options, validLeaves: false });
    reports.push({ change, endedAs: change.status, leftovers });
  }
  return reports;
}

/** Marks what is interrupted now, then again while sessions of dead clients wind down (up to `graceMs`). */
async function markAfterGrace(database: Database, graceMs: number): Promise<ChangeLogRow[]> {
  const marked = await markInterruptedChanges(database);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (await runningElsewhere(database)) > 0) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    marked.push(...(await markInterruptedChanges(database)));
  }
  return marked;
}

async function cleanUp(
  database: Database,
  change: ChangeLogRow,
  created: CreatedObject[],
  options: { lockTimeoutMs: number; validLeaves: boolean },
): Promise<Leftover[]> {
  const session = await database.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs: options.lockTimeoutMs });
  let leftovers: Leftover[];
  try {
    leftovers = await dropLeftovers(session, created, options);
  } finally {
    await session.close();
  }
  await recordRecovery(
    database,
    change.id,
    `At the next start pgscope checked what the change had created: ${describeLeftovers(leftovers)}.`,
    {
      recovery: leftovers,
    },
  );
  return leftovers;
}

/**
 * FAILED or INTERRUPTED changes (not `exceptIds`) with objects still left half-done
 * (LEFTOVER_STATES). An object a later change also creates is that
 * change's now; a change refused with ALREADY_EXISTS created nothing under the name it was refused.
 */
async function changesWithLeftovers(
  database: Database,
  exceptIds: string[],
): Promise<Array<ChangeLogRow & { leftovers: CreatedObject[] }>> {
  return database.query<ChangeLogRow & { leftovers: CreatedObject[] }>(
    /* SQL */ `
    SELECT
      ${COLUMNS},
      left_behind.objects AS leftovers
    FROM pgscope.change_log
    CROSS JOIN LATERAL (
      SELECT
        jsonb_agg(created.object ORDER BY created.position) AS objects
      FROM jsonb_array_elements(change_log.creates) WITH ORDINALITY AS created(object, position)
      JOIN (${createdStatesSql('change_log.creates')}) AS now
        ON now.kind = created.object->>'kind'
        AND now.schema = created.object->>'schema'
        AND now.name = created.object->>'name'
      WHERE now.state = ANY ($2::text[])
        AND NOT EXISTS (
          SELECT 1
          FROM pgscope.change_log later
          CROSS JOIN LATERAL jsonb_array_elements(later.creates) AS claimed(object)
          WHERE later.id > change_log.id
            AND later.dry_run = false
            AND later.error_code IS DISTINCT FROM 'ALREADY_EXISTS'
            AND claimed.object->>'schema' = created.object->>'schema'
            AND claimed.object->>'name' = created.object->>'name'
        )
    ) AS left_behind
    WHERE change_log.status IN ('FAILED', 'INTERRUPTED')
      AND change_log.dry_run = false
      AND change_log.creates <> '[]'::jsonb
      AND change_log.error_code IS DISTINCT FROM 'ALREADY_EXISTS'
      AND change_log.id <> ALL ($1::bigint[])
      AND left_behind.objects IS NOT NULL
    ORDER BY change_log.id`,
    [exceptIds, LEFTOVER_STATES],
  );
}
