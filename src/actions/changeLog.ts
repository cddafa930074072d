// The change log (pgscope.change_log) and the one path every mutation takes through it: plan,
// record, open the DDL session, execute, record the outcome. A change that cannot be recorded is
// not made: without pgscope's schema, mutations refuse before running anything.
import { performance } from 'node:perf_hooks';
import type { Config } from '../config.js';
import type { Capabilities } from '../db/capabilities.js';
import { quoteIdent, type Database, type Db, type Queryable, type Session } from '../db/pool.js';
import { ErrorCode, isPgscopeError, PgscopeError } from '../errors.js';
import type { Credential } from '../http/auth.js';
import { backgroundJobs } from './jobs.js';
import type { PlannedStatement } from './plan.js';

export type ChangeStatus = 'PLANNED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'INTERRUPTED';

export interface ChangeLogRow {
  id: string;
  requested_at: Date;
  finished_at: Date | null;
  action: string;
  target_schema: string | null;
  target_name: string | null;
  statements: string[];
  dry_run: boolean;
  status: ChangeStatus;
  error_code: string | null;
  error_message: string | null;
  actor: string;
  input: unknown;
  outcome: unknown;
  duration_ms: number | null;
  session_pid: number | null;
  helps_query_ids: string[];
  creates: CreatedObject[];
}

/** An object a change creates; recorded before it runs, so that recovery can find it after a crash. */
export interface CreatedObject {
  kind: 'index';
  schema: string;
  name: string;
  /** For the index of one partition: the partitioned index it is built for (its build is complete only once that one is valid). */
  leafOf?: { schema: string; name: string };
}

const COLUMNS = /* SQL */ `
  id::text AS id,
  requested_at,
  finished_at,
  action,
  target_schema,
  target_name,
  statements,
  dry_run,
  status,
  error_code,
  error_message,
  actor,
  input,
  outcome,
  duration_ms,
  session_pid,
  helps_query_ids,
  creates`;

/** What a mutation asks to record. `input` is what the client sent (never a token). */
export interface ChangeRequest {
  action: string;
  target: { schema: string | null; name: string | null };
  input: Record<string, unknown>;
  dryRun: boolean;
  /** false: return the RUNNING entry at once and run the change in the background. Default true. */
  wait?: boolean;
  /** pg_stat_statements queryids the change is meant to speed up. */
  helpsQueryIds?: string[];
}

/** A validated change: the statements it will run, in order (a dry run shows and records them). */
export interface ChangePlan {
  statements: PlannedStatement[];
  /** The target as the catalog names it, when planning resolved it. */
  target?: { schema: string; name: string };
  /** What executing it creates (indexes a crash could leave INVALID). */
  creates?: CreatedObject[];
}

/** Lets an executor record each statement as it starts it (so a crash leaves the running one on record). */
export interface ChangeLogger {
  executed(sql: string): Promise<void>;
}

/** The parts of the request context a change needs. */
export interface ChangeContext {
  /** The request's view of the pool: planning runs here (counted, within the request's limits). */
  db: Db;
  /** The pool itself: the change log is written here, also after the request returned. */
  database: Database;
  config: Pick<Config, 'ddlLockTimeoutMs'>;
  ownSchemaReady: boolean;
  credential: Credential;
  capabilities(): Promise<Capabilities>;
}

export interface ChangeSteps<P extends ChangePlan> {
  /** Validates the input against the catalog (on the read pool) and builds the statements; executes nothing. */
  plan(db: Db): Promise<P>;
  /** Runs the plan on the DDL session; what it returns is stored as the entry's outcome. */
  execute(session: Session, plan: P, log: ChangeLogger): Promise<unknown>;
}

/**
 * Plans, records and runs one change. Returns its entry: PLANNED for a dry run, SUCCEEDED when it
 * ran, RUNNING with wait: false. A failure is recorded (FAILED, with its code), then thrown.
 */
