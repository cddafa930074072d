// Loads the reference workload (demo/schema.sql + demo/data.sql, then the index problems planted
// for the demo in demo/planted_index_problems.sql) into a database: the embedded demo database at
// first start, or a database a user names (scripts/load-demo.ts).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Database, queryOnce } from '../db/pool.js';
import { progressLine } from '../progress.js';
import { quoteIdent } from '../sql/quote.js';
import type { PoolConfig } from '../config.js';

export const DEMO_DIR = fileURLToPath(new URL('../../demo/', import.meta.url));
export const DEMO_DATABASE = 'pgscope_demo';
export const DEMO_TABLES = ['users', 'activity_logs', 'workflow_templates', 'audit_trails'] as const;

/**
 * The database comment that marks a completed load; a database without it was interrupted. The
 * revision changes with what a load creates (2: planted index problems, pgscope's own role; 3: table
 * counters reset after the load, so that the advisor does not take the load for a write rate), so
 * that an older demo database is loaded again.
 */
const loadedMarker = (scale: number) => `pgscope demo database, revision 3, scale ${scale}`;

/**
 * Makes sure the demo database exists on the embedded server and is completely loaded.
 * Returns true when it loaded data now (first start, or the earlier load was interrupted).
 */
export async function ensureDemoDatabase(
  serverUrl: (database?: string) => string,
  scale: number,
  log: (line: string) => void,
): Promise<boolean> {
  const [existing] = await queryOnce<{ comment: string | null }>(
    serverUrl(),
    /* SQL */ `
    SELECT
      shobj_description(oid, 'pg_database') AS comment
    FROM pg_database
    WHERE datname = $1`,
    [DEMO_DATABASE],
  );
  if (existing?.comment === loadedMarker(scale)) return false;
  if (existing) {
    log(
      existing.comment
        ? `The demo database was loaded at another scale or by an earlier pgscope; reloading it at scale ${scale}.`
        : 'The demo database is incomplete (an earlier load was interrupted); reloading it.',
    );
    await queryOnce(serverUrl(), `DROP DATABASE ${quoteIdent(DEMO_DATABASE)} WITH (FORCE)`);
  }
  await queryOnce(serverUrl(), `CREATE DATABASE ${quoteIdent(DEMO_DATABASE)}`);
  await loadReferenceWorkload(serverUrl(DEMO_DATABASE), scale, log);
  // The load's own INSERTs would top the slow-statement list, and count as a write rate the
  // advisor would charge every index with: start the demo with clean statistics (the table
  // counters too; VACUUM ANALYZE again so that they show the tables vacuumed and analyzed).
  await queryOnce(serverUrl(DEMO_DATABASE), 'SELECT pg_stat_statements_reset(), pg_stat_reset()');
  for (const table of DEMO_TABLES) await queryOnce(serverUrl(DEMO_DATABASE), `VACUUM ANALYZE ${quoteIdent(table)}`);
  await queryOnce(serverUrl(), `COMMENT ON DATABASE ${quoteIdent(DEMO_DATABASE)} IS ${literal(loadedMarker(scale))}`);
  return true;
}

/** A bulk load's pool: two blocks at a time (2 cores), no statement timeout, nothing kept open after. */
export const LOADER_POOL: PoolConfig = {
  min: 0,
  max: 2,
  idleTimeoutMs: 1_000,
  connectionTimeoutMs: 10_000,
  maxLifetimeSeconds: 0,
  statementTimeoutMs: 0,
  lockTimeoutMs: 10_000,
};

/**
 * Creates the reference schema (primary keys only: the "before" state of the seed guide) and its
 * deterministic data in the database at `url`, then plants the demo's index problems (indexes are
 * built faster once the rows are in). The data blocks of demo/data.sql run two at a time.
 */
export async function loadReferenceWorkload(url: string, scale: number, log: (line: string) => void): Promise<void> {
  const started = Date.now();
  const db = new Database(url, { applicationName: 'pgscope-demo-loader', pool: LOADER_POOL });
  const progress = progressLine(log);
  try {
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await db.query(fs.readFileSync(`${DEMO_DIR}schema.sql`, 'utf8'));
    const blocks = dataBlocks(scale);
    const steps = blocks.length + 1 + DEMO_TABLES.length;
    let done = 0;
    const step = () =>
      progress(
        `Loading demo data at scale ${scale} (${Math.round(200_000 * scale).toLocaleString('en-US')} users, ${Math.round(2_000_000 * scale).toLocaleString('en-US')} activity rows): ${++done}/${steps}`,
      );
    await runTwoAtATime(blocks, async (block) => {
      await db.query(block);
      step();
    });
    await db.query(fs.readFileSync(`${DEMO_DIR}planted_index_problems.sql`, 'utf8'));
    step();
    // VACUUM sets the visibility map (index-only scans), ANALYZE fills pg_stats for the advisor.
    await runTwoAtATime([...DEMO_TABLES], async (table) => {
      await db.query(`VACUUM ANALYZE ${quoteIdent(table)}`);
      step();
    });
    progress.done(`Demo data loaded in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  } finally {
    await db.end();
  }
}

/** The independent blocks of demo/data.sql with the scale filled in (VACUUM is run per table). */
function dataBlocks(scale: number): string[] {
  return fs
    .readFileSync(`${DEMO_DIR}data.sql`, 'utf8')
    .split(/\n\s*\n/)
    .map((block) => block.replaceAll(':scale', String(scale)).trim())
    .filter((block) => /^\s*(SELECT|INSERT)/im.test(block.replace(/^--.*$/gm, '')));
}

async function runTwoAtATime<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  };
  await Promise.all([worker(), worker()]);
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
