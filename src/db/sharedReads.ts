// Identical reads share one round trip. Dashboards poll the same questions: a statement with the
// same text and parameters that is already on its way for another request is not sent again (nor
// queued for a connection again); every waiter gets the rows, or the error, of that one round
// trip, and the next call after it runs afresh. Optionally (PGSCOPE_READ_CACHE_MS) an answer is
// kept for a short time and given to identical reads of operations that accept it.
//
// Only statements a query operation sends through its request's `db.query` come here (src/yoga.ts
// decides per operation): never a mutation's, never withClient work (sessions, transactions,
// HypoPG), never a DDL session. No credential is part of the key: every request runs as pgscope's
// one database role, so the same statement answers the same for all of them.
import type { Db, Queryable } from './pool.js';

/** How one request may share reads, decided when its operation starts (src/http/readSharing.ts). */
export interface RequestReads {
  /** Join identical statements already in flight. */
  share: boolean;
  /** Also take answers from the read cache, and keep the answers of the statements it sends. */
  cache: boolean;
  /** Statements of this request answered by an identical round trip already in flight, or by the cache. */
  shared: number;
  /** When (SharedReads' clock) the oldest cached answer this request used was asked of the database. */
  oldestCachedAt: number | undefined;
}

export function requestReads(): RequestReads {
  return { share: false, cache: false, shared: 0, oldestCachedAt: undefined };
}

/** Since start, for poolStatus. */
export interface SharedReadCounters {
  /** Reads answered by an identical round trip already in flight (another request's, or another field's of the same request). */
  coalesced: number;
  /** Reads answered from the cache. */
  cached: number;
  /** Reads waiting now for an identical round trip they joined. */
  waiting: number;
  /** Answers held in the cache now. */
  cacheEntries: number;
}

export interface SharedReadsOptions {
  /** How long an answer is kept, milliseconds; 0: no cache. */
  cacheMs: number;
  /** Milliseconds on a monotonic scale (tests move it by hand). Default performance.now. */
  now?: () => number;
}

interface CachedAnswer {
  rows: readonly unknown[];
  /** When its round trip began: an answer is never younger than it says. */
  at: number;
}

/** Most answers the cache holds; pgscope's dashboards ask a few dozen distinct statements. */
const MAX_CACHE_ENTRIES = 500;
/** Most rows the cache holds in all, so that a few huge pages (tables(first: 5000)) cannot pile up. */
const MAX_CACHE_ROWS = 50_000;

/** The in-flight reads and the cache of one database, shared by every request. */
export class SharedReads {
  // No bound needed: each entry is a statement waiting for or holding a pool connection, and
  // those are bounded by the pool and its connection timeout.
  private readonly flights = new Map<string, Promise<readonly unknown[]>>();
  private readonly cache = new Map<string, CachedAnswer>();
  private cachedRows = 0;
  private readonly counts = { coalesced: 0, cached: 0, waiting: 0 };
  private readonly now: () => number;

  constructor(private readonly options: SharedReadsOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  async read<Row>(db: Queryable, sql: string, params: readonly unknown[], request: RequestReads): Promise<Row[]> {
    const key = keyOf(sql, params);
    const hit = request.cache ? this.cached(key) : undefined;
    if (hit) {
      this.counts.cached += 1;
      request.shared += 1;
      request.oldestCachedAt = Math.min(request.oldestCachedAt ?? hit.at, hit.at);
      return hit.rows as Row[];
    }
    const flight = request.share ? this.flights.get(key) : undefined;
    if (flight) {
      this.counts.coalesced += 1;
      this.counts.waiting += 1;
      request.shared += 1;
      try {
        return (await flight) as Row[];
      } finally {
        this.counts.waiting -= 1;
      }
    }
    return (await this.send(db, sql, params, key, request)) as Row[];
  }

  /** How old an answer asked of the database at `at` is now, milliseconds. */
  ageMs(at: number): number {
    return Math.max(0, Math.round(this.now() - at));
  }

  /** Forgets every answer, and lets later reads start their own round trip (after a change). */
  forget(): void {
    this.flights.clear();
    this.cache.clear();
    this.cachedRows = 0;
  }

  counters(): SharedReadCounters {
    return { ...this.counts, cacheEntries: this.cache.size };
  }

  private send(db: Queryable, sql: string, params: readonly unknown[], key: string, request: RequestReads): Promise<readonly unknown[]> {
    const startedAt = this.now();
    const flight = db.query(sql, params).then((rows) => {
      const answer = frozen(rows);
      if (request.cache) this.remember(key, answer, startedAt);
      return answer;
    });
    if (!request.share) return flight;
    this.flights.set(key, flight);
    // Registered before any waiter's: the entry is gone before a waiter resumes, so whatever a
    // waiter asks next (a retry after an error above all) starts a round trip of its own.
    const land = () => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    flight.then(land, land);
    return flight;
  }

  private cached(key: string): CachedAnswer | undefined {
    const answer = this.cache.get(key);
    if (!answer) return undefined;
    if (this.now() - answer.at < this.options.cacheMs) return answer;
    this.drop(key, answer);
    return undefined;
  }

  private remember(key: string, rows: readonly unknown[], at: number): void {
    if (this.options.cacheMs <= 0 || rows.length > MAX_CACHE_ROWS) return;
    const previous = this.cache.get(key);
    if (previous) this.drop(key, previous);
    this.cache.set(key, { rows, at });
    this.cachedRows += rows.length;
    // Oldest first (a Map keeps insertion order): expired answers, then whatever exceeds the bounds.
    for (const [oldKey, old] of this.cache) {
      const over = this.cache.size > MAX_CACHE_ENTRIES || this.cachedRows > MAX_CACHE_ROWS;
      if (!over && this.now() - old.at < this.options.cacheMs) break;
      this.drop(oldKey, old);
    }
  }

  private drop(key: string, answer: CachedAnswer): void {
    this.cache.delete(key);
    this.cachedRows -= answer.rows.length;
  }
}

/** A view of `db` whose statements go through `reads` as `request` allows; withClient work never does. */
export function shareReads(db: Db, reads: SharedReads, request: RequestReads): Db {
  return {
    query: <Row>(sql: string, params: readonly unknown[] = []) =>
      request.share || request.cache ? reads.read<Row>(db, sql, params, request) : db.query<Row>(sql, params),
    withClient: (work, options) => db.withClient(work, options),
  };
}

/**
 * Rows that several requests hold at once must not change under them: frozen (one level deep,
 * which is where a resolver would sort, push or assign), so that a consumer that tries fails
 * loudly in every test instead of corrupting another request's answer under load.
 */
function frozen(rows: unknown[]): readonly unknown[] {
  for (const row of rows) Object.freeze(row);
  return Object.freeze(rows);
}

/** The statement and its parameters, each parameter tagged with its type ("1" and 1 and 1n differ). */
function keyOf(sql: string, params: readonly unknown[]): string {
  return `${sql}\u0000${JSON.stringify(params, tagged)}`;
}

function tagged(this: Record<string, unknown>, name: string, value: unknown): unknown {
  const original = this[name];
  if (original instanceof Date) return `date:${original.toISOString()}`;
  if (typeof value === 'bigint') return `bigint:${value}`;
  if (typeof value === 'string') return `string:${value}`;
  return value;
}

/** The field extension that lets a root Query field's statements be answered from the read cache. */
export const READ_CACHE = { readCache: true } as const;
