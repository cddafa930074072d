// "load": 200 dashboard clients polling slowQueries + tables over real HTTP against a real pgscope
// process (src/index.ts, default pool), on the reference workload at a small scale, with identical
// reads shared or not and with the read cache: throughput, latency percentiles, errors by code,
// peak server connections (pg_stat_activity, sampled) and the statements the server ran.
// Settings: BENCH_LOAD_CLIENTS (200), BENCH_LOAD_SECONDS per mode (30, in two halves), BENCH_LOAD_SCALE
// (0.01), BENCH_LOAD_CACHE_MS (1000).
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.js';
import { Database } from '../src/db/pool.js';
import { loadReferenceWorkload } from '../src/demo/load.js';
import { loadQueryMix, seededRandom } from '../src/demo/workload.js';
import { freshDatabase } from './advisorDb.js';
import { fillStatements as fillApplicationTables } from './api.js';
import { type Headline, percentile, type SectionResult, table } from './lib.js';

const LOAD_DB = 'bench_load';
const APPLICATION_TABLES = 200;
/** Each half starts with this long of load that is not measured (see runClients). */
const WARM_UP_SECONDS = 3;
/** What a dashboard polls: the slowest statements, and the biggest tables with their counters. */
export const DASHBOARD = /* GraphQL */ `
  query Dashboard {
    slowQueries(limit: 20, minMeanTimeMs: 0) { queryId query calls totalTimeMs meanTimeMs rows shareOfTotalTime }
    tables(first: 20, orderBy: TOTAL_SIZE) {
      edges { node { schema name sizeBytes liveTuples deadTuples seqScans indexScans statisticsStale } }
    }
  }`;

type Mode = 'off' | 'on' | 'cache';
/** Each mode measured in two halves, in this order, so that a machine growing busier or quieter favours none. */
const ORDER: Mode[] = ['off', 'on', 'cache', 'cache', 'on', 'off'];

interface Half {
  requests: number;
  answered: number;
  seconds: number;
  latenciesMs: number[];
  errors: Map<string, number>;
  peakConnections: number;
  statementsPerRequest: number;
  load: number;
}

