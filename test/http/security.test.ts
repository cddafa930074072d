// Who may read pgscope: Host header (DNS rebinding), CORS, content types and the read token, through
// app.fetch as a browser or a script would send the requests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { Database } from '../../src/db/pool.js';
import { httpListener } from '../../src/http/listener.js';
import { createTestApp, createTestDatabase, TEST_ADMIN_TOKEN, testConfig, type TestApp, type TestDatabase } from '../harness/database.js';

const READ_TOKEN = 'test-read-token-0123456789';
const DASHBOARD = 'https://dash.example.com';
const OPERATION = JSON.stringify({ query: '{ poolStatus { max } }' });

let target: TestDatabase;
let open: TestApp;
let withCors: TestApp;
let withReadToken: TestApp;
let readTokenDatabase: Database;

beforeAll(async () => {
  target = await createTestDatabase('security');
  open = createTestApp(target.url);
  withCors = createTestApp(target.url, { env: { PGSCOPE_CORS_ORIGINS: DASHBOARD } });
  // Its own pool, to tell whether a refused request opened a connection.
  readTokenDatabase = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool, warn: () => undefined });
  withReadToken = createTestApp(target.url, { env: { PGSCOPE_READ_TOKEN: READ_TOKEN }, database: readTokenDatabase });
});

afterAll(async () => {
  await Promise.all([open.close(), withCors.close(), withReadToken.close()]);
  await target.drop();
});

/** POSTs the operation to `url` with `headers` (JSON unless a content-type is given). */
function post(api: TestApp, headers: Record<string, string> = {}, url = 'http://localhost/graphql', body = OPERATION) {
  return api.app.fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

async function errorOf(response: Response) {
  const body = (await response.json()) as { errors: Array<{ message: string; extensions: Record<string, unknown> }> };
  return body.errors[0]!;
}

const corsHeaders = (response: Response) => [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));

describe('CORS without PGSCOPE_CORS_ORIGINS', () => {
  it.each(['https://evil.example', 'null'])('refuses a request from origin %s, with no grant', async (origin) => {
    const response = await post(open, { origin });
    expect(response.status).toBe(403);
    expect(corsHeaders(response)).toEqual([]);
    expect(await errorOf(response)).toMatchObject({ extensions: { code: 'FORBIDDEN', reason: 'ORIGIN_NOT_ALLOWED' } });
  });

  it('refuses a cross-origin GET too (it needs no preflight)', async () => {
    const response = await open.app.fetch('http://localhost/graphql?query=%7BpoolStatus%7Bmax%7D%7D', {
      headers: { origin: 'https://evil.example' },
    });
    expect(response.status).toBe(403);
    expect(corsHeaders(response)).toEqual([]);
  });

  it('answers a preflight without any grant', async () => {
    const response = await open.app.fetch('http://localhost/graphql', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(response.status).toBe(204);
    expect(corsHeaders(response)).toEqual([]);
  });

  it('serves a page of its own (GraphiQL posts with its own origin)', async () => {
    const response = await post(open, { origin: 'http://localhost:4000', host: 'localhost:4000' }, 'http://localhost:4000/graphql');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ data: { poolStatus: { max: 4 } } });
    expect(corsHeaders(response)).toEqual([]);
  });
});

