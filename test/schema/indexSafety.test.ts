// applyIndex against a hostile database user and a careless operator (through the GraphQL API):
// a function planted in a schema everyone may create in is never the one an index calls; a
// schema-qualified function runs as the table's owner only when its author is trusted; an INVALID
// leftover identical to the request is rebuilt, never reported as success; rows that make a build
// fail give INDEX_BUILD_FAILED and leave nothing behind. The tests share one database, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database, queryOnce } from '../../src/db/pool.js';
import { trustRemedy } from '../../src/db/trust/rule.js';
import { createRole, type TestRole } from '../harness/roles.js';
import {
  createTestApp,
  createTestDatabase,
  errorCodes,
  TEST_ADMIN_TOKEN,
  testConfig,
  type TestApp,
  type TestDatabase,
} from '../harness/database.js';
import { SqlState } from '../../src/db/sqlState.js';
import { waitFor } from '../harness/waitFor.js';

const APPLY = `mutation($input: ApplyIndexInput!) {
  applyIndex(input: $input) {
    change { id status statements errorCode errorMessage }
    plan { name definition alreadyExists statements { sql purpose } warnings }
    index { name valid alreadyExisted executedSql }
  }
}`;

interface Applied {
  change: { id: string; status: string; statements: string[]; errorCode: string | null; errorMessage: string | null };
  plan: {
    name: string;
    definition: string;
    alreadyExists: boolean;
    statements: Array<{ sql: string; purpose: string }>;
    warnings: string[];
  };
  index: { name: string; valid: boolean; alreadyExisted: boolean; executedSql: string[] } | null;
}

let target: TestDatabase;
let owner: TestRole;
let mallory: TestRole;
let api: TestApp;

beforeAll(async () => {
  target = await createTestDatabase('index_safety');
  const own = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  expect(await migrateOwnSchema(own)).toMatchObject({ ok: true });
  await own.end();
  owner = await createRole('idx_owner');
  mallory = await createRole('idx_mallory');
  // every database created before PostgreSQL 15 lets anyone create in public
  await target.sql(`
    GRANT CREATE ON SCHEMA public TO PUBLIC;
    CREATE TABLE accounts (id int PRIMARY KEY, username varchar(40) NOT NULL, email text NOT NULL);
    INSERT INTO accounts SELECT g, 'User' || g, 'user' || g || '@example.com' FROM generate_series(1, 200) g;
    ALTER TABLE accounts OWNER TO "${owner.name}";
    CREATE SCHEMA app;
    GRANT USAGE, CREATE ON SCHEMA app TO PUBLIC`);
  // her trap: a better match than pg_catalog.lower(text) for a varchar argument, recording each call
  // (PL/pgSQL, so it is not inlined; the INSERT sits in a volatile helper an IMMUTABLE function may call)
  await queryOnce(
    mallory.url(target.name),
    `CREATE TABLE public.lower_calls (who name NOT NULL);
     GRANT INSERT ON public.lower_calls TO PUBLIC;
     CREATE FUNCTION public.lower_log() RETURNS void LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.lower_calls VALUES (current_user); END $$;
     CREATE FUNCTION public.lower(varchar) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM public.lower_log(); RETURN pg_catalog.lower($1::text); END $$;
     CREATE FUNCTION app.normalize(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT pg_catalog.lower($1) $$;
     CREATE FUNCTION app.same(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT $1 OPERATOR(pg_catalog.=) $2 $$;
     CREATE OPERATOR app.=== (LEFTARG = text, RIGHTARG = text, FUNCTION = app.same)`,
  );
  await queryOnce(
    owner.url(target.name),
    `CREATE FUNCTION app.canonical(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT pg_catalog.btrim($1) $$`,
  );
  api = createTestApp(target.url, { ownSchemaReady: true });
});

afterAll(async () => {
  await api.close();
  await target.drop();
  await owner.drop();
  await mallory.drop();
});

async function apply(input: Record<string, unknown>, app: TestApp = api) {
  const result = await app.gql<{ applyIndex: Applied }>(APPLY, { input }, { token: TEST_ADMIN_TOKEN });
  return { result, applied: result.data?.applyIndex ?? null };
}

