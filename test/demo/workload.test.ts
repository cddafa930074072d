// The reference workload: its loader and its query mix, on a real database at a small scale.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCapabilities } from '../../src/db/capabilities.js';
import { Database } from '../../src/db/pool.js';
import { slowQueries } from '../../src/db/queryStats.js';
import { loadReferenceWorkload } from '../../src/demo/load.js';
import { loadQueryMix, parseScript, pickWeighted, QUERY_MIX, seededRandom, startWorkload } from '../../src/demo/workload.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';

const SCALE = 0.01;
let target: TestDatabase;

beforeAll(async () => {
  target = await createTestDatabase('demo');
  await loadReferenceWorkload(target.url, SCALE, () => undefined);
});

afterAll(async () => {
  await target.drop();
});

describe('loadReferenceWorkload', () => {
  it('creates the four tables with deterministic row counts at the given scale', async () => {
    const [counts] = await target.sql<Record<string, bigint>>(
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
    expect(script.sql).toBe("SELECT count(*) FROM t WHERE ts >= now() - ($1::int || ' hours')::interval AND ts < now() - (($1::int - 1) || ' hours')::interval");
    const values = Array.from({ length: 100 }, () => script.draw(seededRandom(7))[0]!);
    expect(values.every((value) => value >= 1 && value <= 7000)).toBe(true);
  });

  it('scales random bounds with :scale', () => {
    const script = parseScript('login', 40, "\\set uid random(1, 200000 * :scale)\nSELECT 1 WHERE :uid > 0;", 0.01);
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
    const workload = startWorkload(target.url, SCALE, 50, () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await workload.stop();
    const db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
    const rows = await slowQueries(db, await detectCapabilities(db), { minMeanTimeMs: 0, minCalls: 1, orderBy: 'CALLS', limit: 100 });
    await db.end();
    const texts = rows.map((row) => row.query);
    for (const table of ['FROM users WHERE email', 'FROM users WHERE username', 'FROM activity_logs WHERE user_id', 'FROM workflow_templates', 'FROM audit_trails']) {
      expect(texts.some((text) => text.includes(table))).toBe(true);
    }
  });
});
