// The one tuned connection pool per target database. This is the only module that imports `pg`:
// everything else talks to a `Queryable`, so timeouts, type parsing and error translation are
// decided here once.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { PoolConfig } from '../config.js';
import {
  CLIENT_DEADLINE_MARGIN_MS,
  CLIENT_DEADLINE_MESSAGE,
  endsConnection,
  POOL_TIMEOUT_MESSAGE,
  translateDdlError,
  translatePgError,
} from './pgErrors.js';

/** Anything that runs one SQL statement with bind parameters and returns its rows. */
export interface Queryable {
  query<Row>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

/** A Queryable that can also lend one connection for session state (HypoPG, transactions). */
export interface Db extends Queryable {
  withClient<T>(work: (client: Queryable) => Promise<T>, options?: ClientOptions): Promise<T>;
}

export interface ClientOptions {
  /**
   * The longest statement_timeout `work` sets on its session (SET LOCAL), milliseconds, when
   * above the pool's: the client-side deadline must leave the server room to cancel first.
   * 0 (statement_timeout off, e.g. for long DDL) turns the client-side deadline off as well.
   */
  statementTimeoutMs?: number;
}

/** A view of `db` that counts every statement it runs into `counter` (per-request statistics). */
export function countStatements(db: Db, counter: { statements: number }): Db {
  const counted = (target: Queryable): Queryable => ({
    query: <Row>(sql: string, params?: readonly unknown[]) => {
      counter.statements += 1;
      return target.query<Row>(sql, params);
    },
  });
  return {
    ...counted(db),
    withClient: (work, options) => db.withClient((client) => work(counted(client)), options),
  };
}

export interface SessionOptions {
  /** Shown in pg_stat_activity.application_name (e.g. pgscope-ddl). */
  applicationName: string;
  /** lock_timeout of the session, milliseconds (statement_timeout is always off). */
  lockTimeoutMs: number;
}

/**
 * search_path of every DDL session. An unqualified name in what pgscope runs there resolves to
 * PostgreSQL's own objects, never to one a user planted in a schema others may create in: a
 * `public.lower(varchar)` would otherwise beat `pg_catalog.lower(text)` for a varchar column.
 * pg_temp last, so that even a temporary table cannot stand in for a relation.
 */
export const DDL_SEARCH_PATH = 'pg_catalog, pg_temp';

/** One dedicated connection (see Database.openSession). */
export interface Session extends Queryable {
  /** Its backend's process id (pg_stat_activity.pid, pg_stat_progress_create_index.pid). */
  readonly pid: number;
  /**
   * Settles with the typed error (DATABASE_UNAVAILABLE) as soon as the connection ends without
   * close(): the server restarted or stopped, the backend was terminated, the network failed.
   * Never rejects; never settles once close() was called.
   */
  readonly lost: Promise<unknown>;
  /** Cancels the statement it runs (pg_cancel_backend from the pool); false when nothing was running. */
  cancel(): Promise<boolean>;
  /** Closes the connection; safe to call twice. */
  close(): Promise<void>;
}

/** What `/ready` reports: whether the database answers, and whether the pool has room. */
export interface Readiness {
  ready: boolean;
  database: 'reachable' | 'unreachable';
  /** "saturated": every connection is checked out; the ping was skipped rather than queued. */
  pool: 'ok' | 'saturated';
}

/** /ready must answer a probe quickly even when the database does not. */
const PING_DEADLINE_MS = 1_500;
/** TCP keepalive probes start after this much silence: a peer that vanished is noticed by the kernel. */
const KEEPALIVE_INITIAL_DELAY_MS = 10_000;
/** Node's timers hold at most 2^31 - 1 ms (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Counts of the client-side pool, for `poolStatus`. */
export interface PoolCounters {
  max: number;
  min: number;
  total: number;
  idle: number;
  checkedOut: number;
  waiting: number;
  /** Statements that gave up waiting for a connection since start (POOL_EXHAUSTED, for every request sharing one). */
  timeouts: number;
  /** Connections that failed while idle since start (network drops, server restarts). */
  idleErrors: number;
}

// int8 (20) becomes a JS bigint: pg_stat_statements counters and byte sizes outgrow 2^53, and the
// GraphQL BigInt scalar serializes bigints without losing precision. numeric (1700) becomes a JS
// number: SQL in src/db casts to int8 wherever a numeric must stay exact, so what is left as
// numeric is a ratio or an average. Timestamps keep pg's default (Date); src/db returns timestamptz.
const PG_INT8 = 20;
const PG_NUMERIC = 1700;
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === PG_INT8) return (value: string) => BigInt(value);
    if (oid === PG_NUMERIC) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export interface DatabaseOptions {
  /** Shown in pg_stat_activity.application_name. */
  applicationName: string;
  pool: PoolConfig;
  /** Where idle-connection errors are reported. Default: console.warn. */
  warn?: (message: string) => void;
}

