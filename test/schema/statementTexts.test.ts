// Statement texts never carry a password out of pgscope, and live texts carry no literal by default:
// real role statements in pg_stat_statements, real sessions in pg_stat_activity, real history rows.
// The tests share one database and run in order (the captures build on each other).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database, queryOnce } from '../../src/db/pool.js';
import {
  adminUrl,
  createTestApp,
  createTestDatabase,
  errorCodes,
  TEST_ADMIN_TOKEN,
  testConfig,
  type TestApp,
  type TestDatabase,
} from '../harness/database.js';
import { queryIdOf } from '../harness/stats.js';
import { waitFor } from '../harness/waitFor.js';
import { quoteIdent } from '../../src/sql/quote.js';

const ROLE = `r_redact_${randomBytes(3).toString('hex')}`;
const CARD = '4111111111111111';
const LEGACY_TEXT = "ALTER ROLE legacy PASSWORD 'sekret000' VALID UNTIL $$2030-01-01$$";
/** Texts an earlier pgscope stored as pg_stat_statements kept them (queryid: text). */
const LEGACY_UTILITY_TEXTS: Record<string, string> = {
  43: "SET app.api_token = 'tok_live_legacy'",
  44: "DO $body$ BEGIN PERFORM set_config('app.k', 'tok_live_legacy', false); END $body$ LANGUAGE plpgsql",
  45: `SELECT * FROM cards WHERE number = 4111111111111111 AND note = E'it\\'s tok_live_legacy' AND id = $1 AND t2.c3 = 1.5e3`,
};

let target: TestDatabase;
let db: Database;
let api: TestApp;
let showing: TestApp;
let firstCapture: string;

beforeAll(async () => {
  target = await createTestDatabase('statement_texts');
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  // pgscope's schema as an earlier version left it (migrations 1 and 2), holding a text in clear.
  const earlier = fs.mkdtempSync(path.join(os.tmpdir(), 'pgscope-migrations-'));
  try {
    for (const file of ['1_create-change-log.sql', '2_query-stats-history.sql'])
      fs.copyFileSync(path.join('migrations', file), path.join(earlier, file));
    expect(await migrateOwnSchema(db, earlier)).toMatchObject({ ok: true });
  } finally {
    fs.rmSync(earlier, { recursive: true, force: true });
  }
  await target.sql(
    `INSERT INTO pgscope.query_stats_text (dbid, queryid, query, last_seen_at)
     SELECT oid, 42, $1, now() FROM pg_database WHERE datname = current_database()`,
    [LEGACY_TEXT],
  );
  for (const [queryId, text] of Object.entries(LEGACY_UTILITY_TEXTS)) {
    await target.sql(
      `INSERT INTO pgscope.query_stats_text (dbid, queryid, query, last_seen_at)
       SELECT oid, $1, $2, now() FROM pg_database WHERE datname = current_database()`,
      [queryId, text],
    );
  }
  api = createTestApp(target.url, { ownSchemaReady: true });
  showing = createTestApp(target.url, { ownSchemaReady: true, env: { PGSCOPE_SHOW_QUERY_LITERALS: 'true' } });
  await target.sql('CREATE TABLE cards (number text)');
});

afterAll(async () => {
  await Promise.all([db.end(), api.close(), showing.close()]);
  await target.drop();
  await queryOnce(adminUrl(), `DROP ROLE IF EXISTS ${quoteIdent(ROLE)}`);
});

const admin = { token: TEST_ADMIN_TOKEN };

describe('migrations 3 and 6', () => {
  it('scrub the texts stored in clear', async () => {
    expect(await migrateOwnSchema(db)).toEqual({
      ok: true,
      applied: ['redact-stored-passwords', 'change-log-details', 'change-log-creates', 'mask-stored-literals', 'idempotency-keys'],
    });
    expect(await target.sql('SELECT query FROM pgscope.query_stats_text WHERE queryid = 42')).toEqual([
      { query: "ALTER ROLE legacy PASSWORD '***' VALID UNTIL ***" },
    ]);
    expect(
      await target.sql('SELECT queryid::int, query FROM pgscope.query_stats_text WHERE queryid IN (43, 44, 45) ORDER BY queryid'),
    ).toEqual([
      { queryid: 43, query: "SET app.api_token = '***'" },
      { queryid: 44, query: "DO '***'" },
      { queryid: 45, query: "SELECT * FROM cards WHERE number = '***' AND note = '***' AND id = $1 AND t2.c3 = '***'" },
    ]);
  });
});

