// applyIndex's planner against a real server: the SQL it builds for each kind of index, every
// refusal with its code and message, the injection cases (and proof from pg_stat_statements that
// nothing but catalog SELECTs reached the server), identical indexes recognized, name clashes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIndexSql, planIndex, type IndexInput } from '../../../src/actions/index/definition.js';
import { partitionedStatements } from '../../../src/actions/index/partitions.js';
import type { IndexPlan } from '../../../src/actions/plan.js';
import { Database, type Db, type Queryable } from '../../../src/db/pool.js';
import { PgscopeError } from '../../../src/errors.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';
import { RESET_THIS_DATABASE_STATEMENTS } from '../../harness/stats.js';
import { waitFor } from '../../harness/waitFor.js';
import type { BuildSql } from '../../../src/actions/index/types.js';

let target: TestDatabase;
let db: Database;
let server: { versionNum: number };

const FIXTURE = [
  `CREATE TABLE users (
     id bigint PRIMARY KEY,
     email text NOT NULL,
     status text NOT NULL,
     data jsonb,
     created_at timestamptz,
     nick varchar(40),
     gone int
   )`,
  'ALTER TABLE users DROP COLUMN gone',
  'CREATE VIEW active_users AS SELECT * FROM users',
  'CREATE TABLE accounts (id int, email text, status text, created_at timestamptz)',
  'CREATE INDEX accounts_lower_email ON accounts (lower(email))',
  "CREATE INDEX accounts_pending ON accounts (created_at DESC NULLS LAST) WHERE status = 'pending'",
  "CREATE INDEX accounts_open ON accounts (id) WHERE status IN ('new', 'open') AND email NOT IN ('x')",
  'CREATE TABLE roundtrip (id bigint, email text, status text, data jsonb, created_at timestamptz)',
  'CREATE TABLE events (id bigint, at date NOT NULL, kind text) PARTITION BY RANGE (at)',
  "CREATE TABLE events_2026_01 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')",
  "CREATE TABLE events_2026_02 PARTITION OF events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')",
  'CREATE TABLE events_default PARTITION OF events DEFAULT',
  "INSERT INTO events SELECT g, date '2026-01-01' + g % 90, 'k' || g % 3 FROM generate_series(1, 300) g",
  'CREATE TABLE trees (region text NOT NULL, at date NOT NULL, v int) PARTITION BY LIST (region)',
  "CREATE TABLE trees_eu PARTITION OF trees FOR VALUES IN ('eu') PARTITION BY RANGE (at)",
  "CREATE TABLE trees_eu_2026 PARTITION OF trees_eu FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
  "CREATE TABLE trees_us PARTITION OF trees FOR VALUES IN ('us')",
];

