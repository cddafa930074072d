// Draws for the bench workloads, the same in TypeScript and in SQL (bench/workloads/gen.sql): a
// uniform number per row and stream, and a Zipf-like rank. The loader fills tables with them, and
// a query mix computes the same draws to know, say, which tenant owns project 1234 without asking
// the database (whose answer would land in pg_stat_statements, the advisor's input).

/** bench_gen.mix32: two xor-shift rounds around a multiplication by murmur2's constant, mod 2^32. */
function mix32(x: number): number {
  let y = (x ^ (x >>> 15)) >>> 0;
  y = Math.imul(y, 1540483477) >>> 0;
  return (y ^ (y >>> 13)) >>> 0;
}

/** bench_gen.unit(g, k): a uniform draw in [0, 1) for row g (1 <= g < 2^31) of stream k. */
export function unit(g: number, k: number): number {
  const salt = (Math.imul(k, 2654435761) >>> 0) | 1;
  return mix32(Math.imul(g, salt) >>> 0) / 4294967296;
}

/** bench_gen.zipf(u, n, s): a rank in 1..n for the uniform draw u, rank 1 the most frequent (s <> 1). */
export function zipf(u: number, n: number, s: number): number {
  return Math.min(n, Math.floor((1 + u * ((n + 1) ** (1 - s) - 1)) ** (1 / (1 - s))));
}

/** An integer in 1..n, uniformly. */
export const uniform = (random: () => number, n: number) => 1 + Math.floor(random() * n);

/** One item of `items`, uniformly. */
export const oneOf = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** Rows of a table at `scale`, as the SQL computes them: `(base * :scale)::int` rounds half away from zero. */
export const rowsAt = (base: number, scale: number) => Math.round(base * scale);
