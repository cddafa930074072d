// A synthetic workload for timing the advisor at scale: 50 tables with a few typed columns, and
// 10 statement shapes per table (500 distinct statements in pg_stat_statements) mixing equality,
// ranges, IN, ORDER BY ... LIMIT, joins, jsonb containment and ->>, and lower(). Each statement
// runs a few times with bind parameters so that pg_stat_statements holds it as an application's.
import type { Queryable } from '../src/db/pool.js';
import { seededRandom } from '../src/demo/workload.js';

export const SYNTHETIC_TABLES = 50;
export const SHAPES_PER_TABLE = 10;

const tableName = (i: number) => `s_${String(i).padStart(2, '0')}`;

/** Creates and fills the 50 tables (primary keys only), then ANALYZE. */
export async function createSyntheticTables(db: Queryable, rowsPerTable: number): Promise<void> {
  for (let i = 0; i < SYNTHETIC_TABLES; i += 1) {
    const t = tableName(i);
    await db.query(`DROP TABLE IF EXISTS ${t}`);
    await db.query(/* SQL */ `
      CREATE TABLE ${t} (
        id bigint PRIMARY KEY,
        account_id int NOT NULL,
        status text NOT NULL,
        email text NOT NULL,
        amount numeric(12, 2) NOT NULL,
        created_at timestamptz NOT NULL,
        parent_id bigint,
        attrs jsonb NOT NULL
      )`);
    // Deterministic rows (no random()): every run plans the same data.
    await db.query(/* SQL */ `
      INSERT INTO ${t}
      SELECT
        g,
        (g * 7919) % 5000,
        (ARRAY['pending', 'active', 'closed', 'archived'])[1 + (g * 31) % 4],
        'User' || g || '@example.com',
        ((g * 104729) % 100000) / 100.0,
        timestamptz '2026-01-01 00:00+00' - ((g * 6151) % 525600) * interval '1 minute',
        CASE WHEN g % 10 = 0 THEN NULL ELSE (g * 13) % ${rowsPerTable} + 1 END,
        jsonb_build_object('kind', 'k' || (g % 200), 'region', 'r' || (g % 20), 'score', g % 1000)
      FROM generate_series(1, ${rowsPerTable}) g`);
  }
  await db.query('ANALYZE');
}

interface Shape {
  sql: (t: string, next: string) => string;
  params: (random: () => number, rows: number) => unknown[];
}

const pick = (random: () => number, n: number) => 1 + Math.floor(random() * n);

const SHAPES: Shape[] = [
  { sql: (t) => `SELECT * FROM ${t} WHERE account_id = $1`, params: (r) => [pick(r, 5000)] },
  { sql: (t) => `SELECT id, amount FROM ${t} WHERE amount BETWEEN $1 AND $2`, params: (r) => [pick(r, 900), 1000] },
  {
    sql: (t) => `SELECT * FROM ${t} WHERE account_id = $1 AND created_at >= $2`,
    params: (r) => [pick(r, 5000), new Date(Date.UTC(2025, pick(r, 11), 1))],
  },
  {
    sql: (t) => `SELECT id, created_at FROM ${t} WHERE status = $1 ORDER BY created_at DESC LIMIT 20`,
    params: (r) => [['pending', 'active'][pick(r, 2) - 1]],
  },
  { sql: (t) => `SELECT count(*) FROM ${t} WHERE attrs @> $1::jsonb`, params: (r) => [JSON.stringify({ kind: `k${pick(r, 200) - 1}` })] },
  {
    // No aliases: PostgreSQL 18 jumbles a table reference by its alias (not its OID), so the same
    // aliased join over 50 pairs of tables would be one pg_stat_statements entry.
    sql: (t, next) => `SELECT ${t}.id, ${next}.email FROM ${t} JOIN ${next} ON ${next}.parent_id = ${t}.id WHERE ${t}.account_id = $1`,
    params: (r) => [pick(r, 5000)],
  },
  { sql: (t) => `SELECT id FROM ${t} WHERE lower(email) = $1`, params: (r, rows) => [`user${pick(r, rows)}@example.com`] },
  { sql: (t) => `SELECT id, status FROM ${t} WHERE attrs ->> 'region' = $1 AND amount > $2`, params: (r) => [`r${pick(r, 20) - 1}`, 990] },
  {
    sql: (t) => `SELECT * FROM ${t} WHERE created_at < $1 ORDER BY created_at LIMIT 10`,
    params: (r) => [new Date(Date.UTC(2025, 0, pick(r, 28)))],
  },
  {
    sql: (t) => `SELECT id FROM ${t} WHERE parent_id = ANY($1::bigint[]) ORDER BY id`,
    params: (r, rows) => [[pick(r, rows), pick(r, rows), pick(r, rows)]],
  },
];

/** Runs each of the 500 statements `times` times; returns how many executions ran. */
export async function runSyntheticStatements(db: Queryable, rowsPerTable: number, times: number): Promise<number> {
  const random = seededRandom(7);
  let executions = 0;
  for (let i = 0; i < SYNTHETIC_TABLES; i += 1) {
    const t = tableName(i);
    const next = tableName((i + 1) % SYNTHETIC_TABLES);
    for (const shape of SHAPES) {
      for (let n = 0; n < times; n += 1) {
        await db.query(shape.sql(t, next), shape.params(random, rowsPerTable));
        executions += 1;
      }
    }
  }
  return executions;
}
