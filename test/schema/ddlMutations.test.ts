// The DDL mutations through the GraphQL API: applyIndex, dropIndex, createPartitions and
// detachPartitions. Who may run them, that hostile input never reaches the server as DDL, that a
// build cancelled mid-way leaves nothing behind, and that partitions are created without losing a
// row while the application writes. The tests share one database and run in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCapabilities } from '../../src/db/capabilities.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { captureQueryStats } from '../../src/db/history/snapshots.js';
import { Database } from '../../src/db/pool.js';
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
import { RESET_THIS_DATABASE_STATEMENTS } from '../harness/stats.js';
import { SqlState } from '../../src/db/sqlState.js';
import { buildInPhase, WAITING_FOR_WRITERS } from '../actions/ddlFixtures.js';
import { waitFor } from '../harness/waitFor.js';

const READ_TOKEN = 'test-read-token-0123456789';
const CHANGE = 'change { id status statements errorCode errorMessage tokenName dryRun outcome }';
const APPLY = `mutation($input: ApplyIndexInput!) {
  applyIndex(input: $input) {
    ${CHANGE}
    plan { schema table name definition partitioned alreadyExists statements { sql purpose outsideTransaction } warnings }
    index { schema name sizeBytes valid alreadyExisted executedSql }
  }
}`;
const DROP = `mutation($schema: String, $name: String!, $dryRun: Boolean) {
  dropIndex(schema: $schema, name: $name, dryRun: $dryRun) { ${CHANGE} plan { name table partitioned statements { sql } } }
}`;
const CREATE_PARTITIONS = `mutation($input: CreatePartitionsInput!) {
  createPartitions(input: $input) {
    ${CHANGE}
    plan { interval intervalInferred partitions { name from to rowsInDefault movesRowsFromDefault } statements { sql } warnings }
    created { name rowsMoved }
  }
}`;
const DETACH = `mutation($table: String!, $olderThan: DateTime!, $drop: Boolean, $dryRun: Boolean) {
  detachPartitions(table: $table, olderThan: $olderThan, drop: $drop, dryRun: $dryRun) {
    ${CHANGE}
    plan { concurrently partitions { name expired } statements { sql } }
    result { detached dropped }
  }
}`;
const ENTRY = `query($id: ID!) { changeLogEntry(id: $id) { id status errorCode errorMessage statements outcome } }`;

interface Change {
  id: string;
  status: string;
  statements: string[];
  errorCode: string | null;
  errorMessage: string | null;
  tokenName: string;
  dryRun: boolean;
  outcome: Record<string, unknown> | null;
}

let target: TestDatabase;
let owner: Database;
let api: TestApp;

beforeAll(async () => {
  target = await createTestDatabase('ddl_mutations');
  owner = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  expect(await migrateOwnSchema(owner)).toMatchObject({ ok: true });
  await target.sql(`
    CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL);
    INSERT INTO users SELECT g, 'user' || g || '@example.com', CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'done' END, now() - g * interval '1 minute'
    FROM generate_series(1, 20000) g;
    ANALYZE users`);
  // a long lock timeout: the cancel test cancels a build while it waits for an open transaction
  api = createTestApp(target.url, { ownSchemaReady: true, env: { PGSCOPE_DDL_LOCK_TIMEOUT_MS: '30000' } });
});

afterAll(async () => {
  await Promise.all([api.close(), owner.end()]);
  await target.drop();
});

const apply = (input: Record<string, unknown>, token: string | undefined = TEST_ADMIN_TOKEN) =>
  api.gql<{
    applyIndex: {
      change: Change;
      plan: Record<string, unknown> & { statements: Array<{ sql: string }> };
      index: Record<string, unknown> | null;
    };
  }>(APPLY, { input }, { token });

async function indexesOf(table: string): Promise<Array<{ name: string; valid: boolean }>> {
  return target.sql(
    `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = $1::regclass ORDER BY 1`,
    [table],
  );
}

/** DDL statements pg_stat_statements saw in this database since the last call (then forgotten). */
async function ddlSeen(): Promise<string[]> {
  const rows = await target.sql<{ query: string }>(
    `SELECT query FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
     WHERE d.datname = current_database() AND query ~* '^\\s*(CREATE|DROP|ALTER)\\s' ORDER BY query`,
  );
  await target.sql(RESET_THIS_DATABASE_STATEMENTS);
  return rows.map((row) => row.query);
}