const herCalls = async () => (await target.sql<{ calls: number }>('SELECT count(*)::int AS calls FROM public.lower_calls'))[0]!.calls;

async function indexesOf(table: string): Promise<Array<{ name: string; valid: boolean }>> {
  return target.sql(
    `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = $1::regclass AND NOT i.indisprimary ORDER BY 1`,
    [table],
  );
}

async function entry(id: string): Promise<{ status: string; error_code: string | null; error_message: string | null }> {
  const [row] = await target.sql<{ status: string; error_code: string | null; error_message: string | null }>(
    'SELECT status, error_code, error_message FROM pgscope.change_log WHERE id = $1',
    [id],
  );
  return row!;
}

describe('a function planted in public (search_path hijack)', () => {
  it('an index built by hand with it is not taken for the one asked for', async () => {
    await target.sql('CREATE INDEX accounts_by_hand ON accounts (lower(username))');
    expect(await herCalls()).toBe(200);
    const { applied } = await apply({ table: 'accounts', columns: [{ expression: 'lower(username)' }] });
    expect(applied!.plan).toMatchObject({ alreadyExists: false, name: 'accounts_lower_idx' });
    await target.sql('DROP INDEX accounts_by_hand; TRUNCATE public.lower_calls');
  });

  it('the plan shows pg_catalog.lower, and neither the build nor a later write ever calls hers', async () => {
    const definition =
      'CREATE INDEX CONCURRENTLY "accounts_lower_idx" ON "public"."accounts" USING "btree" (("pg_catalog"."lower"("username")))';
    const planned = await apply({ table: 'accounts', columns: [{ expression: 'lower(username)' }] });
    expect(planned.applied!.plan).toMatchObject({ definition, statements: [{ sql: definition }] });
    const built = await apply({ table: 'accounts', columns: [{ expression: 'lower(username)' }], dryRun: false });
    expect(built.applied!.index).toMatchObject({ name: 'accounts_lower_idx', valid: true, alreadyExisted: false });
    await target.sql("INSERT INTO accounts VALUES (201, 'Late', 'late@example.com')");
    expect(await herCalls()).toBe(0);
    // lower(text) over a cast: PostgreSQL's own function, not hers (which takes varchar as it is)
    const [row] = await target.sql<{ definition: string }>("SELECT pg_get_indexdef('accounts_lower_idx'::regclass) AS definition");
    expect(row!.definition).toBe('CREATE INDEX accounts_lower_idx ON public.accounts USING btree (lower((username)::text))');
    // asked again: that index, recognized through the cast PostgreSQL prints, not a second one
    const again = await apply({ table: 'accounts', columns: [{ expression: 'lower(username)' }], dryRun: false });
    expect(again.applied!.index).toMatchObject({ name: 'accounts_lower_idx', valid: true, alreadyExisted: true });
  });

  it('operators are written qualified too, as pg_dump writes them', async () => {
    const { applied } = await apply({ table: 'accounts', columns: [{ expression: 'id % 7' }], where: 'id BETWEEN 10 AND 20' });
    expect(applied!.plan.definition).toBe(
      'CREATE INDEX CONCURRENTLY "accounts_expr_idx" ON "public"."accounts" USING "btree" ((("id" OPERATOR("pg_catalog".%) (7)))) ' +
        'WHERE (("id" OPERATOR("pg_catalog".>=) (10)) AND ("id" OPERATOR("pg_catalog".<=) (20)))',
    );
  });
});

