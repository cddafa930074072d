// A plain role that writes code for pgscope to run (issue 12): mallory owns a schema and functions
// declared IMMUTABLE that are not (PL/pgSQL, so the planner cannot inline them), hidden where
// planning finds them. Every run of mallory.evil(via) leaves a pg_stat_statements entry
// "SELECT current_user FROM mallory.ran_via_<via>" under the role that ran it: shared memory, not
// a table, so the evidence outlives explain's rolled-back read-only transaction (where an INSERT
// would fail and roll back) and says whose privileges the function ran with. One table per way in,
// since pg_stat_statements tells statements apart by the objects they use, not by their aliases.
import { queryOnce } from '../../src/db/pool.js';
import type { TestDatabase } from './database.js';
import { createRole, type TestRole } from './roles.js';
import { quoteIdent } from '../../src/sql/quote.js';

export interface Mallory {
  role: TestRole;
  /** Runs SQL as mallory. */
  run(sql: string): Promise<void>;
  /** The `via` of every run of mallory.evil (and her other functions) as `role`, sorted, once each. */
  ranVia(role: string): Promise<string[]>;
}

/** The `via` values mallory.evil accepts. */
export const VIAS = [
  'direct_call',
  'no_argument',
  'view',
  'policy',
  'index_expression',
  'index_predicate',
  'column_default',
  'operator',
  'lower',
  'trusted',
] as const;

// The ways in: a table for each place planning looks, so that each test reaches exactly one.
const MALLORY_SQL = /* SQL */ `
  ${VIAS.map((via) => `CREATE TABLE mallory.ran_via_${via} ();`).join('\n  ')}
  CREATE FUNCTION mallory.record(via text) RETURNS int VOLATILE LANGUAGE plpgsql AS $$
  BEGIN
    EXECUTE format('SELECT current_user FROM mallory.%I', 'ran_via_' || via);
    RETURN 1;
  END $$;
  CREATE FUNCTION mallory.evil(via text DEFAULT 'no_argument') RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
  BEGIN
    RETURN mallory.record(via);
  END $$;

  CREATE TABLE mallory.scored (id int, score int);
  CREATE INDEX scored_by_expression ON mallory.scored ((score + mallory.evil('index_expression')));
  CREATE TABLE mallory.flagged (id int, score int);
  CREATE INDEX flagged_by_predicate ON mallory.flagged (id) WHERE score > mallory.evil('index_predicate');
  CREATE TABLE mallory.entries (id int, score int DEFAULT mallory.evil('column_default'));
  CREATE TABLE mallory.secrets (id int, body text);
  ALTER TABLE mallory.secrets ENABLE ROW LEVEL SECURITY;
  CREATE POLICY visible ON mallory.secrets USING (id > mallory.evil('policy'));
  CREATE VIEW mallory.summary AS SELECT u.id, mallory.evil('view') AS score FROM public.users u;

  CREATE FUNCTION mallory.same(int, int) RETURNS boolean IMMUTABLE LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM mallory.record('operator');
    RETURN $1 = $2;
  END $$;
  CREATE OPERATOR mallory.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = mallory.same);

  -- public.lower(varchar) matches a varchar argument exactly: it wins over pg_catalog.lower(text)
  CREATE FUNCTION public.lower(varchar) RETURNS text IMMUTABLE LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM mallory.record('lower');
    RETURN pg_catalog.lower($1::text);
  END $$;

  GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA mallory TO PUBLIC;`;

const RAN_VIA_SQL = /* SQL */ `
  SELECT
    DISTINCT substring(s.query from 'ran_via_(\\w+)') AS via
  FROM pg_stat_statements s
  WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND s.userid = (SELECT oid FROM pg_roles WHERE rolname = $1)
    AND s.query LIKE 'SELECT current\\_user FROM mallory.ran\\_via\\_%'
  ORDER BY
    via`;

/**
 * Mallory and her code in `target`, where public allows CREATE to everyone (as before PostgreSQL
 * 15) and public.users (id, username varchar) is the superuser's. Drop her role after the database.
 */
export async function createMallory(target: TestDatabase): Promise<Mallory> {
  const role = await createRole('mallory');
  const mallory = quoteIdent(role.name);
  // nested statements (those inside functions) are what leaves the evidence
  await target.sql(`ALTER DATABASE ${quoteIdent(target.name)} SET pg_stat_statements.track = 'all'`);
  await target.sql(`
    CREATE SCHEMA mallory AUTHORIZATION ${mallory};
    GRANT USAGE ON SCHEMA mallory TO PUBLIC;
    GRANT CREATE ON SCHEMA public TO PUBLIC;
    CREATE TABLE public.users (id int PRIMARY KEY, username varchar(40) NOT NULL);
    INSERT INTO public.users VALUES (1, 'Alice'), (2, 'Bob');
    GRANT SELECT ON public.users TO PUBLIC;`);
  const run = async (sql: string) => {
    await queryOnce(role.url(target.name), sql);
  };
  await run(MALLORY_SQL);
  return {
    role,
    run,
    ranVia: async (name) => (await target.sql<{ via: string }>(RAN_VIA_SQL, [name])).map((row) => row.via),
  };
}
