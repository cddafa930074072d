// "advisor": each workload (the reference one of src/demo, the shop and the multi-tenant SaaS of
// bench/workloads) under its query mix, in one run, with (a) primary keys only, (b) pgscope's
// recommendations applied through the GraphQL API, (c) the workload's hand-picked set (the guide's
// for the reference one, a DBA's for the others); each from two starting states: the table and
// statement counters reset after the load, or kept (a database just restored or loaded: the load's
// writes in the table counters, its statements in pg_stat_statements). Then how long
// indexRecommendations takes on a synthetic workload of 500 statements over 50 tables.
// Settings (env): BENCH_ADVISOR_WORKLOADS (reference,shop,saas), BENCH_ADVISOR_STATES (reset,kept),
// BENCH_ADVISOR_SECONDS (20) per configuration, BENCH_ADVISOR_CLIENTS (4, as the seed workload's
// pgbench run, -c 4: the guide's headline P95 was measured so; 8 clients on 2 cores mostly measure
// queueing behind the slowest statements of (a)), BENCH_ADVISOR_SCALE (1),
// BENCH_ADVISOR_SYNTHETIC_ROWS (20000 per table; 0 skips the synthetic timing); BENCH_ADVISOR_QUICK=1
// for development (3 s, scale 0.1, 2,000 rows per table). With BENCH_DATABASE_URL the role must be
// allowed to create databases: the section loads bench_advisor_<workload> (again for each state)
// and bench_advisor_synthetic, and drops them after.
import os from 'node:os';
import { queryOnce, type Queryable } from '../src/db/pool.js';
import { startAdvisorClient, type AdvisorClient } from './advisorApi.js';
import { ConfigurationB, timeRecommendations } from './advisorB.js';
import {
  applyIndexFile,
  dropDatabase,
  freshDatabase,
  nonConstraintIndexBytes,
  resetStatements,
  resetToPrimaryKeys,
  statementCounts,
} from './advisorDb.js';
import {
  advisorReport,
  STATES,
  type AdvisorSettings,
  type Configuration,
  type RecommendTiming,
  type StartingState,
  type WorkloadRun,
} from './advisorReport.js';
import { mixDatabase, runMix, summarize, type MixResult } from './mix.js';
import { createSyntheticTables, runSyntheticStatements } from './synthetic.js';
import { reference } from './workloads/reference.js';
import { saas } from './workloads/saas.js';
import { shop } from './workloads/shop.js';
import type { AdvisorWorkload } from './workloads/workload.js';

const WORKLOADS: AdvisorWorkload[] = [reference, shop, saas];
const SYNTHETIC_DB = 'bench_advisor_synthetic';

export function advisorSettings(env: Record<string, string | undefined> = process.env): AdvisorSettings {
  const quick = env.BENCH_ADVISOR_QUICK === '1';
  const number = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
  return {
    quick,
    workloads: listSetting(
      env,
      'BENCH_ADVISOR_WORKLOADS',
      WORKLOADS.map((w) => w.name),
    ),
    states: listSetting(env, 'BENCH_ADVISOR_STATES', [...STATES]) as StartingState[],
    seconds: number('BENCH_ADVISOR_SECONDS', quick ? 3 : 20),
    clients: number('BENCH_ADVISOR_CLIENTS', 4),
    scale: number('BENCH_ADVISOR_SCALE', quick ? 0.1 : 1),
    syntheticRows: number('BENCH_ADVISOR_SYNTHETIC_ROWS', quick ? 2_000 : 20_000),
  };
}

