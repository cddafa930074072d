// A change's database session was lost (the server restarted or stopped, the backend was
// terminated, the network failed). Once the database answers again, the session's backend is ended
// if it still runs (after a network failure the server may not know its client is gone, and the
// build would go on unowned), then what the change created is dropped through the same path as
// start-up recovery (leftovers.ts). Both wait for the database for as long as pgscope runs.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database, Queryable, Session } from '../db/pool.js';
import { ErrorCode, isPgscopeError } from '../errors.js';
import type { CreatedObject } from './changeLog.js';
import { dropLeftovers, type Leftover } from './leftovers.js';

/** Pause between attempts while the database does not answer. */
const RETRY_MS = 1_000;
/** A terminated backend exits at its next interrupt check; past this, cleanup goes on and leaves what it still builds. */
const ORPHAN_EXIT_MS = 3_000;
const POLL_MS = 100;

export type Attempted<T> = { done: true; value: T } | { done: false };

/** True for the errors of a database that does not answer (down, restarting, no route, no free connection). */
export function isUnreachable(error: unknown): boolean {
  return isPgscopeError(error, ErrorCode.DATABASE_UNAVAILABLE) || isPgscopeError(error, ErrorCode.POOL_EXHAUSTED);
}

/**
 * Runs `attempt` until it succeeds. While the database is unreachable it tries again every second
 * (`onUnreachable` hears the first failure), until `signal` aborts; other errors are thrown.
 */
export async function untilReachable<T>(
  attempt: () => Promise<T>,
  signal: AbortSignal,
  onUnreachable?: (error: unknown) => void,
): Promise<Attempted<T>> {
  for (let tries = 0; !signal.aborted; tries += 1) {
    try {
      return { done: true, value: await attempt() };
    } catch (error) {
      // given up meanwhile: whatever failed (the pool may be ended), this is no longer tried
      if (signal.aborted) break;
      if (!isUnreachable(error)) throw error;
      if (tries === 0) onUnreachable?.(error);
      await sleep(RETRY_MS, undefined, { signal }).catch(() => undefined);
    }
  }
  return { done: false };
}

/** The DDL backend a change ran on: its pid, and its start (a pid is reused; the pair is not). */
export interface DdlBackend {
  pid: number;
  /** pg_stat_activity.backend_start in microseconds since the epoch, as text; null when never read. */
  startUs: string | null;
}

export interface LostCleanupOptions {
  lockTimeoutMs: number;
  /** Aborted when pgscope stops: no more waiting, what is left stays for the next start. */
  signal: AbortSignal;
  /** Hears the session cleanup runs on (shutdown cuts it off). */
  onSession?: (session: Session) => void;
}

/** Ends the lost backend if it still runs, then drops what `created` left; undefined when `signal` aborted first. */
export async function cleanUpAfterLoss(
  database: Database,
  backend: DdlBackend,
  created: readonly CreatedObject[],
  options: LostCleanupOptions,
): Promise<Leftover[] | undefined> {
  try {
    const attempted = await untilReachable(async () => {
      await endOrphan(database, backend);
      const session = await database.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs: options.lockTimeoutMs });
      options.onSession?.(session);
      try {
        // as after a crash: the build did not finish, so a partition's index is not kept for a parent that never became valid
        return await dropLeftovers(session, created, { lockTimeoutMs: options.lockTimeoutMs, validLeaves: true });
      } finally {
        await session.close();
      }
    }, options.signal);
    return attempted.done ? attempted.value : undefined;
  } catch (error) {
    // cut off by shutdown mid-way: the next start finishes it
    if (options.signal.aborted) return undefined;
    throw error;
  }
}

/** The backend, while it runs; `action` is what to select from it. */
const backendSql = (action: string) => /* SQL */ `
  SELECT
    ${action}
  FROM pg_stat_activity a
  WHERE a.pid = $1
    AND a.application_name = 'pgscope-ddl'
    AND (extract(epoch FROM a.backend_start) * 1000000)::int8 = $2::int8`;
const TERMINATE_SQL = backendSql('pg_terminate_backend(a.pid) AS terminated');
const RUNNING_SQL = backendSql('a.pid');

/** Terminates pgscope's own lost backend if it still runs, and waits (briefly) for it to exit. */
async function endOrphan(db: Queryable, backend: DdlBackend): Promise<void> {
  if (backend.startUs === null) return;
  const params = [backend.pid, backend.startUs];
  if ((await db.query(TERMINATE_SQL, params)).length === 0) return;
  const deadline = Date.now() + ORPHAN_EXIT_MS;
  while (Date.now() < deadline && (await db.query(RUNNING_SQL, params)).length > 0) await sleep(POLL_MS);
}
