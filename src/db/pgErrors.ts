// PostgreSQL's and the driver's errors, turned into the typed errors a client can act on (SQLSTATEs
// are read and named in sqlState.ts); callers that know more (explain) reword what this returns.
import type { PoolConfig } from '../config.js';
import { ErrorCode, PgscopeError, isPgscopeError } from '../errors.js';
import { SqlState, SqlStateClass, inSqlStateClass, sqlStateOf } from './sqlState.js';

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
  const code = sqlStateOf(error);
  const origin = { sqlState: code, serverMessage: error.message };
  if (code === SqlState.QUERY_CANCELED && /statement timeout/.test(error.message)) {
    return new PgscopeError(
      ErrorCode.QUERY_TIMEOUT,
      `The statement was cancelled after ${pool.statementTimeoutMs} ms (PGSCOPE_STATEMENT_TIMEOUT_MS).`,
      {},
      origin,
    );
  }
  if (code === SqlState.QUERY_CANCELED) {
    return new PgscopeError(
      ErrorCode.QUERY_TIMEOUT,
      'The statement was cancelled by another session (pg_cancel_backend) or by the server.',
      {},
      origin,
    );
  }
  if (code === SqlState.LOCK_NOT_AVAILABLE) {
    return new PgscopeError(
      ErrorCode.QUERY_TIMEOUT,
      `The statement waited more than ${pool.lockTimeoutMs} ms for a lock held by another session (PGSCOPE_LOCK_TIMEOUT_MS).`,
      {},
      origin,
    );
  }
  if (code === SqlState.STATEMENT_TOO_COMPLEX) {
    return new PgscopeError(
      ErrorCode.BAD_USER_INPUT,
      'The statement is too complex: PostgreSQL ran out of stack depth on it (max_stack_depth). Simplify it, or split it.',
      {},
      origin,
    );
  }
  if (code === SqlState.ACTIVE_SQL_TRANSACTION) {
    return new PgscopeError(
      ErrorCode.BAD_USER_INPUT,
      'The statement cannot run inside the transaction pgscope runs it in (SQLSTATE 25001).',
      {},
      origin,
    );
  }
  if (code === SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE && /pg_stat_statements/.test(error.message)) {
    return new PgscopeError(
      ErrorCode.EXTENSION_NOT_LOADED,
      "pg_stat_statements is not loaded: add it to shared_preload_libraries in postgresql.conf (shared_preload_libraries = 'pg_stat_statements') and restart PostgreSQL.",
      {},
      origin,
    );
  }
  if (code === SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE) {
    return new PgscopeError(
      ErrorCode.UNSUPPORTED,
      'The database is not in the state this needs (SQLSTATE 55000: object not in prerequisite state).',
      {},
      origin,
    );
  }
  if (code === SqlState.INSUFFICIENT_PRIVILEGE) {
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
  if (!(error instanceof Error) || sqlStateOf(error) !== SqlState.LOCK_NOT_AVAILABLE) return undefined;
  return new PgscopeError(
    ErrorCode.LOCK_TIMEOUT,
    `The change waited more than ${lockTimeoutMs} ms for a lock held by another session (PGSCOPE_DDL_LOCK_TIMEOUT_MS); nothing was changed by that statement. ` +
      'Retry when the table is less busy (see blockedQueries and longRunningQueries).',
    {},
    { sqlState: SqlState.LOCK_NOT_AVAILABLE, serverMessage: error.message },
  );
}

/** True for an error after which the connection is gone: FATAL or PANIC from the server, or a failed socket. */
export function endsConnection(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const severity = (error as { severity?: unknown }).severity;
  return severity === 'FATAL' || severity === 'PANIC' || isConnectionFailure(error, sqlStateOf(error));
}

const ANALYSIS_CLASSES = [
  SqlStateClass.SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION,
  SqlStateClass.DATA_EXCEPTION,
  SqlStateClass.FEATURE_NOT_SUPPORTED,
];

/**
 * An index definition PostgreSQL's parse analysis refuses (class 42: no function or operator of
 * that name takes those argument types, a predicate that is not boolean...; class 22: a constant
 * that does not convert; 0A: a construct not supported there): BAD_USER_INPUT with the server's
 * reason. Analysis reads no row, so the reason names only what the client wrote, types and
 * functions. Undefined for any other error.
 */
