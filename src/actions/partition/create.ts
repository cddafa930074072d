// createPartitions, executed: each planned partition is created on the DDL session, with a short
// lock_timeout and bounded retries. A range with no row in the DEFAULT partition is created in one
// transaction (CREATE TABLE ... PARTITION OF, then the parent's owner, grants, row-level security
// and replica identity), so the application never sees it half-made. A range with rows waiting in
// the DEFAULT partition takes the move path (move.ts). pgscope's session reads with
// row_security off: a policy that would hide rows from its copy or its delete raises an error
// instead of leaving rows behind.
import { performance } from 'node:perf_hooks';
import type { Queryable } from '../../db/pool.js';
import { ErrorCode, PgscopeError } from '../../errors.js';
import { DEFAULT_LOCK_RETRY, type LockRetryOptions, setLockTimeout } from '../lockRetry.js';
import { createByMove, DEFAULT_HOLDS_ROWS, type MoveOutcome } from './move.js';
import { unsafeRowMove } from './moveSafety.js';
import type { PartitionPlan, PlannedPartition } from './plan.js';
import { dressEarly, dressLate, NO_LOG, Runner, tableOid, type PartitionLog } from './run.js';
import { createPartitionOf, type PartitionBounds } from './statements.js';
import { SqlState, sqlStateOf } from '../../db/sqlState.js';

export interface CreatedPartition {
  schema: string;
  name: string;
  from: string;
  to: string;
  /** Rows moved into it from the DEFAULT partition. */
  rowsMoved: number;
  /** Of those, the rows moved while writes to the parent waited (arrived or changed since the copy). */
  rowsMovedUnderLock: number;
  /** How long the transaction that made it a partition held writes to the parent, ms. */
  writesHeldMs: number;
}

export interface CreatePartitionsResult {
  created: CreatedPartition[];
  /** Every statement sent, in order, retries and rollbacks included. */
  sql: string[];
  warnings: string[];
}

/**
 * Creates the partitions of `plan`, in order; stops at the first failure (those created stay).
 * `log` hears each statement before it is sent and each standalone table before it is created.
 */
export async function executePartitionPlan(
  session: Queryable,
  plan: PartitionPlan,
  policy: LockRetryOptions = DEFAULT_LOCK_RETRY,
  log: PartitionLog = NO_LOG,
): Promise<CreatePartitionsResult> {
  const runner = new Runner(session, policy, log);
  const created: CreatedPartition[] = [];
  await setLockTimeout(session, policy.lockTimeoutMs);
  await session.query(/* SQL */ `SELECT set_config('row_security', 'off', false)`);
  for (const partition of plan.partitions) {
    const outcome = await createOne(runner, plan, partition).catch((error: unknown) => {
      throw createdMeanwhile(error, partition) ?? error;
    });
    created.push({
      schema: partition.schema,
      name: partition.name,
      from: partition.from,
      to: partition.to,
      rowsMoved: outcome.rowsMoved,
      rowsMovedUnderLock: outcome.rowsMovedUnderLock,
      writesHeldMs: outcome.writesHeldMs,
    });
  }
  return { created, sql: runner.sql, warnings: runner.warnings };
}

function createOne(runner: Runner, plan: PartitionPlan, partition: PlannedPartition): Promise<Omit<MoveOutcome, 'rowsCopied'>> {
  return partition.moveFromDefault && plan.move ? createByMove(runner, plan, plan.move, partition) : createDirect(runner, plan, partition);
}

/**
 * Another session created the name (42P07) or a partition of that range (42P17: "would overlap")
 * between planning and now, for instance a second createPartitions: planning again finds nothing to do.
 */
function createdMeanwhile(error: unknown, partition: PartitionBounds): PgscopeError | null {
  const state = sqlStateOf(error);
  if (state !== SqlState.DUPLICATE_TABLE && state !== SqlState.INVALID_OBJECT_DEFINITION) return null;
  return new PgscopeError(
    ErrorCode.ALREADY_EXISTS,
    `${partition.schema}.${partition.name} or another partition of [${partition.from}, ${partition.to}) was created by another session meanwhile; ` +
      'run the request again (it plans afresh and skips existing ranges).',
  );
}

/** CREATE TABLE ... PARTITION OF and its dress in one transaction; when rows of the range reached the default since planning (23514), the move path. */
async function createDirect(runner: Runner, plan: PartitionPlan, partition: PlannedPartition): Promise<Omit<MoveOutcome, 'rowsCopied'>> {
  const started = performance.now();
  try {
    await runner.transaction(`create ${partition.schema}.${partition.name}`, async () => {
      await runner.run(createPartitionOf(plan, partition));
      const oid = await tableOid(runner.session, partition);
      await dressEarly(runner, plan.dress, partition, oid);
      await dressLate(runner, plan.dress, partition, oid);
    });
    return { rowsMoved: 0, rowsMovedUnderLock: 0, writesHeldMs: performance.now() - started };
  } catch (error) {
    if (sqlStateOf(error) !== DEFAULT_HOLDS_ROWS || !plan.move) throw error;
    if (plan.move.safety.refusal)
      throw unsafeRowMove(`${plan.schema}.${plan.table}`, [`[${partition.from}, ${partition.to})`], plan.move.safety.refusal);
    return createByMove(runner, plan, plan.move, { ...partition, moveFromDefault: true });
  }
}
