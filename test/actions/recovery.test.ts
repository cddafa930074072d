// Start-up recovery (src/actions/recovery.ts) beyond the changes left RUNNING: a change that ended
// FAILED or INTERRUPTED with an INVALID index still there is cleaned up at the next start, never
// an index another session builds, a valid one, one a later change took over, or one the change
// was refused for. And the standalone table createPartitions fills before its attach: dropped only
// while it is still that very table, standalone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoverInterruptedChanges } from '../../src/actions/recovery.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { SLOW_BUILD_FIXTURE, buildInPhase, indexesOn, setSlow } from './ddlFixtures.js';

let target: TestDatabase;
let owner: Database;
let other: Database;

beforeAll(async () => {
  target = await createTestDatabase('recovery_leftovers');
  owner = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  other = new Database(target.url, { applicationName: 'pgscope-test-other', pool: testConfig().pool });
  expect(await migrateOwnSchema(owner)).toMatchObject({ ok: true });
  for (const statement of SLOW_BUILD_FIXTURE) await target.sql(statement);
});

afterAll(async () => {
  await owner?.end();
  await other?.end();
  await target?.drop();
});

const settle = <T>(promise: Promise<T>) =>
  promise.then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  );

/** A change-log entry as a change that ended this way would have left it (session gone). */
async function entry(status: string, errorCode: string | null, creates: unknown[]): Promise<string> {
  const [row] = await target.sql<{ id: string }>(
    `INSERT INTO pgscope.change_log (action, dry_run, status, actor, error_code, creates)
     VALUES ('applyIndex', false, $1, 'admin', $2, $3) RETURNING id::text AS id`,
    [status, errorCode, JSON.stringify(creates)],
  );
  return row!.id;
}

const index = (name: string) => ({ kind: 'index', schema: 'public', name });
const table = (name: string, oid?: string) => ({ kind: 'table', schema: 'public', name, ...(oid ? { oid } : {}) });
const recover = () => recoverInterruptedChanges(owner, { lockTimeoutMs: 1_000, graceMs: 0 });
const read = async (id: string) =>
  (
    await target.sql<{ status: string; error_message: string | null; outcome: Record<string, unknown> | null }>(
      'SELECT status, error_message, outcome FROM pgscope.change_log WHERE id = $1',
      [id],
    )
  )[0]!;

describe('changes that ended FAILED or INTERRUPTED with INVALID indexes left', () => {
  it('drops the INVALID index at the next start, and leaves what is not theirs to drop', async () => {
    await target.sql('CREATE TABLE dupes (v int)');
    await target.sql('INSERT INTO dupes VALUES (1), (1), (2)');
    // failed unique builds leave INVALID indexes behind (as a build whose cleanup could not run)
    for (const name of ['dupes_failed_idx', 'dupes_refused_idx', 'dupes_retaken_idx']) {
      await target.sql(`CREATE UNIQUE INDEX CONCURRENTLY ${name} ON dupes (v)`).catch(() => undefined);
    }
    await target.sql('CREATE INDEX dupes_kept_idx ON dupes (v)');
    expect(await indexesOn(target, 'dupes')).toEqual([
      { name: 'dupes_failed_idx', valid: false },
      { name: 'dupes_kept_idx', valid: true },
      { name: 'dupes_refused_idx', valid: false },
      { name: 'dupes_retaken_idx', valid: false },
    ]);
    const failed = await entry('FAILED', 'DATABASE_UNAVAILABLE', [index('dupes_failed_idx')]);
    const kept = await entry('INTERRUPTED', 'QUERY_TIMEOUT', [index('dupes_kept_idx')]);
    // refused because the name was taken: that INVALID index is someone else's
    const refused = await entry('FAILED', 'ALREADY_EXISTS', [index('dupes_refused_idx')]);
    // a later change builds under the same name now: the index is that change's
    const retaken = await entry('INTERRUPTED', 'QUERY_TIMEOUT', [index('dupes_retaken_idx')]);
    await entry('SUCCEEDED', null, [index('dupes_retaken_idx')]);

    await setSlow(target, true);
    const building = settle(
      other.withClient((s) => s.query('CREATE INDEX CONCURRENTLY slowt_other_idx ON public.slowt (public.slow_key(v))'), {
        statementTimeoutMs: 0,
      }),
    );
    const pid = await buildInPhase(target, 'slowt', 'building index: scanning table');
    const elsewhere = await entry('FAILED', 'LOCK_TIMEOUT', [index('slowt_other_idx')]);

    const reports = await recover();
    expect(reports.map((r) => [r.change.id, r.endedAs, r.leftovers.map((left) => [left.name, left.outcome])])).toEqual([
      [failed, 'FAILED', [['dupes_failed_idx', 'DROPPED']]],
      [elsewhere, 'FAILED', [['slowt_other_idx', 'BUILDING_ELSEWHERE']]],
    ]);
    expect(await indexesOn(target, 'dupes')).toEqual([
      { name: 'dupes_kept_idx', valid: true },
      { name: 'dupes_refused_idx', valid: false },
      { name: 'dupes_retaken_idx', valid: false },
    ]);
    const recorded = await read(failed);
    expect(recorded.status).toBe('FAILED');
    expect(recorded.error_message).toBe('At the next start pgscope checked what the change had created: public.dupes_failed_idx: dropped.');
    expect(recorded.outcome).toEqual({
      recovery: [
        {
          kind: 'index',
          schema: 'public',
          name: 'dupes_failed_idx',
          outcome: 'DROPPED',
          sql: 'DROP INDEX CONCURRENTLY IF EXISTS "public"."dupes_failed_idx"',
        },
      ],
    });
    for (const untouched of [kept, refused, retaken]) expect((await read(untouched)).outcome).toBeNull();

    // the other session's build dies: the next start drops what it left, once
    await target.sql('SELECT pg_cancel_backend($1)', [pid]);
    expect((await building).error).toMatchObject({ code: 'QUERY_TIMEOUT' });
    await setSlow(target, false);
    expect((await recover()).map((r) => [r.change.id, r.leftovers.map((left) => left.outcome)])).toEqual([[elsewhere, ['DROPPED']]]);
    expect(await recover()).toEqual([]);
    expect(await indexesOn(target, 'slowt')).toEqual([]);
  });
});

