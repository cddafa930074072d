// Settings review against a known state: per-database settings (ALTER DATABASE ... SET) for what
// PostgreSQL lets a database override, the test server's own values (read here with SQL) for the
// rest, a table of 1.2M rows for the autovacuum advice, and a sort that spills to temporary files.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { formatBytes, memorySetting, reviewSettings, type ReviewInput } from '../../src/review/settings.js';
import type { SettingRow, SettingsSnapshot } from '../../src/db/settings.js';
import { createTestApp, createTestDatabase, errorCodes, type TestApp, type TestDatabase } from '../harness/database.js';
import { createRole, type TestRole } from '../harness/roles.js';
import { waitFor } from '../harness/waitFor.js';
import { quoteIdent } from '../../src/sql/quote.js';

const MB = 1024 ** 2;
const GB = 1024 ** 3;

let target: TestDatabase;
let monitor: TestRole;
let api: TestApp;
/** The test server's own values (shared_buffers and max_connections cannot be set per database). */
let server: {
  shared_buffers: number;
  block_size: number;
  max_connections: number;
  reserved: number;
  pgss_max: number;
  temp_files: number;
  temp_bytes: number;
};

/** Before PostgreSQL 15 the statistics collector receives counters a little later. */
const waitForTempFiles = () =>
  waitFor('pg_stat_database to count the temporary file of the spilling sort', async () => {
    const [row] = await target.sql<{ temp_files: bigint }>('SELECT temp_files FROM pg_stat_database WHERE datname = current_database()');
    return row!.temp_files > 0n;
  });

beforeAll(async () => {
  [target, monitor] = await Promise.all([createTestDatabase('settings'), createRole('settings_monitor', ['pg_monitor'])]);
  await target.sql(
    `ALTER DATABASE ${quoteIdent(target.name)} SET work_mem = '64MB';
     ALTER DATABASE ${quoteIdent(target.name)} SET maintenance_work_mem = '64MB';
     ALTER DATABASE ${quoteIdent(target.name)} SET effective_cache_size = '4GB';
     ALTER DATABASE ${quoteIdent(target.name)} SET random_page_cost = 4;
     ALTER DATABASE ${quoteIdent(target.name)} SET effective_io_concurrency = 1;
     ALTER DATABASE ${quoteIdent(target.name)} SET track_io_timing = off`,
  );
  await target.sql(
    `CREATE TABLE big_events (id int) WITH (autovacuum_enabled = false);
     INSERT INTO big_events SELECT generate_series(1, 1200000);
     ANALYZE big_events`,
  );
  // a sort of 100,000 rows in 64 kB of work_mem writes temporary files; PostgreSQL 15+ publish a
  // session's counters when it goes idle, at most once a second unless forced
  await target.sql(
    `SET work_mem = '64kB';
     SELECT count(*) FROM (SELECT g FROM generate_series(1, 100000) g ORDER BY g DESC) sorted;
     ${inject('pgMajorVersion') >= 15 ? 'SELECT pg_stat_force_next_flush()' : ''}`,
  );
  await waitForTempFiles();
  const [row] = await target.sql<typeof server>(
    `SELECT
       (SELECT setting::int8 * current_setting('block_size')::int FROM pg_settings WHERE name = 'shared_buffers')::float8 AS shared_buffers,
       current_setting('block_size')::int AS block_size,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int
         + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved,
       current_setting('pg_stat_statements.max')::int AS pgss_max,
       temp_files::float8 AS temp_files,
       temp_bytes::float8 AS temp_bytes
     FROM pg_stat_database
     WHERE datname = current_database()`,
  );
  server = row!;
  api = createTestApp(target.url);
});

afterAll(async () => {
  await api?.close();
  await target.drop();
  await monitor.drop();
});

interface Advice {
  name: string;
  value: string;
  unit: string | null;
  display: string;
  /** BigInt: a string of digits. */
  valueBytes: string | null;
  valueMs: number | null;
  source: string;
  requiresRestart: boolean;
  severity: string;
  reason: string;
  recommended: string | null;
  recommendedBytes: string | null;
}

