// What every mutation payload holds: the change-log entry, the plan the change made, and what it
// did once it SUCCEEDED, each typed by the action. runChange takes a change through the change log
// (src/actions/changeRun.ts) and returns that payload; changePayloadType builds its GraphQL type.
import type { FieldMap, ObjectRef } from '@pothos/core';
import type { ChangeContext, ChangeLogRow, ChangePlan, ChangeRequest, ChangeSteps } from '../actions/changeLog.js';
import { recordChange } from '../actions/changeRun.js';
import type { AnalyzeOutcome, AnalyzePlan } from '../actions/maintenance.js';
import type { DropChange, DropOutcomeJson, IndexChange, IndexOutcome } from '../actions/index/change.js';
import type { DetachChange, PartitionChange } from '../actions/partition/change.js';
import type { CreatePartitionsResult } from '../actions/partition/create.js';
import type { DetachResult } from '../actions/partition/detach.js';
import { builder } from './builder.js';
import { ChangeLogEntry } from './changeLog.js';

type Types = typeof builder.$inferSchemaTypes;

/**
 * Per action (ChangeLogRow.action), the plan its steps make and the outcome their execute returns,
 * which recordChange stores as the entry's outcome (JSON) when it SUCCEEDED.
 */
interface ActionTypes {
  analyzeTable: { plan: AnalyzePlan; outcome: AnalyzeOutcome };
  resetQueryStats: { plan: ChangePlan; outcome: Record<string, never> };
  applyIndex: { plan: IndexChange; outcome: IndexOutcome };
  applyRecommendation: { plan: IndexChange; outcome: IndexOutcome };
  dropIndex: { plan: DropChange; outcome: DropOutcomeJson };
  createPartitions: { plan: PartitionChange; outcome: CreatePartitionsResult };
  detachPartitions: { plan: DetachChange; outcome: DetachResult };
}

export type ChangeAction = keyof ActionTypes;

export interface ChangePayload<A extends ChangeAction> {
  change: ChangeLogRow;
  plan: ActionTypes[A]['plan'];
  /** What the change did; null unless it SUCCEEDED (a dry run, or RUNNING with wait: false). */
  outcome: ActionTypes[A]['outcome'] | null;
}

/** Plans, records and runs one change (recordChange), keeping its plan and its outcome for the payload. */
export async function runChange<A extends ChangeAction>(
  ctx: ChangeContext,
  action: A,
  request: Omit<ChangeRequest, 'action'>,
  steps: ChangeSteps<ActionTypes[A]['plan']>,
): Promise<ChangePayload<A>> {
  const { steps: keeping, planned } = keepingPlan(steps);
  const change = await recordChange(ctx, { action, ...request }, keeping);
  // The one place that trusts the outcome's JSON: recordChange wrote it from what this action's
  // execute returned, and nothing rewrites a SUCCEEDED entry's (recovery adds to INTERRUPTED and
  // FAILED ones only).
  const outcome = change.status === 'SUCCEEDED' ? (change.outcome as ActionTypes[A]['outcome']) : null;
  // A request repeating an idempotency key gets the earlier change, which may have been planned
  // by the earlier request alone: its plan is the one stored with it (from the same steps' JSON).
  const plan = planned() ?? (change.plan as ActionTypes[A]['plan'] | null);
  if (!plan) throw new Error(`Change ${change.id} has no plan: recordChange returned without planning.`);
  return { change, plan, outcome };
}

/** The steps, with the plan they produced kept for the payload (none when recordChange replayed an earlier change). */
function keepingPlan<P extends ChangePlan>(steps: ChangeSteps<P>): { steps: ChangeSteps<P>; planned: () => P | undefined } {
  let planned: P | undefined;
  return {
    steps: {
      ...steps,
      plan: async (db) => {
        planned = await steps.plan(db);
        return planned;
      },
    },
    planned: () => planned,
  };
}

interface ChangePayloadOptions<A extends ChangeAction, Shape extends ChangePayload<A>> {
  /** What the payload is: "What applyIndex planned or did." */
  description: string;
  /** Of its change field. */
  change?: string;
  /** Its plan field, when the payload shows the plan. */
  plan?: { type: ObjectRef<Types, ActionTypes[A]['plan']>; description: string };
  /** The fields of this payload alone, after change and plan: its outcome, read from `outcome`. */
  fields?: (t: PothosSchemaTypes.ObjectFieldBuilder<Types, Shape>) => FieldMap;
}

/** The payload type of action A's mutation: change, plan (when given), then its own fields. */
export function changePayloadType<A extends ChangeAction, Shape extends ChangePayload<A> = ChangePayload<A>>(
  name: string,
  options: ChangePayloadOptions<A, Shape>,
) {
  // Widened to any plan: Pothos cannot resolve its field types over the generic A, and
  // ChangePayloadOptions has tied the plan's type to the action already.
  const plan: { type: ObjectRef<Types, ChangePlan>; description: string } | undefined = options.plan;
  return builder.objectRef<Shape>(name).implement({
    description: options.description,
    fields: (t) => ({
      change: t.field({
        type: ChangeLogEntry,
        description: options.change ?? 'The change-log entry: status, SQL executed, duration, who asked.',
        resolve: (payload) => payload.change,
      }),
      ...(plan && { plan: t.field({ type: plan.type, description: plan.description, resolve: (payload) => payload.plan }) }),
      ...options.fields?.(t),
    }),
  });
}