beforeAll(async () => {
  target = await createTestDatabase('indexplan');
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  for (const statement of FIXTURE) await target.sql(statement);
  const [row] = await target.sql<{ version_num: number }>("SELECT current_setting('server_version_num')::int AS version_num");
  server = { versionNum: row!.version_num };
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

const plan = (input: Partial<IndexInput>) => planIndex(db, { table: 'users', columns: [], ...input }, server);

async function refusal(input: Partial<IndexInput>, versionNum?: number): Promise<{ code: string; message: string }> {
  const error = await planIndex(db, { table: 'users', columns: [], ...input }, versionNum ? { versionNum } : server).then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!(error instanceof PgscopeError)) throw new Error(`expected a PgscopeError, got ${String(error)}`);
  return { code: error.code, message: error.message };
}

const bad = (message: string) => ({ code: 'BAD_USER_INPUT', message });
const only = (result: Pick<IndexPlan, 'statements'>) => result.statements.map((statement) => [statement.sql, statement.outsideTransaction]);

describe('the SQL built', () => {
  const cases: Array<[string, Partial<IndexInput>, string]> = [
    [
      'a plain column',
      { columns: [{ column: 'email' }] },
      'CREATE INDEX CONCURRENTLY "users_email_idx" ON "public"."users" USING "btree" ("email")',
    ],
    [
      'DESC NULLS LAST',
      { columns: [{ column: 'created_at', direction: 'DESC', nulls: 'LAST' }] },
      'CREATE INDEX CONCURRENTLY "users_created_at_idx" ON "public"."users" USING "btree" ("created_at" DESC NULLS LAST)',
    ],
    [
      'lower(email)',
      { columns: [{ expression: 'lower(email)' }] },
      'CREATE INDEX CONCURRENTLY "users_lower_idx" ON "public"."users" USING "btree" (("pg_catalog"."lower"("email")))',
    ],
    [
      "(data->>'k')",
      { columns: [{ expression: "(data->>'k')" }] },
      `CREATE INDEX CONCURRENTLY "users_expr_idx" ON "public"."users" USING "btree" ((("data" OPERATOR("pg_catalog".->>) 'k')))`,
    ],
    [
      'a partial index',
      { columns: [{ column: 'created_at' }], where: "status = 'pending'" },
      `CREATE INDEX CONCURRENTLY "users_created_at_idx" ON "public"."users" USING "btree" ("created_at") WHERE ("status" OPERATOR("pg_catalog".=) 'pending')`,
    ],
    [
      'INCLUDE',
      { columns: [{ column: 'status' }], include: ['email'] },
      'CREATE INDEX CONCURRENTLY "users_status_email_idx" ON "public"."users" USING "btree" ("status") INCLUDE ("email")',
    ],
    [
      'GIN with jsonb_path_ops',
      { columns: [{ column: 'data', opclass: 'jsonb_path_ops' }], method: 'gin' },
      'CREATE INDEX CONCURRENTLY "users_data_idx" ON "public"."users" USING "gin" ("data" "jsonb_path_ops")',
    ],
    [
      'unique',
      { columns: [{ column: 'email' }], unique: true },
      'CREATE UNIQUE INDEX CONCURRENTLY "users_email_idx" ON "public"."users" USING "btree" ("email")',
    ],
    [
      'a given name, a backslash in a string, a bare column as expression',
      { columns: [{ expression: 'Nick' }], where: "email LIKE '%\\_%' AND data ? 'x' -- a comment", name: 'Nick Idx' },
      `CREATE INDEX CONCURRENTLY "Nick Idx" ON "public"."users" USING "btree" ("nick") WHERE (("email" OPERATOR("pg_catalog".~~) E'%\\\\_%') AND ("data" OPERATOR("pg_catalog".?) 'x'))`,
    ],
  ];
  it.each(cases)('%s', async (_label, input, sql) => {
    const result = await plan(input);
    expect(only(result)).toEqual([[sql, true]]);
    expect(result.definitionSql).toBe(sql);
    expect(result).toMatchObject({ schema: 'public', table: 'users', partitioned: false, leaves: [], existing: null, warnings: [] });
  });

  it('executes, and PostgreSQL stores the index asked for, which the next plan then recognizes', async () => {
    const inputs: Array<Partial<IndexInput>> = [
      { columns: [{ column: 'created_at', direction: 'DESC', nulls: 'LAST' }], where: "status = 'pending'" },
      { columns: [{ expression: 'lower(email)', opclass: 'text_pattern_ops' }], include: ['id'] },
      { columns: [{ expression: "(data->>'k')" }, { column: 'id' }], unique: true },
      { columns: [{ column: 'data', opclass: 'jsonb_path_ops' }], method: 'gin' },
      { columns: [{ expression: "(data->>'n')::int" }, { expression: "date_trunc('month', created_at AT TIME ZONE 'UTC')" }] },
    ];
    const definitions: string[] = [];
    const sqls: string[] = [];
    for (const input of inputs) {
      const built = await planIndex(db, { table: 'roundtrip', columns: [], ...input }, server);
      sqls.push(built.statements[0]!.sql, ...built.warnings);
      // a fresh connection, outside any transaction block, as the DDL session will run it
      await target.sql(built.statements[0]!.sql);
      const [row] = await target.sql<{ definition: string }>('SELECT pg_get_indexdef(to_regclass($1)) AS definition', [built.name]);
      definitions.push(row!.definition);
      const again = await planIndex(db, { table: 'roundtrip', columns: [], ...input }, server);
      expect(again).toMatchObject({ existing: { schema: 'public', name: built.name, valid: true }, statements: [] });
    }
    expect(sqls.slice(-3)).toEqual([
      `CREATE INDEX CONCURRENTLY "roundtrip_expr_date_trunc_idx" ON "public"."roundtrip" USING "btree" (((("data" OPERATOR("pg_catalog".->>) 'n'))::"pg_catalog"."int4"), ("pg_catalog"."date_trunc"('month', "pg_catalog"."timezone"('UTC', "created_at"))))`,
      'Some variants of the function date_trunc are not IMMUTABLE; PostgreSQL refuses the index (before building anything) if the one its argument types select is one of them.',
      'Some variants of the function pg_catalog.timezone are not IMMUTABLE; PostgreSQL refuses the index (before building anything) if the one its argument types select is one of them.',
    ]);
    expect(definitions).toEqual([
      "CREATE INDEX roundtrip_created_at_idx ON public.roundtrip USING btree (created_at DESC NULLS LAST) WHERE (status = 'pending'::text)",
      'CREATE INDEX roundtrip_lower_id_idx ON public.roundtrip USING btree (lower(email) text_pattern_ops) INCLUDE (id)',
      "CREATE UNIQUE INDEX roundtrip_expr_id_idx ON public.roundtrip USING btree (((data ->> 'k'::text)), id)",
      'CREATE INDEX roundtrip_data_idx ON public.roundtrip USING gin (data jsonb_path_ops)',
      "CREATE INDEX roundtrip_expr_date_trunc_idx ON public.roundtrip USING btree ((((data ->> 'n'::text))::integer), date_trunc('month'::text, timezone('UTC'::text, created_at)))",
    ]);
  });

  it('rebuilds every accepted kind of node as SQL the server reads the same way', async () => {
    const input = {
      columns: [{ expression: "CASE WHEN status IS NOT DISTINCT FROM 'a' THEN coalesce(email, '') ELSE greatest(email, 'z') END" }],
      where: `id BETWEEN -5 AND 10 AND NOT (status IS NULL) AND (email <> '') IS TRUE AND id = ANY (ARRAY[1, 2]) AND nullif(status, 'x') IS NOT NULL AND data @> '{"a": 1}' AND email COLLATE "C" > 'm'`,
    };
    const built = await planIndex(db, { table: 'roundtrip', ...input, name: 'roundtrip_every_node' }, server);
    expect(built.statements[0]!.sql).toBe(
      'CREATE INDEX CONCURRENTLY "roundtrip_every_node" ON "public"."roundtrip" USING "btree" (' +
        `((CASE WHEN ("status" IS NOT DISTINCT FROM 'a') THEN COALESCE("email", '') ELSE GREATEST("email", 'z') END))) ` +
        `WHERE ((("id" OPERATOR("pg_catalog".>=) (-5)) AND ("id" OPERATOR("pg_catalog".<=) (10))) AND (NOT ("status" IS NULL)) ` +
        `AND (("email" OPERATOR("pg_catalog".<>) '') IS TRUE) AND ("id" OPERATOR("pg_catalog".=) ANY (ARRAY[(1), (2)])) ` +
        `AND (NULLIF("status", 'x') IS NOT NULL) AND ("data" OPERATOR("pg_catalog".@>) '{"a": 1}') AND (("email" COLLATE "C") OPERATOR("pg_catalog".>) 'm'))`,
    );
    await target.sql(built.statements[0]!.sql);
    const [row] = await target.sql("SELECT pg_get_indexdef('roundtrip_every_node'::regclass) AS definition");
    expect(row).toEqual({
      definition:
        'CREATE INDEX roundtrip_every_node ON public.roundtrip USING btree ((\nCASE\n' +
        "    WHEN (NOT (status IS DISTINCT FROM 'a'::text)) THEN COALESCE(email, ''::text)\n" +
        "    ELSE GREATEST(email, 'z'::text)\nEND)) WHERE ((id >= '-5'::integer) AND (id <= 10) AND (NOT (status IS NULL)) " +
        "AND ((email <> ''::text) IS TRUE) AND (id = ANY (ARRAY[1, 2])) AND (NULLIF(status, 'x'::text) IS NOT NULL) " +
        `AND (data @> '{"a": 1}'::jsonb) AND ((email COLLATE "C") > 'm'::text))`,
    });
    const again = await planIndex(db, { table: 'roundtrip', columns: input.columns, where: input.where }, server);
    expect(again.existing).toEqual({ schema: 'public', name: 'roundtrip_every_node', valid: true });
  });
});

describe('operator classes outside pg_catalog', () => {
  it('are written with their schema, which the DDL session (search_path pg_catalog) needs, and recognized once built', async () => {
    await target.sql(`
      CREATE OPERATOR CLASS public.int8_plain_ops FOR TYPE int8 USING btree AS
        OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 btint8cmp(int8, int8)`);
    const built = await planIndex(db, { table: 'roundtrip', columns: [{ column: 'id', opclass: 'int8_plain_ops' }] }, server);
    expect(built.statements[0]!.sql).toBe(
      'CREATE INDEX CONCURRENTLY "roundtrip_id_idx" ON "public"."roundtrip" USING "btree" ("id" "public"."int8_plain_ops")',
    );
    const session = await db.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs: 1000 });
    try {
      await session.query(built.statements[0]!.sql);
    } finally {
      await session.close();
    }
    const again = await planIndex(db, { table: 'roundtrip', columns: [{ column: 'id', opclass: 'int8_plain_ops' }] }, server);
    expect(again.existing).toEqual({ schema: 'public', name: 'roundtrip_id_idx', valid: true });
    const plain = await planIndex(db, { table: 'roundtrip', columns: [{ column: 'id' }] }, server);
    expect(plain.existing).toBeNull();
  });
});

