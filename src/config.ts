// pgscope's whole configuration, read once from environment variables.
// Every option below is documented in README.md ("Configuration") with the same words.
// Hand-written rather than envalid, convict or a zod schema: the rules that matter here are ours
// anyway (tokens refused when blank or equal, URLs checked but never quoted because they carry
// passwords, PGSCOPE_TARGETS pairs, ranges named in the README's words), and a library would add
// a dependency to a 400-line file without taking any of them off our hands.
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { isIP } from 'node:net';

export interface PoolConfig {
  /** Connections kept open when idle (the guide's "base" capacity). Default: cores x 2 + 1. */
  min: number;
  /** Most connections the pool opens: base + burst. Default: 2 x min. */
  max: number;
  /** Milliseconds a connection above `min` may sit idle before it is closed. Default 30000. */
  idleTimeoutMs: number;
  /** Milliseconds a request waits for a connection before failing with POOL_EXHAUSTED. Default 5000. */
  connectionTimeoutMs: number;
  /** Seconds after which a connection is recycled (the guide's "recycle after an hour"). Default 3600. */
  maxLifetimeSeconds: number;
  /** Server-side statement_timeout for reads, milliseconds. Default 10000. */
  statementTimeoutMs: number;
  /** Server-side lock_timeout for reads, milliseconds. Default 2000. */
  lockTimeoutMs: number;
  /**
   * Keep pgscope's parameterized statements prepared per connection, so PostgreSQL plans each
   * once. Turn off behind PgBouncer older than 1.21 in transaction mode. Default true.
   */
  preparedStatements?: boolean;
}

export interface EmbeddedConfig {
  /** Folder holding the embedded server's data directory and log. Default `.pgscope` in the working directory. */
  dir: string;
  /** True when PGSCOPE_EMBEDDED_DIR chose `dir`; the default may move to /var/lib/pgscope when pgscope runs as root. */
  dirChosen: boolean;
  /** TCP port of the embedded server on 127.0.0.1; 0 picks a free one at each start. Default 54329. */
  port: number;
  /** Size of the demo data: 1 = 200k users and 2M activity rows. Default 0.5. */
  demoScale: number;
  /** Statements per second of the demo query mix running in the background; 0 turns it off. Default 2. */
  workloadRate: number;
}

/** Limits checked before any resolver runs or any SQL is sent: one request cannot take the server down. */
export interface LimitsConfig {
  /** Largest request body accepted, bytes (REQUEST_TOO_LARGE past it). Default 102400. */
  maxBodyBytes: number;
  /** Deepest selection nesting of an operation. Default 12. */
  maxDepth: number;
  /** Most aliases in one operation. Default 30. */
  maxAliases: number;
  /** Most lexical tokens in one operation. Default 3000. */
  maxTokens: number;
  /** Highest estimated cost of one operation (graphql-armor's weights, list sizes not multiplied; see src/http/limits.ts). Default 5000. */
  maxCost: number;
  /** Most expensive fields (explain, index recommendations) in one operation. Default 3. */
  maxExpensiveFields: number;
  /** statement_timeout of an explain asked without the admin token (anonymous and read-token readers), milliseconds. Default 2000. */
  anonymousExplainTimeoutMs: number;
  /** SQL statements one request may have running at once, so one request cannot take the whole pool. Default 4. */
  requestConcurrency: number;
}

/** How reads of query operations share work (src/db/sharedReads.ts). */
export interface ReadsConfig {
  /**
   * An identical read (same statement, same parameters) already running for another request is
   * joined instead of sent again: one pool wait and one round trip for all its waiters. Default true.
   */
  coalescing: boolean;
  /**
   * Milliseconds a read's answer is kept and given to identical reads of query operations whose
   * root fields all allow it (cumulative statistics, not live activity); 0 turns the cache off.
   * Answers are at most this old plus one statement's duration. Default 0.
   */
  cacheMs: number;
}