describe('authorization', () => {
  let disabled: TestApp;
  let withReadToken: TestApp;
  beforeAll(() => {
    disabled = createTestApp(target.url, { env: { PGSCOPE_ADMIN_TOKEN: '' }, ownSchemaReady: true });
    withReadToken = createTestApp(target.url, { env: { PGSCOPE_READ_TOKEN: READ_TOKEN }, ownSchemaReady: true });
  });
  afterAll(async () => {
    await Promise.all([disabled.close(), withReadToken.close()]);
  });

  it('refuses every DDL mutation without the admin token, and nothing runs or is recorded', async () => {
    await ddlSeen();
    const cases = [
      [disabled, TEST_ADMIN_TOKEN, 'FORBIDDEN'],
      [api, undefined, 'UNAUTHENTICATED'],
      [api, 'wrong-token-0123456789', 'UNAUTHENTICATED'],
      [withReadToken, READ_TOKEN, 'UNAUTHENTICATED'],
    ] as const;
    for (const [app, token, code] of cases) {
      const results = [
        await app.gql(APPLY, { input: { table: 'users', columns: [{ column: 'email' }], dryRun: false } }, { token }),
        await app.gql(DROP, { name: 'users_pkey', dryRun: false }, { token }),
        await app.gql(CREATE_PARTITIONS, { input: { table: 'users', dryRun: false } }, { token }),
        await app.gql(DETACH, { table: 'users', olderThan: '2030-01-01T00:00:00Z', dryRun: false }, { token }),
      ];
      for (const result of results) {
        expect(errorCodes(result)).toEqual([code]);
        expect(result.data).toBeNull();
      }
    }
    expect(await ddlSeen()).toEqual([]);
    expect(await indexesOf('users')).toEqual([{ name: 'users_pkey', valid: true }]);
    expect(await target.sql('SELECT count(*)::int AS n FROM pgscope.change_log')).toEqual([{ n: 0 }]);
  });
});