export async function recordChange<P extends ChangePlan>(ctx: ChangeContext, request: ChangeRequest, steps: ChangeSteps<P>): Promise<ChangeLogRow> {
  if (!ctx.ownSchemaReady) throw changeLogUnavailable(await ctx.capabilities());
  const db = ctx.database;
  let plan: P;
  try {
    plan = await steps.plan(ctx.db);
  } catch (error) {
    const entry = await insertEntry(db, ctx, request, 'FAILED', []);
    await finishEntry(db, entry.id, failure(error));
    throw withChangeId(error, entry.id);
  }
  const target = plan.target ?? request.target;
  const sql = plan.statements.map((statement) => statement.sql);
  if (request.dryRun) return insertEntry(db, ctx, { ...request, target }, 'PLANNED', sql, plan.creates);

  const entry = await insertEntry(db, ctx, { ...request, target }, 'RUNNING', [], plan.creates);
  let session: Session;
  try {
    session = await ctx.database.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs: ctx.config.ddlLockTimeoutMs });
  } catch (error) {
    await finishEntry(db, entry.id, failure(error));
    throw withChangeId(error, entry.id);
  }
  const run = runOnSession(db, entry.id, session, async () => {
    await db.query(`UPDATE pgscope.change_log SET session_pid = $2 WHERE id = $1`, [entry.id, session.pid]);
    return steps.execute(session, plan, logger(db, entry.id));
  });
  if (request.wait === false) {
    // The outcome, failure included, is in the change log: that is where the client looks.
    const settled = run.done.catch(() => undefined);
    backgroundJobs.start({ changeId: entry.id, interrupt: run.interrupt }, () => settled);
    // As recorded before it started: reading it again could already find it finished.
    return { ...entry, session_pid: session.pid };
  }
  await run.done;
  return (await readEntry(db, entry.id))!;
}

/** Executes on the session and records the outcome; `interrupt` cancels it and records INTERRUPTED. */
function runOnSession(db: Queryable, id: string, session: Session, work: () => Promise<unknown>) {
  let interrupted = false;
  const started = performance.now();
  const done = (async () => {
    try {
      const outcome = await work();
      await finishEntry(db, id, { status: 'SUCCEEDED', outcome, durationMs: performance.now() - started });
    } catch (error) {
      const recorded = interrupted
        ? { ...failure(error), status: 'INTERRUPTED' as const, message: 'pgscope stopped while the change ran; its statement was cancelled.' }
        : failure(error);
      await finishEntry(db, id, { ...recorded, durationMs: performance.now() - started });
      throw withChangeId(error, id);
    } finally {
      await session.close();
    }
  })();
  const interrupt = async () => {
    interrupted = true;
    await session.cancel();
  };
  return { done, interrupt };
}

function logger(db: Queryable, id: string): ChangeLogger {
  return {
    executed: async (sql) => {
      await db.query(`UPDATE pgscope.change_log SET statements = array_append(statements, $2) WHERE id = $1`, [id, sql]);
    },
  };
}

interface Finish {
  status: ChangeStatus;
  outcome?: unknown;
  code?: string;
  message?: string;
  durationMs?: number;
}

/** What a failure leaves on record: a typed error's code and message; anything else stays in the log only. */
function failure(error: unknown): Finish {
  if (isPgscopeError(error)) return { status: 'FAILED', code: error.code, message: error.message };
  console.warn(`pgscope: a change failed unexpectedly: ${(error as Error)?.message ?? String(error)}`);
  return { status: 'FAILED', code: 'INTERNAL_SERVER_ERROR', message: "Unexpected error; details are in pgscope's log." };
}

/** The client finds the recorded entry of a failed change by this id (changeLog). */
function withChangeId(error: unknown, id: string): unknown {
  if (isPgscopeError(error)) error.extensions['changeId'] = id;
  return error;
}

const INSERT_SQL = /* SQL */ `
  INSERT INTO pgscope.change_log (
    action,
    target_schema,
    target_name,
    statements,
    dry_run,
    status,
    actor,
    input,
    helps_query_ids,
    creates
  )
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  RETURNING ${COLUMNS}`;

async function insertEntry(
  db: Queryable,
  ctx: ChangeContext,
  request: ChangeRequest,
  status: ChangeStatus,
  statements: string[],
  creates: CreatedObject[] = [],
): Promise<ChangeLogRow> {
  const [row] = await db.query<ChangeLogRow>(INSERT_SQL, [
    request.action,
    request.target.schema,
    request.target.name,
    statements,
    request.dryRun,
    status,
    ctx.credential,
    JSON.stringify(request.input),
    request.helpsQueryIds ?? [],
    JSON.stringify(creates),
  ]);
  return row!;
}

