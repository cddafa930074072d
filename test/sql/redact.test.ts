import { describe, expect, it } from 'vitest';
import { MaskedTexts, maskAllLiterals, maskByPattern, maskLiterals, redactLiveText } from '../../src/sql/redact.js';

describe('maskLiterals on texts pg_stat_statements keeps as sent (utility statements)', () => {
  it.each([
    ["ALTER ROLE x PASSWORD 'sekret456'", 'ALTER ROLE x PASSWORD $1'],
    [
      "create user x with login encrypted password 'a''b' valid until '2030-01-01'",
      'create user x with login encrypted password $1 valid until $2',
    ],
    ["ALTER SERVER s OPTIONS (SET password 'sekret')", 'ALTER SERVER s OPTIONS (SET password $1)'],
    ["CREATE SUBSCRIPTION s CONNECTION 'host=db password=sekret' PUBLICATION p", 'CREATE SUBSCRIPTION s CONNECTION $1 PUBLICATION p'],
    ["SET app.api_token = 'tok_live_51H8'", 'SET app.api_token = $1'],
    [
      "DECLARE c CURSOR FOR SELECT * FROM cards WHERE card = '4111111111111111'",
      'DECLARE c CURSOR FOR SELECT * FROM cards WHERE card = $1',
    ],
    ["DO $$ BEGIN PERFORM set_config('app.k', 'tok', false); END $$", 'DO $1'],
    ["CALL remember('tok_live_call', 42)", 'CALL remember($1, $2)'],
    ['CREATE SEQUENCE s START 4111111111111111', 'CREATE SEQUENCE s START $1'],
    // PostgreSQL 16+ normalizes some of them itself: numbering goes on after its parameters
    ["SET app.a = $1; SET app.b = 'x'", 'SET app.a = $1; SET app.b = $2'],
    // cut at track_activity_query_size: the lexer fails, the pattern still masks it
    ["ALTER ROLE x PASSWORD 'sekr", 'ALTER ROLE x PASSWORD $1'],
  ])('masks every constant of %j', async (text, expected) => {
    expect(await maskLiterals(text)).toBe(expected);
  });

  it('leaves a normalized text as it is, and is idempotent', async () => {
    for (const text of ['SELECT * FROM orders WHERE id = $1', 'SELECT a1, "b2", t3.c_4 FROM t5 WHERE x = $12 LIMIT $13', 'BEGIN']) {
      expect(await maskLiterals(text)).toBe(text);
    }
    const once = await maskLiterals("SELECT 'a', 2, $1, $$b$$");
    expect(once).toBe('SELECT $2, $3, $1, $4');
    expect(await maskLiterals(once)).toBe(once);
  });

  it('masks many texts in order (maskAllLiterals)', async () => {
    expect(await maskAllLiterals(["SET a.b = 'x'", 'SELECT $1', 'SELECT .5'])).toEqual(['SET a.b = $1', 'SELECT $1', 'SELECT $1']);
  });
});

describe('maskLiterals', () => {
  it('replaces each constant by $n after the parameters already there', async () => {
    expect(await maskLiterals("SELECT pg_sleep(5), '4111111111111111', 4.5, -7, 1e5 FROM t WHERE id = $2 AND x = 'é'")).toBe(
      'SELECT pg_sleep($3), $4, $5, -$6, $7 FROM t WHERE id = $2 AND x = $8',
    );
  });

  it('masks every kind of string and keeps identifiers and comments', async () => {
    expect(await maskLiterals(`SELECT E'a\\'b', $$x$$, $t$y$t$, B'101', X'ff', U&'d', N'n', "col'1" /* note */ FROM t1`)).toBe(
      'SELECT $1, $2, $3, $4, $5, $6, N$7, "col\'1" /* note */ FROM t1',
    );
  });

  it('masks the constants of utility statements, which normalization keeps', async () => {
    expect(await maskLiterals("COPY t FROM '/srv/cards.csv'")).toBe('COPY t FROM $1');
  });

  it('masks a text with a syntax error', async () => {
    expect(await maskLiterals("SELEC card FROM t WHERE card = '4111111111111111'")).toBe('SELEC card FROM t WHERE card = $1');
  });

  it('masks a text cut inside a string or a dollar quote', async () => {
    expect(await maskLiterals("SELECT 42, 'abc', '4111111111")).toBe('SELECT $1, $2, $3');
    expect(await maskLiterals('SELECT 7, $body$4111111111')).toBe('SELECT $1, $2');
  });
});

describe('MaskedTexts (texts masked lately)', () => {
  it('keeps the most recently used within its budget, and no entry larger than a tenth of it', () => {
    const texts = new MaskedTexts(100);
    texts.set('a', 'x'.repeat(9)); // 10 characters with its key
    texts.set('b', 'y'.repeat(9));
    texts.set('c', 'z'.repeat(9));
    expect(texts.get('a')).toBe('x'.repeat(9)); // now the most recently used
    for (const key of 'defghij') texts.set(key, key.repeat(9)); // 100 characters in all
    expect(texts.get('b')).toBe('y'.repeat(9));
    texts.set('k', 'k'.repeat(9)); // one over: the least recently used (c) goes
    expect(texts.get('c')).toBeUndefined();
    expect(texts.get('a')).toBe('x'.repeat(9));
    expect(texts.get('k')).toBe('k'.repeat(9));
    texts.set('huge', 'h'.repeat(11));
    expect(texts.get('huge')).toBeUndefined();
  });

  it('gives a text served from it the same masking, and texts differing only by a constant their own', async () => {
    const first = "SELECT * FROM cards WHERE card = '4111111111111111' AND n = 7";
    expect(await maskLiterals(first)).toBe('SELECT * FROM cards WHERE card = $1 AND n = $2');
    expect(await maskLiterals(first)).toBe('SELECT * FROM cards WHERE card = $1 AND n = $2');
    expect(await maskLiterals("SELECT * FROM cards WHERE card = '5500' AND m = $1")).toBe('SELECT * FROM cards WHERE card = $2 AND m = $1');
  });
});

describe('maskByPattern (when the lexer fails)', () => {
  it('keeps quoted identifiers, comments and parameters, masks strings and numbers', () => {
    expect(maskByPattern(`SELECT "a""b", t1.c2 -- it's\n FROM t WHERE x = $1 AND y = 3.5 AND z = e'q\\'r' AND w = '4111`)).toBe(
      `SELECT "a""b", t1.c2 -- it's\n FROM t WHERE x = $1 AND y = $2 AND z = $3 AND w = $4`,
    );
  });
});

describe('redactLiveText (pg_stat_activity texts)', () => {
  it('masks literals by default', async () => {
    expect(await redactLiveText("SELECT pg_sleep(5), '4111111111111111'", false)).toBe('SELECT pg_sleep($1), $2');
  });

  it('shows literals when asked, but never a password', async () => {
    expect(await redactLiveText("SELECT pg_sleep(5), '4111111111111111'", true)).toBe("SELECT pg_sleep(5), '4111111111111111'");
    expect(await redactLiveText("ALTER ROLE x PASSWORD 'sekret456'", true)).toBe('ALTER ROLE x PASSWORD $1');
  });
});
