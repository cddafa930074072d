// What a change created and left behind when it stopped half-way (pgscope died or was stopped, or
// its database session was lost): the INVALID indexes of concurrent builds, and the standalone
// table createPartitions fills before attaching it. One safe path drops them, at start-up and as
// soon as a lost session's database answers again: never an index another session builds, never a
// valid index (except a partition's index whose partitioned index never became valid), never a
// table that is not still the standalone copy pgscope made (its rows stay in the DEFAULT partition
// until the attach commits, so dropping the copy loses nothing).
import type { Queryable } from '../db/pool.js';
import type { CreatedObject } from './changeLog.js';
import { dropInterruptedBuilds, lookupIndex, type InterruptedBuild } from './index/cleanup.js';
import { isLockTimeout, prepareDdlSession } from './lockRetry.js';
import { quoteIdent } from '../sql/quote.js';
import { SqlState, sqlStateOf } from '../db/sqlState.js';

/** What became of one created object. */
export interface Leftover {
  kind: CreatedObject['kind'];
  schema: string;
  name: string;
  /**
   * Indexes: see InterruptedBuild. Tables: REPLACED (another table has the name now), NOT_STANDALONE
   * (attached as a partition, inheriting, or not an ordinary table), IN_USE (other objects depend on it).
   */
  outcome: InterruptedBuild['outcome'] | 'REPLACED' | 'NOT_STANDALONE' | 'IN_USE';
  sql: string | null;
}

/** Where a created object stands now (LEFTOVER_STATES are what a stopped change left). */
export type CreatedState = 'ABSENT' | 'INVALID' | 'VALID' | 'STANDALONE' | 'REPLACED' | 'NOT_STANDALONE';

/**
 * The state of each object of the jsonb array `objects` (a fixed SQL expression: a parameter or a
 * column, never client text): one row per object, with columns kind, schema, name, state.
 */
export function createdStatesSql(objects: string): string {
  return /* SQL */ `
    SELECT
      o.kind,
      o.schema,
      o.name,
      CASE
        WHEN r.oid IS NULL THEN 'ABSENT'
        -- a relation of that name that is no index: not the index pgscope built
        WHEN o.kind = 'index' AND i.indexrelid IS NULL THEN 'ABSENT'
        WHEN o.kind = 'index' AND i.indisvalid THEN 'VALID'
        WHEN o.kind = 'index' THEN 'INVALID'
        WHEN o.oid IS NOT NULL AND r.oid <> o.oid::oid THEN 'REPLACED'
        WHEN r.relkind = 'r'
          AND NOT r.relispartition
          AND NOT EXISTS (
            SELECT 1
            FROM pg_inherits h
            WHERE h.inhrelid = r.oid
          )
          THEN 'STANDALONE'
        ELSE 'NOT_STANDALONE'
      END AS state
    FROM jsonb_to_recordset(${objects}) AS o(kind text, schema text, name text, oid text)
    LEFT JOIN pg_namespace n ON n.nspname = o.schema
    LEFT JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = o.name
    LEFT JOIN pg_index i ON i.indexrelid = r.oid`;
}

export interface CreatedObjectState {
  kind: CreatedObject['kind'];
  schema: string;
  name: string;
  state: CreatedState;
}

/** Where each created object stands now (catalog reads only: no lock, no session state). */
export async function createdStates(db: Queryable, created: readonly CreatedObject[]): Promise<CreatedObjectState[]> {
  return db.query<CreatedObjectState>(createdStatesSql('$1::jsonb'), [JSON.stringify(created)]);
}

/**
 * Drops what `created` left. `session` is a dedicated connection outside any transaction (DROP
 * INDEX CONCURRENTLY); its statement_timeout is turned off and lock_timeout set. With
 * `validLeaves`, a partition's index is dropped even when valid if the partitioned index it was
 * built for did not become valid (the build did not finish; kept, it is a stray duplicate).
 */
export async function dropLeftovers(
  session: Queryable,
  created: readonly CreatedObject[],
  options: { lockTimeoutMs: number; validLeaves: boolean },
): Promise<Leftover[]> {
  await prepareDdlSession(session, options.lockTimeoutMs);
  const candidates = [];
  for (const object of created) {
    if (object.kind !== 'index') continue;
    const parent = object.leafOf ? await lookupIndex(session, object.leafOf.schema, object.leafOf.name) : null;
    candidates.push({
      schema: object.schema,
      name: object.name,
      evenIfValid: options.validLeaves && Boolean(object.leafOf) && !parent?.valid,
    });
  }
  const indexes = await dropInterruptedBuilds(session, candidates, { lockTimeoutMs: options.lockTimeoutMs });
  const results: Leftover[] = indexes.map((build) => ({ kind: 'index', ...build }));
  for (const object of created) {
    if (object.kind === 'table') results.push(await dropStandaloneTable(session, object));
  }
  return results;
}

