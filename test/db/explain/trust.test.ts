// Planning runs functions (issue 12, item 1.1): explain, plain or analyze, by SQL or by queryId,
// must not run a function a plain role wrote, wherever it hides, whether pgscope connects as a
// least-privilege role or as a superuser. Refused statements leave no trace of mallory's code
// running as pgscope's role; statements that use only trusted code still plan.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCapabilities, type Capabilities } from '../../../src/db/capabilities.js';
import { explain, explainQueryId, type ExplainRequest } from '../../../src/db/explain/explain.js';
import { Database, queryOnce } from '../../../src/db/pool.js';
import { trustRemedy } from '../../../src/db/trust/rule.js';
import { isPgscopeError } from '../../../src/errors.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';
import { createMallory, type Mallory } from '../../harness/mallory.js';
import { queryIdOf } from '../../harness/stats.js';
import { createRole, type TestRole } from '../../harness/roles.js';
import { quoteIdent } from '../../../src/sql/quote.js';

let target: TestDatabase;
let mallory: Mallory;
/** The README's least-privilege role: pg_monitor and CONNECT, nothing else. */
let monitor: TestRole;
let superuser: string;

beforeAll(async () => {
  target = await createTestDatabase('explain_trust');
  mallory = await createMallory(target);
  monitor = await createRole('scope', ['pg_monitor']);
  superuser = (await target.sql<{ name: string }>('SELECT current_user AS name'))[0]!.name;
  // code pgscope trusts: a superuser's function, and one of the role it runs as, in its own schema
  await target.sql(`
    CREATE FUNCTION public.double_it(n int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS 'BEGIN RETURN 2 * n; END';
    CREATE SCHEMA monitor_own AUTHORIZATION ${quoteIdent(monitor.name)}`);
  await queryOnce(
    monitor.url(target.name),
    "CREATE FUNCTION monitor_own.triple(n int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS 'BEGIN RETURN 3 * n; END'",
  );
  await mallory.run('SELECT mallory.evil()');
});

afterAll(async () => {
  await target.drop();
  await Promise.all([mallory.role.drop(), monitor.drop()]);
});

