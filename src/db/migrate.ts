// pgscope's own schema (`pgscope`): numbered, immutable files in migrations/, applied with
// postgres-migrations under its advisory lock. Only needed for mutations and history, so a
// target where pgscope may not create a schema still serves every read.
import { fileURLToPath } from 'node:url';
import { migrate } from 'postgres-migrations';
import type { Db, Queryable } from './pool.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

export type MigrationOutcome = { ok: true; applied: string[] } | { ok: false; reason: string };

/** `dir` is for tests that bring a database to an earlier migration first. */
export async function migrateOwnSchema(db: Db, dir: string = MIGRATIONS_DIR): Promise<MigrationOutcome> {
  try {
    const applied = await db.withClient(async (client) => {
      await client.query('CREATE SCHEMA IF NOT EXISTS pgscope');
      // postgres-migrations looks for its table by name in every schema; creating ours first
      // (with its own DDL) keeps an application's table called "migrations" out of the way.
      await client.query(/* SQL */ `
        CREATE TABLE IF NOT EXISTS pgscope.migrations (
          id integer PRIMARY KEY,
          name varchar(100) UNIQUE NOT NULL,
          hash varchar(40) NOT NULL,
          executed_at timestamp DEFAULT current_timestamp
        )`);
      await client.query("SELECT set_config('search_path', 'pgscope', false)");
      try {
        const done = await migrate({ client: asMigrationClient(client) }, dir, { logger: () => undefined });
        return done.map((migration) => migration.name);
      } finally {
        await client.query('RESET search_path');
      }
    });
    return { ok: true, applied };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** postgres-migrations wants a pg client; this adapts our Queryable (pool.ts owns `pg`). */
function asMigrationClient(client: Queryable): Parameters<typeof migrate>[0] extends { client: infer C } ? C : never {
  const adapter = {
    query: async (query: string | { text: string; values?: unknown[] }) => {
      const rows = typeof query === 'string' ? await client.query(query) : await client.query(query.text, query.values ?? []);
      return { rows, rowCount: rows.length };
    },
  };
  return adapter as never;
}