describe('existing indexes', () => {
  it('recognizes an identical index written differently', async () => {
    const result = await planIndex(db, { table: 'accounts', columns: [{ expression: 'LOWER( email )' }] }, server);
    expect(result).toEqual({
      schema: 'public',
      table: 'accounts',
      name: 'accounts_lower_email',
      partitioned: false,
      leaves: [],
      statements: [],
      definitionSql: 'CREATE INDEX accounts_lower_email ON public.accounts USING btree (lower(email))',
      existing: { schema: 'public', name: 'accounts_lower_email', valid: true },
      replaces: null,
      warnings: [],
    });
    const partial = await planIndex(
      db,
      {
        table: 'accounts',
        columns: [{ column: 'created_at', direction: 'DESC' as const, nulls: 'LAST' as const }],
        where: "(status='pending')",
        name: 'other',
      },
      server,
    );
    expect(partial.existing).toEqual({ schema: 'public', name: 'accounts_pending', valid: true });
    const listed = await planIndex(
      db,
      { table: 'accounts', columns: [{ column: 'id' }], where: "status in ('new','open') and email not in ('x')" },
      server,
    );
    expect(listed.existing).toEqual({ schema: 'public', name: 'accounts_open', valid: true });
  });

  it('tells a different index apart and refuses its name', async () => {
    const different = await planIndex(db, { table: 'accounts', columns: [{ expression: 'upper(email)' }] }, server);
    expect(different.existing).toBeNull();
    expect(await refusal({ table: 'accounts', columns: [{ column: 'email' }], name: 'accounts_lower_email' })).toEqual({
      code: 'ALREADY_EXISTS',
      message:
        'public.accounts_lower_email already exists: it is an index with another definition on this table. Choose another name, or drop it first.',
    });
    expect(await refusal({ columns: [{ column: 'email' }], name: 'accounts' })).toEqual({
      code: 'ALREADY_EXISTS',
      message: 'public.accounts already exists: it is a table. Choose another name, or drop it first.',
    });
  });

  it('derives a free name when the usual one is taken', async () => {
    const result = await planIndex(db, { table: 'accounts', columns: [{ expression: 'lower(email)' }], where: 'id > 0' }, server);
    expect(result.name).toBe('accounts_lower_idx');
    await target.sql('CREATE TABLE accounts_lower_idx (x int)');
    const next = await planIndex(db, { table: 'accounts', columns: [{ expression: 'lower(email)' }], where: 'id > 0' }, server);
    expect(next.name).toBe('accounts_lower_idx1');
  });
});

