// The README's automation recipes, run as written: each `npx pgscope` line of "Gate a deploy in CI",
// the curl + jq gate, and the command of each crontab entry, against a real pgscope served over HTTP
// on a real database. What they must show: exit 0 when all is good, 1 when a gate fails (an INVALID
// index, a recommendation above the threshold, a statement slower than its baseline), 2 when
// pgscope cannot be reached or answers with GraphQL errors.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database } from '../../src/db/pool.js';
import { freePort } from '../../src/embedded/server.js';
import { httpListener } from '../../src/http/listener.js';
import { createTestApp, createTestDatabase, TEST_ADMIN_TOKEN, testConfig, type TestApp, type TestDatabase } from '../harness/database.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const READ_TOKEN = 'test-read-token-cli-0123456789';

/** The fenced block right after the `<!-- marker ...` comment. */
function readmeBlock(marker: string): string {
  const match = new RegExp(`<!-- ${marker}[^>]*-->\\n\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(README);
  if (!match) throw new Error(`README has no block after <!-- ${marker}`);
  return match[1]!;
}

/** Its lines, continuation lines joined, without comments and blank lines. */
function lines(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

const gateCommands = lines(readmeBlock('ci gate recipe')).filter((line) => line.startsWith('npx pgscope'));
const [saveBaseline, gate] = gateCommands;
const curlGate = readmeBlock('curl gate recipe');
/** The crontab's variables (NAME=value lines), which cron puts in each command's environment. */
const cronVariables = Object.fromEntries(
  lines(readmeBlock('cron recipe'))
    .map((line) => /^([A-Z_]+)=(\S*)$/.exec(line))
    .filter((match) => match !== null)
    .map((match) => [match![1]!, match![2]!]),
);
const cronCommands = lines(readmeBlock('cron recipe'))
  .map((line) => /^(?:\S+\s+){5}(.*)$/.exec(line))
  .filter((match) => match !== null)
  .map((match) => match![1]!);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a recipe line in bash at the clone's root, as a CI step or cron would. */
function sh(command: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], {
      cwd: ROOT,
      // npm's weekly update notice would land on stderr (CI's npm never prints it)
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), npm_config_update_notifier: 'false', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let target: TestDatabase;
let app: Database;
let api: TestApp;
let server: http.Server;
let url: string;
let dir: string;
let baselineFile: string;

beforeAll(async () => {
  target = await createTestDatabase('cli_recipes');
  app = new Database(target.url, { applicationName: 'pgscope-test-app', pool: testConfig().pool });
  expect(await migrateOwnSchema(app)).toMatchObject({ ok: true });
  await target.sql(`
    CREATE TABLE items (id int PRIMARY KEY, code int NOT NULL, note text NOT NULL);
    INSERT INTO items SELECT g, g * 7 % 100003, 'note ' || g FROM generate_series(1, 100000) g;
    ANALYZE items`);
  // the statement whose mean time the baseline records: pg_sleep(0) is fast, pg_sleep(0.005) is not
  for (let i = 0; i < 20; i++) await app.query('SELECT pg_sleep($1)', [0]);
  api = createTestApp(target.url, { ownSchemaReady: true, env: { PGSCOPE_READ_TOKEN: READ_TOKEN } });
  server = http.createServer(httpListener(api.app));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgscope-cli-'));
  baselineFile = path.join(dir, 'baseline.json');
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await api?.close();
  await app?.end();
  await target?.drop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const ciEnv = () => ({ PGSCOPE_URL: url, PGSCOPE_READ_TOKEN: READ_TOKEN, BASELINE: baselineFile });
const failLines = (run: Run) => run.stdout.split('\n').filter((line) => line.startsWith('FAIL '));

describe('README: Gate a deploy in CI', () => {
  it('holds the two commands', () => {
    expect(gateCommands).toHaveLength(2);
    expect(saveBaseline).toContain('--save-baseline "$BASELINE"');
    expect(gate).toContain('--fail-on-invalid-indexes');
    expect(README).toContain('BASELINE=ci/pgscope-baseline.json');
  });

  it('saves a baseline, then passes on a healthy database (exit 0)', async () => {
    const saved = await sh(saveBaseline!, ciEnv());
    expect(saved.stderr).toBe('');
    expect(saved.code).toBe(0);
    const baseline = JSON.parse(fs.readFileSync(baselineFile, 'utf8'));
    expect(baseline).toMatchObject({ pgscopeVersion: expect.any(String), savedAt: expect.any(String) });
    expect(baseline.statements).toContainEqual(expect.objectContaining({ query: 'SELECT pg_sleep($1)', calls: 20 }));

    const passed = await sh(gate!, ciEnv());
    expect(passed.stderr).toBe('');
    expect(failLines(passed)).toEqual([]);
    expect(passed.stdout).toMatch(/^pgscope check: passed \(invalidIndexes: 0, recommendations: 0, statementsCompared: \d+\)$/m);
    expect(passed.code).toBe(0);
  });

  it('fails on an INVALID index (exit 1), naming it', async () => {
    await target.sql('CREATE TABLE dupes (v int); INSERT INTO dupes VALUES (1), (1)');
    await expect(target.sql('CREATE UNIQUE INDEX CONCURRENTLY dupes_v_unique ON dupes (v)')).rejects.toThrow(
      /could not create unique index/,
    );
    const failed = await sh(gate!, ciEnv());
    expect(failLines(failed)).toEqual([
      expect.stringMatching(/^FAIL INVALID index public\.dupes_v_unique on public\.dupes \(BUILD_FAILED\): /),
    ]);
    expect(failed.stdout).toContain('pgscope check: FAILED, 1 failure');
    expect(failed.code).toBe(1);
    await target.sql('DROP INDEX dupes_v_unique');
  });

  it('fails on a recommendation above --max-benefit (exit 1), with its saving and the threshold', async () => {
    for (let i = 0; i < 30; i++) await app.query('SELECT note FROM items WHERE code = $1', [i]);
    const failed = await sh(gate!, ciEnv());
    expect(failLines(failed)).toEqual([
      expect.stringMatching(
        /^FAIL recommended index items_code_idx on public\.items would save \d+\.\d% of its statements' estimated cost \(\d+\.\dx cheaper\), above --max-benefit 50\.0%: CREATE INDEX CONCURRENTLY/,
      ),
    ]);
    expect(failed.code).toBe(1);
    await target.sql('CREATE INDEX items_code_idx ON items (code)');
    const passed = await sh(gate!, ciEnv());
    expect(failLines(passed)).toEqual([]);
    expect(passed.code).toBe(0);
  });

  it('fails on a statement slower than its baseline (exit 1), with both mean times', async () => {
    // 20 calls of 5 ms after 20 of ~0 ms: the mean since the reset is far above 1.5x the baseline's
    for (let i = 0; i < 20; i++) await app.query('SELECT pg_sleep($1)', [0.005]);
    const failed = await sh(gate!, ciEnv());
    expect(failLines(failed)).toEqual([
      expect.stringMatching(
        /^FAIL statement -?\d+ mean time \d+\.\d\d ms is \d+\.\d\dx its baseline \d+\.\d\d ms, above --max-regression 1\.5 \(40 calls\): SELECT pg_sleep\(\$1\)$/,
      ),
    ]);
    expect(failed.code).toBe(1);

    const json = await sh(`${gate} --json`, ciEnv());
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      failures: [{ gate: 'MEAN_TIME_REGRESSION', threshold: 1.5, value: expect.any(Number) }],
    });
  });

  it('exits 2 when pgscope cannot be reached, and on GraphQL errors (a wrong token)', async () => {
    const closed = `http://127.0.0.1:${await freePort()}/graphql`;
    const unreachable = await sh(gate!, { ...ciEnv(), PGSCOPE_URL: closed });
    expect(unreachable.stderr.trim()).toBe(`pgscope: cannot reach ${closed}: ECONNREFUSED`);
    expect(unreachable.code).toBe(2);

    const refused = await sh(gate!, { ...ciEnv(), PGSCOPE_READ_TOKEN: 'wrong-token' });
    expect(refused.stderr).toMatch(/^pgscope: UNAUTHENTICATED: /);
    expect(refused.stdout).toBe('');
    expect(refused.code).toBe(2);
  });

  it('explains itself with --help (exit 0)', async () => {
    const help = await sh('npx pgscope --help', ciEnv());
    expect(help.stdout).toMatch(/^Usage: pgscope <command> \[options\]$/m);
    expect(help.stdout).toContain('Exit codes: 0 all good; 1 a gate failed');
    expect(help.code).toBe(0);
  });

  it('exits 2 on a usage error, before asking pgscope anything', async () => {
    const usage = await sh('npx pgscope check --max-benefit 50', ciEnv());
    expect(usage.stderr).toContain('pgscope: --max-benefit must be a percentage (50%) or a cost factor (4x), got "50".');
    expect(usage.code).toBe(2);
  });
});