/** Hears every statement a Database ran, pooled or on a checked-out client: how long, and whether it failed. */
export type StatementListener = (durationMs: number, failed: boolean) => void;

/** A target database behind one pg.Pool. */
export class Database implements Db {
  private readonly pool: pg.Pool;
  private timeouts = 0;
  private idleErrors = 0;
  private readonly listeners = new Set<StatementListener>();

  /** Adds a listener (metrics), for the Database's lifetime. */
  onStatement(listener: StatementListener): void {
    this.listeners.add(listener);
  }

  private heard(started: number, failed: boolean): void {
    if (this.listeners.size === 0) return;
    const durationMs = performance.now() - started;
    for (const listener of this.listeners) listener(durationMs, failed);
  }

  constructor(
    readonly url: string,
    private readonly options: DatabaseOptions,
  ) {
    const { pool: config } = options;
    this.pool = new pg.Pool({
      connectionString: url,
      application_name: options.applicationName,
      types: typeParsers,
      min: config.min,
      // pg-pool treats max 0 as "10"; config.ts guarantees at least 1.
      max: config.max,
      idleTimeoutMillis: config.idleTimeoutMs,
      // Without it a full pool waits forever; with it the request fails with POOL_EXHAUSTED.
      connectionTimeoutMillis: config.connectionTimeoutMs,
      maxLifetimeSeconds: config.maxLifetimeSeconds,
      // pg's query_timeout: a statement without an answer fails, and the pool destroys its
      // connection (a released client with an error is ended, its socket destroyed).
      query_timeout: clientDeadlineMs(config.statementTimeoutMs),
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
      // Timeouts are set with SET after connecting, not as startup options: PgBouncer rejects
      // statement_timeout in the startup packet.
      onConnect: (client) => configureSession(client, config),
    });
    // An idle client's error would otherwise crash the process; the pool drops that client.
    this.pool.on('error', (error) => {
      this.idleErrors += 1;
      (options.warn ?? console.warn)(`pgscope: an idle database connection failed and was dropped (${error.message}).`);
    });
  }

  async query<Row>(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    const started = performance.now();
    try {
      // A parameterized statement is one of pgscope's own constant texts (client input only ever
      // arrives as parameters): prepared by name, PostgreSQL plans it once per connection. The
      // catalog queries behind tables and indexes spend as long planning as running on small sets.
      const name = params.length > 0 && this.options.pool.preparedStatements !== false ? statementName(sql) : undefined;
      const query = name ? { name, text: sql, values: params as unknown[] } : { text: sql, values: params as unknown[] };
      const rows = rowsOf<Row>(await this.pool.query(query));
      this.heard(started, false);
      return rows;
    } catch (error) {
      this.heard(started, true);
      throw this.translate(error);
    }
  }

