// The reference workload: its loader, the index problems it plants, the role pgscope uses on the
// demo, and its query mix, on a real database at a small scale.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCapabilities } from '../../src/db/capabilities.js';
import { IndexFindingKinds } from '../../src/db/indexFindings.js';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database, queryOnce } from '../../src/db/pool.js';
import { slowQueries } from '../../src/db/queryStats.js';
import { loadReferenceWorkload } from '../../src/demo/load.js';
import { DEMO_OWNER_ROLE, DEMO_ROLE, ensureDemoRole } from '../../src/demo/role.js';
import { loadQueryMix, parseScript, pickWeighted, QUERY_MIX, seededRandom, startWorkload } from '../../src/demo/workload.js';
import { adminUrl, createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { urlForDatabase } from '../harness/urls.js';
import { waitFor } from '../harness/waitFor.js';
import { indexFindings } from '../../src/review/indexFindings.js';

const SCALE = 0.01;
let target: TestDatabase;

beforeAll(async () => {
  target = await createTestDatabase('demo');
  await loadReferenceWorkload(target.url, SCALE, () => undefined);
});

afterAll(async () => {
  await target.drop();
  // the database's grants went with it; pg_monitor membership does not keep a role from being dropped
  await queryOnce(adminUrl(), `DROP ROLE IF EXISTS ${DEMO_ROLE}`);
  await queryOnce(adminUrl(), `DROP ROLE IF EXISTS ${DEMO_OWNER_ROLE}`);
});

describe('loadReferenceWorkload', () => {
  it('creates the four tables with deterministic row counts at the given scale', async () => {
    // From the heap only: count(*) on the vacuumed audit_trails takes an index-only scan of the
    // planted audit_trails_entity_type, which would then no longer be UNUSED (seen on 13 and 14,
    // whose statistics arrive late enough to pass most of the time).
    const heapOnly = new URL(target.url);
    heapOnly.searchParams.set('options', '-c enable_indexscan=off -c enable_indexonlyscan=off -c enable_bitmapscan=off');
    const [counts] = await queryOnce<Record<string, bigint>>(
      heapOnly.toString(),
      `SELECT (SELECT count(*) FROM users) AS users,
              (SELECT count(*) FROM activity_logs) AS activity_logs,
              (SELECT count(*) FROM workflow_templates) AS workflow_templates,
              (SELECT count(*) FROM audit_trails) AS audit_trails,
              (SELECT count(*) FROM users WHERE NOT is_active) AS inactive_users`,
    );
    expect(counts).toEqual({ users: 2000n, activity_logs: 20000n, workflow_templates: 200n, audit_trails: 5000n, inactive_users: 200n });
  });

  it('partitions activity_logs by month: 13 months around today and a default partition', async () => {
    const partitions = await target.sql<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'activity_logs'::regclass ORDER BY 1`,
    );
    expect(partitions).toHaveLength(14);
    expect(partitions.at(-1)!.name).toBe('activity_logs_default');
    // every activity row is within 330 days, so the monthly partitions hold them all
    const [inDefault] = await target.sql<{ n: bigint }>('SELECT count(*) AS n FROM activity_logs_default');
    expect(inDefault!.n).toBe(0n);
  });

  it('leaves statistics for the advisor (ANALYZE ran)', async () => {
    const [stats] = await target.sql<{ n: bigint }>(`SELECT count(*) AS n FROM pg_stats WHERE tablename = 'users' AND attname = 'email'`);
    expect(stats!.n).toBe(1n);
  });
});

describe('the planted index problems', () => {
  it('shows one of each kind in indexFindings, and nothing else', async () => {
    const db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
    try {
      const findings = await indexFindings(db, await detectCapabilities(db), {
        tableOids: null,
        schema: null,
        includePartitions: false,
        kinds: IndexFindingKinds,
      });
      expect(findings.map((row) => [row.table, row.kind, row.index_name ?? row.foreign_key_name, row.covering_index_name])).toEqual([
        ['activity_logs', 'MISSING_FK_INDEX', 'activity_logs_user_id_fkey', null],
        ['audit_trails', 'UNUSED', 'audit_trails_entity', null],
        ['audit_trails', 'UNUSED', 'audit_trails_entity_type', null],
        ['audit_trails', 'REDUNDANT', 'audit_trails_entity_type', 'audit_trails_entity'],
        ['users', 'UNUSED', 'users_created_at', null],
        ['users', 'UNUSED', 'users_created_at_again', null],
        ['users', 'DUPLICATE', 'users_created_at_again', 'users_created_at'],
        ['workflow_templates', 'UNUSED', 'workflow_templates_created_at', null],
      ]);
    } finally {
      await db.end();
    }
  });
});

describe("pgscope's role on the demo database", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgscope-role-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("is the README role: no superuser, pg_monitor, pg_read_all_data, CREATE on the database, member of the tables' owner role; the same password on every start", async () => {
    const serverUrl = (database = 'postgres') => urlForDatabase(adminUrl(), database);
    const passwordFile = path.join(dir, 'role.json');
    const url = await ensureDemoRole(serverUrl, target.name, passwordFile);
    expect(await ensureDemoRole(serverUrl, target.name, passwordFile)).toBe(url);
    expect(fs.statSync(passwordFile).mode & 0o777).toBe(0o600);
    const [role] = await queryOnce(
      url,
      `SELECT current_user AS name, rolsuper AS superuser, rolcreaterole AS create_role, rolcreatedb AS create_db, rolbypassrls AS bypass_rls,
              pg_has_role(current_user, 'pg_monitor', 'MEMBER') AS monitor,
              has_database_privilege(current_user, current_database(), 'CREATE') AS create_schema,
              has_table_privilege(current_user, 'public.users', 'SELECT') AS read_users,
              has_schema_privilege(current_user, 'public', 'CREATE') AS create_in_public,
              (SELECT bool_and(pg_has_role(current_user, c.relowner, 'USAGE')) FROM pg_class c
               WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')) AS owns_every_table
       FROM pg_roles WHERE rolname = current_user`,
    );
    expect(role).toEqual({
      name: 'pgscope',
      superuser: false,
      create_role: false,
      create_db: false,
      bypass_rls: false,
      monitor: true,
      create_schema: true,
      read_users: true,
      create_in_public: true,
      // through membership in the owner role: the index and partition mutations may change the tables
      owns_every_table: true,
    });
    // the demo's admin token creates pgscope's schema as this role, and the findings read the same
    const asRole = new Database(url, { applicationName: 'pgscope-test', pool: testConfig().pool });
    try {
      expect(await migrateOwnSchema(asRole)).toMatchObject({ ok: true });
      const kinds = (
        await indexFindings(asRole, await detectCapabilities(asRole), {
          tableOids: null,
          schema: null,
          includePartitions: false,
          kinds: IndexFindingKinds,
        })
      ).map((row) => row.kind);
      expect(kinds).toEqual(['MISSING_FK_INDEX', 'UNUSED', 'UNUSED', 'REDUNDANT', 'UNUSED', 'UNUSED', 'DUPLICATE', 'UNUSED']);
    } finally {
      await asRole.end();
    }
  });
});

describe('the query mix', () => {
  it('follows the guide weights', () => {
    expect(Object.values(QUERY_MIX).reduce((a, b) => a + b, 0)).toBe(100);
    expect(loadQueryMix(1).map((script) => script.name)).toEqual(Object.keys(QUERY_MIX));
  });

  it('turns pgbench variables into typed bind parameters, one per variable', () => {
    const script = parseScript(
      'time_range',
      10,
      "\\set h random(1, 7000)\nSELECT count(*) FROM t WHERE ts >= now() - (:h || ' hours')::interval AND ts < now() - ((:h - 1) || ' hours')::interval;",
      1,
    );
    expect(script.sql).toBe(
      "SELECT count(*) FROM t WHERE ts >= now() - ($1::int || ' hours')::interval AND ts < now() - (($1::int - 1) || ' hours')::interval",
    );
    const values = Array.from({ length: 100 }, () => script.draw(seededRandom(7))[0]!);
    expect(values.every((value) => value >= 1 && value <= 7000)).toBe(true);
  });

  it('scales random bounds with :scale', () => {
    const script = parseScript('login', 40, '\\set uid random(1, 200000 * :scale)\nSELECT 1 WHERE :uid > 0;', 0.01);
    const random = seededRandom(1);
    const drawn = Array.from({ length: 500 }, () => script.draw(random)[0]!);
    expect(Math.max(...drawn)).toBeLessThanOrEqual(2000);
    expect(Math.min(...drawn)).toBeGreaterThanOrEqual(1);
  });

  it('picks scripts by weight', () => {
    const scripts = loadQueryMix(1);
    const random = seededRandom(3);
    const picks = new Map<string, number>();
    for (let i = 0; i < 10_000; i += 1) {
      const name = pickWeighted(scripts, random).name;
      picks.set(name, (picks.get(name) ?? 0) + 1);
    }
    expect(picks.get('login')! / 10_000).toBeCloseTo(0.4, 1);
    expect(picks.get('audit_meta')! / 10_000).toBeCloseTo(0.05, 1);
  });

  it('runs every statement of the mix against the reference schema, so pg_stat_statements sees them', async () => {
    const statements = [
      'FROM users WHERE email',
      'FROM users WHERE username',
      'FROM activity_logs WHERE user_id',
      'FROM workflow_templates',
      'FROM audit_trails',
    ];
    const workload = startWorkload(target.url, SCALE, 50, () => undefined);
    const db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
    try {
      const caps = await detectCapabilities(db);
      // the workload runs every script once first: wait until pg_stat_statements has each of them
      const texts = await waitFor(`pg_stat_statements to show ${statements.join(', ')}`, async () => {
        const rows = await slowQueries(db, caps, { minMeanTimeMs: 0, minCalls: 1, orderBy: 'CALLS', limit: 100 });
        const found = rows.map((row) => row.query);
        return statements.every((statement) => found.some((text) => text.includes(statement))) ? found : undefined;
      });
      for (const table of statements) {
        expect(texts.some((text) => text.includes(table))).toBe(true);
      }
    } finally {
      await workload.stop();
      await db.end();
    }
  });
});