const request = (sql: string, more: Partial<ExplainRequest> = {}): ExplainRequest => ({
  sql,
  params: null,
  analyze: false,
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
  "explain plans a statement only when the code planning could run is trusted (PostgreSQL evaluates functions while planning, as pgscope's role); this one was not planned: ";

// `own`: a function of the connection's role
const connections = [
  {
    label: 'a least-privilege role (pg_monitor)',
    url: () => monitor.url(target.name),
    role: () => monitor.name,
    own: 'monitor_own.triple',
  },
  { label: 'a superuser', url: () => target.url, role: () => superuser, own: 'public.double_it' },
];

describe.each(connections)('explain as $label', (connection) => {
  let db: Database;
  let caps: Capabilities;

  beforeAll(async () => {
    db = new Database(connection.url(), { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_POOL_MAX: '1' }).pool });
    caps = await detectCapabilities(db);
  });

  afterAll(async () => {
    await db.end();
  });

  const ran = () => mallory.ranVia(connection.role());

  it('refuses a direct call, naming the function, its owner and the remedy', async () => {
    const owner = mallory.role.name;
    expect(await failure(explain(db, caps, request("SELECT mallory.evil('direct_call')")))).toEqual({
      code: 'UNTRUSTED_CODE',
      message: `${REFUSED}it calls function mallory.evil(text), owned by role ${owner}. ${trustRemedy(owner)}.`,
      extensions: { code: 'UNTRUSTED_CODE', function: 'mallory.evil(text)', owner },
    });
    expect(await ran()).not.toContain('direct_call');
  });

  it.each([
    ['a view', 'SELECT * FROM mallory.summary', 'view', 'view mallory.summary'],
    ['a row-level security policy', 'SELECT * FROM mallory.secrets WHERE id = 1', 'policy', 'policy visible on mallory.secrets'],
    [
      'an index expression',
      'SELECT * FROM mallory.scored WHERE id = 1',
      'index_expression',
      'index scored_by_expression on mallory.scored',
    ],
    [
      'an index predicate',
      'SELECT * FROM mallory.flagged WHERE id = 1',
      'index_predicate',
      'index flagged_by_predicate on mallory.flagged',
    ],
    [
      'a column default, on INSERT',
      'INSERT INTO mallory.entries (id) VALUES (1)',
      'column_default',
      'default of column score of mallory.entries',
    ],
  ])('refuses her function hidden in %s', async (_place, sql, via, within) => {
    const refused = await failure(explain(db, caps, request(sql)));
    expect(refused).toMatchObject({
      code: 'UNTRUSTED_CODE',
      message: expect.stringContaining(`: it reaches function mallory.evil(text), owned by role ${mallory.role.name}, through ${within}. `),
      extensions: { function: 'mallory.evil(text)', owner: mallory.role.name, within },
    });
    expect(await ran()).not.toContain(via);
  });

  it('refuses an operator she defines', async () => {
    const refused = await failure(explain(db, caps, request('SELECT 1 WHERE 2 OPERATOR(mallory.===) 2')));
    expect(refused.extensions).toEqual({
      code: 'UNTRUSTED_CODE',
      function: 'mallory.same(integer, integer)',
      owner: mallory.role.name,
      within: 'operator mallory.===',
    });
    expect(await ran()).not.toContain('operator');
  });

  it('refuses lower() on a varchar where her public.lower(varchar) would win, planned or analyzed', async () => {
    const expected = { code: 'UNTRUSTED_CODE', function: 'public.lower(character varying)', owner: mallory.role.name };
    const folded = "SELECT id FROM users WHERE lower(username) = lower('Alice'::varchar)";
    expect((await failure(explain(db, caps, request(folded)))).extensions).toEqual(expected);
    const analyzed = request('SELECT lower(username) FROM users', { analyze: true });
    expect((await failure(explain(db, caps, analyzed))).extensions).toEqual(expected);
    expect(await ran()).not.toContain('lower');
  });

  it('refuses her statement by queryId', async () => {
    const queryId = await queryIdOf(target, 'SELECT mallory.evil()');
    const refused = await failure(explainQueryId(db, caps, queryId, { params: null, analyze: false, timeoutMs: 10_000 }));
    expect(refused.extensions).toEqual({ code: 'UNTRUSTED_CODE', function: 'mallory.evil(text)', owner: mallory.role.name });
    expect(await ran()).not.toContain('no_argument');
  });

  it('still plans statements that use only built-in functions and functions of superusers or of its own role', async () => {
    const built = await explain(db, caps, request("SELECT id, upper(username) FROM users WHERE id = 1 AND username LIKE 'A%'"));
    expect(built.plan[0]!.Plan['Node Type']).toBe('Index Scan');
    const superusers = await explain(db, caps, request('SELECT public.double_it(2)'));
    expect(superusers.plan[0]!.Plan['Node Type']).toBe('Result');
    const own = await explain(db, caps, request(`SELECT ${connection.own}(2)`));
    expect(own.plan[0]!.Plan['Node Type']).toBe('Result');
  });

  it('plans her statement again when PGSCOPE_TRUSTED_ROLES names her, and her function runs', async () => {
    const trust = { roles: [mallory.role.name], extensions: [] };
    const outcome = await explain(db, caps, request("SELECT mallory.evil('trusted')", { trust }));
    expect(outcome.plan[0]!.Plan['Node Type']).toBe('Result');
    // the evidence this file relies on: planning ran it, as pgscope's role
    expect(await ran()).toContain('trusted');
  });
});

describe('explain as a superuser', () => {
  it("refuses the least-privilege role's function: it would run with the superuser's privileges", async () => {
    const db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_POOL_MAX: '1' }).pool });
    try {
      const refused = await failure(explain(db, await detectCapabilities(db), request('SELECT monitor_own.triple(2)')));
      expect(refused.extensions).toEqual({ code: 'UNTRUSTED_CODE', function: 'monitor_own.triple(integer)', owner: monitor.name });
    } finally {
      await db.end();
    }
  });
});