export interface Config {
  /** Target database. Absent: pgscope starts an embedded PostgreSQL with demo data. */
  databaseUrl: string | undefined;
  /**
   * More databases served by this pgscope, each with its own pool, chosen per operation by name
   * (header X-Pgscope-Target or the operation's @target directive). The default target is
   * DATABASE_URL (or the embedded demo). Default: none.
   */
  targets: NamedTarget[];
  /** HTTP port; 0 picks a free one (the start banner shows it). Default 4000. */
  port: number;
  /** HTTP bind address. Default 127.0.0.1 (pgscope exposes database internals: opt in to 0.0.0.0). */
  host: string;
  /** Bearer token that enables mutations and admin-only fields (it also reads). Absent: mutations are disabled. */
  adminToken: string | undefined;
  /** Bearer token needed for reads. Absent: reads are open to whoever reaches the port (loopback only, unless allowAnonymousReads). */
  readToken: string | undefined;
  /** Binding a non-loopback HOST without PGSCOPE_READ_TOKEN is refused unless this is true. Default false. */
  allowAnonymousReads: boolean;
  /** Origins (scheme://host[:port]) granted cross-origin access. Default none: no CORS grant. */
  corsOrigins: string[];
  /** Host names accepted in the Host header besides loopback names and the bound address (DNS rebinding guard). */
  allowedHosts: string[];
  /** Show literals in live statement texts (activity, blocked queries) instead of masking them. Default false. */
  showQueryLiterals: boolean;
  /** Milliseconds in-flight requests may take to finish after SIGTERM/Ctrl-C. Default 10000. */
  shutdownGraceMs: number;
  /** lock_timeout of the DDL session mutations run on, milliseconds (its statement_timeout is off). Default 3000. */
  ddlLockTimeoutMs: number;
  /**
   * Whose functions pgscope lets PostgreSQL run while planning (explain, the advisor) and in the
   * indexes it builds, besides PostgreSQL's own, superusers' and roles that already hold the
   * privileges of the role they would run as (src/db/trust/rule.ts). Default: none.
   */
  trust: TrustConfig;
  limits: LimitsConfig;
  reads: ReadsConfig;
  subscriptions: SubscriptionsConfig;
  /** Statements with a mean time at or above this many milliseconds are "slow". Default 100 (the guide's). */
  slowQueryMs: number;
  /** Seconds between automatic query-stat snapshots for history; 0 turns it off. Default 0. */
  captureIntervalSeconds: number;
  /** Days (1 to 3650) query-stat snapshots are kept; each capture deletes older ones. Default 7. */
  historyRetentionDays: number;
  /** Seconds between looks at pg_stat_activity for the constants statements run with (the advisor's partial indexes); 0 turns it off. Default 5. */
  sampleIntervalSeconds: number;
  pool: PoolConfig;
  embedded: EmbeddedConfig;
  log: LogConfig;
  /** Serve Prometheus metrics at /metrics (protected like reads). Default true. */
  metrics: boolean;
}

/** The name of the target operations go to when they name none: DATABASE_URL's database, or the demo. */
export const DEFAULT_TARGET = 'default';

/** A target name: what clients send, and a label of the metrics. */
export const TARGET_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

export interface NamedTarget {
  name: string;
  url: string;
}