describe('functions of other schemas', () => {
  it("refuses one whose author does not hold the table owner's privileges with UNTRUSTED_CODE, building nothing", async () => {
    const { result } = await apply({ table: 'accounts', columns: [{ expression: 'app.normalize(email)' }], dryRun: false });
    expect(errorCodes(result)).toEqual(['UNTRUSTED_CODE']);
    expect(result.errors![0]!.message).toBe(
      `The function app.normalize(text) belongs to role ${mallory.name}; an index runs it as the owner of public.accounts ` +
        `(role ${owner.name}) on every write. ${trustRemedy(mallory.name)}.`,
    );
    expect(await entry(String(result.errors![0]!.extensions!.changeId))).toMatchObject({ status: 'FAILED', error_code: 'UNTRUSTED_CODE' });
    expect(await indexesOf('accounts')).toEqual([{ name: 'accounts_lower_idx', valid: true }]);
  });

  it('looks behind an operator at the function it calls', async () => {
    const { result } = await apply({ table: 'accounts', columns: [{ column: 'id' }], where: "email OPERATOR(app.===) 'x'" });
    expect(errorCodes(result)).toEqual(['UNTRUSTED_CODE']);
    expect(result.errors![0]!.message).toContain(`The function app.same(text, text) belongs to role ${mallory.name}`);
  });

  it("accepts the table owner's function, qualified as the client wrote it", async () => {
    const { applied } = await apply({ table: 'accounts', columns: [{ expression: 'app.canonical(email)' }] });
    expect(applied!.plan.definition).toBe(
      'CREATE INDEX CONCURRENTLY "accounts_canonical_idx" ON "public"."accounts" USING "btree" (("app"."canonical"("email")))',
    );
  });

  it('accepts a role the operator trusts (PGSCOPE_TRUSTED_ROLES)', async () => {
    const trusting = createTestApp(target.url, { ownSchemaReady: true, env: { PGSCOPE_TRUSTED_ROLES: mallory.name } });
    try {
      const { result, applied } = await apply({ table: 'accounts', columns: [{ expression: 'app.normalize(email)' }] }, trusting);
      expect(result.errors).toBeUndefined();
      expect(applied!.change.status).toBe('PLANNED');
    } finally {
      await trusting.close();
    }
  });

  it('refuses a function that does not exist for the argument types, and says where an unqualified name is looked up', async () => {
    const wrongTypes = await apply({ table: 'accounts', columns: [{ expression: 'app.canonical(id)' }] });
    expect(errorCodes(wrongTypes.result)).toEqual(['BAD_USER_INPUT']);
    expect(wrongTypes.result.errors![0]!.message).toBe(
      "The index's expressions or predicate cannot be used as written: function app.canonical(integer) does not exist (SQLSTATE 42883). " +
        'No function matches the given name and argument types. You might need to add explicit type casts.',
    );
    const unqualified = await apply({ table: 'accounts', columns: [{ expression: 'canonical(email)' }] });
    expect(errorCodes(unqualified.result)).toEqual(['BAD_USER_INPUT']);
    expect(unqualified.result.errors![0]!.message).toBe(
      'The function canonical with 1 argument does not exist in pg_catalog, where names without a schema are looked up; ' +
        'it exists in schema app: write app.canonical.',
    );
  });
});