/** A comma-separated choice among `allowed` (all of them when unset), in the order given. */
function listSetting(env: Record<string, string | undefined>, name: string, allowed: string[]): string[] {
  const chosen = (env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const unknown = chosen.filter((item) => !allowed.includes(item));
  if (unknown.length > 0) throw new Error(`${name}: unknown ${unknown.join(', ')}; choose among ${allowed.join(', ')}`);
  return chosen.length > 0 ? [...new Set(chosen)] : allowed;
}

/** DDL and catalog reads on their own connection each, without the pool's statement timeout. */
const adminOn = (url: string): Queryable => ({ query: (sql, params) => queryOnce(url, sql, params ?? [], 3_600_000) });

type Key = Configuration['key'];
/**
 * Each configuration is measured in two halves, in the order a b c c b a: a machine that gets
 * busier or quieter during the run (2 cores shared with other work) then biases no configuration.
 * Every half builds its indexes afresh, so that (b) and (c) are treated alike.
 */
const ORDER: Key[] = ['a', 'b', 'c', 'c', 'b', 'a'];

export async function benchAdvisor(url: string, _seconds: number, log: (line: string) => void): Promise<string> {
  const settings = advisorSettings();
  const runs: WorkloadRun[] = [];
  let hypopg: string | null = null;
  for (const name of settings.workloads) {
    const workload = WORKLOADS.find((w) => w.name === name)!;
    for (const state of settings.states) {
      const run = await measureWorkload(url, workload, state, settings, log);
      hypopg = run.hypopg;
      runs.push(run);
    }
  }
  const synthetic = settings.syntheticRows > 0 ? [await timeSynthetic(url, settings, log)] : [];
  return advisorReport({ settings, hypopg, runs, timings: [...runs.map((run) => run.timing), ...synthetic] });
}

/**
 * One workload from one starting state: loaded afresh, then (a), (b) and (c) in halves. (a) runs
 * first, so that pg_stat_statements holds the mix when (b) asks for recommendations.
 */
async function measureWorkload(
  url: string,
  workload: AdvisorWorkload,
  state: StartingState,
  settings: AdvisorSettings,
  log: (line: string) => void,
): Promise<WorkloadRun> {
  const title = `${workload.name}, ${STATE_TITLES[state]}`;
  const say = (line: string) => log(`advisor: ${workload.name} (${state}): ${line}`);
  const dbName = `bench_advisor_${workload.name}`;
  say(`loading at scale ${settings.scale} into database ${dbName} ...`);
  const target = await freshDatabase(url, dbName);
  await workload.load(target.url, settings.scale, log);
  const admin = adminOn(target.url);
  // "reset": steady state, the load's rows are not the write rate the indexes will pay for (see
  // select.ts); "kept": a database as restored or just loaded, its counters as the load left them.
  if (state === 'reset') await queryOnce(target.url, 'SELECT pg_stat_reset()');
  const db = mixDatabase(target.url, settings.clients);
  const scripts = workload.mix(settings.scale);
  const labels: Record<Key, string> = {
    a: '(a) primary keys only',
    b: "(b) pgscope's recommendations",
    c: workload.handPicked.label,
  };
  const halfSeconds = settings.seconds / 2;

  const halves: Record<Key, MixResult[]> = { a: [], b: [], c: [] };
  const loads: Record<Key, number[]> = { a: [], b: [], c: [] };
  const measureHalf = async (key: Key) => {
    const half = halves[key].length + 1;
    say(`${labels[key]}, half ${half}: warm-up, then ${halfSeconds} s with ${settings.clients} clients ...`);
    await runMix(db, scripts, { clients: settings.clients, seconds: Math.min(3, halfSeconds), seed: 9_000 });
    const result = await runMix(db, scripts, { clients: settings.clients, seconds: halfSeconds, seed: 1_000 * half });
    loads[key].push(os.loadavg()[0]!);
    const summary = summarize(result);
    say(`${labels[key]}, half ${half}: p95 ${summary.p95Ms.toFixed(1)} ms, ${summary.statementsPerSecond.toFixed(0)} statements/s`);
    halves[key].push(result);
  };

  let client: AdvisorClient | undefined;
  try {
    say(`(a) dropped ${(await resetToPrimaryKeys(admin)).length} non-constraint indexes`);
    if (state === 'reset') await resetStatements(admin);
    client = await startAdvisorClient(target.url);
    const b = new ConfigurationB(client, admin, title, say);
    const indexBytes: Partial<Record<Key, number>> = {};
    for (const key of ORDER) {
      // Every half starts from the same state: primary keys only, then its own fresh indexes.
      await resetToPrimaryKeys(admin);
      if (key === 'c') await applyIndexFile(admin, workload.handPicked.file);
      if (key === 'b' && !(await b.apply())) continue;
      // The builds' dirty pages are written now, not by a checkpoint during the measurement.
      await admin.query('CHECKPOINT');
      indexBytes[key] = await nonConstraintIndexBytes(admin);
      await measureHalf(key);
    }
    await resetToPrimaryKeys(admin);

    const configurations = (['a', 'b', 'c'] as const).map((key): Configuration => {
      const unavailable = key === 'b' ? b.unavailable : undefined;
      const recommendations = key === 'b' ? b.recommendations : undefined;
      if (halves[key].length === 0) return { key, label: labels[key], unavailable: unavailable ?? 'not measured', recommendations };
      const mix = mergeMix(halves[key]);
      const loadAverage = loads[key].reduce((sum, x) => sum + x, 0) / loads[key].length;
      const result = { mix, summary: summarize(mix), indexBytes: indexBytes[key] ?? 0, loadAverage };
      return { key, label: labels[key], result, unavailable, recommendations };
    });
    return {
      workload: workload.name,
      description: workload.describe(settings.scale),
      state,
      hypopg: target.hypopg,
      scripts,
      configurations,
      timing: b.timing,
    };
  } finally {
    await client?.close();
    await db.end();
    await dropDatabase(url, dbName);
  }
}

const STATE_TITLES: Record<StartingState, string> = {
  reset: 'counters reset after the load',
  kept: 'counters kept from the load',
};

function mergeMix(results: MixResult[]): MixResult {
  const byScript = new Map<string, number[]>();
  for (const result of results) {
    for (const [name, latencies] of result.byScript) byScript.set(name, [...(byScript.get(name) ?? []), ...latencies]);
  }
  return {
    statements: results.reduce((sum, r) => sum + r.statements, 0),
    seconds: results.reduce((sum, r) => sum + r.seconds, 0),
    latenciesMs: results.flatMap((r) => r.latenciesMs),
    byScript,
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    firstError: results.find((r) => r.firstError)?.firstError,
  };
}

/** The synthetic workload: 50 tables, 500 distinct statements run 3 times each, then one timed request. */
async function timeSynthetic(url: string, settings: AdvisorSettings, log: (line: string) => void): Promise<RecommendTiming> {
  const workload = `synthetic (50 tables x ${settings.syntheticRows.toLocaleString('en-US')} rows)`;
  log(`advisor: building the ${workload} workload ...`);
  const synthetic = await freshDatabase(url, SYNTHETIC_DB);
  const admin = adminOn(synthetic.url);
  const db = mixDatabase(synthetic.url, 1);
  let client: AdvisorClient | undefined;
  try {
    await createSyntheticTables(admin, settings.syntheticRows);
    await resetStatements(admin);
    await runSyntheticStatements(db, settings.syntheticRows, 3);
    client = await startAdvisorClient(synthetic.url);
    const missing = client.schema.recommendationsMissing;
    if (missing) return { workload, statements: (await statementCounts(admin)).statements, unavailable: `not available: ${missing}` };
    log('advisor: timing indexRecommendations on the synthetic workload ...');
    return await timeRecommendations(client, admin, workload);
  } catch (error) {
    return { workload, unavailable: `failed: ${(error as Error).message}` };
  } finally {
    await client?.close();
    await db.end();
    await dropDatabase(url, SYNTHETIC_DB);
  }
}
