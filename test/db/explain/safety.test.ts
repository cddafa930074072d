// explain must change nothing and tell nothing it read: the attacks below, run as the superuser
// the demo connects as, are refused before anything executes, and errors keep data to the server.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCapabilities, type Capabilities } from '../../../src/db/capabilities.js';
import { explain, type ExplainRequest } from '../../../src/db/explain/explain.js';
import { Database } from '../../../src/db/pool.js';
import { isPgscopeError } from '../../../src/errors.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';
import { SqlState } from '../../../src/db/sqlState.js';

let target: TestDatabase;
let db: Database;
let caps: Capabilities;

const FIXTURES = /* SQL */ `
  CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);
  INSERT INTO users VALUES (1, 'alice@example.com'), (2, 'bob@example.com');
  CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL, placed_at timestamptz NOT NULL);
  INSERT INTO orders SELECT g, g % 2 + 1, now() - make_interval(days => g) FROM generate_series(1, 10) g;

  CREATE VIEW lucky_users AS SELECT id, random() AS luck FROM users;
  CREATE VIEW luckiest_users AS SELECT id FROM lucky_users ORDER BY luck LIMIT 1;
  CREATE VIEW user_orders AS SELECT u.email, o.placed_at FROM users u JOIN orders o ON o.user_id = u.id;
  CREATE SEQUENCE tickets;

  CREATE FUNCTION shout(users) RETURNS text VOLATILE LANGUAGE sql AS 'SELECT upper($1.email)';
  CREATE FUNCTION add_noisily(int, int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT $1 + $2';
  CREATE OPERATOR #+# (LEFTARG = int, RIGHTARG = int, FUNCTION = add_noisily);
  CREATE AGGREGATE noisy_sum(int) (SFUNC = add_noisily, STYPE = int);
  CREATE TYPE temperature AS (celsius int);
  CREATE FUNCTION to_temperature(int) RETURNS temperature VOLATILE LANGUAGE sql AS 'SELECT ROW($1)::temperature';
  CREATE CAST (int AS temperature) WITH FUNCTION to_temperature(int);

  CREATE EXTENSION file_fdw;
  CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
  CREATE FOREIGN TABLE hostname_file (line text) SERVER files OPTIONS (filename '/etc/hostname');
  CREATE TABLE lines (line text) PARTITION BY LIST (line);
  CREATE FOREIGN TABLE lines_from_file PARTITION OF lines DEFAULT SERVER files OPTIONS (filename '/etc/hostname');

  CREATE TABLE notes (id int, body text);
  ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
  CREATE POLICY some_notes ON notes USING (random() < 2);
  ANALYZE;`;

beforeAll(async () => {
  target = await createTestDatabase('explain_safety');
  await target.sql(FIXTURES);
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_POOL_MAX: '1' }).pool });
  caps = await detectCapabilities(db);
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

const request = (sql: string, more: Partial<ExplainRequest> = {}): ExplainRequest => ({
  sql,
  params: null,
  analyze: true,
  timeoutMs: 10_000,
  ...more,
});

async function failure(work: Promise<unknown>) {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isPgscopeError(error)) throw new Error(`expected a PgscopeError, got ${String(error)}`);
  return { code: error.code, message: error.message, extensions: error.extensions };
}

const REFUSED =
  'analyze executes the statement, so it refuses anything that could act outside its rolled-back read-only transaction; this one is refused: ';

