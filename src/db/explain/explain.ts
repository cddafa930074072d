// How PostgreSQL runs one statement, given as SQL or as a pg_stat_statements queryid: the plan as
// EXPLAIN (FORMAT JSON) prints it, plus the summary a person reads first. Every EXPLAIN runs in a
// read-only transaction that is always rolled back. Planning alone runs functions (PostgreSQL folds
// immutable ones with constant arguments), so no statement is planned that could run code pgscope
// does not trust (db/trust/statementTrust.ts: UNTRUSTED_CODE). Only EXPLAIN ANALYZE executes the statement, and
// explain() accepts it only for one read-only SELECT that calls no volatile function (see
// safety.ts; the resolver also requires the admin token).
import { badInput, ErrorCode, isPgscopeError, notFound, PgscopeError } from '../../errors.js';
import { parseOneStatement, paramCount, readOnlySelectProblem, statementPhrase, type ParsedStatement } from '../../sql/parse.js';
import { maskLiterals } from '../../sql/redact.js';
import type { Capabilities } from '../capabilities.js';
import { assertSafeToExecute } from './safety.js';
import { summarizePlan, type ExplainDocument, type ExplainSummary, type PlanMode } from './planSummary.js';
import type { Db, Queryable } from '../pool.js';
import { queryIdArgument } from '../queryIds.js';
import { pgStatStatementsView, staleExtensionError } from '../queryStats.js';
import { unwrapNestedStatement } from './wrappedStatement.js';
import { castTypedParameters } from '../../sql/typedParameters.js';
import { genericPlanStatements, UNTYPED_PARAMETER } from './genericPlan.js';
import { assertTrustedToPlan } from '../trust/statementTrust.js';
import { NO_EXTRA_TRUST, type TrustConfig } from '../../config.js';
import { SqlState, SqlStateClass, sqlStateClassOf, sqlStateOf } from '../sqlState.js';

export interface ExplainRequest {
  sql: string;
  /** Values for $1, $2... as text, null for SQL NULL; null when the client gave none. */
  params: readonly (string | null)[] | null;
  analyze: boolean;
  /** statement_timeout of EXPLAIN ANALYZE, in milliseconds (plain EXPLAIN keeps the pool's). */
  timeoutMs: number;
  /** statement_timeout of a plain EXPLAIN (planning only), in milliseconds; absent: the pool's. */
  planTimeoutMs?: number;
  /** Whose code planning may run besides PostgreSQL's, superusers' and pgscope's own role's (config.trust); absent: nobody else's. */
  trust?: TrustConfig;
}

export interface ExplainOutcome {
  /** The statement explained: the client's SQL, or pg_stat_statements' text for a queryId. */
  statement: string;
  queryId: string | null;
  plan: ExplainDocument;
  genericPlan: boolean;
  analyzed: boolean;
  totalCost: number;
  estimatedRows: number;
  actualRows: number | null;
  planningTimeMs: number | null;
  executionTimeMs: number | null;
  summary: ExplainSummary;
}

// What EXPLAIN accepts; anything else (DDL, utility statements) would be a server syntax error.
const EXPLAINABLE = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

// VERBOSE adds each scan's schema (needed to size the table unambiguously) and output columns;
// SETTINGS lists planner settings that differ from the defaults.
const PLAN_OPTIONS = 'VERBOSE, SETTINGS, SUMMARY, FORMAT JSON';

const explainPrefix = (mode: PlanMode, analyze: boolean): string => {
  if (analyze) return /* SQL */ `EXPLAIN (ANALYZE, BUFFERS, ${PLAN_OPTIONS}) `;
  if (mode === 'generic') return /* SQL */ `EXPLAIN (GENERIC_PLAN, ${PLAN_OPTIONS}) `;
  return /* SQL */ `EXPLAIN (${PLAN_OPTIONS}) `;
};

const BEGIN_READ_ONLY_SQL = /* SQL */ `BEGIN TRANSACTION READ ONLY`;

