// The advisor bench's workloads: the draws the mixes compute are the loader's, every statement of
// each mix runs on the loaded tables with parameters that find rows, the mix draws the same
// statements and values for the same seed, and the DBA's sets build on the schemas.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryOnce } from '../../src/db/pool.js';
import { seededRandom } from '../../src/demo/workload.js';
import { rowsAt, unit, zipf } from '../../bench/draw.js';
import { drawStatement } from '../../bench/mix.js';
import { SaasFacts, saas } from '../../bench/workloads/saas.js';
import { shop } from '../../bench/workloads/shop.js';
import { WORKLOADS_DIR } from '../../bench/workloads/workload.js';
import { createTestDatabase, type TestDatabase } from '../harness/database.js';

const SCALE = 0.01;
let shopDb: TestDatabase;
let saasDb: TestDatabase;

beforeAll(async () => {
  [shopDb, saasDb] = await Promise.all([createTestDatabase('bench_shop'), createTestDatabase('bench_saas')]);
  await Promise.all([shop.load(shopDb.url, SCALE, () => undefined), saas.load(saasDb.url, SCALE, () => undefined)]);
});

afterAll(async () => {
  await Promise.all([shopDb?.drop(), saasDb?.drop()]);
});

describe('bench draws', () => {
  it('computes in TypeScript what bench_gen computes in SQL', async () => {
    await queryOnce(shopDb.url, fs.readFileSync(`${WORKLOADS_DIR}gen.sql`, 'utf8'));
    const rows = await queryOnce<{ g: number; k: number; u: number; rank: number }>(
      shopDb.url,
      /* SQL */ `
      SELECT
        g,
        k,
        bench_gen.unit(g, k) AS u,
        bench_gen.zipf(bench_gen.unit(g, k), 2000, 1.05) AS rank
      FROM generate_series(1, 3000) g
      CROSS JOIN unnest(ARRAY[1, 2, 3, 51]) k
      ORDER BY g, k`,
      [],
      30_000,
    );
    await queryOnce(shopDb.url, 'DROP SCHEMA bench_gen CASCADE');
    const mismatches = rows.filter((row) => unit(row.g, row.k) !== row.u || zipf(unit(row.g, row.k), 2000, 1.05) !== row.rank);
    expect(rows).toHaveLength(12_000);
    expect(mismatches).toEqual([]);
  });

  it('skews Zipf ranks toward 1 and keeps them within 1..n', () => {
    const ranks = Array.from({ length: 10_000 }, (_, g) => zipf(unit(g + 1, 9), 100, 1.05));
    const top = ranks.filter((rank) => rank === 1).length;
    expect(Math.min(...ranks)).toBe(1);
    expect(Math.max(...ranks)).toBeLessThanOrEqual(100);
    // rank 1 holds (1 - 2^-0.05) / (1 - 101^-0.05) = 17 % of the draws; rank 100 about 0.2 %
    expect(top).toBeGreaterThan(1_500);
    expect(top).toBeLessThan(1_900);
  });
});

