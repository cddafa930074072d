// What a repeated request gets when its idempotency key names an earlier change (README,
// "Idempotency keys"): that change, once it ended (as Stripe does), or IDEMPOTENCY_KEY_REUSED when
// the key came with other arguments. Keys are claimed in changeLog.ts (insertKeyedEntry).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Queryable } from '../db/pool.js';
import { ErrorCode, PgscopeError } from '../errors.js';
import { IDEMPOTENCY_KEY_HOURS, isSameRequest, readEntry, type ChangeContext, type ChangeLogRow, type ChangeRequest } from './changeLog.js';

/** How often a repeated request reads the earlier change while it runs (it may run at another replica). */
const POLL_MS = 200;

export async function replayChange(ctx: ChangeContext, request: ChangeRequest, earlier: ChangeLogRow): Promise<ChangeLogRow> {
  if (!(await isSameRequest(ctx.database, earlier, request))) throw keyReused(request, earlier);
  let entry = earlier;
  let orphanedPolls = 0;
  // A change whose DDL session is gone on two polls in a row died with its pgscope (a session closes
  // a moment before its entry is written): it stays RUNNING until a start marks it INTERRUPTED, so
  // it is returned as it stands rather than waited for.
  while (entry.status === 'RUNNING' && request.wait !== false && orphanedPolls < 2) {
    await sleep(POLL_MS);
    entry = (await readEntry(ctx.database, entry.id)) ?? entry;
    orphanedPolls = entry.status === 'RUNNING' && !(await sessionAlive(ctx.database, entry)) ? orphanedPolls + 1 : 0;
  }
  if (entry.status === 'FAILED' || entry.status === 'INTERRUPTED') throw recordedError(entry);
  return entry;
}

async function sessionAlive(db: Queryable, entry: ChangeLogRow): Promise<boolean> {
  if (entry.session_pid === null) return true; // not opened yet
  const [row] = await db.query<{ alive: boolean }>(
    /* SQL */ `
    SELECT
      EXISTS (
        SELECT 1
        FROM pg_stat_activity a
        WHERE a.pid = $1
          AND a.application_name = 'pgscope-ddl'
      ) AS alive`,
    [entry.session_pid],
  );
  return row?.alive === true;
}

function keyReused(request: ChangeRequest, earlier: ChangeLogRow): PgscopeError {
  return new PgscopeError(
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    `The idempotency key "${request.idempotencyKey}" was used within the last ${IDEMPOTENCY_KEY_HOURS} hours for change ` +
      `${earlier.id} (${earlier.action}) with other arguments; nothing was done. Use a new key for a new request.`,
    { changeId: earlier.id },
  );
}

/** The error the earlier change ended with, as recorded: a repeated request hears what the first one heard. */
function recordedError(entry: ChangeLogRow): PgscopeError {
  // Recorded codes are pgscope's own or INTERNAL_SERVER_ERROR (changeRun.ts, failure()).
  const code = (entry.error_code ?? 'INTERNAL_SERVER_ERROR') as ErrorCode;
  return new PgscopeError(code, entry.error_message ?? `Change ${entry.id} ended ${entry.status}.`, { changeId: entry.id });
}
