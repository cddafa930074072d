import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { degradedFeatures, detectCapabilities } from '../../src/db/capabilities.js';
import { Database, type Queryable } from '../../src/db/pool.js';
import { createTestApp, createTestDatabase, errorCodes, type TestDatabase } from '../harness/database.js';
import { createRole, type TestRole } from '../harness/roles.js';

let withExtensions: TestDatabase;
let bare: TestDatabase;
let monitor: TestRole;
let plain: TestRole;
const pools: Database[] = [];

function connect(url: string) {
  const db = new Database(url, {
    applicationName: 'pgscope-test',
    pool: {
      min: 0,
      max: 2,
      idleTimeoutMs: 1000,
      connectionTimeoutMs: 5000,
      maxLifetimeSeconds: 0,
      statementTimeoutMs: 5000,
      lockTimeoutMs: 1000,
    },
  });
  pools.push(db);
  return db;
}

beforeAll(async () => {
  [withExtensions, bare, monitor, plain] = await Promise.all([
    createTestDatabase('caps'),
    createTestDatabase('caps_bare', { template: 'template0' }),
    createRole('monitor', ['pg_monitor']),
    createRole('plain'),
  ]);
});

afterAll(async () => {
  await Promise.all(pools.map((db) => db.end()));
  await Promise.all([withExtensions.drop(), bare.drop()]);
  await Promise.all([monitor.drop(), plain.drop()]);
});

describe('detectCapabilities', () => {
  it('fails (and is not cached) when the probe of pg_stat_statements finds no connection, instead of calling it unreadable', async () => {
    const db = connect(withExtensions.url);
    // a second pool of one connection, held busy: its next query waits 200 ms, then POOL_EXHAUSTED
    const busy = new Database(withExtensions.url, {
      applicationName: 'pgscope-test',
      pool: {
        min: 0,
        max: 1,
        idleTimeoutMs: 1000,
        connectionTimeoutMs: 200,
        maxLifetimeSeconds: 60,
        statementTimeoutMs: 10_000,
        lockTimeoutMs: 1000,
      },
    });
    pools.push(busy);
    await busy.query('SELECT 1');
    const holding = busy.withClient(() => new Promise((resolve) => setTimeout(resolve, 1500)));
    // catalog reads on the free pool, the probe of the view on the exhausted one
    const split: Queryable = {
      query: (sql: string, params?: unknown[]) => (sql.includes('pg_stat_statements(false)') ? busy : db).query(sql, params),
    } as Queryable;
    await expect(detectCapabilities(split)).rejects.toMatchObject({ extensions: { code: 'POOL_EXHAUSTED' } });
    await holding;
    expect((await detectCapabilities(split)).pgStatStatementsReadable).toBe(true);
  });

  it('sees pg_stat_statements, its real columns, HypoPG when the server has it, and superuser rights', async () => {
    const caps = await detectCapabilities(connect(withExtensions.url));
    expect(caps.serverVersionNum).toBeGreaterThanOrEqual(inject('pgMajorVersion') * 10000);
    expect(caps.database).toBe(withExtensions.name);
    expect(caps.pgStatStatements).toMatchObject({ installed: true, available: true, schema: 'public' });
    expect(caps.pgStatStatementsPreloaded).toBe(true);
    expect(caps.pgStatStatementsReadable).toBe(true);
    expect(caps.pgStatStatementsColumns.has('calls')).toBe(true);
    expect(caps.pgStatStatementsColumns.has('total_exec_time')).toBe(true);
    expect(caps.pgStatStatementsColumns.has('stats_since')).toBe(inject('pgMajorVersion') >= 17);
    expect(caps.hypopg.installed).toBe(inject('hypopgAvailable'));
    expect(caps).toMatchObject({ isSuperuser: true, canReadAllStats: true, isMonitor: true, canCreateSchema: true });
    const names = caps.extensions.map((extension) => extension.name);
    expect(names).toEqual(inject('hypopgAvailable') ? ['hypopg', 'pg_stat_statements', 'plpgsql'] : ['pg_stat_statements', 'plpgsql']);
    expect(caps.extensions.find((extension) => extension.name === 'pg_stat_statements')).toEqual({
      name: 'pg_stat_statements',
      version: caps.pgStatStatements.version,
      schema: 'public',
      defaultVersion: caps.pgStatStatements.version,
    });
  });

  it('reports a database without the extension, and slowQueries tells how to enable it', async () => {
    const caps = await detectCapabilities(connect(bare.url));
    expect(caps.pgStatStatements.installed).toBe(false);
    expect(caps.pgStatStatementsReadable).toBe(false);
    expect(degradedFeatures(caps, { mutationsEnabled: true, ownSchemaReady: true }).map((d) => d.feature)).toContain('slowQueries');

    const api = createTestApp(bare.url);
    const result = await api.gql('{ slowQueries { queryId } }');
    await api.close();
    expect(errorCodes(result)).toEqual(['EXTENSION_NOT_LOADED']);
    expect(result.errors![0]!.message).toBe(
      `pg_stat_statements is not installed in database "${bare.name}". To enable it, run CREATE EXTENSION pg_stat_statements; ` +
        `in database "${bare.name}" (the library must also be in shared_preload_libraries).`,
    );
  });

  it('works for a role with only pg_monitor', async () => {
    const caps = await detectCapabilities(connect(monitor.url(withExtensions.name)));
    expect(caps).toMatchObject({ role: monitor.name, isSuperuser: false, isMonitor: true, canReadAllStats: true });
    expect(caps.pgStatStatementsReadable).toBe(true);
    // pg_monitor includes pg_read_all_settings, so the preload setting is visible
    expect(caps.pgStatStatementsPreloaded).toBe(true);
  });

  it('degrades for a role without pg_monitor and names the grant', async () => {
    const caps = await detectCapabilities(connect(plain.url(withExtensions.name)));
    expect(caps).toMatchObject({ isMonitor: false, canReadAllStats: false, pgStatStatementsPreloaded: null });
    const otherRoles = degradedFeatures(caps, { mutationsEnabled: false, ownSchemaReady: false }).find(
      (d) => d.feature === 'slowQueries.otherRoles',
    );
    expect(otherRoles?.remedy).toBe(`GRANT pg_read_all_stats TO ${plain.name}; (or pg_monitor, which includes it).`);
  });

  it('answers through GraphQL with the degraded features', async () => {
    const api = createTestApp(withExtensions.url);
    const result = await api.gql<{
      capabilities: { database: string; pgStatStatements: { installed: boolean }; degraded: Array<{ feature: string }> };
    }>(
      '{ capabilities { database pgStatStatements { installed version } mutationsEnabled privileges { role superuser } degraded { feature reason remedy } } }',
    );
    await api.close();
    expect(result.errors).toBeUndefined();
    expect(result.data!.capabilities.database).toBe(withExtensions.name);
    expect(result.data!.capabilities.pgStatStatements.installed).toBe(true);
    const features = result.data!.capabilities.degraded.map((d) => d.feature);
    expect(features).toContain('changeLog');
    expect(features.includes('indexRecommendations.whatIf')).toBe(!inject('hypopgAvailable'));
  });
});
