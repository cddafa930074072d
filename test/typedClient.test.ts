// The sample typed client (examples/typed-client): its generated types are what codegen writes from
// schema.graphql today, it compiles under a user's strict tsconfig, and it runs against pgscope.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { generate } from '@graphql-codegen/cli';
import { isScalarType, isSpecifiedScalarType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import codegenConfig, { PGSCOPE_SCALARS } from '../examples/typed-client/codegen.js';
import { PgscopeRequestError, slowestStatements, totalTableBytes } from '../examples/typed-client/client.js';
import { httpListener } from '../src/http/listener.js';
import { schema } from '../src/schema/index.js';
import { createTestApp, createTestDatabase, type TestApp, type TestDatabase } from './harness/database.js';

const GENERATED = new URL('../examples/typed-client/generated.ts', import.meta.url);
const READ_TOKEN = 'typed-client-read-token-0123';

/** Runs codegen with the shipped config, in memory: each output's file name and text. */
async function codegen(overrides: { scalars?: Record<string, string> } = {}) {
  const [target, output] = Object.entries(codegenConfig.generates)[0]!;
  const withScalars = { ...output, config: { ...(output as { config: object }).config, ...overrides } };
  return generate({ ...codegenConfig, generates: { [target]: withScalars }, silent: true }, false);
}

describe('codegen (npm run codegen:example)', () => {
  it('maps every custom scalar of the schema, and nothing else', () => {
    const custom = Object.values(schema.getTypeMap())
      .filter((type) => isScalarType(type) && !isSpecifiedScalarType(type) && !type.name.startsWith('__'))
      .map((type) => type.name)
      .sort();
    expect(Object.keys(PGSCOPE_SCALARS).sort()).toEqual(custom);
  });

  it('wrote the committed generated.ts from schema.graphql as it is now', async () => {
    const [output] = await codegen();
    expect(output!.content).toBe(fs.readFileSync(GENERATED, 'utf8'));
    // one JSON type per scalar: counters are strings, never number | string
    expect(output!.content).toContain('sizeBytes: string');
    expect(output!.content).toContain('calls: string');
  });

  it('fails under strictScalars when a scalar is missing from the map (rather than typing it any)', async () => {
    const { BigInt: _left, ...withoutBigInt } = PGSCOPE_SCALARS;
    await expect(codegen({ scalars: withoutBigInt })).rejects.toThrow(/Unknown scalar type BigInt/);
  });

  it('gives a client that compiles under tsc --strict', async () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const project = new URL('../examples/typed-client/tsconfig.json', import.meta.url).pathname;
    const run = promisify(execFile)(process.execPath, [tsc, '--noEmit', '-p', project]);
    await expect(run.then(({ stdout }) => stdout)).resolves.toBe('');
  });
});

describe('the sample client against pgscope', () => {
  let target: TestDatabase;
  let api: TestApp;
  let server: http.Server;
  let url: string;

  beforeAll(async () => {
    target = await createTestDatabase('typed_client');
    // three tables of known sizes, in two schemas; a page size of 2 makes the client follow a cursor
    await target.sql(
      `CREATE SCHEMA shop;
       CREATE TABLE shop.orders (id int PRIMARY KEY, note text);
       INSERT INTO shop.orders SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g;
       CREATE TABLE shop.customers (id int PRIMARY KEY);
       CREATE TABLE public.events (id bigint);
       INSERT INTO public.events SELECT generate_series(1, 1000)`,
    );
    api = createTestApp(target.url, { env: { PGSCOPE_READ_TOKEN: READ_TOKEN } });
    server = http.createServer(httpListener(api.app));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await api?.close();
    await target?.drop();
  });

  it('sums the sizes of every table exactly, as a bigint, over several pages', async () => {
    const [expected] = await target.sql<{ tables: number; bytes: string }>(
      `SELECT count(*)::int AS tables, sum(pg_total_relation_size(c.oid))::text AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('shop', 'public')`,
    );
    expect(expected!.tables).toBe(3);
    expect(await totalTableBytes({ url, token: READ_TOKEN }, 2)).toEqual({ tables: 3, bytes: BigInt(expected!.bytes) });
  });

  it('reads counters as bigints from the slowest statements', async () => {
    await target.sql('SELECT count(*) FROM shop.orders WHERE id < $1', [20]);
    const statements = await slowestStatements({ url, token: READ_TOKEN }, 100);
    const lookup = statements.find((statement) => statement.query === 'SELECT count(*) FROM shop.orders WHERE id < $1');
    expect(lookup).toMatchObject({ calls: 1n, meanTimeMs: expect.any(Number) });
  });

  it('throws the typed error when the token is missing', async () => {
    const refused = totalTableBytes({ url });
    await expect(refused).rejects.toBeInstanceOf(PgscopeRequestError);
    await expect(refused).rejects.toMatchObject({ codes: ['UNAUTHENTICATED'] });
  });
});
