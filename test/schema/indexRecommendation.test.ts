// indexRecommendations and indexAdvisorReport through the API: the INCLUDE columns of rejected
// candidates, NOT_FOUND for a table that does not exist (before any advisor work), and the knobs
// that narrow the workload: excludeTables and minMeanTimeMs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, createTestDatabase, errorCodes, type TestApp, type TestDatabase } from '../harness/database.js';
import { queryIdOf, RESET_THIS_DATABASE_STATEMENTS } from '../harness/stats.js';

const ORDERS = 'SELECT id, total FROM orders WHERE customer_id = $1';
const AUDIT = 'SELECT id FROM audit_log WHERE actor_id = $1';
const TINY = 'SELECT id, total FROM tiny WHERE customer_id = $1';
// slow for certain, whatever the machine: total is unique, so it returns one row and sleeps once per call
const SLOW = 'SELECT pg_sleep(0.5), o.id FROM orders o WHERE o.total = $1';

interface Report {
  recommendations: Array<{ table: string; keys: Array<{ column: string | null }>; include: string[] }>;
  rejected: Array<{ table: string; keys: Array<{ column: string | null }>; include: string[]; reason: string }>;
  skipped: string[];
  statementsAnalyzed: number;
  statementsBelowMinMeanTime: number;
}

const REPORT = `query($table: String, $schema: String, $excludeTables: [String!], $minMeanTimeMs: Float) {
  indexAdvisorReport(table: $table, schema: $schema, excludeTables: $excludeTables, minMeanTimeMs: $minMeanTimeMs, minImprovement: 0) {
    recommendations { table keys { column } include }
    rejected { table keys { column } include reason }
    skipped
    statementsAnalyzed
    statementsBelowMinMeanTime
  }
}`;
const RECOMMENDATIONS = `query($table: String, $schema: String, $excludeTables: [String!]) {
  indexRecommendations(table: $table, schema: $schema, excludeTables: $excludeTables) { table }
}`;
const FINDINGS = `query($table: String, $schema: String) { indexFindings(table: $table, schema: $schema) { table } }`;

let target: TestDatabase;
let api: TestApp;
let audit: string;

beforeAll(async () => {
  target = await createTestDatabase('advisor_knobs');
  await target.sql(`
    CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, total int NOT NULL);
    INSERT INTO orders SELECT g, g % 5000, g FROM generate_series(1, 100000) g;
    CREATE TABLE audit_log (id int PRIMARY KEY, actor_id int NOT NULL);
    INSERT INTO audit_log SELECT g, g % 5000 FROM generate_series(1, 100000) g;
    CREATE TABLE tiny (id int PRIMARY KEY, customer_id int NOT NULL, total int NOT NULL);
    INSERT INTO tiny SELECT g, g, g FROM generate_series(1, 10) g;
    ANALYZE`);
  // The load is not the workload: the advisor charges the writes it sees in pg_stat_statements.
  await target.sql(RESET_THIS_DATABASE_STATEMENTS);
  for (let i = 0; i < 3; i++) {
    await target.sql(ORDERS, [i]);
    await target.sql(AUDIT, [i]);
    await target.sql(TINY, [i]);
  }
  for (let i = 1; i <= 2; i++) await target.sql(SLOW, [i]);
  audit = await queryIdOf(target, AUDIT);
  api = createTestApp(target.url);
});

afterAll(async () => {
  await api.close();
  await target.drop();
});

const report = async (variables: Record<string, unknown>) => {
  const result = await api.gql<{ indexAdvisorReport: Report }>(REPORT, variables);
  expect(result.errors).toBeUndefined();
  return result.data!.indexAdvisorReport;
};
const tablesOf = (report: Report) => [...new Set([...report.recommendations, ...report.rejected].map((r) => r.table))].sort();

describe('rejected candidates', () => {
  it('show their INCLUDE columns, so that candidates differing only there are told apart', async () => {
    const { rejected } = await report({ table: 'tiny' });
    expect(rejected).toEqual([
      { table: 'tiny', keys: [{ column: 'customer_id' }], include: [], reason: 'TABLE_TOO_SMALL' },
      { table: 'tiny', keys: [{ column: 'customer_id' }], include: ['id', 'total'], reason: 'TABLE_TOO_SMALL' },
    ]);
  });
});

describe('a table that does not exist', () => {
  it('is NOT_FOUND as indexFindings says it, after one catalog look-up and no advisor work', async () => {
    for (const variables of [{ table: 'nope' }, { schema: 'public', table: 'nope' }, { schema: 'elsewhere', table: 'orders' }]) {
      const findings = await api.gql(FINDINGS, variables);
      for (const query of [RECOMMENDATIONS, REPORT]) {
        const result = await api.gql(query, variables);
        expect(Object.values(result.data!)).toEqual([null]);
        expect(result.errors!.map(({ message, extensions }) => ({ message, extensions }))).toEqual(
          findings.errors!.map(({ message, extensions }) => ({ message, extensions })),
        );
        expect(result.extensions!.sqlStatements).toBe(1);
      }
    }
    const unknown = await api.gql(RECOMMENDATIONS, { table: 'nope' });
    expect(unknown.errors!.map((error) => [error.extensions!.code, error.message])).toEqual([
      ['NOT_FOUND', 'No table named "nope" on the search_path.'],
    ]);
  });

  it('nor does a schema that does not exist', async () => {
    const result = await api.gql(RECOMMENDATIONS, { schema: 'elsewhere' });
    expect(result.errors!.map((error) => [error.extensions!.code, error.message])).toEqual([['NOT_FOUND', 'No schema named "elsewhere".']]);
    expect(result.extensions!.sqlStatements).toBe(1);
  });
});