describe('CORS with PGSCOPE_CORS_ORIGINS', () => {
  it('grants a listed origin, by exact match, without credentials', async () => {
    const response = await post(withCors, { origin: DASHBOARD });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
    expect(response.headers.get('vary')).toContain('Origin');
    expect(corsHeaders(response)).toEqual(['access-control-allow-origin']);
  });

  it('answers its preflight with the methods and headers pgscope needs', async () => {
    const response = await withCors.app.fetch('http://localhost/graphql', {
      method: 'OPTIONS',
      headers: {
        origin: DASHBOARD,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(response.status).toBe(204);
    expect(Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')))).toEqual({
      'access-control-allow-origin': DASHBOARD,
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-max-age': '600',
    });
  });

  it.each(['https://dash.example.com.evil.example', 'http://dash.example.com', 'null'])('refuses %s', async (origin) => {
    const response = await post(withCors, { origin });
    expect(response.status).toBe(403);
    expect(corsHeaders(response)).toEqual([]);
    expect(response.headers.get('vary')).toBe('Origin');
  });
});

describe('Host header (DNS rebinding)', () => {
  it.each(['http://evil.example/graphql', 'http://evil.example:4000/graphql', 'http://10.255.255.1/graphql'])('refuses %s', async (url) => {
    const response = await post(open, {}, url);
    expect(response.status).toBe(421);
    expect(await errorOf(response)).toEqual({
      message: 'This host name is not allowed. Add it to PGSCOPE_ALLOWED_HOSTS to serve requests for it.',
      extensions: { code: 'FORBIDDEN', reason: 'HOST_NOT_ALLOWED' },
    });
  });

  it('refuses a Host header that differs from a loopback URL', async () => {
    const response = await post(open, { host: 'evil.example' });
    expect(response.status).toBe(421);
  });

  it.each([
    'http://localhost/graphql',
    'http://127.0.0.1:4000/graphql',
    'http://[::1]:4000/graphql',
    'http://app.localhost/graphql',
  ])('accepts the loopback name in %s', async (url) => {
    const response = await post(open, {}, url);
    expect(response.status).toBe(200);
  });

  it('accepts a name from PGSCOPE_ALLOWED_HOSTS', async () => {
    const api = createTestApp(target.url, { env: { PGSCOPE_ALLOWED_HOSTS: 'pgscope.internal' } });
    try {
      expect((await post(api, {}, 'http://pgscope.internal:4000/graphql')).status).toBe(200);
      expect((await post(api, {}, 'http://other.internal:4000/graphql')).status).toBe(421);
    } finally {
      await api.close();
    }
  });

  it('accepts the bound address, and when bound to 0.0.0.0 any address of this machine', async () => {
    const bound = createTestApp(target.url, { env: { HOST: '10.1.2.3', PGSCOPE_ALLOW_ANONYMOUS_READS: 'true' } });
    const everywhere = createTestApp(target.url, { env: { HOST: '0.0.0.0', PGSCOPE_READ_TOKEN: READ_TOKEN } });
    // A non-loopback address when the machine has one (loopback names pass anyway).
    const ipv4 = Object.values(networkInterfaces())
      .flatMap((infos) => infos ?? [])
      .filter((info) => info.family === 'IPv4');
    const address = (ipv4.find((info) => !info.internal) ?? ipv4[0]!).address;
    const auth = { authorization: `Bearer ${READ_TOKEN}` };
    try {
      expect((await post(bound, {}, 'http://10.1.2.3:4000/graphql')).status).toBe(200);
      expect((await post(bound, {}, 'http://10.1.2.4:4000/graphql')).status).toBe(421);
      expect((await post(everywhere, auth, `http://${address}:4000/graphql`)).status).toBe(200);
      expect((await post(everywhere, auth, 'http://203.0.113.9:4000/graphql')).status).toBe(421);
      expect((await post(everywhere, auth, 'http://evil.example:4000/graphql')).status).toBe(421);
    } finally {
      await Promise.all([bound.close(), everywhere.close()]);
    }
  });

  it('keeps /health open to any host, and checks /ready and GraphiQL', async () => {
    expect((await open.app.fetch('http://evil.example/health')).status).toBe(200);
    expect((await open.app.fetch('http://evil.example/ready')).status).toBe(421);
    expect((await open.app.fetch('http://evil.example/graphql', { headers: { accept: 'text/html' } })).status).toBe(421);
  });

  it.each(['/graphql', '/ready', '/health'])('answers a Host that is no host name with 400 MALFORMED_HOST on %s', async (path) => {
    for (const host of MALFORMED_HOSTS) {
      const response = await open.app.fetch(`http://localhost${path}`, { headers: { host } });
      expect({ host, status: response.status, error: await errorOf(response) }).toEqual({ host, status: 400, error: MALFORMED_HOST_ERROR });
    }
  });
});

/** Hosts a broken or hostile client sends: spaces, an unclosed bracket, longer than a DNS name, a non-ASCII (Latin-1) byte. */
const MALFORMED_HOSTS = ['local host', 'a b:4000', '[::1', `${'a'.repeat(254)}:4000`, 'ex\u00e4mple.com'];
const MALFORMED_HOST_ERROR = {
  message:
    'The request names no valid host (Host header or request line): send the name (and port) it is for, e.g. "Host: localhost:4000".',
  extensions: { code: 'BAD_USER_INPUT', reason: 'MALFORMED_HOST' },
};

describe('over real HTTP', () => {
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    server = http.createServer(httpListener(open.app));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ({ port } = server.address() as AddressInfo);
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  /** A raw request: fetch() would not let a test choose the Host header. */
  function raw(path: string, headers: Record<string, string>): Promise<{ status: number; type: string | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        { host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
        (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode!, type: response.headers['content-type'], body }));
        },
      );
      request.on('error', reject);
      request.end(OPERATION);
    });
  }

  it('checks the Host header the client sent', async () => {
    expect((await raw('/graphql', { host: `127.0.0.1:${port}` })).status).toBe(200);
    expect((await raw('/graphql', { host: `localhost:${port}` })).status).toBe(200);
    expect((await raw('/graphql', { host: `evil.example:${port}` })).status).toBe(421);
  });

  // Yoga's adapter builds the URL from the Host header before any plugin: it threw, and answered
  // 500 with the stack trace (and install paths) as a plain-text body.
  it.each(['/graphql', '/ready', '/health'])('answers a Host that is no host name with 400 JSON, without a stack, on %s', async (path) => {
    for (const host of MALFORMED_HOSTS) {
      const { status, type, body } = await raw(path, { host });
      expect({ host, status, type, error: (JSON.parse(body) as { errors: unknown[] }).errors[0] }).toEqual({
        host,
        status: 400,
        type: 'application/json',
        error: MALFORMED_HOST_ERROR,
      });
    }
  });
});

