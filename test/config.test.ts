import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('uses the documented defaults', () => {
    const config = loadConfig({});
    const cores = availableParallelism();
    expect(config.databaseUrl).toBeUndefined();
    expect(config.port).toBe(4000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.adminToken).toBeUndefined();
    expect(config.slowQueryMs).toBe(100);
    expect(config.pool).toEqual({
      min: cores * 2 + 1,
      max: (cores * 2 + 1) * 2,
      idleTimeoutMs: 30_000,
      connectionTimeoutMs: 5_000,
      maxLifetimeSeconds: 3_600,
      statementTimeoutMs: 10_000,
      lockTimeoutMs: 2_000,
      preparedStatements: true,
    });
    expect(config.embedded.port).toBe(54329);
    expect(config.embedded.demoScale).toBe(0.5);
    expect(config.reads).toEqual({ coalescing: true, cacheMs: 0 });
  });

  it('reads more targets from PGSCOPE_TARGETS, and subscription bounds', () => {
    const config = loadConfig({
      PGSCOPE_TARGETS: ' billing=postgresql://a:s3cret@b.internal/billing\n  reports=postgres://r@replica/app?sslmode=require ',
      PGSCOPE_MAX_SUBSCRIPTIONS: '10',
    });
    expect(config.targets).toEqual([
      { name: 'billing', url: 'postgresql://a:s3cret@b.internal/billing' },
      { name: 'reports', url: 'postgres://r@replica/app?sslmode=require' },
    ]);
    expect(config.subscriptions).toEqual({ minIntervalMs: 1000, maxPerClient: 4, maxTotal: 10 });
    expect(loadConfig({}).targets).toEqual([]);
  });

  it.each([
    ['postgresql://a:s3cret@b/x', 'got an entry without a name= in front'],
    ['postgresql://a:s3cret@b/x?sslmode=require', 'got an entry without a name= in front'],
    ['Billing=postgresql://a:s3cret@b/x', 'got the name "Billing"'],
    ['default=postgresql://a:s3cret@b/x', 'may not name a target "default"'],
    ['b=postgresql://a:s3cret@h/x b=postgresql://a:s3cret@h/y', 'names target "b" twice'],
    ['b=http://a:s3cret@h/x', 'PGSCOPE_TARGETS (target b) must start with postgresql://'],
  ])('refuses PGSCOPE_TARGETS=%s without quoting its password', (value, message) => {
    let error: unknown;
    try {
      loadConfig({ PGSCOPE_TARGETS: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('reads how reads are shared', () => {
    expect(loadConfig({ PGSCOPE_READ_COALESCING: 'false', PGSCOPE_READ_CACHE_MS: '1500' }).reads).toEqual({
      coalescing: false,
      cacheMs: 1500,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://app@db.internal:5433/shop',
      PORT: '8080',
      PGSCOPE_ADMIN_TOKEN: 'a'.repeat(20),
      PGSCOPE_POOL_MIN: '2',
      PGSCOPE_POOL_MAX: '3',
      PGSCOPE_SLOW_QUERY_MS: '250.5',
    });
    expect(config.databaseUrl).toBe('postgresql://app@db.internal:5433/shop');
    expect(config.port).toBe(8080);
    expect(config.adminToken).toBe('a'.repeat(20));
    expect(config.pool.min).toBe(2);
    expect(config.pool.max).toBe(3);
    expect(config.slowQueryMs).toBe(250.5);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT must be a whole number, got "abc"'],
    [{ PORT: '70000' }, 'PORT must be at most 65535, got 70000'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL is not a valid URL; expected postgresql://user:password@host:5432/database'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL must start with postgresql:// (got mysql://...)'],
    [
      { PGSCOPE_ADMIN_TOKEN: 'short' },
      'PGSCOPE_ADMIN_TOKEN must be at least 16 characters long (got 5); generate one with: openssl rand -hex 24',
    ],
    [{ PGSCOPE_POOL_MAX: '0' }, 'PGSCOPE_POOL_MAX must be at least 1, got 0'],
    [{ PGSCOPE_POOL_MIN: '5', PGSCOPE_POOL_MAX: '2' }, 'PGSCOPE_POOL_MIN must not exceed PGSCOPE_POOL_MAX (2), got 5'],
    [{ PGSCOPE_SLOW_QUERY_MS: '-1' }, 'PGSCOPE_SLOW_QUERY_MS must be at least 0, got -1'],
    [{ PGSCOPE_PREPARED_STATEMENTS: 'maybe' }, 'PGSCOPE_PREPARED_STATEMENTS must be true or false, got "maybe"'],
    [{ PGSCOPE_READ_CACHE_MS: '60001' }, 'PGSCOPE_READ_CACHE_MS must be at most 60000, got 60001'],
    [{ PGSCOPE_READ_COALESCING: 'sometimes' }, 'PGSCOPE_READ_COALESCING must be true or false, got "sometimes"'],
    // Past Node's timer limit (2^31 - 1 ms) a timeout turns into 1 ms and every query fails.
    [
      { PGSCOPE_POOL_CONNECTION_TIMEOUT_MS: '99999999999999' },
      'PGSCOPE_POOL_CONNECTION_TIMEOUT_MS must be at most 600000, got 99999999999999',
    ],
    // Past PostgreSQL's integer settings the session SET fails: "ready", then every request fails.
    [{ PGSCOPE_STATEMENT_TIMEOUT_MS: '99999999999' }, 'PGSCOPE_STATEMENT_TIMEOUT_MS must be at most 3600000, got 99999999999'],
    [{ PGSCOPE_STATEMENT_TIMEOUT_MS: '0' }, 'PGSCOPE_STATEMENT_TIMEOUT_MS must be at least 100, got 0'],
    [{ PGSCOPE_POOL_MAX: '0x10' }, 'PGSCOPE_POOL_MAX must be a whole number, got "0x10"'],
    [{ PGSCOPE_POOL_IDLE_TIMEOUT_MS: '-5' }, 'PGSCOPE_POOL_IDLE_TIMEOUT_MS must be at least 0, got -5'],
    [{ PGSCOPE_SHUTDOWN_GRACE_MS: '1e3' }, 'PGSCOPE_SHUTDOWN_GRACE_MS must be a whole number, got "1e3"'],
    [{ PGSCOPE_SLOW_QUERY_MS: '1e3' }, 'PGSCOPE_SLOW_QUERY_MS must be a decimal number, got "1e3"'],
    [{ PGSCOPE_SLOW_QUERY_MS: 'Infinity' }, 'PGSCOPE_SLOW_QUERY_MS must be a decimal number, got "Infinity"'],
    [{ PGSCOPE_DEMO_SCALE: '0x10' }, 'PGSCOPE_DEMO_SCALE must be a decimal number, got "0x10"'],
    [{ PGSCOPE_LOCK_TIMEOUT_MS: '1.5' }, 'PGSCOPE_LOCK_TIMEOUT_MS must be a whole number, got "1.5"'],
    [{ PGSCOPE_CAPTURE_INTERVAL_S: '12 s' }, 'PGSCOPE_CAPTURE_INTERVAL_S must be a whole number, got "12 s"'],
    [{ PGSCOPE_SAMPLE_INTERVAL_S: '3601' }, 'PGSCOPE_SAMPLE_INTERVAL_S must be at most 3600, got 3601'],
    [{ PGSCOPE_MAX_BODY_BYTES: '99999999999' }, 'PGSCOPE_MAX_BODY_BYTES must be at most 10485760, got 99999999999'],
  ])('rejects %o with one clear line', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('samples the running statements every 5 s unless told otherwise (0: only when the advisor runs)', () => {
    expect(loadConfig({}).sampleIntervalSeconds).toBe(5);
    expect(loadConfig({ PGSCOPE_SAMPLE_INTERVAL_S: '0' }).sampleIntervalSeconds).toBe(0);
  });

  it('ignores spaces around a value (as .env files leave them) and treats an empty one as unset', () => {
    const config = loadConfig({ PGSCOPE_POOL_MIN: ' 12 ', PGSCOPE_POOL_MAX: '\t24\n', PGSCOPE_STATEMENT_TIMEOUT_MS: '' });
    expect(config.pool.min).toBe(12);
    expect(config.pool.max).toBe(24);
    expect(config.pool.statementTimeoutMs).toBe(10_000);
  });
});

describe('tokens', () => {
  const TOKEN = 'tok-0123456789abcdef';

  it.each([
    // Read as unset, a blank admin token switched mutations off and a blank read token opened reads, silently.
    [
      { PGSCOPE_ADMIN_TOKEN: '   ' },
      'PGSCOPE_ADMIN_TOKEN is set but blank; set a token (generate one with: openssl rand -hex 24) or leave it unset',
    ],
    [
      { PGSCOPE_READ_TOKEN: '\t \n' },
      'PGSCOPE_READ_TOKEN is set but blank; set a token (generate one with: openssl rand -hex 24) or leave it unset',
    ],
    [
      { PGSCOPE_ADMIN_TOKEN: 'tok 0123456789 abcdef' },
      'PGSCOPE_ADMIN_TOKEN must not contain spaces or control characters: clients send it as one word, "Authorization: Bearer <token>"',
    ],
    [
      { PGSCOPE_READ_TOKEN: 'tok-0123456789\u0007abcdef' },
      'PGSCOPE_READ_TOKEN must not contain spaces or control characters: clients send it as one word, "Authorization: Bearer <token>"',
    ],
    // The read token would have run mutations.
    [
      { PGSCOPE_ADMIN_TOKEN: TOKEN, PGSCOPE_READ_TOKEN: ` ${TOKEN}` },
      'PGSCOPE_ADMIN_TOKEN must differ from PGSCOPE_READ_TOKEN: with the same value, every reader could run mutations',
    ],
  ])('refuses %o with exactly this line (no token quoted)', (env, message) => {
    const thrown = (() => {
      try {
        loadConfig(env);
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toBe(message);
  });

  it('takes a token without the spaces around it (a trailing newline from a secrets file), and an empty one as unset', () => {
    expect(loadConfig({ PGSCOPE_ADMIN_TOKEN: `${TOKEN}\n`, PGSCOPE_READ_TOKEN: ` read-${TOKEN} ` })).toMatchObject({
      adminToken: TOKEN,
      readToken: `read-${TOKEN}`,
    });
    expect(loadConfig({ PGSCOPE_ADMIN_TOKEN: '', PGSCOPE_READ_TOKEN: '' })).toMatchObject({ adminToken: undefined, readToken: undefined });
  });
});