describe('role passwords in pg_stat_statements', () => {
  const expected = [`ALTER ROLE ${ROLE} PASSWORD $1`, `CREATE ROLE ${ROLE} PASSWORD $1`];
  const roleTexts = (texts: string[]) => texts.filter((text) => text.includes(ROLE)).sort();

  it('keeps them in clear in the view (what pgscope must not pass on)', async () => {
    const capture = await api.gql<{ captureQueryStats: { capturedAt: string } }>(
      'mutation { captureQueryStats { capturedAt } }',
      {},
      admin,
    );
    firstCapture = capture.data!.captureQueryStats.capturedAt;
    await target.sql(`CREATE ROLE ${ROLE} PASSWORD 'sekret123'`);
    await target.sql(`ALTER ROLE ${ROLE} PASSWORD 'sekret456'`);
    const rows = await target.sql<{ query: string }>(`SELECT query FROM pg_stat_statements WHERE query LIKE '%${ROLE}%' ORDER BY query`);
    expect(rows.map((row) => row.query)).toEqual([`ALTER ROLE ${ROLE} PASSWORD 'sekret456'`, `CREATE ROLE ${ROLE} PASSWORD 'sekret123'`]);
  });

  it('slowQueries masks them', async () => {
    const result = await api.gql<{ slowQueries: Array<{ query: string }> }>('{ slowQueries(minMeanTimeMs: 0, limit: 1000) { query } }');
    const texts = result.data!.slowQueries.map((row) => row.query);
    expect(roleTexts(texts)).toEqual(expected);
    expect(texts.join('\n')).not.toContain('sekret');
  });

  it('captureQueryStats stores them masked', async () => {
    const capture = await api.gql('mutation { captureQueryStats { id } }', {}, admin);
    expect(capture.errors).toBeUndefined();
    const stored = await target.sql<{ query: string }>('SELECT query FROM pgscope.query_stats_text');
    expect(roleTexts(stored.map((row) => row.query))).toEqual(expected);
    expect(stored.map((row) => row.query).join('\n')).not.toContain('sekret');
  });

  it('queryStatsWindow and queryStatsHistory return them masked', async () => {
    const window = await api.gql<{ queryStatsWindow: { statements: Array<{ queryId: string; query: string }> } }>(
      'query ($since: DateTime!) { queryStatsWindow(since: $since, minMeanTimeMs: 0, limit: 1000) { statements { queryId query } } }',
      { since: firstCapture },
    );
    const statements = window.data!.queryStatsWindow.statements;
    expect(roleTexts(statements.map((row) => row.query))).toEqual(expected);
    const alter = statements.find((row) => row.query === expected[0])!;
    const history = await api.gql<{ queryStatsHistory: { query: string } }>(
      'query ($id: ID!) { queryStatsHistory(queryId: $id) { query } }',
      {
        id: alter.queryId,
      },
    );
    expect(history.data!.queryStatsHistory.query).toBe(expected[0]);
  });

  it('explain(queryId) does not quote them in its refusal', async () => {
    const id = await queryIdOf(target, `ALTER ROLE ${ROLE} PASSWORD 'sekret456'`);
    const result = await api.gql('query ($id: ID!) { explain(queryId: $id) { statement } }', { id });
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
    expect(JSON.stringify(result)).not.toContain('sekret');
  });
});