export async function benchLoad(url: string, _seconds: number, log: (line: string) => void): Promise<SectionResult> {
  const clients = Number(process.env.BENCH_LOAD_CLIENTS ?? 200);
  const seconds = Number(process.env.BENCH_LOAD_SECONDS ?? 30);
  const scale = Number(process.env.BENCH_LOAD_SCALE ?? 0.01);
  const cacheMs = Number(process.env.BENCH_LOAD_CACHE_MS ?? 1000);
  const envOf: Record<Mode, Record<string, string>> = {
    off: { PGSCOPE_READ_COALESCING: 'false' },
    on: {},
    cache: { PGSCOPE_READ_CACHE_MS: String(cacheMs) },
  };
  log(`load: the reference workload at scale ${scale} into database ${LOAD_DB} ...`);
  const target = await freshDatabase(url, LOAD_DB);
  await loadReferenceWorkload(target.url, scale, log);
  const monitor = new Database(url, {
    applicationName: 'pgscope-bench-monitor',
    pool: loadConfig({ PGSCOPE_POOL_MIN: '0', PGSCOPE_POOL_MAX: '1' }).pool,
  });
  const halves: Record<Mode, Half[]> = { off: [], on: [], cache: [] };
  try {
    await fillStatements(target.url, scale);
    for (const mode of ORDER) {
      log(`load: ${mode}, half ${halves[mode].length + 1}: ${clients} clients for ${seconds / 2} s ...`);
      const half = await measureHalf(target.url, monitor, envOf[mode], clients, seconds / 2);
      log(
        `load: ${mode}: ${(half.answered / half.seconds).toFixed(0)} answers/s, p95 ${percentile(half.latenciesMs, 95).toFixed(0)} ms, errors ${[...half.errors].join(' ') || 'none'}, peak ${half.peakConnections} connections`,
      );
      halves[mode].push(half);
    }
  } finally {
    await monitor.end();
  }
  const { pool } = loadConfig({});
  const labels: Record<Mode, string> = {
    off: 'coalescing off (PGSCOPE_READ_COALESCING=false)',
    on: 'coalescing on (default)',
    cache: `coalescing + cache (PGSCOPE_READ_CACHE_MS=${cacheMs})`,
  };
  const rows = (Object.keys(halves) as Mode[]).map((mode) => {
    const h = halves[mode];
    const latencies = h.flatMap((half) => half.latenciesMs);
    const requests = sum(h.map((half) => half.requests));
    const errors = new Map<string, number>();
    for (const half of h) for (const [code, count] of half.errors) errors.set(code, (errors.get(code) ?? 0) + count);
    const secondsMeasured = sum(h.map((half) => half.seconds));
    return [
      labels[mode],
      requests,
      sum(h.map((half) => half.answered)) / secondsMeasured,
      percentile(latencies, 50),
      percentile(latencies, 95),
      percentile(latencies, 99),
      [...errors].map(([code, count]) => `${code} ${count}`).join(', ') || '0',
      Math.max(...h.map((half) => half.peakConnections)),
      sum(h.map((half) => half.statementsPerRequest)) / h.length,
      sum(h.map((half) => half.load)) / h.length,
    ];
  });
  // the default mode against its targets, coalescing off as the baseline
  const errorsOf = (mode: Mode) => sum(halves[mode].flatMap((half) => [...half.errors.values()]));
  const peakOf = (mode: Mode) => Math.max(...halves[mode].map((half) => half.peakConnections));
  const answersOf = (mode: Mode) => sum(halves[mode].map((half) => half.answered)) / sum(halves[mode].map((half) => half.seconds));
  const headline: Headline[] = [
    {
      name: `${clients} clients, default settings: requests answered with an error (coalescing off: ${errorsOf('off')})`,
      target: '0',
      measured: String(errorsOf('on')),
      met: errorsOf('on') === 0,
    },
    {
      name: `${clients} clients, default settings: peak connections (coalescing off: ${peakOf('off')})`,
      target: `<= ${pool.max} (the pool)`,
      measured: String(peakOf('on')),
      met: peakOf('on') <= pool.max,
    },
    {
      name: `${clients} clients, default settings: answers/s, coalescing on / off`,
      target: '',
      // a baseline that answered nothing has no ratio (it did once: every answer an error)
      measured: answersOf('off') > 0 ? `${(answersOf('on') / answersOf('off')).toFixed(1)}x` : 'n/a (coalescing off answered nothing)',
      met: null,
    },
  ];
  const report = [
    `### load: ${clients} dashboard clients polling slowQueries + tables, default pool`,
    '',
    `A real pgscope process (src/index.ts, the default pool on this machine: min ${pool.min}, max ${pool.max}, ${pool.connectionTimeoutMs} ms connection timeout) ` +
      `over HTTP on 127.0.0.1; the reference workload at scale ${scale} and its query mix, plus ${APPLICATION_TABLES} small tables with 5 statements each ` +
      `(over ${(APPLICATION_TABLES * 5).toLocaleString('en-US')} statements in pg_stat_statements). ` +
      `${clients} clients, each sending the dashboard operation (slowQueries(limit: 20) + tables(first: 20, orderBy: TOTAL_SIZE) with 8 fields per table: 3 SQL statements) again as soon as it is answered, ` +
      `${seconds} s per mode in two halves, in the order off on cache cache on off, a fresh process per half, each half after ${WARM_UP_SECONDS} s of the same load not measured (requests sent in it are not counted). ` +
      'Answers/s: requests answered without error. Errors: requests answered with that code. Peak connections: pg_stat_activity rows of application_name pgscope, sampled every 100 ms. ' +
      'Statements per request: executions in pg_stat_statements for the database / requests sent, warm-up included. Load avg: the 1-minute load average after each half, averaged.',
    '',
    table(
      ['mode', 'requests', 'answers/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'peak connections', 'statements per request', 'load avg'],
      rows,
    ),
  ].join('\n');
  return { report, headline };
}

/**
 * What a dashboard looks at in an application's database: the reference mix run a few times, and
 * 200 more tables with 5 statements each (about 1,000 statements for slowQueries to rank, 200 tables
 * for tables(orderBy: TOTAL_SIZE) to measure).
 */
async function fillStatements(url: string, scale: number): Promise<void> {
  const db = new Database(url, {
    applicationName: 'pgscope-bench-fill',
    pool: loadConfig({ PGSCOPE_POOL_MIN: '0', PGSCOPE_POOL_MAX: '2' }).pool,
  });
  const random = seededRandom(7);
  try {
    for (const script of loadQueryMix(scale)) for (let i = 0; i < 20; i += 1) await db.query(script.sql, script.draw(random));
    await fillApplicationTables(db, APPLICATION_TABLES);
  } finally {
    await db.end();
  }
}

async function measureHalf(url: string, monitor: Database, env: Record<string, string>, clients: number, seconds: number): Promise<Half> {
  const pgscope = await startPgscope(url, env);
  const sampler = sampleConnections(monitor);
  try {
    // statements per request over every request of the half, warm-up included: all of them end before the count
    const before = await executions(monitor);
    const result = await runClients(pgscope.endpoint, clients, WARM_UP_SECONDS, seconds);
    const statementsPerRequest = ((await executions(monitor)) - before) / result.sent;
    return { ...result, peakConnections: sampler.peak(), statementsPerRequest, load: os.loadavg()[0]! };
  } finally {
    await sampler.stop();
    await pgscope.stop();
  }
}

/** Executions pg_stat_statements counted in the load database (the monitor runs in another one). */
async function executions(monitor: Database): Promise<number> {
  const [row] = await monitor.query<{ calls: bigint }>(
    /* SQL */ `
    SELECT
      coalesce(sum(calls), 0)::int8 AS calls
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)`,
    [LOAD_DB],
  );
  return Number(row!.calls);
}

function sampleConnections(monitor: Database) {
  let peak = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const [row] = await monitor.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = 'pgscope'`,
      );
      peak = Math.max(peak, row!.count);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    peak: () => peak,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/**
 * `clients` loops for `warmUpSeconds` (connections opened, statements prepared, code compiled:
 * every client's first request pays for it), then `seconds` measured: only requests sent after
 * the warm-up count in the latencies, errors and throughput; `sent` counts them all.
 */
async function runClients(endpoint: string, clients: number, warmUpSeconds: number, seconds: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const body = JSON.stringify({ query: DASHBOARD });
  const latenciesMs: number[] = [];
  const errors = new Map<string, number>();
  let answered = 0;
  let lastAnswer = 0;
  let sent = 0;
  const count = (code: string) => errors.set(code, (errors.get(code) ?? 0) + 1);
  const measureFrom = performance.now() + warmUpSeconds * 1000;
  const deadline = measureFrom + seconds * 1000;
  const client = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const codes = await post(endpoint, agent, body);
      sent += 1;
      if (t0 < measureFrom) continue;
      lastAnswer = performance.now();
      latenciesMs.push(lastAnswer - t0);
      if (codes.length === 0) answered += 1;
      for (const code of new Set(codes)) count(code);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  agent.destroy();
  return { sent, requests: latenciesMs.length, answered, seconds: (lastAnswer - measureFrom) / 1000, latenciesMs, errors };
}

/** POSTs the operation; resolves with the error codes of the answer (none: a full answer). */
function post(endpoint: string, agent: http.Agent, body: string): Promise<string[]> {
  return new Promise((resolve) => {
    const request = http.request(
      endpoint,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          try {
            const result = JSON.parse(Buffer.concat(chunks).toString()) as { errors?: Array<{ extensions?: { code?: string } }> };
            resolve((result.errors ?? []).map((error) => error.extensions?.code ?? 'NO_CODE'));
          } catch {
            resolve([`HTTP ${response.statusCode}`]);
          }
        });
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => resolve([error.code ?? error.message]));
    request.end(body);
  });
}

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** `npm start` against `url` on a free port, with only `env` set besides DATABASE_URL. */
async function startPgscope(url: string, env: Record<string, string>): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', TSX, 'src/index.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: url, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pgscope did not start within 60 s:\n${output}`)), 60_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /GraphiQL:\s+http:\/\/localhost:(\d+)\/graphql/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', () => reject(new Error(`pgscope exited at start:\n${output}`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}/graphql`,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
