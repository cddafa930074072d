// What moving rows out of the DEFAULT partition will do, decided while planning: whether it is safe
// (moveSafety.ts), whether the rows can be copied before writes are held (the DEFAULT
// partition is a plain table, and pgscope may create the temporary table of copied row versions),
// the parent's foreign keys to put on the new table before the lock (else ATTACH validates them
// while writes wait), how long writes will wait, and the statements each new partition takes.
import type { Capabilities } from '../../db/capabilities.js';
import type { Queryable } from '../../db/pool.js';
import { readParentIndexes, type ParentIndex } from './indexes.js';
import { assessRowMove, type RowMoveSafety } from './moveSafety.js';
import { ownerStatement, replicaIdentityStatement, rowSecurityStatements, type ParentDress } from './ownership.js';
import { createPartitionOf, moveStatements, type PartitionBounds } from './statements.js';
import type { PlannedStatement } from '../plan.js';
import { quoteIdent } from '../../sql/quote.js';
import type { PartitionedTarget } from './types.js';

export interface MovePlan {
  safety: RowMoveSafety;
  /** Rows are copied while writes go on, and only what changed since moves under the lock; false: every row moves under the lock. */
  copyFirst: boolean;
  /** Why not copyFirst. */
  underLockBecause: string | null;
  /** The parent's own foreign keys, added (NOT VALID, then VALIDATE) to the new table before the lock. */
  foreignKeys: Array<{ name: string; definition: string }>;
  /** The parent's indexes, built on the new table after the copy; null: built with it (LIKE ... INCLUDING INDEXES). */
  indexes: ParentIndex[] | null;
}

/**
 * How long writes wait while one range's rows move, from the rows to move: under the lock the
 * DEFAULT partition is scanned for the rows that arrived since the copy, its copied rows counted and
 * deleted, and the new table attached (ATTACH scans the DEFAULT partition once more). Calibrated with
 * bench/partitions.ts on the 2-core development machine under load (embedded PostgreSQL 18, two
 * runs, bench/REPORT.md): copy first, ~5,000 rows held writes 20-41 ms, ~500,000 rows 1.3-2.2 s;
 * every row moved under the lock (main's method before the copy), ~500,000 rows 11-12 s.
 */
export const WRITE_WAIT_MODEL = {
  baseMs: 30,
  perRowMs: { copyFirst: 0.0035, underLock: 0.012 },
} as const;

export function writeWaitEstimateMs(plan: MovePlan, rows: number): number {
  const perRow = plan.copyFirst ? WRITE_WAIT_MODEL.perRowMs.copyFirst : WRITE_WAIT_MODEL.perRowMs.underLock;
  return Math.round(WRITE_WAIT_MODEL.baseMs + perRow * rows);
}

interface SetupRow {
  default_is_table: boolean;
  may_create_temp: boolean;
  database: string;
  role: string;
}

/** The move's safety and shape for `target`'s DEFAULT partition. */
export async function planMove(session: Queryable, caps: Capabilities, target: PartitionedTarget): Promise<MovePlan> {
  const fallback = target.defaultPartition!;
  const safety = await assessRowMove(session, caps, { parent: { schema: target.schema, name: target.table }, defaultPartition: fallback });
  const [setup] = await session.query<SetupRow>(
    /* SQL */ `
    SELECT
      c.relkind = 'r' AS default_is_table,
      has_database_privilege(current_database(), 'TEMPORARY') AS may_create_temp,
      current_database() AS database,
      current_user AS role
    FROM pg_class c
    WHERE c.oid = $1`,
    [fallback.oid],
  );
  const foreignKeys = await session.query<{ name: string; definition: string }>(
    /* SQL */ `
    SELECT
      con.conname AS name,
      pg_get_constraintdef(con.oid) AS definition
    FROM pg_constraint con
    WHERE con.conrelid = $1
      AND con.contype = 'f'
      AND con.conparentid = 0
      AND has_table_privilege(con.confrelid, 'REFERENCES')
    ORDER BY con.conname`,
    [target.oid],
  );
  const underLockBecause = !setup!.default_is_table
    ? `the DEFAULT partition ${fallback.schema}.${fallback.name} is not a plain table`
    : !setup!.may_create_temp
      ? `pgscope's role may not create temporary tables (GRANT TEMPORARY ON DATABASE ${quoteIdent(setup!.database)} TO ${quoteIdent(setup!.role)};)`
      : null;
  return {
    safety,
    copyFirst: underLockBecause === null,
    underLockBecause,
    foreignKeys,
    indexes: await readParentIndexes(session, target.oid),
  };
}

