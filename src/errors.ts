// Expected errors a client may see. Each has a stable `extensions.code` that scripts can branch on;
// anything else thrown in a resolver is masked by yoga as "Unexpected error." (details go to the log).
import { GraphQLError } from 'graphql';

export const ErrorCode = {
  /** An argument is malformed or out of range. */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** A named object (schema, table, index, statement) does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** A required extension is not installed or not preloaded; the message says how to enable it. */
  EXTENSION_NOT_LOADED: 'EXTENSION_NOT_LOADED',
  /** pgscope's database role lacks a privilege; the message names the grant. */
  INSUFFICIENT_PRIVILEGE: 'INSUFFICIENT_PRIVILEGE',
  /** Every pooled connection stayed busy longer than PGSCOPE_POOL_CONNECTION_TIMEOUT_MS. */
  POOL_EXHAUSTED: 'POOL_EXHAUSTED',
  /** The database cannot be reached (down, restarting, network). Retry later. */
  DATABASE_UNAVAILABLE: 'DATABASE_UNAVAILABLE',
  /** The statement ran past PGSCOPE_STATEMENT_TIMEOUT_MS or waited past the lock timeout. */
  QUERY_TIMEOUT: 'QUERY_TIMEOUT',
  /** The request needs the admin token (Authorization: Bearer <PGSCOPE_ADMIN_TOKEN>). */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The feature is disabled by configuration (for example mutations without an admin token). */
  FORBIDDEN: 'FORBIDDEN',
  /** The operation is deeper, longer, costlier or has more aliases or expensive fields than the limits allow. */
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  /** The request body is larger than PGSCOPE_MAX_BODY_BYTES. */
  REQUEST_TOO_LARGE: 'REQUEST_TOO_LARGE',
  /** explain(analyze: true) was refused: the statement could change something or call a volatile function. */
  UNSAFE_STATEMENT: 'UNSAFE_STATEMENT',
  /** The server version or configuration cannot do this safely. */
  UNSUPPORTED: 'UNSUPPORTED',
  /** An object with that name already exists and is not the one asked for. */
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** A DDL statement waited past PGSCOPE_DDL_LOCK_TIMEOUT_MS for a lock (and its retries ran out). */
  LOCK_TIMEOUT: 'LOCK_TIMEOUT',
  /** The DEFAULT partition holds rows of a new partition's range and they could not be moved safely. */
  DEFAULT_PARTITION_CONFLICT: 'DEFAULT_PARTITION_CONFLICT',
  /** The index backs a primary key, unique or exclusion constraint (or a foreign key relies on it). */
  INDEX_BACKS_CONSTRAINT: 'INDEX_BACKS_CONSTRAINT',
  /** The index keeps data correct without a constraint (a unique index, the replica identity): `extensions.reason` says which. */
  INDEX_PROTECTED: 'INDEX_PROTECTED',
  /** The statement or definition uses a function or operator whose author pgscope does not trust (src/db/trust/rule.ts). */
  UNTRUSTED_CODE: 'UNTRUSTED_CODE',
  /** Moving rows out of the DEFAULT partition would look like deletes to something (foreign keys, triggers, rules, replication). */
  UNSAFE_ROW_MOVE: 'UNSAFE_ROW_MOVE',
  /** The partition's range reaches the present or the future: it still receives rows, so it is not detached or dropped. */
  PARTITION_IN_USE: 'PARTITION_IN_USE',
  /** Building the index failed on the table's rows (a duplicate for a unique index, an expression that errors on a row). */
  INDEX_BUILD_FAILED: 'INDEX_BUILD_FAILED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An expected error with a stable code; its message is written for the person reading it. */
export class PgscopeError extends GraphQLError {
  /** SQLSTATE of the PostgreSQL error this one translates, for callers that reword it (never sent). */
  readonly sqlState: string | undefined;
  /** PostgreSQL's own message, for the server log and for callers that reword it (never sent). */
  readonly serverMessage: string | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    origin: { sqlState?: string; serverMessage?: string } = {},
  ) {
    super(message, { extensions: { code, ...details } });
    this.name = 'PgscopeError';
    this.sqlState = origin.sqlState;
    this.serverMessage = origin.serverMessage;
  }
}

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new PgscopeError(ErrorCode.BAD_USER_INPUT, message, details);

export const notFound = (message: string, details?: Record<string, unknown>) => new PgscopeError(ErrorCode.NOT_FOUND, message, details);

export function isPgscopeError(error: unknown, code?: ErrorCode): error is PgscopeError {
  return error instanceof PgscopeError && (code === undefined || error.code === code);
}
