// Executes an IndexPlan on a dedicated DDL session (never the read pool: its statement_timeout
// would kill a long build). A plain table gets CREATE INDEX CONCURRENTLY outside any transaction.
// A partitioned table gets the non-blocking sequence of DESIGN.md: CREATE INDEX ... ON ONLY parent
// (catalog only, brief lock), a concurrent build per leaf, each leaf's validity checked before
// ATTACH (ATTACH accepts an invalid leaf, and the parent would then stay invalid), and the
// parent's validity at the end. Every lock wait is bounded (lock_timeout, bounded retries). When a
// build fails, what this call created is dropped; an index another session builds never is. A
// plan that rebuilds an identical INVALID index drops that one first, unless another session
// builds it by then.
import { leavesOf } from '../../db/fragments.js';
import type { Queryable } from '../../db/pool.js';
import { translateDefinitionError, translateIndexBuildError } from '../../db/pgErrors.js';
import { ErrorCode, PgscopeError, isPgscopeError } from '../../errors.js';
import { buildingElsewhere, dropLeftoverIndex, lookupIndex } from './cleanup.js';
import { isCancelled, prepareDdlSession, withLockRetries, type DdlEventHandler, type LockRetryOptions } from '../lockRetry.js';
import type { IndexPlan, PlannedStatement } from '../plan.js';
import { quoteIdent } from '../../sql/quote.js';
import { SqlState, sqlStateOf } from '../../db/sqlState.js';

export interface BuildOptions extends LockRetryOptions {
  /** Called at each statement's start and end, on retries and on cleanup (change log, progress); awaited. */
  onProgress?: DdlEventHandler;
}

export interface BuildOutcome {
  schema: string;
  name: string;
  /** The statements executed, in order (cleanup and retried attempts included). */
  executedSql: string[];
  durationMs: number;
  /** On-disk size of the index; for a partitioned index, summed over its leaf indexes. */
  sizeBytes: bigint;
  valid: boolean;
  /** plan.existing: an identical index was there already, nothing was built. */
  alreadyExisted: boolean;
}

type Target = { schema: string; name: string };

const CONCURRENT_BUILD = /^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b/i;
const PLAIN_CREATE = /^\s*CREATE\s+(UNIQUE\s+)?INDEX\b/i;
const ATTACH = /^\s*ALTER\s+INDEX\b[\s\S]*\bATTACH\s+PARTITION\b/i;

/** One build: the session, what ran, and what it created (to undo on failure). */
class BuildRun {
  readonly executed: string[] = [];
  /** Indexes this run started to create (they did not exist before), in creation order. */
  readonly created: Array<Target & { partitioned: boolean }> = [];

  constructor(
    readonly session: Queryable,
    readonly pid: number,
    readonly options: BuildOptions,
  ) {}

  /** Runs one planned statement with bounded lock retries; a timed-out attempt's leftover is dropped first. */
  async run(step: PlannedStatement, leftover: Target | null = null): Promise<void> {
    const onEvent = this.options.onProgress;
    await withLockRetries(
      step,
      { ...this.options, onEvent },
      async () => {
        await onEvent?.({ kind: 'start', sql: step.sql, purpose: step.purpose });
        const started = performance.now();
        this.executed.push(step.sql);
        await this.session.query(step.sql);
        await onEvent?.({ kind: 'done', sql: step.sql, purpose: step.purpose, durationMs: performance.now() - started });
      },
      async () => {
        if (leftover) await this.dropLeftover(leftover, false);
      },
    );
  }

  /** Refuses to build over an index of the same name: it is not this run's to replace or drop. */
  async claim(target: Target, partitioned: boolean): Promise<void> {
    if (await lookupIndex(this.session, target.schema, target.name)) {
      throw new PgscopeError(
        ErrorCode.ALREADY_EXISTS,
        `An index named ${target.schema}.${target.name} already exists; choose another name.`,
        {
          schema: target.schema,
          name: target.name,
        },
      );
    }
    this.created.push({ ...target, partitioned });
  }

  /** Drops the INVALID index the plan builds again (its first statement), if it is still INVALID and nobody builds it. */
  async replace(target: Target, drop: PlannedStatement): Promise<void> {
    const state = await lookupIndex(this.session, target.schema, target.name);
    if (!state) return;
    const building = !state.valid && (await buildingElsewhere(this.session, state, this.pid));
    if (state.valid || building) {
      const what = state.valid ? 'became valid (another session rebuilt it)' : 'is being built by another session';
      throw new PgscopeError(
        ErrorCode.ALREADY_EXISTS,
        `The INVALID index ${target.schema}.${target.name} this change was to build again ${what} since it was planned; nothing was changed. ` +
          'Apply it again once that build ends.',
        { reason: state.valid ? 'REBUILT_ELSEWHERE' : 'BEING_BUILT', schema: target.schema, name: target.name },
      );
    }
    await this.run(drop);
  }

