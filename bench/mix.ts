// A workload's query mix as a load driver: its statements (bench/workloads/*.ts; the reference
// one from demo/queries/*.sql, pgbench scripts) drawn by weight with parameters from a seeded
// generator, run by N concurrent clients for a fixed duration, every statement's latency recorded.
// Parameters go as bind parameters, as an application driver sends them (and as
// pg_stat_statements then shows them to the advisor).
import { loadConfig } from '../src/config.js';
import { Database } from '../src/db/pool.js';
import { seededRandom } from '../src/demo/workload.js';
import { percentile } from './lib.js';
import type { MixScript } from './workloads/workload.js';

/** A statement over this many milliseconds counts as slow (the seed guide's threshold). */
export const SLOW_MS = 100;

export interface MixResult {
  statements: number;
  seconds: number;
  latenciesMs: number[];
  /** Latencies per script name (login, username ...), for the per-statement table. */
  byScript: Map<string, number[]>;
  errors: number;
  firstError: string | undefined;
}

export interface MixSummary {
  p50Ms: number;
  p95Ms: number;
  /** Share of statements over SLOW_MS, 0..1. */
  slowShare: number;
  statementsPerSecond: number;
}

export interface MixOptions {
  clients: number;
  seconds: number;
  /** Seed of client 0; client i uses seed + i, so every configuration replays the same draws. */
  seed: number;
}

/** One pool of `clients` connections on the workload's database, statement_timeout 5 minutes. */
export function mixDatabase(url: string, clients: number): Database {
  const { pool } = loadConfig({
    PGSCOPE_POOL_MIN: '0',
    PGSCOPE_POOL_MAX: String(clients),
    PGSCOPE_STATEMENT_TIMEOUT_MS: '300000',
    PGSCOPE_POOL_CONNECTION_TIMEOUT_MS: '60000',
  });
  return new Database(url, { applicationName: 'bench-app-mix', pool });
}

/** One statement drawn by weight, then its parameters, from `random`. */
export function drawStatement(scripts: MixScript[], random: () => number): { script: MixScript; values: unknown[] } {
  const total = scripts.reduce((sum, script) => sum + script.weight, 0);
  let ticket = random() * total;
  let script = scripts[scripts.length - 1]!;
  for (const candidate of scripts) {
    ticket -= candidate.weight;
    if (ticket < 0) {
      script = candidate;
      break;
    }
  }
  return { script, values: script.draw(random) };
}

/** Runs the mix: `clients` loops, each drawing a script and its values from its own seeded generator. */
export async function runMix(db: Database, scripts: MixScript[], options: MixOptions): Promise<MixResult> {
  const latenciesMs: number[] = [];
  const byScript = new Map<string, number[]>(scripts.map((script) => [script.name, []]));
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const client = async (index: number) => {
    const random = seededRandom(options.seed + index);
    while (performance.now() < deadline) {
      const { script, values } = drawStatement(scripts, random);
      const t0 = performance.now();
      try {
        await db.query(script.sql, values);
      } catch (error) {
        // A failed statement is reported, not timed: its latency would flatter the configuration.
        errors += 1;
        firstError ??= `${script.name}: ${(error as Error).message}`;
        continue;
      }
      const ms = performance.now() - t0;
      latenciesMs.push(ms);
      byScript.get(script.name)!.push(ms);
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, index) => client(index)));
  return { statements: latenciesMs.length, seconds: (performance.now() - started) / 1000, latenciesMs, byScript, errors, firstError };
}

/** Runs every script once per value drawn, `rounds` times: warms caches and fills pg_stat_statements. */
export async function warmMix(db: Database, scripts: MixScript[], rounds: number, seed: number): Promise<void> {
  const random = seededRandom(seed);
  for (let round = 0; round < rounds; round += 1) {
    await Promise.all(scripts.map((script) => db.query(script.sql, script.draw(random))));
  }
}

export function summarize(result: MixResult): MixSummary {
  const slow = result.latenciesMs.filter((ms) => ms > SLOW_MS).length;
  return {
    p50Ms: percentile(result.latenciesMs, 50),
    p95Ms: percentile(result.latenciesMs, 95),
    slowShare: result.statements === 0 ? Number.NaN : slow / result.statements,
    statementsPerSecond: result.statements / result.seconds,
  };
}
