// One request cannot take the server down: oversized, deep, wide or expensive operations are
// refused before any SQL, with a typed error; the statements a request may run at once and the
// time an anonymous explain may plan are bounded. A counting Database (a real pool underneath)
// proves "before any SQL" and measures statements in flight.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, type Queryable } from '../../src/db/pool.js';
import { httpListener } from '../../src/http/listener.js';
import { createTestApp, createTestDatabase, errorCodes, testConfig, type TestApp, type TestDatabase } from '../harness/database.js';

/** The pool, counting what reaches it: statements sent, and the most in flight at once. */
class CountingDatabase extends Database {
  statements = 0;
  inFlight = 0;
  maxInFlight = 0;

  override query<Row>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.track(() => super.query<Row>(sql, params));
  }

  override withClient<T>(work: (client: Queryable) => Promise<T>): Promise<T> {
    return this.track(() => super.withClient(work));
  }

  reset(): void {
    this.statements = 0;
    this.maxInFlight = 0;
  }

  private async track<T>(run: () => Promise<T>): Promise<T> {
    this.statements += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      return await run();
    } finally {
      this.inFlight -= 1;
    }
  }
}

let target: TestDatabase;

function countingApp(env: Record<string, string> = {}): { api: TestApp; counter: CountingDatabase } {
  const config = testConfig(env);
  const counter = new CountingDatabase(target.url, { applicationName: 'pgscope-test', pool: config.pool, warn: () => undefined });
  return { api: createTestApp(target.url, { env, database: counter }), counter };
}

