// The SQL of one new partition, built from catalog names (quoted) and bound literals PostgreSQL
// printed itself (quoted as literals). CREATE TABLE ... PARTITION OF locks the parent ACCESS
// EXCLUSIVE (seen in pg_locks on PostgreSQL 18, and the DEFAULT partition too, which it scans) for
// the moment it takes; ATTACH PARTITION takes only SHARE UPDATE EXCLUSIVE on the parent (PG 12+),
// which is why the move path locks the parent itself (SHARE ROW EXCLUSIVE: writes wait, reads go on;
// LOCK TABLE on a partitioned table locks its partitions too, the DEFAULT one included).
//
// The move path copies first, while writes go on: the rows of the range are copied from the DEFAULT
// partition into the standalone table, and the distinct xmins of the copied row versions are kept in
// a temporary table. A row version was copied exactly when its xmin is among them: the copy took
// every version its snapshot saw, a transaction it saw had committed before it (so wrote no version
// after), and one it did not see wrote none it copied. (Distinct: a bulk load gives a million rows
// one xmin, which as a per-row hash key would put them all in one bucket.) Under the lock, the
// versions of the range whose xmin was not copied (they arrived, or are new versions of rows updated
// since) are inserted, and the copied ones still there are counted: fewer than were copied means
// some were updated or deleted since, so the transaction is rolled back (nothing deleted yet) and the
// copy redone. Then the range's rows are deleted from the DEFAULT partition.
import type { Queryable } from '../../db/pool.js';
import type { PlannedStatement } from '../plan.js';
import { quoteIdent } from '../../sql/quote.js';
import type { PartitionedTarget } from './types.js';

/** The temporary CHECK that lets ATTACH skip scanning the new table; dropped after the attach. */
export const BOUNDS_CHECK = 'pgscope_partition_bounds';
/** The session's temporary table of the copied row versions' xmins (gone with the session, whatever happens). */
export const COPIED_VERSIONS = 'pgscope_copied_versions';
/** The column the copy computes beside the table's; named so no user column can clash with it. */
const ROW_XMIN = 'pgscope_xmin';

export interface PartitionBounds {
  schema: string;
  name: string;
  from: string;
  to: string;
  moveFromDefault: boolean;
}

/** The move path's statements, by step (move.ts runs them; the lock-to-commit ones in one transaction). */
export interface MoveStatements {
  createStandalone: PlannedStatement;
  addCheck: PlannedStatement;
  createCopiedVersions: PlannedStatement;
  /** Empties the standalone table and the copied versions before each copy. */
  emptyCopy: PlannedStatement;
  /** Returns rows_copied. */
  copyRows: PlannedStatement;
  analyzeCopiedVersions: PlannedStatement;
  suppress: PlannedStatement;
  lockParent: PlannedStatement;
  /** Returns rows_arrived (inserted now) and rows_still_copied (copied versions still in the DEFAULT partition). */
  addArrivals: PlannedStatement;
  deleteRows: PlannedStatement;
  /** With nothing copied before: every row of the range moves under the lock. Returns rows_deleted and rows_arrived. */
  moveAllRows: PlannedStatement;
  attach: PlannedStatement;
  dropCheck: PlannedStatement;
  dropCopiedVersions: PlannedStatement;
  /** Only after a failed move (the transaction rolled back, so the table is unattached). */
  dropStandalone: PlannedStatement;
}

