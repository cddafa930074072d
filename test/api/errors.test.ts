// Bad input gets a typed error and internals never reach the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, createTestDatabase, errorCodes, type TestApp, type TestDatabase } from '../harness/database.js';

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
    await target.sql('SELECT pg_stat_statements_reset()');
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
    const capabilities = await api.gql<{ capabilities: { pgStatStatements: { installed: boolean } } }>('{ capabilities { pgStatStatements { installed } } }');
    expect(capabilities.data!.capabilities.pgStatStatements.installed).toBe(false);
    await target.sql('CREATE EXTENSION pg_stat_statements');
  });
});
