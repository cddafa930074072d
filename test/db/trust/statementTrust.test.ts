// Where planning finds untrusted code besides the places explainTrust.test.ts shows running: each
// statement below is met with what leads to mallory's functions, and the refusal says through
// what. All of them are checked in one batch, with the same number of catalog queries as one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countStatements, Database } from '../../../src/db/pool.js';
import { describeReach, untrustedReaches } from '../../../src/db/trust/statementTrust.js';
import { parseOneStatement } from '../../../src/sql/parse.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';
import { createMallory, type Mallory } from '../../harness/mallory.js';
import { NO_EXTRA_TRUST } from '../../../src/config.js';
import { quoteIdent } from '../../../src/sql/quote.js';

let target: TestDatabase;
let mallory: Mallory;
let db: Database;
let version: number;

// mallory's, beside createMallory's; evil() runs as she creates some of them: a `via` it accepts
const MORE_OF_MALLORY = /* SQL */ `
  CREATE TABLE mallory.parted (a int) PARTITION BY RANGE ((a + mallory.evil('view')));
  CREATE TABLE mallory.parted_low PARTITION OF mallory.parted FOR VALUES FROM (0) TO (100);
  CREATE TABLE mallory.checked (a int CHECK (a > mallory.evil('view')));
  CREATE TABLE mallory.logged (a int);
  CREATE RULE log_it AS ON INSERT TO mallory.logged DO ALSO SELECT mallory.evil('view');
  CREATE VIEW mallory.outer_summary AS SELECT id FROM mallory.summary;
  CREATE TABLE mallory.guarded (id int);
  ALTER TABLE mallory.guarded ENABLE ROW LEVEL SECURITY;
  CREATE POLICY among_scored ON mallory.guarded USING (id IN (SELECT id FROM mallory.scored));
  CREATE DOMAIN mallory.positive AS int CONSTRAINT positive CHECK (VALUE > mallory.evil('view'));
  CREATE TABLE mallory.amounts (n mallory.positive);
  CREATE FUNCTION mallory.int_diff(a int, b int) RETURNS float8 IMMUTABLE LANGUAGE plpgsql AS 'BEGIN RETURN a - b; END';
  CREATE TYPE mallory.span AS RANGE (subtype = int, subtype_diff = mallory.int_diff);
  CREATE TABLE mallory.spans (s mallory.span);
  CREATE TYPE mallory.celsius AS (degrees int);
  CREATE FUNCTION mallory.to_celsius(n int) RETURNS mallory.celsius IMMUTABLE LANGUAGE plpgsql AS 'BEGIN RETURN ROW(n); END';
  CREATE CAST (int AS mallory.celsius) WITH FUNCTION mallory.to_celsius(int);
  CREATE TABLE mallory.base (id int, score int);
  CREATE TABLE mallory.child () INHERITS (mallory.base);
  CREATE INDEX child_by_expression ON mallory.child ((score + mallory.evil('view')));
  CREATE MATERIALIZED VIEW mallory.snapshot AS SELECT mallory.evil('view') AS score WITH NO DATA;
  CREATE FUNCTION mallory.packaged() RETURNS int IMMUTABLE LANGUAGE plpgsql AS 'BEGIN RETURN 1; END';
  -- expressions in extended statistics came with PostgreSQL 14
  DO $$
  BEGIN
    IF current_setting('server_version_num')::int >= 140000 THEN
      CREATE TABLE mallory.measured (a int, b int);
      EXECUTE 'CREATE STATISTICS mallory.measured_stats ON (a + mallory.evil(''view'')), b FROM mallory.measured';
    END IF;
  END $$;`;

beforeAll(async () => {
  target = await createTestDatabase('plan_trust');
  mallory = await createMallory(target);
  await mallory.run(MORE_OF_MALLORY);
  // a superuser's function whose parameter default calls hers; her function, made part of an extension
  await target.sql(`
    CREATE FUNCTION public.greet(n int DEFAULT mallory.evil('view')) RETURNS int IMMUTABLE LANGUAGE plpgsql AS 'BEGIN RETURN n; END';
    CREATE EXTENSION file_fdw;
    ALTER EXTENSION file_fdw ADD FUNCTION mallory.packaged()`);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_POOL_MAX: '1' }).pool });
  version = Number((await target.sql<{ version: string }>("SELECT current_setting('server_version_num') AS version"))[0]!.version);
});

afterAll(async () => {
  await db.end();
  await target.drop();
  await mallory.role.drop();
});

const evil = () => `function mallory.evil(text), owned by role ${mallory.role.name}`;

async function reaches(statements: readonly string[], trust = NO_EXTRA_TRUST) {
  const nodes = await Promise.all(statements.map(async (sql) => (await parseOneStatement(sql)).node));
  return (await untrustedReaches(db, trust, nodes)).map((reach) => (reach ? describeReach(reach) : null));
}

