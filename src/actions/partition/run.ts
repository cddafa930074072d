// What the createPartitions executors share: a runner that records each statement before sending
// it, transactions retried on lock timeouts, and the parent's owner, grants, row-level security and
// replica identity put on a new partition (ownership.ts).
import type { Queryable } from '../../db/pool.js';
import type { CreatedObject } from '../changeLog.js';
import { type LockRetryOptions, setLockTimeout, withLockRetries } from '../lockRetry.js';
import {
  attachedReplicaIndex,
  ownerStatement,
  replicaIdentityStatement,
  rowSecurityStatements,
  verifyPolicies,
  type ParentDress,
} from './ownership.js';
import { aclChanges, grantStatements } from './grants.js';
import type { PlannedStatement } from '../plan.js';

/** Hears what the executor does: each statement before it is sent, each object before it is created (and its oid after). */
export interface PartitionLog {
  executed(sql: string): Promise<void>;
  created(object: CreatedObject): Promise<void>;
}

export const NO_LOG: PartitionLog = { executed: async () => undefined, created: async () => undefined };

export class Runner {
  readonly sql: string[] = [];
  readonly warnings: string[] = [];

  constructor(
    readonly session: Queryable,
    readonly policy: LockRetryOptions,
    readonly log: PartitionLog,
  ) {}

  async run<Row>(statement: PlannedStatement | string): Promise<Row[]> {
    const sql = typeof statement === 'string' ? statement : statement.sql;
    this.sql.push(sql);
    await this.log.executed(sql);
    return this.session.query<Row>(sql);
  }

  /** `work` in one transaction with the lock_timeout of each attempt; rolled back on any error, retried on lock timeouts. */
  async transaction<T>(purpose: string, work: () => Promise<T>): Promise<T> {
    return withLockRetries({ sql: 'BEGIN', purpose }, this.policy, async () => {
      await this.run('BEGIN');
      try {
        await setLockTimeout(this.session, this.policy.lockTimeoutMs, true);
        const result = await work();
        await this.run('COMMIT');
        return result;
      } catch (error) {
        await this.run('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }
}

export interface TableRef {
  schema: string;
  name: string;
}

export async function tableOid(session: Queryable, table: TableRef): Promise<number> {
  const [row] = await session.query<{ oid: number }>(
    /* SQL */ `
    SELECT
      c.oid::int AS oid
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1
      AND c.relname = $2`,
    [table.schema, table.name],
  );
  return row!.oid;
}

/** The owner and the grants: right after CREATE TABLE (the grants computed against what the new table has). */
export async function dressEarly(runner: Runner, dress: ParentDress, table: TableRef, oid: number): Promise<void> {
  for (const statement of ownerStatement(dress, table)) await runner.run(statement);
  for (const statement of grantStatements(await aclChanges(runner.session, dress, oid), table)) await runner.run(statement);
}

/** Row-level security, policies (checked to read as the parent's) and replica identity: once the rows are in, in the transaction that attaches. */
export async function dressLate(runner: Runner, dress: ParentDress, table: TableRef, oid: number): Promise<void> {
  for (const statement of rowSecurityStatements(dress, table)) await runner.run(statement);
  await verifyPolicies(runner.session, dress, table, oid);
  const index = dress.replicaIdentity === 'i' && dress.replicaIndex ? await attachedReplicaIndex(runner.session, dress, oid) : undefined;
  for (const statement of replicaIdentityStatement(dress, table, index)) await runner.run(statement);
}
