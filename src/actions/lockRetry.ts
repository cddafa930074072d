// DDL waits for locks behind the application's transactions. With a short lock_timeout it gives up
// instead of queueing (a queued ACCESS EXCLUSIVE request blocks every later reader), and is tried
// again a bounded number of times with growing pauses; then LOCK_TIMEOUT, with nothing changed.
import { ErrorCode, PgscopeError } from '../errors.js';
import type { Queryable } from '../db/pool.js';

export interface LockRetryPolicy {
  /** lock_timeout of each attempt, milliseconds. */
  lockTimeoutMs: number;
  /** Attempts in all (the first included). */
  attempts: number;
  /** Pause before the second attempt, milliseconds; doubled for each next one. */
  backoffMs: number;
}

export const DEFAULT_LOCK_RETRY: LockRetryPolicy = { lockTimeoutMs: 2_000, attempts: 5, backoffMs: 200 };

/** The SQLSTATE of a server error, whether pool.ts translated it (PgscopeError.sqlState) or not. */
export function sqlStateOf(error: unknown): string | undefined {
  if (error instanceof PgscopeError) return error.sqlState;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** 55P03: lock_not_available (lock_timeout, NOWAIT). */
export const isLockTimeout = (error: unknown) => sqlStateOf(error) === '55P03';

/** Sets the session's lock_timeout (a whole number of milliseconds, never client text). */
export async function setLockTimeout(session: Queryable, ms: number, local = false): Promise<void> {
  await session.query(/* SQL */ `SELECT set_config('lock_timeout', $1, $2)`, [`${Math.round(ms)}ms`, local]);
}

/** Runs `attempt` until it succeeds, fails otherwise than by lock timeout, or the attempts run out. */
export async function withLockRetries<T>(what: string, policy: LockRetryPolicy, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isLockTimeout(error)) throw error;
      if (n >= policy.attempts) {
        throw new PgscopeError(
          ErrorCode.LOCK_TIMEOUT,
          `${what}: other sessions held conflicting locks through ${policy.attempts} attempts of ${policy.lockTimeoutMs} ms each; nothing was changed. ` +
            'Retry later, or look for long transactions in activity.',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, policy.backoffMs * 2 ** (n - 1)));
    }
  }
}
