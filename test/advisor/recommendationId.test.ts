// A recommendation id is its definition: the same definition gives the same id, decoding gives it
// back, and anything pgscope did not write is BAD_USER_INPUT.
import { describe, expect, it } from 'vitest';
import { decodeRecommendationId, encodeRecommendationId, type RecommendedIndex } from '../../src/advisor/recommendationId.js';
import { isPgscopeError } from '../../src/errors.js';

const index: RecommendedIndex = {
  schema: 'public',
  table: 'activity_logs',
  method: 'btree',
  keys: [
    { column: 'user_id', expression: null, direction: null, nulls: null, opclass: null },
    { column: 'timestamp', expression: null, direction: 'DESC', nulls: null, opclass: null },
  ],
  where: null,
  include: [],
  forQueryIds: ['42', '-7'],
};

describe('recommendation ids', () => {
  it('round-trip, and equal definitions give equal ids', () => {
    const id = encodeRecommendationId(index);
    expect(id).toMatch(/^rec1:[A-Za-z0-9_-]+$/);
    expect(decodeRecommendationId(id)).toEqual({ ...index, forQueryIds: ['-7', '42'] });
    expect(encodeRecommendationId({ ...index, forQueryIds: ['-7', '42'] })).toBe(id);
  });

  it('carries the query ids at both ends of int8', () => {
    const extremes = { ...index, forQueryIds: ['-9223372036854775808', '9223372036854775807'] };
    expect(decodeRecommendationId(encodeRecommendationId(extremes)).forQueryIds).toEqual(extremes.forQueryIds);
  });

  const forged = (value: unknown) => `rec1:${Buffer.from(JSON.stringify(value)).toString('base64url')}`;
  it.each([
    ['another prefix', 'abc'],
    ['not JSON', 'rec1:!!!'],
    [
      'a method pgscope never recommends',
      forged({ s: 'public', t: 't', m: 'evil', k: [['a', null, null, null, null]], w: null, i: [], q: [] }),
    ],
    [
      'a key with both a column and an expression',
      forged({ s: 'public', t: 't', m: 'btree', k: [['a', 'lower(a)', null, null, null]], w: null, i: [], q: [] }),
    ],
    ['no keys', forged({ s: 'public', t: 't', m: 'btree', k: [], w: null, i: [], q: [] })],
    [
      'a query id that is not a number',
      forged({ s: 'public', t: 't', m: 'btree', k: [['a', null, null, null, null]], w: null, i: [], q: ['1; DROP'] }),
    ],
    // pg_stat_statements' queryid is an int8: such an id built the index, then broke every read of changeLog { effect }
    [
      'a query id past int8',
      forged({ s: 'public', t: 't', m: 'btree', k: [['a', null, null, null, null]], w: null, i: [], q: ['99999999999999999999'] }),
    ],
    [
      'a query id one past int8',
      forged({ s: 'public', t: 't', m: 'btree', k: [['a', null, null, null, null]], w: null, i: [], q: ['9223372036854775808'] }),
    ],
    ['an id too long', `rec1:${'A'.repeat(9000)}`],
  ])('refuses %s with BAD_USER_INPUT', (_, id) => {
    let error: unknown;
    try {
      decodeRecommendationId(id);
    } catch (caught) {
      error = caught;
    }
    expect(isPgscopeError(error, 'BAD_USER_INPUT')).toBe(true);
  });
});
