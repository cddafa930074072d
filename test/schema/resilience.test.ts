// The database goes away and comes back: typed errors and /ready false meanwhile, recovery
// without a restart of pgscope. Runs on a server of its own, which the test stops and starts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/embedded/server.js';
import { queryOnce } from '../../src/db/pool.js';
import { createTestApp, errorCodes, type TestApp } from '../harness/database.js';

let dir: string;
let port: number;
let server: EmbeddedServer | undefined;
let api: TestApp;

const start = async (settings: Record<string, string> = {}) => {
  server = await startEmbeddedPostgres({ dir, port, binDir: inject('pgBinDir'), throwaway: true, settings });
};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgscope-resilience-'));
  port = 0;
  await start();
  // restarts reuse the port the first start picked, so that pgscope's pool finds the server again
  port = server!.port;
  await queryOnce(server!.url(), 'CREATE EXTENSION pg_stat_statements');
  api = createTestApp(server!.url(), { env: { PGSCOPE_POOL_CONNECTION_TIMEOUT_MS: '1000' } });
});

afterAll(async () => {
  try {
    await api?.close();
    await server?.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const ready = async () => {
  const response = await api.app.fetch('http://localhost/ready');
  return { status: response.status, body: await response.json() };
};

describe('when the database goes away', () => {
  it('answers DATABASE_UNAVAILABLE and /ready false, then recovers by itself', async () => {
    expect(errorCodes(await api.gql('{ slowQueries(minMeanTimeMs: 0) { queryId } }'))).toEqual([]);
    expect(await ready()).toEqual({ status: 200, body: { ready: true, database: 'reachable', pool: 'ok' } });

    await server!.stop();
    const down = await api.gql('{ slowQueries(minMeanTimeMs: 0) { queryId } }');
    expect(errorCodes(down)).toEqual(['DATABASE_UNAVAILABLE']);
    expect(down.errors![0]!.message).toBe(
      'The database cannot be reached right now. pgscope reconnects by itself when it is back; retry later.',
    );
    expect(JSON.stringify(down)).not.toContain(String(port));
    const pool = await api.gql<{ poolStatus: { max: number } }>('{ poolStatus { max waiting } }');
    expect(pool.data!.poolStatus.max).toBe(4);
    expect(errorCodes(await api.gql('{ poolStatus { server { total } } }'))).toEqual(['DATABASE_UNAVAILABLE']);
    expect(await ready()).toEqual({ status: 503, body: { ready: false, database: 'unreachable', pool: 'ok' } });

    await start();
    expect(await ready()).toEqual({ status: 200, body: { ready: true, database: 'reachable', pool: 'ok' } });
    expect(errorCodes(await api.gql('{ slowQueries(minMeanTimeMs: 0) { queryId } }'))).toEqual([]);
  });

  it('explains how to load pg_stat_statements when a restart dropped it from shared_preload_libraries', async () => {
    await server!.stop();
    await start({ shared_preload_libraries: '' });
    // Detection is cached: the first request finds the view broken and re-detects.
    const result = await api.gql('{ slowQueries { queryId } }');
    expect(errorCodes(result)).toEqual(['EXTENSION_NOT_LOADED']);
    expect(result.errors![0]!.message).toBe(
      'pg_stat_statements is installed in "postgres" but its library is not loaded. To load it, ' +
        "add it to shared_preload_libraries in postgresql.conf (shared_preload_libraries = 'pg_stat_statements') and restart PostgreSQL.",
    );
    const caps = await api.gql<{ capabilities: { pgStatStatementsPreloaded: boolean; pgStatStatementsReadable: boolean } }>(
      '{ capabilities { pgStatStatementsPreloaded pgStatStatementsReadable } }',
    );
    expect(caps.data!.capabilities).toEqual({ pgStatStatementsPreloaded: false, pgStatStatementsReadable: false });
  });
});