// standard_conforming_strings = on makes the server split the text exactly as libpg-query did
// (its default): with it off, a backslash before a quote would let one "statement" become two.
// On the PREPARE path ($3 = 'off'), EXECUTE with NULL parameters would prune every partition at
// executor start-up and show a plan without its scans: partition pruning is off there.
const TRANSACTION_SETTINGS_SQL = /* SQL */ `
  SELECT
    set_config('statement_timeout', coalesce($1, current_setting('statement_timeout')), true),
    -- the server's own plan_cache_mode (reset_val), not the one pgscope's pooled sessions use
    set_config('plan_cache_mode', coalesce($2, (SELECT reset_val FROM pg_settings WHERE name = 'plan_cache_mode')), true),
    -- and the server's jit (pgscope's sessions turn it off), so ANALYZE times what the application gets
    set_config('jit', (SELECT reset_val FROM pg_settings WHERE name = 'jit'), true),
    set_config('standard_conforming_strings', 'on', true),
    set_config('enable_partition_pruning', coalesce($3, current_setting('enable_partition_pruning')), true)`;

const ROLLBACK_SQL = /* SQL */ `ROLLBACK`;

// Below PostgreSQL 16 (no GENERIC_PLAN option): a prepared statement forced to its generic plan.
const PREPARED_NAME = 'pgscope_explain';

// With pg_stat_statements.track = all, a statement also run under EXPLAIN has a nested entry
// (toplevel false, 1.9+) with the same queryid whose text is the whole EXPLAIN: prefer top level.
const statementsByQueryIdSql = (view: string, hasToplevel: boolean) => /* SQL */ `
  SELECT DISTINCT ON (queryid)
    queryid::text AS query_id,
    query,
    calls,
    rows
  FROM ${view}
  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND queryid = ANY ($1::int8[])
  ORDER BY
    queryid,
    ${hasToplevel ? 'toplevel DESC,' : ''}
    calls DESC,
    userid`;

/** Explains the statement pg_stat_statements knows as `queryId` in the current database. */
export async function explainQueryId(
  db: Db,
  caps: Capabilities,
  queryId: string,
  request: Omit<ExplainRequest, 'sql'>,
): Promise<ExplainOutcome> {
  const sql = await statementText(db, caps, queryId);
  try {
    return { ...(await explain(db, caps, { ...request, sql })), queryId, statement: await maskLiterals(sql) };
  } catch (error) {
    if (!isPgscopeError(error, ErrorCode.BAD_USER_INPUT)) throw error;
    // The client did not write this text: say where it came from.
    const { code: _code, ...details } = error.extensions;
    // The parser's message quotes the text near the error: not when that text holds a constant.
    const reason =
      (await maskLiterals(sql)) !== sql ? 'explain takes one SELECT, INSERT, UPDATE, DELETE or MERGE statement.' : error.message;
    throw badInput(`The text pg_stat_statements keeps for queryId ${queryId} cannot be explained: ${reason}`, details);
  }
}

async function statementText(db: Queryable, caps: Capabilities, given: string): Promise<string> {
  const queryId = queryIdArgument('queryId', given);
  const text = (await statementTexts(db, caps, [queryId])).get(queryId);
  if (text === undefined) {
    const others = caps.canReadAllStats
      ? ''
      : ` Role "${caps.role}" sees only its own statements there; GRANT pg_read_all_stats TO ${caps.role} to explain other roles' statements.`;
    throw notFound(
      `pg_stat_statements has no statement with queryId ${queryId} in database "${caps.database}" (it may have been evicted or reset).${others}`,
      { queryId },
    );
  }
  return text;
}

/** A statement as pg_stat_statements keeps it, ready to plan, with its counters. */
export interface StatementEntry {
  sql: string;
  calls: number;
  rows: number;
}

/**
 * The texts pg_stat_statements keeps for `queryIds` in the current database, ready to plan: the
 * top-level entry's (a nested one under EXPLAIN holds the whole EXPLAIN), unwrapped, with
 * interval $2 (its text of interval '30 days', which does not plan) written $2::interval.
 * Ids it does not hold are absent from the map.
 */
export async function statementTexts(db: Queryable, caps: Capabilities, queryIds: readonly string[]): Promise<Map<string, string>> {
  return new Map([...(await statementEntries(db, caps, queryIds))].map(([queryId, entry]) => [queryId, entry.sql]));
}