describe('an INVALID index identical to the one asked for', () => {
  const failedUniqueBuild = async () => {
    await expect(target.sql('CREATE UNIQUE INDEX CONCURRENTLY members_email_key ON members (email)')).rejects.toThrow(
      /could not create unique index/,
    );
    expect(await indexesOf('members')).toEqual([{ name: 'members_email_key', valid: false }]);
  };
  beforeAll(async () => {
    await target.sql(`
      CREATE TABLE members (id int PRIMARY KEY, email text NOT NULL);
      INSERT INTO members SELECT g, 'member' || g || '@example.com' FROM generate_series(1, 100) g;
      INSERT INTO members VALUES (101, 'member7@example.com'), (102, 'member9@example.com')`);
    await failedUniqueBuild();
  });

  it('is planned as dropped and built again, never as already there', async () => {
    const { applied } = await apply({ table: 'members', columns: [{ column: 'email' }], unique: true });
    expect(applied!.plan).toMatchObject({ name: 'members_email_key', alreadyExists: false });
    expect(applied!.plan.statements.map((statement) => statement.sql)).toEqual([
      'DROP INDEX CONCURRENTLY IF EXISTS "public"."members_email_key"',
      'CREATE UNIQUE INDEX CONCURRENTLY "members_email_key" ON "public"."members" USING "btree" ("email")',
    ]);
    expect(applied!.plan.warnings).toEqual([
      'An index identical to this one, public.members_email_key, exists but is INVALID (a failed or interrupted build left it): ' +
        'queries do not use it, yet every write maintains it. It is dropped and built again.',
    ]);
  });

  it('with the duplicates still there: INDEX_BUILD_FAILED without the duplicate values, and no INVALID index left', async () => {
    const { result } = await apply({ table: 'members', columns: [{ column: 'email' }], unique: true, dryRun: false });
    expect(errorCodes(result)).toEqual(['INDEX_BUILD_FAILED']);
    const message = result.errors![0]!.message;
    expect(message).toBe(
      'The unique index public.members_email_key could not be built: the table holds rows with equal values of its key ' +
        '(SQLSTATE 23505). What the build had created was dropped. ' +
        'Remove or change the duplicate rows, then apply it again; or build the index without unique.',
    );
    expect(await entry(String(result.errors![0]!.extensions!.changeId))).toMatchObject({
      status: 'FAILED',
      error_code: 'INDEX_BUILD_FAILED',
      error_message: message,
    });
    expect(await indexesOf('members')).toEqual([]);
  });

  it('once the duplicates are gone: rebuilt, valid', async () => {
    await failedUniqueBuild();
    await target.sql('DELETE FROM members WHERE id > 100');
    const { applied } = await apply({ table: 'members', columns: [{ column: 'email' }], unique: true, dryRun: false });
    expect(applied!.index).toMatchObject({ name: 'members_email_key', valid: true, alreadyExisted: false });
    expect(applied!.index!.executedSql[0]).toBe('DROP INDEX CONCURRENTLY IF EXISTS "public"."members_email_key"');
    expect(await indexesOf('members')).toEqual([{ name: 'members_email_key', valid: true }]);
  });

  it('on a partitioned table: the parent left INVALID by hand is dropped with what hangs on it, and the whole tree built again', async () => {
    await target.sql(`
      CREATE TABLE visits (at date NOT NULL, page text NOT NULL) PARTITION BY RANGE (at);
      CREATE TABLE visits_2026_01 PARTITION OF visits FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
      CREATE TABLE visits_2026_02 PARTITION OF visits FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
      INSERT INTO visits SELECT date '2026-01-01' + g % 59, 'p' || g % 7 FROM generate_series(1, 500) g;
      CREATE INDEX visits_page_idx ON ONLY visits (page);
      CREATE INDEX visits_2026_01_page_idx ON visits_2026_01 (page);
      ALTER INDEX visits_page_idx ATTACH PARTITION visits_2026_01_page_idx`);
    expect(await indexesOf('visits')).toEqual([{ name: 'visits_page_idx', valid: false }]);
    const { applied } = await apply({ table: 'visits', columns: [{ column: 'page' }], dryRun: false });
    expect(applied!.index).toMatchObject({ name: 'visits_page_idx', valid: true, alreadyExisted: false });
    expect(applied!.index!.executedSql[0]).toBe('DROP INDEX IF EXISTS "public"."visits_page_idx"');
    const tree = await target.sql<{ name: string; valid: boolean }>(
      `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_partition_tree('visits_page_idx') t
       JOIN pg_class c ON c.oid = t.relid JOIN pg_index i ON i.indexrelid = t.relid ORDER BY t.level, 1`,
    );
    // the leaf's old index went with the parent; its new one got the next free name
    expect(tree).toEqual([
      { name: 'visits_page_idx', valid: true },
      { name: 'visits_2026_01_page_idx1', valid: true },
      { name: 'visits_2026_02_page_idx', valid: true },
    ]);
  });

  it('is refused while another session builds it', async () => {
    const blocker = new Database(target.url, { applicationName: 'pgscope-test-writer', pool: testConfig().pool });
    try {
      await blocker.withClient(async (client) => {
        // an open writer holds the concurrent build in "waiting for writers before build", INVALID meanwhile
        await client.query('BEGIN');
        await client.query("INSERT INTO members VALUES (500, 'writer@example.com')");
        const building = target.sql('CREATE INDEX CONCURRENTLY members_id_email_idx ON members (id, email)').then(
          () => null,
          (error: unknown) => error,
        );
        await waitFor(
          'the concurrent build of members_id_email_idx',
          async () =>
            (await target.sql(`SELECT 1 FROM pg_stat_progress_create_index WHERE index_relid = to_regclass('members_id_email_idx')`))
              .length > 0,
        );
        const { result } = await apply({ table: 'members', columns: [{ column: 'id' }, { column: 'email' }], dryRun: false });
        expect(errorCodes(result)).toEqual(['ALREADY_EXISTS']);
        expect(result.errors![0]!.extensions!.reason).toBe('BEING_BUILT');
        expect(result.errors![0]!.message).toBe(
          'An index identical to this one, public.members_id_email_idx, is being built by another session right now; ' +
            'wait until that build ends, then apply again.',
        );
        await client.query('COMMIT');
        expect(await building).toBeNull();
      });
    } finally {
      await blocker.end();
    }
    expect(await indexesOf('members')).toEqual([
      { name: 'members_email_key', valid: true },
      { name: 'members_id_email_idx', valid: true },
    ]);
  });
});