const aliases = (count: number, field: string) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(' ')} }`;

beforeAll(async () => {
  target = await createTestDatabase('limits');
});

afterAll(async () => {
  await target.drop();
});

describe('operation limits', () => {
  let api: TestApp;
  let counter: CountingDatabase;

  // A body limit of 1 MB, so that the operation limits answer rather than the body limit.
  beforeAll(() => ({ api, counter } = countingApp({ PGSCOPE_MAX_BODY_BYTES: String(1024 * 1024) })));
  afterAll(() => api.close());

  const refusal = async (query: string, variables?: Record<string, unknown>) => {
    counter.reset();
    const result = await api.gql(query, variables);
    return {
      codes: errorCodes(result),
      limits: result.errors?.map((error) => error.extensions?.limit),
      statements: counter.statements,
      result,
    };
  };

  it("lets GraphiQL's introspection query through", async () => {
    const { codes, statements, result } = await refusal(getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }));
    expect({ codes, statements }).toEqual({ codes: [], statements: 0 });
    expect((result.data as { __schema: { queryType: { name: string } } }).__schema.queryType.name).toBe('Query');
  });

  it('refuses 10,000 aliases of slowQueries on the token limit, without any SQL', async () => {
    const { codes, limits, statements } = await refusal(aliases(10_000, 'slowQueries { queryId }'));
    expect({ codes, limits, statements }).toEqual({ codes: ['QUERY_TOO_COMPLEX'], limits: ['PGSCOPE_MAX_TOKENS'], statements: 0 });
  });

  it('refuses 31 aliases (the limit is 30), without any SQL', async () => {
    const { codes, limits, statements, result } = await refusal(aliases(31, 'poolStatus { max }'));
    expect({ codes, limits, statements }).toEqual({ codes: ['QUERY_TOO_COMPLEX'], limits: ['PGSCOPE_MAX_ALIASES'], statements: 0 });
    expect(result.errors![0]!.message).toBe(
      'Aliases limit of 30 exceeded, found 31. The limit is set by PGSCOPE_MAX_ALIASES; split the operation into smaller ones.',
    );
  });

  it('refuses the same operation every time it is sent, while one within the limits runs each time', async () => {
    for (let round = 0; round < 2; round += 1) {
      const { codes, limits } = await refusal(aliases(31, 'poolStatus { max }'));
      expect({ codes, limits }).toEqual({ codes: ['QUERY_TOO_COMPLEX'], limits: ['PGSCOPE_MAX_ALIASES'] });
      const within = await api.gql(aliases(30, 'poolStatus { max }'));
      expect(within.errors).toBeUndefined();
    }
  });

  it('refuses nesting deeper than 12 levels before validating field names', async () => {
    const deep = `{ tables { edges { node { ${'a { '.repeat(10)} b ${'} '.repeat(10)} } } } }`;
    const { codes, limits, statements } = await refusal(deep);
    expect({ codes, limits, statements }).toEqual({ codes: ['QUERY_TOO_COMPLEX'], limits: ['PGSCOPE_MAX_DEPTH'], statements: 0 });
  });

  it('refuses fragment fan-out (each of 13 fragments spreads the next twice) on the cost limit', async () => {
    const fanOut = [
      'query { ...F0 }',
      ...Array.from({ length: 13 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`),
      'fragment F13 on Query { poolStatus { max total idle waiting } }',
    ].join('\n');
    const { codes, limits, statements, result } = await refusal(fanOut);
    expect({ codes, limits, statements }).toEqual({ codes: ['QUERY_TOO_COMPLEX'], limits: ['PGSCOPE_MAX_COST'], statements: 0 });
    // poolStatus { 4 fields } costs 2 + 1.5 x 4 = 8, doubled 13 times
    expect(result.errors![0]!.message).toBe(
      "The operation's estimated cost is 65536; the limit is 5000 (PGSCOPE_MAX_COST). Select fewer or less nested fields.",
    );
  });

  it('does not multiply the cost by first: the resolver bounds it', async () => {
    const { codes } = await refusal('{ tables(first: 5000) { edges { node { name seqScans indexScans sizeBytes } } } }');
    expect(codes).toEqual([]);
  });

  it('refuses 20 aliased explains on the expensive-field limit, without any SQL', async () => {
    const { codes, limits, statements } = await refusal(aliases(20, 'explain(sql: "SELECT 1") { totalCost }'));
    expect({ codes, limits, statements }).toEqual({
      codes: ['QUERY_TOO_COMPLEX'],
      limits: ['PGSCOPE_MAX_EXPENSIVE_FIELDS'],
      statements: 0,
    });
  });

  it('counts explains in fragments once per spread', async () => {
    const twice = /* GraphQL */ `
      query { ...Plans ...Plans }
      fragment Plans on Query { a: explain(sql: "SELECT 1") { totalCost } b: explain(sql: "SELECT 2") { totalCost } }`;
    const { codes, result } = await refusal(twice);
    expect(codes).toEqual(['QUERY_TOO_COMPLEX']);
    expect(result.errors![0]!.message).toContain('The operation asks for 4 expensive fields');
  });

  it('runs three explains (the limit) in one operation', async () => {
    const { codes, result } = await refusal(aliases(3, 'explain(sql: "SELECT 1") { estimatedRows }'));
    expect(codes).toEqual([]);
    expect(result.data).toEqual({ a0: { estimatedRows: 1 }, a1: { estimatedRows: 1 }, a2: { estimatedRows: 1 } });
  });

  it('does not echo a 50,000-character field name back', async () => {
    const { codes, statements, result } = await refusal(`{ ${'x'.repeat(50_000)} }`);
    expect({ codes, statements }).toEqual({ codes: ['GRAPHQL_VALIDATION_FAILED'], statements: 0 });
    expect(result.errors![0]!.message).toBe(`Cannot query field "${'x'.repeat(80)}..." (50000 characters) on type "Query".`);
    expect(JSON.stringify(result).length).toBeLessThan(1_000);
  });

  it('does not echo a 50,000-character string in a syntax error', async () => {
    const { codes, result } = await refusal(`{ "${'x'.repeat(50_000)}" }`);
    expect(codes).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(JSON.stringify(result).length).toBeLessThan(1_000);
  });

  it('does not echo a 50,000-character variable value (graphql-js quotes it twice)', async () => {
    const { codes, statements, result } = await refusal('query ($n: Int) { slowQueries(limit: $n) { queryId } }', {
      n: 'x'.repeat(50_000),
    });
    const quoted = `"${'x'.repeat(80)}..." (50000 characters)`;
    expect({ codes, statements }).toEqual({ codes: [undefined], statements: 0 });
    expect(result.errors![0]!.message).toBe(`Variable "$n" got invalid value ${quoted}; Int cannot represent non-integer value: ${quoted}`);
  });
});