// pg_stat_statements normalizes plannable statements only: on PostgreSQL 15 every one of these
// kept its constants, and slowQueries, the history and queryStatsWindow passed them on.
describe('every statement kind', () => {
  const TOKEN = 'tok_live_51H8xq';
  /** kind, what runs (one simple-protocol string), a name only its text holds, the text pgscope shows */
  const KINDS: Array<[string, string, string, string]> = [
    ['SET', `SET app.k_set = '${TOKEN}'`, 'app.k_set', 'SET app.k_set = $1'],
    [
      'DECLARE',
      `DECLARE k_declare CURSOR WITH HOLD FOR SELECT * FROM cards WHERE number = '${CARD}'`,
      'DECLARE k_declare',
      'DECLARE k_declare CURSOR WITH HOLD FOR SELECT * FROM cards WHERE number = $1',
    ],
    [
      'CREATE TABLE AS',
      `CREATE TABLE k_ctas AS SELECT * FROM cards WHERE number = '${CARD}'`,
      'k_ctas',
      'CREATE TABLE k_ctas AS SELECT * FROM cards WHERE number = $1',
    ],
    [
      'COPY',
      `COPY (SELECT * FROM cards WHERE number = '${CARD}' AND 'k_copy' <> '') TO '/dev/null'`,
      'COPY (',
      'COPY (SELECT * FROM cards WHERE number = $1 AND $2 <> $3) TO $4',
    ],
    ['DO', `DO $$ BEGIN PERFORM set_config('app.k_do', '${TOKEN}', false); END $$`, 'DO $', 'DO $1'],
    [
      'PREPARE and EXECUTE',
      `PREPARE k_prepared AS SELECT * FROM cards WHERE number = $1 AND number <> '${TOKEN}'; EXECUTE k_prepared('${CARD}')`,
      'k_prepared',
      'PREPARE k_prepared AS SELECT * FROM cards WHERE number = $1 AND number <> $2',
    ],
    // not in a transaction block (a multi-statement string is one); reset at once, never reloaded
    ['ALTER SYSTEM', `ALTER SYSTEM SET application_name = '${TOKEN}'`, 'ALTER SYSTEM SET', 'ALTER SYSTEM SET application_name = $1'],
    ['CALL', `CALL k_remember('${TOKEN}', ${CARD})`, 'CALL k_remember', 'CALL k_remember($1, $2)'],
    ['COMMENT', `COMMENT ON TABLE cards IS '${TOKEN}'`, 'COMMENT ON TABLE cards', 'COMMENT ON TABLE cards IS $1'],
    [
      'CREATE VIEW',
      `CREATE VIEW k_view AS SELECT * FROM cards WHERE number = '${CARD}'`,
      'k_view',
      'CREATE VIEW k_view AS SELECT * FROM cards WHERE number = $1',
    ],
    ['NOTIFY', `NOTIFY k_channel, '${TOKEN}'`, 'k_channel', 'NOTIFY k_channel, $1'],
    [
      'ALTER TABLE with a default',
      `ALTER TABLE cards ALTER number SET DEFAULT '${TOKEN}'`,
      'SET DEFAULT',
      'ALTER TABLE cards ALTER number SET DEFAULT $1',
    ],
    [
      'CREATE SEQUENCE with options',
      `CREATE SEQUENCE k_sequence START ${CARD} INCREMENT 7`,
      'k_sequence',
      'CREATE SEQUENCE k_sequence START $1 INCREMENT $2',
    ],
    [
      'EXPLAIN',
      `EXPLAIN SELECT * FROM cards WHERE number = '${CARD}' AND 'k_explain' <> ''`,
      'EXPLAIN ',
      'EXPLAIN SELECT * FROM cards WHERE number = $1 AND $2 <> $3',
    ],
  ];
  const shown = (texts: string[], marker: string) => [...new Set(texts.filter((text) => text.includes(marker)))];
  const leaks = (texts: string[]) => texts.filter((text) => text.includes(TOKEN) || text.includes(CARD));
  let since: string;

  beforeAll(async () => {
    await target.sql('CREATE PROCEDURE k_remember(secret text, card bigint) LANGUAGE sql AS $$ SELECT 1 $$');
    const capture = await api.gql<{ captureQueryStats: { capturedAt: string } }>(
      'mutation { captureQueryStats { capturedAt } }',
      {},
      admin,
    );
    since = capture.data!.captureQueryStats.capturedAt;
  });

  afterAll(() => target.sql('ALTER SYSTEM RESET application_name'));

  it.each(KINDS)('%s: slowQueries masks its constants', async (_, statement, marker, expected) => {
    await target.sql(statement);
    const result = await api.gql<{ slowQueries: Array<{ query: string }> }>(
      '{ slowQueries(minMeanTimeMs: 0, minCalls: 0, limit: 1000) { query } }',
    );
    const texts = result.data!.slowQueries.map((row) => row.query);
    expect(shown(texts, marker)).toEqual([expected]);
    expect(leaks(texts)).toEqual([]);
  });

  it('captureQueryStats stores every kind masked, and queryStatsWindow returns them so', async () => {
    const capture = await api.gql('mutation { captureQueryStats { id } }', {}, admin);
    expect(capture.errors).toBeUndefined();
    const stored = (await target.sql<{ query: string }>('SELECT query FROM pgscope.query_stats_text')).map((row) => row.query);
    const window = await api.gql<{ queryStatsWindow: { statements: Array<{ query: string }> } }>(
      'query ($since: DateTime!) { queryStatsWindow(since: $since, minMeanTimeMs: 0, limit: 1000) { statements { query } } }',
      { since },
    );
    const returned = window.data!.queryStatsWindow.statements.map((row) => row.query);
    for (const [, , marker, expected] of KINDS) {
      expect({ marker, stored: shown(stored, marker), returned: shown(returned, marker) }).toEqual({
        marker,
        stored: [expected],
        returned: [expected],
      });
    }
    expect(leaks(stored)).toEqual([]);
    expect(leaks(returned)).toEqual([]);
  });
});

