// buildIndex on a real server: a plain concurrent build, lock timeouts with retries, a build
// cancelled mid-way by pg_cancel_backend, a unique build over duplicates, the partitioned sequence
// (ON ONLY + a build per leaf + ATTACH) and its cleanup, and the recovery helper that must never
// drop an index another session is building.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndex, type BuildOptions } from '../../../src/actions/index/build.js';
import { dropInterruptedBuilds } from '../../../src/actions/index/cleanup.js';
import type { DdlEvent } from '../../../src/actions/lockRetry.js';
import type { IndexPlan } from '../../../src/actions/plan.js';
import { Database } from '../../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';
import { SLOW_BUILD_FIXTURE, buildInPhase, holdLock, indexesOn, partitionedPlan, plainPlan, setSlow } from '../ddlFixtures.js';
import { SqlState } from '../../../src/db/sqlState.js';

let target: TestDatabase;
let db: Database;
let other: Database;

const FIXTURE = [
  'CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL)',
  "INSERT INTO items SELECT g, 'c' || g FROM generate_series(1, 1000) g",
  'CREATE TABLE dupes (v int)',
  'INSERT INTO dupes VALUES (1), (1), (2)',
  'CREATE TABLE ev (at timestamptz NOT NULL, kind text NOT NULL) PARTITION BY RANGE (at)',
  "CREATE TABLE ev_2026_01 PARTITION OF ev FOR VALUES FROM ('2026-01-01 00:00+00') TO ('2026-02-01 00:00+00')",
  "CREATE TABLE ev_2026_02 PARTITION OF ev FOR VALUES FROM ('2026-02-01 00:00+00') TO ('2026-03-01 00:00+00')",
  "CREATE TABLE ev_2026_03 PARTITION OF ev FOR VALUES FROM ('2026-03-01 00:00+00') TO ('2026-04-01 00:00+00')",
  'CREATE TABLE ev_default PARTITION OF ev DEFAULT',
  "INSERT INTO ev SELECT timestamptz '2025-12-20 00:00+00' + g * interval '1 hour', 'k' || (g % 7) FROM generate_series(1, 2500) g",
  // two rows with the same instant in February: a unique index on (at) cannot be built there
  "INSERT INTO ev VALUES ('2026-02-10 00:30+00', 'dup'), ('2026-02-10 00:30+00', 'dup')",
  ...SLOW_BUILD_FIXTURE,
];

const EV_LEAVES = ['ev_2026_01', 'ev_2026_02', 'ev_2026_03', 'ev_default'];
const OPTIONS: BuildOptions = { lockTimeoutMs: 200, retries: 2, retryDelayMs: 20 };

/** buildIndex on a dedicated connection without statement_timeout, as the DDL session runs it. */
const build = (plan: IndexPlan, options: BuildOptions = OPTIONS) =>
  db.withClient((session) => buildIndex(session, plan, options), { statementTimeoutMs: 0 });
const settle = <T>(promise: Promise<T>) =>
  promise.then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  );

beforeAll(async () => {
  target = await createTestDatabase('build_index');
  for (const statement of FIXTURE) await target.sql(statement);
  await target.sql('ANALYZE');
  db = new Database(target.url, { applicationName: 'pgscope-test-ddl', pool: testConfig().pool });
  other = new Database(target.url, { applicationName: 'pgscope-test-other', pool: testConfig().pool });
});

afterAll(async () => {
  await db?.end();
  await other?.end();
  await target?.drop();
});

