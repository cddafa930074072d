// Subscriptions for dashboards (src/schema/live.ts): each one reads its value again every
// intervalMs and sends it over Server-Sent Events. What this file bounds, so that dashboards left
// open cannot wear the database down: the interval (PGSCOPE_SUBSCRIPTION_MIN_INTERVAL_MS), the
// streams one client may hold open (PGSCOPE_MAX_SUBSCRIPTIONS_PER_CLIENT) and the streams of the
// whole process (PGSCOPE_MAX_SUBSCRIPTIONS). At shutdown every stream ends at once, so that a
// dashboard does not hold the HTTP server open for the whole grace period.
import { Repeater } from 'graphql-yoga';
import type { SubscriptionsConfig } from './config.js';
import { ErrorCode, PgscopeError } from './errors.js';

/** One tick of a stream: the value read, or why it could not be read (the stream goes on). */
export type Tick<T> = { value: T } | { error: unknown };

export class LiveStreams {
  private readonly perClient = new Map<string, number>();
  private readonly stops = new Set<() => void>();
  private closed = false;

  constructor(readonly config: SubscriptionsConfig) {}

  /** Streams open now, in the whole process: admitted, whether or not their first read started. */
  get open(): number {
    let open = 0;
    for (const held of this.perClient.values()) open += held;
    return open;
  }

  /**
   * Reads `load()` now and then every `intervalMs` until the client goes away, `finished(value)`
   * says so, or pgscope shuts down. A failed read is sent as that tick's error and the next tick
   * reads again: a dashboard shows "database unavailable" and recovers by itself. Refused with
   * TOO_MANY_SUBSCRIPTIONS when `client` or the process holds its most streams already.
   */
  every<T>(
    client: string,
    intervalMs: number,
    load: () => Promise<T>,
    finished: (value: T) => boolean = () => false,
  ): AsyncIterable<Tick<T>> {
    const release = this.admit(client);
    const ticks = new Repeater<Tick<T>>(async (push, stop) => {
      let stopped = false;
      let wake = () => {};
      const end = () => stop();
      void stop.then(() => {
        stopped = true;
        wake();
      });
      this.stops.add(end);
      // admitted before closeAll, started after it: no read, the stream ends at once
      if (this.closed) stopped = true;
      try {
        while (!stopped) {
          let tick: Tick<T>;
          try {
            tick = { value: await load() };
          } catch (error) {
            tick = { error };
          }
          await push(tick);
          if (stopped || ('value' in tick && finished(tick.value))) break;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, intervalMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      } finally {
        this.stops.delete(end);
        release();
        stop();
      }
    });
    // A client that leaves before the first tick never starts the executor: release it here too.
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => ticks.next(),
        return: (value?: unknown) => {
          release();
          return ticks.return(value as Tick<T>);
        },
        throw: (error?: unknown) => {
          release();
          return ticks.throw(error);
        },
      }),
    };
  }

  /** Ends every stream (their clients see the end of the event stream) and refuses new ones. */
  closeAll(): void {
    this.closed = true;
    for (const stop of [...this.stops]) stop();
  }

  private admit(client: string): () => void {
    const { maxPerClient, maxTotal } = this.config;
    if (this.closed) throw new PgscopeError(ErrorCode.DATABASE_UNAVAILABLE, 'pgscope is shutting down: subscribe again in a moment.');
    const held = this.perClient.get(client) ?? 0;
    if (held >= maxPerClient) {
      throw tooMany(
        `This client holds ${held} subscriptions open already, the most allowed (PGSCOPE_MAX_SUBSCRIPTIONS_PER_CLIENT): close one first.`,
        'PGSCOPE_MAX_SUBSCRIPTIONS_PER_CLIENT',
      );
    }
    const total = this.open;
    if (total >= maxTotal) {
      throw tooMany(
        `pgscope holds ${total} subscriptions open, the most allowed (PGSCOPE_MAX_SUBSCRIPTIONS): try again later, or poll the query field.`,
        'PGSCOPE_MAX_SUBSCRIPTIONS',
      );
    }
    this.perClient.set(client, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left > 0) this.perClient.set(client, left);
      else this.perClient.delete(client);
    };
  }
}

function tooMany(message: string, limit: string): PgscopeError {
  return new PgscopeError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, message, { limit });
}