describe('partitioned tables', () => {
  it('builds on each partition concurrently and attaches, and the result is valid', async () => {
    const result = await planIndex(db, { table: 'events', columns: [{ column: 'kind' }] }, server);
    expect(result.partitioned).toBe(true);
    expect(result.leaves).toEqual([
      { schema: 'public', table: 'events_2026_01', indexName: 'events_2026_01_kind_idx' },
      { schema: 'public', table: 'events_2026_02', indexName: 'events_2026_02_kind_idx' },
      { schema: 'public', table: 'events_default', indexName: 'events_default_kind_idx' },
    ]);
    const build = (name: string, table: string) => `CREATE INDEX CONCURRENTLY "${name}" ON "public"."${table}" USING "btree" ("kind")`;
    const attach = (name: string) => `ALTER INDEX "public"."events_kind_idx" ATTACH PARTITION "public"."${name}"`;
    expect(only(result)).toEqual([
      ['CREATE INDEX "events_kind_idx" ON ONLY "public"."events" USING "btree" ("kind")', false],
      [build('events_2026_01_kind_idx', 'events_2026_01'), true],
      [attach('events_2026_01_kind_idx'), false],
      [build('events_2026_02_kind_idx', 'events_2026_02'), true],
      [attach('events_2026_02_kind_idx'), false],
      [build('events_default_kind_idx', 'events_default'), true],
      [attach('events_default_kind_idx'), false],
    ]);
    for (const statement of result.statements) await target.sql(statement.sql);
    const rows = await target.sql(
      'SELECT indexrelid::regclass::text AS name, indisvalid AS valid FROM pg_index WHERE indexrelid::regclass::text LIKE $1 ORDER BY 1',
      ['events%kind_idx'],
    );
    expect(rows).toEqual([
      { name: 'events_2026_01_kind_idx', valid: true },
      { name: 'events_2026_02_kind_idx', valid: true },
      { name: 'events_default_kind_idx', valid: true },
      { name: 'events_kind_idx', valid: true },
    ]);
  });

  it('refuses sub-partitioned tables, whose statements the executor does not pair with their indexes yet', async () => {
    expect(await refusal({ table: 'trees', columns: [{ column: 'v' }] })).toEqual({
      code: 'UNSUPPORTED',
      message:
        'Partition public.trees_eu of public.trees is itself partitioned; applyIndex builds indexes on partitioned tables with one level ' +
        'of partitions only. Index each sub-partitioned partition on its own.',
    });
  });

  it('builds the statements for sub-partitioned tables: ON ONLY at each level, attached deepest first', async () => {
    const [table] = await target.sql<{ oid: string; schema_oid: string }>(
      "SELECT c.oid::text AS oid, c.relnamespace::text AS schema_oid FROM pg_class c WHERE c.oid = 'public.trees'::regclass",
    );
    const keys = [{ column: 'v', expression: null, direction: null, nulls: null, opclass: null }];
    const on = { schema: 'public', table: 'trees', oid: table!.oid, schemaOid: table!.schema_oid, name: 'trees_v_idx', unique: false };
    const build: BuildSql = (name, where, flags) =>
      createIndexSql({ name, on: where, method: 'btree', keys, include: [], predicate: null, unique: false, ...flags });
    const result = await partitionedStatements(db, { ...on, keys, include: [], columnNames: ['v'] }, build, true);
    expect(only(result)).toEqual([
      ['CREATE INDEX "trees_v_idx" ON ONLY "public"."trees" USING "btree" ("v")', false],
      ['CREATE INDEX "trees_eu_v_idx" ON ONLY "public"."trees_eu" USING "btree" ("v")', false],
      ['CREATE INDEX CONCURRENTLY "trees_us_v_idx" ON "public"."trees_us" USING "btree" ("v")', true],
      ['ALTER INDEX "public"."trees_v_idx" ATTACH PARTITION "public"."trees_us_v_idx"', false],
      ['CREATE INDEX CONCURRENTLY "trees_eu_2026_v_idx" ON "public"."trees_eu_2026" USING "btree" ("v")', true],
      ['ALTER INDEX "public"."trees_eu_v_idx" ATTACH PARTITION "public"."trees_eu_2026_v_idx"', false],
      ['ALTER INDEX "public"."trees_v_idx" ATTACH PARTITION "public"."trees_eu_v_idx"', false],
    ]);
    for (const statement of result.statements) await target.sql(statement.sql);
    // once built, the index is found: identical-index detection needs no partition walk
    const again = await planIndex(db, { table: 'trees', columns: [{ column: 'v' }] }, server);
    expect(again).toMatchObject({ existing: { schema: 'public', name: 'trees_v_idx', valid: true }, statements: [], leaves: [] });
    const [parent] = await target.sql("SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'trees_v_idx'::regclass");
    expect(parent).toEqual({ valid: true });
  });

  it('refuses a unique index without the partition key', async () => {
    expect(await refusal({ table: 'events', columns: [{ column: 'id' }], unique: true })).toEqual(
      bad(
        'A unique index on partitioned table public.events must include the partition key column at among its key columns (PostgreSQL enforces uniqueness within each partition only).',
      ),
    );
    const ok = await planIndex(db, { table: 'events', columns: [{ column: 'id' }, { column: 'at' }], unique: true }, server);
    expect(ok.statements[0]!.sql).toBe('CREATE UNIQUE INDEX "events_id_at_idx" ON ONLY "public"."events" USING "btree" ("id", "at")');
  });
});

