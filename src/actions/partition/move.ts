// createPartitions for a range whose rows wait in the DEFAULT partition (DESIGN.md, Partitions):
// the new table is created standalone (recorded in the change log first, with its oid right after),
// given the parent's owner and grants, filled with a copy of the range's rows while writes go on,
// given the parent's foreign keys; then one short transaction holds writes to the parent, adds the
// rows that arrived or changed since the copy (statements.ts says how they are told apart),
// deletes the range's rows from the default (session_replication_role = replica when foreign keys,
// triggers or rules would act on that delete: moveSafety.ts), attaches the table and gives
// it the parent's row-level security and replica identity. Writes wait for that transaction only. A
// copied row that changed or went away since the copy rolls the transaction back; the copy is
// redone, and the last attempt moves every row under the lock, so the move ends however busy the
// range is. No row is lost or doubled: the rows leave the default in the transaction that attaches
// the table holding them.
import { performance } from 'node:perf_hooks';
import { ErrorCode, PgscopeError } from '../../errors.js';
import { withLockRetries } from '../lockRetry.js';
import { foreignKeyStatements, type MovePlan } from './movePlan.js';
import type { PartitionPlan, PlannedPartition } from './plan.js';
import { dressEarly, dressLate, type Runner, tableOid } from './run.js';
import { moveStatements, type MoveStatements, type PartitionBounds } from './statements.js';
import { SqlState, sqlStateOf } from '../../db/sqlState.js';

/** check_violation, here: a row of the new range in the DEFAULT partition at ATTACH. */
export const DEFAULT_HOLDS_ROWS = SqlState.CHECK_VIOLATION;
/** Copies taken before the last attempt, which moves every row under the lock. */
const COPY_ATTEMPTS = 2;

export interface MoveOutcome {
  rowsMoved: number;
  /** Rows copied before writes were held (the last copy's). */
  rowsCopied: number;
  /** Rows inserted while writes were held: arrived or changed since the copy (all rows when moved under the lock). */
  rowsMovedUnderLock: number;
  /** From the LOCK statement to the end of COMMIT: how long writes to the parent waited. */
  writesHeldMs: number;
}

/** A copied row version was updated or deleted after the copy: the copy no longer matches. */
class CopyOutdated extends Error {}

export async function createByMove(runner: Runner, plan: PartitionPlan, move: MovePlan, partition: PlannedPartition): Promise<MoveOutcome> {
  const steps = moveStatements(plan, partition, move.indexes === null);
  const table = { kind: 'table' as const, schema: partition.schema, name: partition.name };
  await runner.log.created(table);
  await runner.run(steps.createStandalone);
  const oid = await tableOid(runner.session, partition);
  await runner.log.created({ ...table, oid });
  let outcome: MoveOutcome;
  try {
    await dressEarly(runner, plan.dress, partition, oid);
    await runner.run(steps.addCheck);
    outcome = await copyAndMove(runner, plan, move, partition, steps, oid);
  } catch (error) {
    await dropIfStandalone(runner, steps, oid);
    throw error;
  }
  try {
    const step = { sql: steps.dropCheck.sql, purpose: `drop the temporary CHECK of ${partition.schema}.${partition.name}` };
    await withLockRetries(step, runner.policy, () => runner.run(steps.dropCheck));
  } catch {
    // Harmless where it is (the partition bound says the same); only a later ALTER would notice it.
    runner.warnings.push(
      `The temporary CHECK ${partition.name}.pgscope_partition_bounds could not be dropped; drop it later (ALTER TABLE ... DROP CONSTRAINT).`,
    );
  }
  if (move.copyFirst) await runner.run(steps.dropCopiedVersions);
  return outcome;
}

/** After a failure: the table goes unless it became a partition (then the rows it holds are the table's). */
async function dropIfStandalone(runner: Runner, steps: MoveStatements, oid: number): Promise<void> {
  try {
    const [row] = await runner.session.query<{ standalone: boolean }>(
      /* SQL */ `SELECT NOT relispartition AS standalone FROM pg_class WHERE oid = $1`,
      [oid],
    );
    if (row?.standalone) await runner.run(steps.dropStandalone);
    await runner.run(steps.dropCopiedVersions);
  } catch {
    // the session is gone: the recorded table is left for start-up recovery
  }
}