/** Runs `statements` on a session of its own and keeps it open until release(). */
function holdSession(applicationName: string, statements: string[]) {
  const session = new Database(target.url, {
    applicationName,
    pool: testConfig({ PGSCOPE_LOCK_TIMEOUT_MS: '60000' }).pool,
    warn: () => undefined,
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const done = session
    .withClient(async (client) => {
      for (const statement of statements) await client.query(statement);
      await released;
      await client.query('ROLLBACK').catch(() => undefined);
    })
    .catch(() => undefined);
  return {
    async end() {
      release();
      await done;
      await session.end();
    },
  };
}

/**
 * The text `activity` shows for the session, once that session is at its statement starting with
 * `verb`: before, the row shows the connection's own setup (pgscope's pool runs set_config first).
 */
const sessionQuery = (api: TestApp, applicationName: string, verb: string) =>
  waitFor(`session ${applicationName} at its ${verb} statement`, async () => {
    const result = await api.gql<{ activity: Array<{ query: string }> }>(
      'query ($name: String) { activity(applicationName: $name) { query } }',
      {
        name: applicationName,
      },
    );
    return result.data!.activity.find((row) => row.query.startsWith(verb))?.query;
  });

describe('live statement texts', () => {
  it('activity masks literals by default, shows them when asked, and never shows a password', async () => {
    const sleeper = holdSession('redact-sleeper', ['BEGIN', `SELECT pg_sleep(0.01), '${CARD}'`]);
    const rotating = holdSession('redact-rotating', ['BEGIN', `ALTER ROLE ${ROLE} PASSWORD 'sekret789'`]);
    try {
      expect(await sessionQuery(api, 'redact-sleeper', 'SELECT pg_sleep')).toBe('SELECT pg_sleep($1), $2');
      expect(await sessionQuery(showing, 'redact-sleeper', 'SELECT pg_sleep')).toBe(`SELECT pg_sleep(0.01), '${CARD}'`);
      expect(await sessionQuery(api, 'redact-rotating', 'ALTER ROLE')).toBe(`ALTER ROLE ${ROLE} PASSWORD $1`);
      expect(await sessionQuery(showing, 'redact-rotating', 'ALTER ROLE')).toBe(`ALTER ROLE ${ROLE} PASSWORD $1`);
    } finally {
      await Promise.all([sleeper.end(), rotating.end()]);
    }
  });

  it('blockedQueries masks the waiting statement and its blocker', async () => {
    const holder = holdSession('redact-holder', ['BEGIN', 'LOCK TABLE cards IN ACCESS EXCLUSIVE MODE', `SELECT '${CARD}'`]);
    await sessionQuery(api, 'redact-holder', 'SELECT $1');
    const waiter = holdSession('redact-waiter', [`SELECT count(*) FROM cards WHERE number = '${CARD}'`]);
    try {
      const blocked = await waitFor('the blocked query', async () => {
        const result = await api.gql<{ blockedQueries: Array<{ session: { query: string }; blockers: Array<{ query: string }> }> }>(
          '{ blockedQueries { session { query } blockers { query } } }',
        );
        return result.data!.blockedQueries[0];
      });
      expect(blocked).toEqual({ session: { query: 'SELECT count(*) FROM cards WHERE number = $1' }, blockers: [{ query: 'SELECT $1' }] });
    } finally {
      await holder.end();
      await waiter.end();
    }
  });
});
