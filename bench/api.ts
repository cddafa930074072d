// "api": slowQueries(limit: 20) over HTTP against the same SQL through the same pool (the
// physical limit), at concurrency 1 and 32: latency p50/p95, throughput, and their ratios.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CapabilitiesCache } from '../src/db/capabilities.js';
import { Database } from '../src/db/pool.js';
import { slowQueries } from '../src/db/queryStats.js';
import { loadConfig } from '../src/config.js';
import { createApp } from '../src/yoga.js';
import { RequestLog } from '../src/http/requestLog.js';
import { type Headline, merge, percentile, runLoad, type SectionResult, table, throughput } from './lib.js';

/** API overhead's target: pgscope's p50 over HTTP within this factor of the raw SQL's, at each concurrency. */
const TARGET_RATIO = 1.15;

const OPERATION = /* GraphQL */ `
  query Slow {
    slowQueries(limit: 20, minMeanTimeMs: 0) {
      queryId query calls totalTimeMs meanTimeMs minTimeMs maxTimeMs stddevTimeMs rows
      sharedBlocksHit sharedBlocksRead cacheHitRatio tempBlocksRead tempBlocksWritten
      planningTimeMs shareOfTotalTime toplevel
    }
  }`;

/** Fills pg_stat_statements with 5 statements per table, as a busy application would. */
export async function fillStatements(db: Database, tables: number): Promise<void> {
  for (let i = 0; i < tables; i += 1) {
    await db.query(`CREATE TABLE IF NOT EXISTS bench_fill_${i} (id int PRIMARY KEY, a int, b text)`);
  }
  const shapes: Array<(i: number) => [string, unknown[]]> = [
    (i) => [`SELECT * FROM bench_fill_${i} WHERE id = $1`, [1]],
    (i) => [`SELECT count(*) FROM bench_fill_${i} WHERE a > $1`, [5]],
    (i) => [`SELECT b FROM bench_fill_${i} WHERE a BETWEEN $1 AND $2 ORDER BY id LIMIT 10`, [1, 9]],
    (i) => [`UPDATE bench_fill_${i} SET b = $1 WHERE id = $2`, ['x', 1]],
    (i) => [`INSERT INTO bench_fill_${i} (id, a, b) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, [1, 2, 'y']],
  ];
  for (let i = 0; i < tables; i += 1) {
    for (const shape of shapes) await db.query(...shape(i));
  }
}

export async function benchApi(url: string, seconds: number, log: (line: string) => void): Promise<SectionResult> {
  // Identical reads in flight are shared by default: at concurrency 32 the API would then run fewer
  // statements than the raw path. Off here, so that the ratio is the API's overhead alone.
  const config = loadConfig({ PGSCOPE_POOL_MIN: '0', PGSCOPE_POOL_MAX: '10', PGSCOPE_READ_COALESCING: 'false' });
  const database = new Database(url, { applicationName: 'pgscope-bench', pool: config.pool });
  const capabilities = new CapabilitiesCache(database);
  log('api: filling pg_stat_statements with 1,000 distinct statements ...');
  await fillStatements(database, 200);
  const app = createApp(
    { config, database, capabilities, ownSchemaReady: false },
    { logging: false, requestLog: new RequestLog(config.log, { write: () => undefined }) },
  );
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  const body = JSON.stringify({ query: OPERATION });
  const caps = await capabilities.get();

  // node:http with keep-alive as the client: fetch (undici) would add about 1 ms of client-side
  // work per request in this same process, which is not the server's overhead.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const viaHttp = () =>
    new Promise<void>((resolve, reject) => {
      const request = http.request(
        endpoint,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const result = JSON.parse(Buffer.concat(chunks).toString()) as { errors?: unknown[] };
            if (result.errors) reject(new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`));
            else resolve();
          });
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  const viaSql = () => slowQueries(database, caps, { minMeanTimeMs: 0, minCalls: 1, orderBy: 'TOTAL_TIME', limit: 20 });

  const rows: Array<Array<string | number>> = [];
  const headline: Headline[] = [];
  for (const concurrency of [1, 32]) {
    log(`api: concurrency ${concurrency}, ${seconds} s per path in alternating halves ...`);
    await runLoad(viaSql, concurrency, 1);
    await runLoad(viaHttp, concurrency, 1);
    const sql = [];
    const api = [];
    for (let round = 0; round < 2; round += 1) {
      sql.push(await runLoad(viaSql, concurrency, seconds / 2));
      api.push(await runLoad(viaHttp, concurrency, seconds / 2));
    }
    const raw = merge(sql);
    const viaApi = merge(api);
    const p50 = [percentile(raw.latenciesMs, 50), percentile(viaApi.latenciesMs, 50)];
    const p95 = [percentile(raw.latenciesMs, 95), percentile(viaApi.latenciesMs, 95)];
    const ratio = p50[1]! / p50[0]!;
    const met = ratio <= TARGET_RATIO;
    headline.push({
      name: `slowQueries(limit: 20) over HTTP / raw SQL, p50, concurrency ${concurrency}`,
      target: `<= ${TARGET_RATIO}x`,
      measured: `${ratio.toFixed(2)}x`,
      met,
    });
    rows.push(
      [concurrency, 'raw SQL (same pool)', p50[0]!, p95[0]!, throughput(raw), '', '', '', ''],
      [
        concurrency,
        'slowQueries over HTTP',
        p50[1]!,
        p95[1]!,
        throughput(viaApi),
        `${(p50[1]! / p50[0]!).toFixed(2)}x`,
        `${(p95[1]! / p95[0]!).toFixed(2)}x`,
        `${(throughput(viaApi) / throughput(raw)).toFixed(2)}x`,
        met ? 'met' : 'NOT MET',
      ],
    );
  }
  agent.destroy();
  server.close();
  await database.end();
  const report = [
    '### api: slowQueries(limit: 20, minMeanTimeMs: 0) over HTTP vs the same SQL through the same pool',
    '',
    'pg_stat_statements holds about 1,000 statements of this database; both paths return the same 20 rows; read sharing off ' +
      '(PGSCOPE_READ_COALESCING=false: concurrent identical requests would otherwise share one statement). Ratios are HTTP / raw SQL; ' +
      `target: p50 within ${TARGET_RATIO}x at each concurrency (baseline, 2026-11-27: 1.22x at 1, 1.30x at 32).`,
    '',
    table(
      ['concurrency', 'path', 'p50 ms', 'p95 ms', 'requests/s', 'p50 ratio', 'p95 ratio', 'throughput ratio', `p50 <= ${TARGET_RATIO}x`],
      rows,
    ),
  ].join('\n');
  return { report, headline };
}