describe('value nesting', () => {
  let api: TestApp;
  let counter: CountingDatabase;
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    ({ api, counter } = countingApp());
    server = http.createServer(httpListener(api.app));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await api.close();
  });

  /** A body whose variable x nests `levels` arrays or objects (the variables map is one level more), written as text: no recursion here either. */
  const nestedBody = (levels: number, kind: 'arrays' | 'objects') => {
    const value = kind === 'arrays' ? `${'['.repeat(levels)}${']'.repeat(levels)}` : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
    return `{"query":"{ poolStatus { max } }","variables":{"x":${value}}}`;
  };
  const viaFetch = (body: string) =>
    api.app.fetch('http://localhost/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const viaHttp = (body: string) => fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  // 5,000 levels overflowed the stack of the NUL guard (a 500) once the operation ran.
  it.each([
    ['arrays', 'app.fetch', viaFetch],
    ['objects', 'app.fetch', viaFetch],
    ['arrays', 'real HTTP', viaHttp],
    ['objects', 'real HTTP', viaHttp],
  ] as const)('refuses variables nested 5,000 levels deep (%s, %s) with 400 QUERY_TOO_COMPLEX, before any SQL', async (kind, _, send) => {
    counter.reset();
    const response = await send(nestedBody(5_000, kind));
    expect({ status: response.status, body: await response.json(), statements: counter.statements }).toEqual({
      status: 400,
      body: {
        errors: [
          {
            message: "Variable values are nested more than 32 levels deep; pgscope's inputs need 3.",
            extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'the value nesting limit' },
          },
        ],
      },
      statements: 0,
    });
  });

  // With the token limit raised, a list literal 3,000 levels deep overflowed graphql-js's parser (a 500).
  it('refuses a value literal nested deeper than 2 x PGSCOPE_MAX_DEPTH + 32 brackets before parsing it, without any SQL', async () => {
    const raised = countingApp({ PGSCOPE_MAX_TOKENS: '100000', PGSCOPE_MAX_BODY_BYTES: String(1024 * 1024) });
    const literal = (levels: number) => `{ slowQueries(limit: ${'['.repeat(levels)}1${']'.repeat(levels)}) { queryId } }`;
    try {
      const deep = await raised.api.gql(literal(3_000));
      expect({ errors: deep.errors, statements: raised.counter.statements }).toEqual({
        errors: [
          {
            message: 'The operation nests brackets more than 56 levels deep; split it or flatten its values.',
            extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'PGSCOPE_MAX_DEPTH' },
          },
        ],
        statements: 0,
      });
      // 54 brackets and the two of the field: what the schema says of it, not the nesting limit
      expect(errorCodes(await raised.api.gql(literal(54)))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    } finally {
      await raised.api.close();
    }
  });

  it('accepts 32 levels (the variables map and 31 arrays) and refuses 33', async () => {
    const within = await viaFetch(nestedBody(31, 'arrays'));
    expect(await within.json()).toEqual({ data: { poolStatus: { max: 4 } }, extensions: { sqlStatements: 0 } });
    expect((await viaFetch(nestedBody(32, 'arrays'))).status).toBe(400);
  });
});

describe('body limit', () => {
  let api: TestApp;
  let counter: CountingDatabase;
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    ({ api, counter } = countingApp());
    server = http.createServer(httpListener(api.app));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await api.close();
  });

  const TWENTY_MB = 20 * 1024 * 1024;

  it('refuses a 20 MB body through app.fetch after reading about the limit (100 KB)', async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= TWENTY_MB) return controller.close();
        pulled += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
      },
    });
    counter.reset();
    const response = await api.app.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(errorCodes((await response.json()) as never)).toEqual(['REQUEST_TOO_LARGE']);
    expect(pulled).toBeLessThan(1024 * 1024);
    expect(counter.statements).toBe(0);
  });

  /** POSTs 20 MB over a real connection; the server answers before the client could send it all. */
  const postTwentyMegabytes = (headers: Record<string, string>) =>
    new Promise<{ status: number | undefined; body: string; sent: number }>((resolve, reject) => {
      const request = http.request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', ...headers },
      });
      const chunk = Buffer.alloc(64 * 1024, ' ');
      let sent = 0;
      const pump = () => {
        while (sent < TWENTY_MB) {
          sent += chunk.length;
          if (!request.write(chunk)) return void request.once('drain', pump);
        }
        request.end();
      };
      request.on('response', (response) => {
        let body = '';
        response.on('data', (data: Buffer) => (body += data.toString()));
        response.on('end', () => resolve({ status: response.statusCode, body, sent }));
      });
      // The server closes the connection once it has answered: the client's later writes fail.
      request.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
      });
      pump();
    });

  it.each([
    ['with Content-Length', { 'content-length': String(TWENTY_MB) }],
    ['chunked, without Content-Length', {}],
  ])('refuses a 20 MB body over HTTP %s, and closes the connection', async (_, headers) => {
    counter.reset();
    const { status, body, sent } = await postTwentyMegabytes(headers);
    expect(status).toBe(413);
    expect(errorCodes(JSON.parse(body) as never)).toEqual(['REQUEST_TOO_LARGE']);
    expect(sent).toBeLessThan(TWENTY_MB);
    expect(counter.statements).toBe(0);
  });

  /** Writes `raw` on a new connection and returns all the server sent back until it closed. */
  const rawExchange = (raw: Buffer) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (data) => (answer += data.toString()));
      socket.on('close', () => resolve(answer));
      socket.on('error', (error: NodeJS.ErrnoException) =>
        error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error),
      );
      socket.end(raw);
    });

  // Through node:http a body with a Content-Length within the limit is read by yoga directly
  // (limits.ts): Node's parser gives it exactly that many bytes, whatever follows.
  it('reads only the bytes Content-Length declares: what follows is the next request, refused on its own length', async () => {
    counter.reset();
    const body = '{"query":"{ __typename }"}';
    const head = (length: number) =>
      `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
    const answer = await rawExchange(
      Buffer.concat([Buffer.from(head(body.length) + body + head(TWENTY_MB)), Buffer.alloc(256 * 1024, ' ')]),
    );
    const responses = answer.split(/(?=HTTP\/1\.1 )/);
    expect(responses).toHaveLength(2);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 200 /);
    expect(responses[0]).toContain('{"data":{"__typename":"Query"}');
    expect(responses[1]).toMatch(/^HTTP\/1\.1 413 /);
    expect(responses[1]).toContain('REQUEST_TOO_LARGE');
    expect(counter.statements).toBe(0);
  });

  it('refuses a request with both Content-Length and Transfer-Encoding before yoga sees it', async () => {
    counter.reset();
    const body = '{"query":"{ poolStatus { max } }"}';
    const answer = await rawExchange(
      Buffer.from(
        `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 5\r\n` +
          `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      ),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).not.toContain('poolStatus');
    expect(counter.statements).toBe(0);
  });

  it('still serves requests afterwards', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ poolStatus { max } }' }),
    });
    expect(await response.json()).toEqual({ data: { poolStatus: { max: 4 } }, extensions: { sqlStatements: 0 } });
  });
});