type TableObject = Extract<CreatedObject, { kind: 'table' }>;

/** The table, if it is still the standalone copy: checked again under its lock, then dropped (no CASCADE). */
async function dropStandaloneTable(session: Queryable, table: TableObject): Promise<Leftover> {
  const result = (outcome: Leftover['outcome'], sql: string | null = null): Leftover => ({
    kind: 'table',
    schema: table.schema,
    name: table.name,
    outcome,
    sql,
  });
  const state = async () => (await createdStates(session, [table]))[0]!.state;
  const before = await state();
  if (before !== 'STANDALONE') return result(before === 'ABSENT' || before === 'REPLACED' ? before : 'NOT_STANDALONE');
  const name = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  const sql = `DROP TABLE ${name}`;
  try {
    await session.query('BEGIN');
    await session.query(`LOCK TABLE ${name} IN ACCESS EXCLUSIVE MODE`);
    // An ATTACH may have committed between the look-up and the lock.
    const locked = await state();
    if (locked !== 'STANDALONE') {
      await session.query('ROLLBACK');
      return result(locked === 'REPLACED' ? 'REPLACED' : 'NOT_STANDALONE');
    }
    await session.query(sql);
    await session.query('COMMIT');
    return result('DROPPED', sql);
  } catch (error) {
    await session.query('ROLLBACK').catch(() => undefined);
    if (isLockTimeout(error)) return result('LOCKED');
    // a view or a foreign key depends on the table
    if (sqlStateOf(error) === SqlState.DEPENDENT_OBJECTS_STILL_EXIST) return result('IN_USE');
    throw error;
  }
}

const OUTCOME_WORDS: Record<Leftover['outcome'], string> = {
  DROPPED: 'dropped',
  ABSENT: 'not there (nothing to drop)',
  VALID: 'valid (the build had finished; kept)',
  BUILDING_ELSEWHERE: 'being built by another session (left alone)',
  LOCKED: 'locked by other sessions past the lock timeout (left for the next start; drop it by hand if it stays INVALID)',
  REPLACED: 'another table has this name now (left alone)',
  NOT_STANDALONE: 'no longer the standalone copy: a partition now, a child table, or not an ordinary table (left alone)',
  IN_USE: 'other objects depend on it, a view or a foreign key (left alone; drop it by hand once they are gone)',
};

const TABLE_LOCKED_WORDS = 'locked by other sessions past the lock timeout (left for the next start)';

/** "public.a_idx: dropped; public.t: ..." */
export function describeLeftovers(leftovers: readonly Leftover[]): string {
  return leftovers
    .map(
      (left) =>
        `${left.schema}.${left.name}: ${left.kind === 'table' && left.outcome === 'LOCKED' ? TABLE_LOCKED_WORDS : OUTCOME_WORDS[left.outcome]}`,
    )
    .join('; ');
}

const STATE_WORDS: Record<CreatedState, string> = {
  ABSENT: 'not there',
  INVALID: 'INVALID, left for the next start to drop',
  VALID: 'valid (kept)',
  STANDALONE: 'a standalone copy not attached, left for the next start to drop',
  REPLACED: 'another table has this name now (left alone)',
  NOT_STANDALONE: 'attached as a partition (kept)',
};

/** "public.a_idx: not there; public.b_idx: INVALID, left for the next start to drop" */
export function describeStates(states: readonly CreatedObjectState[]): string {
  return states.map((object) => `${object.schema}.${object.name}: ${STATE_WORDS[object.state]}`).join('; ');
}

/** The states the next start cleans up: a concurrent build's INVALID index, the standalone copy of a partition. */
export const LEFTOVER_STATES: readonly CreatedState[] = ['INVALID', 'STANDALONE'];

export function isLeftover(state: CreatedState): boolean {
  return LEFTOVER_STATES.includes(state);
}

const STILL_THERE: ReadonlyArray<Leftover['outcome']> = ['LOCKED', 'BUILDING_ELSEWHERE', 'IN_USE'];

/** For a log line: what was dropped and what is still there ("" when everything was absent or kept). */
export function summarizeLeftovers(leftovers: readonly Leftover[]): string {
  const named = (left: Leftover) => `${left.schema}.${left.name}`;
  const dropped = (kind: Leftover['kind']) => leftovers.filter((left) => left.kind === kind && left.outcome === 'DROPPED').map(named);
  const parts: string[] = [];
  const indexes = dropped('index');
  if (indexes.length) parts.push(`dropped the INVALID index${indexes.length === 1 ? '' : 'es'} it left: ${indexes.join(', ')}`);
  const tables = dropped('table');
  if (tables.length) parts.push(`dropped the table${tables.length === 1 ? '' : 's'} it left: ${tables.join(', ')}`);
  const stuck = leftovers.filter((left) => STILL_THERE.includes(left.outcome));
  if (stuck.length) parts.push(`could not drop ${describeLeftovers(stuck)}`);
  return parts.join('; ');
}
