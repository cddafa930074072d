// The role pgscope uses on the embedded demo database: exactly what the README asks production users
// to create ("Point it at your own database"), so that the demo shows pgscope under its real
// privilege model instead of as a superuser. pg_monitor for the statistics views, pg_read_all_data
// so that explain can plan the workload's statements, CONNECT, CREATE on the demo database so that
// pgscope can create its own schema when mutations are on, and membership in the role that owns
// the demo tables, so that the index and partition mutations may change them.
// The background workload keeps the superuser: it plays the application, not pgscope.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Database, queryOnce } from '../db/pool.js';
import { quoteIdent } from '../sql/quote.js';

export const DEMO_ROLE = 'pgscope';
/** Owns the demo's tables, as an application's owner role would; the demo role is a member. */
export const DEMO_OWNER_ROLE = 'pgscope_demo_owner';

/** The demo tables (partitions included) to the owner role; each ALTER only where it is not yet theirs. */
const GIVE_TABLES_TO_OWNER = /* SQL */ `
  DO $$
  DECLARE
    r record;
  BEGIN
    FOR r IN
      SELECT n.nspname, c.relname
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public'
        AND c.relkind IN ('r', 'p')
        AND c.relowner <> '${DEMO_OWNER_ROLE}'::regrole
    LOOP
      EXECUTE format('ALTER TABLE %I.%I OWNER TO ${DEMO_OWNER_ROLE}', r.nspname, r.relname);
    END LOOP;
  END $$`;

/**
 * Creates (or brings back to) the demo role on the embedded server, with the password kept in
 * `passwordFile` (created 0600 beside the server's own state file), grants it what it needs on
 * `database`, and returns that database's URL as the role. `serverUrl` gives superuser URLs.
 */
export async function ensureDemoRole(serverUrl: (database?: string) => string, database: string, passwordFile: string): Promise<string> {
  const password = readOrCreatePassword(passwordFile);
  const db = new Database(serverUrl(), {
    applicationName: 'pgscope-demo-setup',
    pool: {
      min: 0,
      max: 1,
      idleTimeoutMs: 1_000,
      connectionTimeoutMs: 10_000,
      maxLifetimeSeconds: 0,
      statementTimeoutMs: 10_000,
      lockTimeoutMs: 10_000,
    },
  });
  try {
    await db.withClient(async (client) => {
      // The statement carries the password: keep it out of pg_stat_statements (pg_monitor reads it).
      await client.query('SET pg_stat_statements.track_utility = off');
      // CREATE/ALTER ROLE take no bind parameters: format() quotes the name and the password.
      const [statement] = await client.query<{ text: string }>(
        /* SQL */ `
        SELECT
          format(
            CASE
              WHEN to_regrole($1::text) IS NULL THEN 'CREATE ROLE %I LOGIN PASSWORD %L'
              ELSE 'ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD %L'
            END,
            $1::text,
            $2::text
          ) AS text`,
        [DEMO_ROLE, password],
      );
      await client.query(statement!.text);
      await client.query(`GRANT pg_monitor TO ${DEMO_ROLE}`);
      // explain plans the application's statements, which needs the right to read their tables
      // (pg_read_all_data from PostgreSQL 14 on; before, the demo tables one by one).
      const [readAll] = await client.query<{ exists: boolean }>(`SELECT to_regrole('pg_read_all_data') IS NOT NULL AS exists`);
      if (readAll!.exists) await client.query(`GRANT pg_read_all_data TO ${DEMO_ROLE}`);
      else await queryOnce(serverUrl(database), `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${DEMO_ROLE}`);
      await client.query(`GRANT CONNECT, CREATE ON DATABASE ${quoteIdent(database)} TO ${DEMO_ROLE}`);
      // The demo tables belong to an application role, and pgscope is a member of it: what
      // applyIndex and createPartitions need on a real database too (README, step 4).
      await client.query(/* SQL */ `
        DO $$
        BEGIN
          IF to_regrole('${DEMO_OWNER_ROLE}') IS NULL THEN
            CREATE ROLE ${DEMO_OWNER_ROLE} NOLOGIN;
          END IF;
        END $$`);
      await client.query(`GRANT ${DEMO_OWNER_ROLE} TO ${DEMO_ROLE}`);
    });
    await queryOnce(serverUrl(database), GIVE_TABLES_TO_OWNER);
    // PostgreSQL 15+ gives nobody CREATE on schema public; new indexes and partitions go there
    await queryOnce(serverUrl(database), `GRANT CREATE ON SCHEMA public TO ${DEMO_OWNER_ROLE}`);
  } finally {
    await db.end();
  }
  const url = new URL(serverUrl(database));
  url.username = DEMO_ROLE;
  url.password = password;
  return url.toString();
}

function readOrCreatePassword(file: string): string {
  try {
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as { password?: unknown };
    if (typeof state.password === 'string' && /^[\w-]{16,}$/.test(state.password)) return state.password;
  } catch {
    // absent or unreadable: a new password below
  }
  const password = randomBytes(18).toString('base64url');
  fs.writeFileSync(file, JSON.stringify({ password }), { mode: 0o600 });
  return password;
}
