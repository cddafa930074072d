// `npm start` as a user runs it: clear one-line failures, a clean start on DATABASE_URL, the
// embedded demo (first start, warm start, recovery after a crash) and a clean Ctrl-C.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryOnce } from '../src/db/pool.js';
import { freePort } from '../src/embedded/server.js';
import { createTestDatabase, type TestDatabase } from './harness/database.js';
import { createRole } from './harness/roles.js';
import { startServerProcess } from './harness/process.js';
import { waitFor } from './harness/waitFor.js';

let target: TestDatabase;

beforeAll(async () => {
  target = await createTestDatabase('startup');
});

afterAll(async () => {
  await target.drop();
});

/** The HTTP port from the start banner (tests start with PORT=0, so no port is chosen ahead and lost to a race). */
function bannerPort(output: string): number {
  const match = /GraphiQL: +http:\/\/localhost:(\d+)\/graphql/.exec(output);
  if (!match) throw new Error(`No GraphiQL URL in:\n${output}`);
  return Number(match[1]);
}

async function graphql(port: number, query: string) {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
}

const UNREACHABLE = 'postgresql://app@127.0.0.1:1/shop';

describe('start-up failures: one clear line and a non-zero exit', () => {
  it.each([
    [{ PORT: 'abc' }, 'pgscope: PORT must be a whole number, got "abc"'],
    [{ PGSCOPE_STATEMENT_TIMEOUT_MS: '99999999999' }, 'pgscope: PGSCOPE_STATEMENT_TIMEOUT_MS must be at most 3600000, got 99999999999'],
    [{ DATABASE_URL: 'mysql://app@db/shop' }, 'pgscope: DATABASE_URL must start with postgresql:// (got mysql://...)'],
    [
      { DATABASE_URL: 'postgresql://app:secret@127.0.0.1:1/shop' },
      'pgscope: cannot connect to postgresql://app:***@127.0.0.1:1/shop: connect ECONNREFUSED 127.0.0.1:1',
    ],
    [
      { DATABASE_URL: 'postgresql://app@127.0.0.1:1/shop?password=secret&sslpassword=keysecret&sslmode=disable' },
      'pgscope: cannot connect to postgresql://app@127.0.0.1:1/shop?password=***&sslpassword=***&sslmode=disable: connect ECONNREFUSED 127.0.0.1:1',
    ],
    // With a DATABASE_URL: a start that accepted the token must not go on to the embedded demo.
    [
      { DATABASE_URL: UNREACHABLE, PGSCOPE_ADMIN_TOKEN: '   ' },
      'pgscope: PGSCOPE_ADMIN_TOKEN is set but blank; set a token (generate one with: openssl rand -hex 24) or leave it unset',
    ],
    [
      { DATABASE_URL: UNREACHABLE, PGSCOPE_ADMIN_TOKEN: 'same-token-0123456789', PGSCOPE_READ_TOKEN: 'same-token-0123456789' },
      'pgscope: PGSCOPE_ADMIN_TOKEN must differ from PGSCOPE_READ_TOKEN: with the same value, every reader could run mutations',
    ],
  ])('%o', async (env, line) => {
    const server = startServerProcess(env);
    const { code } = await server.exited;
    expect(code).toBe(1);
    expect(server.output().trim()).toBe(line);
  });

  it('names the PORT that is taken', async () => {
    const port = await freePort();
    const blocker = (await import('node:net')).createServer().listen(port, '127.0.0.1');
    const server = startServerProcess({ DATABASE_URL: target.url, PORT: String(port) });
    const { code } = await server.exited;
    blocker.close();
    expect(code).toBe(1);
    expect(server.output().trim()).toBe(`pgscope: PORT ${port} is already in use on 127.0.0.1; set PORT to a free port.`);
  });
});

