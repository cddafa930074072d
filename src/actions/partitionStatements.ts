// The SQL of one new partition, built from catalog names (quoted) and bound literals PostgreSQL
// printed itself (quoted as literals). CREATE TABLE ... PARTITION OF locks the parent ACCESS
// EXCLUSIVE (seen in pg_locks on PostgreSQL 18, and the DEFAULT partition too, which it scans) for
// the moment it takes; ATTACH PARTITION takes only SHARE UPDATE EXCLUSIVE on the parent (PG 12+),
// which is why the move path locks the parent itself (SHARE ROW EXCLUSIVE: writes wait, reads go on).
import { quoteIdent, type Queryable } from '../db/pool.js';
import type { PartitionedTarget } from './partitionPlan.js';
import type { PlannedStatement } from './plan.js';

/** The temporary CHECK that lets ATTACH skip scanning the new table; dropped after the attach. */
export const BOUNDS_CHECK = 'pgscope_partition_bounds';

export interface PartitionBounds {
  schema: string;
  name: string;
  from: string;
  to: string;
  moveFromDefault: boolean;
}

/** The move path's statements, by step (the executor runs the middle ones in one transaction). */
export interface MoveStatements {
  createStandalone: PlannedStatement;
  addCheck: PlannedStatement;
  lockParent: PlannedStatement;
  moveRows: PlannedStatement;
  attach: PlannedStatement;
  dropCheck: PlannedStatement;
  /** Only after a failed move (the transaction rolled back, so the table is empty and unattached). */
  dropStandalone: PlannedStatement;
}

const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
const qualified = (schema: string, name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;
const step = (sql: string, purpose: string): PlannedStatement => ({ sql, purpose, outsideTransaction: false });

function rangeCondition(target: PartitionedTarget, p: { from: string; to: string }): string {
  const key = quoteIdent(target.keyColumn);
  return `${key} >= ${literal(p.from)}::${target.keyType} AND ${key} < ${literal(p.to)}::${target.keyType}`;
}

const boundClause = (p: { from: string; to: string }) => `FOR VALUES FROM (${literal(p.from)}) TO (${literal(p.to)})`;

/** CREATE TABLE ... PARTITION OF: for a range with no row waiting in the DEFAULT partition. */
export function createPartitionOf(target: PartitionedTarget, p: PartitionBounds): PlannedStatement {
  return step(
    `CREATE TABLE ${qualified(p.schema, p.name)} PARTITION OF ${qualified(target.schema, target.table)} ${boundClause(p)}`,
    `create partition ${p.schema}.${p.name} for [${p.from}, ${p.to})`,
  );
}

export function moveStatements(target: PartitionedTarget, p: PartitionBounds): MoveStatements {
  const table = qualified(p.schema, p.name);
  const parent = qualified(target.schema, target.table);
  const fallback = target.defaultPartition!;
  const columns = target.insertColumns.map(quoteIdent).join(', ');
  return {
    createStandalone: step(
      // INCLUDING INDEXES builds the parent's indexes on the empty table now; ATTACH then adopts
      // them instead of building them while the parent is locked.
      `CREATE TABLE ${table} (LIKE ${parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING GENERATED)`,
      `create ${p.schema}.${p.name} standalone, with the parent's columns, constraints and indexes`,
    ),
    addCheck: step(
      `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(BOUNDS_CHECK)} CHECK (${quoteIdent(target.keyColumn)} IS NOT NULL AND ${rangeCondition(target, p)})`,
      'a CHECK matching the bounds, so ATTACH need not scan the table',
    ),
    lockParent: step(
      `LOCK TABLE ${parent} IN SHARE ROW EXCLUSIVE MODE`,
      `hold writes to ${target.schema}.${target.table} while rows move (reads go on)`,
    ),
    moveRows: step(
      `WITH moved AS (DELETE FROM ${qualified(fallback.schema, fallback.name)} WHERE ${rangeCondition(target, p)} RETURNING ${columns}), ` +
        `inserted AS (INSERT INTO ${table} (${columns}) SELECT ${columns} FROM moved RETURNING 1) SELECT count(*)::int8 AS rows_moved FROM inserted`,
      `move the rows of [${p.from}, ${p.to}) from the DEFAULT partition ${fallback.schema}.${fallback.name}`,
    ),
    attach: step(`ALTER TABLE ${parent} ATTACH PARTITION ${table} ${boundClause(p)}`, `attach ${p.schema}.${p.name} for [${p.from}, ${p.to})`),
    dropCheck: step(`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${quoteIdent(BOUNDS_CHECK)}`, 'drop the temporary CHECK (the partition bound enforces it now)'),
    dropStandalone: step(`DROP TABLE IF EXISTS ${table}`, 'remove the empty standalone table a failed move left'),
  };
}

/** Every statement for one partition in order, BEGIN and COMMIT included (what a dry run shows). */
export function partitionStatements(target: PartitionedTarget, p: PartitionBounds): PlannedStatement[] {
  if (!p.moveFromDefault) return [createPartitionOf(target, p)];
  const m = moveStatements(target, p);
  return [
    m.createStandalone,
    m.addCheck,
    step('BEGIN', 'one transaction: lock, move, attach'),
    m.lockParent,
    m.moveRows,
    m.attach,
    step('COMMIT', 'writes to the parent resume'),
    m.dropCheck,
  ];
}

/** Rows of [from, to) in the DEFAULT partition, counted up to `cap` (a bounded scan). */
export async function defaultRowsInRange(
  session: Queryable,
  target: PartitionedTarget,
  from: string,
  to: string,
  cap: number,
): Promise<{ rows: number; capped: boolean }> {
  const fallback = target.defaultPartition!;
  const key = quoteIdent(target.keyColumn);
  const [row] = await session.query<{ rows: bigint }>(
    /* SQL */ `
    SELECT
      count(*)::int8 AS rows
    FROM (
      SELECT
      FROM ${qualified(fallback.schema, fallback.name)}
      WHERE ${key} >= $1::${target.keyType}
        AND ${key} < $2::${target.keyType}
      LIMIT $3
    ) bounded`,
    [from, to, cap],
  );
  const rows = Number(row!.rows);
  return { rows, capped: rows >= cap };
}
