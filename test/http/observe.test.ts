// What an operator watches (issue 15): a request id on every response, an access line per request
// and a line per mutation in the log (never variables, statement texts, literals or tokens), and
// Prometheus metrics at /metrics, protected like reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database } from '../../src/db/pool.js';
import { RequestLog } from '../../src/http/requestLog.js';
import { createTestApp, createTestDatabase, TEST_ADMIN_TOKEN, testConfig, type TestApp, type TestDatabase } from '../harness/database.js';

const READ_TOKEN = 'test-read-token-0123456789';
/** A literal a client sends as a variable: it must never reach the log. */
const SECRET = 'sk_live_4242424242';

let target: TestDatabase;
let api: TestApp;
let guarded: TestApp;
let lines: string[] = [];
const log = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  target = await createTestDatabase('observe');
  const owner = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  expect(await migrateOwnSchema(owner)).toMatchObject({ ok: true });
  await owner.end();
  await target.sql(
    'CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT g, g::text FROM generate_series(1, 100) g',
  );
  const destination = { write: (line: string) => void lines.push(line) };
  api = createTestApp(target.url, { ownSchemaReady: true, requestLog: new RequestLog(loadConfig({}).log, destination) });
  guarded = createTestApp(target.url, { env: { PGSCOPE_READ_TOKEN: READ_TOKEN } });
});

afterAll(async () => {
  await Promise.all([api.close(), guarded.close()]);
  await target.drop();
});

const post = (app: TestApp, body: unknown, headers: Record<string, string> = {}) =>
  app.app.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const metrics = async (app: TestApp, headers: Record<string, string> = {}) => {
  const response = await app.app.fetch('http://localhost/metrics', { headers });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
};