/** statementTexts with each entry's calls and rows. */
export async function statementEntries(
  db: Queryable,
  caps: Capabilities,
  queryIds: readonly string[],
): Promise<Map<string, StatementEntry>> {
  const view = pgStatStatementsView(caps);
  const rows = await db
    .query<{ query_id: string; query: string; calls: bigint | string; rows: bigint | string }>(
      statementsByQueryIdSql(view, caps.pgStatStatementsColumns.has('toplevel')),
      [queryIds],
    )
    .catch((error: unknown) => {
      throw staleExtensionError(error, caps);
    });
  const entries = await Promise.all(
    rows.map(
      async (row) =>
        [
          row.query_id,
          { sql: await castTypedParameters(await unwrapNestedStatement(row.query)), calls: Number(row.calls), rows: Number(row.rows) },
        ] as const,
    ),
  );
  return new Map(entries);
}

/** Explains one statement of the client's SQL; see ExplainRequest. */
export async function explain(db: Db, caps: Capabilities, request: ExplainRequest): Promise<ExplainOutcome> {
  const statement = await parseOneStatement(request.sql);
  const parameters = checkRequest(statement, request);
  const mode: PlanMode = request.params !== null || parameters === 0 ? 'direct' : caps.serverVersionNum >= 160000 ? 'generic' : 'prepared';
  const plan = await db
    .withClient((client) => planDocument(client, statement, mode, request, parameters), {
      statementTimeoutMs: request.analyze ? request.timeoutMs : undefined,
    })
    .catch((error: unknown) => {
      throw clearerError(error, request, caps);
    });
  const [document] = plan;
  // VERBOSE prints the 64-bit query identifier (14+) as a JSON number, which the driver's
  // JSON.parse rounds: a wrong identifier is worse than none.
  delete document['Query Identifier'];
  const summary = await summarizePlan(db, plan, { mode, analyzed: request.analyze });
  return {
    statement: request.sql,
    queryId: null,
    plan,
    genericPlan: mode !== 'direct',
    analyzed: request.analyze,
    totalCost: document.Plan['Total Cost'],
    estimatedRows: document.Plan['Plan Rows'],
    actualRows: document.Plan['Actual Rows'] ?? null,
    planningTimeMs: document['Planning Time'] ?? null,
    executionTimeMs: document['Execution Time'] ?? null,
    summary,
  };
}

/** Refuses what must not be explained (or run); returns the statement's number of parameters. */
function checkRequest(statement: ParsedStatement, request: ExplainRequest): number {
  if (!EXPLAINABLE.has(statement.kind)) {
    throw badInput(`explain accepts a SELECT, INSERT, UPDATE, DELETE or MERGE statement; this is ${statementPhrase(statement.kind)}.`);
  }
  const parameters = paramCount(statement.node);
  if (request.params !== null && request.params.length !== parameters) {
    throw badInput(
      `The statement has ${parameters} parameter(s) ($1 to $${parameters}) but params has ${request.params.length} value(s).`,
      {
        argument: 'params',
      },
    );
  }
  if (request.analyze) {
    const problem = readOnlySelectProblem(statement);
    if (problem) {
      const message = `analyze executes the statement, so it accepts only a read-only SELECT; this one is refused: ${problem}.`;
      throw new PgscopeError(ErrorCode.UNSAFE_STATEMENT, message);
    }
    if (parameters > 0 && request.params === null) {
      throw badInput(`analyze executes the statement, so it needs a value for each of its ${parameters} parameter(s): pass params.`, {
        argument: 'params',
      });
    }
  }
  return parameters;
}