export function translateDefinitionError(error: unknown, what: string): PgscopeError | undefined {
  const state = sqlStateOf(error);
  if (!state || !inSqlStateClass(state, ...ANALYSIS_CLASSES) || state === SqlState.INSUFFICIENT_PRIVILEGE || !(error instanceof Error))
    return undefined;
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
  [SqlState.STRING_DATA_RIGHT_TRUNCATION]: 'a value too long for its type',
  [SqlState.NUMERIC_VALUE_OUT_OF_RANGE]: 'a number out of range',
  [SqlState.NULL_VALUE_NOT_ALLOWED]: 'a null value where none is allowed',
  [SqlState.INVALID_DATETIME_FORMAT]: 'a date or time in an invalid format',
  [SqlState.DATETIME_FIELD_OVERFLOW]: 'a date or time out of range',
  [SqlState.SUBSTRING_ERROR]: 'a substring out of range',
  [SqlState.DIVISION_BY_ZERO]: 'division by zero',
  [SqlState.INTERVAL_FIELD_OVERFLOW]: 'an interval out of range',
  [SqlState.INVALID_CHARACTER_VALUE_FOR_CAST]: 'a value that cannot be cast',
  [SqlState.INVALID_REGULAR_EXPRESSION]: 'an invalid regular expression',
  [SqlState.INVALID_ARGUMENT_FOR_LOGARITHM]: 'an invalid argument for a logarithm',
  [SqlState.INVALID_ARGUMENT_FOR_POWER_FUNCTION]: 'an invalid argument for a power function',
  [SqlState.CHARACTER_NOT_IN_REPERTOIRE]: 'a character not valid in the encoding',
  [SqlState.INVALID_PARAMETER_VALUE]: 'an invalid parameter value',
  [SqlState.INVALID_ESCAPE_SEQUENCE]: 'an invalid escape sequence',
  [SqlState.ARRAY_SUBSCRIPT_ERROR]: 'an array subscript out of range',
  [SqlState.INVALID_TEXT_REPRESENTATION]: 'text that is not valid input for its type',
  [SqlState.UNTRANSLATABLE_CHARACTER]: 'a character that has no equivalent in the encoding',
  [SqlState.DUPLICATE_JSON_OBJECT_KEY_VALUE]: 'a duplicate JSON object key',
  [SqlState.INVALID_JSON_TEXT]: 'invalid JSON text',
  [SqlState.NOT_NULL_VIOLATION]: 'a null value where a NOT NULL domain forbids it',
  [SqlState.CHECK_VIOLATION]: 'a value a CHECK constraint refuses',
};

/**
 * A build that failed on the table's rows (class 22, data exception; class 23, integrity
 * constraint violation: duplicates for a unique index, a domain's CHECK): INDEX_BUILD_FAILED,
 * saying what failed, on which index, what `aftermath` was, and what to do. Undefined for any other error.
 */
export function translateIndexBuildError(error: unknown, index: string, aftermath: string): PgscopeError | undefined {
  const state = sqlStateOf(error);
  if (!state || !inSqlStateClass(state, SqlStateClass.DATA_EXCEPTION, SqlStateClass.INTEGRITY_CONSTRAINT_VIOLATION)) return undefined;
  const origin = { sqlState: state, serverMessage: error instanceof Error ? error.message : undefined };
  if (state === SqlState.UNIQUE_VIOLATION) {
    return new PgscopeError(
      ErrorCode.INDEX_BUILD_FAILED,
      `The unique index ${index} could not be built: the table holds rows with equal values of its key (SQLSTATE 23505). ` +
        `${aftermath} Remove or change the duplicate rows, then apply it again; or build the index without unique.`,
      { sqlState: state },
      origin,
    );
  }
  const failure =
    ROW_FAILURES[state] ??
    (inSqlStateClass(state, SqlStateClass.DATA_EXCEPTION) ? 'a data exception' : 'an integrity constraint violation');
  return new PgscopeError(
    ErrorCode.INDEX_BUILD_FAILED,
    `The index ${index} could not be built: for some row of the table its expression or predicate ` +
      `fails with ${failure} (SQLSTATE ${state}). ${aftermath} ` +
      'Change the expression so that it holds for every row (or leave those rows out with a predicate), then apply it again.',
    { sqlState: state },
    origin,
  );
}

// The server shut down, is in crash recovery, or is starting up; or it has no free connection slot.
const UNAVAILABLE_STATES: readonly string[] = [
  SqlState.ADMIN_SHUTDOWN,
  SqlState.CRASH_SHUTDOWN,
  SqlState.CANNOT_CONNECT_NOW,
  SqlState.TOO_MANY_CONNECTIONS,
];

/** `code`: what sqlStateOf read, a SQLSTATE or, for a failed socket, Node's error code. */
function isConnectionFailure(error: Error, code: string | undefined): boolean {
  if (code !== undefined) {
    if (inSqlStateClass(code, SqlStateClass.CONNECTION_EXCEPTION) || UNAVAILABLE_STATES.includes(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN'].includes(code)) {
      return true;
    }
  }
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(error.message);
}
