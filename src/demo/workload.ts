// The seed guide's query mix (demo/queries/*.sql, written as pgbench scripts), run in the
// background at a low rate so that pg_stat_statements fills with the application's statements.
// Parameters go as bind parameters, like an application driver sends them.
import fs from 'node:fs';
import { Database } from '../db/pool.js';
import { DEMO_DIR } from './load.js';

/** The guide's mix: share of transactions per script (demo/README in the seed guide). */
export const QUERY_MIX: Record<string, number> = {
  login: 40,
  username: 10,
  user_activity: 20,
  time_range: 10,
  workflow_config: 5,
  audit_meta: 5,
  recent_actions: 10,
};

export interface Script {
  name: string;
  weight: number;
  /** SQL with $1::int..$n::int in place of pgbench's :variables. */
  sql: string;
  /** Draws the parameters for one execution, in $n order. */
  draw(random: () => number): number[];
}

/** Parses the subset of pgbench's script language the mix uses: `\set v random(lo, hi)` and `:v`. */
export function parseScript(name: string, weight: number, text: string, scale: number): Script {
  const ranges = new Map<string, [number, number]>();
  const sqlLines: string[] = [];
  for (const line of text.split('\n')) {
    const set = /^\\set\s+(\w+)\s+random\((.+),(.+)\)\s*$/.exec(line.trim());
    if (set) {
      const [, variable, low, high] = set as unknown as [string, string, string, string];
      ranges.set(variable, [evaluate(low, scale), evaluate(high, scale)]);
    } else if (line.trim() !== '') {
      sqlLines.push(line);
    }
  }
  const order: string[] = [];
  const sql = sqlLines
    .join('\n')
    .trim()
    .replace(/;$/, '')
    .replace(/(?<!:):(\w+)/g, (_, variable: string) => {
      if (!ranges.has(variable)) throw new Error(`${name}.sql uses :${variable} without a \\set line`);
      if (!order.includes(variable)) order.push(variable);
      // Typed, because one variable may appear in a text and an arithmetic context (time_range.sql).
      return `$${order.indexOf(variable) + 1}::int`;
    });
  return {
    name,
    weight,
    sql,
    draw: (random) =>
      order.map((variable) => {
        const [low, high] = ranges.get(variable)!;
        return low + Math.floor(random() * (high - low + 1));
      }),
  };
}

/** Evaluates `200000 * :scale`-style bounds: numbers and :scale joined by * (all the mix needs). */
function evaluate(expression: string, scale: number): number {
  const factors = expression.split('*').map((factor) => {
    const text = factor.trim();
    if (text === ':scale') return scale;
    if (!/^\d+(\.\d+)?$/.test(text)) throw new Error(`Unsupported pgbench expression: ${expression}`);
    return Number(text);
  });
  return Math.max(1, Math.floor(factors.reduce((product, factor) => product * factor, 1)));
}

export function loadQueryMix(scale: number): Script[] {
  return Object.entries(QUERY_MIX).map(([name, weight]) =>
    parseScript(name, weight, fs.readFileSync(`${DEMO_DIR}queries/${name}.sql`, 'utf8'), scale),
  );
}

/** A deterministic pseudo-random generator (mulberry32), so the demo workload is repeatable. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pickWeighted(scripts: Script[], random: () => number): Script {
  const total = scripts.reduce((sum, script) => sum + script.weight, 0);
  let ticket = random() * total;
  for (const script of scripts) {
    ticket -= script.weight;
    if (ticket < 0) return script;
  }
  return scripts[scripts.length - 1]!;
}

export interface Workload {
  stop(): Promise<void>;
}

/**
 * Runs the mix at `ratePerSecond` statements per second on its own two connections
 * (application_name pgscope-demo-workload). Every script runs once first, so that each
 * statement is in pg_stat_statements within seconds of start.
 */
export function startWorkload(url: string, scale: number, ratePerSecond: number, warn: (line: string) => void): Workload {
  const scripts = loadQueryMix(scale);
  const random = seededRandom(42);
  const db = new Database(url, {
    applicationName: 'pgscope-demo-workload',
    pool: {
      min: 0,
      max: 2,
      idleTimeoutMs: 10_000,
      connectionTimeoutMs: 10_000,
      maxLifetimeSeconds: 3_600,
      statementTimeoutMs: 30_000,
      lockTimeoutMs: 5_000,
    },
    warn: () => undefined,
  });
  let stopped = false;
  let lastWarning = 0;
  const inFlight = new Set<Promise<void>>();
  const run = (script: Script) => {
    if (stopped || inFlight.size >= 2) return;
    const execution = db
      .query(script.sql, script.draw(random))
      .then(() => undefined)
      .catch((error: Error) => {
        // The database may restart under the demo; say so at most once a minute.
        if (!stopped && Date.now() - lastWarning > 60_000) {
          lastWarning = Date.now();
          warn(`pgscope: the demo workload's ${script.name} statement failed (${error.message}); it keeps trying.`);
        }
      })
      .finally(() => inFlight.delete(execution));
    inFlight.add(execution);
  };
  const warmUp = scripts.reduce<Promise<void>>(
    (previous, script) =>
      previous.then(() =>
        stopped
          ? undefined
          : db.query(script.sql, script.draw(random)).then(
              () => undefined,
              () => undefined,
            ),
      ),
    Promise.resolve(),
  );
  let timer: NodeJS.Timeout | undefined;
  void warmUp.then(() => {
    if (!stopped) timer = setInterval(() => run(pickWeighted(scripts, random)), 1000 / ratePerSecond);
  });
  return {
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await warmUp;
      await Promise.allSettled([...inFlight]);
      await db.end();
    },
  };
}