/** The value of one sample of the metrics text, 0 when absent. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((each) => each.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

describe('a request id', () => {
  it("is the client's X-Request-Id when it is a plain token, else one pgscope makes up", async () => {
    const given = await post(api, { query: '{ __typename }' }, { 'x-request-id': 'checkout-7f3a.2' });
    expect(given.headers.get('x-request-id')).toBe('checkout-7f3a.2');
    for (const bad of ['two words', 'x'.repeat(129), 'line\tbreak']) {
      const replaced = await post(api, { query: '{ __typename }' }, { 'x-request-id': bad });
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect((await post(api, { query: '{ __typename }' })).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is on refusals too: a wrong Host, a malformed body', async () => {
    const host = await api.app.fetch('http://evil.example.com/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', host: 'evil.example.com', 'x-request-id': 'refused-1' },
      body: '{}',
    });
    expect(host.status).toBe(421);
    expect(host.headers.get('x-request-id')).toBe('refused-1');
    const malformed = await api.app.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'refused-2' },
      body: '{"query": ',
    });
    expect(malformed.headers.get('x-request-id')).toBe('refused-2');
  });
});

describe('the log', () => {
  it('has an access line per request: id, status, timing, type, root fields and who, without variables, texts or tokens', async () => {
    lines = [];
    const query = `query Lookup($text: String!) { explain(sql: "SELECT * FROM notes WHERE body = $1", params: [$text]) { totalCost } }`;
    const response = await post(
      api,
      { query, variables: { text: SECRET }, operationName: 'Lookup' },
      { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'x-request-id': 'access-1' },
    );
    expect(response.status).toBe(200);
    const [line] = log().filter((each) => each.requestId === 'access-1');
    expect(line).toMatchObject({
      level: 'info',
      event: 'request',
      service: 'pgscope',
      method: 'POST',
      path: '/graphql',
      status: 200,
      who: 'admin',
      type: 'query',
      operation: 'Lookup',
      fields: ['explain'],
    });
    expect(line!.durationMs).toBeGreaterThan(0);
    expect(typeof line!.time).toBe('string');
    // an operation name that is no GraphQL name (it may hold anything) is not logged
    await post(api, { query: '{ __typename }', operationName: `x ${SECRET}` }, { 'x-request-id': 'access-2' });
    expect(log().find((each) => each.requestId === 'access-2')).toMatchObject({ operation: '(not a GraphQL name)' });
    const all = lines.join('\n');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(TEST_ADMIN_TOKEN);
    expect(all).not.toContain('SELECT');
  });

  it('says which codes a request failed with', async () => {
    lines = [];
    await post(api, { query: '{ indexRecommendations(table: "nosuch") { id } }' }, { 'x-request-id': 'failed-1' });
    expect(log().find((each) => each.requestId === 'failed-1')).toMatchObject({ status: 200, errors: ['NOT_FOUND'], who: 'none' });
  });

  it('has a line per mutation: who, which, the outcome and the change ids', async () => {
    lines = [];
    const mutation = 'mutation { analyzeTable(table: "notes") { change { id status } } }';
    const done = await post(api, { query: mutation }, { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'x-request-id': 'mutation-1' });
    const id = ((await done.json()) as { data: { analyzeTable: { change: { id: string } } } }).data.analyzeTable.change.id;
    expect(log().find((each) => each.event === 'mutation' && each.requestId === 'mutation-1')).toEqual(
      expect.objectContaining({ level: 'info', who: 'admin', fields: ['analyzeTable'], outcome: 'ok', changeIds: [id] }),
    );
    await post(api, { query: mutation }, { 'x-request-id': 'mutation-2' });
    expect(log().find((each) => each.event === 'mutation' && each.requestId === 'mutation-2')).toEqual(
      expect.objectContaining({ level: 'warn', who: 'none', fields: ['analyzeTable'], outcome: 'failed', errors: ['UNAUTHENTICATED'] }),
    );
  });

  it("names a mutation's idempotency keys, literal or variable, and only well-formed ones", async () => {
    lines = [];
    const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    const drop = 'mutation($key: String) { dropIndex(name: "no_such_index", dryRun: false, idempotencyKey: $key) { change { id } } }';
    await post(api, { query: drop, variables: { key: 'deploy-7:drop' } }, { ...admin, 'x-request-id': 'keyed-1' });
    expect(log().find((each) => each.event === 'mutation' && each.requestId === 'keyed-1')).toEqual(
      expect.objectContaining({ fields: ['dropIndex'], outcome: 'failed', errors: ['NOT_FOUND'], idempotencyKeys: ['deploy-7:drop'] }),
    );
    await post(api, { query: drop, variables: { key: `bad key ${SECRET}` } }, { ...admin, 'x-request-id': 'keyed-2' });
    const refused = log().find((each) => each.event === 'mutation' && each.requestId === 'keyed-2');
    expect(refused).toEqual(expect.objectContaining({ errors: ['BAD_USER_INPUT'] }));
    expect(refused).not.toHaveProperty('idempotencyKeys');
    expect(lines.join('\n')).not.toContain(SECRET);
  });

  it('writes one readable line per request in the text format', () => {
    const out: string[] = [];
    const text = new RequestLog({ level: 'info', format: 'text' }, { write: (line: string) => void out.push(line) });
    text.access({ requestId: 'r-1', method: 'GET', path: '/graphql', status: 200, durationMs: 1.5, who: 'none' });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO request requestId=r-1 method=GET path=\/graphql status=200 durationMs=1.5 who=none\n$/,
    );
  });

  it('stays quiet below its level', () => {
    const out: string[] = [];
    const quiet = new RequestLog({ level: 'warn', format: 'json' }, { write: (line: string) => void out.push(line) });
    quiet.access({ requestId: 'r-2', method: 'GET', path: '/graphql', status: 200, durationMs: 1, who: 'none' });
    quiet.mutation({ requestId: 'r-3', who: 'admin', fields: ['dropIndex'], outcome: 'failed', errors: ['LOCK_TIMEOUT'] });
    expect(out.map((line) => JSON.parse(line).requestId)).toEqual(['r-3']);
    // probes and scrapes only at debug
    const info = new RequestLog({ level: 'info', format: 'json' }, { write: (line: string) => void out.push(line) });
    const debug = new RequestLog({ level: 'debug', format: 'json' }, { write: (line: string) => void out.push(line) });
    for (const each of [info, debug])
      each.access({ requestId: 'probe', method: 'GET', path: '/ready', status: 200, durationMs: 1, who: 'none' });
    const probes = out.map((line) => JSON.parse(line) as { requestId: string; level: string }).filter((line) => line.requestId === 'probe');
    expect(probes.map((line) => line.level)).toEqual(['debug']);
  });
});

describe('/metrics', () => {
  it('counts requests by type and outcome, errors by code, root fields, SQL statements and the pool', async () => {
    const before = (await metrics(api)).text;
    await post(api, { query: '{ poolStatus { total } }' });
    await post(api, { query: '{ indexRecommendations(table: "nosuch") { id } }' });
    await post(api, { query: '{ noSuchField }' });
    await post(api, { query: 'query WhateverAClientNamesIt { __typename }', operationName: 'WhateverAClientNamesIt' });
    const { status, type, text } = await metrics(api);
    expect(status).toBe(200);
    expect(type).toContain('text/plain');
    const grew = (name: string) => sample(text, name) - sample(before, name);
    expect(grew('pgscope_graphql_requests_total{type="query",outcome="ok"}')).toBe(2);
    expect(grew('pgscope_graphql_requests_total{type="query",outcome="NOT_FOUND"}')).toBe(1);
    expect(grew('pgscope_graphql_errors_total{code="NOT_FOUND"}')).toBe(1);
    expect(grew('pgscope_graphql_root_fields_total{field="poolStatus"}')).toBe(1);
    expect(grew('pgscope_graphql_root_fields_total{field="indexRecommendations"}')).toBe(1);
    expect(grew('pgscope_sql_statements_total{outcome="ok"}')).toBeGreaterThan(0);
    expect(sample(text, 'pgscope_sql_statement_duration_seconds_count')).toBeGreaterThan(0);
    expect(sample(text, 'pgscope_pool_max_connections{target="default"}')).toBe(4);
    expect(text).toContain('pgscope_pool_connections{target="default",state="waiting"} 0');
    expect(text).toContain('pgscope_changes_running 0');
    // refused before it ran: counted, with its code
    expect(grew('pgscope_graphql_requests_total{type="none",outcome="GRAPHQL_VALIDATION_FAILED"}')).toBe(1);
    // a client's names never become labels: neither its operation's name nor a field the schema lacks
    expect(text).not.toContain('WhateverAClientNamesIt');
    expect(text).not.toContain('noSuchField');
  });

  it('counts advisor runs by costing path', async () => {
    const before = sample((await metrics(api)).text, 'pgscope_advisor_runs_total{source="HEURISTIC"}');
    const hypopgBefore = sample((await metrics(api)).text, 'pgscope_advisor_runs_total{source="HYPOPG"}');
    await post(api, { query: '{ indexRecommendations { id } }' });
    const text = (await metrics(api)).text;
    const runs =
      sample(text, 'pgscope_advisor_runs_total{source="HEURISTIC"}') -
      before +
      sample(text, 'pgscope_advisor_runs_total{source="HYPOPG"}') -
      hypopgBefore;
    expect(runs).toBe(1);
  });

  it('needs the read (or admin) token where reads do, and the Host check like every path', async () => {
    expect((await metrics(guarded)).status).toBe(401);
    expect((await metrics(guarded, { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);
    expect((await metrics(guarded, { authorization: `Bearer ${READ_TOKEN}` })).status).toBe(200);
    expect((await metrics(guarded, { authorization: `Bearer ${TEST_ADMIN_TOKEN}` })).status).toBe(200);
    const rebound = await api.app.fetch('http://evil.example.com/metrics', { headers: { host: 'evil.example.com' } });
    expect(rebound.status).toBe(421);
    expect(await rebound.text()).not.toContain('pgscope_');
  });

  it('is off with PGSCOPE_METRICS=false', async () => {
    const off = createTestApp(target.url, { env: { PGSCOPE_METRICS: 'false' } });
    try {
      const { status, text } = await metrics(off);
      expect(status).toBe(404);
      expect(text).not.toContain('pgscope_');
    } finally {
      await off.close();
    }
  });
});
