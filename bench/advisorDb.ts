// The advisor section's database chores: its own databases beside the bench database, the
// "primary keys only" reset between configurations, index bytes, and pg_stat_statements of one
// database. The bench owns these throwaway databases, so plain DDL (not CONCURRENTLY) is fine.
import fs from 'node:fs';
import { queryOnce, type Queryable } from '../src/db/pool.js';
import { sleep } from './lib.js';
import { quoteIdent } from '../src/sql/quote.js';

const DDL_TIMEOUT_MS = 3_600_000;

/** The URL of database `name` on the server of `url`. */
export function databaseUrl(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(name)}`;
  return parsed.toString();
}

/** (Re)creates database `name` with pg_stat_statements, and HypoPG when the server has it; returns its URL. */
export async function freshDatabase(url: string, name: string): Promise<{ url: string; hypopg: string | null }> {
  await queryOnce(url, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`, [], DDL_TIMEOUT_MS);
  await queryOnce(url, `CREATE DATABASE ${quoteIdent(name)}`, [], DDL_TIMEOUT_MS);
  const target = databaseUrl(url, name);
  await queryOnce(target, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const [hypopg] = await queryOnce<{ version: string | null }>(
    target,
    /* SQL */ `
    SELECT
      default_version AS version
    FROM pg_available_extensions
    WHERE name = 'hypopg'`,
  );
  if (hypopg?.version) await queryOnce(target, 'CREATE EXTENSION IF NOT EXISTS hypopg');
  return { url: target, hypopg: hypopg?.version ?? null };
}

export async function dropDatabase(url: string, name: string): Promise<void> {
  await queryOnce(url, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`, [], DDL_TIMEOUT_MS);
}

/**
 * Indexes of schema `public` that back no constraint, top level only: an index attached to a
 * partitioned parent's index goes with its parent (it cannot be dropped alone).
 */
const NON_CONSTRAINT_INDEXES = /* SQL */ `
  SELECT
    format('%I.%I', n.nspname, c.relname) AS name
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public'
    AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
    AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
  ORDER BY n.nspname, c.relname`;

/** How many indexes resetToPrimaryKeys would drop (a partitioned index counts once). */
export async function nonConstraintIndexCount(db: Queryable): Promise<number> {
  return (await db.query(NON_CONSTRAINT_INDEXES)).length;
}

/** Configuration (a): primary keys only. Returns the indexes it dropped. */
export async function resetToPrimaryKeys(db: Queryable): Promise<string[]> {
  const indexes = await db.query<{ name: string }>(NON_CONSTRAINT_INDEXES);
  for (const { name } of indexes) await db.query(`DROP INDEX ${name}`);
  return indexes.map((index) => index.name);
}

/** Configuration (c): a hand-picked set (a file of SQL), then ANALYZE (expression statistics, fresh planner input). */
export async function applyIndexFile(db: Queryable, file: string): Promise<void> {
  await db.query(fs.readFileSync(file, 'utf8'));
  await db.query('ANALYZE');
}

/** On-disk bytes of every index in `public` that backs no constraint, partitions' indexes included. */
export async function nonConstraintIndexBytes(db: Queryable): Promise<number> {
  const [row] = await db.query<{ bytes: string }>(/* SQL */ `
    SELECT
      coalesce(sum(pg_relation_size(i.indexrelid)), 0) AS bytes
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
      AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)`);
  return Number(row!.bytes);
}

/** Waits until no index build runs in this database (applyRecommendation may build in the background). */
export async function waitForIndexBuilds(db: Queryable, timeoutMs = 30 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await db.query<{ building: number; invalid: number }>(/* SQL */ `
      SELECT
        (SELECT count(*)::int FROM pg_stat_progress_create_index WHERE datname = current_database()) AS building,
        (SELECT count(*)::int FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND NOT i.indisvalid AND c.relkind = 'i') AS invalid`);
    if (row!.building === 0) {
      if (row!.invalid > 0) throw new Error(`${row!.invalid} index(es) in public are INVALID after the builds ended`);
      return;
    }
    if (Date.now() > deadline) throw new Error('index builds still running after 30 minutes');
    await sleep(500);
  }
}

/** Forgets this database's statements only (pg_stat_statements 1.7+), so the advisor sees the mix. */
export async function resetStatements(db: Queryable): Promise<void> {
  await db.query(/* SQL */ `
    SELECT
      pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`);
}

export interface StatementCounts {
  statements: number;
  /** Calls of EXPLAIN statements: the what-if plans, when only the advisor explains. */
  explainCalls: number;
  /** Calls of hypopg_create_index: hypothetical indexes created. */
  hypotheticalIndexes: number;
}

/**
 * What pg_stat_statements holds for this database (the advisor's input, and what costing ran).
 * EXPLAIN of a query is also recorded as a nested entry (toplevel false, PostgreSQL 14+): only
 * top-level calls count; to_jsonb reads the column where it exists and finds NULL where it does not.
 */
export async function statementCounts(db: Queryable): Promise<StatementCounts> {
  const [row] = await db.query<StatementCounts>(/* SQL */ `
    SELECT
      count(*)::int AS "statements",
      coalesce(sum(s.calls) FILTER (WHERE s.query ~* '^\\s*explain' AND coalesce((to_jsonb(s) ->> 'toplevel')::boolean, true)), 0)::int AS "explainCalls",
      coalesce(sum(s.calls) FILTER (WHERE s.query ~* 'hypopg_create_index' AND coalesce((to_jsonb(s) ->> 'toplevel')::boolean, true)), 0)::int AS "hypotheticalIndexes"
    FROM pg_stat_statements s
    WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  return row!;
}
