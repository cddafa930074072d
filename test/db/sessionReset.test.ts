// Every connection lent by Database.withClient goes back to the pool clean: what one borrower left
// in its session (settings, locks, temporary tables, LISTEN, hypothetical indexes, an open
// transaction) must not reach the next request on that connection.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { detectCapabilities } from '../../src/db/capabilities.js';
import { explain } from '../../src/db/explain/explain.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { SqlState } from '../../src/db/sqlState.js';

let target: TestDatabase;
/** One connection: every borrower gets the session the previous one used. */
let db: Database;

beforeAll(async () => {
  target = await createTestDatabase('session_reset');
  await target.sql(/* SQL */ `
    CREATE TABLE orders (id int NOT NULL, customer_id int NOT NULL);
    INSERT INTO orders SELECT g, g % 1000 FROM generate_series(1, 20000) g;
    ANALYZE orders;`);
  db = new Database(target.url, {
    applicationName: 'pgscope-test',
    pool: testConfig({ PGSCOPE_POOL_MAX: '1', PGSCOPE_STATEMENT_TIMEOUT_MS: '4321' }).pool,
  });
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

// The session as a borrower sees it; pid proves it is the same connection.
const SESSION_SQL = /* SQL */ `
  SELECT
    pg_backend_pid() AS pid,
    current_setting('enable_seqscan') AS enable_seqscan,
    current_setting('work_mem') AS work_mem,
    current_setting('statement_timeout') AS statement_timeout,
    current_setting('plan_cache_mode') AS plan_cache_mode,
    current_setting('jit') AS jit,
    current_setting('application_name') AS application_name,
    current_user AS role,
    (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory_locks,
    to_regclass('pg_temp.scratch') IS NOT NULL AS temp_table,
    (SELECT count(*)::int FROM pg_listening_channels()) AS listening,
    (SELECT count(*)::int FROM pg_cursors) AS cursors,
    current_setting('transaction_read_only') AS read_only`;

type Session = Record<string, unknown>;

describe('Database.withClient', () => {
  it('returns the connection without the settings, locks, temporary tables, LISTEN, cursors and transaction a borrower left', async () => {
    const [fresh] = await db.query<Session>(SESSION_SQL);
    expect(fresh).toMatchObject({
      enable_seqscan: 'on',
      statement_timeout: '4321ms',
      plan_cache_mode: 'force_generic_plan',
      jit: 'off',
      application_name: 'pgscope-test',
      advisory_locks: 0,
      temp_table: false,
      listening: 0,
      cursors: 0,
    });
    const inside = await db.withClient(async (client) => {
      await client.query(
        "SELECT set_config('enable_seqscan', 'off', false), set_config('work_mem', '77MB', false), set_config('statement_timeout', '0', false)",
      );
      await client.query('SELECT pg_advisory_lock(4242)');
      await client.query('CREATE TEMP TABLE scratch (id int)');
      await client.query('LISTEN pgscope_reset_test');
      // left open, with a cursor that outlives it
      await client.query('BEGIN READ ONLY');
      await client.query('DECLARE kept CURSOR WITH HOLD FOR SELECT 1');
      const [session] = await client.query<Session>(SESSION_SQL);
      return session;
    });
    // The borrower really changed its session...
    expect(inside).toMatchObject({
      pid: fresh!.pid,
      enable_seqscan: 'off',
      work_mem: '77MB',
      statement_timeout: '0',
      advisory_locks: 1,
      temp_table: true,
      listening: 1,
      cursors: 1,
      read_only: 'on',
    });
    // ...and the next borrower of the same connection sees none of it.
    expect(await db.query<Session>(SESSION_SQL)).toEqual([fresh]);
    expect(await target.sql("SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242")).toEqual([
      { held: 0 },
    ]);
  });

  it('rolls back a failed transaction a borrower caught and left behind', async () => {
    const [before] = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const caught = await db.withClient(async (client) => {
      await client.query('BEGIN');
      return client.query('SELECT 1 / 0').catch((error: { sqlState?: string; code?: string }) => error.code);
    });
    expect(caught).toBe(SqlState.DIVISION_BY_ZERO);
    expect(await db.query<{ pid: number; n: number }>('SELECT pg_backend_pid() AS pid, 1 AS n')).toEqual([{ pid: before!.pid, n: 1 }]);
  });

  it('keeps the statements it prepared by name usable (no DISCARD ALL)', async () => {
    const prepared = 'SELECT count(*)::int AS n FROM orders WHERE customer_id = $1';
    expect(await db.query(prepared, [7])).toEqual([{ n: 20 }]);
    await db.withClient((client) => client.query('SELECT 1'));
    expect(await db.query(prepared, [8])).toEqual([{ n: 20 }]);
  });

  it('destroys a connection whose work failed rather than pooling it', async () => {
    const [before] = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const failed = await db
      .withClient(async (client) => {
        await client.query("SELECT set_config('enable_seqscan', 'off', false)");
        throw new Error('work failed');
      })
      .catch((error: Error) => error.message);
    expect(failed).toBe('work failed');
    const [after] = await db.query<{ pid: number; enable_seqscan: string }>(
      "SELECT pg_backend_pid() AS pid, current_setting('enable_seqscan') AS enable_seqscan",
    );
    expect(after!.pid).not.toBe(before!.pid);
    expect(after!.enable_seqscan).toBe('on');
  });

  it("drops a borrower's hypothetical indexes before the next plain explain plans with them (HypoPG, on PostgreSQL 15 in CI)", async () => {
    const caps = await detectCapabilities(db);
    expect(caps.hypopg.installed).toBe(inject('hypopgAvailable'));
    const sql = 'SELECT * FROM orders WHERE customer_id = 42';
    if (!caps.hypopg.installed) {
      // Without HypoPG the reset's HypoPG step finds no hypopg_reset and does nothing.
      expect((await explain(db, caps, { sql, params: null, analyze: false, timeoutMs: 10_000 })).plan[0].Plan['Node Type']).toBe(
        'Seq Scan',
      );
      return;
    }
    const inside = await db.withClient(async (client) => {
      await client.query("SELECT * FROM hypopg_create_index('CREATE INDEX ON orders (customer_id)')");
      const [row] = await client.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${sql}`);
      return JSON.stringify(row!['QUERY PLAN']);
    });
    // The hypothetical index was real for its borrower...
    expect(inside).toMatch(/"Index Name": ?"<\d+>btree_orders_customer_id"/);
    const outcome = await explain(db, caps, { sql, params: null, analyze: false, timeoutMs: 10_000 });
    // ...and gone for the next request.
    expect(outcome.plan[0].Plan['Node Type']).toBe('Seq Scan');
    expect(await db.query('SELECT count(*)::int AS n FROM hypopg_list_indexes')).toEqual([{ n: 0 }]);
  });
});
