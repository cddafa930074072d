// "advisor": the reference workload at scale 1 under its query mix, in one run, with
// (a) primary keys only, (b) pgscope's recommendations applied through the GraphQL API,
// (c) the guide's hand-picked set (demo/seed_indexes.sql); then how long indexRecommendations
// takes on that workload and on a synthetic one of 500 statements over 50 tables.
// Settings (env): BENCH_ADVISOR_SECONDS (20) per configuration, BENCH_ADVISOR_CLIENTS (8),
// BENCH_ADVISOR_SCALE (1), BENCH_ADVISOR_SYNTHETIC_ROWS (20000 per table); BENCH_ADVISOR_QUICK=1
// for development (3 s, scale 0.1, 2,000 rows per table).
import { queryOnce, type Queryable } from '../src/db/pool.js';
import { loadReferenceWorkload } from '../src/demo/load.js';
import { startAdvisorClient, type AdvisorClient } from './advisorApi.js';
import {
  applySeedIndexes,
  dropDatabase,
  freshDatabase,
  nonConstraintIndexBytes,
  resetStatements,
  resetToPrimaryKeys,
  statementCounts,
  waitForIndexBuilds,
} from './advisorDb.js';
import { advisorReport, type Configuration, type RecommendTiming } from './advisorReport.js';
import { mixDatabase, referenceMix, runMix, summarize, type MixOptions } from './mix.js';
import { createSyntheticTables, runSyntheticStatements } from './synthetic.js';

const REFERENCE_DB = 'bench_advisor';
const SYNTHETIC_DB = 'bench_advisor_synthetic';

export interface AdvisorSettings {
  seconds: number;
  clients: number;
  scale: number;
  syntheticRows: number;
  quick: boolean;
}

export function advisorSettings(env: Record<string, string | undefined> = process.env): AdvisorSettings {
  const quick = env.BENCH_ADVISOR_QUICK === '1';
  const number = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
  return {
    quick,
    seconds: number('BENCH_ADVISOR_SECONDS', quick ? 3 : 20),
    clients: number('BENCH_ADVISOR_CLIENTS', 8),
    scale: number('BENCH_ADVISOR_SCALE', quick ? 0.1 : 1),
    syntheticRows: number('BENCH_ADVISOR_SYNTHETIC_ROWS', quick ? 2_000 : 20_000),
  };
}

/** DDL and catalog reads on their own connection each, without the pool's statement timeout. */
const adminOn = (url: string): Queryable => ({ query: (sql, params) => queryOnce(url, sql, params ?? [], 3_600_000) });

export async function benchAdvisor(url: string, _seconds: number, log: (line: string) => void): Promise<string> {
  const settings = advisorSettings();
  log(`advisor: loading the reference workload at scale ${settings.scale} into database ${REFERENCE_DB} ...`);
  const reference = await freshDatabase(url, REFERENCE_DB);
  await loadReferenceWorkload(reference.url, settings.scale, log);
  const admin = adminOn(reference.url);
  const db = mixDatabase(reference.url, settings.clients);
  const scripts = referenceMix(settings.scale);
  const mix: MixOptions = { clients: settings.clients, seconds: settings.seconds, seed: 1_000 };

  const measure = async (label: string): Promise<Configuration['result']> => {
    log(`advisor: ${label}: warming up, then ${settings.seconds} s with ${settings.clients} clients ...`);
    await runMix(db, scripts, { ...mix, seconds: Math.min(3, settings.seconds), seed: 9_000 });
    const result = await runMix(db, scripts, mix);
    const summary = summarize(result);
    log(`advisor: ${label}: p95 ${summary.p95Ms.toFixed(1)} ms, ${summary.statementsPerSecond.toFixed(0)} statements/s`);
    return { mix: result, summary, indexBytes: await nonConstraintIndexBytes(admin) };
  };

  let client: AdvisorClient | undefined;
  try {
    log(`advisor: (a) dropped ${(await resetToPrimaryKeys(admin)).length} non-constraint indexes`);
    await resetStatements(admin);
    const a: Configuration = { key: 'a', label: '(a) primary keys only', result: await measure('(a)') };

    client = await startAdvisorClient(reference.url);
    const b = await configurationB(client, admin, measure, log);
    const referenceTiming = b.timing;
    await resetToPrimaryKeys(admin);

    await applySeedIndexes(admin);
    const c: Configuration = { key: 'c', label: '(c) the guide\'s set (seed_indexes.sql)', result: await measure('(c)') };
    await resetToPrimaryKeys(admin);

    const synthetic = await timeSynthetic(url, settings, client.schema.recommendationsMissing, log);
    return advisorReport({ settings, hypopg: reference.hypopg, scripts, configurations: [a, b.configuration, c], timings: [referenceTiming, synthetic] });
  } finally {
    await client?.close();
    await db.end();
    await dropDatabase(url, REFERENCE_DB);
    await dropDatabase(url, SYNTHETIC_DB);
  }
}