describe('buildIndex on a plain table', () => {
  it('builds a valid index concurrently and reports its SQL, size and validity', async () => {
    const plan = plainPlan('items', 'items_code_idx', '"code"');
    const outcome = await build(plan);
    const [facts] = await target.sql<{ definition: string; size: bigint }>(
      "SELECT pg_get_indexdef('public.items_code_idx'::regclass) AS definition, pg_relation_size('public.items_code_idx') AS size",
    );
    expect(facts!.definition).toBe('CREATE INDEX items_code_idx ON public.items USING btree (code)');
    expect(outcome).toMatchObject({
      schema: 'public',
      name: 'items_code_idx',
      valid: true,
      alreadyExisted: false,
      sizeBytes: BigInt(facts!.size),
    });
    expect(outcome.executedSql).toEqual(['CREATE INDEX CONCURRENTLY "items_code_idx" ON "public"."items" USING btree ("code")']);
  });

  it('refuses a name that is taken with ALREADY_EXISTS, and leaves the existing index alone', async () => {
    const { error } = await settle(build(plainPlan('items', 'items_code_idx', '"id"')));
    expect(error).toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(await indexesOn(target, 'items')).toEqual([
      { name: 'items_code_idx', valid: true },
      { name: 'items_pkey', valid: true },
    ]);
  });

  it('returns the existing index of an idempotent plan without building anything', async () => {
    const plan = {
      ...plainPlan('items', 'items_code_again', '"code"'),
      existing: { schema: 'public', name: 'items_code_idx', valid: true },
    };
    const outcome = await build(plan);
    expect(outcome).toMatchObject({ name: 'items_code_idx', executedSql: [], valid: true, alreadyExisted: true });
  });

  it('gives up with LOCK_TIMEOUT when the table stays locked through every retry, leaving nothing behind', async () => {
    const holder = await holdLock(other, 'LOCK TABLE items IN SHARE ROW EXCLUSIVE MODE');
    const events: DdlEvent[] = [];
    const { error } = await settle(
      build(plainPlan('items', 'items_locked_idx', '"id", "code"'), { ...OPTIONS, retries: 1, onProgress: (e) => void events.push(e) }),
    );
    await holder.release();
    expect(error).toMatchObject({ code: 'LOCK_TIMEOUT', extensions: { code: 'LOCK_TIMEOUT', attempts: 2, lockTimeoutMs: 200 } });
    expect(events.map((e) => e.kind)).toEqual(['start', 'retry', 'start']);
    expect((await indexesOn(target, 'items')).map((i) => i.name)).toEqual(['items_code_idx', 'items_pkey']);
  });

  it('retries after a lock timeout and succeeds once the lock is released', async () => {
    const holder = await holdLock(other, 'LOCK TABLE items IN SHARE ROW EXCLUSIVE MODE');
    const plan = plainPlan('items', 'items_retried_idx', '"code" DESC');
    const outcome = await build(plan, {
      ...OPTIONS,
      retries: 5,
      // the first attempt timed out: let go of the table before the next one
      onProgress: (event) => void (event.kind === 'retry' && event.attempt === 1 && holder.release()),
    });
    expect(outcome.valid).toBe(true);
    expect(outcome.executedSql.length).toBeGreaterThanOrEqual(2);
    expect(new Set(outcome.executedSql)).toEqual(new Set([plan.definitionSql]));
  });

  it('turns a build cancelled mid-way into a typed error, drops its INVALID index, and the same call then succeeds', async () => {
    await setSlow(target, true);
    const plan = plainPlan('slowt', 'slowt_key_idx', 'public.slow_key(v)');
    const running = settle(build(plan));
    const pid = await buildInPhase(target, 'slowt', 'building index: scanning table');
    await target.sql('SELECT pg_cancel_backend($1)', [pid]);
    const { error } = await running;
    expect(error).toMatchObject({ code: 'QUERY_TIMEOUT' });
    expect((error as Error).message).toBe(
      'The build of public.slowt_key_idx was cancelled by another session (pg_cancel_backend) or by the server. What the build had created was dropped.',
    );
    expect(await indexesOn(target, 'slowt')).toEqual([]);

    await setSlow(target, false);
    const outcome = await build(plan);
    expect(outcome).toMatchObject({ name: 'slowt_key_idx', valid: true });
    expect(await indexesOn(target, 'slowt')).toEqual([{ name: 'slowt_key_idx', valid: true }]);
  });

  it('drops the INVALID index a unique build over duplicates leaves, with INDEX_BUILD_FAILED', async () => {
    const { error } = await settle(build(plainPlan('dupes', 'dupes_v_key', '"v"', true)));
    expect(error).toMatchObject({
      code: 'INDEX_BUILD_FAILED',
      extensions: { code: 'INDEX_BUILD_FAILED', sqlState: SqlState.UNIQUE_VIOLATION },
    });
    expect((error as Error).message).toBe(
      'The unique index public.dupes_v_key could not be built: the table holds rows with equal values of its key (SQLSTATE 23505). ' +
        'What the build had created was dropped. Remove or change the duplicate rows, then apply it again; or build the index without unique.',
    );
    expect(await indexesOn(target, 'dupes')).toEqual([]);
  });
});

