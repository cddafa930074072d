// What the subscriptions share (poolStatus, activity, changeProgress, beside their query twins):
// the interval argument and the ticks (src/live.ts bounds how many streams a client holds).
import type { Context } from '../context.js';
import type { Tick } from '../live.js';
import { intInRange } from './args.js';
import { builder } from './builder.js';

const MAX_INTERVAL_MS = 3_600_000;

/** The intervalMs argument every subscription takes. */
export const intervalArgs = builder.args((t) => ({
  intervalMs: t.int({
    description: 'Milliseconds between events, from PGSCOPE_SUBSCRIPTION_MIN_INTERVAL_MS (default 1000) to 3600000. Default 2000.',
    defaultValue: 2_000,
  }),
}));

/**
 * The stream of a subscription: `load()` now, then every intervalMs, until the client leaves or
 * `finished(value)`. Bad arguments and a client over its bound fail at once, before any event.
 */
export function ticks<T>(
  ctx: Context,
  intervalMs: number | null | undefined,
  load: () => Promise<T>,
  finished?: (value: T) => boolean,
): AsyncIterable<Tick<T>> {
  const interval = intInRange('intervalMs', intervalMs ?? 2_000, ctx.config.subscriptions.minIntervalMs, MAX_INTERVAL_MS);
  return ctx.live.every(ctx.client, interval, load, finished);
}

/** An event's value; a tick whose read failed is that event's error (the stream goes on). */
export function tickValue<T>(tick: Tick<T>): T {
  if ('error' in tick) throw tick.error;
  return tick.value;
}