/**
 * (b): ask pgscope for its recommendations on the mix pg_stat_statements holds since (a), apply
 * each through applyRecommendation(dryRun: false), wait for the builds, ANALYZE, measure.
 * Without the API fields, or when a step fails, the configuration says why instead of a number.
 */
async function configurationB(
  client: AdvisorClient,
  admin: Queryable,
  measure: (label: string) => Promise<Configuration['result']>,
  log: (line: string) => void,
): Promise<{ configuration: Configuration; timing: RecommendTiming }> {
  const label = '(b) pgscope\'s recommendations';
  const missing = client.schema.recommendationsMissing;
  if (missing) {
    const why = `not available: ${missing}`;
    return { configuration: { key: 'b', label, unavailable: why }, timing: { workload: 'reference', unavailable: why } };
  }
  let timing: RecommendTiming | undefined;
  try {
    timing = await timeRecommendations(client, admin, 'reference');
    const recommendations = timing.recommendations ?? [];
    if (client.schema.applyMissing) {
      return { configuration: { key: 'b', label, unavailable: `not available: ${client.schema.applyMissing}`, recommendations }, timing };
    }
    for (const recommendation of recommendations) {
      log(`advisor: (b) applying ${recommendation.sql}`);
      await client.apply(recommendation.id);
    }
    await waitForIndexBuilds(admin);
    await admin.query('ANALYZE');
    return { configuration: { key: 'b', label, result: await measure('(b)'), recommendations }, timing };
  } catch (error) {
    const why = `failed: ${(error as Error).message}`;
    log(`advisor: (b) ${why}`);
    return { configuration: { key: 'b', label, unavailable: why }, timing: timing ?? { workload: 'reference', unavailable: why } };
  }
}

/** One indexRecommendations request, timed, with what pg_stat_statements saw it run. */
async function timeRecommendations(client: AdvisorClient, admin: Queryable, workload: string): Promise<RecommendTiming> {
  const before = await statementCounts(admin);
  const started = performance.now();
  const { list, sqlStatements } = await client.recommendations();
  const seconds = (performance.now() - started) / 1000;
  const after = await statementCounts(admin);
  return {
    workload,
    statements: before.statements,
    seconds,
    recommendations: list,
    sqlStatements,
    whatIfPlans: after.explainCalls - before.explainCalls,
    hypotheticalIndexes: after.hypotheticalIndexes - before.hypotheticalIndexes,
  };
}

/** The synthetic workload: 50 tables, 500 distinct statements run 3 times each, then one timed request. */
async function timeSynthetic(url: string, settings: AdvisorSettings, missing: string | undefined, log: (line: string) => void): Promise<RecommendTiming> {
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
    if (missing) return { workload, statements: (await statementCounts(admin)).statements, unavailable: `not available: ${missing}` };
    client = await startAdvisorClient(synthetic.url);
    log('advisor: timing indexRecommendations on the synthetic workload ...');
    return await timeRecommendations(client, admin, workload);
  } catch (error) {
    return { workload, unavailable: `failed: ${(error as Error).message}` };
  } finally {
    await client?.close();
    await db.end();
  }
}
