// The statement inside the EXPLAIN or PREPARE text that pg_stat_statements 1.8 (PostgreSQL 13) can
// keep for a statement first seen nested (explain by queryId relies on it on every version).
import { describe, expect, it } from 'vitest';
import { unwrapNestedStatement } from '../../../src/db/explain/wrappedStatement.js';

describe('unwrapNestedStatement', () => {
  it.each([
    ['EXPLAIN (FORMAT JSON, COSTS true) SELECT * FROM orders WHERE customer_id = $1', 'SELECT * FROM orders WHERE customer_id = $1'],
    ['explain analyze verbose SELECT 1', 'SELECT 1'],
    ['EXPLAIN (ANALYZE, BUFFERS) WITH x AS (SELECT 1) SELECT * FROM x', 'WITH x AS (SELECT 1) SELECT * FROM x'],
    ['PREPARE pgscope_explain (int, text) AS UPDATE t SET a = $1 WHERE b = $2', 'UPDATE t SET a = $1 WHERE b = $2'],
    ['PREPARE s (numeric(10, 2)) AS SELECT $1 AS amount', 'SELECT $1 AS amount'],
    // multibyte text before the statement: scanner positions are bytes
    ["EXPLAIN /* é */ -- why\nSELECT 'ü'", "SELECT 'ü'"],
  ])('finds the statement inside %j', async (text, inner) => {
    expect(await unwrapNestedStatement(text)).toBe(inner);
  });

  it.each([
    "SELECT 'EXPLAIN' AS word",
    'SELECT * FROM orders WHERE customer_id = $1',
    'EXPLAIN EXEC', // not a statement PostgreSQL parses
  ])('leaves %j as it is', async (text) => {
    expect(await unwrapNestedStatement(text)).toBe(text);
  });
});