describe('explain(analyze) with a superuser connection', () => {
  it('creates no replication slot', async () => {
    const refused = await failure(explain(db, caps, request("SELECT pg_create_physical_replication_slot('pgscope_attack', true)")));
    expect(refused).toEqual({
      code: 'UNSAFE_STATEMENT',
      message: `${REFUSED}it uses volatile function pg_catalog.pg_create_physical_replication_slot.`,
      extensions: { code: 'UNSAFE_STATEMENT', object: 'volatile function pg_catalog.pg_create_physical_replication_slot' },
    });
    expect(await target.sql("SELECT count(*)::int AS slots FROM pg_replication_slots WHERE slot_name = 'pgscope_attack'")).toEqual([
      { slots: 0 },
    ]);
  });

  it('does not reset pg_stat_statements', async () => {
    await target.sql('SELECT 4242 AS survivor');
    const survivors = "SELECT count(*)::int AS kept FROM pg_stat_statements WHERE query = 'SELECT $1 AS survivor'";
    expect(await target.sql(survivors)).toEqual([{ kept: 1 }]);
    const refused = await failure(explain(db, caps, request('SELECT pg_stat_statements_reset()')));
    expect(refused.message).toBe(`${REFUSED}it uses volatile function public.pg_stat_statements_reset.`);
    expect(await target.sql(survivors)).toEqual([{ kept: 1 }]);
  });

  it('terminates no other backend', async () => {
    const other = new Database(target.url, { applicationName: 'pgscope-test-victim', pool: testConfig({ PGSCOPE_POOL_MAX: '1' }).pool });
    try {
      const [before] = await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const refused = await failure(explain(db, caps, request(`SELECT pg_terminate_backend(${before!.pid})`)));
      expect(refused.message).toBe(`${REFUSED}it uses volatile function pg_catalog.pg_terminate_backend.`);
      expect(await other.query('SELECT pg_backend_pid() AS pid')).toEqual([before]);
    } finally {
      await other.end();
    }
  });

  it('reloads no configuration and switches no WAL file', async () => {
    const [loaded] = await target.sql<{ at: Date }>('SELECT pg_conf_load_time() AS at');
    expect((await failure(explain(db, caps, request('SELECT pg_reload_conf()')))).message).toBe(
      `${REFUSED}it uses volatile function pg_catalog.pg_reload_conf.`,
    );
    expect(await target.sql('SELECT pg_conf_load_time() AS at')).toEqual([loaded]);
    expect((await failure(explain(db, caps, request('SELECT pg_switch_wal()')))).message).toBe(
      `${REFUSED}it uses volatile function pg_catalog.pg_switch_wal.`,
    );
  });

  it('reads no file, even inside a cast whose error would echo it', async () => {
    const hostname = fs.readFileSync('/etc/hostname', 'utf8').trim();
    const refused = await failure(explain(db, caps, request("SELECT pg_read_file('/etc/hostname')::int")));
    expect(refused.message).toBe(`${REFUSED}it uses volatile function pg_catalog.pg_read_file.`);
    expect(JSON.stringify(refused)).not.toContain(hostname);
  });

  it('finds a volatile function inside a view inside a view', async () => {
    const refused = await failure(explain(db, caps, request('SELECT * FROM luckiest_users')));
    expect(refused).toEqual({
      code: 'UNSAFE_STATEMENT',
      message: `${REFUSED}it uses volatile function pg_catalog.random (through view public.lucky_users).`,
      extensions: { code: 'UNSAFE_STATEMENT', object: 'volatile function pg_catalog.random', within: 'view public.lucky_users' },
    });
  });

  it.each([
    ["SELECT nextval('tickets')", 'volatile function pg_catalog.nextval'],
    ['SELECT random()', 'volatile function pg_catalog.random'],
    ['SELECT id FROM users WHERE id #+# 1 > 2', 'operator public.#+# (volatile function add_noisily)'],
    ['SELECT pg_catalog.random()', 'volatile function pg_catalog.random'],
    ['SELECT id FROM users WHERE id OPERATOR(public.#+#) 1 > 2', 'operator public.#+# (volatile function add_noisily)'],
    ['SELECT noisy_sum(id) FROM users', 'aggregate public.noisy_sum (its volatile support function add_noisily)'],
    ['SELECT CAST(1 AS temperature)', 'cast to temperature (volatile function to_temperature)'],
    ['SELECT temperature(1)', 'cast to temperature (volatile function to_temperature)'],
    ['SELECT u.shout FROM users u', 'volatile function public.shout'],
    ['SELECT * FROM hostname_file', 'foreign table public.hostname_file'],
    ['SELECT count(*) FROM lines', 'foreign table public.lines_from_file'],
    [
      'SELECT count(*) FROM orders WHERE user_id IN (SELECT id FROM notes)',
      'volatile function pg_catalog.random (through policy some_notes on public.notes)',
    ],
  ])('refuses %s', async (sql, culprit) => {
    const refused = await failure(explain(db, caps, request(sql)));
    expect(refused).toMatchObject({ code: 'UNSAFE_STATEMENT', message: `${REFUSED}it uses ${culprit}.` });
  });

  it("follows a domain's check constraint, which any value coerced to the domain runs", async () => {
    const other = await createTestDatabase('explain_safety_domain');
    const otherDb = new Database(other.url, { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_POOL_MAX: '1' }).pool });
    try {
      await other.sql('CREATE DOMAIN lucky_int AS int CONSTRAINT lucky CHECK (VALUE > random() - 2)');
      const refused = await failure(explain(otherDb, caps, request('SELECT 1')));
      expect(refused.message).toBe(
        `${REFUSED}it uses volatile function pg_catalog.random (through check constraint lucky of domain lucky_int).`,
      );
    } finally {
      await otherDb.end();
      await other.drop();
    }
  });

  it('left the sequence untouched', async () => {
    expect(await target.sql('SELECT last_value::int AS last_value, is_called FROM tickets')).toEqual([{ last_value: 1, is_called: false }]);
  });

  it('still analyzes a SELECT with now(), joins, a view, casts and aggregates', async () => {
    const outcome = await explain(
      db,
      caps,
      request(
        "SELECT u.email, count(*)::int AS orders FROM user_orders u WHERE u.placed_at < now() - '1 day'::interval GROUP BY u.email ORDER BY 1",
        {},
      ),
    );
    expect(outcome).toMatchObject({ analyzed: true, actualRows: 2 });
  });

  it('still explains, without analyze, what analyze refuses (nothing executes)', async () => {
    const outcome = await explain(db, caps, request("SELECT pg_read_file('/etc/hostname')::int", { analyze: false }));
    expect(outcome).toMatchObject({ analyzed: false, actualRows: null });
  });
});