const FIELDS = 'name value unit display valueBytes valueMs source requiresRestart severity reason recommended recommendedBytes';

async function review(app: TestApp, args: string): Promise<Map<string, Advice>> {
  const result = await app.gql<{ settingsReview: Advice[] }>(`{ settingsReview${args ? `(${args})` : ''} { ${FIELDS} } }`);
  expect(result.errors).toBeUndefined();
  return new Map(result.data!.settingsReview.map((advice) => [advice.name, advice]));
}

/** pg_stat_statements_info.dealloc; null before extension 1.9 (PostgreSQL 13), which has no such view. */
async function statementsDeallocated(): Promise<number | null> {
  const [info] = await target.sql<{ exists: boolean }>("SELECT to_regclass('pg_stat_statements_info') IS NOT NULL AS exists");
  if (!info!.exists) return null;
  const [row] = await target.sql<{ dealloc: bigint }>('SELECT dealloc FROM pg_stat_statements_info');
  return Number(row!.dealloc);
}

const ORDER = [
  'shared_buffers',
  'effective_cache_size',
  'work_mem',
  'maintenance_work_mem',
  'random_page_cost',
  'effective_io_concurrency',
  'max_connections',
  'autovacuum',
  'autovacuum_vacuum_scale_factor',
  'track_io_timing',
  'pg_stat_statements.max',
];

/** 128 x shared_buffers: 16 GB on the harness's servers (initdb's 128 MB). */
const ram = () => 128 * server.shared_buffers;

function expectedWithMemoryAndSsd(): Record<string, Partial<Advice>> {
  const quarter = memorySetting(ram() / 4);
  const threeQuarters = memorySetting(ram() * 0.75);
  const perConnection = memorySetting(ram() / 4 / server.max_connections);
  const maintenance = memorySetting(Math.min(ram() / 16, 2 * GB));
  const usable = server.max_connections - server.reserved;
  const RAM = formatBytes(ram());
  return {
    shared_buffers: {
      value: String(server.shared_buffers / server.block_size),
      unit: `${server.block_size / 1024}kB`,
      valueBytes: String(server.shared_buffers),
      requiresRestart: true,
      severity: 'WARNING',
      reason: `shared_buffers is ${formatBytes(server.shared_buffers)}; with ${RAM} of RAM the usual starting point is 25% (${formatBytes(quarter.bytes!)}) (PostgreSQL manual).`,
      recommended: quarter.text,
      recommendedBytes: String(quarter.bytes!),
    },
    effective_cache_size: {
      value: '524288',
      unit: '8kB',
      display: '4GB',
      valueBytes: String(4 * GB),
      source: 'database',
      requiresRestart: false,
      severity: 'WARNING',
      reason:
        `effective_cache_size is 4 GB; with ${RAM} of RAM the usual value is 50% (conservative) to 75% of RAM, what the OS cache and ` +
        'shared_buffers can hold (PostgreSQL wiki, "Tuning Your PostgreSQL Server"): ' +
        `${formatBytes(ram() / 2)} to ${formatBytes(ram() * 0.75)}. Set too low, the planner underestimates caching and avoids index scans.`,
      recommended: threeQuarters.text,
      recommendedBytes: String(threeQuarters.bytes!),
    },
    work_mem: {
      value: '65536',
      unit: 'kB',
      display: '64MB',
      valueBytes: String(64 * MB),
      severity: 'WARNING',
      reason:
        `work_mem is 64 MB, above 25% of ${RAM} of RAM shared by max_connections ${server.max_connections} ` +
        `(about ${formatBytes(perConnection.bytes!)} each, a common rule of thumb): every sort or hash of every session may take work_mem, ` +
        'so many busy sessions could exhaust memory.',
      recommended: perConnection.text,
      recommendedBytes: String(perConnection.bytes!),
    },
    maintenance_work_mem: {
      valueBytes: String(64 * MB),
      severity: 'INFO',
      reason:
        'maintenance_work_mem is 64 MB: VACUUM and CREATE INDEX run faster with more, and a common rule (PGTune) is RAM / 16, ' +
        `at most 2 GB, so ${formatBytes(maintenance.bytes!)} with ${RAM} of RAM.`,
      recommended: maintenance.text,
      recommendedBytes: String(maintenance.bytes!),
    },
    random_page_cost: {
      value: '4',
      unit: null,
      valueBytes: null,
      valueMs: null,
      severity: 'WARNING',
      reason:
        'random_page_cost is 4, a value for spinning disks: on SSD a random read costs little more than a sequential one, and 1.1 is usual. ' +
        'Set too high, the planner avoids index scans that would pay off.',
      recommended: '1.1',
      recommendedBytes: null,
    },
    effective_io_concurrency: {
      value: '1',
      severity: 'INFO',
      reason:
        'effective_io_concurrency is 1; SSDs serve many reads at once, and the PostgreSQL manual suggests values in the hundreds for them: ' +
        '200 is common. Prefetching speeds up bitmap heap scans.',
      recommended: '200',
    },
    max_connections: {
      value: String(server.max_connections),
      requiresRestart: true,
      severity: 'OK',
      reason:
        `max_connections is ${server.max_connections} (${usable} usable, ${server.reserved} reserved); ` +
        "pgscope's pool (4) and yours (50) open at most 54, which fits.",
      recommended: null,
    },
    autovacuum: { value: 'on', severity: 'OK', reason: 'autovacuum is on, with track_counts (which it needs).', recommended: null },
    autovacuum_vacuum_scale_factor: {
      value: '0.2',
      severity: 'WARNING',
      reason:
        "autovacuum_vacuum_scale_factor is 0.2: autovacuum waits until 20% of a table's rows are dead. " +
        '1 table of 1,000,000 rows or more uses this global value (public.big_events); give such tables their own, ' +
        'e.g. ALTER TABLE public.big_events SET (autovacuum_vacuum_scale_factor = 0.01).',
      recommended: '0.01',
    },
    track_io_timing: {
      value: 'off',
      source: 'database',
      severity: 'INFO',
      reason:
        'track_io_timing is off, so the time statements spend reading blocks is not measured (slowQueries.blockReadTimeMs stays null). ' +
        'Its overhead is small where the clock is fast: check with pg_test_timing.',
      recommended: 'on',
    },
  };
}

