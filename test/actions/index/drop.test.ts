// dropIndex: refusals planned from the catalog (constraints, an attached partition index, a name
// that does not exist), CONCURRENTLY for an ordinary index, a plain DROP with lock_timeout for a
// partitioned one, and LOCK_TIMEOUT when the table stays locked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropIndex, planDropIndex } from '../../../src/actions/index/drop.js';
import { Database } from '../../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';
import { holdLock, indexesOn } from '../ddlFixtures.js';
import { SqlState } from '../../../src/db/sqlState.js';

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
  // unique indexes that back no constraint, one of them the replica identity
  'CREATE TABLE accounts (id int NOT NULL, code text)',
  'CREATE UNIQUE INDEX accounts_code_uq ON accounts (code)',
  'CREATE UNIQUE INDEX accounts_id_uq ON accounts (id)',
  'ALTER TABLE accounts REPLICA IDENTITY USING INDEX accounts_id_uq',
  // a partitioned primary key (two levels down) and a partitioned unique index without a constraint
  'CREATE TABLE ledger (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region)',
  "CREATE TABLE ledger_eu PARTITION OF ledger FOR VALUES IN ('eu') PARTITION BY RANGE (id)",
  'CREATE TABLE ledger_eu_low PARTITION OF ledger_eu FOR VALUES FROM (0) TO (1000)',
  'CREATE TABLE tickets (id int) PARTITION BY RANGE (id)',
  'CREATE TABLE tickets_low PARTITION OF tickets FOR VALUES FROM (0) TO (1000)',
  'CREATE UNIQUE INDEX tickets_id_uq ON tickets (id)',
];

const OPTIONS = { lockTimeoutMs: 200, retries: 1, retryDelayMs: 20 };
const plan = (name: string) => planDropIndex(db, { schema: 'public', name });
const settle = <T>(promise: Promise<T>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

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

  it("refuses a partition's index of a partitioned primary key, naming the partitioned table's constraint", async () => {
    for (const name of ['ledger_eu_low_pkey', 'ledger_eu_pkey']) {
      const error = await settle(plan(name));
      expect(error).toMatchObject({
        code: 'INDEX_BACKS_CONSTRAINT',
        extensions: { constraints: ['PRIMARY KEY ledger_pkey of the partitioned table ledger'] },
      });
    }
  });

  // Such a drop went through, and a duplicate row was then accepted.
  it('refuses a unique index that backs no constraint with INDEX_PROTECTED, reason UNIQUE', async () => {
    const error = await settle(plan('accounts_code_uq'));
    expect(error).toMatchObject({
      code: 'INDEX_PROTECTED',
      extensions: { code: 'INDEX_PROTECTED', reason: 'UNIQUE', schema: 'public', name: 'accounts_code_uq', table: 'accounts' },
      message:
        'The index public.accounts_code_uq is unique: it is what keeps duplicate values out of public.accounts, with no constraint to say so, ' +
        'and dropping it would let duplicates in. pgscope does not remove a rule the data relies on: if it is no longer wanted, drop the index yourself.',
    });
  });

  // Such a drop left relreplident = 'i' naming no index.
  it('refuses the replica identity index with INDEX_PROTECTED, reason REPLICA_IDENTITY, saying what to change first', async () => {
    const error = await settle(plan('accounts_id_uq'));
    expect(error).toMatchObject({ code: 'INDEX_PROTECTED', extensions: { reason: 'REPLICA_IDENTITY', table: 'accounts' } });
    expect((error as Error).message).toContain(
      'Change the replica identity first (ALTER TABLE "public"."accounts" REPLICA IDENTITY DEFAULT',
    );
  });

  it("refuses a partitioned unique index and its partition's index with reason UNIQUE", async () => {
    expect(await settle(plan('tickets_id_uq'))).toMatchObject({
      code: 'INDEX_PROTECTED',
      extensions: { reason: 'UNIQUE', table: 'tickets' },
    });
    const leaf = await settle(plan('tickets_low_id_idx'));
    expect(leaf).toMatchObject({ code: 'INDEX_PROTECTED', extensions: { reason: 'UNIQUE', table: 'tickets_low' } });
    expect((leaf as Error).message).toContain(
      "drop the index yourself (with its partitioned index public.tickets_id_uq: a partition's index cannot go alone).",
    );
  });

  it('plans the drop of a unique index when an identical one stays (the duplicate indexFindings reports), and of an INVALID one', async () => {
    await target.sql('CREATE UNIQUE INDEX accounts_code_uq2 ON accounts (code)');
    // a unique build that failed on duplicates leaves an INVALID index: it guarantees nothing
    await target.sql('CREATE TABLE imports (v int); INSERT INTO imports VALUES (1), (1)');
    await expect(target.sql('CREATE UNIQUE INDEX CONCURRENTLY imports_v_uq ON imports (v)')).rejects.toMatchObject({
      code: SqlState.UNIQUE_VIOLATION,
    });
    expect((await plan('accounts_code_uq2')).statements.map((statement) => statement.sql)).toEqual([
      'DROP INDEX CONCURRENTLY "public"."accounts_code_uq2"',
    ]);
    expect((await plan('imports_v_uq')).statements.map((statement) => statement.sql)).toEqual([
      'DROP INDEX CONCURRENTLY "public"."imports_v_uq"',
    ]);
    await target.sql('DROP INDEX accounts_code_uq2');
  });

  it('answers NOT_FOUND for an index that does not exist, and for a table name', async () => {
    expect(await settle(plan('no_such_idx'))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await settle(plan('orders'))).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('dropIndex', () => {
  const run = (name: string) =>
    plan(name).then((p) => db.withClient((session) => dropIndex(session, p, OPTIONS), { statementTimeoutMs: 0 }));

  it('drops an ordinary index CONCURRENTLY', async () => {
    const outcome = await run('orders_user_idx');
    expect(outcome.executedSql).toEqual(['DROP INDEX CONCURRENTLY "public"."orders_user_idx"']);
    expect((await indexesOn(target, 'orders')).map((i) => i.name)).toEqual(['orders_id_idx']);
  });

  it("drops a partitioned index with a plain DROP INDEX, its partitions' indexes with it", async () => {
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
