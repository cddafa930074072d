// The change log (pgscope.change_log): the types of a change, and the statements that write and
// read its entries. The path every mutation takes through it is recordChange (changeRun.ts). A
// change that cannot be recorded is not made: without pgscope's schema, mutations refuse.
import type { Config } from '../config.js';
import { readOnlyReplicaRefusal, type Capabilities } from '../db/capabilities.js';
import type { Database, Db, Queryable, Session } from '../db/pool.js';
import { ErrorCode, PgscopeError } from '../errors.js';
import type { PlannedStatement } from './plan.js';
import type { Credential } from '../config.js';
import { quoteIdent } from '../sql/quote.js';

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
  idempotency_key: string | null;
  /** The plan of a change made with an idempotency key (JSON), returned again to a repeated request. */
  plan: unknown;
}

/** An object a change creates; recorded before it runs, so that recovery can find it after a crash. */
export type CreatedObject =
  | {
      kind: 'index';
      schema: string;
      name: string;
      /** For the index of one partition: the partitioned index it is built for (its build is complete only once that one is valid). */
      leafOf?: { schema: string; name: string };
    }
  | {
      /** The standalone table createPartitions fills before attaching it (its rows are copies until the attach commits). */
      kind: 'table';
      schema: string;
      name: string;
      /** pg_class oid, recorded right after CREATE TABLE: recovery drops only the table that still has it. */
      oid?: number;
    };

/** The columns of a ChangeLogRow, for statements that return entries. */
export const COLUMNS = /* SQL */ `
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
  creates,
  idempotency_key,
  plan`;

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
  /** A validated idempotency key (not part of `input`: a repeated request is compared on `input`). */
  idempotencyKey?: string;
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
  /** Records an object in the entry's `creates` before it is created, or (same kind, schema and name) completes its record, with its oid. */
  created(object: CreatedObject): Promise<void>;
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
  /** The target's name: change ids are per target. */
  target: string;
}

export interface ChangeSteps<P extends ChangePlan> {
  /** Validates the input against the catalog (on the read pool) and builds the statements; executes nothing. */
  plan(db: Db): Promise<P>;
  /** Runs the plan on the DDL session; what it returns is stored as the entry's outcome. */
  execute(session: Session, plan: P, log: ChangeLogger): Promise<unknown>;
}

/** How an entry ends (finishEntry). */
export interface Finish {
  status: ChangeStatus;
  outcome?: unknown;
  code?: string;
  message?: string;
  durationMs?: number;
}

/** Records that the change started `sql` (so a crash leaves the running statement on record). */
export async function appendStatement(db: Queryable, id: string, sql: string): Promise<void> {
  await db.query(`UPDATE pgscope.change_log SET statements = array_append(statements, $2) WHERE id = $1`, [id, sql]);
}

/** Replaces the entry of `creates` with the same kind, schema and name in place, or appends it. */
const RECORD_CREATED_SQL = /* SQL */ `
  UPDATE pgscope.change_log
  SET
    creates = CASE
      WHEN creates @> jsonb_build_array(jsonb_build_object('kind', $2::jsonb -> 'kind', 'schema', $2::jsonb -> 'schema', 'name', $2::jsonb -> 'name')) THEN (
        SELECT
          jsonb_agg(
            CASE
              WHEN e.object ->> 'kind' = $2::jsonb ->> 'kind'
                AND e.object ->> 'schema' = $2::jsonb ->> 'schema'
                AND e.object ->> 'name' = $2::jsonb ->> 'name'
              THEN $2::jsonb
              ELSE e.object
            END
            ORDER BY e.n
          )
        FROM jsonb_array_elements(creates) WITH ORDINALITY e(object, n)
      )
      ELSE creates || jsonb_build_array($2::jsonb)
    END
  WHERE id = $1`;

