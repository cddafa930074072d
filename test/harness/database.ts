// Per-file databases on the run's test server: each test file gets its own database, copied
// from the template (pg_stat_statements and, when available, HypoPG already created), so files
// run in parallel without seeing each other's tables or statements.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { CapabilitiesCache } from '../../src/db/capabilities.js';
import { Database, queryOnce } from '../../src/db/pool.js';
import type { LiveStreams } from '../../src/live.js';
import type { RequestLog } from '../../src/http/requestLog.js';
import { createApp, type App } from '../../src/yoga.js';
import { TEMPLATE_DATABASE, urlForDatabase } from './urls.js';
import { quoteIdent } from '../../src/sql/quote.js';

export interface TestDatabase {
  name: string;
  url: string;
  /** Runs SQL on a fresh connection as the superuser (fixtures, checks). */
  sql<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<Row[]>;
  drop(): Promise<void>;
}

export const adminUrl = () => inject('pgAdminUrl');

export async function createTestDatabase(label: string, options: { template?: string } = {}): Promise<TestDatabase> {
  const name = `t_${label.replace(/\W/g, '_').slice(0, 30)}_${randomBytes(3).toString('hex')}`;
  await queryOnce(adminUrl(), `CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(options.template ?? TEMPLATE_DATABASE)}`);
  const url = urlForDatabase(adminUrl(), name);
  return {
    name,
    url,
    sql: (text, params = []) => queryOnce(url, text, params, 30_000),
    drop: async () => {
      await queryOnce(adminUrl(), `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    },
  };
}

/** Config as the server would build it, from env-style overrides (no process.env involved). */
export function testConfig(env: Record<string, string> = {}): Config {
  // the request log is tested on its own (test/http/observe.test.ts): elsewhere it would only fill the output
  return loadConfig({ PGSCOPE_POOL_MIN: '0', PGSCOPE_POOL_MAX: '4', PGSCOPE_LOG_LEVEL: 'silent', ...env });
}

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestApp {
  app: App;
  database: Database;
  config: Config;
  /** POSTs a GraphQL operation through app.fetch (no port). */
  gql<Data = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string },
  ): Promise<GqlResult<Data>>;
  close(): Promise<void>;
}

export interface GqlResult<Data> {
  data?: Data | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }>;
  extensions?: { sqlStatements?: number; sqlStatementsShared?: number; readCacheAgeMs?: number };
}

export function createTestApp(
  url: string,
  options: {
    env?: Record<string, string>;
    ownSchemaReady?: boolean;
    database?: Database;
    now?: () => number;
    requestLog?: RequestLog;
    live?: LiveStreams;
  } = {},
): TestApp {
  const config = testConfig({ PGSCOPE_ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...options.env });
  const database = options.database ?? new Database(url, { applicationName: 'pgscope-test', pool: config.pool, warn: () => undefined });
  const app = createApp(
    {
      config,
      database,
      capabilities: new CapabilitiesCache(database),
      ownSchemaReady: options.ownSchemaReady ?? false,
      live: options.live,
    },
    { logging: false, now: options.now, requestLog: options.requestLog },
  );
  return {
    app,
    database,
    config,
    async gql(query, variables, { token } = {}) {
      const response = await app.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as GqlResult<never>;
    },
    close: () => database.end(),
  };
}

export function errorCodes(result: GqlResult<unknown>): unknown[] {
  return (result.errors ?? []).map((error) => error.extensions?.code);
}
