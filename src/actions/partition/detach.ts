// Retention: detach (and, when asked, drop) the partitions of a time-range table whose upper bound is
// at or before `olderThan`. DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+) takes only SHARE
// UPDATE EXCLUSIVE on the parent, but PostgreSQL refuses it when the table has a DEFAULT partition
// and inside a transaction block; there a plain DETACH (ACCESS EXCLUSIVE on the parent, for a
// moment) runs with a short lock_timeout and bounded retries. A concurrent detach interrupted
// earlier left its partition "detach pending" (pg_inherits.inhdetachpending): finished with FINALIZE.
// A partition whose range reaches the present or the future still receives the application's rows:
// whatever olderThan says (a typo, 2099-01-01), it is never detached or dropped (PARTITION_IN_USE).
import type { Capabilities } from '../../db/capabilities.js';
import { loadPartitions } from '../../db/partitions.js';
import type { Queryable } from '../../db/pool.js';
import { ErrorCode, PgscopeError } from '../../errors.js';
import { DEFAULT_LOCK_RETRY, type LockRetryOptions, setLockTimeout, withLockRetries } from '../lockRetry.js';
import { resolveRangeTable } from './plan.js';
import type { PlannedStatement } from '../plan.js';
import { quoteIdent } from '../../sql/quote.js';

export interface DetachPartitionsInput {
  schema: string;
  table: string;
  /** Partitions whose upper bound is at or before this instant go. */
  olderThan: Date;
  /** Drop the detached tables too (default false: they stay as standalone tables). */
  drop?: boolean | null;
}

export interface PlannedDetach {
  oid: number;
  schema: string;
  name: string;
  /** The bound as PostgreSQL prints it ("FOR VALUES FROM (...) TO (...)"). */
  bound: string;
  /** Left half-detached by an interrupted DETACH ... CONCURRENTLY: finished with FINALIZE. */
  detachPending: boolean;
  /** Older than `olderThan` (a detach-pending partition is finished even when it is not). */
  expired: boolean;
  statements: PlannedStatement[];
}

export interface DetachPlan {
  schema: string;
  table: string;
  /** DETACH ... CONCURRENTLY: PostgreSQL 14+ and no DEFAULT partition. */
  concurrently: boolean;
  drop: boolean;
  partitions: PlannedDetach[];
  statements: PlannedStatement[];
}

export interface DetachResult {
  detached: string[];
  /** Detach-pending partitions finished with FINALIZE (also listed in `detached`). */
  finalized: string[];
  dropped: string[];
  sql: string[];
}

interface ExpiryRow {
  oid: number;
  expired: boolean;
  /** The upper bound is later than now: rows of the present or the future belong in it. */
  in_use: boolean;
}

/**
 * Now on the bounds' clock: an instant for timestamptz keys; for date and timestamp keys the wall
 * clock of the session's TimeZone, the zone createPartitions reads such bounds in (ranges.ts).
 */
const nowForKey = (keyType: string) => (keyType === 'timestamptz' ? 'now()' : 'LOCALTIMESTAMP');

/** Plans the detaches (and drops) of the partitions older than `input.olderThan`. */
export async function planDetach(session: Queryable, caps: Capabilities, input: DetachPartitionsInput): Promise<DetachPlan> {
  const target = await resolveRangeTable(session, input.schema, input.table);
  const rows = await loadPartitions(session, caps, [target.oid]);
  const hasDefault = rows.some((r) => r.is_default);
  const candidates = rows.filter((r) => !r.is_default && r.range_to !== null && r.range_to.startsWith("'"));
  // The upper bound, read in the key's own type, compared with the instant (a date at the session's
  // midnight), and with now on the bounds' clock.
  const expiry = await session.query<ExpiryRow>(
    /* SQL */ `
    SELECT
      r.oid::int AS oid,
      (btrim(r.upper_bound, '''')::${target.keyType} <= $3::timestamptz) AS expired,
      (btrim(r.upper_bound, '''')::${target.keyType} > ${nowForKey(target.keyType)}) AS in_use
    FROM unnest($1::oid[], $2::text[]) r(oid, upper_bound)`,
    [candidates.map((r) => r.oid), candidates.map((r) => r.range_to), input.olderThan],
  );
  refuseInUse(
    target,
    expiry.filter((e) => e.expired && e.in_use),
    candidates,
    input,
  );
  const expired = new Set(expiry.filter((e) => e.expired).map((e) => e.oid));
  const concurrently = caps.serverVersionNum >= 140000 && !hasDefault;
  const drop = input.drop ?? false;
  const parent = `${quoteIdent(target.schema)}.${quoteIdent(target.table)}`;
  const partitions = rows
    .filter((r) => !r.is_default && (expired.has(r.oid) || r.is_detach_pending))
    .map((r): PlannedDetach => {
      const table = `${quoteIdent(r.schema)}.${quoteIdent(r.name)}`;
      const isExpired = expired.has(r.oid);
      const statements: PlannedStatement[] = [
        detachStatement(parent, table, r.name, r.is_detach_pending ? 'finalize' : concurrently ? 'concurrently' : 'plain'),
      ];
      if (drop && isExpired)
        statements.push({ sql: `DROP TABLE ${table}`, purpose: `drop the detached ${r.schema}.${r.name}`, outsideTransaction: false });
      return {
        oid: r.oid,
        schema: r.schema,
        name: r.name,
        bound: r.bound,
        detachPending: r.is_detach_pending,
        expired: isExpired,
        statements,
      };
    });
  return {
    schema: target.schema,
    table: target.table,
    concurrently,
    drop,
    partitions,
    statements: partitions.flatMap((p) => p.statements),
  };
}

