// Through real HTTP on a random port, as a browser or a script would.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpListener } from '../../src/http/listener.js';
import { EXAMPLE_OPERATION } from '../../src/yoga.js';
import { createTestApp, createTestDatabase, TEST_ADMIN_TOKEN, type TestApp, type TestDatabase } from '../harness/database.js';
import { RESET_THIS_DATABASE_STATEMENTS } from '../harness/stats.js';

let target: TestDatabase;
let api: TestApp;
let server: http.Server;
let base: string;

beforeAll(async () => {
  target = await createTestDatabase('http');
  api = createTestApp(target.url);
  server = http.createServer(httpListener(api.app));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await api.close();
  await target.drop();
});

describe('HTTP endpoints', () => {
  it('answers fields in the order asked, whichever resolves first (typed clients and people read it in that order)', async () => {
    // poolStatus answers without SQL, before the two others: it must still come last
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ capabilities { serverVersion } slowQueries(limit: 1) { queryId } poolStatus { max } }' }),
    });
    const text = await response.text();
    expect(Object.keys((JSON.parse(text) as { data: object }).data)).toEqual(['capabilities', 'slowQueries', 'poolStatus']);
  });

  it('answers /health without touching the database', async () => {
    const response = await fetch(`${base}/health`);
    expect(response.status).toBe(200);
  });

  it('answers /ready when the database answers', async () => {
    const response = await fetch(`${base}/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ready: true, database: 'reachable', pool: 'ok' });
  });

  // Yoga's own health check, which cannot be turned off, is given a space (yoga.ts): an escaped one must not reach it either
  it.each([
    '/ready',
    '/health',
    '%20',
  ])('answers %s on that path only: an operation whose query string ends in it runs as any other', async (end) => {
    const response = await fetch(`${base}/graphql?from=${end}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ poolStatus { max } }' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ data: { poolStatus: { max: expect.any(Number) } } });
    if (end.startsWith('/')) expect((await fetch(`${base}${end}/`)).status).toBe(404);
  });

  it('serves GraphiQL with the example operation to a browser', async () => {
    const response = await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('<title>pgscope</title>');
    expect(html).toContain('slowQueries(limit: 5)');
  });

  it('runs the operation GraphiQL opens with, without errors', async () => {
    await target.sql('CREATE TABLE orders (id int PRIMARY KEY, customer_id int)');
    const result = await api.gql<{ tables: { edges: Array<{ node: { name: string } }> } }>(EXAMPLE_OPERATION);
    expect(result.errors).toBeUndefined();
    expect(result.data!.tables.edges.map((edge) => edge.node.name)).toEqual(['orders']);
  });

  it('runs the README example operation over POST', async () => {
    // from a reset on, this database's pg_stat_statements holds the reset, this statement and at
    // most pgscope's connection set-up: fewer entries than the operation's limit of 5
    await target.sql(RESET_THIS_DATABASE_STATEMENTS);
    for (const n of [1, 2, 3]) await target.sql('SELECT $1::int AS readme_probe', [n]);
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      body: JSON.stringify({
        query: '{ poolStatus { max total idle waiting } slowQueries(limit: 5, minMeanTimeMs: 0) { queryId query calls meanTimeMs } }',
      }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      data: { poolStatus: Record<string, number>; slowQueries: unknown[] };
      extensions: { sqlStatements: number };
    };
    expect(body.data.poolStatus.max).toBe(4);
    expect(body.data.poolStatus.waiting).toBe(0);
    expect(body.data.slowQueries).toContainEqual({
      queryId: expect.any(String),
      query: 'SELECT $1::int AS readme_probe',
      calls: '3',
      meanTimeMs: expect.any(Number),
    });
    expect(body.extensions.sqlStatements).toBe(1);
  });

  it('answers an invalid operation with a 400 and a typed error (GraphQL over HTTP)', async () => {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: '{ slowQueries { nope } }' }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(body.errors[0]!.message).toBe('Cannot query field "nope" on type "SlowQuery".');
  });
});
