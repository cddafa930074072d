// New partitions look like the ones the application's owner makes: owned by the parent's owner
// (pgscope runs as the README's least-privilege role, a member of that owner), with the parent's
// grants (grant options included), row-level security and policies, and replica identity, both
// when created directly and when filled from the DEFAULT partition. The owner's next ALTER TABLE
// on the parent works, and a role granted SELECT on the parent reads a new partition directly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executePartitionPlan } from '../../../src/actions/partition/create.js';
import { planPartitions } from '../../../src/actions/partition/plan.js';
import { detectCapabilities, type Capabilities } from '../../../src/db/capabilities.js';
import { Database, queryOnce } from '../../../src/db/pool.js';
import { isPgscopeError } from '../../../src/errors.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';
import { createRole, type TestRole } from '../../harness/roles.js';
import { quoteIdent } from '../../../src/sql/quote.js';

const NOW = new Date('2024-01-15T00:00:00Z');

let target: TestDatabase;
let owner: TestRole;
let pgscope: TestRole;
let reader: TestRole;
let clerk: TestRole;
let asPgscope: Database;
let caps: Capabilities;

/**
 * app.orders (replica identity FULL) and app.invoices (replica identity USING its unique index),
 * monthly, owned by the owner role; SELECT for the reader, SELECT and INSERT with grant option for
 * the clerk, UPDATE for everyone; row-level security enabled and forced, with a policy for the
 * reader. Each has a DEFAULT partition holding 20 rows of February 2024 (10 of tenant acme).
 */
function fixture(): string {
  const o = quoteIdent(owner.name);
  return ['orders', 'invoices']
    .map(
      (table) => /* SQL */ `
    SET ROLE ${o};
    CREATE TABLE app.${table} (id bigint NOT NULL, at timestamptz NOT NULL, tenant text NOT NULL) PARTITION BY RANGE (at);
    CREATE UNIQUE INDEX ${table}_identity ON app.${table} (id, at);
    CREATE TABLE app.${table}_2024_01 PARTITION OF app.${table} FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-02-01 00:00+00');
    CREATE TABLE app.${table}_default PARTITION OF app.${table} DEFAULT;
    INSERT INTO app.${table} SELECT g, '2024-02-01 00:00+00'::timestamptz + g * interval '1 hour', CASE WHEN g % 2 = 0 THEN 'acme' ELSE 'other' END
    FROM generate_series(1, 20) g;
    GRANT SELECT ON app.${table} TO ${quoteIdent(reader.name)};
    GRANT SELECT, INSERT ON app.${table} TO ${quoteIdent(clerk.name)} WITH GRANT OPTION;
    GRANT UPDATE ON app.${table} TO PUBLIC;
    ALTER TABLE app.${table} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE app.${table} FORCE ROW LEVEL SECURITY;
    CREATE POLICY acme_only ON app.${table} FOR SELECT TO ${quoteIdent(reader.name)} USING (tenant = 'acme');
    RESET ROLE`,
    )
    .join(';\n')
    .concat(`;
    ALTER TABLE app.orders REPLICA IDENTITY FULL;
    ALTER TABLE app.invoices REPLICA IDENTITY USING INDEX invoices_identity`);
}

interface Looks {
  name: string;
  owner: string;
  acl: string[];
  rls: boolean;
  forced: boolean;
  replica_identity: string;
  policies: string[];
  index_owners: string[];
}

/** What the application sees of each partition of `table`, and of the table itself. */
async function looks(table: string): Promise<Looks[]> {
  return target.sql<Looks>(
    /* SQL */ `
    SELECT
      c.relname AS name,
      pg_get_userbyid(c.relowner) AS owner,
      -- the same privileges to the same grantees, in whatever order they were granted
      ARRAY(SELECT a::text FROM unnest(c.relacl) a ORDER BY 1) AS acl,
      c.relrowsecurity AS rls,
      c.relforcerowsecurity AS forced,
      c.relreplident::text AS replica_identity,
      ARRAY(
        SELECT p.polname || ' ' || p.polcmd::text || ' ' || pg_get_expr(p.polqual, p.polrelid)
        FROM pg_policy p
        WHERE p.polrelid = c.oid
      ) AS policies,
      ARRAY(
        SELECT DISTINCT pg_get_userbyid(i.relowner)::text
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = c.oid
      ) AS index_owners
    FROM pg_class c
    WHERE c.oid = $1::regclass
      OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::regclass)
    ORDER BY c.relname`,
    [table],
  );
}

async function createPartitions(table: string, ahead: number) {
  return asPgscope.withClient(
    async (s) => executePartitionPlan(s, await planPartitions(s, caps, { schema: 'app', table, ahead }, { now: NOW })),
    {
      statementTimeoutMs: 0,
    },
  );
}