describe('the standalone table of a partition not yet attached', () => {
  it('is dropped only while it is still that table, standalone and ordinary; anything else is left and said so', async () => {
    await target.sql(`
      CREATE TABLE ev (at date NOT NULL) PARTITION BY RANGE (at);
      CREATE TABLE ev_default PARTITION OF ev DEFAULT;
      CREATE TABLE ev_2026_05 (LIKE ev);
      CREATE TABLE ev_2026_06 (LIKE ev);
      CREATE TABLE ev_2026_07 PARTITION OF ev FOR VALUES FROM ('2026-07-01') TO ('2026-08-01');
      CREATE TABLE ev_parent (at date);
      CREATE TABLE ev_2026_08 () INHERITS (ev_parent);
      CREATE TABLE ev_2026_09 (LIKE ev);
      CREATE VIEW ev_2026_09_rows AS SELECT * FROM ev_2026_09;
      CREATE TABLE ev_2026_11 (LIKE ev);
      CREATE TABLE ev_2026_12 (LIKE ev)`);
    const oid = async (name: string) =>
      (await target.sql<{ oid: string }>('SELECT $1::regclass::oid::text AS oid', [`public.${name}`]))[0]!.oid;
    const oldOid = await oid('ev_2026_06');
    await target.sql('DROP TABLE ev_2026_06; CREATE TABLE ev_2026_06 (LIKE ev)');
    const running = await entry('RUNNING', null, [
      table('ev_2026_05', await oid('ev_2026_05')),
      table('ev_2026_06', oldOid),
      table('ev_2026_07', await oid('ev_2026_07')),
      table('ev_2026_08'),
      table('ev_2026_09'),
      table('ev_2026_10'),
      table('ev_2026_11'),
    ]);
    const failed = await entry('FAILED', 'LOCK_TIMEOUT', [table('ev_2026_12', await oid('ev_2026_12'))]);

    const reports = await recover();
    expect(reports.map((r) => [r.change.id, r.endedAs, r.leftovers.map((left) => [left.kind, left.name, left.outcome])])).toEqual([
      [
        running,
        'RUNNING',
        [
          ['table', 'ev_2026_05', 'DROPPED'],
          ['table', 'ev_2026_06', 'REPLACED'],
          ['table', 'ev_2026_07', 'NOT_STANDALONE'],
          ['table', 'ev_2026_08', 'NOT_STANDALONE'],
          ['table', 'ev_2026_09', 'IN_USE'],
          ['table', 'ev_2026_10', 'ABSENT'],
          ['table', 'ev_2026_11', 'DROPPED'],
        ],
      ],
      [failed, 'FAILED', [['table', 'ev_2026_12', 'DROPPED']]],
    ]);
    const tables = await target.sql<{ name: string }>(
      "SELECT relname AS name FROM pg_class WHERE relname LIKE 'ev_2026%' AND relkind = 'r' ORDER BY relname",
    );
    expect(tables.map((t) => t.name)).toEqual(['ev_2026_06', 'ev_2026_07', 'ev_2026_08', 'ev_2026_09']);
    const recorded = await read(running);
    expect(recorded.status).toBe('INTERRUPTED');
    expect(recorded.error_message).toBe(
      'pgscope stopped while the change ran (found at the next start). At the next start pgscope checked what the change had created: ' +
        'public.ev_2026_05: dropped; public.ev_2026_06: another table has this name now (left alone); ' +
        'public.ev_2026_07: no longer the standalone copy: a partition now, a child table, or not an ordinary table (left alone); ' +
        'public.ev_2026_08: no longer the standalone copy: a partition now, a child table, or not an ordinary table (left alone); ' +
        'public.ev_2026_09: other objects depend on it, a view or a foreign key (left alone; drop it by hand once they are gone); ' +
        'public.ev_2026_10: not there (nothing to drop); public.ev_2026_11: dropped.',
    );
    // ev_2026_09 is still standalone: each start tries again (the view may be gone), and says it once in the entry
    const again = await recover();
    expect(again.map((r) => [r.change.id, r.endedAs, r.leftovers.map((left) => [left.name, left.outcome])])).toEqual([
      [running, 'INTERRUPTED', [['ev_2026_09', 'IN_USE']]],
    ]);
    expect((await read(running)).error_message).toBe(
      recorded.error_message +
        ' At the next start pgscope checked what the change had created: public.ev_2026_09: other objects depend on it, a view or a foreign key (left alone; drop it by hand once they are gone).',
    );
    await recover();
    expect((await read(running)).error_message).toBe(
      recorded.error_message +
        ' At the next start pgscope checked what the change had created: public.ev_2026_09: other objects depend on it, a view or a foreign key (left alone; drop it by hand once they are gone).',
    );
  });
});
