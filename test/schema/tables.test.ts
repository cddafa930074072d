// The tables, indexes and partitions API through GraphQL: batching (a constant number of SQL
// statements whatever the page size), cursor pagination, typed errors, and a pg_monitor-only role.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getNamedType, type GraphQLObjectType } from 'graphql';
import { schema } from '../../src/schema/index.js';
import { createTestApp, createTestDatabase, errorCodes, type TestApp, type TestDatabase } from '../harness/database.js';
import { createRole, type TestRole } from '../harness/roles.js';
import { runAndFlushStats } from '../harness/stats.js';

let target: TestDatabase;
let monitor: TestRole;
let api: TestApp;

const FIXTURE = [
  'CREATE SCHEMA batch',
  // thirty tables t01..t30, each with a primary key and one more index, and 10 rows
  `DO $$
   BEGIN
     FOR i IN 1..30 LOOP
       EXECUTE format('CREATE TABLE batch.%I (id int PRIMARY KEY, v int)', 't' || lpad(i::text, 2, '0'));
       EXECUTE format('CREATE INDEX %I ON batch.%I (v)', 't' || lpad(i::text, 2, '0') || '_v', 't' || lpad(i::text, 2, '0'));
       EXECUTE format('INSERT INTO batch.%I SELECT g, g FROM generate_series(1, 10) g', 't' || lpad(i::text, 2, '0'));
     END LOOP;
   END $$`,
  'CREATE SCHEMA parted',
  'CREATE TABLE parted.logs (id int, at date NOT NULL) PARTITION BY RANGE (at)',
  "CREATE TABLE parted.logs_2024 PARTITION OF parted.logs FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
  'CREATE TABLE parted.logs_default PARTITION OF parted.logs DEFAULT',
  "INSERT INTO parted.logs VALUES (1, '2024-05-01'), (2, '2030-01-01'), (3, '2031-01-01')",
  'CREATE INDEX logs_id ON parted.logs (id)',
  'CREATE TABLE parted.plain (id int REFERENCES batch.t01)',
  // every fact of an index not null somewhere: constraints, a foreign key served, INCLUDE, a
  // predicate, DESC, scans, an index attached to a partitioned one
  'CREATE SCHEMA facts',
  'CREATE TABLE facts.accounts (id int PRIMARY KEY, email text UNIQUE)',
  'CREATE TABLE facts.orders (id int PRIMARY KEY, account_id int REFERENCES facts.accounts, total int, note text)',
  'CREATE INDEX orders_account ON facts.orders (account_id, total DESC) INCLUDE (note) WHERE account_id IS NOT NULL',
  'CREATE TABLE facts.readings (id int, region text) PARTITION BY LIST (region)',
  "CREATE TABLE facts.readings_eu PARTITION OF facts.readings FOR VALUES IN ('eu')",
  'CREATE INDEX readings_id ON facts.readings (id)',
  "INSERT INTO facts.accounts SELECT g, g || '@example.com' FROM generate_series(1, 50) g",
  "INSERT INTO facts.orders SELECT g, 1 + g % 50, g, 'n' FROM generate_series(1, 500) g",
  "INSERT INTO facts.readings SELECT g, 'eu' FROM generate_series(1, 20) g",
  'ANALYZE',
  'SET enable_seqscan = off',
  'SELECT * FROM facts.orders WHERE account_id = 3',
  'SELECT * FROM facts.readings WHERE id = 3',
];

beforeAll(async () => {
  [target, monitor] = await Promise.all([createTestDatabase('api_tables'), createRole('api_tables_monitor', ['pg_monitor'])]);
  api = createTestApp(target.url);
  await runAndFlushStats(target.url, FIXTURE);
});

afterAll(async () => {
  await api.close();
  await target.drop();
  await monitor.drop();
});

interface TablesData {
  tables: {
    totalCount?: number;
    edges: Array<{ cursor: string; node: Record<string, unknown> & { name: string } }>;
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null };
  };
}

