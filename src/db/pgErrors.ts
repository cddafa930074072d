// PostgreSQL's and the driver's errors, turned into the typed errors a client can act on. The one
// place where SQLSTATEs are read; callers that know more (explain) reword what this returns.
import type { PoolConfig } from '../config.js';
import { ErrorCode, PgscopeError, isPgscopeError } from '../errors.js';

/**
 * How long past statement_timeout the client waits for an answer. The server cancels a statement
 * at statement_timeout and answers at once; silence beyond that means the server or the network
 * hangs (a stopped process, a dropped route), and only a client-side deadline notices.
 */
export const CLIENT_DEADLINE_MARGIN_MS = 2_000;
/** node-postgres' message when query_timeout (the client-side deadline) passes. */
export const CLIENT_DEADLINE_MESSAGE = 'Query read timeout';
/** node-postgres' message when connectionTimeoutMillis passes with every connection busy. */
export const POOL_TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect';

/** Turns driver and server errors a client should understand into typed errors (others pass through). */
export function translatePgError(error: unknown, pool: PoolConfig): unknown {
  if (!(error instanceof Error)) return error;
  if (error.message === POOL_TIMEOUT_MESSAGE) {
    return new PgscopeError(
      ErrorCode.POOL_EXHAUSTED,
      `All ${pool.max} database connections stayed busy for ${pool.connectionTimeoutMs} ms. ` +
        'Retry shortly, or raise PGSCOPE_POOL_MAX if this keeps happening.',
    );
  }
  if (error.message === CLIENT_DEADLINE_MESSAGE) {
    return new PgscopeError(
      ErrorCode.DATABASE_UNAVAILABLE,
      `The database did not answer within ${CLIENT_DEADLINE_MARGIN_MS / 1000} s past the statement timeout: it hangs, or the network to it does. ` +
        'pgscope dropped that connection; retry later.',
    );
  }
  const code = (error as { code?: unknown }).code;
  const origin = { sqlState: typeof code === 'string' ? code : undefined, serverMessage: error.message };
  if (code === '57014' && /statement timeout/.test(error.message)) {
    return new PgscopeError(
      ErrorCode.QUERY_TIMEOUT,
      `The statement was cancelled after ${pool.statementTimeoutMs} ms (PGSCOPE_STATEMENT_TIMEOUT_MS).`,
      {},
      origin,
    );
  }
  if (code === '57014') {
    return new PgscopeError(
      ErrorCode.QUERY_TIMEOUT,
      'The statement was cancelled by another session (pg_cancel_backend) or by the server.',
      {},
      origin,
    );
  }
  if (code === '55P03') {
    return new PgscopeError(
      ErrorCode.QUERY_TIMEOUT,
      `The statement waited more than ${pool.lockTimeoutMs} ms for a lock held by another session (PGSCOPE_LOCK_TIMEOUT_MS).`,
      {},
      origin,
    );
  }
  if (code === '54001') {
    return new PgscopeError(
      ErrorCode.BAD_USER_INPUT,
      'The statement is too complex: PostgreSQL ran out of stack depth on it (max_stack_depth). Simplify it, or split it.',
      {},
      origin,
    );
  }
  if (code === '25001') {
    return new PgscopeError(
      ErrorCode.BAD_USER_INPUT,
      'The statement cannot run inside the transaction pgscope runs it in (SQLSTATE 25001).',
      {},
      origin,
    );
  }
  if (code === '55000' && /pg_stat_statements/.test(error.message)) {
    return new PgscopeError(
      ErrorCode.EXTENSION_NOT_LOADED,
      "pg_stat_statements is not loaded: add it to shared_preload_libraries in postgresql.conf (shared_preload_libraries = 'pg_stat_statements') and restart PostgreSQL.",
      {},
      origin,
    );
  }
  if (code === '55000') {
    return new PgscopeError(
      ErrorCode.UNSUPPORTED,
      'The database is not in the state this needs (SQLSTATE 55000: object not in prerequisite state).',
      {},
      origin,
    );
  }
  if (code === '42501') {
    return new PgscopeError(
      ErrorCode.INSUFFICIENT_PRIVILEGE,
      `pgscope's database role is not allowed to do this: ${error.message}. ` +
        'Grant that privilege, or pg_monitor for the statistics views (GRANT pg_monitor TO <role>).',
      {},
      origin,
    );
  }
  if (isConnectionFailure(error, code)) {
    return new PgscopeError(
      ErrorCode.DATABASE_UNAVAILABLE,
      'The database cannot be reached right now. pgscope reconnects by itself when it is back; retry later.',
      {},
      origin,
    );
  }
  return error;
}

/** On a DDL session, a lock wait past its lock_timeout is LOCK_TIMEOUT (callers may retry); undefined for anything else. */
export function translateDdlError(error: unknown, lockTimeoutMs: number): PgscopeError | undefined {
  if (!(error instanceof Error) || (error as { code?: unknown }).code !== '55P03') return undefined;
  return new PgscopeError(
    ErrorCode.LOCK_TIMEOUT,
    `The change waited more than ${lockTimeoutMs} ms for a lock held by another session (PGSCOPE_DDL_LOCK_TIMEOUT_MS); nothing was changed by that statement. ` +
      'Retry when the table is less busy (see blockedQueries and longRunningQueries).',
    {},
    { sqlState: '55P03', serverMessage: error.message },
  );
}