/** Bounds of the subscriptions dashboards hold open (src/live.ts). */
export interface SubscriptionsConfig {
  /** Shortest intervalMs a subscription may ask for. Default 1000. */
  minIntervalMs: number;
  /** Subscriptions one client (its address and token) may hold open at once. Default 4. */
  maxPerClient: number;
  /** Subscriptions the process holds open at once, all clients together. Default 32. */
  maxTotal: number;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export const LOG_FORMATS = ['json', 'text'] as const;

/** The request and change log (src/http/requestLog.ts); start-up and shutdown messages stay plain lines on stderr. */
export interface LogConfig {
  /** info: an access line per request and a line per mutation; debug adds nothing secret, warn and error only failures. Default info. */
  level: (typeof LOG_LEVELS)[number];
  /** json: one JSON object per line (pino), for log collectors; text: one readable line. Default json. */
  format: (typeof LOG_FORMATS)[number];
}

/** A bad configuration value: the process prints the message and exits. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const read = new EnvReader(env);
  const cores = availableParallelism();
  // The guide's sizing rule: connections = cores x 2 + effective spindles (1 for an SSD).
  // pg-pool has no overflow setting, so "base" becomes `min` and "base + burst" becomes `max`.
  const poolMin = read.integer('PGSCOPE_POOL_MIN', cores * 2 + 1, { min: 0, max: 1000 });
  const poolMax = read.integer('PGSCOPE_POOL_MAX', Math.max(poolMin * 2, 1), { min: 1, max: 1000 });
  if (poolMin > poolMax) {
    throw new ConfigError('PGSCOPE_POOL_MIN', `must not exceed PGSCOPE_POOL_MAX (${poolMax}), got ${poolMin}`);
  }
  const config: Config = {
    databaseUrl: read.databaseUrl('DATABASE_URL'),
    targets: read.targets('PGSCOPE_TARGETS'),
    port: read.integer('PORT', 4000, { min: 0, max: 65535 }),
    host: read.string('HOST', '127.0.0.1'),
    adminToken: read.token('PGSCOPE_ADMIN_TOKEN'),
    readToken: read.token('PGSCOPE_READ_TOKEN'),
    allowAnonymousReads: read.boolean('PGSCOPE_ALLOW_ANONYMOUS_READS', false),
    corsOrigins: read.list('PGSCOPE_CORS_ORIGINS', ORIGIN, 'an origin such as https://dashboard.example.com'),
    allowedHosts: read.list('PGSCOPE_ALLOWED_HOSTS', HOST_NAME, 'a host name such as pgscope.internal').map((host) => host.toLowerCase()),
    showQueryLiterals: read.boolean('PGSCOPE_SHOW_QUERY_LITERALS', false),
    shutdownGraceMs: read.integer('PGSCOPE_SHUTDOWN_GRACE_MS', 10_000, { min: 0, max: HOUR_MS }),
    // A DDL statement waiting for its lock queues every later query on the table behind it: short, never off.
    ddlLockTimeoutMs: read.integer('PGSCOPE_DDL_LOCK_TIMEOUT_MS', 3_000, { min: 1, max: MINUTE_MS }),
    trust: {
      roles: read.list('PGSCOPE_TRUSTED_ROLES', CATALOG_NAME, 'a role name such as app_owner'),
      extensions: read.list('PGSCOPE_TRUSTED_EXTENSIONS', CATALOG_NAME, 'an extension name such as postgis'),
    },
    slowQueryMs: read.number('PGSCOPE_SLOW_QUERY_MS', 100, { min: 0, max: DAY_MS }),
    captureIntervalSeconds: read.integer('PGSCOPE_CAPTURE_INTERVAL_S', 0, { min: 0, max: 86_400 }),
    sampleIntervalSeconds: read.integer('PGSCOPE_SAMPLE_INTERVAL_S', 5, { min: 0, max: 3_600 }),
    historyRetentionDays: read.integer('PGSCOPE_HISTORY_RETENTION_DAYS', 7, { min: 1, max: 3650 }),
    limits: {
      maxBodyBytes: read.integer('PGSCOPE_MAX_BODY_BYTES', 100 * 1024, { min: 1024, max: 10 * 1024 * 1024 }),
      maxDepth: read.integer('PGSCOPE_MAX_DEPTH', 12, { min: 2, max: 100 }),
      maxAliases: read.integer('PGSCOPE_MAX_ALIASES', 30, { min: 0, max: 1000 }),
      maxTokens: read.integer('PGSCOPE_MAX_TOKENS', 3_000, { min: 100, max: 100_000 }),
      maxCost: read.integer('PGSCOPE_MAX_COST', 5_000, { min: 100, max: 1_000_000 }),
      maxExpensiveFields: read.integer('PGSCOPE_MAX_EXPENSIVE_FIELDS', 3, { min: 1, max: 100 }),
      anonymousExplainTimeoutMs: read.integer('PGSCOPE_ANONYMOUS_EXPLAIN_TIMEOUT_MS', 2_000, { min: 100, max: HOUR_MS }),
      requestConcurrency: read.integer('PGSCOPE_REQUEST_CONCURRENCY', 4, { min: 1, max: 1000 }),
    },
    reads: {
      coalescing: read.boolean('PGSCOPE_READ_COALESCING', true),
      cacheMs: read.integer('PGSCOPE_READ_CACHE_MS', 0, { min: 0, max: MINUTE_MS }),
    },
    subscriptions: {
      minIntervalMs: read.integer('PGSCOPE_SUBSCRIPTION_MIN_INTERVAL_MS', 1_000, { min: 100, max: MINUTE_MS }),
      maxPerClient: read.integer('PGSCOPE_MAX_SUBSCRIPTIONS_PER_CLIENT', 4, { min: 1, max: 1000 }),
      maxTotal: read.integer('PGSCOPE_MAX_SUBSCRIPTIONS', 32, { min: 1, max: 10_000 }),
    },
    pool: {
      min: poolMin,
      max: poolMax,
      idleTimeoutMs: read.integer('PGSCOPE_POOL_IDLE_TIMEOUT_MS', 30_000, { min: 0, max: DAY_MS }),
      connectionTimeoutMs: read.integer('PGSCOPE_POOL_CONNECTION_TIMEOUT_MS', 5_000, { min: 1, max: 10 * MINUTE_MS }),
      maxLifetimeSeconds: read.integer('PGSCOPE_POOL_MAX_LIFETIME_S', 3_600, { min: 0, max: 7 * 86_400 }),
      // 0 would mean "no timeout" to PostgreSQL: a read must always end.
      statementTimeoutMs: read.integer('PGSCOPE_STATEMENT_TIMEOUT_MS', 10_000, { min: 100, max: HOUR_MS }),
      lockTimeoutMs: read.integer('PGSCOPE_LOCK_TIMEOUT_MS', 2_000, { min: 1, max: HOUR_MS }),
      preparedStatements: read.boolean('PGSCOPE_PREPARED_STATEMENTS', true),
    },
    embedded: {
      dir: path.resolve(read.string('PGSCOPE_EMBEDDED_DIR', '.pgscope')),
      dirChosen: read.string('PGSCOPE_EMBEDDED_DIR', '') !== '',
      port: read.integer('PGSCOPE_EMBEDDED_PORT', 54329, { min: 0, max: 65535 }),
      demoScale: read.number('PGSCOPE_DEMO_SCALE', 0.5, { min: 0.001, max: 100 }),
      workloadRate: read.number('PGSCOPE_DEMO_WORKLOAD_RATE', 2, { min: 0, max: 1000 }),
    },
    log: {
      level: read.oneOf('PGSCOPE_LOG_LEVEL', LOG_LEVELS, 'info'),
      format: read.oneOf('PGSCOPE_LOG_FORMAT', LOG_FORMATS, 'json'),
    },
    metrics: read.boolean('PGSCOPE_METRICS', true),
  };
  checkAnonymousReads(config);
  checkTokensDiffer(config);
  return config;
}

/** With one value for both, the read token would run mutations: every reader would be an admin. */
function checkTokensDiffer(config: Config): void {
  if (config.adminToken === undefined || config.adminToken !== config.readToken) return;
  throw new ConfigError(
    'PGSCOPE_ADMIN_TOKEN',
    'must differ from PGSCOPE_READ_TOKEN: with the same value, every reader could run mutations',
  );
}

/** Statement texts and activity are sensitive: serving them to a network without a token must be a decision. */
function checkAnonymousReads(config: Config): void {
  if (isLoopbackName(config.host) || config.readToken !== undefined || config.allowAnonymousReads) return;
  throw new ConfigError(
    'PGSCOPE_READ_TOKEN',
    `must be set when HOST (${config.host}) is not a loopback address; generate one with: openssl rand -hex 24 ` +
      '(or set PGSCOPE_ALLOW_ANONYMOUS_READS=true to let anyone who reaches the port read)',
  );
}

// Upper bounds keep every duration inside what Node's timers (2^31 - 1 ms) and PostgreSQL's
// integer settings accept: past those, a value silently turns into "1 ms" or fails every query.
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

const ORIGIN = /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9a-f:.]+\](:\d{1,5})?$/i;
/** A role or extension name as the catalog spells it (no quoting: "App Owner" is written App Owner). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const CATALOG_NAME = /^[^\u0000-\u001f]{1,63}$/;
const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

interface Range {
  min?: number;
  max?: number;
}

class EnvReader {
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  number(name: string, fallback: number, range: Range = {}): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    // Plain decimals only: Number() would also take "0x10", "1e3" and "Infinity".
    if (!/^-?\d+(\.\d+)?$/.test(raw)) throw new ConfigError(name, `must be a decimal number, got "${raw}"`);
    const value = Number(raw);
    return checkRange(name, value, range);
  }

  integer(name: string, fallback: number, range: Range = {}): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
    return checkRange(name, Number(raw), range);
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.raw(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['true', '1', 'on', 'yes'].includes(raw)) return true;
    if (['false', '0', 'off', 'no'].includes(raw)) return false;
    throw new ConfigError(name, `must be true or false, got "${raw}"`);
  }

  /** One of `choices`, case-insensitive. */
  oneOf<Choice extends string>(name: string, choices: readonly Choice[], fallback: Choice): Choice {
    const raw = this.raw(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    const choice = choices.find((each) => each === raw);
    if (choice === undefined) throw new ConfigError(name, `must be one of ${choices.join(', ')}; got "${raw}"`);
    return choice;
  }

  /** A comma-separated list, each item matching `pattern`. */
  list(name: string, pattern: RegExp, example: string): string[] {
    const raw = this.raw(name);
    if (raw === undefined) return [];
    const items = raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    const bad = items.find((item) => !pattern.test(item));
    if (bad !== undefined) throw new ConfigError(name, `must be a comma-separated list, each ${example}; got "${bad}"`);
    return items;
  }

  /**
   * A bearer token. Empty is unset, like every variable; blank (only spaces) is refused, not read
   * as unset: it would silently switch mutations off, or reads open. A token is sent as one word
   * after "Bearer", so one with spaces or control characters inside could never match.
   */
  token(name: string): string | undefined {
    const given = this.env[name];
    if (given !== undefined && given !== '' && given.trim() === '') {
      throw new ConfigError(name, 'is set but blank; set a token (generate one with: openssl rand -hex 24) or leave it unset');
    }
    const raw = this.raw(name);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
    if (raw !== undefined && /[\s\u0000-\u001f\u007f]/.test(raw)) {
      throw new ConfigError(
        name,
        'must not contain spaces or control characters: clients send it as one word, "Authorization: Bearer <token>"',
      );
    }
    if (raw !== undefined && raw.length < 16) {
      throw new ConfigError(name, `must be at least 16 characters long (got ${raw.length}); generate one with: openssl rand -hex 24`);
    }
    return raw;
  }

  databaseUrl(name: string): string | undefined {
    const raw = this.raw(name);
    return raw === undefined ? undefined : checkDatabaseUrl(name, raw);
  }

  /** `name=url` pairs separated by spaces or new lines (a URL holds neither); names unique, never "default". */
  targets(name: string): NamedTarget[] {
    const targets: NamedTarget[] = [];
    for (const pair of (this.raw(name) ?? '').split(/\s+/).filter(Boolean)) {
      const equals = pair.indexOf('=');
      const target = equals > 0 ? pair.slice(0, equals) : '';
      if (!TARGET_NAME.test(target)) {
        // never quote the entry: it may hold a password
        const what = equals > 0 && !target.includes(':') ? `got the name "${target}"` : 'got an entry without a name= in front';
        throw new ConfigError(
          name,
          `takes name=postgresql://... pairs separated by spaces, each name made of lower-case letters, digits, _ and - (a letter first); ${what}`,
        );
      }
      if (target === DEFAULT_TARGET)
        throw new ConfigError(name, `may not name a target "${DEFAULT_TARGET}": that is DATABASE_URL's (or the demo's)`);
      if (targets.some((each) => each.name === target)) throw new ConfigError(name, `names target "${target}" twice`);
      targets.push({ name: target, url: checkDatabaseUrl(`${name} (target ${target})`, pair.slice(equals + 1)) });
    }
    return targets;
  }
}