describe('buildIndex on a partitioned table', () => {
  it('creates the parent ON ONLY, builds and attaches every leaf, and ends with a valid parent', async () => {
    const plan = partitionedPlan('ev', 'ev_kind_idx', '"kind"', EV_LEAVES);
    const outcome = await build(plan);
    const leaves = await target.sql<{ name: string; valid: boolean; size: bigint }>(
      `SELECT c.relname AS name, i.indisvalid AS valid, pg_relation_size(c.oid) AS size
       FROM pg_inherits inh JOIN pg_class c ON c.oid = inh.inhrelid JOIN pg_index i ON i.indexrelid = c.oid
       WHERE inh.inhparent = 'public.ev_kind_idx'::regclass ORDER BY c.relname`,
    );
    expect(leaves.map(({ name, valid }) => ({ name, valid }))).toEqual([
      { name: 'ev_2026_01_kind_idx', valid: true },
      { name: 'ev_2026_02_kind_idx', valid: true },
      { name: 'ev_2026_03_kind_idx', valid: true },
      { name: 'ev_default_kind_idx', valid: true },
    ]);
    expect(outcome).toMatchObject({
      name: 'ev_kind_idx',
      valid: true,
      sizeBytes: leaves.reduce((sum, leaf) => sum + BigInt(leaf.size), 0n),
    });
    expect(outcome.executedSql).toEqual(plan.statements.map((s) => s.sql));
  });

  it('rebuilds a leaf index found invalid before ATTACH, so the parent ends valid', async () => {
    const plan = partitionedPlan('ev', 'ev_at_idx', '"at"', EV_LEAVES);
    let spoiled = false;
    const outcome = await build(plan, {
      ...OPTIONS,
      // the first build of ev_2026_03's index ends invalid (as if it had failed unnoticed)
      onProgress: async (event) => {
        if (spoiled || event.kind !== 'done' || !event.sql.includes('"ev_2026_03_at_idx" ON')) return;
        spoiled = true;
        await target.sql("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'public.ev_2026_03_at_idx'::regclass");
      },
    });
    const leafBuild = plan.statements.find((s) => s.sql.includes('"ev_2026_03_at_idx" ON'))!.sql;
    expect(outcome).toMatchObject({ name: 'ev_at_idx', valid: true });
    expect(outcome.executedSql.filter((sql) => sql.includes('ev_2026_03_at_idx'))).toEqual([
      leafBuild,
      'DROP INDEX CONCURRENTLY IF EXISTS "public"."ev_2026_03_at_idx"',
      leafBuild,
      'ALTER INDEX public."ev_at_idx" ATTACH PARTITION public."ev_2026_03_at_idx"',
    ]);
    await target.sql('DROP INDEX public.ev_at_idx');
  });

  it('undoes the parent and the leaves it built when one leaf fails', async () => {
    const plan = partitionedPlan('ev', 'ev_at_key', '"at"', EV_LEAVES, true);
    const { error } = await settle(build(plan));
    expect(error).toMatchObject({ code: 'INDEX_BUILD_FAILED' });
    const left = await target.sql<{ name: string }>("SELECT relname AS name FROM pg_class WHERE relname LIKE 'ev%at_key' ORDER BY relname");
    expect(left).toEqual([]);
    expect((await indexesOn(target, 'ev')).map((i) => i.name)).toEqual(['ev_kind_idx']);
  });
});

describe('dropInterruptedBuilds', () => {
  it('never drops an index another session is building, and drops it once that build died', async () => {
    await setSlow(target, true);
    const building = settle(
      other.withClient((session) => session.query('CREATE INDEX CONCURRENTLY slowt_other_idx ON public.slowt (public.slow_key(v))'), {
        statementTimeoutMs: 0,
      }),
    );
    const pid = await buildInPhase(target, 'slowt', 'building index: scanning table');
    const candidates = [
      { schema: 'public', name: 'slowt_other_idx' },
      { schema: 'public', name: 'no_such_idx' },
      { schema: 'public', name: 'items_pkey' },
    ];
    const during = await db.withClient((session) => dropInterruptedBuilds(session, candidates), { statementTimeoutMs: 0 });
    expect(during.map((r) => r.outcome)).toEqual(['BUILDING_ELSEWHERE', 'ABSENT', 'VALID']);
    expect(await indexesOn(target, 'slowt')).toEqual([
      { name: 'slowt_key_idx', valid: true },
      { name: 'slowt_other_idx', valid: false },
    ]);

    await target.sql('SELECT pg_cancel_backend($1)', [pid]);
    expect((await building).error).toMatchObject({ code: 'QUERY_TIMEOUT' });
    await setSlow(target, false);
    const after = await db.withClient((session) => dropInterruptedBuilds(session, candidates.slice(0, 1)), { statementTimeoutMs: 0 });
    expect(after).toEqual([
      {
        schema: 'public',
        name: 'slowt_other_idx',
        outcome: 'DROPPED',
        sql: 'DROP INDEX CONCURRENTLY IF EXISTS "public"."slowt_other_idx"',
      },
    ]);
    expect(await indexesOn(target, 'slowt')).toEqual([{ name: 'slowt_key_idx', valid: true }]);
  });

  it('leaves an INVALID index for the next start when its table stays locked', async () => {
    // a failed unique build outside pgscope leaves dupes_v_bad INVALID
    await target.sql('CREATE UNIQUE INDEX CONCURRENTLY dupes_v_bad ON dupes (v)').catch(() => undefined);
    expect(await indexesOn(target, 'dupes')).toEqual([{ name: 'dupes_v_bad', valid: false }]);
    const candidates = [{ schema: 'public', name: 'dupes_v_bad' }];
    const holder = await holdLock(other, 'LOCK TABLE dupes IN SHARE ROW EXCLUSIVE MODE');
    const locked = await settle(
      db.withClient((session) => dropInterruptedBuilds(session, candidates, { lockTimeoutMs: 100 }), { statementTimeoutMs: 0 }),
    );
    await holder.release();
    expect(locked.value?.map((r) => r.outcome)).toEqual(['LOCKED']);
    const after = await db.withClient((session) => dropInterruptedBuilds(session, candidates, { lockTimeoutMs: 100 }), {
      statementTimeoutMs: 0,
    });
    expect(after.map((r) => r.outcome)).toEqual(['DROPPED']);
    expect(await indexesOn(target, 'dupes')).toEqual([]);
  });
});
