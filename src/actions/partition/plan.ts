// createPartitions, planned: the next time ranges of a range-partitioned table, checked against the
// catalog, named like their siblings, with the statements that create them. Nothing is executed;
// create.ts runs the plan. Ranges whose rows wait in the DEFAULT partition are created
// standalone, filled from the default and attached in one short transaction (DESIGN.md, Partitions;
// movePlan.ts), or refused when moving the rows would look like deletes (UNSAFE_ROW_MOVE).
// New partitions belong to the parent's owner, with its grants, row-level security and replica
// identity (ownership.ts).
import type { Capabilities } from '../../db/capabilities.js';
import { loadPartitions } from '../../db/partitions.js';
import type { Queryable } from '../../db/pool.js';
import { ErrorCode, PgscopeError, badInput, notFound } from '../../errors.js';
import type { CreatedObject } from '../changeLog.js';
import { unsafeRowMove } from './moveSafety.js';
import { estimatedRowsInRange, moveWarning, planMove, partitionStatements, writeWaitEstimateMs, type MovePlan } from './movePlan.js';
import { namePattern, namingWarnings, partitionName } from './names.js';
import { aclChanges, grantStatements } from './grants.js';
import { indexStatements } from './indexes.js';
import { readParentDress, type ParentDress } from './ownership.js';
import { alignmentZone, candidateRanges, inferInterval, localRanges, type PartitionInterval, type TimeKeyType } from './ranges.js';
import type { PartitionedTarget } from './types.js';
import type { PlannedStatement } from '../plan.js';
import { defaultRowsInRange } from './statements.js';
import { quoteIdent } from '../../sql/quote.js';

export interface CreatePartitionsInput {
  schema: string;
  table: string;
  /** How many periods after the current one must be covered; default 3 (the guide's "next 3 months"). */
  ahead?: number | null;
  /** Inferred from the existing partitions when absent. */
  interval?: PartitionInterval | null;
}

export interface PartitionPlanOptions {
  /** The instant "now" stands for (tests); default the server's now(). */
  now?: Date;
  /** The DEFAULT partition's rows of a new range are counted up to this many (a bounded scan). */
  defaultRowsCap?: number;
}

export const DEFAULT_AHEAD = 3;
/** More than this is a typo rather than a plan (366 days ahead is the longest sensible daily plan). */
export const MAX_AHEAD = 366;
export const DEFAULT_ROWS_CAP = 100_000;

/** A partition to create. */
export interface PlannedPartition {
  schema: string;
  name: string;
  /** Bound values as PostgreSQL reads them, unquoted: "2026-02-01 00:00:00+00", "2026-02-01". */
  from: string;
  to: string;
  /** Rows of this range in the DEFAULT partition, counted up to the cap. */
  defaultRows: number;
  defaultRowsCapped: boolean;
  /** Rows of its range wait in the DEFAULT partition: created standalone, rows moved, then attached. */
  moveFromDefault: boolean;
  /** How long writes to the parent are expected to wait while the rows move (null when none move). */
  writeWaitEstimateMs: number | null;
  /** Should its rows move (now, or because they arrived after planning): the parent's indexes built after the copy. */
  indexStatements: PlannedStatement[];
  statements: PlannedStatement[];
}

export interface PartitionPlan extends PartitionedTarget {
  interval: PartitionInterval;
  intervalInferred: boolean;
  ahead: number;
  /** The zone calendar steps are taken in (timestamptz keys): where the existing bounds fall on midnight. */
  zone: string;
  partitions: PlannedPartition[];
  /** Every statement, in order (a dry run shows these). */
  statements: PlannedStatement[];
  warnings: string[];
  /** What new partitions take from the parent: owner, grants, row-level security, replica identity. */
  dress: ParentDress;
  /** How rows would leave the DEFAULT partition; null without one. */
  move: MovePlan | null;
  /** The standalone tables the move path creates (recorded in the change log before they exist). */
  creates: CreatedObject[];
}

interface TargetRow {
  oid: number;
  schema: string;
  name: string;
  relkind: string;
  strategy: string | null;
  key_count: number | null;
  key_column: string | null;
  key_type: TimeKeyType | null;
  insert_columns: string[];
}

const TARGET_SQL = /* SQL */ `
  SELECT
    c.oid::int AS oid,
    n.nspname AS schema,
    c.relname AS name,
    c.relkind::text AS relkind,
    pt.partstrat::text AS strategy,
    pt.partnatts::int AS key_count,
    key_column.attname AS key_column,
    CASE key_column.atttypid
      WHEN 'date'::regtype THEN 'date'
      WHEN 'timestamp'::regtype THEN 'timestamp'
      WHEN 'timestamptz'::regtype THEN 'timestamptz'
    END AS key_type,
    ARRAY(
      SELECT a.attname::text
      FROM pg_attribute a
      WHERE a.attrelid = c.oid
        AND a.attnum > 0
        AND NOT a.attisdropped
        AND a.attgenerated = ''
      ORDER BY a.attnum
    ) AS insert_columns
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
  -- partattrs[0] is 0 for an expression key: no column
  LEFT JOIN pg_attribute key_column
    ON key_column.attrelid = c.oid
    AND key_column.attnum = pt.partattrs[0]
  WHERE n.nspname = $1
    AND c.relname = $2
    AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`;