/** A connection URL, checked without ever quoting it (it may hold a password). */
function checkDatabaseUrl(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL; expected postgresql://user:password@host:5432/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(name, `must start with postgresql:// (got ${url.protocol}//...)`);
  }
  return raw;
}

function checkRange(name: string, value: number, { min, max }: Range): number {
  if (min !== undefined && value < min) throw new ConfigError(name, `must be at least ${min}, got ${value}`);
  if (max !== undefined && value > max) throw new ConfigError(name, `must be at most ${max}, got ${value}`);
  return value;
}

/** Which of pgscope's tokens a request carried, by name (what the change log records, never the secret). */
export type Credential = 'admin' | 'read' | 'unknown' | 'none';

/** The operator's trust, from the configuration (names as the catalog spells them). */
export interface TrustConfig {
  /** Roles whose functions may run as pgscope's role (PGSCOPE_TRUSTED_ROLES). */
  roles: readonly string[];
  /** Extensions whose member functions may run as pgscope's role (PGSCOPE_TRUSTED_EXTENSIONS). */
  extensions: readonly string[];
}

export const NO_EXTRA_TRUST: TrustConfig = { roles: [], extensions: [] };

/** localhost, *.localhost (RFC 6761: always loopback; browsers never ask DNS), 127.0.0.0/8 and ::1. */
export function isLoopbackName(name: string): boolean {
  const host = unbracket(name.toLowerCase());
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && (host === '::1' || host === '0:0:0:0:0:0:0:1');
}

export function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