describe("pgscope's role must own the table", () => {
  let role: TestRole;
  let owner: TestRole;
  let roleApi: TestApp;
  beforeAll(async () => {
    role = await createRole('ddl_monitor', ['pg_monitor']);
    owner = await createRole('ddl_owner');
    await target.sql(`
      GRANT USAGE ON SCHEMA pgscope TO "${role.name}";
      GRANT SELECT, INSERT, UPDATE ON pgscope.change_log TO "${role.name}";
      CREATE TABLE owned (id int, note text);
      ALTER TABLE owned OWNER TO "${owner.name}";
      CREATE SCHEMA locked;
      CREATE TABLE locked.owned (id int);
      ALTER TABLE locked.owned OWNER TO "${owner.name}";
      GRANT USAGE ON SCHEMA locked TO "${owner.name}";
      GRANT CREATE ON SCHEMA public TO "${owner.name}"`);
    roleApi = createTestApp(role.url(target.name), { ownSchemaReady: true });
  });
  afterAll(async () => {
    await roleApi.close();
    await target.sql(`DROP TABLE owned; DROP SCHEMA locked CASCADE; DROP OWNED BY "${role.name}"; DROP OWNED BY "${owner.name}"`);
    // one after the other: role is a member of owner, and dropping both at once races on pg_auth_members
    await role.drop();
    await owner.drop();
  });

  it('refuses while planning (a dry run already says so), naming the GRANT that allows it', async () => {
    const index = await roleApi.gql(APPLY, { input: { table: 'owned', columns: [{ column: 'id' }] } }, { token: TEST_ADMIN_TOKEN });
    expect(errorCodes(index)).toEqual(['INSUFFICIENT_PRIVILEGE']);
    expect(index.errors![0]!.message).toContain(`GRANT "${owner.name}" TO "${role.name}";`);
    // a superuser's table: membership would hand over everything it owns, so the remedy differs
    const analyze = await roleApi.gql(
      'mutation { analyzeTable(table: "users", dryRun: false) { change { status } } }',
      {},
      { token: TEST_ADMIN_TOKEN },
    );
    expect(errorCodes(analyze)).toEqual(['INSUFFICIENT_PRIVILEGE']);
    expect(analyze.errors![0]!.message).toContain('They belong to a superuser');
  });

  it('plans once the role is a member of the owner role', async () => {
    await target.sql(`GRANT "${owner.name}" TO "${role.name}"`);
    const index = await roleApi.gql<{ applyIndex: { change: Change } }>(
      APPLY,
      { input: { table: 'owned', columns: [{ column: 'id' }] } },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(index.errors).toBeUndefined();
    expect(index.data!.applyIndex.change.status).toBe('PLANNED');
    // owning the table is not enough where the role may not create in the table's schema
    const locked = await roleApi.gql(
      APPLY,
      { input: { schema: 'locked', table: 'owned', columns: [{ column: 'id' }] } },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(errorCodes(locked)).toEqual(['INSUFFICIENT_PRIVILEGE']);
    expect(locked.errors![0]!.message).toContain(`GRANT CREATE ON SCHEMA "locked" TO "${role.name}";`);
  });
});

describe('hostile input', () => {
  const hostile: Array<[string, Record<string, unknown>]> = [
    ['a table name carrying a statement', { table: 'users; DROP TABLE users', columns: [{ column: 'email' }] }],
    ['a column name closing the list', { table: 'users', columns: [{ column: 'email") WITH (fillfactor=10' }] }],
    ['a predicate closing the statement', { table: 'users', columns: [{ column: 'email' }], where: 'true); DROP TABLE users; --' }],
    ['an index name of 200 characters', { table: 'users', columns: [{ column: 'email' }], name: 'i'.repeat(200) }],
    ['an index name carrying a statement', { table: 'users', columns: [{ column: 'email' }], name: 'x"; DROP TABLE users; --' }],
    ['a Cyrillic look-alike table name', { table: 'us\u0435rs', columns: [{ column: 'email' }] }],
    ['a look-alike column name', { table: 'users', columns: [{ column: 'em\u0430il' }] }],
    ['an expression with a subquery', { table: 'users', columns: [{ expression: '(SELECT 1)' }] }],
  ];

  it.each(hostile)('refuses %s with BAD_USER_INPUT, before any DDL reaches the server', async (_, input) => {
    await ddlSeen();
    const result = await apply({ ...input, dryRun: false });
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.extensions!.changeId).toMatch(/^\d+$/);
    expect(await ddlSeen()).toEqual([]);
    expect(await indexesOf('users')).toEqual([{ name: 'users_pkey', valid: true }]);
  });

  it('recorded each refusal as FAILED with its input', async () => {
    const rows = await target.sql<{ status: string; error_code: string; n: number }>(
      `SELECT status, error_code, count(*)::int AS n FROM pgscope.change_log WHERE action = 'applyIndex' AND input->>'table' <> 'owned' GROUP BY 1, 2`,
    );
    expect(rows).toEqual([{ status: 'FAILED', error_code: 'BAD_USER_INPUT', n: hostile.length }]);
  });
});

describe('applyIndex', () => {
  it('is a dry run unless told otherwise: the plan, recorded, nothing built', async () => {
    const { data, errors } = await apply({ table: 'users', columns: [{ column: 'email' }] });
    expect(errors).toBeUndefined();
    const { change, plan, index } = data!.applyIndex;
    expect(change).toMatchObject({ status: 'PLANNED', dryRun: true, tokenName: 'admin' });
    expect(change.statements).toEqual(['CREATE INDEX CONCURRENTLY "users_email_idx" ON "public"."users" USING "btree" ("email")']);
    expect(plan).toMatchObject({ schema: 'public', table: 'users', name: 'users_email_idx', partitioned: false, alreadyExists: false });
    expect(plan.statements).toEqual([{ sql: change.statements[0], purpose: expect.any(String), outsideTransaction: true }]);
    expect(index).toBeNull();
    expect(await indexesOf('users')).toEqual([{ name: 'users_pkey', valid: true }]);
  });

  it('builds a partial index concurrently, then returns the identical one instead of a duplicate', async () => {
    const input = { table: 'users', columns: [{ column: 'created_at', direction: 'DESC' }], where: "status = 'pending'", dryRun: false };
    const first = await apply(input);
    expect(first.errors).toBeUndefined();
    expect(first.data!.applyIndex.change.status).toBe('SUCCEEDED');
    expect(first.data!.applyIndex.index).toMatchObject({ name: 'users_created_at_idx', valid: true, alreadyExisted: false });
    expect(Number(first.data!.applyIndex.index!.sizeBytes)).toBeGreaterThan(8192);
    const second = await apply(input);
    expect(second.data!.applyIndex.plan).toMatchObject({ alreadyExists: true, statements: [] });
    expect(second.data!.applyIndex.index).toMatchObject({ name: 'users_created_at_idx', alreadyExisted: true, executedSql: [] });
    expect(await indexesOf('users')).toEqual([
      { name: 'users_created_at_idx', valid: true },
      { name: 'users_pkey', valid: true },
    ]);
  });

  it('refuses another definition under a taken name with ALREADY_EXISTS', async () => {
    const result = await apply({ table: 'users', columns: [{ column: 'email' }], name: 'users_created_at_idx', dryRun: false });
    expect(errorCodes(result)).toEqual(['ALREADY_EXISTS']);
  });

  it('a build cancelled mid-way (pg_cancel_backend) leaves no INVALID index, and the same call then succeeds', async () => {
    // an open writer makes the concurrent build wait in "waiting for writers before build"
    const writer = new Database(target.url, { applicationName: 'pgscope-test-writer', pool: testConfig().pool });
    try {
      await writer.withClient(async (client) => {
        await client.query('BEGIN');
        await client.query("INSERT INTO users VALUES (100001, 'late@example.com', 'done', now())");
        const started = await apply({ table: 'users', columns: [{ column: 'email' }], dryRun: false, wait: false });
        const change = started.data!.applyIndex.change;
        expect(change.status).toBe('RUNNING');
        const pid = await buildInPhase(target, 'users', WAITING_FOR_WRITERS);
        await target.sql('SELECT pg_cancel_backend($1)', [pid]);
        await client.query('COMMIT');
        const entry = await settled(change.id);
        expect(entry).toMatchObject({ status: 'FAILED', errorCode: 'QUERY_TIMEOUT' });
        expect(entry.statements).toContain('DROP INDEX CONCURRENTLY IF EXISTS "public"."users_email_idx"');
      });
    } finally {
      await writer.end();
    }
    expect((await indexesOf('users')).map((index) => index.name)).not.toContain('users_email_idx');
    const again = await apply({ table: 'users', columns: [{ column: 'email' }], dryRun: false });
    expect(again.data!.applyIndex.index).toMatchObject({ name: 'users_email_idx', valid: true });
  });
});

describe('the measured effect of an index change', () => {
  it('shows calls and mean time of the statements it was meant to help, before and after, from the snapshots', async () => {
    const caps = await detectCapabilities(api.database);
    const lookup = (n: number) => target.sql('SELECT id FROM users WHERE status = $1 AND id % 7 = $2', ['pending', n % 7]);
    const capture = () => captureQueryStats(api.database, caps, 7);
    const run = async (times: number) => {
      for (let i = 0; i < times; i++) await lookup(i);
    };
    await run(2);
    await capture();
    await run(5);
    await capture();
    const [statement] = await target.sql<{ query_id: string }>(
      `SELECT queryid::text AS query_id FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND query LIKE 'SELECT id FROM users WHERE status = $1%'`,
    );
    const queryId = statement!.query_id;
    const applied = await apply({ table: 'users', columns: [{ column: 'status' }], forQueryIds: [queryId], dryRun: false });
    expect(applied.data!.applyIndex.change.status).toBe('SUCCEEDED');
    await capture();
    await run(3);
    await capture();
    const result = await api.gql<{ changeLogEntry: { helpsQueryIds: string[]; effect: Array<Record<string, unknown>> } }>(
      'query($id: ID!) { changeLogEntry(id: $id) { helpsQueryIds effect { queryId query before { calls meanTimeMs } after { calls meanTimeMs } meanTimeRatio } } }',
      { id: applied.data!.applyIndex.change.id },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(result.errors).toBeUndefined();
    const entry = result.data!.changeLogEntry;
    expect(entry.helpsQueryIds).toEqual([queryId]);
    expect(entry.effect).toEqual([
      {
        queryId: queryId,
        query: expect.stringContaining('SELECT id FROM users WHERE status = $1'),
        before: { calls: '5', meanTimeMs: expect.any(Number) },
        after: { calls: '3', meanTimeMs: expect.any(Number) },
        meanTimeRatio: expect.any(Number),
      },
    ]);
  });
});

describe('query ids', () => {
  const EFFECTS = 'query { changeLog(first: 100) { edges { node { id effect { queryId query before { calls } after { calls } } } } } }';
  type Effects = { changeLog: { edges: Array<{ node: { id: string; effect: Array<Record<string, unknown>> } }> } };

  it.each([
    '99999999999999999999',
    '9223372036854775808',
    '12ab',
  ])('refuses forQueryIds %s with BAD_USER_INPUT, recording and building nothing', async (id) => {
    const [before] = await target.sql<{ n: number }>('SELECT count(*)::int AS n FROM pgscope.change_log');
    const result = await apply({ table: 'users', columns: [{ column: 'created_at' }, { column: 'id' }], forQueryIds: [id], dryRun: false });
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.extensions).toMatchObject({ argument: 'forQueryIds' });
    expect(await target.sql<{ n: number }>('SELECT count(*)::int AS n FROM pgscope.change_log')).toEqual([before]);
    expect((await indexesOf('users')).map((index) => index.name)).not.toContain('users_created_at_id_idx');
  });

  // Written before pgscope checked them: `$1::bigint[]` failed every changeLog { effect } read.
  it('reads a stored entry whose query ids are not int8: no measurement for those, everything else intact', async () => {
    const intact = await api.gql<Effects>(EFFECTS, {}, { token: TEST_ADMIN_TOKEN });
    const [row] = await target.sql<{ id: string }>(
      `INSERT INTO pgscope.change_log (action, dry_run, status, actor, finished_at, helps_query_ids)
       VALUES ('applyIndex', false, 'SUCCEEDED', 'admin', now(), '{99999999999999999999,42,not-a-number}')
       RETURNING id::text AS id`,
    );
    const result = await api.gql<Effects>(EFFECTS, {}, { token: TEST_ADMIN_TOKEN });
    expect(result.errors).toBeUndefined();
    const [stored, ...others] = result.data!.changeLog.edges.map((edge) => edge.node);
    expect(stored).toEqual({
      id: row!.id,
      effect: [
        { queryId: '99999999999999999999', query: null, before: null, after: null },
        // measured: no calls in the snapshots before (the test above took them), none after yet
        { queryId: '42', query: null, before: { calls: '0' }, after: null },
        { queryId: 'not-a-number', query: null, before: null, after: null },
      ],
    });
    expect(others).toEqual(intact.data!.changeLog.edges.map((edge) => edge.node));
    await target.sql('DELETE FROM pgscope.change_log WHERE id = $1', [row!.id]);
  });
});

describe('dropIndex', () => {
  it('refuses the index behind the primary key with INDEX_BACKS_CONSTRAINT', async () => {
    const result = await api.gql(DROP, { name: 'users_pkey', dryRun: false }, { token: TEST_ADMIN_TOKEN });
    expect(errorCodes(result)).toEqual(['INDEX_BACKS_CONSTRAINT']);
  });

  it('refuses a unique index that backs no constraint: recorded FAILED, nothing run, duplicates still refused', async () => {
    await target.sql(
      'CREATE TABLE coupons (code text); CREATE UNIQUE INDEX coupons_code_uq ON coupons (code); INSERT INTO coupons VALUES ($$WELCOME$$)',
    );
    const result = await api.gql(DROP, { name: 'coupons_code_uq', dryRun: false }, { token: TEST_ADMIN_TOKEN });
    expect(result.errors![0]!.extensions).toMatchObject({ code: 'INDEX_PROTECTED', reason: 'UNIQUE' });
    const entry = await api.gql<{ changeLogEntry: Change }>(
      ENTRY,
      { id: result.errors![0]!.extensions!.changeId },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(entry.data!.changeLogEntry).toMatchObject({ status: 'FAILED', errorCode: 'INDEX_PROTECTED', statements: [] });
    expect(await indexesOf('coupons')).toEqual([{ name: 'coupons_code_uq', valid: true }]);
    await expect(target.sql("INSERT INTO coupons VALUES ('WELCOME')")).rejects.toMatchObject({ code: SqlState.UNIQUE_VIOLATION });
  });

  it('plans, then drops concurrently', async () => {
    const planned = await api.gql<{ dropIndex: { change: Change; plan: { statements: Array<{ sql: string }> } } }>(
      DROP,
      { name: 'users_email_idx' },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(planned.data!.dropIndex.change.status).toBe('PLANNED');
    expect(planned.data!.dropIndex.plan.statements).toEqual([{ sql: 'DROP INDEX CONCURRENTLY "public"."users_email_idx"' }]);
    const dropped = await api.gql<{ dropIndex: { change: Change } }>(
      DROP,
      { name: 'users_email_idx', dryRun: false },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(dropped.data!.dropIndex.change.status).toBe('SUCCEEDED');
    expect((await indexesOf('users')).map((index) => index.name)).toEqual(['users_created_at_idx', 'users_pkey', 'users_status_idx']);
  });
});

describe('createPartitions and detachPartitions', () => {
  beforeAll(async () => {
    // monthly partitions up to this month, and 10,000 rows of the next two months waiting in the default
    await target.sql(`
      CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, at timestamptz NOT NULL, payload text) PARTITION BY RANGE (at);
      CREATE TABLE events_default PARTITION OF events DEFAULT;
      DO $$
      DECLARE m date;
      BEGIN
        FOR m IN SELECT generate_series(date_trunc('month', now()) - interval '3 months', date_trunc('month', now()), interval '1 month')::date LOOP
          EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
            'events_' || to_char(m, 'YYYY_MM'), m, (m + interval '1 month')::date);
        END LOOP;
      END $$;
      INSERT INTO events (at, payload)
      SELECT date_trunc('month', now()) + interval '1 month' + (g % 55) * interval '1 day' + g * interval '1 second', 'early'
      FROM generate_series(1, 10000) g`);
  });

  it('creates the next three months while another connection inserts, moving the default rows without losing one', async () => {
    const before = await rowCount();
    const writer = new Database(target.url, { applicationName: 'pgscope-test-writer', pool: testConfig().pool });
    let inserted = 0;
    let writing = true;
    const inserts = (async () => {
      while (writing) {
        await writer.query(
          "INSERT INTO events (at, payload) VALUES (date_trunc('month', now()) + interval '1 month' + random() * interval '50 days', 'live')",
        );
        inserted += 1;
      }
    })();
    try {
      const result = await api.gql<{
        createPartitions: {
          change: Change;
          plan: { partitions: Array<{ name: string }> };
          created: Array<{ name: string; rowsMoved: number }>;
        };
      }>(CREATE_PARTITIONS, { input: { table: 'events', dryRun: false } }, { token: TEST_ADMIN_TOKEN });
      expect(result.errors).toBeUndefined();
      const { change, created } = result.data!.createPartitions;
      expect(change.status).toBe('SUCCEEDED');
      expect(created.map((p) => p.name)).toEqual(monthNames(1, 3));
      expect(created[0]!.rowsMoved + created[1]!.rowsMoved).toBeGreaterThanOrEqual(10000);
      // the standalone tables the move filled were on record (with their oids) while they were not partitions yet
      const [entry] = await target.sql<{ creates: unknown }>('SELECT creates FROM pgscope.change_log WHERE id = $1', [change.id]);
      const oids = await target.sql<{ name: string; oid: number }>(
        'SELECT relname AS name, oid::int AS oid FROM pg_class WHERE relname = ANY ($1::text[]) ORDER BY relname',
        [monthNames(1, 2)],
      );
      expect(entry!.creates).toEqual(oids.map(({ name, oid }) => ({ kind: 'table', schema: 'public', name, oid })));
    } finally {
      writing = false;
      await inserts;
      await writer.end();
    }
    expect(inserted).toBeGreaterThan(0);
    expect(await rowCount()).toBe(before + inserted);
    const [left] = await target.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM events_default WHERE at >= date_trunc('month', now()) + interval '1 month'",
    );
    expect(left!.n).toBe(0);
  });

  it('is idempotent: asked again, it plans nothing', async () => {
    const result = await api.gql<{ createPartitions: { plan: { partitions: unknown[]; statements: unknown[] } } }>(
      CREATE_PARTITIONS,
      { input: { table: 'events' } },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(result.data!.createPartitions.plan).toMatchObject({ partitions: [], statements: [] });
  });

  it('refuses (PARTITION_IN_USE) to detach and drop partitions whose range reaches now, and changes nothing', async () => {
    const before = await rowCount();
    const result = await api.gql(
      DETACH,
      { table: 'events', olderThan: '2099-01-01T00:00:00Z', drop: true, dryRun: false },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(errorCodes(result)).toEqual(['PARTITION_IN_USE']);
    expect(result.errors![0]!.extensions!.partitions).toEqual(monthNames(0, 3).map((name) => `public.${name}`));
    expect(await rowCount()).toBe(before);
    const [parts] = await target.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'events'::regclass");
    expect(parts!.n).toBe(8);
  });

  it('refuses (UNSAFE_ROW_MOVE, PUBLICATION) to move rows a publication would delete on its subscribers, dry runs included', async () => {
    await target.sql(`
      CREATE TABLE shipments (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at);
      CREATE TABLE shipments_2024_01 PARTITION OF shipments FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-02-01 00:00+00');
      CREATE TABLE shipments_default PARTITION OF shipments DEFAULT;
      INSERT INTO shipments SELECT g, date_trunc('month', now()) + g * interval '1 hour' FROM generate_series(1, 50) g;
      CREATE PUBLICATION shipments_out FOR TABLE shipments`);
    for (const dryRun of [true, false]) {
      const result = await api.gql(CREATE_PARTITIONS, { input: { table: 'shipments', dryRun } }, { token: TEST_ADMIN_TOKEN });
      expect(errorCodes(result)).toEqual(['UNSAFE_ROW_MOVE']);
      expect(result.errors![0]!.extensions).toMatchObject({ reason: 'PUBLICATION', reasons: ['PUBLICATION'] });
    }
    const [left] = await target.sql<{ partitions: number; waiting: number }>(
      "SELECT (SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'shipments'::regclass) AS partitions, (SELECT count(*)::int FROM shipments_default) AS waiting",
    );
    expect(left).toEqual({ partitions: 2, waiting: 50 });
  });

  it('detaches the partitions older than a date (plain DETACH: the table has a DEFAULT partition)', async () => {
    const olderThan = (await target.sql<{ at: Date }>("SELECT date_trunc('month', now()) - interval '1 month' AS at"))[0]!.at.toISOString();
    const result = await api.gql<{
      detachPartitions: { change: Change; plan: { concurrently: boolean }; result: { detached: string[]; dropped: string[] } };
    }>(DETACH, { table: 'events', olderThan, dryRun: false }, { token: TEST_ADMIN_TOKEN });
    expect(result.errors).toBeUndefined();
    expect(result.data!.detachPartitions.plan.concurrently).toBe(false);
    expect(result.data!.detachPartitions.result).toEqual({ detached: monthNames(-3, -2), dropped: [] });
    const [standalone] = await target.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class WHERE relname = $1 AND NOT relispartition`,
      [monthNames(-3, -3)[0]],
    );
    expect(standalone!.n).toBe(1);
  });
});

async function rowCount(): Promise<number> {
  const [row] = await target.sql<{ n: number }>('SELECT count(*)::int AS n FROM events');
  return row!.n;
}

/** events_YYYY_MM of the months `from` to `to` after the current one (negative: before it). */
function monthNames(from: number, to: number): string[] {
  const now = new Date();
  const names: string[] = [];
  for (let k = from; k <= to; k++) {
    const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + k, 1));
    names.push(`events_${month.getUTCFullYear()}_${String(month.getUTCMonth() + 1).padStart(2, '0')}`);
  }
  return names;
}

function settled(id: string): Promise<Change> {
  return waitFor(`change ${id} to leave RUNNING`, async () => {
    const entry = (await api.gql<{ changeLogEntry: Change }>(ENTRY, { id }, { token: TEST_ADMIN_TOKEN })).data!.changeLogEntry;
    return entry.status === 'RUNNING' ? undefined : entry;
  });
}