const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
const qualified = (schema: string, name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;
const step = (sql: string, purpose: string): PlannedStatement => ({ sql, purpose, outsideTransaction: false });

function rangeCondition(target: PartitionedTarget, p: { from: string; to: string }, alias = ''): string {
  const key = `${alias}${quoteIdent(target.keyColumn)}`;
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

/** `includeIndexes`: build the parent's indexes on the empty table (when they cannot be built after the copy). */
export function moveStatements(target: PartitionedTarget, p: PartitionBounds, includeIndexes = false): MoveStatements {
  const table = qualified(p.schema, p.name);
  const parent = qualified(target.schema, target.table);
  const fallback = target.defaultPartition!;
  const source = qualified(fallback.schema, fallback.name);
  const versions = `pg_temp.${quoteIdent(COPIED_VERSIONS)}`;
  const columns = target.insertColumns.map(quoteIdent).join(', ');
  const from = (alias: string) => target.insertColumns.map((c) => `${alias}.${quoteIdent(c)}`).join(', ');
  const inRange = rangeCondition(target, p, 'd.');
  const copiedVersion = `SELECT FROM ${versions} c WHERE c.copied_xmin = d.xmin`;
  return {
    createStandalone: step(
      // The parent's indexes are built on the table after the copy (movePlan.ts), or here
      // (INCLUDING INDEXES): either way before the lock, and ATTACH adopts them instead of building
      // them while writes wait.
      `CREATE TABLE ${table} (LIKE ${parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS${includeIndexes ? ' INCLUDING INDEXES' : ''} INCLUDING STORAGE INCLUDING GENERATED)`,
      `create ${p.schema}.${p.name} standalone, with the parent's columns and constraints${includeIndexes ? ' and indexes' : ''}`,
    ),
    addCheck: step(
      `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(BOUNDS_CHECK)} CHECK (${quoteIdent(target.keyColumn)} IS NOT NULL AND ${rangeCondition(target, p)})`,
      'a CHECK matching the bounds, so ATTACH need not scan the table',
    ),
    createCopiedVersions: step(
      `CREATE TEMPORARY TABLE IF NOT EXISTS ${quoteIdent(COPIED_VERSIONS)} (copied_xmin xid NOT NULL)`,
      'remember which row versions the copy took (by the transactions that wrote them)',
    ),
    emptyCopy: step(
      `TRUNCATE ${table}, ${versions}`,
      'start the copy from empty tables (a copy is redone when copied rows changed before the lock)',
    ),
    copyRows: step(
      `WITH source AS MATERIALIZED (SELECT d.xmin AS ${ROW_XMIN}, ${from('d')} FROM ONLY ${source} d WHERE ${inRange}), ` +
        `copied AS (INSERT INTO ${table} (${columns}) SELECT ${from('s')} FROM source s RETURNING 1), ` +
        `versions AS (INSERT INTO ${versions} (copied_xmin) SELECT DISTINCT s.${ROW_XMIN} FROM source s) ` +
        'SELECT count(*)::int8 AS rows_copied FROM copied',
      `copy the rows of [${p.from}, ${p.to}) from the DEFAULT partition ${fallback.schema}.${fallback.name} while writes go on`,
    ),
    analyzeCopiedVersions: step(`ANALYZE ${versions}`, 'statistics, so the comparisons under the lock are hash joins'),
    suppress: step(
      'SET LOCAL session_replication_role = replica',
      'keep foreign keys, triggers and rules from acting on the rows deleted from the DEFAULT partition (this transaction only)',
    ),
    lockParent: step(
      `LOCK TABLE ${parent} IN SHARE ROW EXCLUSIVE MODE`,
      `hold writes to ${target.schema}.${target.table} until the commit (reads go on)`,
    ),
    addArrivals: step(
      `WITH arrived AS (INSERT INTO ${table} (${columns}) SELECT ${from('d')} FROM ONLY ${source} d WHERE ${inRange} AND NOT EXISTS (${copiedVersion}) RETURNING 1) ` +
        'SELECT (SELECT count(*) FROM arrived)::int8 AS rows_arrived, ' +
        `(SELECT count(*) FROM ONLY ${source} d WHERE ${inRange} AND EXISTS (${copiedVersion}))::int8 AS rows_still_copied`,
      `add the rows of [${p.from}, ${p.to}) that arrived or changed since the copy; count the copied ones still there`,
    ),
    deleteRows: step(`DELETE FROM ONLY ${source} d WHERE ${inRange}`, `delete the rows of [${p.from}, ${p.to}) from the DEFAULT partition`),
    moveAllRows: step(
      `WITH moved AS (DELETE FROM ONLY ${source} d WHERE ${rangeCondition(target, p, 'd.')} RETURNING ${from('d')}), ` +
        `arrived AS (INSERT INTO ${table} (${columns}) SELECT ${from('m')} FROM moved m RETURNING 1) ` +
        'SELECT (SELECT count(*) FROM moved)::int8 AS rows_deleted, (SELECT count(*) FROM arrived)::int8 AS rows_arrived',
      `move the rows of [${p.from}, ${p.to}) from the DEFAULT partition ${fallback.schema}.${fallback.name}`,
    ),
    attach: step(
      `ALTER TABLE ${parent} ATTACH PARTITION ${table} ${boundClause(p)}`,
      `attach ${p.schema}.${p.name} for [${p.from}, ${p.to})`,
    ),
    dropCheck: step(
      `ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${quoteIdent(BOUNDS_CHECK)}`,
      'drop the temporary CHECK (the partition bound enforces it now)',
    ),
    dropCopiedVersions: step(`DROP TABLE IF EXISTS ${versions}`, 'drop the list of copied row versions'),
    dropStandalone: step(`DROP TABLE IF EXISTS ${table}`, 'remove the standalone table a failed move left'),
  };
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
