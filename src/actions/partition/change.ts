// createPartitions and detachPartitions as changes (src/actions/changeLog.ts): planned on the read
// pool by plan.ts / detach.ts, executed on the DDL session, each statement
// recorded in the change log as it is sent.
import type { Capabilities } from '../../db/capabilities.js';
import type { ChangePlan, ChangeSteps } from '../changeLog.js';
import { executePartitionPlan, type CreatePartitionsResult } from './create.js';
import { executeDetachPlan, planDetach, type DetachPartitionsInput, type DetachPlan, type DetachResult } from './detach.js';
import { planPartitions, type CreatePartitionsInput, type PartitionPlan } from './plan.js';
import { DEFAULT_LOCK_RETRY, type LockRetryOptions } from '../lockRetry.js';
import { requireOwnership, requireSchemaCreate } from '../privileges.js';

/** Partition DDL waits at most the configured lock_timeout per attempt, 5 attempts with growing pauses. */
function partitionLockRetry(lockTimeoutMs: number): LockRetryOptions {
  return { ...DEFAULT_LOCK_RETRY, lockTimeoutMs };
}

export interface PartitionChange extends ChangePlan {
  partitionPlan: PartitionPlan;
}

export function createPartitionsSteps(
  input: CreatePartitionsInput,
  caps: Capabilities,
  lockTimeoutMs: number,
): ChangeSteps<PartitionChange> {
  return {
    async plan(db) {
      const partitionPlan = await planPartitions(db, caps, input);
      const parent = { schema: partitionPlan.schema, name: partitionPlan.table };
      const fromDefault =
        partitionPlan.partitions.some((p) => p.moveFromDefault) && partitionPlan.defaultPartition ? [partitionPlan.defaultPartition] : [];
      if (partitionPlan.partitions.length > 0) {
        const action = `create partitions of ${parent.schema}.${parent.name}`;
        await requireOwnership(db, [parent, ...fromDefault], action);
        await requireSchemaCreate(
          db,
          partitionPlan.partitions.map((p) => p.schema),
          action,
        );
      }
      return {
        partitionPlan,
        statements: partitionPlan.statements,
        target: { schema: partitionPlan.schema, name: partitionPlan.table },
        creates: partitionPlan.creates,
      };
    },
    async execute(session, plan, log): Promise<CreatePartitionsResult> {
      return executePartitionPlan(session, plan.partitionPlan, partitionLockRetry(lockTimeoutMs), log);
    },
  };
}

export interface DetachChange extends ChangePlan {
  detachPlan: DetachPlan;
}

export function detachPartitionsSteps(input: DetachPartitionsInput, caps: Capabilities, lockTimeoutMs: number): ChangeSteps<DetachChange> {
  return {
    async plan(db) {
      const detachPlan = await planDetach(db, caps, input);
      const relations = [
        { schema: detachPlan.schema, name: detachPlan.table },
        ...detachPlan.partitions.map((p) => ({ schema: p.schema, name: p.name })),
      ];
      if (detachPlan.partitions.length > 0)
        await requireOwnership(db, relations, `detach partitions of ${detachPlan.schema}.${detachPlan.table}`);
      return { detachPlan, statements: detachPlan.statements, target: { schema: detachPlan.schema, name: detachPlan.table } };
    },
    async execute(session, plan, log): Promise<DetachResult> {
      return executeDetachPlan(session, plan.detachPlan, partitionLockRetry(lockTimeoutMs), (sql) => log.executed(sql));
    },
  };
}
