// A change whose DDL session is lost mid-build: PostgreSQL restarts, the backend is terminated,
// the network fails. The entry leaves RUNNING at once (or as soon as the database answers again),
// and the INVALID index the build left is dropped then, through start-up recovery's safe path. On
// a server of its own (the test restarts it), as a role that owns its tables and nothing more.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { backgroundJobs } from '../../src/actions/jobs.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/embedded/server.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database, queryOnce } from '../../src/db/pool.js';
import { createTestApp, TEST_ADMIN_TOKEN, testConfig, type TestApp } from '../harness/database.js';
import { startProxy, type Proxy as TcpProxy } from '../harness/proxy.js';
import { buildInPhase, WAITING_FOR_WRITERS } from './ddlFixtures.js';
import { urlForDatabase } from '../harness/urls.js';
import { waitFor } from '../harness/waitFor.js';

const DATABASE = 'lost_session';
const ROLE = 'lost_owner';
const PASSWORD = 'lost-owner-password';
let dir: string;
let port = 0;
let server: EmbeddedServer | undefined;
let api: TestApp;
let warnings: string[] = [];

const start = async () => {
  server = await startEmbeddedPostgres({ dir, port, binDir: inject('pgBinDir'), throwaway: true });
  port = server.port;
};
/** The database as pgscope's role (not a superuser), directly or through `proxyPort`. */
const ownerUrl = (proxyPort = port) => {
  const url = new URL(urlForDatabase(server!.url(), DATABASE));
  url.username = ROLE;
  url.password = PASSWORD;
  url.port = String(proxyPort);
  return url.toString();
};
const sql = <Row = Record<string, unknown>>(text: string, params: unknown[] = []) =>
  queryOnce<Row>(urlForDatabase(server!.url(), DATABASE), text, params);
