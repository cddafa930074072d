// Bad input gets a typed error and internals never reach the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, createTestDatabase, errorCodes, TEST_ADMIN_TOKEN, type TestApp, type TestDatabase } from '../harness/database.js';
import { RESET_THIS_DATABASE_STATEMENTS } from '../harness/stats.js';

let target: TestDatabase;
let api: TestApp;

beforeAll(async () => {
  target = await createTestDatabase('errors');
  api = createTestApp(target.url);
});

afterAll(async () => {
  await api.close();
  await target.drop();
});

describe('typed errors', () => {
  it.each([
    ['{ slowQueries(limit: 0) { queryId } }', 'limit must be a whole number from 1 to 1000, got 0.'],
    ['{ slowQueries(limit: 5000) { queryId } }', 'limit must be a whole number from 1 to 1000, got 5000.'],
    ['{ slowQueries(minMeanTimeMs: -1) { queryId } }', 'minMeanTimeMs must be zero or more, got -1.'],
    ['{ slowQueries(minCalls: -3) { queryId } }', 'minCalls must be a whole number from 0 to 9007199254740991, got -3.'],
  ])('%s is BAD_USER_INPUT', async (query, message) => {
    const result = await api.gql(query);
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.message).toBe(message);
    expect(result.data).toEqual({ slowQueries: null });
  });

  it('answers the root fields that worked next to the error of the one that failed', async () => {
    await target.sql(RESET_THIS_DATABASE_STATEMENTS);
    await target.sql('SELECT 42 AS answer');
    const result = await api.gql<{ slowQueries: Array<{ query: string }> | null; explain: null }>(
      '{ slowQueries(minMeanTimeMs: 0, limit: 100) { query } explain(sql: "SELECT * FROM no_such_table") { totalCost } }',
    );
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.path).toEqual(['explain']);
    expect(result.data!.explain).toBeNull();
    expect(result.data!.slowQueries!.map((row) => row.query)).toContain('SELECT $1 AS answer');
  });

  it('answers an unknown enum value as a validation error', async () => {
    const result = await api.gql('{ slowQueries(orderBy: FASTEST) { queryId } }');
    expect(errorCodes(result)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('turns a dropped extension into EXTENSION_NOT_LOADED, then re-detects', async () => {
    expect(errorCodes(await api.gql('{ slowQueries { queryId } }'))).toEqual([]);
    await target.sql('DROP EXTENSION pg_stat_statements');
    const stale = await api.gql('{ slowQueries { queryId } }');
    expect(errorCodes(stale)).toEqual(['EXTENSION_NOT_LOADED']);
    expect(JSON.stringify(stale)).not.toMatch(/relation|SELECT|does not exist/);
    const capabilities = await api.gql<{ capabilities: { pgStatStatements: { installed: boolean } } }>(
      '{ capabilities { pgStatStatements { installed } } }',
    );
    expect(capabilities.data!.capabilities.pgStatStatements.installed).toBe(false);
    await target.sql('CREATE EXTENSION pg_stat_statements');
  });
});

describe('input PostgreSQL cannot take', () => {
  it.each([
    ['{ indexUsage(table: "orders\\u0000x") { indexName } }', {}, 'Argument table', { argument: 'table' }],
    ['{ activity(applicationName: "app\\u0000") { pid } }', {}, 'Argument applicationName', { argument: 'applicationName' }],
    ['query ($table: String) { indexFindings(table: $table) { kind } }', { table: 'a\u0000' }, 'Variable $table', { variable: 'table' }],
    ['query ($sql: String) { explain(sql: $sql) { totalCost } }', { sql: 'SELECT 1 -- \u0000' }, 'Variable $sql', { variable: 'sql' }],
    // before the target is looked up: not NOT_FOUND for a name with a NUL in it
    ['query @target(name: "default\\u0000") { targets { name } }', {}, 'Argument name', { argument: 'name' }],
  ])('refuses a NUL character before any SQL: %s', async (query, variables, label, details) => {
    const result = await api.gql(query, variables);
    expect(result.errors).toEqual([
      {
        message: `${label} contains a NUL character (\\u0000), which PostgreSQL text cannot hold.`,
        extensions: { code: 'BAD_USER_INPUT', ...details },
      },
    ]);
    expect(result.data).toBeUndefined();
  });

  it('checks the variables of every request, also once the same operation was found without NUL', async () => {
    const query = 'query ($table: String) { indexFindings(table: $table) { kind } }';
    expect((await api.gql(query, { table: 'nul_check_clean' })).errors?.[0]?.extensions?.code).not.toBe('BAD_USER_INPUT');
    expect(errorCodes(await api.gql(query, { table: 'a\u0000' }))).toEqual(['BAD_USER_INPUT']);
    const literal = '{ activity(applicationName: "app\\u0000") { pid } }';
    expect(errorCodes(await api.gql(literal))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await api.gql(literal))).toEqual(['BAD_USER_INPUT']);
  });

  it('answers a statement nested too deeply to parse (a 90 KB SELECT 1+1+...) as BAD_USER_INPUT', async () => {
    const sql = `SELECT ${Array.from({ length: 45_000 }, () => '1').join('+')}`;
    const result = await api.gql('query ($sql: String) { explain(sql: $sql) { totalCost } }', { sql });
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.message).toBe(
      'The statement is too complex: its expressions nest too deeply to parse. Simplify it, or split it.',
    );
  });

  // Both reach PostgreSQL's 25001 and 55000 only when run; explain(analyze) refuses them first,
  // as volatile functions (the pool's translation of those SQLSTATEs is tested in test/db/pool.test.ts).
  it.each([
    ["SELECT set_config('transaction_isolation', 'serializable', true)", 'pg_catalog.set_config'],
    ["SELECT currval('errors_seq')", 'pg_catalog.currval'],
  ])('refuses EXPLAIN ANALYZE of %s before running it', async (sql, fn) => {
    await target.sql('CREATE SEQUENCE IF NOT EXISTS errors_seq');
    const result = await api.gql(
      'query ($sql: String) { explain(sql: $sql, analyze: true) { totalCost } }',
      { sql },
      { token: TEST_ADMIN_TOKEN },
    );
    expect(errorCodes(result)).toEqual(['UNSAFE_STATEMENT']);
    expect(result.errors![0]!.message).toContain(`volatile function ${fn}`);
  });
});
