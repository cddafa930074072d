// The advisor bench's knobs (which workloads, which starting states, how long) and its verdicts
// on the targets, from measurements made up for the test.
import { describe, expect, it } from 'vitest';
import { advisorSettings } from '../../bench/advisor.js';
import { advisorReport, type Configuration, type WorkloadRun } from '../../bench/advisorReport.js';
import type { MixResult } from '../../bench/mix.js';
import { summarize } from '../../bench/mix.js';

describe('advisorSettings', () => {
  it('measures every workload from both starting states by default', () => {
    expect(advisorSettings({})).toEqual({
      quick: false,
      workloads: ['reference', 'shop', 'saas'],
      states: ['reset', 'kept'],
      seconds: 20,
      clients: 4,
      scale: 1,
      syntheticRows: 20_000,
    });
  });

  it('selects workloads and states in the order given, once each', () => {
    const settings = advisorSettings({ BENCH_ADVISOR_WORKLOADS: 'saas, shop,saas', BENCH_ADVISOR_STATES: 'kept' });
    expect(settings.workloads).toEqual(['saas', 'shop']);
    expect(settings.states).toEqual(['kept']);
  });

  it('refuses a name it does not know, saying which it knows', () => {
    expect(() => advisorSettings({ BENCH_ADVISOR_WORKLOADS: 'shop,bank' })).toThrow(
      'BENCH_ADVISOR_WORKLOADS: unknown bank; choose among reference, shop, saas',
    );
    expect(() => advisorSettings({ BENCH_ADVISOR_STATES: 'fresh' })).toThrow(
      'BENCH_ADVISOR_STATES: unknown fresh; choose among reset, kept',
    );
  });

  it('shortens everything in quick mode, and skips the synthetic timing with 0 rows', () => {
    const settings = advisorSettings({ BENCH_ADVISOR_QUICK: '1', BENCH_ADVISOR_SYNTHETIC_ROWS: '0' });
    expect(settings).toMatchObject({ quick: true, seconds: 3, scale: 0.1, syntheticRows: 0 });
  });
});

describe('advisorReport', () => {
  /** A configuration whose statements all took `ms` (so its P95 is `ms`), with `indexBytes`. */
  const configuration = (key: 'a' | 'b' | 'c', ms: number, indexBytes: number): Configuration => {
    const mix: MixResult = {
      statements: 100,
      seconds: 1,
      latenciesMs: Array(100).fill(ms),
      byScript: new Map([['q', Array(100).fill(ms)]]),
      errors: 0,
      firstError: undefined,
    };
    return { key, label: `(${key})`, result: { mix, summary: summarize(mix), indexBytes, loadAverage: 1 } };
  };
  const run = (workload: string, bMs: number, bBytes: number): WorkloadRun => ({
    workload,
    description: `${workload} tables`,
    state: 'reset',
    hypopg: '1.3.1',
    scripts: [{ name: 'q', weight: 1, sql: 'SELECT 1', draw: () => [] }],
    configurations: [configuration('a', 100, 0), configuration('b', bMs, bBytes), configuration('c', 4, 1_000_000)],
    timing: { workload, seconds: 0.5, recommendations: [] },
  });

  it('marks each target met or not met, per workload', () => {
    const settings = advisorSettings({});
    const report = advisorReport({
      settings,
      hypopg: '1.3.1',
      runs: [run('shop', 4.4, 1_100_000), run('saas', 12, 1_300_000)],
      timings: [],
    });
    const summary = report.split('\n').filter((line) => /^\| (shop|saas) /.test(line));
    expect(summary).toHaveLength(2);
    // shop: 100 / 4.4 = 22.7x, 4.4 / 4 = 1.10x, 1.1 MB / 1 MB = 1.10x
    expect(summary[0]!.replace(/ +/g, ' ')).toBe('| shop | reset | 100 | 4.40 | 4 | 22.7x met | 1.10x met | 1.10x met | 0.50 |');
    // saas: 100 / 12 = 8.3x, 12 / 4 = 3x, 1.3x
    expect(summary[1]!.replace(/ +/g, ' ')).toBe('| saas | reset | 100 | 12 | 4 | 8.33x NOT MET | 3.00x NOT MET | 1.30x NOT MET | 0.50 |');
  });
});