describe('query mixes', () => {
  it('draws the same statements and values for the same seed, and others for another', () => {
    const draws = (seed: number) => {
      const random = seededRandom(seed);
      const scripts = saas.mix(SCALE);
      return Array.from({ length: 200 }, () => {
        const { script, values } = drawStatement(scripts, random);
        return [script.name, ...values];
      });
    };
    expect(draws(7)).toEqual(draws(7));
    expect(draws(7)).not.toEqual(draws(8));
  });

  it.each([
    ['shop', () => shopDb, shop],
    ['saas', () => saasDb, saas],
  ] as const)('runs every statement of the %s mix on its tables', async (_, db, workload) => {
    const random = seededRandom(1);
    const failures: string[] = [];
    for (const script of workload.mix(SCALE)) {
      for (let n = 0; n < 5; n += 1) {
        await db()
          .sql(script.sql, script.draw(random))
          .catch((error: Error) => failures.push(`${script.name}: ${error.message}`));
      }
    }
    expect(failures).toEqual([]);
  });

  it('finds rows for the parameters the saas mix draws: tenants own what the mix says', async () => {
    const facts = new SaasFacts(SCALE);
    const [mismatches] = await saasDb.sql<{ users: number; projects: number; tasks: number }>(
      /* SQL */ `
      SELECT
        (SELECT count(*)::int FROM users u JOIN unnest($1::bigint[]) WITH ORDINALITY x(tenant, id) ON x.id = u.id WHERE u.tenant_id <> x.tenant) AS users,
        (SELECT count(*)::int FROM projects p JOIN unnest($2::bigint[]) WITH ORDINALITY x(tenant, id) ON x.id = p.id WHERE p.tenant_id <> x.tenant) AS projects,
        (SELECT count(*)::int FROM tasks t JOIN projects p ON p.id = t.project_id WHERE t.tenant_id <> p.tenant_id OR t.project_id <> 1 + floor(($3::float8[])[t.id] * $4)) AS tasks`,
      [
        Array.from({ length: facts.users }, (_, i) => facts.tenantOfUser(i + 1)),
        Array.from({ length: facts.projects }, (_, i) => facts.tenantOfProject(i + 1)),
        Array.from({ length: facts.tasks }, (_, i) => unit(i + 1, 3)),
        facts.projects,
      ],
    );
    expect(mismatches).toEqual({ users: 0, projects: 0, tasks: 0 });
    const [counts] = await saasDb.sql<Record<string, number>>(
      `SELECT (SELECT count(*)::int FROM tenants) AS tenants, (SELECT count(*)::int FROM users) AS users,
              (SELECT count(*)::int FROM projects) AS projects, (SELECT count(*)::int FROM tasks WHERE id <= $1) AS tasks`,
      [facts.tasks],
    );
    expect(counts).toEqual({ tenants: facts.tenants, users: facts.users, projects: facts.projects, tasks: facts.tasks });
  });

  it('loads the shop with one dominant order status and a small pending queue', async () => {
    const rows = await shopDb.sql<{ status: string; orders: number }>(
      `SELECT status, count(*)::int AS orders FROM orders WHERE id <= $1 GROUP BY status ORDER BY orders DESC, status`,
      [rowsAt(400_000, SCALE)],
    );
    const total = rows.reduce((sum, row) => sum + row.orders, 0);
    expect(total).toBe(rowsAt(400_000, SCALE));
    expect(rows[0]!.status).toBe('delivered');
    expect(rows[0]!.orders / total).toBeGreaterThan(0.8);
    const pending = rows.find((row) => row.status === 'pending')!.orders / total;
    expect(pending).toBeGreaterThan(0);
    expect(pending).toBeLessThan(0.01);
  });
});

describe("the DBA's index sets", () => {
  it.each([
    ['shop', () => shopDb, shop],
    ['saas', () => saasDb, saas],
  ] as const)('build on the %s schema', async (_, db, workload) => {
    await db().sql(fs.readFileSync(workload.handPicked.file, 'utf8'));
    const [{ indexes }] = (await db().sql<{ indexes: number }>(
      `SELECT count(*)::int AS indexes FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisprimary AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)`,
    )) as [{ indexes: number }];
    expect(indexes).toBe(workload === shop ? 10 : 8);
  });

  it.each([
    ['shop', () => shopDb, shop],
    ['saas', () => saasDb, saas],
  ] as const)('serve the %s mix: the planner takes each of them for some statement', async (_, db, workload) => {
    const indexes = (
      await db().sql<{ name: string }>(
        `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisprimary AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
         ORDER BY 1`,
      )
    ).map((row) => row.name);
    // Whether an index can serve, not whether it is cheapest on tables this small: no sequential scans.
    const url = new URL(db().url);
    url.searchParams.set('options', '-c enable_seqscan=off');
    const random = seededRandom(3);
    const used = new Set<string>();
    for (const script of workload.mix(SCALE)) {
      for (let n = 0; n < 3; n += 1) {
        const [plan] = await queryOnce<{ 'QUERY PLAN': unknown }>(
          url.toString(),
          `EXPLAIN (FORMAT JSON) ${script.sql}`,
          script.draw(random),
        );
        for (const name of JSON.stringify(plan).matchAll(/"Index Name":"(\w+)"/g)) used.add(name[1]!);
      }
    }
    // A partition's index is named after the partition: count it for its parent.
    const parents = await db().sql<{ name: string }>(
      `SELECT coalesce(parent.relname, child.relname) AS name FROM pg_class child
       LEFT JOIN pg_inherits h ON h.inhrelid = child.oid LEFT JOIN pg_class parent ON parent.oid = h.inhparent
       WHERE child.relname = ANY($1) AND child.relkind IN ('i', 'I')`,
      [[...used]],
    );
    const served = new Set(parents.map((row) => row.name));
    expect(indexes.filter((name) => !served.has(name) && !name.endsWith('_pkey'))).toEqual([]);
  });
});