  /**
   * Runs `work` on one checked-out connection (for session state such as HypoPG or a transaction).
   * Every connection goes back clean: reset (see resetSession) when `work` succeeded, destroyed
   * when it failed or the reset did, so no session state reaches the next borrower.
   */
  async withClient<T>(work: (client: Queryable) => Promise<T>, options: ClientOptions = {}): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.translate(error);
    }
    const { statementTimeoutMs = 0 } = options;
    const deadlineMs =
      options.statementTimeoutMs === 0 ? undefined : clientDeadlineMs(Math.max(this.options.pool.statementTimeoutMs, statementTimeoutMs));
    // A statement past its deadline is still running on that connection: even if `work` catches
    // the error and carries on, the connection must not go back to the pool.
    let pastDeadline = false;
    const queryable: Queryable = {
      query: async <Row>(sql: string, params: readonly unknown[] = []) => {
        const started = performance.now();
        try {
          const rows = rowsOf<Row>(await client.query(withDeadline({ text: sql, values: params as unknown[] }, deadlineMs)));
          this.heard(started, false);
          return rows;
        } catch (error) {
          this.heard(started, true);
          if (error instanceof Error && error.message === CLIENT_DEADLINE_MESSAGE) pastDeadline = true;
          throw this.translate(error);
        }
      },
    };
    let result: T;
    try {
      result = await work(queryable);
    } catch (error) {
      client.release(true);
      throw error;
    }
    if (pastDeadline) {
      client.release(true);
      return result;
    }
    try {
      await resetSession(client, this.options.pool);
    } catch {
      // The work's result stands; the connection, in an unknown state, is not pooled again.
      client.release(true);
      return result;
    }
    client.release();
    return result;
  }

  /** True when the database answers a trivial statement within `deadlineMs` (waiting for a connection included). */
  async ping(deadlineMs = PING_DEADLINE_MS): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const answered = this.pool.query(withDeadline({ text: 'SELECT 1' }, deadlineMs)).then(
      () => true,
      () => false,
    );
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs);
    });
    try {
      return await Promise.race([answered, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * For `/ready`. A saturated pool is busy, not down: the ping would only queue behind requests
   * and time out, so it is skipped. A hung database behind a saturated pool shows within statement
   * timeout + 2 s, when the client-side deadline drops the stuck connections.
   */
  async readiness(): Promise<Readiness> {
    const { totalCount, idleCount } = this.pool;
    if (totalCount >= this.options.pool.max && idleCount === 0) return { ready: true, database: 'reachable', pool: 'saturated' };
    const ready = await this.ping();
    return { ready, database: ready ? 'reachable' : 'unreachable', pool: 'ok' };
  }

  counters(): PoolCounters {
    const { pool } = this;
    return {
      max: this.options.pool.max,
      min: this.options.pool.min,
      total: pool.totalCount,
      idle: pool.idleCount,
      checkedOut: pool.totalCount - pool.idleCount,
      waiting: pool.waitingCount,
      timeouts: this.timeouts,
      idleErrors: this.idleErrors,
    };
  }

  async end(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  /**
   * Opens one dedicated connection outside the pool, for DDL: a build may take an hour, so its
   * statement_timeout is off (and no client-side deadline), while lock_timeout stays short; its
   * search_path is DDL_SEARCH_PATH. The caller closes it; `pid` is its backend, recorded so a
   * change can be found after a crash.
   */
  async openSession(options: SessionOptions): Promise<Session> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: options.applicationName,
      types: typeParsers,
      connectionTimeoutMillis: this.options.pool.connectionTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
    });
    // Without a listener a connection error would crash the process; once open, the session's
    // owner hears of it through Session.lost and says what it means for its change.
    client.on('error', () => undefined);
    try {
      await client.connect();
      const [row] = rowsOf<{ pid: number }>(
        await client.query(
          /* SQL */ `
          SELECT
            pg_backend_pid() AS pid,
            set_config('statement_timeout', '0', false),
            set_config('lock_timeout', $1, false),
            set_config('idle_in_transaction_session_timeout', '60000', false),
            set_config('search_path', $2, false),
            -- PostgreSQL 14+: a build whose pgscope died is cancelled within a second, not left running unowned
            CASE
              WHEN current_setting('server_version_num')::int >= 140000
                THEN set_config('client_connection_check_interval', '1000', false)
            END`,
          [String(options.lockTimeoutMs), DDL_SEARCH_PATH],
        ),
      );
      return this.session(client, row!.pid, options);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw this.translate(error);
    }
  }

  private session(client: pg.Client, pid: number, options: SessionOptions): Session {
    let closed = false;
    let markLost: (error: unknown) => void = () => undefined;
    const lost = new Promise<unknown>((resolve) => {
      markLost = (error) => {
        if (!closed) resolve(this.translate(error));
      };
    });
    client.on('error', (error) => markLost(error));
    client.on('end', () => markLost(new Error('Connection terminated unexpectedly')));
    return {
      pid,
      lost,
      query: async <Row>(sql: string, params: readonly unknown[] = []) => {
        try {
          return rowsOf<Row>(await client.query(withDeadline({ text: sql, values: params as unknown[] }, undefined)));
        } catch (error) {
          // A FATAL error (pg_terminate_backend, a server shutdown) reaches the statement before the
          // socket closes: the session is known lost before its caller sees the error.
          if (endsConnection(error)) markLost(error);
          throw translateDdlError(error, options.lockTimeoutMs) ?? this.translate(error);
        }
      },
      // From the pool: the session itself is busy running the statement to cancel.
      cancel: async () => {
        const [row] = await this.query<{ cancelled: boolean }>('SELECT pg_cancel_backend($1) AS cancelled', [pid]);
        return row?.cancelled ?? false;
      },
      close: async () => {
        if (closed) return;
        closed = true;
        await client.end().catch(() => undefined);
      },
    };
  }

  private translate(error: unknown): unknown {
    if (error instanceof Error && error.message === POOL_TIMEOUT_MESSAGE) this.timeouts += 1;
    return translatePgError(error, this.options.pool);
  }
}

/** pg's query_timeout for a session whose statement_timeout is `statementTimeoutMs` (0: none, so no deadline either). */
function clientDeadlineMs(statementTimeoutMs: number): number | undefined {
  return statementTimeoutMs > 0 ? statementTimeoutMs + CLIENT_DEADLINE_MARGIN_MS : undefined;
}

/**
 * A query with its own client-side deadline (pg reads query_timeout per query; @types/pg lacks it).
 * pg takes 0 or undefined as "the connection's default", so "none" is the longest timer Node has.
 */