describe('content types', () => {
  it.each([
    ['text/plain', OPERATION],
    ['text/plain;charset=UTF-8', OPERATION],
    ['application/x-www-form-urlencoded', 'query=%7BpoolStatus%7Bmax%7D%7D'],
    [
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{"query":"{poolStatus{max}}"}\r\n--x--\r\n',
    ],
    ['application/graphql', '{ poolStatus { max } }'],
  ])('refuses a POST of %s (a page can send it without a preflight)', async (type, body) => {
    const response = await post(open, { 'content-type': type }, undefined, body);
    expect(response.status).toBe(415);
    expect(await errorOf(response)).toEqual({
      message: 'POST bodies must be JSON: send the header "Content-Type: application/json".',
      extensions: { code: 'BAD_USER_INPUT', reason: 'UNSUPPORTED_MEDIA_TYPE' },
    });
  });

  it("answers a body that is not JSON with 400 and the parser's message kept to itself", async () => {
    const response = await post(open, { accept: 'application/graphql-response+json' }, undefined, '{"query":"{ poolStatus { max } ');
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ errors: [{ message: 'POST body sent invalid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('runs no mutation over GET', async () => {
    const response = await open.app.fetch(`http://localhost/graphql?query=${encodeURIComponent('mutation { captureQueryStats { id } }')}`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(response.status).toBe(405);
  });
});

describe('PGSCOPE_READ_TOKEN', () => {
  it.each([
    ['no token', {}, 'Reads need a token'],
    ['a wrong token', { authorization: 'Bearer wrong-token-0123456789' }, 'The token is wrong'],
    ['another scheme', { authorization: `Basic ${READ_TOKEN}` }, 'Reads need a token'],
  ])('refuses a read with %s, before any database work', async (_, headers, start) => {
    const response = await post(withReadToken, headers);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="pgscope"');
    expect(await errorOf(response)).toEqual({
      message: `${start}: send the header "Authorization: Bearer <PGSCOPE_READ_TOKEN>" (the admin token also reads).`,
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect(readTokenDatabase.counters().total).toBe(0);
  });

  it.each([
    ['the read token', READ_TOKEN],
    ['the admin token', TEST_ADMIN_TOKEN],
  ])('reads with %s', async (_, token) => {
    const result = await withReadToken.gql<{ poolStatus: { max: number } }>('{ poolStatus { max } }', {}, { token });
    expect(result).toMatchObject({ data: { poolStatus: { max: 4 } } });
    expect(result.errors).toBeUndefined();
  });

  it('keeps admin-only fields for the admin token', async () => {
    const result = await withReadToken.gql('mutation { captureQueryStats { id } }', {}, { token: READ_TOKEN });
    expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(result.errors?.[0]?.message).toContain('admin token');
  });

  it('serves the GraphiQL page without a token (the user enters the header there)', async () => {
    const response = await withReadToken.app.fetch('http://localhost/graphql', { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<title>pgscope</title>');
  });
});

describe('configuration', () => {
  it.each(['0.0.0.0', '::', '192.168.1.5', 'pgscope.example.com'])('refuses HOST=%s without a read token', (host) => {
    expect(() => loadConfig({ HOST: host })).toThrow(ConfigError);
    expect(() => loadConfig({ HOST: host })).toThrow(
      `PGSCOPE_READ_TOKEN must be set when HOST (${host}) is not a loopback address; generate one with: openssl rand -hex 24 ` +
        '(or set PGSCOPE_ALLOW_ANONYMOUS_READS=true to let anyone who reaches the port read)',
    );
  });

  it('accepts a non-loopback HOST with a read token or explicit anonymous reads, and loopback HOSTs as they are', () => {
    expect(loadConfig({ HOST: '0.0.0.0', PGSCOPE_READ_TOKEN: READ_TOKEN }).readToken).toBe(READ_TOKEN);
    expect(loadConfig({ HOST: '0.0.0.0', PGSCOPE_ALLOW_ANONYMOUS_READS: 'true' }).allowAnonymousReads).toBe(true);
    expect(['127.0.0.1', '::1', 'localhost'].map((host) => loadConfig({ HOST: host }).host)).toEqual(['127.0.0.1', '::1', 'localhost']);
  });
});