describe('with DATABASE_URL', () => {
  it('serves the target, never prints its password, and stops cleanly on SIGTERM', async () => {
    const server = startServerProcess({ DATABASE_URL: target.url, PORT: '0' });
    const output = await server.waitFor('Press Ctrl-C to stop.');
    const port = bannerPort(output);
    expect(output).toContain('Mutations:     disabled (set PGSCOPE_ADMIN_TOKEN to enable them)');
    expect(output).not.toContain(new URL(target.url).password);
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    expect(ready.status).toBe(200);
    const result = await graphql(port, '{ capabilities { database } }');
    expect(result.data).toEqual({ capabilities: { database: target.name } });
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('pgscope: stopped.');
  });
});

describe('with an admin token of the operator and the password in the query string', () => {
  it('prints neither, and answers a malformed Host with 400 JSON', async () => {
    const url = new URL(target.url);
    const password = decodeURIComponent(url.password);
    url.password = '';
    url.searchParams.set('password', password);
    const adminToken = 'operator-token-0123456789';
    const server = startServerProcess({ DATABASE_URL: url.toString(), PORT: '0', PGSCOPE_ADMIN_TOKEN: adminToken });
    try {
      const output = await server.waitFor('Press Ctrl-C to stop.');
      expect(output).toContain('  Admin token:   set (PGSCOPE_ADMIN_TOKEN)   (mutations: header "Authorization: Bearer <token>")');
      expect(output).toContain(`  Database:      postgresql://${url.username}@${url.host}/${target.name}?password=***`);
      expect(output).not.toContain(adminToken);
      expect(output).not.toContain(password);
      const response = await rawGet(bannerPort(output), '/health', 'local host');
      expect(response).toEqual({
        status: 400,
        body: {
          errors: [
            {
              message:
                'The request names no valid host (Host header or request line): send the name (and port) it is for, e.g. "Host: localhost:4000".',
              extensions: { code: 'BAD_USER_INPUT', reason: 'MALFORMED_HOST' },
            },
          ],
        },
      });
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});

/** A GET with a Host header of the test's choosing (fetch() sets its own). */
function rawGet(port: number, path: string, host: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, headers: { host } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(body) as unknown }));
    });
    request.on('error', reject);
  });
}

describe('stopping with a request in flight', () => {
  it('lets the request finish, closes its keep-alive connection, and exits 0 on SIGTERM', async () => {
    const token = 'y'.repeat(24);
    const server = startServerProcess({ DATABASE_URL: target.url, PORT: '0', PGSCOPE_ADMIN_TOKEN: token });
    const port = bannerPort(await server.waitFor('Press Ctrl-C to stop.'));
    const response = fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      // A second or so of work that explain(analyze) accepts (pg_sleep is volatile: refused).
      body: JSON.stringify({
        query: '{ explain(sql: "SELECT count(*) AS shutdown_probe FROM generate_series(1, 10000000)", analyze: true) { analyzed } }',
      }),
    });
    // SIGTERM once the statement runs on the server: the request is then surely in flight.
    await waitFor(
      'the explained statement to run',
      async () =>
        (
          await target.sql(
            `SELECT 1 FROM pg_stat_activity WHERE query LIKE '%shutdown_probe%' AND query NOT LIKE '%pg_stat_activity%' AND state = 'active'`,
          )
        ).length > 0,
    );
    server.child.kill('SIGTERM');
    expect(await (await response).json()).toEqual({
      data: { explain: { analyzed: true } },
      extensions: { sqlStatements: expect.any(Number) },
    });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('pgscope: stopped.');
    expect(server.output()).not.toContain('were cut off');
  });
});

