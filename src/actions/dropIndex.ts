// dropIndex: planned against the catalog, then executed on a DDL session. An ordinary index goes
// with DROP INDEX CONCURRENTLY (no lock that blocks reads or writes). A partitioned index cannot be
// dropped concurrently (PostgreSQL refuses), so it gets a plain DROP INDEX under a short
// lock_timeout with bounded retries. Indexes that back a constraint are refused: dropping them
// would drop (or be blocked by) the primary key, unique or exclusion constraint, or break a
// foreign key that relies on them. A leaf index attached to a partitioned index cannot be dropped
// alone: its parent must go.
import { quoteIdent, type Queryable } from '../db/pool.js';
import { ErrorCode, PgscopeError, badInput, notFound } from '../errors.js';
import { prepareDdlSession, withLockRetries, type DdlEventHandler, type LockRetryOptions } from './lockRetry.js';
import type { PlannedStatement } from './plan.js';

export interface DropIndexPlan {
  schema: string;
  name: string;
  table: string;
  /** A partitioned index: plain DROP INDEX with a short lock_timeout. */
  partitioned: boolean;
  statements: PlannedStatement[];
}

interface IndexFacts {
  table: string;
  partitioned: boolean;
  /** Constraints that use the index: "PRIMARY KEY users_pkey", "FOREIGN KEY orders_user_fk on public.orders". */
  constraints: string[];
  /** The partitioned index it is attached to, schema-qualified; null when none. */
  attached_to: string | null;
}

const CONSTRAINT_KINDS: Record<string, string> = { p: 'PRIMARY KEY', u: 'UNIQUE', x: 'EXCLUSION', f: 'FOREIGN KEY' };

/** Validates `schema`.`name` against the catalog and returns the statement that drops it (nothing runs). */
export async function planDropIndex(db: Queryable, input: { schema: string; name: string }): Promise<DropIndexPlan> {
  const facts = await indexFacts(db, input.schema, input.name);
  if (!facts) throw notFound(`There is no index ${input.schema}.${input.name}.`, { schema: input.schema, name: input.name });
  if (facts.constraints.length > 0) {
    throw new PgscopeError(
      ErrorCode.INDEX_BACKS_CONSTRAINT,
      `The index ${input.schema}.${input.name} backs ${facts.constraints.join(', ')}: dropping it would drop or break that constraint. ` +
        'Drop the constraint itself (ALTER TABLE ... DROP CONSTRAINT) if that is what you mean.',
      { schema: input.schema, name: input.name, constraints: facts.constraints },
    );
  }
  if (facts.attached_to) {
    throw badInput(
      `The index ${input.schema}.${input.name} is the index of one partition, attached to the partitioned index ${facts.attached_to}: ` +
        `it cannot be dropped alone. Drop ${facts.attached_to} (all partitions' indexes go with it).`,
      { schema: input.schema, name: input.name, attachedTo: facts.attached_to },
    );
  }
  const qualified = `${quoteIdent(input.schema)}.${quoteIdent(input.name)}`;
  const statement: PlannedStatement = facts.partitioned
    ? { sql: `DROP INDEX ${qualified}`, purpose: `drop the partitioned index ${input.schema}.${input.name} and its partitions' indexes`, outsideTransaction: false }
    : { sql: `DROP INDEX CONCURRENTLY ${qualified}`, purpose: `drop the index ${input.schema}.${input.name}`, outsideTransaction: true };
  return { schema: input.schema, name: input.name, table: facts.table, partitioned: facts.partitioned, statements: [statement] };
}

async function indexFacts(db: Queryable, schema: string, name: string): Promise<IndexFacts | null> {
  const [row] = await db.query<IndexFacts & { constraint_rows: Array<{ kind: string; name: string; on: string }> }>(
    /* SQL */ `
    SELECT
      t.relname AS table,
      c.relkind = 'I' AS partitioned,
      coalesce((
        SELECT json_agg(json_build_object('kind', con.contype, 'name', con.conname, 'on', con.conrelid::regclass::text) ORDER BY con.conname)
        FROM pg_constraint con
        WHERE con.conindid = c.oid
          AND con.contype IN ('p', 'u', 'x', 'f')
          -- a foreign key of a partitioned table, not its clone on every partition
          AND con.conparentid = 0
      ), '[]'::json) AS constraint_rows,
      (
        SELECT pn.nspname || '.' || p.relname
        FROM pg_inherits inh
        JOIN pg_class p ON p.oid = inh.inhparent
        JOIN pg_namespace pn ON pn.oid = p.relnamespace
        WHERE inh.inhrelid = c.oid
      ) AS attached_to
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_index i ON i.indexrelid = c.oid
    JOIN pg_class t ON t.oid = i.indrelid
    WHERE n.nspname = $1
      AND c.relname = $2
      AND c.relkind IN ('i', 'I')`,
    [schema, name],
  );
  if (!row) return null;
  const constraints = row.constraint_rows.map((con) =>
    con.kind === 'f' ? `FOREIGN KEY ${con.name} on ${con.on}` : `${CONSTRAINT_KINDS[con.kind] ?? con.kind} ${con.name}`,
  );
  return { table: row.table, partitioned: row.partitioned, constraints, attached_to: row.attached_to };
}

export interface DropOutcome {
  executedSql: string[];
  durationMs: number;
}

/** Runs a DropIndexPlan on `session` (a dedicated connection outside any transaction). */
export async function dropIndex(
  session: Queryable,
  plan: DropIndexPlan,
  options: LockRetryOptions & { onProgress?: DdlEventHandler },
): Promise<DropOutcome> {
  const started = performance.now();
  await prepareDdlSession(session, options.lockTimeoutMs);
  const executedSql: string[] = [];
  for (const step of plan.statements) {
    await withLockRetries(step, { ...options, onEvent: options.onProgress }, async () => {
      await options.onProgress?.({ kind: 'start', sql: step.sql, purpose: step.purpose });
      const stepStarted = performance.now();
      executedSql.push(step.sql);
      await session.query(step.sql);
      await options.onProgress?.({ kind: 'done', sql: step.sql, purpose: step.purpose, durationMs: performance.now() - stepStarted });
    });
  }
  return { executedSql, durationMs: performance.now() - started };
}
