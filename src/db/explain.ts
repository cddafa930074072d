// How PostgreSQL runs one statement, given as SQL or as a pg_stat_statements queryid: the plan as
// EXPLAIN (FORMAT JSON) prints it, plus the summary a person reads first. Every EXPLAIN runs in a
// read-only transaction that is always rolled back. Only EXPLAIN ANALYZE executes the statement,
// and explain() accepts it only for one read-only SELECT (the resolver also requires the admin token).
import { parseOneStatement, paramCount, readOnlySelectProblem, statementPhrase, type ParsedStatement } from '../advisor/parse.js';
import { badInput, ErrorCode, isPgscopeError, notFound, PgscopeError } from '../errors.js';
import type { Capabilities } from './capabilities.js';
import { summarizePlan, type ExplainDocument, type ExplainSummary, type PlanMode } from './planSummary.js';
import type { Db, Queryable } from './pool.js';
import { pgStatStatementsView, staleExtensionError } from './queryStats.js';
import { unwrapNestedStatement } from './wrappedStatement.js';

export interface ExplainRequest {
  sql: string;
  /** Values for $1, $2... as text, null for SQL NULL; null when the client gave none. */
  params: readonly (string | null)[] | null;
  analyze: boolean;
  /** statement_timeout of EXPLAIN ANALYZE, in milliseconds (plain EXPLAIN keeps the pool's). */
  timeoutMs: number;
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
const TRANSACTION_SETTINGS_SQL = /* SQL */ `
  SELECT
    set_config('statement_timeout', coalesce($1, current_setting('statement_timeout')), true),
    -- the server's own plan_cache_mode (reset_val), not the one pgscope's pooled sessions use
    set_config('plan_cache_mode', coalesce($2, (SELECT reset_val FROM pg_settings WHERE name = 'plan_cache_mode')), true),
    set_config('standard_conforming_strings', 'on', true)`;

const ROLLBACK_SQL = /* SQL */ `ROLLBACK`;

// Below PostgreSQL 16 (no GENERIC_PLAN option): a prepared statement forced to its generic plan.
const PREPARE_PREFIX = /* SQL */ `PREPARE pgscope_explain AS `;
const explainExecuteSql = (parameters: number) => /* SQL */ `
  EXPLAIN (${PLAN_OPTIONS})
  EXECUTE pgscope_explain(${Array.from({ length: parameters }, () => 'NULL').join(', ')})`;
const DEALLOCATE_SQL = /* SQL */ `DEALLOCATE pgscope_explain`;

const RELEASE_ADVISORY_LOCKS_SQL = /* SQL */ `SELECT pg_advisory_unlock_all()`;

// With pg_stat_statements.track = all, a statement also run under EXPLAIN has a nested entry
// (toplevel false, 1.9+) with the same queryid whose text is the whole EXPLAIN: prefer top level.
const statementByQueryIdSql = (view: string, hasToplevel: boolean) => /* SQL */ `
  SELECT
    query
  FROM ${view}
  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND queryid = $1::int8
  ORDER BY
    ${hasToplevel ? 'toplevel DESC,' : ''}
    calls DESC,
    userid
  LIMIT 1`;

/** Explains the statement pg_stat_statements knows as `queryId` in the current database. */
export async function explainQueryId(db: Db, caps: Capabilities, queryId: string, request: Omit<ExplainRequest, 'sql'>): Promise<ExplainOutcome> {
  const sql = await statementText(db, caps, queryId);
  try {
    return { ...(await explain(db, caps, { ...request, sql })), queryId };
  } catch (error) {
    if (!isPgscopeError(error, ErrorCode.BAD_USER_INPUT)) throw error;
    // The client did not write this text: say where it came from.
    const { code: _code, ...details } = error.extensions;
    throw badInput(`The text pg_stat_statements keeps for queryId ${queryId} cannot be explained: ${error.message}`, details);
  }
}

async function statementText(db: Queryable, caps: Capabilities, queryId: string): Promise<string> {
  if (!/^-?\d{1,19}$/.test(queryId) || BigInt(queryId) > 2n ** 63n - 1n || BigInt(queryId) < -(2n ** 63n)) {
    throw badInput(`queryId must be a pg_stat_statements queryid (a 64-bit integer), got "${queryId}".`, { argument: 'queryId' });
  }
  const view = pgStatStatementsView(caps);
  const rows = await db.query<{ query: string }>(statementByQueryIdSql(view, caps.pgStatStatementsColumns.has('toplevel')), [queryId]).catch((error: unknown) => {
    throw staleExtensionError(error, caps);
  });
  if (!rows[0]) {
    const others = caps.canReadAllStats
      ? ''
      : ` Role "${caps.role}" sees only its own statements there; GRANT pg_read_all_stats TO ${caps.role} to explain other roles' statements.`;
    throw notFound(`pg_stat_statements has no statement with queryId ${queryId} in database "${caps.database}" (it may have been evicted or reset).${others}`, { queryId });
  }
  return unwrapNestedStatement(rows[0].query);
}

/** Explains one statement of the client's SQL; see ExplainRequest. */
export async function explain(db: Db, caps: Capabilities, request: ExplainRequest): Promise<ExplainOutcome> {
  const statement = await parseOneStatement(request.sql);
  const parameters = checkRequest(statement, request);
  const mode: PlanMode =
    request.params !== null || parameters === 0 ? 'direct' : caps.serverVersionNum >= 160000 ? 'generic' : 'prepared';
  const plan = await db.withClient((client) => planDocument(client, mode, request, parameters)).catch((error: unknown) => {
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
    throw badInput(`The statement has ${parameters} parameter(s) ($1 to $${parameters}) but params has ${request.params.length} value(s).`, {
      argument: 'params',
    });
  }
  if (request.analyze) {
    const problem = readOnlySelectProblem(statement);
    if (problem) throw badInput(`analyze executes the statement, so it accepts only a read-only SELECT; this one is refused: ${problem}.`);
    if (parameters > 0 && request.params === null) {
      throw badInput(`analyze executes the statement, so it needs a value for each of its ${parameters} parameter(s): pass params.`, {
        argument: 'params',
      });
    }
  }
  return parameters;
}

// When anything in planDocument throws, withClient destroys the connection rather than pooling
// it, and any session state with it; these statements undo that state on the way that succeeded.
async function planDocument(client: Queryable, mode: PlanMode, request: ExplainRequest, parameters: number): Promise<ExplainDocument> {
  const settings = [request.analyze ? String(request.timeoutMs) : null, mode === 'prepared' ? 'force_generic_plan' : null];
  if (mode === 'prepared') {
    const plan = await inReadOnlyTransaction(client, settings, async () => {
      await runUserSql(client, PREPARE_PREFIX, request.sql, []);
      return queryPlan(await client.query(explainExecuteSql(parameters)));
    });
    // PREPARE is not transactional: the statement outlives the rollback.
    await client.query(DEALLOCATE_SQL);
    return plan;
  }
  const prefix = explainPrefix(mode, request.analyze);
  const plan = await inReadOnlyTransaction(client, settings, async () => queryPlan(await runUserSql(client, prefix, request.sql, request.params ?? [])));
  // Session-level advisory locks are what an executed read-only SELECT can leave behind after
  // the rollback (SELECT pg_advisory_lock(...)): the next borrower of this connection would hold them.
  if (request.analyze) await client.query(RELEASE_ADVISORY_LOCKS_SQL);
  return plan;
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

// SQLSTATE classes that are about the client's statement: syntax and unknown objects (42), bad
// values (22), a subquery returning several rows (21), unsupported features (0A), limits (54),
// errors raised by functions it calls (P0, 2F, 38, 39), and writes refused as read-only (25006).
const USER_ERROR_CLASSES = new Set(['42', '22', '21', '0A', '54', 'P0', '2F', '38', '39']);

/** PostgreSQL's complaint about the client's own SQL, as BAD_USER_INPUT; position counted in their text. */
function userSqlError(error: unknown, offset: number): unknown {
  if (isPgscopeError(error)) return error;
  const { code, message, position, hint } = error as { code?: unknown; message?: string; position?: string; hint?: string };
  if (typeof code !== 'string' || !(code === '25006' || USER_ERROR_CLASSES.has(code.slice(0, 2)))) return error;
  const at = position ? Number(position) - offset : 0;
  const readOnly = code === '25006' ? ' (explain runs every statement in a read-only transaction)' : '';
  return badInput(`PostgreSQL rejected the statement: ${message}${readOnly}${at > 0 ? ` (at character ${at})` : ''}.`, {
    sqlState: code,
    ...(at > 0 ? { position: at } : {}),
    ...(hint ? { hint } : {}),
  });
}

/** Rewords the pool's generic timeout and privilege errors for what explain did. */
function clearerError(error: unknown, request: ExplainRequest, caps: Capabilities): unknown {
  // A lock wait (55P03) keeps the pool's wording; a statement timeout was explain's own timeoutMs.
  if (request.analyze && isPgscopeError(error, ErrorCode.QUERY_TIMEOUT) && error.sqlState === '57014') {
    return new PgscopeError(
      ErrorCode.QUERY_TIMEOUT,
      `EXPLAIN ANALYZE ran longer than timeoutMs (${request.timeoutMs} ms) and was cancelled; its transaction was rolled back.`,
      { timeoutMs: request.timeoutMs },
    );
  }
  if (isPgscopeError(error, ErrorCode.INSUFFICIENT_PRIVILEGE)) {
    const denied = error.serverMessage;
    return new PgscopeError(
      ErrorCode.INSUFFICIENT_PRIVILEGE,
      `EXPLAIN needs the privileges that running the statement needs, and role "${caps.role}" lacks one${denied ? ` (${denied})` : ''}. ` +
        `Grant them to that role (for reads: GRANT SELECT ON <table> TO ${caps.role}, or pg_read_all_data on PostgreSQL 14+).`,
    );
  }
  return error;
}
