// The rules of `pgscope check`, on the answers pgscope gives (the recipes test runs them end to end).
import { describe, expect, it } from 'vitest';
import { benefitFailures, parseBaseline, parseBenefit, regressionFailures, savedShare, type Recommendation } from '../../src/cli/gates.js';

const recommendation = (statements: Recommendation['statements']): Recommendation => ({
  id: 'r1',
  schema: 'public',
  table: 'orders',
  name: 'orders_customer_id_idx',
  sql: 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders (customer_id)',
  statements,
});

describe('--max-benefit', () => {
  it.each([
    ['50%', 0.5],
    ['0%', 0],
    ['100%', 1],
    ['12.5%', 0.125],
    ['2x', 0.5],
    ['4X', 0.75],
    ['1x', 0],
  ])('reads %s as a saved share of %s', (text, share) => {
    expect(parseBenefit(text)).toBe(share);
  });

  it.each(['50', '', '101%', '0.5x', '-5%', 'half'])('refuses %j', (text) => {
    expect(parseBenefit(text)).toBeUndefined();
  });

  it('weighs each statement by its calls', () => {
    const r = recommendation([
      { queryId: '1', calls: '90', costBefore: 100, costAfter: 10 },
      { queryId: '2', calls: 10, costBefore: 100, costAfter: 100 },
    ]);
    expect(savedShare(r)).toBeCloseTo(0.81);
    expect(benefitFailures([r], 0.8)).toEqual([
      {
        gate: 'RECOMMENDATION_BENEFIT',
        subject: 'public.orders orders_customer_id_idx',
        value: 0.81,
        threshold: 0.8,
        message:
          "recommended index orders_customer_id_idx on public.orders would save 81.0% of its statements' estimated cost (5.3x cheaper), above --max-benefit 80.0%: CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders (customer_id)",
      },
    ]);
    expect(benefitFailures([r], 0.81)).toEqual([]);
  });
});

describe('--baseline and --max-regression', () => {
  const before = [
    { queryId: '7', query: 'SELECT 1', calls: 100, meanTimeMs: 2 },
    { queryId: '8', query: 'SELECT 2', calls: 5, meanTimeMs: 2 },
  ];

  it('fails a statement above ratio x its baseline mean, only with enough calls then and now', () => {
    const now = [
      { queryId: '7', query: 'SELECT 1', calls: 120, meanTimeMs: 3.1 },
      { queryId: '8', query: 'SELECT 2', calls: 50, meanTimeMs: 20 },
    ];
    expect(regressionFailures(before, now, 1.5, 10).map((f) => f.message)).toEqual([
      'statement 7 mean time 3.10 ms is 1.55x its baseline 2.00 ms, above --max-regression 1.5 (120 calls): SELECT 1',
    ]);
    expect(regressionFailures(before, now, 1.6, 10)).toEqual([]);
    expect(regressionFailures(before, [{ ...now[0]!, calls: 9 }], 1.5, 10)).toEqual([]);
  });

  it('reads a baseline file, or says why it cannot', () => {
    expect(parseBaseline(JSON.stringify({ pgscopeVersion: '0.1.0', savedAt: 'x', statements: before }))).toEqual(before);
    expect(parseBaseline('{')).toMatch(/^not JSON/);
    expect(parseBaseline('{}')).toBe('no "statements" array (write one with --save-baseline)');
    expect(parseBaseline('{"statements":[{"queryId":7}]}')).toBe('each statement needs queryId (string), calls and meanTimeMs (numbers)');
  });
});