describe('README: the curl + jq gate', () => {
  it('exits 0 on a healthy database, 1 on an INVALID index, non-zero on GraphQL errors', async () => {
    const env = { PGSCOPE_URL: url, PGSCOPE_READ_TOKEN: READ_TOKEN };
    expect((await sh(curlGate, env)).code).toBe(0);
    await target.sql('CREATE TABLE dupes2 (v int); INSERT INTO dupes2 VALUES (1), (1)');
    await expect(target.sql('CREATE UNIQUE INDEX CONCURRENTLY dupes2_v_unique ON dupes2 (v)')).rejects.toThrow();
    expect((await sh(curlGate, env)).code).toBe(1);
    await target.sql('DROP INDEX dupes2_v_unique');
    expect((await sh(curlGate, { ...env, PGSCOPE_READ_TOKEN: 'wrong-token' })).code).not.toBe(0);
  });
});

describe('README: the cron recipe', () => {
  let tokenFile: string;
  let home: string;

  /** A crontab entry's command as cron runs it: `\%` is a plain %; the clone and the token file are the test's. */
  const asCron = (command: string) => command.replaceAll('\\%', '%').replaceAll('/opt/pgscope', ROOT);

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(dir, 'home-'));
    tokenFile = path.join(home, '.pgscope-admin-token');
    fs.writeFileSync(tokenFile, TEST_ADMIN_TOKEN, { mode: 0o600 });
    await target.sql(`
      CREATE TABLE activity_logs (id bigint NOT NULL, "timestamp" timestamptz NOT NULL) PARTITION BY RANGE ("timestamp");
      CREATE TABLE activity_logs_${monthName(0)} PARTITION OF activity_logs
        FOR VALUES FROM ('${monthStart(0)}') TO ('${monthStart(1)}')`);
  });

  // the crontab's PGSCOPE_URL is where pgscope runs in production: here, the test's server
  const cronEnv = () => ({
    ...cronVariables,
    PGSCOPE_URL: url,
    HOME: home,
    npm_config_cache: path.join(process.env.HOME ?? os.tmpdir(), '.npm'),
  });

  it('holds a snapshot entry and a partitions entry', () => {
    expect(Object.keys(cronVariables)).toEqual(['PGSCOPE_URL', 'NPM_CONFIG_UPDATE_NOTIFIER']);
    expect(cronCommands).toHaveLength(2);
    expect(cronCommands[0]).toContain('npx pgscope snapshot');
    expect(cronCommands[1]).toContain('npx pgscope partitions --table public.activity_logs --ahead 3');
  });

  it('captures a snapshot (exit 0, nothing on stdout)', async () => {
    const run = await sh(asCron(cronCommands[0]!), cronEnv());
    expect(run).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await target.sql('SELECT count(*)::int AS n FROM pgscope.query_stats_snapshot')).toEqual([{ n: 1 }]);
  });

  it('keeps 3 monthly partitions ahead; run again the same day, it returns the same change', async () => {
    const run = await sh(asCron(cronCommands[1]!), cronEnv());
    expect(run).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const partitions = await target.sql<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'activity_logs'::regclass ORDER BY 1`,
    );
    expect(partitions.map((p) => p.name)).toEqual([0, 1, 2, 3].map((n) => `activity_logs_${monthName(n)}`));
    const again = await sh(asCron(cronCommands[1]!).replace('>/dev/null', '--json'), cronEnv());
    expect(again.code).toBe(0);
    const entries = await target.sql<{ id: string }>(`SELECT id::text FROM pgscope.change_log WHERE action = 'createPartitions'`);
    expect(entries).toHaveLength(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, change: { id: entries[0]!.id, status: 'SUCCEEDED' } });
  });

  it('exits 2 with the error on stderr when the token is wrong', async () => {
    fs.writeFileSync(tokenFile, 'wrong-token');
    const run = await sh(asCron(cronCommands[0]!), cronEnv());
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^pgscope: UNAUTHENTICATED: /);
    expect(run.code).toBe(2);
  });
});

/** `YYYY_MM` of the month `offset` months from now (UTC), as the partitions are named. */
function monthName(offset: number): string {
  return monthStart(offset).slice(0, 7).replace('-', '_');
}

function monthStart(offset: number): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1)).toISOString().slice(0, 10);
}
