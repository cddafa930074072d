// "tables": one request for N tables with their stats and indexes, at N = 100, 1,000 and 5,000:
// SQL statements per request (DataLoader batching: constant in N), latency (at most linear), and
// the request side by side with its floor: one hand-written statement that reads the same facts,
// measuring every table and index once (the floor of any implementation that reports sizes).
import { loadConfig } from '../src/config.js';
import { CapabilitiesCache } from '../src/db/capabilities.js';
import { Database } from '../src/db/pool.js';
import { createApp } from '../src/yoga.js';
import { RequestLog } from '../src/http/requestLog.js';
import { type Headline, percentile, type SectionResult, table } from './lib.js';

const INDEX_FIELDS = 'indexName scans isUnique isValid definition';
const STAT_FIELDS = 'liveTuples deadTuples seqScans indexScans modificationsSinceAnalyze lastAnalyzeAt statisticsStale heapCacheHitRatio';

/** The page with every size field (Table's three and each index's), or with none. */
const operation = (sizes: boolean) => /* GraphQL */ `
  query Tables($first: Int!) {
    tables(schema: "bench_tables", first: $first) {
      totalCount
      edges {
        node {
          schema name ${sizes ? 'sizeBytes tableSizeBytes indexesSizeBytes ' : ''}${STAT_FIELDS}
          indexes { ${INDEX_FIELDS}${sizes ? ' sizeBytes' : ''} }
        }
      }
    }
  }`;

/**
 * The floor: the same facts in one statement written by hand for this schema, every table sized
 * once (pg_table_size) and every index once (pg_relation_size), or no size at all.
 */
const floorSql = (sizes: boolean) => /* SQL */ `
  SELECT
    c.oid,
    n.nspname,
    c.relname,
    ${sizes ? 'pg_table_size(c.oid) AS table_bytes,' : ''}
    s.n_live_tup,
    s.n_dead_tup,
    s.seq_scan,
    s.idx_scan,
    s.n_mod_since_analyze,
    s.last_analyze,
    io.heap_blks_hit::float8 / nullif(io.heap_blks_hit + io.heap_blks_read, 0) AS heap_hit,
    (
      SELECT json_agg(json_build_object(
        'name', ic.relname, 'scans', si.idx_scan, 'unique', i.indisunique, 'valid', i.indisvalid,
        'definition', pg_get_indexdef(i.indexrelid)${sizes ? ", 'bytes', pg_relation_size(i.indexrelid)" : ''}))
      FROM pg_index i
      JOIN pg_class ic ON ic.oid = i.indexrelid
      LEFT JOIN pg_stat_all_indexes si ON si.indexrelid = i.indexrelid
      WHERE i.indrelid = c.oid
    ) AS indexes
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
  LEFT JOIN pg_statio_all_tables io ON io.relid = c.oid
  WHERE n.nspname = 'bench_tables'
    AND c.relkind = 'r'
  ORDER BY n.nspname, c.relname
  LIMIT $1`;

/** The big read's target: pgscope's request within this factor of the floor, with and without sizes. */
const TARGET_RATIO = 1.5;

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

