// Per-request views of the pool that bound what one request may take from it: how many
// statements it runs at once, and how long an untrusted client's statement may hold a backend.
import type { Db, Queryable } from './pool.js';

/**
 * A view of `db` that runs at most `limit` statements at once (a `withClient` counts as one for
 * its whole duration). Yoga resolves root fields in parallel, so without it one request with 30
 * root fields would ask for 30 connections and leave every other request waiting.
 * `withClient`'s work must use the client it is given, not this view: with every slot held by
 * such work, a statement sent through the view would wait forever.
 */
export function limitConcurrency(db: Db, limit: number): Db {
  let running = 0;
  const waiting: Array<() => void> = [];
  const acquire = (): Promise<void> | undefined => {
    if (running < limit) {
      running += 1;
      return undefined;
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  // The slot passes straight to the next waiter, so `running` never drops below the queue's need.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };
  const limited = async <T>(run: () => Promise<T>): Promise<T> => {
    await acquire();
    try {
      return await run();
    } finally {
      release();
    }
  };
  return {
    query: <Row>(sql: string, params?: readonly unknown[]) => limited(() => db.query<Row>(sql, params)),
    withClient: (work) => limited(() => db.withClient(work)),
  };
}

const SET_STATEMENT_TIMEOUT_SQL = /* SQL */ `
  SELECT
    set_config('statement_timeout', $1, false)`;

/**
 * A view of `db` whose borrowed clients run with statement_timeout = `timeoutMs`, set back to
 * `restoreMs` (the pool's own) before the client returns to the pool. A client whose work
 * failed is destroyed by withClient, never pooled, so the shorter timeout cannot leak.
 * Plain `query` keeps the pool's timeout: it runs pgscope's own catalog reads.
 */
export function withClientTimeout(db: Db, timeoutMs: number, restoreMs: number): Db {
  return {
    query: <Row>(sql: string, params?: readonly unknown[]) => db.query<Row>(sql, params),
    withClient: (work) =>
      db.withClient(async (client: Queryable) => {
        await client.query(SET_STATEMENT_TIMEOUT_SQL, [String(timeoutMs)]);
        const result = await work(client);
        await client.query(SET_STATEMENT_TIMEOUT_SQL, [String(restoreMs)]);
        return result;
      }),
  };
}
