// "api": slowQueries(limit: 20) over HTTP against the same SQL through the same pool (the
// physical limit), at concurrency 1 and 32: latency p50/p95, throughput, and their ratios. Two
// floors between them (apiFloor.ts), the rows as JSON and the same schema in graphql-js, each
// behind a bare node:http handler, split pgscope's overhead into HTTP and JSON, GraphQL, and the rest.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CapabilitiesCache } from '../src/db/capabilities.js';
import { Database } from '../src/db/pool.js';
import { slowQueries } from '../src/db/queryStats.js';
import { loadConfig } from '../src/config.js';
import { appServices, createApp } from '../src/yoga.js';
import { RequestLog } from '../src/http/requestLog.js';
import { graphqlFloor, jsonFloor } from './apiFloor.js';
import { type Headline, type LoadResult, merge, percentile, runLoad, type SectionResult, table, throughput } from './lib.js';

/** API overhead's target: pgscope's p50 over HTTP within this factor of the raw SQL's, at each concurrency. */
const TARGET_RATIO = 1.15;
/**
 * Each path runs twice BENCH_SECONDS per concurrency, split into this many rounds in which the
 * paths take turns in a rotating order. On a 2-core machine one round's ratio strays by up to 50%,
 * and the pooled one still moves by 10% or more from run to run: compare the paths of one run.
 */
const ROUNDS = 8;

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
  const listen = async (handler: http.RequestListener) => {
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql` };
  };
  const pgscope = await listen(app);
  const caps = await capabilities.get();
  const viaSql = () => slowQueries(database, caps, { minMeanTimeMs: 0, minCalls: 1, orderBy: 'TOTAL_TIME', limit: 20 });
  const json = await listen(jsonFloor(viaSql));
  const graphql = await listen(
    graphqlFloor(appServices({ config: { ...config, metrics: false }, database, capabilities, ownSchemaReady: false })),
  );
  const body = JSON.stringify({ query: OPERATION });

  // node:http with keep-alive as the client: fetch (undici) would add about 1 ms of client-side
  // work per request in this same process, which is not the server's overhead.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const post = (endpoint: string) => () =>
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
  const paths = [
    { name: 'raw SQL (same pool)', work: viaSql },
    { name: 'floor: its rows as JSON over node:http', work: post(json.endpoint) },
    { name: 'floor: graphql-js over node:http', work: post(graphql.endpoint) },
    { name: 'pgscope over HTTP', work: post(pgscope.endpoint) },
  ];

  const rows: Array<Array<string | number>> = [];
  const headline: Headline[] = [];
  const overFloor: string[] = [];
  const roundSpread: string[] = [];
  for (const concurrency of [1, 32]) {
    log(`api: concurrency ${concurrency}, ${2 * seconds} s per path in ${ROUNDS} rounds ...`);
    for (const path of paths) await runLoad(path.work, concurrency, 1);
    const phases: LoadResult[][] = paths.map(() => []);
    for (let round = 0; round < ROUNDS; round += 1) {
      for (let turn = 0; turn < paths.length; turn += 1) {
        const which = (round + turn) % paths.length;
        phases[which]!.push(await runLoad(paths[which]!.work, concurrency, (2 * seconds) / ROUNDS));
      }
    }
    const [raw, viaJson, viaGraphql, viaApi] = phases.map(merge) as [LoadResult, LoadResult, LoadResult, LoadResult];
    const p50 = (result: LoadResult) => percentile(result.latenciesMs, 50);
    const p95 = (result: LoadResult) => percentile(result.latenciesMs, 95);
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    const met = p50(viaApi) / p50(raw) <= TARGET_RATIO;
    headline.push(
      {
        name: `slowQueries(limit: 20) over HTTP / raw SQL, p50, concurrency ${concurrency}`,
        target: `<= ${TARGET_RATIO}x`,
        measured: ratio(p50(viaApi), p50(raw)),
        met,
      },
      {
        name: `floors over raw SQL, p50, concurrency ${concurrency}: JSON over HTTP; graphql-js over HTTP`,
        target: '',
        measured: `${ratio(p50(viaJson), p50(raw))}; ${ratio(p50(viaGraphql), p50(raw))}`,
        met: null,
      },
    );
    overFloor.push(`${ratio(p50(viaApi), p50(viaGraphql))} at concurrency ${concurrency}`);
    // how far one round's ratio strays: the machine's noise, in the report beside the pooled figure
    const [rawRounds, , , apiRounds] = phases as [LoadResult[], LoadResult[], LoadResult[], LoadResult[]];
    const perRound = apiRounds.map((phase, round) => p50(phase) / p50(rawRounds[round]!)).sort((a, b) => a - b);
    roundSpread.push(`${perRound[0]!.toFixed(2)}x to ${perRound.at(-1)!.toFixed(2)}x at concurrency ${concurrency}`);
    rows.push([concurrency, paths[0]!.name, p50(raw), p95(raw), throughput(raw), '', '', '', '']);
    for (const [index, result] of [viaJson, viaGraphql, viaApi].entries()) {
      rows.push([
        concurrency,
        paths[index + 1]!.name,
        p50(result),
        p95(result),
        throughput(result),
        ratio(p50(result), p50(raw)),
        ratio(p95(result), p95(raw)),
        ratio(throughput(result), throughput(raw)),
        result === viaApi ? (met ? 'met' : 'NOT MET') : '',
      ]);
    }
  }
  agent.destroy();
  pgscope.server.close();
  json.server.close();
  graphql.server.close();
  await database.end();
  const report = [
    '### api: slowQueries(limit: 20, minMeanTimeMs: 0) over HTTP vs the same SQL through the same pool',
    '',
    'pg_stat_statements holds about 1,000 statements of this database; every path returns the same 20 rows; read sharing off ' +
      '(PGSCOPE_READ_COALESCING=false: concurrent identical requests would otherwise share one statement). Ratios are against raw SQL; ' +
      `target: pgscope's p50 within ${TARGET_RATIO}x at each concurrency (baseline, 2026-11-27: 1.22x at 1, 1.30x at 32). ` +
      `Each path ran ${2 * seconds} s per concurrency in ${ROUNDS} rounds, taking turns in a rotating order; the p50s pool every round. ` +
      `pgscope / raw SQL, p50 of a single round: ${roundSpread.join(', ')}.`,
    '',
    "The floors take the same client and a bare node:http handler each: the raw SQL's rows as JSON (HTTP and JSON, no GraphQL), " +
      "and pgscope's schema and request context executed by graphql-js (no Yoga and none of pgscope's plugins: access control, " +
      `limits, request log, metrics, targets, read sharing). pgscope's p50 over the graphql-js floor's: ${overFloor.join(', ')}.`,
    '',
    table(
      ['concurrency', 'path', 'p50 ms', 'p95 ms', 'requests/s', 'p50 ratio', 'p95 ratio', 'throughput ratio', `p50 <= ${TARGET_RATIO}x`],
      rows,
    ),
  ].join('\n');
  return { report, headline };
}