describe('excludeTables', () => {
  it('proposes audit_log when not told otherwise', async () => {
    const all = await report({});
    expect(tablesOf(all)).toEqual(['audit_log', 'orders', 'tiny']);
    expect(all.skipped).toEqual([]);
    expect(all.statementsAnalyzed).toBe(4);
  });

  it('skips the statements reading only excluded tables, with why, and proposes nothing on them', async () => {
    for (const name of ['audit_log', 'public.audit_log']) {
      const excluded = await report({ excludeTables: [name, 'tiny'] });
      expect(tablesOf(excluded)).toEqual(['orders']);
      expect(excluded.skipped).toEqual([
        `queryId ${audit}: it reads only tables excludeTables leaves out (public.audit_log)`,
        `queryId ${await queryIdOf(target, TINY)}: it reads only tables excludeTables leaves out (public.tiny)`,
      ]);
      expect(excluded.statementsAnalyzed).toBe(2);
    }
  });

  it('refuses a name the catalog does not know with NOT_FOUND, before any advisor work', async () => {
    const result = await api.gql(RECOMMENDATIONS, { excludeTables: ['audit_log', 'public.nope'] });
    expect(result.errors!.map((error) => [error.extensions!.code, error.message])).toEqual([
      ['NOT_FOUND', 'No table named "nope" in schema "public".'],
    ]);
    expect(result.extensions!.sqlStatements).toBe(2);
  });

  it('refuses a malformed name with BAD_USER_INPUT, before any SQL', async () => {
    for (const name of ['a.b.c', '.orders', '']) {
      const result = await api.gql(RECOMMENDATIONS, { excludeTables: [name] });
      expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
      expect(result.extensions!.sqlStatements).toBe(0);
    }
  });
});

describe('minMeanTimeMs', () => {
  it('leaves the faster statements out of the workload and counts them', async () => {
    const slow = await report({ minMeanTimeMs: 400 });
    expect(slow.statementsAnalyzed).toBe(1);
    expect(slow.statementsBelowMinMeanTime).toBe(3);
    expect(slow.recommendations.map((r) => [r.table, r.keys.map((key) => key.column)])).toEqual([['orders', ['total']]]);
    expect(tablesOf(slow)).toEqual(['orders']);
  });

  it('leaves none out by default', async () => {
    expect((await report({})).statementsBelowMinMeanTime).toBe(0);
  });

  it('refuses a negative minimum with BAD_USER_INPUT', async () => {
    const result = await api.gql(REPORT, { minMeanTimeMs: -1 });
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('notes: what the advisor sees and cannot propose', () => {
  const SEARCH = 'SELECT id FROM articles WHERE title ILIKE $1';
  let search: TestDatabase;
  let searchApi: TestApp;

  beforeAll(async () => {
    search = await createTestDatabase('advisor_notes');
    await search.sql(`
      CREATE TABLE articles (id int PRIMARY KEY, title text NOT NULL);
      INSERT INTO articles SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
      CREATE TABLE others (id int PRIMARY KEY, code int NOT NULL);
      ANALYZE`);
    await search.sql(RESET_THIS_DATABASE_STATEMENTS);
    for (let i = 0; i < 3; i++) await search.sql(SEARCH, [`%${i}ab%`]);
    searchApi = createTestApp(search.url);
  });

  afterAll(async () => {
    await searchApi.close();
    await search.drop();
  });

  const notes = async (variables: Record<string, unknown>) => {
    const result = await searchApi.gql<{ indexAdvisorReport: { notes: string[]; recommendations: unknown[] } }>(
      'query($table: String) { indexAdvisorReport(table: $table) { notes recommendations { sql } } }',
      variables,
    );
    expect(result.errors).toBeUndefined();
    return result.data!.indexAdvisorReport;
  };

  it('say that ILIKE needs pg_trgm, naming the statement and the extension, when it is not installed', async () => {
    const queryId = await queryIdOf(search, SEARCH);
    expect(await notes({})).toEqual({
      recommendations: [],
      notes: [
        `Statement ${queryId} matches title with ILIKE or a LIKE pattern starting with a wildcard on public.articles: only a ` +
          'trigram index (USING gin (title gin_trgm_ops)) serves that, and pg_trgm is not installed in this database ' +
          '(CREATE EXTENSION pg_trgm; then run the advisor again).',
      ],
    });
  });

  it('are about the tables asked for only', async () => {
    expect((await notes({ table: 'others' })).notes).toEqual([]);
  });
});
