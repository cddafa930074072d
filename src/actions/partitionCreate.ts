// createPartitions, executed: each planned partition is created on the DDL session, with a short
// lock_timeout and bounded retries. A range with rows waiting in the DEFAULT partition takes the
// move path (DESIGN.md, Partitions): standalone table + CHECK, then in one transaction lock the
// parent against writes, move the rows out of the default, ATTACH, commit. No row is lost: the rows
// move inside the transaction that attaches, and writes to the parent wait for it instead of failing.
import type { Queryable } from '../db/pool.js';
import { ErrorCode, PgscopeError } from '../errors.js';
import { DEFAULT_LOCK_RETRY, type LockRetryOptions, setLockTimeout, sqlStateOf, withLockRetries } from './lockRetry.js';
import type { PartitionPlan, PlannedPartition } from './partitionPlan.js';
import { createPartitionOf, moveStatements, type PartitionBounds } from './partitionStatements.js';
import type { PlannedStatement } from './plan.js';

export interface CreatedPartition {
  schema: string;
  name: string;
  from: string;
  to: string;
  /** Rows moved into it from the DEFAULT partition. */
  rowsMoved: number;
}

export interface CreatePartitionsResult {
  created: CreatedPartition[];
  /** Every statement sent, in order, retries and rollbacks included. */
  sql: string[];
  warnings: string[];
}

/** 23514: check_violation; here, a row of the new range in the DEFAULT partition. */
const DEFAULT_HOLDS_ROWS = '23514';

class Runner {
  readonly sql: string[] = [];
  readonly warnings: string[] = [];

  constructor(
    readonly session: Queryable,
    readonly policy: LockRetryOptions,
    readonly onStatement?: (sql: string) => Promise<void>,
  ) {}

  async run<Row>(statement: PlannedStatement | string): Promise<Row[]> {
    const sql = typeof statement === 'string' ? statement : statement.sql;
    this.sql.push(sql);
    await this.onStatement?.(sql);
    return this.session.query<Row>(sql);
  }
}

/**
 * Creates the partitions of `plan`, in order; stops at the first failure (those created stay).
 * `onStatement` hears each statement before it is sent (the change log records it).
 */
export async function executePartitionPlan(
  session: Queryable,
  plan: PartitionPlan,
  policy: LockRetryOptions = DEFAULT_LOCK_RETRY,
  onStatement?: (sql: string) => Promise<void>,
): Promise<CreatePartitionsResult> {
  const runner = new Runner(session, policy, onStatement);
  const created: CreatedPartition[] = [];
  await setLockTimeout(session, policy.lockTimeoutMs);
  for (const partition of plan.partitions) {
    const rowsMoved = await createOne(runner, plan, partition).catch((error: unknown) => {
      throw createdMeanwhile(error, partition) ?? error;
    });
    created.push({ schema: partition.schema, name: partition.name, from: partition.from, to: partition.to, rowsMoved });
  }
  return { created, sql: runner.sql, warnings: runner.warnings };
}

function createOne(runner: Runner, plan: PartitionPlan, partition: PlannedPartition): Promise<number> {
  return partition.moveFromDefault && plan.defaultPartition ? createByMove(runner, plan, partition) : createDirect(runner, plan, partition);
}

/**
 * Another session created the name (42P07) or a partition of that range (42P17: "would overlap")
 * between planning and now, for instance a second createPartitions: planning again finds nothing to do.
 */
function createdMeanwhile(error: unknown, partition: PartitionBounds): PgscopeError | null {
  const state = sqlStateOf(error);
  if (state !== '42P07' && state !== '42P17') return null;
  return new PgscopeError(
    ErrorCode.ALREADY_EXISTS,
    `${partition.schema}.${partition.name} or another partition of [${partition.from}, ${partition.to}) was created by another session meanwhile; ` +
      'run the request again (it plans afresh and skips existing ranges).',
  );
}

/** CREATE TABLE ... PARTITION OF; when rows of the range reached the default since planning (23514), the move path. */
async function createDirect(runner: Runner, plan: PartitionPlan, partition: PartitionBounds): Promise<number> {
  try {
    const create = createPartitionOf(plan, partition);
    await withLockRetries({ sql: create.sql, purpose: `create ${partition.schema}.${partition.name}` }, runner.policy, () => runner.run(create));
    return 0;
  } catch (error) {
    if (sqlStateOf(error) !== DEFAULT_HOLDS_ROWS || !plan.defaultPartition) throw error;
    return createByMove(runner, plan, partition);
  }
}

async function createByMove(runner: Runner, plan: PartitionPlan, partition: PartitionBounds | PlannedPartition): Promise<number> {
  const steps = moveStatements(plan, partition);
  await runner.run(steps.createStandalone);
  let rowsMoved: number;
  try {
    await runner.run(steps.addCheck);
    rowsMoved = await moveAndAttach(runner, partition, steps);
  } catch (error) {
    // The transaction rolled back: the standalone table is empty and not attached; leave no trace.
    await runner.run(steps.dropStandalone).catch(() => undefined);
    throw error;
  }
  try {
    const step = { sql: steps.dropCheck.sql, purpose: `drop the temporary CHECK of ${partition.schema}.${partition.name}` };
    await withLockRetries(step, runner.policy, () => runner.run(steps.dropCheck));
  } catch {
    // Harmless where it is (the partition bound says the same); only a later ALTER would notice it.
    runner.warnings.push(`The temporary CHECK ${partition.name}.pgscope_partition_bounds could not be dropped; drop it later (ALTER TABLE ... DROP CONSTRAINT).`);
  }
  return rowsMoved;
}

/**
 * One transaction: lock the parent against writes (an insert routed to the DEFAULT partition under
 * the old partition map would otherwise fail with 23514 once ATTACH commits), move the range's rows,
 * attach. Retried on lock timeout, and on 23514 (a row inserted straight into the DEFAULT partition,
 * past the parent's lock, during the move): the rollback undid everything, so a retry starts clean.
 */
async function moveAndAttach(runner: Runner, partition: PartitionBounds, steps: ReturnType<typeof moveStatements>): Promise<number> {
  const step = { sql: steps.attach.sql, purpose: `move the DEFAULT partition's rows into ${partition.schema}.${partition.name}` };
  let conflicts = 0;
  for (;;) {
    try {
      return await withLockRetries(step, runner.policy, () => moveOnce(runner, steps));
    } catch (error) {
      if (sqlStateOf(error) !== DEFAULT_HOLDS_ROWS) throw error;
      conflicts += 1;
      if (conflicts > runner.policy.retries) {
        throw new PgscopeError(
          ErrorCode.DEFAULT_PARTITION_CONFLICT,
          `Could not ${step.purpose}: rows of [${partition.from}, ${partition.to}) kept arriving in the DEFAULT partition directly (not through the parent) ` +
            `through ${conflicts} attempts; nothing was changed. Stop writing to the DEFAULT partition by name, then retry.`,
        );
      }
    }
  }
}

async function moveOnce(runner: Runner, steps: ReturnType<typeof moveStatements>): Promise<number> {
  await runner.run('BEGIN');
  try {
    await setLockTimeout(runner.session, runner.policy.lockTimeoutMs, true);
    await runner.run(steps.lockParent);
    const [moved] = await runner.run<{ rows_moved: bigint }>(steps.moveRows);
    await runner.run(steps.attach);
    await runner.run('COMMIT');
    return Number(moved!.rows_moved);
  } catch (error) {
    await runner.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