describe('statements in flight per request', () => {
  let api: TestApp;
  let counter: CountingDatabase;

  beforeAll(() => ({ api, counter } = countingApp({ PGSCOPE_REQUEST_CONCURRENCY: '2' })));
  afterAll(() => api.close());

  it('runs twelve root fields two statements at a time, and other requests still get through', async () => {
    await api.gql('{ capabilities { serverVersion } }'); // detection runs its own statements once
    counter.reset();
    const [wide, other] = await Promise.all([
      // twelve different limits: identical statements would share one round trip (src/db/sharedReads.ts)
      api.gql<Record<string, unknown[]>>(
        `{ ${Array.from({ length: 12 }, (_, i) => `a${i}: slowQueries(minMeanTimeMs: 0, limit: ${i + 1}) { queryId }`).join(' ')} }`,
      ),
      api.gql<{ poolStatus: { max: number } }>('{ poolStatus { max } }'),
    ]);
    expect(errorCodes(wide)).toEqual([]);
    expect(Object.keys(wide.data!)).toHaveLength(12);
    expect(wide.extensions!.sqlStatements).toBe(12);
    expect(counter.maxInFlight).toBe(2);
    expect(other.data!.poolStatus.max).toBe(4);
  });
});

describe('explain without the admin token', () => {
  let api: TestApp;

  beforeAll(() => ({ api } = countingApp({ PGSCOPE_ANONYMOUS_EXPLAIN_TIMEOUT_MS: '100', PGSCOPE_POOL_MAX: '2' })));
  afterAll(() => api.close());

  it("is cancelled past the anonymous budget while planning md5(repeat('x', 1e9)); other requests still succeed", async () => {
    const [slow, other] = await Promise.all([
      api.gql(`{ explain(sql: "SELECT md5(repeat('x', 1000000000))") { totalCost } }`),
      api.gql<{ slowQueries: unknown[] }>('{ slowQueries(minMeanTimeMs: 0) { queryId } }'),
    ]);
    expect(errorCodes(slow)).toEqual(['QUERY_TIMEOUT']);
    expect(slow.errors![0]!.message).toBe(
      'The statement took longer than 100 ms to plan, the limit for explain without the admin token (PGSCOPE_ANONYMOUS_EXPLAIN_TIMEOUT_MS); ' +
        'its transaction was rolled back.',
    );
    expect(errorCodes(other)).toEqual([]);
  });

  it("gives the connection back with the pool's statement_timeout", async () => {
    const explained = await api.gql('{ a: explain(sql: "SELECT 1") { estimatedRows } b: explain(sql: "SELECT 2") { estimatedRows } }');
    expect(explained.data).toEqual({ a: { estimatedRows: 1 }, b: { estimatedRows: 1 } });
    const timeouts = await Promise.all(
      [1, 2].map(() =>
        api.database.withClient((client) => client.query<{ timeout: string }>("SELECT current_setting('statement_timeout') AS timeout")),
      ),
    );
    expect(timeouts.flat().map((row) => row.timeout)).toEqual(['10s', '10s']);
  });
});
