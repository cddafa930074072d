// A per-request DataLoader whose loaded values a resolver can also return synchronously. A field
// resolved to a value, not a promise, completes at once: on tables(first: 5000) with sizes, the
// promises of 25,000 size fields (each a DataLoader hit) cost more time in the executor and the
// garbage collector than the size statement itself, once a list's resolver has preloaded them.
import DataLoader from 'dataloader';

export class RequestLoader<K, V> {
  private readonly settled = new Map<K, V>();
  private readonly loader: DataLoader<K, V>;

  constructor(batch: (keys: readonly K[]) => Promise<ReadonlyArray<V | Error>>) {
    this.loader = new DataLoader<K, V>(async (keys) => {
      const values = await batch(keys);
      for (const [i, value] of values.entries()) if (!(value instanceof Error)) this.settled.set(keys[i]!, value);
      return values;
    });
  }

  /** The value of `key`: itself when loaded already, else a promise (batched with the other keys of this tick). */
  get(key: K): V | Promise<V> {
    const value = this.settled.get(key);
    return value !== undefined ? value : this.loader.load(key);
  }

  /** Whether the value of `key` is loaded (get returns it, not a promise). */
  has(key: K): boolean {
    return this.settled.has(key);
  }

  /** Starts loading `keys` and settles when they are; a key that failed keeps its error for get. */
  preload(keys: readonly K[]): Promise<unknown> {
    return this.loader.loadMany(keys);
  }

  /** A value measured elsewhere in the request. */
  prime(key: K, value: V): void {
    this.settled.set(key, value);
    this.loader.prime(key, value);
  }
}

/** `then(value)` now when `value` is one, else when it settles. */
export function mapMaybe<T, R>(value: T | Promise<T>, then: (value: T) => R): R | Promise<R> {
  return value instanceof Promise ? value.then(then) : then(value);
}
