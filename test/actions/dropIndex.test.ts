// dropIndex: refusals planned from the catalog (constraints, an attached partition index, a name
// that does not exist), CONCURRENTLY for an ordinary index, a plain DROP with lock_timeout for a
// partitioned one, and LOCK_TIMEOUT when the table stays locked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropIndex, planDropIndex } from '../../src/actions/dropIndex.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { holdLock, indexesOn } from './ddlFixtures.js';

let target: TestDatabase;
let db: Database;
let other: Database;

const FIXTURE = [
  'CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, name text, CONSTRAINT users_email_key UNIQUE (email))',
  'CREATE TABLE orders (id int, user_id text)',
  'CREATE UNIQUE INDEX users_name_uq ON users (name)',
  'ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (name)',
  'CREATE INDEX orders_user_idx ON orders (user_id)',
  'CREATE INDEX orders_id_idx ON orders (id)',
  'CREATE TABLE ev (at timestamptz NOT NULL, kind text) PARTITION BY RANGE (at)',
  "CREATE TABLE ev_2026_01 PARTITION OF ev FOR VALUES FROM ('2026-01-01 00:00+00') TO ('2026-02-01 00:00+00')",
  'CREATE TABLE ev_default PARTITION OF ev DEFAULT',
  'CREATE INDEX ev_kind_idx ON ev (kind)',
  // an exclusion constraint's index
  'CREATE TABLE rooms (booked tsrange, EXCLUDE USING gist (booked WITH &&))',
];

const OPTIONS = { lockTimeoutMs: 200, retries: 1, retryDelayMs: 20 };
const plan = (name: string) => planDropIndex(db, { schema: 'public', name });
const settle = <T>(promise: Promise<T>) => promise.then(() => undefined, (error: unknown) => error);

beforeAll(async () => {
  target = await createTestDatabase('drop_index');
  for (const statement of FIXTURE) await target.sql(statement);
  db = new Database(target.url, { applicationName: 'pgscope-test-ddl', pool: testConfig().pool });
  other = new Database(target.url, { applicationName: 'pgscope-test-other', pool: testConfig().pool });
});

afterAll(async () => {
  await db?.end();
  await other?.end();
  await target?.drop();
});

describe('planDropIndex refusals', () => {
  it('refuses the index of a primary key with INDEX_BACKS_CONSTRAINT', async () => {
    const error = await settle(plan('users_pkey'));
    expect(error).toMatchObject({ code: 'INDEX_BACKS_CONSTRAINT', extensions: { constraints: ['PRIMARY KEY users_pkey'] } });
  });

  it('refuses the index of a unique constraint with INDEX_BACKS_CONSTRAINT', async () => {
    const error = await settle(plan('users_email_key'));
    expect(error).toMatchObject({ code: 'INDEX_BACKS_CONSTRAINT', extensions: { constraints: ['UNIQUE users_email_key'] } });
  });

  it('refuses the index of an exclusion constraint with INDEX_BACKS_CONSTRAINT', async () => {
    const error = await settle(plan('rooms_booked_excl'));
    expect(error).toMatchObject({ code: 'INDEX_BACKS_CONSTRAINT', extensions: { constraints: ['EXCLUSION rooms_booked_excl'] } });
  });

  it('refuses a unique index a foreign key relies on, naming the foreign key', async () => {
    const error = await settle(plan('users_name_uq'));
    expect(error).toMatchObject({ code: 'INDEX_BACKS_CONSTRAINT', extensions: { constraints: ['FOREIGN KEY orders_user_fk on orders'] } });
  });

  it('refuses a partition index attached to a partitioned index with BAD_USER_INPUT naming the parent', async () => {
    const error = await settle(plan('ev_2026_01_kind_idx'));
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', extensions: { attachedTo: 'public.ev_kind_idx' } });
    expect((error as Error).message).toContain('cannot be dropped alone. Drop public.ev_kind_idx');
  });

  it('answers NOT_FOUND for an index that does not exist, and for a table name', async () => {
    expect(await settle(plan('no_such_idx'))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await settle(plan('orders'))).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('dropIndex', () => {
  const run = (name: string) => plan(name).then((p) => db.withClient((session) => dropIndex(session, p, OPTIONS), { statementTimeoutMs: 0 }));

  it('drops an ordinary index CONCURRENTLY', async () => {
    const outcome = await run('orders_user_idx');
    expect(outcome.executedSql).toEqual(['DROP INDEX CONCURRENTLY "public"."orders_user_idx"']);
    expect((await indexesOn(target, 'orders')).map((i) => i.name)).toEqual(['orders_id_idx']);
  });

  it('drops a partitioned index with a plain DROP INDEX, its partitions\' indexes with it', async () => {
    const outcome = await run('ev_kind_idx');
    expect(outcome.executedSql).toEqual(['DROP INDEX "public"."ev_kind_idx"']);
    const left = await target.sql("SELECT relname FROM pg_class WHERE relname LIKE 'ev%kind_idx'");
    expect(left).toEqual([]);
  });

  it('gives up with LOCK_TIMEOUT while another session holds the table, and keeps the index', async () => {
    const dropPlan = await plan('orders_id_idx');
    const holder = await holdLock(other, 'LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE');
    const error = await settle(db.withClient((session) => dropIndex(session, dropPlan, OPTIONS), { statementTimeoutMs: 0 }));
    await holder.release();
    expect(error).toMatchObject({ code: 'LOCK_TIMEOUT' });
    expect((await indexesOn(target, 'orders')).map((i) => i.name)).toEqual(['orders_id_idx']);
  });
});
