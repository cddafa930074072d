// A per-request view of the pool that bounds how much of it one request may take at once.
import type { Db } from './pool.js';

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
    withClient: (work, options) => limited(() => db.withClient(work, options)),
  };
}