/** The planner's estimate of the DEFAULT partition's rows in [from, to), for ranges too big to count. */
export async function estimatedRowsInRange(session: Queryable, target: PartitionedTarget, from: string, to: string): Promise<number> {
  const fallback = target.defaultPartition!;
  const key = quoteIdent(target.keyColumn);
  const [row] = await session.query<{ 'QUERY PLAN': Array<{ Plan: { 'Plan Rows': number } }> }>(
    /* SQL */ `
    EXPLAIN (FORMAT JSON)
    SELECT
    FROM ${quoteIdent(fallback.schema)}.${quoteIdent(fallback.name)}
    WHERE ${key} >= $1::${target.keyType}
      AND ${key} < $2::${target.keyType}`,
    [from, to],
  );
  return row!['QUERY PLAN'][0]!.Plan['Plan Rows'];
}

const step = (sql: string, purpose: string): PlannedStatement => ({ sql, purpose, outsideTransaction: false });

/** The parent's foreign keys on the filled table: added without a check, then validated while writes go on. */
export function foreignKeyStatements(move: MovePlan, p: { schema: string; name: string }): PlannedStatement[] {
  const table = `${quoteIdent(p.schema)}.${quoteIdent(p.name)}`;
  return move.foreignKeys.flatMap((fk) => [
    step(
      `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition} NOT VALID`,
      `the parent's foreign key ${fk.name}, so ATTACH adopts it instead of checking it while writes wait`,
    ),
    step(`ALTER TABLE ${table} VALIDATE CONSTRAINT ${quoteIdent(fk.name)}`, `check the copied rows against ${fk.name} while writes go on`),
  ]);
}

/**
 * Every statement for one partition in order, BEGIN and COMMIT included (what a dry run shows).
 * `grants` are the GRANT/REVOKE statements planned against a new table's default privileges; the
 * executor computes them again against the table it created.
 */
export function partitionStatements(
  target: PartitionedTarget,
  dress: ParentDress,
  grants: PlannedStatement[],
  move: MovePlan | null,
  p: PartitionBounds & { indexStatements: PlannedStatement[] },
): PlannedStatement[] {
  const dressed = [...ownerStatement(dress, p), ...grants];
  const late = [...rowSecurityStatements(dress, p), ...replicaIdentityStatement(dress, p)];
  if (!p.moveFromDefault || !move) {
    return [
      step('BEGIN', 'one transaction: create, give to the owner, grant'),
      createPartitionOf(target, p),
      ...dressed,
      ...late,
      step('COMMIT', 'the partition appears'),
    ];
  }
  const m = moveStatements(target, p, move.indexes === null);
  const copy = move.copyFirst ? [m.createCopiedVersions, m.emptyCopy, m.copyRows, m.analyzeCopiedVersions] : [];
  return [
    m.createStandalone,
    ...dressed,
    m.addCheck,
    ...copy,
    ...p.indexStatements,
    ...(move.copyFirst ? foreignKeyStatements(move, p) : []),
    step('BEGIN', 'one transaction: lock, move, attach'),
    ...(move.safety.suppress ? [m.suppress] : []),
    m.lockParent,
    ...(move.copyFirst ? [m.addArrivals, m.deleteRows] : [m.moveAllRows]),
    m.attach,
    ...late,
    step('COMMIT', 'writes to the parent resume'),
    m.dropCheck,
    ...(move.copyFirst ? [m.dropCopiedVersions] : []),
  ];
}

/** What moving one range's rows will do, in words: rows, how long writes wait, what is kept from acting. */
export function moveWarning(
  target: PartitionedTarget,
  move: MovePlan,
  p: { name: string; from: string; to: string; defaultRows: number; defaultRowsCapped: boolean; writeWaitEstimateMs: number | null },
): string {
  const rows = `${p.defaultRowsCapped ? 'At least ' : ''}${p.defaultRows} rows of [${p.from}, ${p.to}) wait in the DEFAULT partition`;
  const how = move.copyFirst
    ? `they are copied into ${p.name} while writes go on; then writes to ${target.schema}.${target.table} wait about ${p.writeWaitEstimateMs} ms ` +
      '(reads go on) while the rows are deleted from the DEFAULT partition, those that changed since the copy are added, and the partition is attached'
    : `they move into ${p.name} in one transaction, while writes to ${target.schema}.${target.table} wait about ${p.writeWaitEstimateMs} ms (reads go on): ` +
      `${move.underLockBecause}`;
  const quiet =
    move.safety.suppressed.length > 0
      ? ` The deletes from the DEFAULT partition do not act on ${move.safety.suppressed.join(', ')} (session_replication_role = replica in that transaction).`
      : '';
  return `${rows}: ${how}. No trigger of the parent fires on the new partition's rows (they are in it before it is attached).${quiet}`;
}