  async dropLeftover(target: Target, evenIfValid: boolean): Promise<void> {
    const step = {
      sql: `DROP INDEX ${quoteIdent(target.schema)}.${quoteIdent(target.name)}`,
      purpose: `drop the index ${target.schema}.${target.name}`,
    };
    await withLockRetries(step, this.options, async () => {
      const sql = await dropLeftoverIndex(this.session, { ...target, ownPid: this.pid, evenIfValid }, this.options.onProgress);
      if (sql) this.executed.push(sql);
    });
  }

  /**
   * Undoes what this run created: the partitioned parent first (dropping it drops the leaves
   * attached to it), then leaf indexes left unattached. Returns the names it could not drop.
   */
  async cleanup(): Promise<string[]> {
    const failed: string[] = [];
    const ordered = [...this.created.filter((c) => c.partitioned), ...this.created.filter((c) => !c.partitioned)];
    for (const target of ordered) {
      try {
        // A leaf index this run built is dropped even when valid; a parent only while invalid.
        await this.dropLeftover(target, !target.partitioned);
        // Still there: another session builds on the table, and pgscope never drops in doubt.
        if (await lookupIndex(this.session, target.schema, target.name)) failed.push(`${target.schema}.${target.name}`);
      } catch {
        failed.push(`${target.schema}.${target.name}`);
      }
    }
    return failed;
  }
}

/**
 * Builds the index `plan` describes on `session`: a dedicated connection outside any transaction,
 * without a client-side deadline (Database.withClient(work, { statementTimeoutMs: 0 })). Its
 * statement_timeout is turned off and lock_timeout set here.
 */
export async function buildIndex(session: Queryable, plan: IndexPlan, options: BuildOptions): Promise<BuildOutcome> {
  const started = performance.now();
  const pid = await prepareDdlSession(session, options.lockTimeoutMs);
  if (plan.existing) {
    const measured = await measureIndex(session, plan.existing.schema, plan.existing.name);
    return {
      schema: plan.existing.schema,
      name: plan.existing.name,
      executedSql: [],
      durationMs: performance.now() - started,
      ...measured,
      alreadyExisted: true,
    };
  }
  const run = new BuildRun(session, pid, options);
  try {
    let steps = plan.statements;
    if (plan.replaces) {
      await run.replace(plan.replaces, steps[0]!);
      steps = steps.slice(1);
    }
    if (plan.partitioned) await buildPartitioned(run, plan, steps);
    else await buildPlain(run, plan, steps);
    const measured = await measureIndex(session, plan.schema, plan.name);
    if (!measured.valid) throw invalidParent(plan);
    return {
      schema: plan.schema,
      name: plan.name,
      executedSql: run.executed,
      durationMs: performance.now() - started,
      ...measured,
      alreadyExisted: false,
    };
  } catch (error) {
    const leftovers = await run.cleanup();
    throw buildError(error, plan, leftovers);
  }
}

async function buildPlain(run: BuildRun, plan: IndexPlan, steps: PlannedStatement[]): Promise<void> {
  const target = { schema: plan.schema, name: plan.name };
  for (const step of steps) {
    if (PLAIN_CREATE.test(step.sql)) await run.claim(target, false);
    await run.run(step, CONCURRENT_BUILD.test(step.sql) ? target : null);
  }
}

/**
 * The partitioned sequence. Statements are matched to plan.leaves by order: the k-th concurrent
 * build and the k-th ATTACH are those of leaves[k]; the one plain CREATE INDEX is the ON ONLY parent.
 */
async function buildPartitioned(run: BuildRun, plan: IndexPlan, steps: PlannedStatement[]): Promise<void> {
  const builds = new Map<number, PlannedStatement>();
  let buildCount = 0;
  let attachCount = 0;
  for (const step of steps) {
    if (CONCURRENT_BUILD.test(step.sql)) {
      const leaf = leafAt(plan, buildCount);
      builds.set(buildCount, step);
      buildCount += 1;
      await run.claim({ schema: leaf.schema, name: leaf.indexName }, false);
      await run.run(step, { schema: leaf.schema, name: leaf.indexName });
    } else if (PLAIN_CREATE.test(step.sql)) {
      await run.claim({ schema: plan.schema, name: plan.name }, true);
      await run.run(step);
    } else if (ATTACH.test(step.sql)) {
      const leaf = leafAt(plan, attachCount);
      await ensureLeafValid(run, { schema: leaf.schema, name: leaf.indexName }, builds.get(attachCount));
      attachCount += 1;
      await run.run(step);
    } else {
      await run.run(step);
    }
  }
}