export async function benchTables(url: string, seconds: number, log: (line: string) => void): Promise<SectionResult> {
  const config = loadConfig({ PGSCOPE_POOL_MIN: '0', PGSCOPE_POOL_MAX: '10', PGSCOPE_STATEMENT_TIMEOUT_MS: '60000' });
  const database = new Database(url, { applicationName: 'pgscope-bench', pool: config.pool });
  const app = createApp(
    { config, database, capabilities: new CapabilitiesCache(database), ownSchemaReady: false },
    { logging: false, requestLog: new RequestLog(config.log, { write: () => undefined }) },
  );
  await dropInBatches(database);
  await database.query('CREATE SCHEMA bench_tables');

  const request = async (first: number, sizes: boolean) => {
    const started = performance.now();
    const response = await app.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: operation(sizes), variables: { first } }),
    });
    const body = (await response.json()) as {
      errors?: unknown[];
      data: { tables: { edges: unknown[] } };
      extensions: { sqlStatements: number };
    };
    if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
    return { ms: performance.now() - started, statements: body.extensions.sqlStatements, tables: body.data.tables.edges.length };
  };
  const floor = async (first: number, sizes: boolean) => {
    const started = performance.now();
    const rows = await database.query(floorSql(sizes), [first]);
    return { ms: performance.now() - started, statements: 1, tables: rows.length };
  };

  const rows: Array<Array<string | number>> = [];
  const sideBySide: Array<Array<string | number>> = [];
  const headline: Headline[] = [];
  let baseline: { n: number; p50: number } | undefined;
  for (const n of SIZES) {
    log(`tables: creating ${n.toLocaleString('en-US')} tables with 2 indexes each ...`);
    for (let step = Math.min(n, 1_000); ; step = Math.min(step + 1_000, n)) {
      await growTo(database, step);
      if (step === n) break;
    }
    await database.query('ANALYZE');
    // the four measured in turn, so that a machine growing busier or quieter favours none
    const kinds = [
      { name: 'request, sizes', run: () => request(n, true) },
      { name: 'floor, sizes', run: () => floor(n, true) },
      { name: 'request, no sizes', run: () => request(n, false) },
      { name: 'floor, no sizes', run: () => floor(n, false) },
    ];
    for (const kind of kinds) await kind.run();
    const samples = kinds.map(() => [] as Array<{ ms: number; statements: number; tables: number }>);
    const deadline = performance.now() + seconds * 1000 * kinds.length;
    while (samples[0]!.length < 3 || (performance.now() < deadline && samples[0]!.length < 50)) {
      for (const [i, kind] of kinds.entries()) samples[i]!.push(await kind.run());
    }
    const p = (i: number, q: number) =>
      percentile(
        samples[i]!.map((s) => s.ms),
        q,
      );
    const [withSizes] = samples;
    const p50 = p(0, 50);
    baseline ??= { n, p50 };
    rows.push([
      n,
      withSizes![0]!.tables,
      [...new Set(withSizes!.map((s) => s.statements))].join(', '),
      [...new Set(samples[2]!.map((s) => s.statements))].join(', '),
      p50,
      p(0, 95),
      (p50 / n) * 1000,
      `${(n / baseline.n).toFixed(0)}x`,
      `${(p50 / baseline.p50).toFixed(1)}x`,
    ]);
    for (const [request, floorIndex, label] of [
      [0, 1, 'with sizes'],
      [2, 3, 'without sizes'],
    ] as const) {
      const ratio = p(request, 50) / p(floorIndex, 50);
      const marked = n === SIZES.at(-1);
      const verdict = ratio <= TARGET_RATIO ? 'met' : 'NOT MET';
      sideBySide.push([
        n,
        label,
        p(floorIndex, 50),
        p(request, 50),
        `${ratio.toFixed(2)}x`,
        marked ? `<= ${TARGET_RATIO}x` : '',
        marked ? verdict : '',
      ]);
      if (marked) {
        headline.push({
          name: `tables(first: ${n.toLocaleString('en-US')}) ${label} / its one-statement floor, p50`,
          target: `<= ${TARGET_RATIO}x`,
          measured: `${ratio.toFixed(2)}x`,
          met: ratio <= TARGET_RATIO,
        });
      }
    }
  }
  await dropInBatches(database);
  await database.end();
  const report = [
    '### tables: one request for N tables with stats and indexes, side by side with its floor',
    '',
    `tables(first: N) with ${STAT_FIELDS.split(' ').length + 2} fields per table and each table's 2 indexes (${INDEX_FIELDS.split(' ').length} fields), ` +
      "with the size fields (sizeBytes, tableSizeBytes, indexesSizeBytes, each index's sizeBytes) or without them, through app.fetch. " +
      'Targets: statements per request constant in N; latency growing no faster than N.',
    '',
    table(
      [
        'N tables',
        'returned',
        'SQL statements, with sizes',
        'SQL statements, without',
        'p50 ms, with sizes',
        'p95 ms, with sizes',
        'µs per table',
        'N growth',
        'p50 growth',
      ],
      rows,
    ),
    '',
    'The floor: one statement written by hand for this schema reading the same facts through the same pool, each table sized once ' +
      `(pg_table_size) and each index once (pg_relation_size), or no size. The four are measured in turn. Target at ${SIZES.at(-1)!.toLocaleString('en-US')} tables: pgscope's request within ${TARGET_RATIO}x of its floor (p50).`,
    '',
    table(['N tables', 'fields', 'floor p50 ms', 'pgscope p50 ms', 'ratio', 'target', 'met'], sideBySide),
  ].join('\n');
  return { report, headline };
}