/** True for an error after which the connection is gone: FATAL or PANIC from the server, or a failed socket. */
export function endsConnection(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const severity = (error as { severity?: unknown }).severity;
  return severity === 'FATAL' || severity === 'PANIC' || isConnectionFailure(error, (error as { code?: unknown }).code);
}

/** The SQLSTATE of a server error, whether the pool translated it (PgscopeError.sqlState) or not. */
export function sqlStateOf(error: unknown): string | undefined {
  if (isPgscopeError(error)) return error.sqlState;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * An index definition PostgreSQL's parse analysis refuses (class 42: no function or operator of
 * that name takes those argument types, a predicate that is not boolean...; class 22: a constant
 * that does not convert; 0A: a construct not supported there): BAD_USER_INPUT with the server's
 * reason. Analysis reads no row, so the reason names only what the client wrote, types and
 * functions. Undefined for any other error.
 */
export function translateDefinitionError(error: unknown, what: string): PgscopeError | undefined {
  const state = sqlStateOf(error);
  if (!state || !/^(42|22|0A)/.test(state) || state === '42501' || !(error instanceof Error)) return undefined;
  const message = isPgscopeError(error) ? (error.serverMessage ?? error.message) : error.message;
  const hint = (error as { hint?: unknown }).hint;
  const advice = typeof hint === 'string' && hint !== '' ? ` ${hint}` : '';
  return new PgscopeError(
    ErrorCode.BAD_USER_INPUT,
    `${what} cannot be used as written: ${message} (SQLSTATE ${state}).${advice}`,
    { sqlState: state },
    {
      sqlState: state,
      serverMessage: error.message,
    },
  );
}

// What a row can make an index build fail with: the meaning of the SQLSTATE, never the server's
// message (its text and DETAIL quote the row: 'invalid input syntax for type integer: "abc"').
const ROW_FAILURES: Record<string, string> = {
  '22001': 'a value too long for its type',
  '22003': 'a number out of range',
  '22004': 'a null value where none is allowed',
  '22007': 'a date or time in an invalid format',
  '22008': 'a date or time out of range',
  '22011': 'a substring out of range',
  '22012': 'division by zero',
  '22015': 'an interval out of range',
  '22018': 'a value that cannot be cast',
  '2201B': 'an invalid regular expression',
  '2201E': 'an invalid argument for a logarithm',
  '2201F': 'an invalid argument for a power function',
  '22021': 'a character not valid in the encoding',
  '22023': 'an invalid parameter value',
  '22025': 'an invalid escape sequence',
  '2202E': 'an array subscript out of range',
  '22P02': 'text that is not valid input for its type',
  '22P05': 'a character that has no equivalent in the encoding',
  '22030': 'a duplicate JSON object key',
  '22032': 'invalid JSON text',
  '23502': 'a null value where a NOT NULL domain forbids it',
  '23514': 'a value a CHECK constraint refuses',
};

/**
 * A build that failed on the table's rows (class 22, data exception; class 23, integrity
 * constraint violation: duplicates for a unique index, a domain's CHECK): INDEX_BUILD_FAILED,
 * saying what failed, on which index, what `aftermath` was, and what to do. Undefined for any other error.
 */
export function translateIndexBuildError(error: unknown, index: string, aftermath: string): PgscopeError | undefined {
  const state = sqlStateOf(error);
  if (!state || !/^2[23]/.test(state)) return undefined;
  const origin = { sqlState: state, serverMessage: error instanceof Error ? error.message : undefined };
  if (state === '23505') {
    return new PgscopeError(
      ErrorCode.INDEX_BUILD_FAILED,
      `The unique index ${index} could not be built: the table holds rows with equal values of its key (SQLSTATE 23505). ` +
        `${aftermath} Remove or change the duplicate rows, then apply it again; or build the index without unique.`,
      { sqlState: state },
      origin,
    );
  }
  const failure = ROW_FAILURES[state] ?? (state.startsWith('22') ? 'a data exception' : 'an integrity constraint violation');
  return new PgscopeError(
    ErrorCode.INDEX_BUILD_FAILED,
    `The index ${index} could not be built: for some row of the table its expression or predicate ` +
      `fails with ${failure} (SQLSTATE ${state}). ${aftermath} ` +
      'Change the expression so that it holds for every row (or leave those rows out with a predicate), then apply it again.',
    { sqlState: state },
    origin,
  );
}

function isConnectionFailure(error: Error, code: unknown): boolean {
  if (typeof code === 'string') {
    // 08: connection exception; 57P01-57P03: shutdown, crash recovery, starting up; 53300: no free slots.
    if (code.startsWith('08') || /^57P0[1-3]$/.test(code) || code === '53300') return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN'].includes(code)) {
      return true;
    }
  }
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(error.message);
}