async function copyAndMove(
  runner: Runner,
  plan: PartitionPlan,
  move: MovePlan,
  partition: PlannedPartition,
  steps: MoveStatements,
  oid: number,
): Promise<MoveOutcome> {
  let copyFirst = move.copyFirst;
  let rowsCopied = 0;
  if (copyFirst) await runner.run(steps.createCopiedVersions);
  for (let attempt = 1; ; attempt += 1) {
    // emptied every time: versions left from another copy could pass a row that was never copied for a copied one
    if (attempt > 1 || copyFirst) await runner.run(steps.emptyCopy);
    if (copyFirst) {
      const [copied] = await runner.run<{ rows_copied: bigint }>(steps.copyRows);
      rowsCopied = Number(copied!.rows_copied);
      await runner.run(steps.analyzeCopiedVersions);
    } else {
      rowsCopied = 0;
    }
    if (attempt === 1) {
      for (const statement of partition.indexStatements) await runner.run(statement);
      // ADD FOREIGN KEY locks the referenced table against writes for a moment: bounded like any DDL here
      for (const statement of copyFirst ? foreignKeyStatements(move, partition) : []) {
        await withLockRetries({ sql: statement.sql, purpose: statement.purpose }, runner.policy, () => runner.run(statement));
      }
    }
    try {
      return { ...(await lockMoveAttach(runner, plan, move, partition, steps, oid, copyFirst ? rowsCopied : null)), rowsCopied };
    } catch (error) {
      if (!(error instanceof CopyOutdated)) throw error;
      if (attempt >= COPY_ATTEMPTS) copyFirst = false;
    }
  }
}

/**
 * The transaction that holds writes: lock the parent (an insert routed to the DEFAULT partition under
 * the old partition map would otherwise fail with 23514 once ATTACH commits), move, attach, dress.
 * Retried on lock timeouts, and on 23514 at ATTACH (a row of the range in the default after all):
 * the rollback undid everything, so a retry starts clean.
 */
async function lockMoveAttach(
  runner: Runner,
  plan: PartitionPlan,
  move: MovePlan,
  partition: PartitionBounds,
  steps: MoveStatements,
  oid: number,
  /** Rows the copy took; null when nothing was copied (every row moves under the lock). */
  rowsCopied: number | null,
): Promise<Omit<MoveOutcome, 'rowsCopied'>> {
  const purpose = `move the DEFAULT partition's rows into ${partition.schema}.${partition.name}`;
  for (let conflicts = 0; ; ) {
    let lockedAt = 0;
    try {
      const moved = await runner.transaction(purpose, async () => {
        if (move.safety.suppress) await runner.run(steps.suppress);
        lockedAt = performance.now();
        await runner.run(steps.lockParent);
        let rows: { rowsMoved: number; rowsMovedUnderLock: number };
        if (rowsCopied !== null) {
          const [counts] = await runner.run<{ rows_arrived: bigint; rows_still_copied: bigint }>(steps.addArrivals);
          // Fewer: a copied version was updated or deleted since the copy. More: a row written since
          // carries a copied row's xmin (only after xid wraparound, with frozen rows); taken for a
          // copy it would be deleted and never inserted. Either way nothing is deleted yet: redo.
          if (Number(counts!.rows_still_copied) !== rowsCopied) throw new CopyOutdated();
          await runner.run(steps.deleteRows);
          rows = { rowsMoved: rowsCopied + Number(counts!.rows_arrived), rowsMovedUnderLock: Number(counts!.rows_arrived) };
        } else {
          const [counts] = await runner.run<{ rows_deleted: bigint; rows_arrived: bigint }>(steps.moveAllRows);
          rows = { rowsMoved: Number(counts!.rows_deleted), rowsMovedUnderLock: Number(counts!.rows_arrived) };
        }
        await runner.run(steps.attach);
        await dressLate(runner, plan.dress, partition, oid);
        return rows;
      });
      return { ...moved, writesHeldMs: performance.now() - lockedAt };
    } catch (error) {
      if (sqlStateOf(error) !== DEFAULT_HOLDS_ROWS) throw error;
      conflicts += 1;
      if (conflicts > runner.policy.retries) {
        throw new PgscopeError(
          ErrorCode.DEFAULT_PARTITION_CONFLICT,
          `Could not ${purpose}: rows of [${partition.from}, ${partition.to}) kept arriving in the DEFAULT partition directly (not through the parent) ` +
            `through ${conflicts} attempts; nothing was changed. Stop writing to the DEFAULT partition by name, then retry.`,
        );
      }
    }
  }
}