function withDeadline(query: pg.QueryConfig, deadlineMs: number | undefined): pg.QueryConfig {
  const timed: pg.QueryConfig & { query_timeout?: number } = { ...query, query_timeout: deadlineMs ?? MAX_TIMER_MS };
  return timed;
}

const statementNames = new Map<string, string>();
/** pgscope has a few dozen statement texts; past this, texts vary and preparing them would only pile up. */
const MAX_PREPARED_STATEMENTS = 500;

function statementName(sql: string): string | undefined {
  let name = statementNames.get(sql);
  if (!name && statementNames.size < MAX_PREPARED_STATEMENTS) {
    name = `pgscope_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    statementNames.set(sql, name);
  }
  return name;
}

/** A multi-statement string (schema files, migrations) yields one result per statement: keep the last. */
function rowsOf<Row>(result: pg.QueryResult | pg.QueryResult[]): Row[] {
  const last = Array.isArray(result) ? result.at(-1) : result;
  return (last?.rows ?? []) as Row[];
}

// What a borrower of withClient can leave in its session, undone in one round trip: open cursors,
// LISTEN, SET ROLE / SESSION AUTHORIZATION, settings (RESET ALL goes back to the server's, the
// database's and the startup packet's values, so application_name stays), advisory locks,
// temporary tables, sequence caches (currval), and HypoPG's hypothetical indexes, which live in
// the backend's memory outside any transaction. Not DISCARD ALL: its DEALLOCATE ALL would drop
// the statements Database.query prepared by name on this connection, which node-postgres still
// believes exist (it would send only Bind for them, and the server answer 26000 "prepared
// statement does not exist"). DISCARD PLANS is left out too: it would make every prepared
// statement plan again; catalog changes invalidate those plans anyway.
const SESSION_RESET_SQL = /* SQL */ `
  CLOSE ALL;
  UNLISTEN *;
  SET SESSION AUTHORIZATION DEFAULT;
  RESET ALL;
  SELECT pg_advisory_unlock_all();
  DISCARD TEMP;
  DISCARD SEQUENCES;
  DO $reset$
  DECLARE
    hypopg_schema name;
  BEGIN
    FOR hypopg_schema IN
      SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = 'hypopg_reset' AND p.pronargs = 0
    LOOP
      EXECUTE format('SELECT %I.hypopg_reset()', hypopg_schema);
    END LOOP;
  END
  $reset$`;

/** Returns a borrowed connection's session to the state a fresh one has (see SESSION_RESET_SQL). */
async function resetSession(client: pg.PoolClient, config: PoolConfig): Promise<void> {
  // A transaction left open (or failed) would swallow the reset: end it first, only then (a
  // ROLLBACK outside a transaction logs a warning in the server's log).
  const rollback = client.getTransactionStatus() === 'I' ? '' : 'ROLLBACK;';
  // One simple-protocol string: the statements run in one round trip.
  await client.query(rollback + SESSION_RESET_SQL);
  // RESET ALL undid pgscope's own session settings too.
  await configureSession(client, config);
}

async function configureSession(client: pg.ClientBase, config: PoolConfig): Promise<void> {
  // With prepared statements, plan them once for good: pgscope's statements read catalogs and
  // statistics views, where parameter values (OID arrays, thresholds) do not change the best plan,
  // and PostgreSQL would otherwise re-plan each of the first five runs on every connection
  // (measured on tables(first: 100): 55 ms instead of 71 ms).
  const planCacheMode = config.preparedStatements === false ? 'auto' : 'force_generic_plan';
  // No JIT: pgscope's statements read catalogs through set-returning functions and CTEs whose row
  // estimates are wild (pg_partition_tree: 500 rows a call), so their costs pass jit_above_cost
  // while they run in milliseconds. Measured on tables(first: 5000): 790 ms of JIT compilation in
  // a 1.4 s size statement. EXPLAIN ANALYZE of a client's statement goes back to the server's jit.
  await client.query(
    /* SQL */ `
    SELECT
      set_config('statement_timeout', $1, false),
      set_config('lock_timeout', $2, false),
      set_config('idle_in_transaction_session_timeout', $3, false),
      set_config('plan_cache_mode', $4, false),
      set_config('jit', 'off', false)`,
    [String(config.statementTimeoutMs), String(config.lockTimeoutMs), String(Math.max(config.statementTimeoutMs, 60_000)), planCacheMode],
  );
}

/** One statement on a fresh connection outside any pool, for start-up checks and admin tasks. */
export async function queryOnce<Row>(url: string, sql: string, params: readonly unknown[] = [], timeoutMs = 5_000): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url, types: typeParsers, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return rowsOf<Row>(await client.query(sql, params as unknown[]));
  } finally {
    await client.end();
  }
}
