// DDL on a live database must never queue behind a long lock holder: while a DDL statement waits
// for its lock, every later query on that table waits behind it. So each statement runs with a
// short lock_timeout, and a statement that times out (55P03) is retried a bounded number of times
// with a growing pause, then given up with LOCK_TIMEOUT.
// Not p-retry or async-retry: the loop retries one SQLSTATE only, must undo what a timed-out
// attempt left (beforeRetry) and record each retry in the change log before pausing (onEvent,
// awaited); with those hooks a library's backoff is the few lines left.
import type { Queryable } from '../db/pool.js';
import { ErrorCode, PgscopeError } from '../errors.js';
import { SqlState, sqlStateOf } from '../db/sqlState.js';

export interface LockRetryOptions {
  /** lock_timeout of each attempt, milliseconds. */
  lockTimeoutMs: number;
  /** Attempts after the first one that timed out waiting for a lock. */
  retries: number;
  /** Pause before the first retry, milliseconds; doubled on each further retry. Default 500. */
  retryDelayMs?: number;
}

/** An event of a DDL execution, for progress reports and logs. */
export type DdlEvent =
  | { kind: 'start'; sql: string; purpose: string }
  | { kind: 'done'; sql: string; purpose: string; durationMs: number }
  | { kind: 'retry'; sql: string; purpose: string; attempt: number; delayMs: number }
  | { kind: 'cleanup'; sql: string; purpose: string };

/** Receives DdlEvents; a returned promise is awaited before the execution goes on (a change-log write). */
export type DdlEventHandler = (event: DdlEvent) => void | Promise<void>;

const DEFAULT_RETRY_DELAY_MS = 500;

/** What partition maintenance uses unless told otherwise: 2 s per attempt, 5 attempts, 200 ms first pause. */
export const DEFAULT_LOCK_RETRY: LockRetryOptions = { lockTimeoutMs: 2_000, retries: 4, retryDelayMs: 200 };
/** A pause never grows past this: retries are for a lock released soon, not for waiting out a batch job. */
const MAX_RETRY_DELAY_MS = 10_000;

/** True for the error of a statement that waited past lock_timeout (55P03, lock_not_available). */
export function isLockTimeout(error: unknown): boolean {
  return sqlStateOf(error) === SqlState.LOCK_NOT_AVAILABLE;
}

/** True for a statement cancelled by pg_cancel_backend (statement_timeout is off on DDL sessions). */
export function isCancelled(error: unknown): boolean {
  return sqlStateOf(error) === SqlState.QUERY_CANCELED;
}

/** Sets the session's lock_timeout (a whole number of milliseconds, never client text). */
export async function setLockTimeout(session: Queryable, ms: number, local = false): Promise<void> {
  await session.query(/* SQL */ `SELECT set_config('lock_timeout', $1, $2)`, [`${Math.max(1, Math.round(ms))}ms`, local]);
}

/**
 * Puts a DDL session in the state its statements need: no statement_timeout (a build may take an
 * hour), and `lockTimeoutMs` for every lock wait. Returns the session's backend pid.
 */
export async function prepareDdlSession(session: Queryable, lockTimeoutMs: number): Promise<number> {
  const [row] = await session.query<{ pid: number }>(
    /* SQL */ `
    SELECT
      set_config('statement_timeout', '0', false),
      set_config('lock_timeout', $1, false),
      pg_backend_pid() AS pid`,
    [String(Math.max(1, Math.round(lockTimeoutMs)))],
  );
  return row!.pid;
}

/**
 * Runs `attempt` until it succeeds, fails otherwise than on a lock timeout, or has timed out
 * 1 + retries times (then LOCK_TIMEOUT). `beforeRetry` undoes what a timed-out attempt left.
 */
export async function withLockRetries<T>(
  step: { sql: string; purpose: string },
  options: LockRetryOptions & { onEvent?: DdlEventHandler },
  attempt: () => Promise<T>,
  beforeRetry: () => Promise<void> = async () => undefined,
): Promise<T> {
  for (let tries = 0; ; tries += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (!isLockTimeout(error)) throw error;
      await beforeRetry();
      if (tries >= options.retries) throw lockTimeoutError(step.purpose, options, tries + 1);
      const delayMs = Math.min(MAX_RETRY_DELAY_MS, (options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS) * 2 ** tries);
      await options.onEvent?.({ kind: 'retry', sql: step.sql, purpose: step.purpose, attempt: tries + 1, delayMs });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

function lockTimeoutError(purpose: string, options: LockRetryOptions, attempts: number): PgscopeError {
  return new PgscopeError(
    ErrorCode.LOCK_TIMEOUT,
    `Could not ${purpose}: another session held a conflicting lock on the table for more than ${options.lockTimeoutMs} ms, ` +
      `${attempts} time${attempts === 1 ? '' : 's'} in a row. Nothing was left half-done; retry when the table is quieter ` +
      '(see blockedQueries and longRunningQueries for who holds it).',
    { attempts, lockTimeoutMs: options.lockTimeoutMs },
  );
}