describe('explain errors', () => {
  const WITHHELD = 'Its message is withheld because it can contain data read by the statement; run the statement yourself to see it.';

  it('keeps a value read from a table out of the error', async () => {
    const refused = await failure(explain(db, caps, request('SELECT (SELECT email FROM users ORDER BY id LIMIT 1)::int')));
    expect(refused).toEqual({
      code: 'BAD_USER_INPUT',
      message: `PostgreSQL rejected the statement with SQLSTATE 22P02: a value was invalid for its type or operation (a cast, a division by zero, a parameter). ${WITHHELD}`,
      extensions: { code: 'BAD_USER_INPUT', sqlState: SqlState.INVALID_TEXT_REPRESENTATION },
    });
  });

  it('keeps a setting the planner evaluated out of the error of a plain EXPLAIN', async () => {
    await target.sql(`ALTER DATABASE ${target.name} SET pgscope_test.secret = 'hunter2'`);
    const fresh = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_POOL_MAX: '1' }).pool });
    try {
      // Estimating id = <stable expression> evaluates the expression at plan time.
      const refused = await failure(
        explain(fresh, caps, request("SELECT * FROM users WHERE id = current_setting('pgscope_test.secret')::int", { analyze: false })),
      );
      expect(refused.extensions).toEqual({ code: 'BAD_USER_INPUT', sqlState: SqlState.INVALID_TEXT_REPRESENTATION });
      expect(refused.message).not.toContain('hunter2');
    } finally {
      await fresh.end();
      await target.sql(`ALTER DATABASE ${target.name} RESET pgscope_test.secret`);
    }
  });

  it('keeps the error of a function PostgreSQL folds at plan time generic', async () => {
    const refused = await failure(explain(db, caps, request("SELECT 'not a number'::int", { analyze: false })));
    expect(refused.extensions).toEqual({ code: 'BAD_USER_INPUT', sqlState: SqlState.INVALID_TEXT_REPRESENTATION });
  });

  it('passes on what only echoes the statement: unknown names, with their position', async () => {
    expect(await failure(explain(db, caps, request('SELECT nope(1) FROM users')))).toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'PostgreSQL rejected the statement: function nope(integer) does not exist (at character 8).',
      extensions: { sqlState: SqlState.UNDEFINED_FUNCTION, position: 8 },
    });
  });
});