const PAGE_WITH_EVERYTHING = /* GraphQL */ `
  query Page($schema: String, $first: Int!) {
    tables(schema: $schema, first: $first) {
      edges {
        node {
          schema
          name
          kind
          sizeBytes
          liveTuples
          seqScans
          statisticsStale
          indexes { indexName scans sizeBytes isUnique isValid }
          partitions { name isDefault bound rowEstimate sizeBytes }
          partitioning { strategy defaultPartitionRows }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }`;

describe('tables', () => {
  it('loads N tables with their statistics, indexes and partitions in a constant number of statements', async () => {
    const three = await api.gql<TablesData>(PAGE_WITH_EVERYTHING, { schema: 'batch', first: 3 });
    const thirty = await api.gql<TablesData>(PAGE_WITH_EVERYTHING, { schema: 'batch', first: 30 });
    expect(three.errors).toBeUndefined();
    expect(thirty.errors).toBeUndefined();
    expect(three.data!.tables.edges).toHaveLength(3);
    expect(thirty.data!.tables.edges).toHaveLength(30);
    // schema check, page of keys, tables, their sizes, their indexes, their partitions
    expect(three.extensions!.sqlStatements).toBe(6);
    expect(thirty.extensions!.sqlStatements).toBe(6);
    expect(thirty.data!.tables.edges[29]!.node).toMatchObject({
      schema: 'batch',
      name: 't30',
      kind: 'TABLE',
      liveTuples: '10',
      statisticsStale: false,
      indexes: [
        { indexName: 't30_pkey', scans: '0', isUnique: true, isValid: true },
        { indexName: 't30_v', scans: '0', isUnique: false, isValid: true },
      ],
      partitions: [],
      partitioning: null,
    });
  });

  it('batches partitioned tables too: partitions and partitioning in one statement each', async () => {
    const result = await api.gql<TablesData>(PAGE_WITH_EVERYTHING, { schema: 'parted', first: 10 });
    expect(result.errors).toBeUndefined();
    expect(result.extensions!.sqlStatements).toBe(7);
    const [logs, plain] = result.data!.tables.edges.map((edge) => edge.node);
    expect(logs).toMatchObject({
      name: 'logs',
      kind: 'PARTITIONED_TABLE',
      liveTuples: '3',
      indexes: [{ indexName: 'logs_id', isUnique: false }],
      partitions: [
        { name: 'logs_2024', isDefault: false, bound: "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')", rowEstimate: '1' },
        { name: 'logs_default', isDefault: true, bound: 'DEFAULT', rowEstimate: '2' },
      ],
      partitioning: { strategy: 'RANGE', defaultPartitionRows: '2' },
    });
    expect(plain).toMatchObject({ name: 'plain', kind: 'TABLE', partitions: [], partitioning: null });
  });

  it('measures sizes once per request, and only when a size field is asked for', async () => {
    const page = (orderBy: string, fields: string) =>
      api.gql<TablesData>(`{ tables(schema: "batch", first: 30, orderBy: ${orderBy}) { edges { node { name ${fields} } } } }`);
    // schema check, page of keys, tables, their indexes: no statement measures a size
    const withoutSizes = await page('NAME', 'liveTuples indexes { indexName scans }');
    expect(withoutSizes.errors).toBeUndefined();
    expect(withoutSizes.extensions!.sqlStatements).toBe(4);
    // one more statement measures the tables and their indexes together, whatever the number of size fields
    const sizeFields = 'sizeBytes tableSizeBytes indexesSizeBytes toastSizeBytes indexes { indexName sizeBytes }';
    const byName = await page('NAME', sizeFields);
    expect(byName.errors).toBeUndefined();
    expect(byName.extensions!.sqlStatements).toBe(5);
    // a size order measured every table for its sort: no statement measures them again
    const bySize = await page('TOTAL_SIZE', sizeFields);
    expect(bySize.errors).toBeUndefined();
    expect(bySize.extensions!.sqlStatements).toBe(4);
    const nodes = (result: { data?: TablesData | null }) =>
      result.data!.tables.edges.map((edge) => edge.node).sort((a, b) => a.name.localeCompare(b.name));
    expect(nodes(bySize)).toEqual(nodes(byName));
    // the same figures as PostgreSQL's own size functions
    const [expected] = await target.sql<{ total: string; table: string; indexes: string; index: string }>(
      `SELECT pg_total_relation_size('batch.t07')::text AS total, pg_table_size('batch.t07')::text AS table,
              pg_indexes_size('batch.t07')::text AS indexes, pg_relation_size('batch.t07_v')::text AS index`,
    );
    const t07 = nodes(byName).find((node) => node.name === 't07')!;
    expect(t07).toMatchObject({
      sizeBytes: expected!.total,
      tableSizeBytes: expected!.table,
      indexesSizeBytes: expected!.indexes,
      indexes: [{ indexName: 't07_pkey' }, { indexName: 't07_v', sizeBytes: expected!.index }],
    });
  });

  it('reads ahead only what the operation selects, through fragments and @include / @skip', async () => {
    const operation = /* GraphQL */ `
      query ($sizes: Boolean!, $indexes: Boolean!) {
        tables(schema: "batch", first: 30) { ...page }
      }
      fragment page on TableConnection {
        totalCount @skip(if: $indexes)
        edges { node { name ...sizes @include(if: $sizes) ... on Table { indexes @include(if: $indexes) { indexName ...indexSize } } } }
      }
      fragment sizes on Table { tableSizeBytes }
      fragment indexSize on IndexUsage { sizeBytes }`;
    type Data = { tables: { totalCount?: number; edges: Array<{ node: { name: string; tableSizeBytes?: string; indexes?: unknown[] } }> } };
    const run = (sizes: boolean, indexes: boolean) => api.gql<Data>(operation, { sizes, indexes });
    // schema check, page, statistics, and the count (asked for when indexes are not)
    const bare = await run(false, false);
    expect(bare.errors).toBeUndefined();
    expect(bare.extensions!.sqlStatements).toBe(4);
    expect(bare.data!.tables).toMatchObject({ totalCount: 30 });
    expect(bare.data!.tables.edges[0]!.node).toEqual({ name: 't01' });
    // the indexes, whose sizes are asked for: one more statement for each
    const withIndexes = await run(false, true);
    expect(withIndexes.errors).toBeUndefined();
    expect(withIndexes.extensions!.sqlStatements).toBe(5);
    expect(withIndexes.data!.tables.edges[0]!.node.indexes).toEqual([
      { indexName: 't01_pkey', sizeBytes: expect.stringMatching(/^\d+$/) },
      { indexName: 't01_v', sizeBytes: expect.stringMatching(/^\d+$/) },
    ]);
    // the table's sizes alone: the count, the size statement, no indexes
    const withSizes = await run(true, false);
    expect(withSizes.errors).toBeUndefined();
    expect(withSizes.extensions!.sqlStatements).toBe(5);
    const [expected] = await target.sql<{ size: string }>(`SELECT pg_table_size('batch.t01')::text AS size`);
    expect(withSizes.data!.tables.edges[0]!.node).toEqual({ name: 't01', tableSizeBytes: expected!.size });
  });

  it('computes only the index facts a selection reads: each field alone as in the full selection', async () => {
    // every field of IndexUsage but the object ones, from the schema: a field added later is covered
    const indexUsage = schema.getType('IndexUsage') as GraphQLObjectType;
    const fields = Object.values(indexUsage.getFields())
      .filter((field) => !('getFields' in getNamedType(field.type)))
      .map((field) => field.name);
    expect(fields).toEqual(
      expect.arrayContaining(['definition', 'keyColumns', 'foreignKeys', 'parentIndexName', 'scans', 'constraintType']),
    );
    type Data = { tables: { edges: Array<{ node: { name: string; indexes: Array<Record<string, unknown>> } }> } };
    const page = async (selection: string) => {
      const result = await api.gql<Data>(
        `{ tables(schema: "facts", first: 50, includePartitions: true) { edges { node { name ${selection} } } } }`,
      );
      expect(result.errors).toBeUndefined();
      return result;
    };
    const full = await page(`indexes { ${fields.join(' ')} }`);
    const indexesOf = (data: Data | null | undefined) => data!.tables.edges.flatMap((edge) => edge.node.indexes ?? []);
    // each field has a value other than null, false, 0 or [] somewhere (a part left out would read as one)
    const alwaysNull = inject('pgMajorVersion') >= 16 ? [] : ['lastScanAt'];
    for (const field of fields.filter((name) => !alwaysNull.includes(name))) {
      expect(
        indexesOf(full.data).some((index) => ![null, false, '0', 0].includes(index[field] as never) && `${index[field]}` !== ''),
        field,
      ).toBe(true);
    }
    for (const field of fields) {
      const alone = await page(`indexes { indexName ${field} }`);
      // schema check, page, statistics, indexes
      expect(alone.extensions!.sqlStatements, field).toBe(field === 'sizeBytes' ? 5 : 4);
      expect(indexesOf(alone.data), field).toEqual(
        indexesOf(full.data).map((index) => ({ indexName: index.indexName, [field]: index[field] })),
      );
    }
    // two aliases reading different facts: one statement computes what both read
    const aliases = await page('a: indexes { definition } b: indexes { keyColumns scans }');
    expect(aliases.extensions!.sqlStatements).toBe(4);
    const nodes = aliases.data!.tables.edges.map((edge) => edge.node as unknown as { a: unknown[]; b: unknown[] });
    expect(nodes.flatMap((node) => node.a)).toEqual(indexesOf(full.data).map((index) => ({ definition: index.definition })));
    expect(nodes.flatMap((node) => node.b)).toEqual(
      indexesOf(full.data).map((index) => ({ keyColumns: index.keyColumns, scans: index.scans })),
    );
    // and through another path than the list: a table's parent, loaded by OID
    const parent = await api.gql<{ table: { parent: { indexes: unknown[] } } }>(
      '{ table(schema: "facts", name: "readings_eu") { parent { indexes { indexName predicate keyColumns } } } }',
    );
    expect(parent.errors).toBeUndefined();
    expect(parent.data!.table.parent.indexes).toEqual([{ indexName: 'readings_id', predicate: null, keyColumns: ['id'] }]);
  });

  it("measures an unlogged table, its TOAST data and a vacuumed index as PostgreSQL's size functions do", async () => {
    await target.sql(/* SQL */ `
      CREATE SCHEMA shapes;
      CREATE UNLOGGED TABLE shapes.notes (id int PRIMARY KEY, body text);
      CREATE TABLE shapes.logged (id int PRIMARY KEY, body text);
      CREATE INDEX logged_body ON shapes.logged (left(body, 10));
      -- bodies of 8 kB that do not compress: out of line, in TOAST
      INSERT INTO shapes.notes SELECT g, (SELECT string_agg(md5(g::text || s::text), '') FROM generate_series(1, 250) s) FROM generate_series(1, 40) g;
      INSERT INTO shapes.logged SELECT id, body FROM shapes.notes;
      DELETE FROM shapes.logged WHERE id % 2 = 0;`);
    // VACUUM gives the tables and indexes their free space maps and the tables their visibility maps
    await target.sql('VACUUM shapes.notes, shapes.logged');
    type Sizes = {
      name: string;
      sizeBytes: string;
      tableSizeBytes: string;
      indexesSizeBytes: string;
      toastSizeBytes: string;
      indexes: Array<{ indexName: string; sizeBytes: string }>;
    };
    const result = await api.gql<{ tables: { edges: Array<{ node: Sizes }> } }>(
      '{ tables(schema: "shapes") { edges { node { name sizeBytes tableSizeBytes indexesSizeBytes toastSizeBytes indexes { indexName sizeBytes } } } } }',
    );
    expect(result.errors).toBeUndefined();
    const expected = await target.sql<Sizes & { toast: string }>(/* SQL */ `
      SELECT
        c.relname AS name,
        pg_total_relation_size(c.oid)::text AS "sizeBytes",
        pg_table_size(c.oid)::text AS "tableSizeBytes",
        pg_indexes_size(c.oid)::text AS "indexesSizeBytes",
        pg_total_relation_size(c.reltoastrelid)::text AS "toastSizeBytes",
        (SELECT json_agg(json_build_object('indexName', ic.relname, 'sizeBytes', pg_relation_size(ic.oid)::text) ORDER BY ic.relname)
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid) AS indexes
      FROM pg_class c
      WHERE c.relnamespace = 'shapes'::regnamespace AND c.relkind = 'r'
      ORDER BY c.relname`);
    expect(result.data!.tables.edges.map((edge) => edge.node)).toEqual(expected);
    // the shapes this covers: an index's init fork (an unlogged heap's is empty), TOAST, a free
    // space map and a visibility map (a btree has a free space map only once it recycled pages)
    const [forks] = await target.sql<{ init: string; toast: string; fsm: string; vm: string }>(/* SQL */ `
      SELECT
        pg_relation_size('shapes.notes_pkey', 'init')::text AS init,
        pg_relation_size((SELECT reltoastrelid FROM pg_class WHERE oid = 'shapes.logged'::regclass))::text AS toast,
        pg_relation_size('shapes.logged', 'fsm')::text AS fsm,
        pg_relation_size('shapes.logged', 'vm')::text AS vm`);
    for (const size of Object.values(forks!)) expect(Number(size)).toBeGreaterThan(0);
    await target.sql('DROP SCHEMA shapes CASCADE');
  });

  it('pages with opaque cursors, in a stable order, and counts on request', async () => {
    const names: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const result: { data?: TablesData | null } = await api.gql<TablesData>(
        'query ($after: String) { tables(schema: "batch", first: 7, after: $after, orderBy: NAME) { totalCount edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage endCursor } } }',
        { after },
      );
      const page = result.data!.tables;
      pages += 1;
      expect(page.totalCount).toBe(30);
      expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
      names.push(...page.edges.map((edge) => edge.node.name));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(pages).toBe(5);
    expect(names).toEqual(Array.from({ length: 30 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`));
  });

  it('sorts by a metric, largest first, ties by OID', async () => {
    await runAndFlushStats(target.url, [
      'SELECT count(*) FROM batch.t07',
      'SELECT count(*) FROM batch.t07',
      'SELECT count(*) FROM batch.t03',
    ]);
    const result = await api.gql<TablesData>(
      '{ tables(schema: "batch", first: 3, orderBy: SEQ_SCANS) { edges { node { name seqScans } } } }',
    );
    const [first, second, third] = result.data!.tables.edges.map((edge) => edge.node);
    expect(first!.name).toBe('t07');
    expect(second!.name).toBe('t03');
    // BigInt fields are strings of digits: compare them as bigints
    const seqScans = (node: Record<string, unknown> | undefined) => BigInt(node!.seqScans as string);
    expect(seqScans(first) - seqScans(second)).toBe(1n);
    expect(seqScans(third)).toBeLessThanOrEqual(seqScans(second));
  });

  it.each([
    ['{ tables(first: 0) { edges { cursor } } }', 'BAD_USER_INPUT', 'first must be a whole number from 1 to 5000, got 0.'],
    ['{ tables(first: 5001) { edges { cursor } } }', 'BAD_USER_INPUT', 'first must be a whole number from 1 to 5000, got 5001.'],
    [
      '{ tables(after: "bm9wZQ") { edges { cursor } } }',
      'BAD_USER_INPUT',
      'after is not a cursor of tables(orderBy: NAME): pass the endCursor of the previous page, with the same orderBy.',
    ],
    ['{ tables(schema: "nope") { edges { cursor } } }', 'NOT_FOUND', 'No schema named "nope".'],
    ['{ table(schema: "batch", name: "nope") { name } }', 'NOT_FOUND', 'No table named "nope" in schema "batch".'],
  ])('%s is %s', async (query, code, message) => {
    const result = await api.gql(query);
    expect(errorCodes(result)).toEqual([code]);
    expect(result.errors![0]!.message).toBe(message);
  });

  it('refuses a cursor of another order', async () => {
    const byName = await api.gql<TablesData>('{ tables(schema: "batch", first: 1) { pageInfo { endCursor } } }');
    const cursor = byName.data!.tables.pageInfo.endCursor;
    const result = await api.gql(
      'query ($after: String) { tables(schema: "batch", after: $after, orderBy: TOTAL_SIZE) { edges { cursor } } }',
      { after: cursor },
    );
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
  });

  it('answers table(schema, name) with its parent for a partition', async () => {
    const result = await api.gql<{ table: Record<string, unknown> }>(
      '{ table(schema: "parted", name: "logs_default") { name isPartition parent { name kind } } }',
    );
    expect(result.data!.table).toEqual({ name: 'logs_default', isPartition: true, parent: { name: 'logs', kind: 'PARTITIONED_TABLE' } });
  });
});

describe('indexUsage, indexFindings, partitions', () => {
  it('answers indexUsage with the contract fields, filtered by table', async () => {
    const result = await api.gql<{ indexUsage: unknown[] }>(
      '{ indexUsage(schema: "batch", table: "t01") { schema table indexName scans sizeBytes definition isUnique isValid supportsForeignKey } }',
    );
    expect(result.data!.indexUsage).toEqual([
      {
        schema: 'batch',
        table: 't01',
        indexName: 't01_pkey',
        scans: '0',
        sizeBytes: '16384',
        definition: 'CREATE UNIQUE INDEX t01_pkey ON batch.t01 USING btree (id)',
        isUnique: true,
        isValid: true,
        supportsForeignKey: false,
      },
      {
        schema: 'batch',
        table: 't01',
        indexName: 't01_v',
        scans: '0',
        sizeBytes: '16384',
        definition: 'CREATE INDEX t01_v ON batch.t01 USING btree (v)',
        isUnique: false,
        isValid: true,
        supportsForeignKey: false,
      },
    ]);
  });

  it.each([
    ['{ indexUsage(schema: "nope") { indexName } }', 'NOT_FOUND'],
    ['{ indexUsage(table: "nope") { indexName } }', 'NOT_FOUND'],
    ['{ indexFindings(schema: "nope") { reason } }', 'NOT_FOUND'],
    ['{ partitions(schema: "parted", table: "nope") { name } }', 'NOT_FOUND'],
    ['{ partitionedTable(schema: "parted", table: "nope") { key } }', 'NOT_FOUND'],
    ['{ partitions(schema: "parted", table: "plain") { name } }', 'BAD_USER_INPUT'],
    ['{ partitionedTable(schema: "parted", table: "plain") { key } }', 'BAD_USER_INPUT'],
  ])('%s is %s', async (query, code) => {
    expect(errorCodes(await api.gql(query))).toEqual([code]);
  });

  it('says why a table has no partitions', async () => {
    const result = await api.gql('{ partitions(schema: "parted", table: "plain") { name } }');
    expect(result.errors![0]!.message).toBe('parted.plain is not a partitioned table, so it has no partitions.');
  });

  it('answers partitions and partitionedTable with the contract fields', async () => {
    const result = await api.gql<{ partitions: unknown[]; partitionedTable: unknown }>(`{
      partitions(schema: "parted", table: "logs") { name isDefault bound rowEstimate from to isDetachPending }
      partitionedTable(schema: "parted", table: "logs") {
        strategy key defaultPartition defaultPartitionRows defaultPartitionRowsExact isTimeRange coveredUntil coverageUnbounded
        detachPendingPartitions missingIndexes { indexName partitions } partitions { name }
      }
    }`);
    expect(result.errors).toBeUndefined();
    expect(result.data!.partitions).toEqual([
      {
        name: 'logs_2024',
        isDefault: false,
        bound: "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
        rowEstimate: '1',
        from: expect.any(String),
        to: expect.any(String),
        isDetachPending: false,
      },
      { name: 'logs_default', isDefault: true, bound: 'DEFAULT', rowEstimate: '2', from: null, to: null, isDetachPending: false },
    ]);
    expect(result.data!.partitionedTable).toEqual({
      strategy: 'RANGE',
      key: 'RANGE (at)',
      defaultPartition: 'logs_default',
      defaultPartitionRows: '2',
      defaultPartitionRowsExact: true,
      isTimeRange: true,
      coveredUntil: expect.any(String),
      coverageUnbounded: false,
      detachPendingPartitions: [],
      missingIndexes: [],
      partitions: [{ name: 'logs_2024' }, { name: 'logs_default' }],
    });
  });

  it('resolves the indexes of findings in one more statement', async () => {
    // Before PostgreSQL 15 the collector gives a new database's statistics a reset time (its first
    // report, seconds ago here); from 15 stats_reset stays null until a reset.
    const statsAgeDays = inject('pgMajorVersion') >= 15 ? null : expect.closeTo(0, 1);
    const result = await api.gql<{ indexFindings: unknown[] }>(`{
      indexFindings(schema: "parted", kinds: [UNUSED, MISSING_FK_INDEX]) {
        kind reasonCode table indexName index { indexName isPartitioned } foreignKey { name columns referencedTable }
        evidence { scans statsAgeDays } suggestedSql
      }
    }`);
    expect(result.errors).toBeUndefined();
    expect(result.data!.indexFindings).toEqual([
      {
        kind: 'UNUSED',
        reasonCode: 'NO_SCANS',
        table: 'logs',
        indexName: 'logs_id',
        index: { indexName: 'logs_id', isPartitioned: true },
        foreignKey: null,
        evidence: { scans: '0', statsAgeDays },
        suggestedSql: 'DROP INDEX parted.logs_id;',
      },
      {
        kind: 'MISSING_FK_INDEX',
        reasonCode: 'NO_LEADING_INDEX',
        table: 'plain',
        indexName: null,
        index: null,
        foreignKey: { name: 'plain_id_fkey', columns: ['id'], referencedTable: 't01' },
        evidence: { scans: null, statsAgeDays },
        suggestedSql: 'CREATE INDEX CONCURRENTLY ON parted.plain (id);',
      },
    ]);
    // schema check, findings, then every finding's index at once
    expect(result.extensions!.sqlStatements).toBe(3);
  });

  it('works for a role that has only pg_monitor', async () => {
    const asMonitor = createTestApp(monitor.url(target.name));
    try {
      const result = await asMonitor.gql<{
        tables: TablesData['tables'];
        partitionedTable: { defaultPartitionRows: string; defaultPartitionRowsExact: boolean };
      }>(`{
        tables(schema: "parted") { edges { node { name sizeBytes indexes { indexName } partitions { name } } } }
        partitionedTable(schema: "parted", table: "logs") { defaultPartitionRows defaultPartitionRowsExact }
        indexFindings(schema: "parted") { kind }
        indexUsage(schema: "parted") { indexName }
      }`);
      expect(result.errors).toBeUndefined();
      expect(result.data!.tables.edges.map((edge) => edge.node.name)).toEqual(['logs', 'plain']);
      expect(result.data!.partitionedTable).toEqual({ defaultPartitionRows: '2', defaultPartitionRowsExact: false });
    } finally {
      await asMonitor.close();
    }
  });
});
