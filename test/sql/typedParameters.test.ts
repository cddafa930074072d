// Typed literals that pg_stat_statements turned into `type $n` become casts PostgreSQL can plan;
// nothing else changes.
import { describe, expect, it } from 'vitest';
import { castTypedParameters } from '../../src/sql/typedParameters.js';

describe('castTypedParameters', () => {
  it.each([
    ['SELECT * FROM t WHERE ts >= now() - interval $2 LIMIT $1', 'SELECT * FROM t WHERE ts >= now() - $2::interval LIMIT $1'],
    ['SELECT date $1, jsonb $2, pg_catalog.date $3', 'SELECT $1::date, $2::jsonb, $3::pg_catalog.date'],
    ['SELECT timestamp with time zone $1, int $2', 'SELECT $1::timestamp with time zone, $2::int'],
  ])('rewrites %s', async (text, expected) => {
    expect(await castTypedParameters(text)).toBe(expected);
  });

  it.each([
    'SELECT 1 WHERE a = $1 AND b IN ($2) OR c BETWEEN $3 AND $4 LIMIT $5 OFFSET $6',
    'SELECT \'interval $1\', "date" FROM t WHERE x = $1 -- date $2',
    'SELECT $1, $2::interval, f($3)',
    'SELECT 1',
  ])('leaves %s alone', async (text) => {
    expect(await castTypedParameters(text)).toBe(text);
  });
});
