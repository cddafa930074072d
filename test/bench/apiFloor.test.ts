// The api bench's floors answer what pgscope answers: the same data for the same operation
// (graphql-js on pgscope's schema), the same rows as JSON (64-bit integers as strings).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlFloor, jsonFloor } from '../../bench/apiFloor.js';
import { CapabilitiesCache } from '../../src/db/capabilities.js';
import { Database } from '../../src/db/pool.js';
import { appServices, createApp, type App } from '../../src/yoga.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';

let target: TestDatabase;
let database: Database;
let app: App;
const servers: http.Server[] = [];

beforeAll(async () => {
  target = await createTestDatabase('api_floor');
  await target.sql(
    'CREATE TABLE orders (id bigint PRIMARY KEY, customer int NOT NULL, placed date); CREATE INDEX orders_customer ON orders (customer);' +
      'CREATE TABLE customers (id int PRIMARY KEY, name text)',
  );
  const config = testConfig();
  database = new Database(target.url, { applicationName: 'pgscope-test', pool: config.pool, warn: () => undefined });
  const deps = { config, database, capabilities: new CapabilitiesCache(database), ownSchemaReady: false };
  app = createApp(deps, { logging: false });
  servers.push(
    http.createServer(graphqlFloor(appServices(deps))),
    http.createServer(jsonFloor(async () => [{ id: 2n ** 63n - 1n, name: 'a' }])),
  );
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
});

afterAll(async () => {
  for (const server of servers) server.close();
  await database.end();
  await target.drop();
});

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: Array<{ message: string }> } };
};
const urlOf = (server: http.Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;

describe('the api bench floors', () => {
  it('graphql-js on pgscope’s schema answers the data pgscope answers', async () => {
    const operation = {
      query: /* GraphQL */ `
        query Floor($first: Int!) {
          tables(first: $first, schema: "public") { edges { node { name indexes { indexName definition backsConstraint } } } }
          capabilities { serverVersionNum }
        }`,
      variables: { first: 10 },
    };
    const viaPgscope = await app.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(operation),
    });
    const expected = (await viaPgscope.json()) as { data: { tables: { edges: unknown[] } } };
    expect(expected.data.tables.edges).toHaveLength(2);
    const floor = await post(urlOf(servers[0]!), operation);
    expect(floor).toEqual({ status: 200, body: { data: expected.data } });
  });

  it('answers an operation it cannot run with a 500 and the error, which stops the bench’s client', async () => {
    const floor = await post(urlOf(servers[0]!), { query: '{ noSuchField }' });
    expect(floor.status).toBe(500);
    expect(floor.body.errors?.[0]?.message).toContain('noSuchField');
  });

  it('sends the raw rows as JSON, 64-bit integers as strings', async () => {
    expect(await post(urlOf(servers[1]!), { query: '{ ignored }' })).toEqual({
      status: 200,
      body: { data: { rows: [{ id: '9223372036854775807', name: 'a' }] } },
    });
  });
});
