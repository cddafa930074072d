// What the advisor bench needs of a workload: how to load it (primary keys only), its query mix,
// and the hand-picked index set it is compared with; and the loader of the SQL-file workloads.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Database } from '../../src/db/pool.js';
import { progressLine } from '../../src/progress.js';
import { quoteIdent } from '../../src/sql/quote.js';
import { LOADER_POOL } from '../../src/demo/load.js';

/** One statement of a query mix: its share of executions, its SQL, and its bind parameters. */
export interface MixScript {
  name: string;
  weight: number;
  sql: string;
  /** Draws the parameters of one execution, in $n order, from the seeded generator. */
  draw(random: () => number): unknown[];
}

export interface AdvisorWorkload {
  /** The name BENCH_ADVISOR_WORKLOADS selects it by. */
  name: string;
  /** One line for the report: its tables and rows at `scale`. */
  describe(scale: number): string;
  /** Creates and fills the tables in the database at `url` (the "before" state), VACUUM ANALYZE included. */
  load(url: string, scale: number, log: (line: string) => void): Promise<void>;
  mix(scale: number): MixScript[];
  /** Configuration (c): the hand-picked index set, a file of SQL statements. */
  handPicked: { label: string; file: string };
}

export const WORKLOADS_DIR = fileURLToPath(new URL('./', import.meta.url));

/**
 * Loads a workload written as SQL (bench/workloads/<name>.sql, blocks separated by blank lines,
 * phases by a `-- then` line, `:scale` in place of the scale) after the draw helpers of gen.sql:
 * the blocks of a phase two at a time (2 cores), then VACUUM ANALYZE of `tables` (visibility map
 * for index-only scans, pg_stats for the advisor).
 */
export async function loadSqlWorkload(url: string, name: string, tables: string[], scale: number, log: (line: string) => void) {
  const started = Date.now();
  const db = new Database(url, { applicationName: 'pgscope-bench-loader', pool: LOADER_POOL });
  const progress = progressLine(log);
  try {
    const phases = sqlPhases(fs.readFileSync(`${WORKLOADS_DIR}${name}.sql`, 'utf8'), scale);
    const steps = phases.flat().length + tables.length + 1;
    let done = 0;
    const step = () => progress(`Loading the ${name} workload at scale ${scale}: ${++done}/${steps}`);
    await db.query(fs.readFileSync(`${WORKLOADS_DIR}gen.sql`, 'utf8'));
    for (const blocks of phases) {
      await twoAtATime(blocks, async (block) => {
        await db.query(block);
        step();
      });
    }
    await db.query('DROP SCHEMA bench_gen CASCADE');
    step();
    await twoAtATime(tables, async (table) => {
      await db.query(`VACUUM ANALYZE ${quoteIdent(table)}`);
      step();
    });
    progress.done(`The ${name} workload loaded in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  } finally {
    await db.end();
  }
}

/** The phases of a workload's SQL file (separated by `-- then`), each its blocks (separated by blank lines), with the scale filled in. */
export function sqlPhases(text: string, scale: number): string[][] {
  return text.split(/^-- then$/m).map((phase) =>
    phase
      .split(/\n\s*\n/)
      .map((block) => block.replaceAll(':scale', String(scale)).trim())
      .filter((block) => block.replace(/^--.*$/gm, '').trim() !== ''),
  );
}

async function twoAtATime<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  };
  await Promise.all([worker(), worker()]);
}