function expectedStatementsMax(dealloc: number | null): Partial<Advice> {
  const head = `pg_stat_statements.max is ${server.pgss_max}`;
  if (dealloc === null) {
    return {
      severity: 'INFO',
      reason: `${head}. Evictions are counted from pg_stat_statements 1.9 (PostgreSQL 14) on, so pgscope cannot tell whether statistics were lost.`,
      recommended: null,
    };
  }
  // the server's pg_stat_statements is shared with the other test files: evictions depend on them
  if (dealloc === 0)
    return { severity: 'OK', reason: `${head} and no entry was evicted since its statistics were reset.`, recommended: null };
  return {
    severity: 'WARNING',
    reason: `${head} and the least-used entries were evicted ${dealloc.toLocaleString('en-US')} times since its statistics were reset, losing their statistics. Raise it, e.g. to ${2 * server.pgss_max} (needs a restart).`,
    recommended: String(2 * server.pgss_max),
  };
}

describe('settingsReview', () => {
  it('advises on each setting from the machine memory, storage and pools given', async () => {
    const advice = await review(api, `machineMemoryBytes: ${ram()}, storage: SSD, poolConnections: 50`);
    const dealloc = await statementsDeallocated();
    expect([...advice.keys()]).toEqual(ORDER);
    for (const [name, expected] of Object.entries(expectedWithMemoryAndSsd())) {
      expect({ name, ...advice.get(name) }).toMatchObject({ name, ...expected });
    }
    expect(advice.get('pg_stat_statements.max')).toMatchObject(expectedStatementsMax(dealloc));
  });

  it('counts temporary files as evidence for work_mem', async () => {
    expect(server.temp_files).toBeGreaterThan(0);
    // 512 x shared_buffers (64 GB): a quarter over max_connections exceeds the 64 MB work_mem
    const memory = 512 * server.shared_buffers;
    const ceiling = memorySetting(memory / 4 / server.max_connections);
    const advice = await review(api, `machineMemoryBytes: ${memory}, storage: HDD`);
    expect(advice.get('work_mem')).toMatchObject({
      severity: 'INFO',
      reason:
        `work_mem is 64 MB; queries of this database wrote ${server.temp_files} temporary files (${formatBytes(server.temp_bytes)}) since its ` +
        'statistics were last reset: sorts and hashes that did not fit in work_mem. ' +
        `Raising it toward 25% of ${formatBytes(memory)} of RAM shared by max_connections ${server.max_connections} ` +
        `(about ${formatBytes(ceiling.bytes!)} each, a common rule of thumb) keeps more of them in memory.`,
      recommended: ceiling.text,
    });
    expect(advice.get('random_page_cost')).toMatchObject({
      severity: 'OK',
      reason: "random_page_cost is 4: suits spinning disks (PostgreSQL's default 4 models them).",
    });
    expect(advice.get('effective_io_concurrency')).toMatchObject({
      severity: 'OK',
      reason: 'effective_io_concurrency is 1: for spinning disks, about the number of drives in the array is right.',
    });
  });

  it('says which input is missing when memory, storage or pools are not given', async () => {
    const advice = await review(api, '');
    for (const name of ['shared_buffers', 'effective_cache_size', 'work_mem', 'maintenance_work_mem']) {
      expect(advice.get(name)).toMatchObject({
        severity: 'INFO',
        recommended: null,
        reason: expect.stringMatching(/pass machineMemoryBytes/i),
      });
    }
    expect(advice.get('shared_buffers')!.reason).toBe(
      `shared_buffers is ${formatBytes(server.shared_buffers)}. The usual starting point is 25% of the machine's RAM (PostgreSQL manual); pass machineMemoryBytes to compare.`,
    );
    expect(advice.get('work_mem')!.reason).toContain(`queries of this database wrote ${server.temp_files} temporary files`);
    for (const name of ['random_page_cost', 'effective_io_concurrency']) {
      expect(advice.get(name)).toMatchObject({ severity: 'INFO', recommended: null, reason: expect.stringContaining('Pass storage') });
    }
    const usable = server.max_connections - server.reserved;
    expect(advice.get('max_connections')).toMatchObject({
      severity: 'INFO',
      reason:
        `max_connections is ${server.max_connections} (${usable} usable, ${server.reserved} reserved); pgscope's pool opens at most 4. ` +
        "Pass poolConnections (your applications' pool sizes, summed) to check them against it.",
    });
  });

  it('warns when the pools can open more connections than the server allows', async () => {
    const usable = server.max_connections - server.reserved;
    const pools = usable; // with pgscope's 4, four too many
    const advice = await review(api, `poolConnections: ${pools}`);
    const raiseTo = 4 + pools + server.reserved + 10;
    expect(advice.get('max_connections')).toMatchObject({
      severity: 'WARNING',
      reason:
        `max_connections is ${server.max_connections} (${usable} usable, ${server.reserved} reserved), but pgscope's pool (4) and yours (${pools}) ` +
        `open at most ${pools + 4}: connections would be refused under load. Raise max_connections to ${raiseTo} ` +
        '(pools + reserved + 10 for administration), or shrink the pools, or put PgBouncer in front.',
      recommended: String(raiseTo),
    });
  });

  it('answers the same for a role with only pg_monitor', async () => {
    const asMonitor = createTestApp(monitor.url(target.name));
    try {
      const advice = await review(asMonitor, `machineMemoryBytes: ${ram()}, storage: SSD, poolConnections: 50`);
      const dealloc = await statementsDeallocated();
      expect([...advice.keys()]).toEqual(ORDER);
      for (const [name, expected] of Object.entries(expectedWithMemoryAndSsd())) {
        expect({ name, ...advice.get(name) }).toMatchObject({ name, ...expected });
      }
      expect(advice.get('pg_stat_statements.max')).toMatchObject(expectedStatementsMax(dealloc));
    } finally {
      await asMonitor.close();
    }
  });

  it.each([
    ['machineMemoryBytes: -1', 'machineMemoryBytes must be from 134217728 (128 MB) to 70368744177664 (64 TB) bytes, got -1.'],
    ['machineMemoryBytes: 16384', 'machineMemoryBytes must be from 134217728 (128 MB) to 70368744177664 (64 TB) bytes, got 16384.'],
    [
      'machineMemoryBytes: "1152921504606846976"',
      'machineMemoryBytes must be from 134217728 (128 MB) to 70368744177664 (64 TB) bytes, got 1152921504606846976.',
    ],
    ['poolConnections: -1', 'poolConnections must be a whole number from 0 to 262143, got -1.'],
    ['poolConnections: 300000', 'poolConnections must be a whole number from 0 to 262143, got 300000.'],
  ])('rejects %s', async (args, message) => {
    const result = await api.gql(`{ settingsReview(${args}) { name } }`);
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.message).toBe(message);
  });

  it('is satisfied once the large table has its own scale factor', async () => {
    await target.sql('ALTER TABLE big_events SET (autovacuum_vacuum_scale_factor = 0.01)');
    const advice = await review(api, '');
    expect(advice.get('autovacuum_vacuum_scale_factor')).toMatchObject({
      severity: 'OK',
      reason: 'autovacuum_vacuum_scale_factor is 0.2; no table of 1,000,000 rows or more uses it (none, or each has its own).',
      recommended: null,
    });
  });
});

