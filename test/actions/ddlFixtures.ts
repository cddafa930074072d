// Shared by the index build tests: IndexPlans written by hand (the planner is tested on its own),
// a build slowed down on purpose, and a lock held by another session.
import type { IndexPlan, PlannedStatement } from '../../src/actions/plan.js';
import type { Database } from '../../src/db/pool.js';
import type { TestDatabase } from '../harness/database.js';
import { waitFor } from '../harness/waitFor.js';
import { quoteIdent } from '../../src/sql/quote.js';

/**
 * A build that takes seconds on a tiny table: slow_key() sleeps 20 ms per row while knob.slow is
 * true (it lies about being IMMUTABLE, which an index expression requires). Qualified names:
 * PostgreSQL 17+ evaluates index expressions with search_path = pg_catalog, pg_temp.
 */
export const SLOW_BUILD_FIXTURE = [
  'CREATE TABLE public.knob (slow boolean NOT NULL)',
  'INSERT INTO public.knob VALUES (true)',
  `CREATE FUNCTION public.slow_key(v int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
   BEGIN
     IF (SELECT slow FROM public.knob) THEN PERFORM pg_catalog.pg_sleep(0.02); END IF;
     RETURN v;
   END $$`,
  'CREATE TABLE public.slowt (v int NOT NULL)',
  'INSERT INTO public.slowt SELECT generate_series(1, 300)',
];

export const setSlow = (target: TestDatabase, slow: boolean) => target.sql('UPDATE public.knob SET slow = $1', [slow]);

const cic = (schema: string, table: string, name: string, keys: string, unique = false): PlannedStatement => ({
  sql: `CREATE ${unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${quoteIdent(name)} ON ${quoteIdent(schema)}.${quoteIdent(table)} USING btree (${keys})`,
  purpose: `build the index ${schema}.${name}`,
  outsideTransaction: true,
});

/** The plan of a plain table's index: one CREATE INDEX CONCURRENTLY. `keys` is SQL (test-owned). */
export function plainPlan(table: string, name: string, keys: string, unique = false): IndexPlan {
  const statement = cic('public', table, name, keys, unique);
  return {
    schema: 'public',
    table,
    name,
    partitioned: false,
    leaves: [],
    statements: [statement],
    definitionSql: statement.sql,
    existing: null,
    replaces: null,
    warnings: [],
  };
}

/** The plan of a partitioned table's index: ON ONLY parent, then per leaf its concurrent build and ATTACH. */
export function partitionedPlan(table: string, name: string, keys: string, leafTables: string[], unique = false): IndexPlan {
  const leaves = leafTables.map((leaf) => ({ schema: 'public', table: leaf, indexName: `${leaf}_${name.replace(`${table}_`, '')}` }));
  const parent: PlannedStatement = {
    sql: `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(name)} ON ONLY public.${quoteIdent(table)} USING btree (${keys})`,
    purpose: `create the partitioned index public.${name}`,
    outsideTransaction: false,
  };
  const perLeaf = leaves.flatMap((leaf) => [
    cic(leaf.schema, leaf.table, leaf.indexName, keys, unique),
    {
      sql: `ALTER INDEX public.${quoteIdent(name)} ATTACH PARTITION public.${quoteIdent(leaf.indexName)}`,
      purpose: `attach ${leaf.indexName}`,
      outsideTransaction: false,
    },
  ]);
  return {
    schema: 'public',
    table,
    name,
    partitioned: true,
    leaves,
    statements: [parent, ...perLeaf],
    definitionSql: parent.sql,
    existing: null,
    replaces: null,
    warnings: [],
  };
}

/**
 * The phase an open writer on the table holds a concurrent build in. The build's progress row shows
 * from its start, but its INVALID index is committed only when this phase begins: a build lost or
 * cancelled before it leaves nothing behind.
 */
export const WAITING_FOR_WRITERS = 'waiting for writers before build';

/** The pid of the session building on `table`, once pg_stat_progress_create_index shows it in `phase`. */
export function buildInPhase(target: Pick<TestDatabase, 'sql'>, table: string, phase: string): Promise<number> {
  return waitFor(`a build on ${table} in phase "${phase}"`, async () => {
    const [row] = await target.sql<{ pid: number }>(
      `SELECT pid FROM pg_stat_progress_create_index WHERE relid = $1::regclass AND phase = $2 AND index_relid <> 0`,
      [`public.${table}`, phase],
    );
    return row?.pid;
  });
}

/** Opens a transaction on another connection that runs `sql` (a LOCK ...) and holds it until release(). */
export function holdLock(database: Database, sql: string): Promise<{ release: () => Promise<void> }> {
  return new Promise((ready, fail) => {
    let signal!: () => void;
    const released = new Promise<void>((resolve) => (signal = resolve));
    const done: Promise<void> = database
      .withClient(async (client) => {
        await client.query('BEGIN');
        await client.query(sql);
        ready({
          release: async () => {
            signal();
            await done;
          },
        });
        await released;
        await client.query('COMMIT');
      })
      .catch(fail);
  });
}

/** Names of the indexes on `table` (a partitioned table's leaves not included), with their validity. */
export async function indexesOn(target: TestDatabase, table: string): Promise<Array<{ name: string; valid: boolean }>> {
  return target.sql(
    `SELECT c.relname AS name, i.indisvalid AS valid
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = $1::regclass ORDER BY c.relname`,
    [`public.${table}`],
  );
}