/** Records an object the change is about to create, or completes its record (its oid) once created. */
export async function recordCreated(db: Queryable, id: string, object: CreatedObject): Promise<void> {
  await db.query(RECORD_CREATED_SQL, [id, JSON.stringify(object)]);
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
    creates,
    idempotency_key,
    plan,
    session_pid
  )
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
  RETURNING ${COLUMNS}`;

export async function insertEntry(
  db: Queryable,
  ctx: ChangeContext,
  request: ChangeRequest,
  status: ChangeStatus,
  statements: string[],
  creates: CreatedObject[] = [],
  plan?: ChangePlan,
  /** The DDL session it runs on, opened before the entry is written: recovery never takes a RUNNING entry for an orphan. */
  sessionPid: number | null = null,
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
    request.idempotencyKey ?? null,
    plan === undefined ? null : JSON.stringify(plan, (_, value) => (typeof value === 'bigint' ? String(value) : value)),
    sessionPid,
  ]);
  return row!;
}

/** How long an idempotency key names its change (README, "Idempotency keys"). */
export const IDEMPOTENCY_KEY_HOURS = 24;

const DELETE_EXPIRED_KEYS_SQL = /* SQL */ `
  DELETE FROM pgscope.idempotency_key
  WHERE claimed_at < now() - make_interval(hours => ${IDEMPOTENCY_KEY_HOURS})`;

/** Waits for a concurrent claim of the same key to commit or roll back (a unique index insert does). */
const CLAIM_KEY_SQL = /* SQL */ `
  INSERT INTO pgscope.idempotency_key (key, change_id)
  VALUES ($1, $2)
  ON CONFLICT (key) DO NOTHING
  RETURNING change_id::text AS change_id`;

/** The change an idempotency key in force names. */
export async function keyedEntry(db: Queryable, key: string): Promise<ChangeLogRow | undefined> {
  const [row] = await db.query<ChangeLogRow>(
    /* SQL */ `
    SELECT ${COLUMNS}
    FROM pgscope.change_log
    WHERE id = (
      SELECT k.change_id
      FROM pgscope.idempotency_key k
      WHERE k.key = $1
        AND k.claimed_at >= now() - make_interval(hours => ${IDEMPOTENCY_KEY_HOURS})
    )`,
    [key],
  );
  return row;
}

export type OpenedEntry = { claimed: true; entry: ChangeLogRow } | { claimed: false; earlier: ChangeLogRow };

/**
 * Inserts a change's entry and claims its idempotency key in one transaction: when the key names
 * another change already (committed, or committed while this waited for it), nothing is inserted
 * and that change is returned. Coordinated by PostgreSQL, so that replicas agree.
 */
export async function insertKeyedEntry(
  database: Database,
  ctx: ChangeContext,
  request: ChangeRequest & { idempotencyKey: string },
  status: ChangeStatus,
  creates: CreatedObject[],
  plan: ChangePlan,
  sessionPid: number,
): Promise<OpenedEntry> {
  // A claim lost to an expiry between the two statements is taken again: a few tries are plenty.
  for (let attempt = 0; attempt < 3; attempt++) {
    const opened = await database.withClient(async (client): Promise<OpenedEntry | undefined> => {
      await client.query('BEGIN');
      try {
        await client.query(DELETE_EXPIRED_KEYS_SQL);
        const entry = await insertEntry(client, ctx, request, status, [], creates, plan, sessionPid);
        const [claim] = await client.query(CLAIM_KEY_SQL, [request.idempotencyKey, entry.id]);
        await client.query(claim ? 'COMMIT' : 'ROLLBACK');
        if (claim) return { claimed: true, entry };
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      const earlier = await keyedEntry(client, request.idempotencyKey);
      return earlier && { claimed: false, earlier };
    });
    if (opened) return opened;
  }
  throw new Error(`The idempotency key "${request.idempotencyKey}" could not be claimed nor read.`);
}

/** The earlier change is the same request: same mutation, same arguments (wait aside: it only says how to answer). */
export async function isSameRequest(db: Queryable, earlier: ChangeLogRow, request: ChangeRequest): Promise<boolean> {
  const [row] = await db.query<{ same: boolean }>(
    /* SQL */ `
    SELECT
      c.action = $2 AND (c.input - 'wait') = ($3::jsonb - 'wait') AS same
    FROM pgscope.change_log c
    WHERE c.id = $1`,
    [earlier.id, request.action, JSON.stringify(request.input)],
  );
  return row?.same === true;
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

export async function finishEntry(db: Queryable, id: string, finish: Finish): Promise<void> {
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

/**
 * Adds what recovery did to a closed entry: a sentence after its message (not twice in a row: each
 * start retries what stayed locked or in use), and `details` (an object) merged into its outcome,
 * so that what the change itself recorded stays.
 */
export async function recordRecovery(db: Queryable, id: string, sentence: string, details: Record<string, unknown>): Promise<void> {
  await db.query(
    /* SQL */ `
    UPDATE pgscope.change_log
    SET
      error_message = CASE
        WHEN right(error_message, length($2)) = $2 THEN error_message
        ELSE coalesce(error_message || ' ', '') || $2
      END,
      outcome = coalesce(outcome, '{}'::jsonb) || $3::jsonb
    WHERE id = $1`,
    [id, sentence, JSON.stringify(details)],
  );
}

/** Mutations without the change log: refused before anything runs, with the grant that enables it. */
export function changeLogUnavailable(caps: Capabilities): PgscopeError {
  if (caps.readOnlyReplica) return readOnlyReplicaRefusal(caps);
  return new PgscopeError(
    ErrorCode.FORBIDDEN,
    `Changes are disabled: pgscope's change log (schema pgscope) is not set up in database "${caps.database}", and a change ` +
      'that cannot be recorded is not made. pgscope creates it at start-up when PGSCOPE_ADMIN_TOKEN is set and its role may: ' +
      `GRANT CREATE ON DATABASE ${quoteIdent(caps.database)} TO ${quoteIdent(caps.role)}; then restart pgscope.`,
    { reason: 'CHANGE_LOG_UNAVAILABLE' },
  );
}