// The rules on states the test server cannot be put in (restart-only settings, busy servers).
describe('reviewSettings rules', () => {
  const setting = (name: string, value: string, extra: Partial<SettingRow> = {}): SettingRow => ({
    name,
    value,
    unit: null,
    display: value,
    source: 'configuration file',
    requires_restart: false,
    value_bytes: null,
    value_ms: null,
    value_number: Number.isNaN(Number(value)) ? null : Number(value),
    ...extra,
  });
  const memory = (name: string, bytes: number) => setting(name, String(bytes / 8192), { unit: '8kB', value_bytes: BigInt(bytes) });
  const snapshot = (rows: SettingRow[], overrides: Partial<SettingsSnapshot> = {}): SettingsSnapshot => ({
    settings: new Map(rows.map((row) => [row.name, row])),
    evidence: { temp_files: 0n, temp_bytes: 0n, client_connections: 10 },
    largeTables: [],
    statementsDeallocated: 0n,
    ...overrides,
  });
  const input: ReviewInput = { machineMemoryBytes: 16 * GB, storage: 'SSD', poolConnections: null, pgscopePoolMax: 10 };
  const one = (snap: SettingsSnapshot, name: string, given: Partial<ReviewInput> = {}) =>
    reviewSettings(snap, { ...input, ...given }).find((advice) => advice.name === name)!;

  it('accepts shared_buffers between 20% and 40% of RAM and warns beyond', () => {
    expect(one(snapshot([memory('shared_buffers', 4 * GB)]), 'shared_buffers')).toMatchObject({
      severity: 'OK',
      reason: 'shared_buffers is 4 GB, 25% of 16 GB of RAM: within the usual 20% to 40% (PostgreSQL manual: start at 25%).',
    });
    expect(one(snapshot([memory('shared_buffers', 8 * GB)]), 'shared_buffers')).toMatchObject({
      severity: 'WARNING',
      reason:
        'shared_buffers is 8 GB; with 16 GB of RAM the usual starting point is 25% (4 GB), and more than 40% rarely works better (PostgreSQL manual).',
      recommended: '4GB',
      recommended_bytes: BigInt(4 * GB),
    });
  });

  it('grades effective_cache_size above 75% and above RAM', () => {
    expect(one(snapshot([memory('effective_cache_size', 14 * GB)]), 'effective_cache_size').severity).toBe('INFO');
    expect(one(snapshot([memory('effective_cache_size', 32 * GB)]), 'effective_cache_size')).toMatchObject({
      severity: 'WARNING',
      recommended: '12GB',
    });
    expect(one(snapshot([memory('effective_cache_size', 10 * GB)]), 'effective_cache_size').severity).toBe('OK');
  });

  it('warns when most connection slots are taken', () => {
    const rows = [setting('max_connections', '100'), setting('superuser_reserved_connections', '3')];
    const busy = snapshot(rows, { evidence: { temp_files: 0n, temp_bytes: 0n, client_connections: 90 } });
    expect(one(busy, 'max_connections')).toMatchObject({
      severity: 'WARNING',
      reason:
        "max_connections is 100 (97 usable, 3 reserved), and 90 client connections are open now (92.8%): new ones may soon be refused; pgscope's pool opens at most 10.",
      recommended: null,
    });
  });

  it('warns about autovacuum or track_counts off, and low random_page_cost on HDD', () => {
    expect(one(snapshot([setting('autovacuum', 'off')]), 'autovacuum')).toMatchObject({ severity: 'WARNING', recommended: 'on' });
    expect(one(snapshot([setting('autovacuum', 'on'), setting('track_counts', 'off')]), 'autovacuum')).toMatchObject({
      severity: 'WARNING',
      reason: 'autovacuum is on but track_counts is off, so it cannot tell which tables need work: turn track_counts on.',
    });
    expect(one(snapshot([setting('random_page_cost', '1.1')]), 'random_page_cost', { storage: 'HDD' })).toMatchObject({
      severity: 'WARNING',
      recommended: '4',
    });
  });

  it('names several large tables and counts the rest', () => {
    const largeTables = ['a', 'b', 'c', 'd', 'E'].map((table) => ({
      schema: 's',
      table,
      qualified_name: table === 'E' ? 's."E"' : `s.${table}`,
      row_estimate: 2_000_000n,
      total: 7,
    }));
    expect(
      one(snapshot([setting('autovacuum_vacuum_scale_factor', '0.1')], { largeTables }), 'autovacuum_vacuum_scale_factor').reason,
    ).toBe(
      "autovacuum_vacuum_scale_factor is 0.1: autovacuum waits until 10% of a table's rows are dead. 7 tables of 1,000,000 rows or more " +
        'use this global value (s.a, s.b, s.c, s.d, s."E" and 2 more); give such tables their own, e.g. ALTER TABLE s.a SET (autovacuum_vacuum_scale_factor = 0.01).',
    );
  });

  it('reports pg_stat_statements evictions, or that they cannot be seen', () => {
    const max = setting('pg_stat_statements.max', '5000');
    expect(one(snapshot([max], { statementsDeallocated: 12n }), 'pg_stat_statements.max')).toMatchObject({
      severity: 'WARNING',
      recommended: '10000',
    });
    expect(one(snapshot([max], { statementsDeallocated: 'BEFORE_1_9' }), 'pg_stat_statements.max')).toMatchObject({
      severity: 'INFO',
      reason:
        'pg_stat_statements.max is 5000. Evictions are counted from pg_stat_statements 1.9 (PostgreSQL 14) on, so pgscope cannot tell whether statistics were lost.',
    });
    expect(one(snapshot([max], { statementsDeallocated: 'NOT_INSTALLED' }), 'pg_stat_statements.max')).toMatchObject({
      severity: 'INFO',
      reason:
        'pg_stat_statements.max is 5000. pg_stat_statements is not installed in this database, so pgscope cannot tell whether entries were evicted.',
    });
  });

  it('skips settings the server does not have', () => {
    expect(reviewSettings(snapshot([setting('autovacuum', 'on')]), input).map((advice) => advice.name)).toEqual(['autovacuum']);
  });
});

describe('byte formatting', () => {
  it.each([
    [134217728, '128 MB', '128MB'],
    [17179869184, '16 GB', '16GB'],
    [21474836.48, '20.5 MB', '20MB'],
    [4096, '4 kB', '64kB'],
    [512, '512 B', '64kB'],
  ])('%s bytes reads %s and is set as %s', (bytes, text, setting) => {
    expect(formatBytes(bytes)).toBe(text);
    expect(memorySetting(bytes).text).toBe(setting);
  });
});