function leafAt(plan: IndexPlan, position: number): IndexPlan['leaves'][number] {
  const leaf = plan.leaves[position];
  if (!leaf) throw new Error(`IndexPlan for ${plan.schema}.${plan.name} has more leaf statements than leaves.`);
  return leaf;
}

/** ATTACH takes an invalid leaf index and leaves the parent invalid: rebuild such a leaf once, else fail. */
async function ensureLeafValid(run: BuildRun, leaf: Target, build: PlannedStatement | undefined): Promise<void> {
  const state = await lookupIndex(run.session, leaf.schema, leaf.name);
  if (state?.valid) return;
  if (build) {
    await run.dropLeftover(leaf, false);
    await run.run(build, leaf);
    if ((await lookupIndex(run.session, leaf.schema, leaf.name))?.valid) return;
  }
  throw new PgscopeError(
    ErrorCode.UNSUPPORTED,
    `The index ${leaf.schema}.${leaf.name} on a partition is invalid even after a rebuild, so it was not attached; the build was undone.`,
    { schema: leaf.schema, name: leaf.name },
  );
}

/** Validity and size of the index; a partitioned index's size is the sum of its leaf indexes. */
async function measureIndex(session: Queryable, schema: string, name: string): Promise<{ valid: boolean; sizeBytes: bigint }> {
  const [row] = await session.query<{ valid: boolean; size_bytes: bigint }>(
    /* SQL */ `
    SELECT
      i.indisvalid AS valid,
      (
        SELECT coalesce(sum(pg_relation_size(leaf.relid)), 0)
        FROM (${leavesOf('c')}
        ) leaf
      )::int8 AS size_bytes
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_index i ON i.indexrelid = c.oid
    WHERE n.nspname = $1
      AND c.relname = $2`,
    [schema, name],
  );
  if (!row)
    throw new PgscopeError(ErrorCode.NOT_FOUND, `The index ${schema}.${name} vanished during its build (dropped by another session?).`);
  return { valid: row.valid, sizeBytes: row.size_bytes };
}

function invalidParent(plan: IndexPlan): PgscopeError {
  return new PgscopeError(
    ErrorCode.UNSUPPORTED,
    `The partitioned index ${plan.schema}.${plan.name} stayed invalid after every leaf was attached: a partition has no index ` +
      'attached to it (one added during the build, or a sub-partitioned partition). The build was undone; plan it again.',
  );
}

/** The error a client sees for a failed build: typed, saying what was undone (server text stays in the log). */
function buildError(error: unknown, plan: IndexPlan, leftovers: string[]): unknown {
  const undone = leftovers.length
    ? ` pgscope could not drop ${leftovers.join(', ')}: drop ${leftovers.length === 1 ? 'it' : 'them'} by hand (DROP INDEX CONCURRENTLY).`
    : ' What the build had created was dropped.';
  const origin = originOf(error);
  const target = `${plan.schema}.${plan.name}`;
  if (isCancelled(error)) {
    return new PgscopeError(
      ErrorCode.QUERY_TIMEOUT,
      `The build of ${target} was cancelled by another session (pg_cancel_backend) or by the server.${undone}`,
      {},
      origin,
    );
  }
  const onRows = translateIndexBuildError(error, target, undone.trim());
  if (onRows) return onRows;
  if (isPgscopeError(error))
    return new PgscopeError(error.code, error.message + (error.code === ErrorCode.ALREADY_EXISTS ? '' : undone), error.extensions, origin);
  if (origin.sqlState === SqlState.INVALID_OBJECT_DEFINITION) {
    return new PgscopeError(
      ErrorCode.BAD_USER_INPUT,
      `The index ${target} uses a function that is not IMMUTABLE (now(), current_date ...) in its expression or predicate.${undone}`,
      {},
      origin,
    );
  }
  if (origin.sqlState === SqlState.DUPLICATE_TABLE) {
    return new PgscopeError(
      ErrorCode.ALREADY_EXISTS,
      `A relation with the name of ${target} (or of one of its leaf indexes) already exists.`,
      {},
      origin,
    );
  }
  // what planning would have refused had it been able to analyze the definition (no TEMPORARY privilege)
  return translateDefinitionError(error, `The index ${target}`) ?? error;
}

/** What a typed error keeps of the server's: the SQLSTATE and message (for the log, never sent). */
function originOf(error: unknown): { sqlState?: string; serverMessage?: string } {
  const serverMessage = isPgscopeError(error) ? error.serverMessage : error instanceof Error ? error.message : undefined;
  return { sqlState: sqlStateOf(error), serverMessage };
}