// When anything in planDocument throws, withClient destroys the connection rather than pooling
// it; on success it resets the session (settings, locks, temporary objects, HypoPG) before pooling it.
async function planDocument(
  client: Queryable,
  statement: ParsedStatement,
  mode: PlanMode,
  request: ExplainRequest,
  parameters: number,
): Promise<ExplainDocument> {
  // Checked on the connection that plans it, so names resolve with the same search_path.
  await assertTrustedToPlan(client, request.trust ?? NO_EXTRA_TRUST, statement.node);
  const timeoutMs = request.analyze ? request.timeoutMs : request.planTimeoutMs;
  const prepared = mode === 'prepared';
  const settings = [timeoutMs === undefined ? null : String(timeoutMs), prepared ? 'force_generic_plan' : null, prepared ? 'off' : null];
  if (prepared) {
    const generic = genericPlanStatements(PREPARED_NAME, parameters, PLAN_OPTIONS);
    const attempt = (preparePrefix: string) =>
      inReadOnlyTransaction(client, settings, async () => {
        await runUserSql(client, preparePrefix, request.sql, []);
        // Planning may fold the statement's functions: errors need the same screening, without a position.
        return queryPlan(await runUserSql(client, generic.explainExecute, '', []));
      });
    const plan = await attempt(generic.prepare).catch((error: unknown) => {
      if (!isPgscopeError(error) || error.extensions.sqlState !== UNTYPED_PARAMETER) throw error;
      return attempt(generic.prepareTyped);
    });
    await client.query(generic.deallocate);
    return plan;
  }
  const prefix = explainPrefix(mode, request.analyze);
  return inReadOnlyTransaction(client, settings, async () => {
    if (request.analyze) await assertSafeToExecute(client, statement.node);
    return queryPlan(await runUserSql(client, prefix, request.sql, request.params ?? []));
  });
}

async function inReadOnlyTransaction<T>(client: Queryable, settings: Array<string | null>, work: () => Promise<T>): Promise<T> {
  await client.query(BEGIN_READ_ONLY_SQL);
  try {
    await client.query(TRANSACTION_SETTINGS_SQL, settings);
    return await work();
  } finally {
    await client.query(ROLLBACK_SQL);
  }
}

/** Runs `prefix + sql`: pgscope's own words, then the client's SQL. */
async function runUserSql(client: Queryable, prefix: string, sql: string, params: readonly (string | null)[]): Promise<unknown[]> {
  try {
    return await client.query(prefix + sql, params);
  } catch (error) {
    throw userSqlError(error, prefix.length);
  }
}

function queryPlan(rows: unknown[]): ExplainDocument {
  return (rows[0] as { 'QUERY PLAN': ExplainDocument })['QUERY PLAN'];
}

// Errors whose text only echoes the client's own SQL: syntax, and names that do not resolve or
// do not fit (undefined or ambiguous table, column, function, type, parameter; grouping and type
// mismatches). They are passed on only with a position, i.e. raised while PostgreSQL analyzed the
// client's text: the same codes raised at run time (a jsonpath syntax error on a value read from a
// table, a RAISE in a function) carry no position and may carry data.
const ECHOING_CODES = new Set<string>([
  SqlState.SYNTAX_ERROR,
  SqlState.UNDEFINED_TABLE,
  SqlState.UNDEFINED_COLUMN,
  SqlState.UNDEFINED_FUNCTION,
  SqlState.UNDEFINED_PARAMETER,
  SqlState.UNDEFINED_OBJECT,
  SqlState.AMBIGUOUS_COLUMN,
  SqlState.AMBIGUOUS_FUNCTION,
  SqlState.GROUPING_ERROR,
  SqlState.DATATYPE_MISMATCH,
  SqlState.CANNOT_COERCE,
  SqlState.INDETERMINATE_DATATYPE,
  SqlState.INVALID_COLUMN_REFERENCE,
  SqlState.WINDOWING_ERROR,
  SqlState.WRONG_OBJECT_TYPE,
]);