beforeAll(async () => {
  target = await createTestDatabase('partition_ownership');
  owner = await createRole('app_owner');
  pgscope = await createRole('pgscope', ['pg_monitor']);
  reader = await createRole('reader');
  clerk = await createRole('clerk');
  await target.sql(`GRANT ${quoteIdent(owner.name)} TO ${quoteIdent(pgscope.name)}; CREATE SCHEMA app AUTHORIZATION ${quoteIdent(owner.name)};
    GRANT USAGE ON SCHEMA app TO ${quoteIdent(reader.name)}, ${quoteIdent(clerk.name)}`);
  await target.sql(fixture());
  asPgscope = new Database(pgscope.url(target.name), { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(asPgscope);
});

afterAll(async () => {
  await asPgscope.end();
  await target.drop();
  // one after the other: concurrent DROP ROLEs of members of one another fail ("tuple concurrently deleted")
  for (const role of [pgscope, reader, clerk, owner]) await role.drop();
});

describe('new partitions take the parent owner, grants, row-level security and replica identity', () => {
  it.each([
    ['orders', 'f'],
    ['invoices', 'i'],
  ])('%s: the February partition filled from the DEFAULT one and the March one created directly', async (table, replicaIdentity) => {
    const result = await createPartitions(table, 2);
    expect(result.created.map((c) => [c.name, c.rowsMoved])).toEqual([
      [`${table}_2024_02`, 20],
      [`${table}_2024_03`, 0],
    ]);
    const [parent, ...partitions] = (await looks(`app.${table}`)).sort((a, b) =>
      a.name === table ? -1 : b.name === table ? 1 : a.name.localeCompare(b.name),
    );
    expect(parent).toMatchObject({
      owner: owner.name,
      rls: true,
      forced: true,
      replica_identity: replicaIdentity,
      policies: ["acme_only r (tenant = 'acme'::text)"],
    });
    const made = partitions.filter((p) => p.name === `${table}_2024_02` || p.name === `${table}_2024_03`);
    expect(made.map((p) => p.name)).toEqual([`${table}_2024_02`, `${table}_2024_03`]);
    for (const partition of made) {
      expect({ ...partition, name: table }).toEqual({ ...parent, index_owners: [owner.name] });
    }
    if (replicaIdentity === 'i') {
      // the partition's replica identity is its index attached to the parent's replica-identity index
      const identities = await target.sql<{ partition: string; parent_index: string }>(/* SQL */ `
        SELECT
          x.indrelid::regclass::text AS partition,
          i.inhparent::regclass::text AS parent_index
        FROM pg_index x
        JOIN pg_inherits i ON i.inhrelid = x.indexrelid
        WHERE x.indisreplident
          AND x.indrelid IN ('app.invoices_2024_02'::regclass, 'app.invoices_2024_03'::regclass)
        ORDER BY 1`);
      expect(identities).toEqual([
        { partition: 'app.invoices_2024_02', parent_index: 'app.invoices_identity' },
        { partition: 'app.invoices_2024_03', parent_index: 'app.invoices_identity' },
      ]);
    }
  });

  it("lets the owner alter the parent afterwards, and the parent's grantees read the new partitions directly, as through the parent", async () => {
    await queryOnce(owner.url(target.name), 'ALTER TABLE app.orders ADD COLUMN shipped boolean');
    const asReader = (sql: string) => queryOnce<{ n: number }>(reader.url(target.name), sql);
    const [direct] = await asReader('SELECT count(*)::int AS n FROM app.orders_2024_02');
    const [viaParent] = await asReader("SELECT count(*)::int AS n FROM app.orders WHERE at < '2024-03-01 00:00+00'");
    expect([direct!.n, viaParent!.n]).toEqual([10, 10]);
    // the clerk's grant option came along: it may pass SELECT on the partition on
    await queryOnce(clerk.url(target.name), `GRANT SELECT ON app.orders_2024_03 TO ${quoteIdent(reader.name)}`);
  });
});

describe('an owner that may not own tables where the partitions go', () => {
  it('is refused while planning (INSUFFICIENT_PRIVILEGE) with the grant, rather than leaving partitions it cannot alter', async () => {
    const o = quoteIdent(owner.name);
    await target.sql(/* SQL */ `
      CREATE SCHEMA shared;
      GRANT USAGE, CREATE ON SCHEMA shared TO ${quoteIdent(pgscope.name)};
      GRANT USAGE ON SCHEMA shared TO ${o};
      CREATE TABLE shared.visits (at date NOT NULL) PARTITION BY RANGE (at);
      CREATE TABLE shared.visits_2024_01 PARTITION OF shared.visits FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
      ALTER TABLE shared.visits OWNER TO ${o};
      ALTER TABLE shared.visits_2024_01 OWNER TO ${o}`);
    const error = await asPgscope
      .withClient((s) => planPartitions(s, caps, { schema: 'shared', table: 'visits', ahead: 1 }, { now: NOW }))
      .catch((e: unknown) => e);
    expect(isPgscopeError(error, 'INSUFFICIENT_PRIVILEGE') && error.message).toContain(`GRANT CREATE ON SCHEMA "shared" TO ${o};`);
    const [left] = await target.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'shared.visits'::regclass",
    );
    expect(left!.n).toBe(1);
  });
});
