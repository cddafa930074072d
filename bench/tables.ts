// "tables": one request for N tables with their stats and indexes, at N = 100, 1,000 and 5,000:
// SQL statements per request (DataLoader batching: constant in N) and latency (at most linear).
import { loadConfig } from '../src/config.js';
import { CapabilitiesCache } from '../src/db/capabilities.js';
import { Database } from '../src/db/pool.js';
import { createApp } from '../src/yoga.js';
import { RequestLog } from '../src/http/requestLog.js';
import { percentile, table } from './lib.js';

const OPERATION = /* GraphQL */ `
  query Tables($first: Int!) {
    tables(schema: "bench_tables", first: $first) {
      totalCount
      edges {
        node {
          schema name sizeBytes tableSizeBytes indexesSizeBytes liveTuples deadTuples seqScans indexScans
          modificationsSinceAnalyze lastAnalyzeAt statisticsStale heapCacheHitRatio
          indexes { indexName scans sizeBytes isUnique isValid definition }
        }
      }
    }
  }`;

const SIZES = [100, 1_000, 5_000];

/** Grows schema bench_tables to `count` tables, each with a primary key and one more index. */
async function growTo(db: Database, count: number): Promise<void> {
  await db.query(/* SQL */ `
    DO $$
    DECLARE
      existing int := (SELECT count(*) FROM pg_tables WHERE schemaname = 'bench_tables');
    BEGIN
      -- one transaction would take 15,000 locks at 5,000 tables: the caller grows in steps
      FOR i IN existing + 1 .. ${count} LOOP
        EXECUTE format('CREATE TABLE bench_tables.t_%s (id int PRIMARY KEY, a int, b text)', i);
        EXECUTE format('CREATE INDEX t_%s_a_idx ON bench_tables.t_%s (a)', i, i);
      END LOOP;
    END $$`);
}

/** Drops the schema 500 tables at a time: one DROP ... CASCADE of 5,000 tables overflows the lock table. */
async function dropInBatches(db: Database): Promise<void> {
  for (;;) {
    const [batch] = await db.query<{ names: string | null }>(/* SQL */ `
      SELECT string_agg(format('bench_tables.%I', tablename), ', ') AS names
      FROM (SELECT tablename FROM pg_tables WHERE schemaname = 'bench_tables' ORDER BY tablename LIMIT 500) t`);
    if (!batch?.names) break;
    await db.query(`DROP TABLE ${batch.names}`);
  }
  await db.query('DROP SCHEMA IF EXISTS bench_tables');
}

export async function benchTables(url: string, seconds: number, log: (line: string) => void): Promise<string> {
  const config = loadConfig({ PGSCOPE_POOL_MIN: '0', PGSCOPE_POOL_MAX: '10', PGSCOPE_STATEMENT_TIMEOUT_MS: '60000' });
  const database = new Database(url, { applicationName: 'pgscope-bench', pool: config.pool });
  const app = createApp(
    { config, database, capabilities: new CapabilitiesCache(database), ownSchemaReady: false },
    { logging: false, requestLog: new RequestLog(config.log, { write: () => undefined }) },
  );
  await dropInBatches(database);
  await database.query('CREATE SCHEMA bench_tables');

  const request = async (first: number) => {
    const started = performance.now();
    const response = await app.fetch('http://127.0.0.1/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: OPERATION, variables: { first } }),
    });
    const body = (await response.json()) as {
      errors?: unknown[];
      data: { tables: { edges: unknown[] } };
      extensions: { sqlStatements: number };
    };
    if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
    return { ms: performance.now() - started, statements: body.extensions.sqlStatements, tables: body.data.tables.edges.length };
  };

  const rows: Array<Array<string | number>> = [];
  let baseline: { n: number; p50: number } | undefined;
  for (const n of SIZES) {
    log(`tables: creating ${n.toLocaleString('en-US')} tables with 2 indexes each ...`);
    for (let step = Math.min(n, 1_000); ; step = Math.min(step + 1_000, n)) {
      await growTo(database, step);
      if (step === n) break;
    }
    await database.query('ANALYZE');
    await request(n);
    const samples: Array<{ ms: number; statements: number; tables: number }> = [];
    const deadline = performance.now() + seconds * 1000;
    while (samples.length < 3 || (performance.now() < deadline && samples.length < 50)) samples.push(await request(n));
    const statements = new Set(samples.map((s) => s.statements));
    const p50 = percentile(
      samples.map((s) => s.ms),
      50,
    );
    baseline ??= { n, p50 };
    rows.push([
      n,
      samples[0]!.tables,
      [...statements].join(', '),
      p50,
      percentile(
        samples.map((s) => s.ms),
        95,
      ),
      (p50 / n) * 1000,
      `${(n / baseline.n).toFixed(0)}x`,
      `${(p50 / baseline.p50).toFixed(1)}x`,
    ]);
  }
  await dropInBatches(database);
  await database.end();
  return [
    '### tables: one request for N tables with stats and indexes',
    '',
    "tables(first: N) with 13 stat fields and each table's 2 indexes (6 fields), through app.fetch. Targets: statements per request constant in N; latency growing no faster than N.",
    '',
    table(['N tables', 'returned', 'SQL statements per request', 'p50 ms', 'p95 ms', 'µs per table', 'N growth', 'p50 growth'], rows),
  ].join('\n');
}