const SUPPORTED =
  'pgscope creates partitions for tables partitioned BY RANGE on a single date, timestamp or timestamptz column ' +
  '(PARTITION BY RANGE (created_at)).';

/** The table, checked: it exists and is range-partitioned on one time column. */
export async function resolveRangeTable(
  session: Queryable,
  schema: string,
  table: string,
): Promise<Omit<PartitionedTarget, 'defaultPartition'>> {
  const [row] = await session.query<TargetRow>(TARGET_SQL, [schema, table]);
  if (!row) throw notFound(`There is no table ${schema}.${table}.`, { schema, table });
  if (row.relkind !== 'p') throw badInput(`${schema}.${table} is not a partitioned table. ${SUPPORTED}`);
  if (row.strategy !== 'r' || row.key_count !== 1 || !row.key_column || !row.key_type) {
    throw badInput(`${schema}.${table} is not partitioned by range on one date or timestamp column. ${SUPPORTED}`);
  }
  return {
    schema: row.schema,
    table: row.name,
    oid: row.oid,
    keyColumn: row.key_column,
    keyType: row.key_type,
    insertColumns: row.insert_columns,
  };
}

/** pg_partman keeps its own schedule and naming for the tables in its part_config: creating partitions behind its back confuses it. */
async function refuseIfPartman(session: Queryable, schema: string, table: string): Promise<void> {
  const [extension] = await session.query<{ schema: string }>(
    /* SQL */ `
    SELECT
      n.nspname AS schema
    FROM pg_extension e
    JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_partman'`,
  );
  if (!extension) return;
  const [managed] = await session.query<{ managed: boolean }>(
    /* SQL */ `
    SELECT
      EXISTS (
        SELECT
        FROM ${quoteIdent(extension.schema)}.part_config
        WHERE parent_table = $1
      ) AS managed`,
    [`${schema}.${table}`],
  );
  if (managed?.managed) {
    throw new PgscopeError(
      ErrorCode.UNSUPPORTED,
      `${schema}.${table} is managed by pg_partman (${extension.schema}.part_config): let pg_partman create its partitions ` +
        `(SELECT ${extension.schema}.run_maintenance('${schema}.${table}')), or remove it from part_config first.`,
    );
  }
}

function checkInput(input: CreatePartitionsInput): number {
  const ahead = input.ahead ?? DEFAULT_AHEAD;
  if (!Number.isInteger(ahead) || ahead < 0 || ahead > MAX_AHEAD) {
    throw badInput(`ahead must be a whole number from 0 to ${MAX_AHEAD} (periods after the current one); got ${ahead}.`);
  }
  return ahead;
}

const unquote = (bound: string | null): string | null => (bound?.startsWith("'") ? bound.slice(1, -1).replace(/''/g, "'") : null);

