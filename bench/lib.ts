// Small tools for benchmarks: a fixed-duration load loop at a given concurrency, percentiles,
// and a table printer. Every comparison is measured within one run (the machine is noisy).

/** One line of the report's headline: a section's target and what this run measured. */
export interface Headline {
  name: string;
  target: string;
  measured: string;
  /** Null: reported, with no target to meet. */
  met: boolean | null;
}

/** What a section returns: its part of the report (markdown, starting with "### name:") and its headline lines. */
export interface SectionResult {
  report: string;
  headline: Headline[];
}

export interface LoadResult {
  requests: number;
  seconds: number;
  latenciesMs: number[];
}

/** Runs `work` from `concurrency` loops for `seconds`, recording each call's latency. */
export async function runLoad(work: () => Promise<unknown>, concurrency: number, seconds: number): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const loop = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await work();
      latenciesMs.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { requests: latenciesMs.length, seconds: (performance.now() - started) / 1000, latenciesMs };
}

/** Merges the results of several phases of the same kind (phases alternate to spread noise). */
export function merge(results: LoadResult[]): LoadResult {
  return {
    requests: results.reduce((sum, r) => sum + r.requests, 0),
    seconds: results.reduce((sum, r) => sum + r.seconds, 0),
    latenciesMs: results.flatMap((r) => r.latenciesMs),
  };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const throughput = (result: LoadResult) => result.requests / result.seconds;

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (typeof cell === 'number' ? format(cell) : cell)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => String(row[i]).length)));
  const line = (row: Array<string | number>) => `| ${row.map((cell, i) => String(cell).padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