// Other errors of the client's statement: bad values (22: invalid input syntax for type integer:
// "<the value read>"), several rows from a subquery (21), unsupported features (0A), limits (54),
// errors raised by functions (P0, 2F, 38, 39) and the rest of class 42. Their server text can
// carry data (a row, a file read by pg_read_file, a setting), even under plain EXPLAIN, which
// folds immutable functions and evaluates stable ones to estimate: only the SQLSTATE is kept.
const USER_ERROR_CLASSES: Record<string, string> = {
  [SqlStateClass.SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION]: 'the statement does not fit the database (a name, type or privilege)',
  [SqlStateClass.DATA_EXCEPTION]: 'a value was invalid for its type or operation (a cast, a division by zero, a parameter)',
  [SqlStateClass.CARDINALITY_VIOLATION]: 'a subquery used as a value returned more than one row',
  [SqlStateClass.FEATURE_NOT_SUPPORTED]: 'the statement uses something PostgreSQL does not support there',
  [SqlStateClass.PROGRAM_LIMIT_EXCEEDED]: 'the statement exceeds a PostgreSQL limit',
  [SqlStateClass.PLPGSQL_ERROR]: 'a function it calls raised an error',
  [SqlStateClass.SQL_ROUTINE_EXCEPTION]: 'a function it calls failed',
  [SqlStateClass.EXTERNAL_ROUTINE_EXCEPTION]: 'a function it calls failed',
  [SqlStateClass.EXTERNAL_ROUTINE_INVOCATION_EXCEPTION]: 'a function it calls failed',
};
const REWORDED_STATES = new Set<string>([SqlState.ACTIVE_SQL_TRANSACTION, SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE]);

/** PostgreSQL's complaint about the client's own SQL, as BAD_USER_INPUT; position counted in their text. */
function userSqlError(error: unknown, offset: number): unknown {
  const code = sqlStateOf(error);
  // The pool words 25001 and 55000 for any statement; here they are about the client's own SQL,
  // so PostgreSQL's own message (which names what is wrong) is the better answer.
  if (isPgscopeError(error) && REWORDED_STATES.has(code ?? '') && error.code !== ErrorCode.EXTENSION_NOT_LOADED) {
    const inTransaction = code === SqlState.ACTIVE_SQL_TRANSACTION ? ' (explain runs every statement inside a read-only transaction)' : '';
    return badInput(`PostgreSQL rejected the statement: ${error.serverMessage}${inTransaction}.`, { sqlState: code });
  }
  if (isPgscopeError(error)) return error;
  const { message, position, hint } = error as { message?: string; position?: string; hint?: string };
  if (code === undefined) return error;
  const at = position ? Number(position) - offset : 0;
  if (ECHOING_CODES.has(code) && at > 0) {
    const details = { sqlState: code, position: at, ...(hint ? { hint } : {}) };
    return badInput(`PostgreSQL rejected the statement: ${message} (at character ${at}).`, details);
  }
  if (code === SqlState.READ_ONLY_SQL_TRANSACTION) {
    return badInput('PostgreSQL refused to write: explain runs every statement in a read-only transaction.', { sqlState: code });
  }
  const what = USER_ERROR_CLASSES[sqlStateClassOf(code)];
  if (!what) return error;
  return badInput(
    `PostgreSQL rejected the statement with SQLSTATE ${code}: ${what}. Its message is withheld because it can contain data read by the statement; ` +
      'run the statement yourself to see it.',
    { sqlState: code },
  );
}

/** Rewords the pool's generic timeout and privilege errors for what explain did. */
function clearerError(error: unknown, request: ExplainRequest, caps: Capabilities): unknown {
  // A lock wait (55P03) keeps the pool's wording; a statement timeout was explain's own timeoutMs.
  if (request.analyze && isPgscopeError(error, ErrorCode.QUERY_TIMEOUT) && sqlStateOf(error) === SqlState.QUERY_CANCELED) {
    return new PgscopeError(
      ErrorCode.QUERY_TIMEOUT,
      `EXPLAIN ANALYZE ran longer than timeoutMs (${request.timeoutMs} ms) and was cancelled; its transaction was rolled back.`,
      { timeoutMs: request.timeoutMs },
    );
  }
  if (isPgscopeError(error, ErrorCode.INSUFFICIENT_PRIVILEGE)) {
    // Only PostgreSQL's own "permission denied for table x" wording: a function could raise 42501 with any text.
    const denied = /^permission denied for [a-z ]+ [\w."$]+$/.test(error.serverMessage ?? '') ? error.serverMessage : undefined;
    return new PgscopeError(
      ErrorCode.INSUFFICIENT_PRIVILEGE,
      `EXPLAIN needs the privileges that running the statement needs, and role "${caps.role}" lacks one${denied ? ` (${denied})` : ''}. ` +
        `Grant them to that role (for reads: GRANT SELECT ON <table> TO ${caps.role}, or pg_read_all_data on PostgreSQL 14+).`,
    );
  }
  return error;
}