describe('refusals', () => {
  const cases: Array<[string, Partial<IndexInput>, { code: string; message: string }]> = [
    ['no key', { columns: [] }, bad('An index needs at least one column or expression.')],
    [
      'column and expression',
      { columns: [{ column: 'email', expression: 'lower(email)' }] },
      bad('Column 1 of the index must give exactly one of column and expression.'),
    ],
    ['a missing schema', { schema: 'nope', columns: [{ column: 'email' }] }, bad('Schema nope does not exist.')],
    ['a missing table', { table: 'nope', columns: [{ column: 'email' }] }, bad('Table public.nope does not exist.')],
    [
      'a view',
      { table: 'active_users', columns: [{ column: 'email' }] },
      bad('public.active_users is a view; applyIndex builds indexes on tables, partitioned tables and materialized views.'),
    ],
    ['a missing column', { columns: [{ column: 'mail' }] }, bad('Column mail (column 1) does not exist in table public.users.')],
    ['a dropped column', { columns: [{ column: 'gone' }] }, bad('Column gone (column 1) does not exist in table public.users.')],
    ['a system column', { columns: [{ expression: 'ctid' }] }, bad('Column ctid (column 1) does not exist in table public.users.')],
    [
      'a missing INCLUDE column',
      { columns: [{ column: 'email' }], include: ['nope'] },
      bad('Column nope (INCLUDE) does not exist in table public.users.'),
    ],
    [
      'a missing predicate column',
      { columns: [{ column: 'email' }], where: 'nope > 1' },
      bad('Column nope (in the predicate) does not exist in table public.users.'),
    ],
    [
      'a missing method',
      { columns: [{ column: 'email' }], method: 'bogus' },
      bad('Index access method bogus does not exist; use btree, hash, gin, gist, brin or spgist.'),
    ],
    [
      'a unique hash index',
      { columns: [{ column: 'email' }], method: 'hash', unique: true },
      bad('A hash index cannot be unique; only btree indexes can.'),
    ],
    [
      'INCLUDE on gin',
      { columns: [{ column: 'data' }], method: 'gin', include: ['id'] },
      bad('A gin index cannot have INCLUDE columns; btree, gist and spgist indexes can.'),
    ],
    [
      'two hash columns',
      { columns: [{ column: 'email' }, { column: 'id' }], method: 'hash' },
      bad('A hash index has a single column; this one has 2.'),
    ],
    [
      'DESC on gin',
      { columns: [{ column: 'data', direction: 'DESC' }], method: 'gin' },
      bad('A gin index has no order: ASC, DESC, NULLS FIRST and NULLS LAST apply to btree indexes.'),
    ],
    [
      'a missing opclass',
      { columns: [{ column: 'email', opclass: 'nope_ops' }] },
      bad('Operator class nope_ops does not exist for access method btree.'),
    ],
    [
      'an opclass of another type',
      { columns: [{ column: 'id', opclass: 'text_pattern_ops' }] },
      bad('Operator class text_pattern_ops does not accept column id of type bigint.'),
    ],
    [
      'no default opclass',
      { columns: [{ column: 'email' }], method: 'gin' },
      bad('Column email of type text has no default operator class for access method gin; name one.'),
    ],
    [
      'now()',
      { columns: [{ column: 'email' }], where: "created_at > now() - interval '30 days'" },
      bad(
        'The function now is not IMMUTABLE: an index stores its results, so it must always give the same result for the same row (now(), random() and the like cannot be used).',
      ),
    ],
    ['an unknown function', { columns: [{ expression: 'nope(email)' }] }, bad('The function nope with 1 argument does not exist.')],
    [
      'an aggregate',
      { columns: [{ expression: 'max(id)' }] },
      bad('The function max is an aggregate or window function; an index expression is computed from one row.'),
    ],
    [
      'count(*)',
      { columns: [{ expression: 'count(*)' }] },
      bad('Expression 1 cannot contain an aggregate (count); an index expression is computed from one row.'),
    ],
    ['a window', { columns: [{ expression: 'rank() OVER ()' }] }, bad('Expression 1 cannot contain a window function (rank).')],
    [
      'a subquery',
      { columns: [{ column: 'email' }], where: 'id IN (SELECT id FROM accounts)' },
      bad("The predicate (where) cannot contain a subquery; an index accepts a single expression over the table's columns."),
    ],
    [
      'a qualified column',
      { columns: [{ expression: 'users.email' }] },
      bad('Expression 1 must name columns by their name alone (no table prefix, no star).'),
    ],
    [
      'a parameter',
      { columns: [{ column: 'email' }], where: 'id = $1' },
      bad("The predicate (where) cannot contain a parameter ($n); an index accepts a single expression over the table's columns."),
    ],
    [
      'CURRENT_DATE',
      { columns: [{ column: 'email' }], where: 'created_at > CURRENT_DATE' },
      bad(
        "The predicate (where) cannot contain CURRENT_DATE, CURRENT_TIMESTAMP, CURRENT_USER or the like (not immutable); an index accepts a single expression over the table's columns.",
      ),
    ],
    [
      'a constant expression',
      { columns: [{ expression: "'x'" }] },
      bad('Expression 1 refers to no column of the table: its value would be the same for every row.'),
    ],
    ['an empty predicate', { columns: [{ column: 'email' }], where: ' ' }, bad('The predicate (where) is empty.')],
  ];
  it.each(cases)('%s', async (_label, input, expected) => {
    expect(await refusal(input)).toEqual(expected);
  });

  it('refuses PostgreSQL 14.0 to 14.3, whose concurrent builds can corrupt indexes', async () => {
    const message =
      'PostgreSQL 14.0 to 14.3 can silently corrupt indexes built with CREATE INDEX CONCURRENTLY (fixed in 14.4); pgscope does not build indexes there. Upgrade to the latest 14.x minor release.';
    expect(await refusal({ columns: [{ column: 'email' }] }, 140003)).toEqual({ code: 'UNSUPPORTED', message });
    expect(await refusal({ columns: [{ column: 'email' }] }, 140000)).toEqual({ code: 'UNSUPPORTED', message });
    const fixed = await planIndex(db, { table: 'users', columns: [{ column: 'email' }] }, { versionNum: 140004 });
    expect(fixed.name).toBe('users_email_idx');
  });

  it('warns about a transaction CREATE INDEX CONCURRENTLY would wait for', async () => {
    await db.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        await client.query('SELECT 1');
        const [own] = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        const pid = own!.pid;
        // wait for the transaction to be older than a second, as seen from another session
        await waitFor('the transaction to be open for more than a second', async () => {
          const [row] = await target.sql<{ old: boolean }>(
            "SELECT now() - xact_start > interval '1 second' AS old FROM pg_stat_activity WHERE pid = $1",
            [pid],
          );
          return row?.old;
        });
        const result = await planIndex(db, { table: 'users', columns: [{ column: 'email' }] }, server, { longTransactionSeconds: 1 });
        expect(result.warnings).toHaveLength(1);
        expect(result.warnings[0]).toMatch(
          /^1 transaction has been open for more than 1 seconds \(the longest \d+ s\): CREATE INDEX CONCURRENTLY waits until they end before it can finish\.$/,
        );
      } finally {
        await client.query('ROLLBACK');
      }
    });
  });
});