const FINISH_SQL = /* SQL */ `
  UPDATE pgscope.change_log
  SET
    status = $2,
    outcome = $3,
    error_code = $4,
    error_message = $5,
    duration_ms = $6,
    finished_at = clock_timestamp()
  WHERE id = $1`;

async function finishEntry(db: Queryable, id: string, finish: Finish): Promise<void> {
  const outcome = finish.outcome === undefined ? null : JSON.stringify(finish.outcome);
  await db.query(FINISH_SQL, [id, finish.status, outcome, finish.code ?? null, finish.message ?? null, finish.durationMs ?? null]);
}

export async function readEntry(db: Queryable, id: string): Promise<ChangeLogRow | undefined> {
  const [row] = await db.query<ChangeLogRow>(`SELECT ${COLUMNS} FROM pgscope.change_log WHERE id = $1`, [id]);
  return row;
}

/** One page of the change log, newest first; `afterId` is the id of the last entry of the previous page. */
export async function changeLogPage(db: Queryable, limit: number, afterId: string | null): Promise<ChangeLogRow[]> {
  return db.query<ChangeLogRow>(
    /* SQL */ `
    SELECT ${COLUMNS}
    FROM pgscope.change_log
    WHERE $2::bigint IS NULL
      OR change_log.id < $2::bigint
    -- the column, not the text alias of the select list (which would sort '10' before '9')
    ORDER BY change_log.id DESC
    LIMIT $1`,
    [limit, afterId],
  );
}

/**
 * At start: changes left RUNNING whose DDL session is gone died with an earlier pgscope process.
 * They become INTERRUPTED; returns them, for the executors that clean up after their kind.
 */
export async function markInterruptedChanges(db: Queryable): Promise<ChangeLogRow[]> {
  return db.query<ChangeLogRow>(/* SQL */ `
    UPDATE pgscope.change_log AS c
    SET
      status = 'INTERRUPTED',
      finished_at = clock_timestamp(),
      error_message = 'pgscope stopped while the change ran (found at the next start).'
    WHERE c.status = 'RUNNING'
      AND NOT EXISTS (
        SELECT 1
        FROM pg_stat_activity a
        WHERE a.pid = c.session_pid
          AND a.application_name = 'pgscope-ddl'
      )
    RETURNING ${COLUMNS}`);
}

/** Changes still RUNNING whose DDL session is alive: in another pgscope, or a backend not yet aware that its client died. */
export async function runningElsewhere(db: Queryable): Promise<number> {
  const [row] = await db.query<{ count: number }>(/* SQL */ `
    SELECT
      count(*)::int AS count
    FROM pgscope.change_log c
    WHERE c.status = 'RUNNING'
      AND EXISTS (
        SELECT 1
        FROM pg_stat_activity a
        WHERE a.pid = c.session_pid
          AND a.application_name = 'pgscope-ddl'
      )`);
  return row!.count;
}

/** Adds what start-up recovery did to an INTERRUPTED entry: a sentence, and the details as its outcome. */
export async function recordRecovery(db: Queryable, id: string, sentence: string, details: unknown): Promise<void> {
  await db.query(
    /* SQL */ `
    UPDATE pgscope.change_log
    SET
      error_message = coalesce(error_message || ' ', '') || $2,
      outcome = $3
    WHERE id = $1`,
    [id, sentence, JSON.stringify(details)],
  );
}

/** Mutations without the change log: refused before anything runs, with the grant that enables it. */
export function changeLogUnavailable(caps: Capabilities): PgscopeError {
  return new PgscopeError(
    ErrorCode.FORBIDDEN,
    `Changes are disabled: pgscope's change log (schema pgscope) is not set up in database "${caps.database}", and a change ` +
      'that cannot be recorded is not made. pgscope creates it at start-up when PGSCOPE_ADMIN_TOKEN is set and its role may: ' +
      `GRANT CREATE ON DATABASE ${quoteIdent(caps.database)} TO ${quoteIdent(caps.role)}; then restart pgscope.`,
    { reason: 'CHANGE_LOG_UNAVAILABLE' },
  );
}