describe('a build that fails on the rows', () => {
  it('division by zero on one row: INDEX_BUILD_FAILED, recorded FAILED, nothing left', async () => {
    await target.sql(`
      CREATE TABLE ledger (id int PRIMARY KEY, amount numeric NOT NULL);
      INSERT INTO ledger SELECT g, g * 10 FROM generate_series(1, 50) g`);
    const { result } = await apply({ table: 'ledger', columns: [{ expression: 'amount/(id-5)' }], dryRun: false });
    expect(errorCodes(result)).toEqual(['INDEX_BUILD_FAILED']);
    expect(result.errors![0]!.extensions).toMatchObject({ sqlState: SqlState.DIVISION_BY_ZERO });
    expect(result.errors![0]!.message).toBe(
      'The index public.ledger_expr_idx could not be built: for some row of the table its expression or predicate fails ' +
        'with division by zero (SQLSTATE 22012). What the build had created was dropped. ' +
        'Change the expression so that it holds for every row (or leave those rows out with a predicate), then apply it again.',
    );
    expect(await entry(String(result.errors![0]!.extensions!.changeId))).toMatchObject({
      status: 'FAILED',
      error_code: 'INDEX_BUILD_FAILED',
    });
    expect(await indexesOf('ledger')).toEqual([]);
  });
});

describe('where pgscope may not create temporary objects', () => {
  let restricted: TestApp;
  beforeAll(async () => {
    await target.sql(`
      GRANT USAGE ON SCHEMA pgscope TO "${owner.name}";
      GRANT SELECT, INSERT, UPDATE ON pgscope.change_log TO "${owner.name}";
      REVOKE TEMPORARY ON DATABASE "${target.name}" FROM PUBLIC`);
    restricted = createTestApp(owner.url(target.name), { ownSchemaReady: true });
  });
  afterAll(async () => {
    await restricted.close();
    await target.sql(`GRANT TEMPORARY ON DATABASE "${target.name}" TO PUBLIC`);
  });

  it("still writes PostgreSQL's own functions qualified", async () => {
    const { result, applied } = await apply({ table: 'accounts', columns: [{ expression: 'lower(email)' }] }, restricted);
    expect(result.errors).toBeUndefined();
    expect(applied!.plan.definition).toBe(
      'CREATE INDEX CONCURRENTLY "accounts_lower_idx1" ON "public"."accounts" USING "btree" (("pg_catalog"."lower"("email")))',
    );
  });

  it('refuses a function of another schema, whose author it cannot check, with the grant that allows it', async () => {
    const { result } = await apply({ table: 'accounts', columns: [{ expression: 'app.canonical(email)' }] }, restricted);
    expect(errorCodes(result)).toEqual(['INSUFFICIENT_PRIVILEGE']);
    expect(result.errors![0]!.message).toBe(
      'pgscope cannot check who wrote app.canonical: it has PostgreSQL analyze the definition in a temporary view, ' +
        `which role ${owner.name} may not create in database ${target.name} (or the server is a standby). ` +
        `To allow it: GRANT TEMPORARY ON DATABASE "${target.name}" TO "${owner.name}";`,
    );
  });
});