describe('injection attempts', () => {
  const cases: Array<[string, Partial<IndexInput>, string]> = [
    [
      'a table with a statement',
      { table: 'users; DROP TABLE users', columns: [{ column: 'email' }] },
      'Table public."users; DROP TABLE users" does not exist.',
    ],
    [
      'a column closing the list',
      { columns: [{ column: 'email") WITH (fillfactor=10' }] },
      'Column "email"") WITH (fillfactor=10" (column 1) does not exist in table public.users.',
    ],
    [
      'a predicate closing the statement',
      { columns: [{ column: 'email' }], where: 'true); DROP TABLE users; --' },
      'The predicate (where) could not be parsed: syntax error at or near ")".',
    ],
    [
      'an expression with a second statement',
      { columns: [{ expression: 'lower(email)); DROP TABLE users; SELECT (1' }] },
      "Expression 1 must be a single expression over the table's columns, with nothing around it.",
    ],
    [
      'an expression with a FROM',
      { columns: [{ expression: 'email) FROM users WHERE (true' }] },
      "Expression 1 must be a single expression over the table's columns, with nothing around it.",
    ],
    [
      'a name of 200 characters',
      { columns: [{ column: 'email' }], name: 'x'.repeat(200) },
      'The index name is 200 bytes long; PostgreSQL keeps at most 63 bytes of a name (it would cut it silently). Choose a shorter one.',
    ],
    [
      'a Cyrillic look-alike in the table',
      { table: 'us\u0435rs', columns: [{ column: 'email' }] },
      'Table public."us\u0435rs" does not exist (it contains the non-ASCII character U+0435 at position 3: a look-alike of an ASCII letter?).',
    ],
    [
      'a Cyrillic look-alike in a column',
      { columns: [{ column: '\u0435mail' }] },
      'Column "\u0435mail" (column 1) does not exist in table public.users (it contains the non-ASCII character U+0435 at position 1: a look-alike of an ASCII letter?).',
    ],
    ['a name with a control character', { columns: [{ column: 'email' }], name: 'a\nb' }, 'The index name contains a control character.'],
    [
      'a name carrying a statement',
      { columns: [{ column: 'email' }], name: 'x"; DROP TABLE users; --' },
      'The index name contains a quote, backslash or semicolon; choose a plain name (letters, digits, _).',
    ],
  ];

  it('refuses each one with BAD_USER_INPUT, and no DDL reaches the server', async () => {
    const thisDatabase = '(SELECT oid FROM pg_database WHERE datname = current_database())';
    await target.sql(RESET_THIS_DATABASE_STATEMENTS);
    const seen: Array<[string, { code: string; message: string }]> = [];
    const sent: string[] = [];
    const record = (target: Queryable): Queryable => ({
      query: (sql, params) => {
        sent.push(sql);
        return target.query(sql, params);
      },
    });
    const recording: Db = { ...record(db), withClient: (work) => db.withClient((client) => work(record(client))) };
    for (const [label, input] of cases) {
      const error = await planIndex(recording, { table: 'users', columns: [], ...input }, server).catch((caught: PgscopeError) => caught);
      seen.push([label, { code: (error as PgscopeError).code, message: (error as PgscopeError).message }]);
    }
    expect(seen).toEqual(cases.map(([label, , message]) => [label, bad(message)]));
    // what pgscope sent: catalog SELECTs only, the client's text in bind parameters, never in the SQL
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.filter((sql) => !/^\s*SELECT\b/.test(sql) || /DROP|fillfactor|us\u0435rs/.test(sql))).toEqual([]);
    const statements = await target.sql<{ query: string }>(
      `SELECT query FROM pg_stat_statements WHERE dbid = ${thisDatabase} ORDER BY query`,
    );
    expect(statements.filter((row) => /^\s*(CREATE|DROP|ALTER)\b/i.test(row.query) || /DROP TABLE|fillfactor/i.test(row.query))).toEqual(
      [],
    );
    // the catalog look-ups themselves were recorded: the filter above had something to look at
    expect(statements.some((row) => row.query.includes('FROM pg_namespace n'))).toBe(true);
    expect(await target.sql("SELECT to_regclass('public.users') IS NOT NULL AS present")).toEqual([{ present: true }]);
  });
});
