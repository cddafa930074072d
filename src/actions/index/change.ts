// applyIndex and dropIndex as changes (src/actions/changeLog.ts): planned on the read pool by
// definition.ts / drop.ts, executed on the DDL session by build.ts / drop.ts,
// each statement recorded in the change log as it starts.
import { buildIndex, type BuildOutcome } from './build.js';
import type { ChangeLogger, ChangePlan, ChangeSteps, CreatedObject } from '../changeLog.js';
import { dropIndex, planDropIndex, type DropIndexPlan } from './drop.js';
import { planIndex, type IndexInput } from './definition.js';
import type { DdlEventHandler, LockRetryOptions } from '../lockRetry.js';
import type { IndexPlan } from '../plan.js';
import { requireOwnership, requireSchemaCreate } from '../privileges.js';
import type { TrustConfig } from '../../config.js';

/** Lock waits of index DDL: the configured lock_timeout per attempt, then 3 retries 0.5, 1 and 2 s later. */
export function indexLockRetry(lockTimeoutMs: number): LockRetryOptions {
  return { lockTimeoutMs, retries: 3, retryDelayMs: 500 };
}

export interface IndexChange extends ChangePlan {
  index: IndexPlan;
}

/** What a built (or already existing) index looks like in the change log's outcome (JSON: no bigint). */
export interface IndexOutcome {
  schema: string;
  name: string;
  sizeBytes: string;
  valid: boolean;
  alreadyExisted: boolean;
  durationMs: number;
  executedSql: string[];
}

/** The change log hears each statement as it starts, and each cleanup a failed build runs. */
function recordStatements(log: ChangeLogger): DdlEventHandler {
  return async (event) => {
    if (event.kind === 'start' || event.kind === 'cleanup') await log.executed(event.sql);
  };
}

/** The indexes a build creates: the index, then (partitioned table) each partition's index. */
function createdBy(plan: IndexPlan): CreatedObject[] {
  if (plan.existing) return [];
  const index = { schema: plan.schema, name: plan.name };
  return [
    { kind: 'index', ...index },
    ...plan.leaves.map((leaf) => ({ kind: 'index' as const, schema: leaf.schema, name: leaf.indexName, leafOf: index })),
  ];
}

export function indexOutcome(built: BuildOutcome): IndexOutcome {
  return { ...built, sizeBytes: String(built.sizeBytes) };
}

/**
 * applyIndex: validate `input` against the catalog, then build it CONCURRENTLY (or return the
 * identical index). `trust`: whose functions its expressions may run (Config.trust).
 */
export function applyIndexSteps(
  input: IndexInput,
  server: { versionNum: number },
  lockTimeoutMs: number,
  trust: TrustConfig,
): ChangeSteps<IndexChange> {
  return {
    async plan(db) {
      const index = await planIndex(db, input, server, { trust });
      if (!index.existing) {
        const tables = [
          { schema: index.schema, name: index.table },
          ...index.leaves.map((leaf) => ({ schema: leaf.schema, name: leaf.table })),
        ];
        await requireOwnership(db, tables, `create an index on ${index.schema}.${index.table}`);
        await requireSchemaCreate(
          db,
          tables.map((table) => table.schema),
          `create an index on ${index.schema}.${index.table}`,
        );
      }
      const target = index.existing ?? { schema: index.schema, name: index.name };
      return { index, statements: index.statements, target, creates: createdBy(index) };
    },
    async execute(session, plan, log): Promise<IndexOutcome> {
      const built = await buildIndex(session, plan.index, { ...indexLockRetry(lockTimeoutMs), onProgress: recordStatements(log) });
      return indexOutcome(built);
    },
  };
}

export interface DropChange extends ChangePlan {
  drop: DropIndexPlan;
}

export interface DropOutcomeJson {
  schema: string;
  name: string;
  table: string;
  durationMs: number;
  executedSql: string[];
}

/** dropIndex: refuse indexes that back constraints, then DROP INDEX CONCURRENTLY (partitioned: short lock timeout). */
export function dropIndexSteps(input: { schema: string; name: string }, lockTimeoutMs: number): ChangeSteps<DropChange> {
  return {
    async plan(db) {
      const drop = await planDropIndex(db, input);
      await requireOwnership(db, [{ schema: drop.schema, name: drop.table }], `drop the index ${drop.schema}.${drop.name}`);
      return { drop, statements: drop.statements, target: { schema: drop.schema, name: drop.name } };
    },
    async execute(session, plan, log): Promise<DropOutcomeJson> {
      const dropped = await dropIndex(session, plan.drop, { ...indexLockRetry(lockTimeoutMs), onProgress: recordStatements(log) });
      return { schema: plan.drop.schema, name: plan.drop.name, table: plan.drop.table, ...dropped };
    },
  };
}
