// The database hangs (its processes stopped with SIGSTOP: no answer, no closed socket): requests
// fail typed shortly after the statement timeout, /ready answers 503 instead of waiting, and
// everything works again once the processes continue. Runs on a server of its own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/embedded/server.js';
import { queryOnce } from '../../src/db/pool.js';
import { createTestApp, errorCodes, type TestApp } from '../harness/database.js';

let dir: string;
let server: EmbeddedServer;
let api: TestApp;
let stopped: number[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgscope-hang-'));
  server = await startEmbeddedPostgres({ dir, port: 0, binDir: inject('pgBinDir'), throwaway: true });
  await queryOnce(server.url(), 'CREATE EXTENSION pg_stat_statements');
  api = createTestApp(server.url(), { env: { PGSCOPE_STATEMENT_TIMEOUT_MS: '1000', PGSCOPE_POOL_CONNECTION_TIMEOUT_MS: '1000' } });
});

afterAll(async () => {
  try {
    resume();
    await api?.close();
    await server?.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** The postmaster (first line of postmaster.pid) and its children (backends, checkpointer ...). */
function serverProcesses(): number[] {
  const postmaster = Number(fs.readFileSync(path.join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        // stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after its closing parenthesis.
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
      } catch {
        return false; // exited meanwhile
      }
    })
    .map(Number);
  return [postmaster, ...children];
}

function hang(): void {
  stopped = serverProcesses();
  for (const pid of stopped) process.kill(pid, 'SIGSTOP');
}

function resume(): void {
  for (const pid of stopped.splice(0)) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // exited
    }
  }
}

/** Resolves with `promise`'s value, or rejects when it has not settled after `ms` (it would have hung). */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const ready = async () => {
  const response = await api.app.fetch('http://localhost/ready');
  return { status: response.status, body: await response.json() };
};

const SLOW_QUERIES = '{ slowQueries(minMeanTimeMs: 0) { queryId } }';

describe('when the database hangs', () => {
  it('fails requests with DATABASE_UNAVAILABLE and /ready with 503, then recovers when it continues', async () => {
    expect(errorCodes(await api.gql(SLOW_QUERIES))).toEqual([]);
    expect(await ready()).toEqual({ status: 200, body: { ready: true, database: 'reachable', pool: 'ok' } });

    hang();
    const down = await within(10_000, api.gql(SLOW_QUERIES));
    expect(errorCodes(down)).toEqual(['DATABASE_UNAVAILABLE']);
    expect(await within(10_000, ready())).toEqual({ status: 503, body: { ready: false, database: 'unreachable', pool: 'ok' } });

    resume();
    expect(await ready()).toEqual({ status: 200, body: { ready: true, database: 'reachable', pool: 'ok' } });
    expect(errorCodes(await api.gql(SLOW_QUERIES))).toEqual([]);
  });
});