describe('with mutations enabled on a role that may not create the pgscope schema', () => {
  it('warns once, serves every read, and reports the change log as degraded', async () => {
    const monitor = await createRole('start_monitor', ['pg_monitor']);
    const server = startServerProcess({ DATABASE_URL: monitor.url(target.name), PORT: '0', PGSCOPE_ADMIN_TOKEN: 'x'.repeat(24) });
    try {
      const output = await server.waitFor('Press Ctrl-C to stop.');
      const port = bannerPort(output);
      expect(output).toMatch(
        /pgscope: warning: could not create or migrate the pgscope schema \(.*permission denied.*\)\. Reads work; the change log is unavailable\./,
      );
      const result = await graphql(port, '{ slowQueries(minMeanTimeMs: 0) { queryId } capabilities { degraded { feature } } }');
      expect(result.errors).toBeUndefined();
      const features = (result.data!.capabilities as { degraded: Array<{ feature: string }> }).degraded.map((d) => d.feature);
      expect(features).toEqual(expect.arrayContaining(['changeLog', 'history']));
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await monitor.drop();
    }
  });
});

describe('the embedded demo database', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgscope-demo-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const demoEnv = () => ({
    PORT: '0',
    PGSCOPE_EMBEDDED_DIR: dir,
    PGSCOPE_EMBEDDED_PORT: '0',
    PGSCOPE_DEMO_SCALE: '0.01',
    PGSCOPE_DEMO_WORKLOAD_RATE: '20',
  });
  const postmasterPid = () => path.join(dir, 'pg18', 'postmaster.pid');

  it('creates, loads and serves the demo, with the workload filling pg_stat_statements', async () => {
    const server = startServerProcess(demoEnv());
    const output = await server.waitFor('Press Ctrl-C to stop.', 120_000);
    const port = bannerPort(output);
    expect(output).toContain('Creating a PostgreSQL 18 data directory');
    expect(output).toMatch(/Demo data loaded in \d+\.\d s\./);
    expect(output).toMatch(/Admin token: {3}demo-[0-9a-f]{24}/);
    // the banner's URL is pgscope's own least-privilege role, not the superuser
    const demoUrl = /Demo database: (postgresql:\/\/\S+)/.exec(output)![1]!;
    expect(
      await queryOnce(demoUrl, 'SELECT current_user AS name, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user'),
    ).toEqual([{ name: 'pgscope', superuser: false }]);
    const mixStatements = await waitFor('the 7 statements of the workload in slowQueries', async () => {
      const result = await graphql(port, '{ slowQueries(minMeanTimeMs: 0, limit: 100) { query calls } }');
      const count = ((result.data?.slowQueries ?? []) as Array<{ query: string }>).filter((row) =>
        /FROM (users|activity_logs|workflow_templates|audit_trails)/.test(row.query),
      ).length;
      return count >= 7 ? count : undefined;
    });
    expect(mixStatements).toBe(7);
    server.child.kill('SIGINT');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(postmasterPid())).toBe(false);
  });

  it('reuses the data on a second start', async () => {
    const server = startServerProcess(demoEnv());
    const output = await server.waitFor('Press Ctrl-C to stop.');
    expect(output).not.toContain('Creating a PostgreSQL');
    expect(output).not.toContain('Loading demo data');
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  it('recovers when an earlier pgscope was killed and left PostgreSQL running', async () => {
    const first = startServerProcess(demoEnv());
    await first.waitFor('Press Ctrl-C to stop.');
    first.child.kill('SIGKILL');
    await first.exited;
    const orphan = Number(fs.readFileSync(postmasterPid(), 'utf8').split('\n')[0]);
    expect(() => process.kill(orphan, 0)).not.toThrow();

    const second = startServerProcess(demoEnv());
    const output = await second.waitFor('Press Ctrl-C to stop.');
    expect(output).toContain(`Stopping a PostgreSQL server (pid ${orphan}) left running`);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    expect(fs.existsSync(postmasterPid())).toBe(false);
  });

  it('recreates a half-initialized data directory', async () => {
    fs.rmSync(path.join(dir, 'pg18'), { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, 'pg18', 'base'), { recursive: true });
    const server = startServerProcess(demoEnv());
    const output = await server.waitFor('Press Ctrl-C to stop.', 120_000);
    expect(output).toContain('Found a half-initialized data directory');
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });
});