/** PARTITION_IN_USE, before anything runs, when olderThan would take a partition that still receives rows. */
function refuseInUse(
  target: { schema: string; table: string },
  inUse: ExpiryRow[],
  partitions: Array<{ oid: number; schema: string; name: string }>,
  input: DetachPartitionsInput,
): void {
  if (inUse.length === 0) return;
  const names = inUse.map((e) => partitions.find((p) => p.oid === e.oid)!).map((p) => `${p.schema}.${p.name}`);
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');
  throw new PgscopeError(
    ErrorCode.PARTITION_IN_USE,
    `olderThan ${input.olderThan.toISOString()} would ${input.drop ? 'detach and drop' : 'detach'} ${shown} of ${target.schema}.${target.table}, ` +
      'whose range reaches now or later: the application still writes rows there. ' +
      'Nothing was changed. Pass an olderThan at or before the start of the current partition.',
    { partitions: names },
  );
}

function detachStatement(parent: string, table: string, name: string, mode: 'finalize' | 'concurrently' | 'plain'): PlannedStatement {
  const suffix = { finalize: ' FINALIZE', concurrently: ' CONCURRENTLY', plain: '' }[mode];
  const purpose = {
    finalize: `finish the interrupted concurrent detach of ${name}`,
    concurrently: `detach ${name} without blocking writes`,
    plain: `detach ${name} (a DEFAULT partition, or PostgreSQL before 14, rules out CONCURRENTLY)`,
  }[mode];
  return { sql: `ALTER TABLE ${parent} DETACH PARTITION ${table}${suffix}`, purpose, outsideTransaction: mode !== 'plain' };
}

async function isDetachPending(session: Queryable, oid: number): Promise<boolean> {
  const [row] = await session.query<{ pending: boolean }>(
    /* SQL */ `
    SELECT
      inhdetachpending AS pending
    FROM pg_inherits
    WHERE inhrelid = $1`,
    [oid],
  );
  return row?.pending ?? false;
}

/**
 * Runs a detach plan on a session outside any transaction block. A concurrent detach that times out
 * in its second phase leaves the partition detach pending: the retry finishes it with FINALIZE.
 */
export async function executeDetachPlan(
  session: Queryable,
  plan: DetachPlan,
  policy: LockRetryOptions = DEFAULT_LOCK_RETRY,
  onStatement?: (sql: string) => Promise<void>,
): Promise<DetachResult> {
  const result: DetachResult = { detached: [], finalized: [], dropped: [], sql: [] };
  const run = async (sql: string) => {
    result.sql.push(sql);
    await onStatement?.(sql);
    await session.query(sql);
  };
  await setLockTimeout(session, policy.lockTimeoutMs);
  for (const partition of plan.partitions) {
    const [detach, dropTable] = partition.statements as [PlannedStatement, PlannedStatement | undefined];
    let finalized = partition.detachPending;
    await withLockRetries({ sql: detach.sql, purpose: `detach ${partition.schema}.${partition.name}` }, policy, async () => {
      if (!finalized && detach.sql.endsWith(' CONCURRENTLY') && (await isDetachPending(session, partition.oid))) {
        finalized = true;
        return run(detach.sql.replace(/ CONCURRENTLY$/, ' FINALIZE'));
      }
      return run(detach.sql);
    });
    result.detached.push(partition.name);
    if (finalized) result.finalized.push(partition.name);
    if (dropTable) {
      await withLockRetries({ sql: dropTable.sql, purpose: `drop ${partition.schema}.${partition.name}` }, policy, () =>
        run(dropTable.sql),
      );
      result.dropped.push(partition.name);
    }
  }
  return result;
}