describe('untrustedReaches', () => {
  const cases = (): Array<[string, string | null]> => [
    ['SELECT * FROM mallory.parted', `it reaches ${evil()}, through partition key of mallory.parted`],
    ['SELECT * FROM mallory.parted_low', `it reaches ${evil()}, through partition key of mallory.parted`],
    ['SELECT * FROM mallory.checked WHERE a = 1', `it reaches ${evil()}, through check constraint checked_a_check on mallory.checked`],
    ['INSERT INTO mallory.logged VALUES (1)', `it reaches ${evil()}, through rule log_it on mallory.logged`],
    ['SELECT * FROM mallory.logged', null],
    ['SELECT * FROM mallory.entries', null],
    ['UPDATE mallory.entries SET score = DEFAULT', `it reaches ${evil()}, through default of column score of mallory.entries`],
    ['SELECT * FROM mallory.outer_summary', `it reaches ${evil()}, through view mallory.summary`],
    ['SELECT * FROM mallory.guarded', `it reaches ${evil()}, through index scored_by_expression on mallory.scored`],
    ['SELECT 1::mallory.positive', `it reaches ${evil()}, through check constraint positive of domain mallory.positive`],
    ['SELECT * FROM mallory.amounts', `it reaches ${evil()}, through check constraint positive of domain mallory.positive`],
    [
      "SELECT * FROM mallory.spans WHERE s && '[1,5)'",
      `it reaches function mallory.int_diff(integer, integer), owned by role ${mallory.role.name}, through type mallory.span`,
    ],
    [
      'SELECT CAST(1 AS mallory.celsius)',
      `it reaches function mallory.to_celsius(integer), owned by role ${mallory.role.name}, through cast from integer to mallory.celsius`,
    ],
    ['SELECT CAST(1 AS text)', null],
    ['SELECT * FROM mallory.base', `it reaches ${evil()}, through index child_by_expression on mallory.child`],
    ['SELECT * FROM mallory.snapshot', null],
    ['SELECT public.greet()', `it reaches ${evil()}, through function public.greet(integer)`],
    ['SELECT mallory.packaged()', `it calls function mallory.packaged(), owned by role ${mallory.role.name}`],
    [
      'SELECT * FROM mallory.measured',
      version >= 140000 ? `it reaches ${evil()}, through statistics object measured_stats on mallory.measured` : null,
    ],
    ['SELECT id, upper(username) FROM users WHERE id = 1', null],
  ];

  it('finds each way in, for a whole batch of statements at once', async () => {
    const all = cases();
    expect(await reaches(all.map(([sql]) => sql))).toEqual(all.map(([, reach]) => reach));
  });

  it('asks the catalog as many times for the batch as for one statement', async () => {
    const nodes = await Promise.all(cases().map(async ([sql]) => (await parseOneStatement(sql)).node));
    const one = { statements: 0 };
    await untrustedReaches(countStatements(db, one), NO_EXTRA_TRUST, nodes.slice(0, 1));
    const batch = { statements: 0 };
    await untrustedReaches(countStatements(db, batch), NO_EXTRA_TRUST, nodes);
    expect(batch.statements).toBe(one.statements);
  });

  it('trusts the functions of an extension listed in PGSCOPE_TRUSTED_EXTENSIONS', async () => {
    expect(await reaches(['SELECT mallory.packaged()'], { roles: [], extensions: ['file_fdw'] })).toEqual([null]);
  });
});

describe('untrustedReaches with an operator class that uses her function', () => {
  it('refuses every statement: sorting, grouping and joins may use any operator class', async () => {
    const other = await createTestDatabase('plan_trust_opclass');
    const otherDb = new Database(other.url, { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_POOL_MAX: '1' }).pool });
    try {
      await other.sql(`
        CREATE SCHEMA mallory AUTHORIZATION ${quoteIdent(mallory.role.name)};
        SET ROLE ${quoteIdent(mallory.role.name)};
        CREATE FUNCTION mallory.hash_int(n int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS 'BEGIN RETURN n; END';
        RESET ROLE;
        CREATE OPERATOR CLASS mallory_int_ops FOR TYPE int USING hash AS OPERATOR 1 =, FUNCTION 1 mallory.hash_int(int)`);
      const [reach] = await untrustedReaches(otherDb, NO_EXTRA_TRUST, [(await parseOneStatement('SELECT 1')).node]);
      expect(describeReach(reach!)).toBe(
        `it reaches function mallory.hash_int(integer), owned by role ${mallory.role.name}, through operator family public.mallory_int_ops (hash), ` +
          'which sorting, grouping, joins and index scans use implicitly',
      );
    } finally {
      await otherDb.end();
      await other.drop();
    }
  });
});
