// indexBuilds: a concurrent build slowed down on purpose (see ddlFixtures), seen while it scans the
// table, by pgscope's own role, through the API, and by a role without pg_monitor (pid only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIndexBuilds, progressRatio, type IndexBuildRow } from '../../src/db/indexBuilds.js';
import { Database } from '../../src/db/pool.js';
import { SLOW_BUILD_FIXTURE, buildInPhase, setSlow } from '../actions/ddlFixtures.js';
import { createTestApp, createTestDatabase, testConfig, type TestApp, type TestDatabase } from '../harness/database.js';
import { createRole, type TestRole } from '../harness/roles.js';
import { waitFor } from '../harness/waitFor.js';

const PHASE = 'building index: scanning table';

let target: TestDatabase;
let db: Database;
let builder: Database;
let plain: TestRole;
let api: TestApp;
let building: Promise<unknown>;
let builderPid: number;
let tableBlocks: bigint;

beforeAll(async () => {
  target = await createTestDatabase('index_builds');
  for (const statement of SLOW_BUILD_FIXTURE) await target.sql(statement);
  plain = await createRole('builds_plain');
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  builder = new Database(target.url, { applicationName: 'pgscope-test-builder', pool: testConfig().pool });
  api = createTestApp(target.url);
  [{ blocks: tableBlocks }] = (await target.sql<{ blocks: bigint }>(
    "SELECT (pg_relation_size('public.slowt') / current_setting('block_size')::int)::int8 AS blocks",
  )) as [{ blocks: bigint }];
  await setSlow(target, true);
  building = builder
    .withClient((session) => session.query('CREATE INDEX CONCURRENTLY slowt_key_idx ON public.slowt (public.slow_key(v))'), {
      statementTimeoutMs: 0,
    })
    .catch((error: unknown) => error);
  builderPid = await buildInPhase(target, 'slowt', PHASE);
});

afterAll(async () => {
  if (builderPid) await target.sql('SELECT pg_cancel_backend($1)', [builderPid]);
  await building;
  await api?.close();
  await db?.end();
  await builder?.end();
  await target?.drop();
  await plain?.drop();
});

describe('loadIndexBuilds', () => {
  it('shows the running build with its table, index, command, phase and counters', async () => {
    const builds = await loadIndexBuilds(db);
    expect(builds).toHaveLength(1);
    const build = builds[0]!;
    expect(build).toMatchObject({
      pid: builderPid,
      schema: 'public',
      table: 'slowt',
      index_name: 'slowt_key_idx',
      command: 'CREATE INDEX CONCURRENTLY',
      phase: PHASE,
      blocks_total: tableBlocks,
      partitions_total: 0n,
      partitions_done: 0n,
    });
    expect(build.query_start).toBeInstanceOf(Date);
    expect(build.progress_ratio).toBe(Number(build.blocks_done) / Number(tableBlocks));
  });

  it("shows only the pid of another role's build to a role without pg_monitor", async () => {
    const restricted = new Database(plain.url(target.name), { applicationName: 'pgscope-test-plain', pool: testConfig().pool });
    try {
      const [build] = await loadIndexBuilds(restricted);
      expect(build).toMatchObject({
        pid: builderPid,
        schema: null,
        table: null,
        index_name: null,
        phase: null,
        blocks_total: null,
        progress_ratio: null,
      });
    } finally {
      await restricted.end();
    }
  });
});

describe('progressRatio', () => {
  const row = (counters: Partial<IndexBuildRow>): IndexBuildRow =>
    ({
      blocks_done: null,
      blocks_total: null,
      tuples_done: null,
      tuples_total: null,
      lockers_done: null,
      lockers_total: null,
      partitions_done: null,
      partitions_total: null,
      ...counters,
    }) as IndexBuildRow;

  it("is the current phase's fraction on a plain table, from blocks, else tuples, else lockers", () => {
    expect(progressRatio(row({ blocks_done: 3n, blocks_total: 4n }))).toBe(0.75);
    expect(progressRatio(row({ blocks_done: 0n, blocks_total: 0n, tuples_done: 1n, tuples_total: 5n }))).toBe(0.2);
    expect(progressRatio(row({ lockers_done: 1n, lockers_total: 2n }))).toBe(0.5);
    expect(progressRatio(row({ blocks_total: 0n, tuples_total: 0n }))).toBeNull();
  });

  it("counts finished partitions plus the current one's fraction on a partitioned table", () => {
    expect(progressRatio(row({ partitions_done: 1n, partitions_total: 4n, blocks_done: 1n, blocks_total: 2n }))).toBe(0.375);
    expect(progressRatio(row({ partitions_done: 2n, partitions_total: 4n }))).toBe(0.5);
  });
});

describe('indexBuilds through the API', () => {
  it('answers a reader with the running build', async () => {
    const result = await api.gql<{ indexBuilds: Array<Record<string, unknown>> }>(
      '{ indexBuilds { pid schema table indexName command phase blocksTotal partitionsTotal progressRatio } }',
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.indexBuilds).toEqual([
      expect.objectContaining({
        pid: builderPid,
        schema: 'public',
        table: 'slowt',
        indexName: 'slowt_key_idx',
        command: 'CREATE INDEX CONCURRENTLY',
        phase: PHASE,
        blocksTotal: String(tableBlocks),
        partitionsTotal: '0',
      }),
    ]);
  });

  it('is empty once the build is gone', async () => {
    await target.sql('SELECT pg_cancel_backend($1)', [builderPid]);
    await building;
    await waitFor('the cancelled build to leave pg_stat_progress_create_index', async () => (await loadIndexBuilds(db)).length === 0);
    const result = await api.gql<{ indexBuilds: unknown[] }>('{ indexBuilds { pid } }');
    expect(result.data!.indexBuilds).toEqual([]);
    builderPid = 0;
  });
});