const newApp = (url: string) =>
  createTestApp(url, { ownSchemaReady: true, env: { PGSCOPE_DDL_LOCK_TIMEOUT_MS: '30000', PGSCOPE_POOL_CONNECTION_TIMEOUT_MS: '1000' } });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgscope-lost-session-'));
  await start();
  await queryOnce(server!.url(), `CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  await queryOnce(server!.url(), `CREATE DATABASE ${DATABASE} OWNER ${ROLE}`);
  await queryOnce(
    ownerUrl(),
    `
    CREATE TABLE items (id int PRIMARY KEY, email text NOT NULL, note text NOT NULL, code text NOT NULL);
    INSERT INTO items SELECT g, 'item' || g || '@example.com', 'note ' || g, 'c' || g FROM generate_series(1, 20000) g;
    ANALYZE items`,
  );
  const owner = new Database(ownerUrl(), { applicationName: 'pgscope-test', pool: testConfig().pool });
  expect(await migrateOwnSchema(owner)).toMatchObject({ ok: true });
  await owner.end();
  api = newApp(ownerUrl());
});

beforeEach(() => {
  warnings = [];
  vi.spyOn(console, 'warn').mockImplementation((line: string) => void warnings.push(line));
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  try {
    await api?.close();
    await server?.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const APPLY = `mutation($column: String!, $wait: Boolean) {
  applyIndex(input: { table: "items", columns: [{ column: $column }], dryRun: false, wait: $wait }) { change { id status sessionPid } }
}`;
const ENTRY = `query($id: ID!) { changeLogEntry(id: $id) { status errorCode errorMessage outcome } }`;

interface Entry {
  status: string;
  errorCode: string | null;
  errorMessage: string | null;
  outcome: { recovery?: unknown[] } | null;
}

const admin = { token: TEST_ADMIN_TOKEN };
const entry = async (app: TestApp, id: string) => (await app.gql<{ changeLogEntry: Entry }>(ENTRY, { id }, admin)).data?.changeLogEntry;
const indexes = () =>
  sql<{ name: string; valid: boolean }>(
    `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'items'::regclass ORDER BY 1`,
  );
/** Once the build, held by the open writer, has committed its INVALID index. */
const building = async (pid: number) => expect(await buildInPhase({ sql }, 'items', WAITING_FOR_WRITERS)).toBe(pid);
const backendGone = (pid: number) =>
  waitFor(`backend ${pid} to end`, async () => (await sql('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).length === 0);
const said = (text: string) => waitFor(`the warning "${text}"`, () => warnings.some((line) => line.includes(text)));

/** An open transaction that wrote to items: a concurrent build waits for it ("waiting for writers before build"). */
async function openWriter(id: number) {
  // a session of its own (not a pooled client): it survives the server's restart without an unhandled error
  const database = new Database(urlForDatabase(server!.url(), DATABASE), {
    applicationName: 'pgscope-test-writer',
    pool: testConfig().pool,
  });
  const writer = await database.openSession({ applicationName: 'pgscope-test-writer', lockTimeoutMs: 1_000 });
  await writer.query('BEGIN');
  await writer.query(`INSERT INTO public.items VALUES ($1, 'writer@example.com', 'writer', 'w')`, [id]);
  return {
    async commit() {
      // a server restart ended it already
      await writer.query('COMMIT').catch(() => undefined);
      await writer.close();
      await database.end();
    },
  };
}

const RECOVERED = (name: string) => ({
  recovery: [{ kind: 'index', schema: 'public', name, outcome: 'DROPPED', sql: `DROP INDEX CONCURRENTLY IF EXISTS "public"."${name}"` }],
});

describe('a build whose database session is lost', () => {
  it('PostgreSQL restarts: the entry leaves RUNNING once the server is back, and no INVALID index remains', async () => {
    const writer = await openWriter(-1);
    const result = await api.gql<{ applyIndex: { change: { id: string; status: string; sessionPid: number } } }>(
      APPLY,
      { column: 'email', wait: false },
      admin,
    );
    const { id, status, sessionPid } = result.data!.applyIndex.change;
    expect(status).toBe('RUNNING');
    await building(sessionPid);

    await server!.stop();
    await writer.commit();
    // noticed while the server is down: the entry cannot be written yet
    await said(`change ${id} (applyIndex) lost its database session`);
    await start();

    const closed = await waitFor(`change ${id} to leave RUNNING with its recovery`, async () => {
      const now = await entry(api, id);
      return now?.status !== 'RUNNING' && now?.outcome?.recovery ? now : undefined;
    });
    expect(closed).toMatchObject({ status: 'FAILED', errorCode: 'DATABASE_UNAVAILABLE', outcome: RECOVERED('items_email_idx') });
    expect(closed.errorMessage).toContain("The change's database session was lost while it ran");
    expect(closed.errorMessage).toContain(
      'After the session was lost, pgscope checked what the change had created: public.items_email_idx: dropped.',
    );
    await backgroundJobs.settled(id);
    expect(await indexes()).toEqual([{ name: 'items_pkey', valid: true }]);
    expect(warnings).toContain(
      `pgscope: change ${id} (applyIndex) after its lost session: dropped the INVALID index it left: public.items_email_idx.`,
    );
  });

  it('the backend is terminated: the waiting client hears DATABASE_UNAVAILABLE at once, and the leftover is dropped', async () => {
    const writer = await openWriter(-2);
    const request = api.gql<{ applyIndex: unknown }>(APPLY, { column: 'note', wait: true }, admin);
    const pid = await buildInPhase({ sql }, 'items', WAITING_FOR_WRITERS);

    await sql('SELECT pg_terminate_backend($1)', [pid]);
    const response = await request;
    expect(response.errors?.map((error) => error.extensions?.code)).toEqual(['DATABASE_UNAVAILABLE']);
    const id = response.errors![0]!.extensions!.changeId as string;
    expect(await entry(api, id)).toMatchObject({ status: 'FAILED', errorCode: 'DATABASE_UNAVAILABLE' });

    // the drop waits for the open transaction like any DROP INDEX CONCURRENTLY
    await writer.commit();
    await backgroundJobs.settled(id);
    expect((await entry(api, id))!.outcome).toEqual(RECOVERED('items_note_idx'));
    expect(await indexes()).toEqual([{ name: 'items_pkey', valid: true }]);
  });

  it('the network fails while the server goes on: the orphaned build is ended, not left to finish unowned, and its index dropped', async () => {
    const proxy: TcpProxy = await startProxy(port);
    const remote = newApp(ownerUrl(proxy.port));
    try {
      const writer = await openWriter(-3);
      const result = await remote.gql<{ applyIndex: { change: { id: string; sessionPid: number } } }>(
        APPLY,
        { column: 'code', wait: false },
        admin,
      );
      const { id, sessionPid } = result.data!.applyIndex.change;
      await building(sessionPid);

      proxy.cut();
      await waitFor(`change ${id} to fail`, async () => (await entry(remote, id))?.status === 'FAILED');
      // the server still runs the build (its side of the connection is open): pgscope ends it
      await backendGone(sessionPid);
      await writer.commit();
      await backgroundJobs.settled(id);
      expect(await entry(remote, id)).toMatchObject({
        status: 'FAILED',
        errorCode: 'DATABASE_UNAVAILABLE',
        outcome: RECOVERED('items_code_idx'),
      });
      expect(await indexes()).toEqual([{ name: 'items_pkey', valid: true }]);
    } finally {
      await remote.close();
      await proxy.close();
    }
  });
});
