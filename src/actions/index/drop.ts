// dropIndex: planned against the catalog, then executed on a DDL session. An ordinary index goes
// with DROP INDEX CONCURRENTLY (no lock that blocks reads or writes). A partitioned index cannot be
// dropped concurrently (PostgreSQL refuses), so it gets a plain DROP INDEX under a short
// lock_timeout with bounded retries. Refused, with nothing executed:
// - indexes that back a constraint: dropping them would drop (or be blocked by) the primary key,
//   unique or exclusion constraint, or break a foreign key that relies on them. A partition's index
//   of a partitioned key backs the partitioned table's constraint, named as the one to drop;
// - indexes that keep data correct with no constraint to say so: a valid unique index (its rule
//   goes with it: duplicates were accepted after such a drop), unless an identical one stays (the
//   duplicate indexFindings reports), and the replica identity (logical replication identifies
//   rows by it; after the drop relreplident still says 'i' and names nothing);
// - a leaf index attached to a partitioned index: its parent must go.
import type { Queryable } from '../../db/pool.js';
import { ErrorCode, PgscopeError, badInput, notFound } from '../../errors.js';
import { prepareDdlSession, withLockRetries, type DdlEventHandler, type LockRetryOptions } from '../lockRetry.js';
import type { PlannedStatement } from '../plan.js';
import { quoteIdent } from '../../sql/quote.js';

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
  /**
   * Constraints that use the index: "PRIMARY KEY users_pkey", "FOREIGN KEY orders_user_fk on orders",
   * "PRIMARY KEY events_pkey of the partitioned table events" (for a partition's index).
   */
  constraints: string[];
  /** A valid unique index: it enforces its rule (an INVALID one guarantees nothing, and dropping it is the cleanup). */
  unique: boolean;
  /** Another valid unique index of the table with the same definition (a duplicate): the rule stays when this one goes. */
  unique_twin: string | null;
  replica_identity: boolean;
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
  const protection = protectionOf(facts, input);
  if (protection) throw protection;
  if (facts.attached_to) {
    throw badInput(
      `The index ${input.schema}.${input.name} is the index of one partition, attached to the partitioned index ${facts.attached_to}: ` +
        `it cannot be dropped alone. Drop ${facts.attached_to} (all partitions' indexes go with it).`,
      { schema: input.schema, name: input.name, attachedTo: facts.attached_to },
    );
  }
  const qualified = `${quoteIdent(input.schema)}.${quoteIdent(input.name)}`;
  const statement: PlannedStatement = facts.partitioned
    ? {
        sql: `DROP INDEX ${qualified}`,
        purpose: `drop the partitioned index ${input.schema}.${input.name} and its partitions' indexes`,
        outsideTransaction: false,
      }
    : { sql: `DROP INDEX CONCURRENTLY ${qualified}`, purpose: `drop the index ${input.schema}.${input.name}`, outsideTransaction: true };
  return { schema: input.schema, name: input.name, table: facts.table, partitioned: facts.partitioned, statements: [statement] };
}

/** An index that keeps data correct without a constraint: INDEX_PROTECTED, with what to do instead. */
function protectionOf(facts: IndexFacts, input: { schema: string; name: string }): PgscopeError | null {
  const index = `${input.schema}.${input.name}`;
  const table = `${quoteIdent(input.schema)}.${quoteIdent(facts.table)}`;
  const details = { schema: input.schema, name: input.name, table: facts.table };
  if (facts.replica_identity) {
    return new PgscopeError(
      ErrorCode.INDEX_PROTECTED,
      `The index ${index} is the replica identity of ${input.schema}.${facts.table}: logical replication identifies updated and deleted rows by it, ` +
        'and without it the table would keep REPLICA IDENTITY USING INDEX naming no index. Change the replica identity first ' +
        `(ALTER TABLE ${table} REPLICA IDENTITY DEFAULT, or USING INDEX another unique index), then drop it.`,
      { ...details, reason: 'REPLICA_IDENTITY' },
    );
  }
  if (facts.unique && !facts.unique_twin) {
    return new PgscopeError(
      ErrorCode.INDEX_PROTECTED,
      `The index ${index} is unique: it is what keeps duplicate values out of ${input.schema}.${facts.table}, with no constraint to say so, ` +
        'and dropping it would let duplicates in. pgscope does not remove a rule the data relies on: if it is no longer wanted, drop the index yourself' +
        (facts.attached_to ? ` (with its partitioned index ${facts.attached_to}: a partition's index cannot go alone).` : '.'),
      { ...details, reason: 'UNIQUE' },
    );
  }
  return null;
}

async function indexFacts(db: Queryable, schema: string, name: string): Promise<IndexFacts | null> {
  const [row] = await db.query<IndexFacts & { constraint_rows: Array<{ kind: string; name: string; on: string; inherited: boolean }> }>(
    /* SQL */ `
    SELECT
      t.relname AS table,
      c.relkind = 'I' AS partitioned,
      i.indisunique AND i.indisvalid AS unique,
      (
        SELECT tn.nspname || '.' || oc.relname
        FROM pg_index o
        JOIN pg_class oc ON oc.oid = o.indexrelid
        JOIN pg_namespace tn ON tn.oid = oc.relnamespace
        WHERE o.indrelid = i.indrelid
          AND o.indexrelid <> i.indexrelid
          AND o.indisunique
          AND o.indisvalid
          -- the definitions without their names: keys, method, operator classes, predicate, NULLS NOT DISTINCT
          AND regexp_replace(pg_get_indexdef(o.indexrelid), '^.*? ON ', '') = regexp_replace(pg_get_indexdef(i.indexrelid), '^.*? ON ', '')
        ORDER BY oc.relname
        LIMIT 1
      ) AS unique_twin,
      i.indisreplident AS replica_identity,
      coalesce((
        SELECT json_agg(json_build_object(
          'kind', root.contype,
          'name', root.conname,
          'on', root.conrelid::regclass::text,
          'inherited', con.conparentid <> 0
        ) ORDER BY root.conname)
        FROM pg_constraint con
        -- a partition's key constraint is part of the partitioned table's: name that one
        CROSS JOIN LATERAL (
          WITH RECURSIVE lineage AS (
            SELECT
              con.oid,
              con.conparentid
            UNION ALL
            SELECT
              parent.oid,
              parent.conparentid
            FROM pg_constraint parent
            JOIN lineage ON parent.oid = lineage.conparentid
          )
          SELECT
            r.contype,
            r.conname,
            r.conrelid
          FROM lineage
          JOIN pg_constraint r ON r.oid = lineage.oid
          WHERE lineage.conparentid = 0
        ) root
        WHERE con.conindid = c.oid
          AND (
            con.contype IN ('p', 'u', 'x')
            -- a foreign key of a partitioned table, not its clone on every partition
            OR (con.contype = 'f' AND con.conparentid = 0)
          )
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
  const { constraint_rows: constraintRows, ...facts } = row;
  const constraints = constraintRows.map((con) => {
    const kind = CONSTRAINT_KINDS[con.kind] ?? con.kind;
    if (con.kind === 'f') return `${kind} ${con.name} on ${con.on}`;
    return con.inherited ? `${kind} ${con.name} of the partitioned table ${con.on}` : `${kind} ${con.name}`;
  });
  return { ...facts, constraints };
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
