// Expected errors a client may see. Each has a stable `extensions.code` that scripts can branch on;
// anything else thrown in a resolver is masked by yoga as "Unexpected error." (details go to the log).
import { GraphQLError } from 'graphql';

/**
 * Every code pgscope itself gives in `extensions.code`, with what it means to the person who meets
 * it (markdown). The README's table is written from this list and GRAPHQL_CODES (npm run docs:errors;
 * test/readme.test.ts checks that it was).
 */
export const ERROR_CODES = {
  BAD_USER_INPUT:
    'an argument is out of range or malformed (a NUL character in any string, SQL nested too deeply); nothing was changed. Also the HTTP refusals of a request that is not JSON (415, `reason: UNSUPPORTED_MEDIA_TYPE`) or names no valid host (400, `reason: MALFORMED_HOST`)',
  QUERY_TOO_COMPLEX:
    "the operation is past a limit (`PGSCOPE_MAX_DEPTH`, `_ALIASES`, `_TOKENS`, `_COST`, `_EXPENSIVE_FIELDS`; `extensions.limit` names it), or its variable values (or extensions) nest more than 32 levels (400 whatever the `Accept` header; pgscope's inputs nest 3); nothing ran",
  REQUEST_TOO_LARGE:
    'the request body is larger than `PGSCOPE_MAX_BODY_BYTES` (413, `extensions.maxBytes`); the rest of it is not read, the connection is closed, and nothing ran',
  NOT_FOUND: 'a named object does not exist',
  TOO_MANY_SUBSCRIPTIONS:
    'the client (by address and token) or the whole process holds its most subscriptions open already (`PGSCOPE_MAX_SUBSCRIPTIONS_PER_CLIENT`, `PGSCOPE_MAX_SUBSCRIPTIONS`; `extensions.limit` names it): close one, or poll the query field',
  EXTENSION_NOT_LOADED: '`pg_stat_statements` (or HypoPG) is missing; the message gives the exact steps',
  INSUFFICIENT_PRIVILEGE: "pgscope's role lacks a grant; the message names it",
  POOL_EXHAUSTED: 'every connection stayed busy past `PGSCOPE_POOL_CONNECTION_TIMEOUT_MS`',
  DATABASE_UNAVAILABLE:
    'the database cannot be reached, or did not answer 2 s past the statement timeout; pgscope reconnects by itself. A change whose database session was lost while it ran is `FAILED` with this code',
  QUERY_TIMEOUT: 'past `statement_timeout` or `lock_timeout` (or cancelled)',
  UNAUTHENTICATED:
    'the field needs `Authorization: Bearer <PGSCOPE_ADMIN_TOKEN>` (no token, a wrong one, or the read token, which only reads), or, with `PGSCOPE_READ_TOKEN`, any operation needs a token',
  FORBIDDEN:
    "the request's `Host` or `Origin` is not allowed, or the feature is disabled: `extensions.reason` says which (`MUTATIONS_DISABLED`: no admin token configured; `CHANGE_LOG_UNAVAILABLE`: schema `pgscope` missing; `READ_ONLY_REPLICA`: the target is a hot standby, point `DATABASE_URL` at the primary)",
  LOCK_TIMEOUT: 'a change waited past `PGSCOPE_DDL_LOCK_TIMEOUT_MS` for a lock; that statement changed nothing',
  ALREADY_EXISTS:
    'an object of that name exists and is not the one asked for; or (`extensions.reason` `BEING_BUILT`) the index asked for is being built by another session right now: apply again once that build ends (`REBUILT_ELSEWHERE`: the INVALID index a change was to build again was rebuilt by another session meanwhile)',
  DEFAULT_PARTITION_CONFLICT: "the DEFAULT partition holds rows of a new partition's range that could not be moved safely",
  INDEX_BACKS_CONSTRAINT: 'the index backs a constraint; drop the constraint instead',
  INDEX_PROTECTED:
    "the index keeps data correct without a constraint: `extensions.reason` is `UNIQUE` (a unique index) or `REPLICA_IDENTITY` (the table's replica identity)",
  UNTRUSTED_CODE:
    'the statement or definition uses a function or operator written by a role pgscope does not trust (`PGSCOPE_TRUSTED_ROLES`); nothing was planned or run: `extensions.function`, `owner` and `within` (where it was found) say which',
  UNSAFE_STATEMENT:
    '`explain(analyze: true)` was refused: the statement could change something or reach a volatile function or a foreign table (`extensions` name the culprit); nothing ran',
  UNSAFE_ROW_MOVE:
    'rows waiting in the DEFAULT partition cannot be moved without looking like deletes: `extensions.reason` (and `reasons`, all of them) is `FOREIGN_KEY` (one references the DEFAULT partition itself), `TRIGGER` or `RULE` (enabled `ALWAYS`, or `REPLICA` while others need silencing), `PUBLICATION` (it publishes the deletes), `REPLICATION_SLOT` (a logical slot whose plugin is not `pgoutput` decodes everything) or `CANNOT_SUPPRESS` (pgscope may not set `session_replication_role`; the message gives the grant); nothing was changed, dry runs included',
  PARTITION_IN_USE:
    '`olderThan` would detach a partition whose range reaches now or later (it still receives rows): `extensions.partitions` names them; nothing was changed',
  INDEX_BUILD_FAILED:
    "building the index failed on the table's rows (duplicates for a unique index, an expression that errors on a row: division by zero, invalid input...); `extensions.sqlState` says which (class 22 or 23), the message what to do, never the rows' values; what the build created was dropped",
  IDEMPOTENCY_KEY_REUSED:
    'the `idempotencyKey` of a mutation named another request (other arguments, or another mutation) within the last 24 hours; `extensions.changeId` is that change. Nothing was done: use a new key for a new request',
  UNSUPPORTED:
    "the server's version or the object's shape is one pgscope will not change safely: PostgreSQL 14.0 to 14.3 (concurrent index builds can corrupt indexes), a table pg_partman manages, a sub-partitioned partition, row-level security policies that do not copy exactly; the message says what to do instead, and nothing is left changed",
} as const;

/**
 * The codes GraphQL Yoga and graphql-js give before or around pgscope's resolvers, as the README's
 * table explains them.
 */
export const GRAPHQL_CODES = {
  GRAPHQL_PARSE_FAILED: 'the operation is not valid GraphQL syntax (400); nothing ran',
  GRAPHQL_VALIDATION_FAILED: 'the operation does not match the schema (an unknown field, a missing argument); nothing ran',
  OPERATION_RESOLUTION_FAILURE:
    'the document holds several operations and `operationName` does not name one of them: name them and send `operationName`, or send one at a time',
  BAD_REQUEST: 'the HTTP request is not a GraphQL request: a body that is not valid JSON, no `query`, `variables` that are not an object',
  INTERNAL_SERVER_ERROR: "anything unexpected; details go to pgscope's log, never to the client",
} as const;

/** pgscope's codes by name: `ErrorCode.NOT_FOUND` is `'NOT_FOUND'`. */
export const ErrorCode = Object.fromEntries(Object.keys(ERROR_CODES).map((code) => [code, code])) as {
  readonly [Code in keyof typeof ERROR_CODES]: Code;
};

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