/** Plans the partitions that make `input.table` cover up to `ahead` periods after the current one. */
export async function planPartitions(
  session: Queryable,
  caps: Capabilities,
  input: CreatePartitionsInput,
  options: PartitionPlanOptions = {},
): Promise<PartitionPlan> {
  const ahead = checkInput(input);
  const base = await resolveRangeTable(session, input.schema, input.table);
  await refuseIfPartman(session, base.schema, base.table);
  const rows = await loadPartitions(session, caps, [base.oid]);
  const defaultRow = rows.find((r) => r.is_default);
  const target: PartitionedTarget = {
    ...base,
    defaultPartition: defaultRow ? { schema: defaultRow.schema, name: defaultRow.name, oid: defaultRow.oid } : null,
  };
  const ranged = rows.filter((r) => !r.is_default && r.range_from !== null);
  const bounds = ranged.map((r) => ({ from: unquote(r.range_from), to: unquote(r.range_to) }));
  const zone = await alignmentZone(
    session,
    target.keyType,
    bounds.flatMap((b) => [b.from, b.to]).filter((b): b is string => b !== null),
  );
  const existing = await localRanges(session, target.keyType, zone, bounds);
  const inferred = await inferInterval(
    session,
    existing.filter((r) => r.lo && r.hi),
  );
  const interval = input.interval ?? inferred;
  if (!interval) {
    const why = ranged.length === 0 ? 'it has no range partition yet' : 'its partitions are not whole days, weeks, months or years';
    throw badInput(
      `The interval of ${target.schema}.${target.table} cannot be inferred: ${why}. Pass interval (DAY, WEEK, MONTH or YEAR).`,
    );
  }
  const warnings: string[] = [];
  if (existing.some((r) => r.hi === null)) {
    warnings.push(`${target.schema}.${target.table} has a partition up to MAXVALUE: every future range is covered already.`);
  }
  const { ranges, skippedGaps } = await candidateRanges(session, {
    type: target.keyType,
    zone,
    interval,
    ahead,
    now: options.now ?? null,
    existing,
  });
  for (const gap of skippedGaps)
    warnings.push(`No partition covers [${gap.lo}, ${gap.hi}); left alone (an old gap, or not a whole ${interval.toLowerCase()}).`);

  const siblings = ranged.flatMap((r, i) => (existing[i]?.parts ? [{ name: r.name, parts: existing[i].parts }] : []));
  const pattern = namePattern(target.table, interval, siblings);
  const partitionSchema = ranged.at(-1)?.schema ?? target.schema;
  const cap = options.defaultRowsCap ?? DEFAULT_ROWS_CAP;
  const partitions: Array<Omit<PlannedPartition, 'statements' | 'indexStatements'>> = [];
  for (const range of ranges) {
    const name = partitionName(pattern, range.parts);
    const counted = target.defaultPartition
      ? await defaultRowsInRange(session, target, range.from_literal, range.to_literal, cap)
      : { rows: 0, capped: false };
    partitions.push({
      schema: partitionSchema,
      name,
      from: range.from_literal,
      to: range.to_literal,
      defaultRows: counted.rows,
      defaultRowsCapped: counted.capped,
      moveFromDefault: counted.rows > 0,
      writeWaitEstimateMs: null,
    });
  }
  if (partitions.length > 0) warnings.push(...namingWarnings(pattern, partitions[0]!.name));
  await refuseNameClashes(
    session,
    partitionSchema,
    partitions.map((p) => p.name),
  );
  // planned even when no row waits now: rows that reach the default before the create take the move path
  const move = target.defaultPartition && partitions.length > 0 ? await planMove(session, caps, target) : null;
  const moving = partitions.filter((p) => p.moveFromDefault);
  if (move?.safety.refusal && moving.length > 0) {
    throw unsafeRowMove(
      `${target.schema}.${target.table}`,
      moving.map((p) => `[${p.from}, ${p.to})`),
      move.safety.refusal,
    );
  }
  const dress = await readParentDress(session, caps, target.oid, partitionSchema, partitions.length > 0);
  warnings.push(...dress.warnings);
  const acl = await aclChanges(session, dress, null);
  const planned: PlannedPartition[] = [];
  const reservedNames = new Set(partitions.map((p) => p.name));
  for (const partition of partitions) {
    const indexes = move?.indexes ? await indexStatements(session, move.indexes, partition, reservedNames) : [];
    if (partition.moveFromDefault && move) {
      const rows = partition.defaultRowsCapped
        ? Math.max(partition.defaultRows, await estimatedRowsInRange(session, target, partition.from, partition.to))
        : partition.defaultRows;
      partition.writeWaitEstimateMs = writeWaitEstimateMs(move, rows);
      warnings.push(moveWarning(target, move, partition));
    }
    const withIndexes = { ...partition, indexStatements: indexes };
    planned.push({ ...withIndexes, statements: partitionStatements(target, dress, grantStatements(acl, partition), move, withIndexes) });
  }
  return {
    ...target,
    interval,
    intervalInferred: !input.interval,
    ahead,
    zone,
    partitions: planned,
    statements: planned.flatMap((p) => p.statements),
    warnings,
    dress,
    move,
    creates: planned.filter((p) => p.moveFromDefault).map((p) => ({ kind: 'table', schema: p.schema, name: p.name })),
  };
}

/** A new name taken by another relation (or twice in the plan) would make CREATE TABLE fail halfway. */
async function refuseNameClashes(session: Queryable, schema: string, names: string[]): Promise<void> {
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice) {
    throw new PgscopeError(
      ErrorCode.ALREADY_EXISTS,
      `Two new partitions would both be named ${schema}.${twice}: the siblings' naming pattern cannot tell these ranges apart. ` +
        'Leave interval out (inferred from the siblings), or rename the siblings.',
    );
  }
  const taken = await session.query<{ name: string }>(
    /* SQL */ `
    SELECT
      c.relname AS name
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1
      AND c.relname = ANY ($2::text[])
    ORDER BY c.relname`,
    [schema, names],
  );
  if (taken.length > 0) {
    throw new PgscopeError(
      ErrorCode.ALREADY_EXISTS,
      `A relation named ${taken.map((t) => `${schema}.${t.name}`).join(', ')} exists already and is not a partition covering that range: rename or drop it.`,
      { names: taken.map((t) => t.name) },
    );
  }
}
