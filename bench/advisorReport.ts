// The advisor section's markdown: a summary of every workload and starting state against the
// issue's targets, then per workload and state the configurations side by side, the targets as
// ratios measured in this run, P95 per statement and what (b) applied; then the timing of
// indexRecommendations.
import type { Recommendation } from './advisorApi.js';
import { percentile, table } from './lib.js';
import { SLOW_MS, type MixResult, type MixSummary } from './mix.js';
import type { MixScript } from './workloads/workload.js';

/** Where the counters stand when (a) starts: reset after the load, or kept as the load left them. */
export const STATES = ['reset', 'kept'] as const;
export type StartingState = (typeof STATES)[number];

/** How the advisor bench was run (bench/advisor.ts reads it from the environment). */
export interface AdvisorSettings {
  workloads: string[];
  states: StartingState[];
  seconds: number;
  clients: number;
  scale: number;
  syntheticRows: number;
  quick: boolean;
}

export interface Configuration {
  key: 'a' | 'b' | 'c';
  label: string;
  result?: { mix: MixResult; summary: MixSummary; indexBytes: number; loadAverage: number };
  /** Why there is no measurement ("not available: ...", "failed: ..."). */
  unavailable?: string;
  recommendations?: Recommendation[];
}

export interface RecommendTiming {
  workload: string;
  /** Statements pg_stat_statements held for the database when the request started. */
  statements?: number;
  seconds?: number;
  recommendations?: Recommendation[];
  /** SQL statements the request ran (the response's extensions.sqlStatements). */
  sqlStatements?: number;
  /** EXPLAIN calls pg_stat_statements counted during the request. */
  whatIfPlans?: number;
  /** hypopg_create_index calls counted during the request. */
  hypotheticalIndexes?: number;
  unavailable?: string;
}

/** One workload measured from one starting state. */
export interface WorkloadRun {
  workload: string;
  /** Its tables and rows at the scale measured. */
  description: string;
  state: StartingState;
  hypopg: string | null;
  scripts: MixScript[];
  configurations: Configuration[];
  /** The indexRecommendations request (b) made. */
  timing: RecommendTiming;
}

interface ReportInput {
  settings: AdvisorSettings;
  hypopg: string | null;
  runs: WorkloadRun[];
  timings: RecommendTiming[];
}

const STATE_TEXT: Record<StartingState, string> = {
  reset: 'counters reset after the load (pg_stat_reset, pg_stat_statements of the database)',
  kept: 'counters kept from the load (its writes in the table counters, its statements in pg_stat_statements, as in a database just restored or loaded)',
};

const MB = 1024 * 1024;
const ratio = (value: number | undefined) =>
  value !== undefined && Number.isFinite(value) ? `${value.toFixed(value >= 10 ? 1 : 2)}x` : 'n/a';
const percent = (share: number) => (Number.isFinite(share) ? `${(share * 100).toFixed(1)} %` : 'n/a');

export function advisorReport(input: ReportInput): string {
  const { settings } = input;
  const missing = [...input.runs.flatMap((run) => run.configurations), ...input.timings].find((c) => c.unavailable)?.unavailable;
  return [
    `### advisor: pgscope's recommendations against hand-picked indexes, ${settings.workloads.join(', ')} at scale ${settings.scale}, counters ${settings.states.join(' and ')}`,
    '',
    ...(missing ? [`**Partial run: only what could be measured is shown (${missing}).**`, ''] : []),
    `${settings.quick ? '**Quick mode (BENCH_ADVISOR_QUICK=1): not the reference measurement.** ' : ''}` +
      `Each workload runs under its query mix in three configurations: (a) primary keys only, (b) pgscope's recommendations ` +
      `(indexRecommendations, then applyRecommendation(dryRun: false) for each, through the GraphQL API, after (a) ran the mix), ` +
      `(c) the workload's hand-picked set (the guide's for the reference workload; for the others a DBA's, written before the advisor ran on them). ` +
      `${settings.clients} clients, ${settings.seconds} s per configuration after a warm-up, bind parameters from a seeded generator ` +
      `(every configuration replays the same draws). Each configuration is measured in two halves, in the order a b c c b a, ` +
      `so that a machine growing busier or quieter favours none (load avg: the 1-minute load average after each half, averaged). ` +
      `Before every half, every index that backs no constraint is dropped and the configuration's indexes are built afresh ((b) and (c) then ANALYZE), then CHECKPOINT. ` +
      `Each workload is loaded afresh for each starting state. HypoPG: ${input.hypopg ?? 'not available on this server'}. ` +
      `Index bytes: every index of the workload's tables that backs no constraint, partitions' included.`,
    '',
    summaryTable(input.runs),
    ...input.runs.flatMap((run) => ['', runSection(run)]),
    '',
    timingTable(input.timings, input.hypopg),
  ].join('\n');
}

/** One workload from one starting state. */
function runSection(run: WorkloadRun): string {
  const mixText = run.scripts.map((s) => `${s.name} ${s.weight}`).join(', ');
  return [
    `#### ${run.workload}, ${STATE_TEXT[run.state]}`,
    '',
    `${capitalize(run.description)}. Query mix (statement and weight): ${mixText}.`,
    '',
    configurationTable(run.configurations),
    ...errorLines(run.configurations),
    '',
    targetTable(run.configurations),
    '',
    perStatementTable(run.scripts, run.configurations),
    '',
    appliedList(run.configurations.find((c) => c.key === 'b')),
  ].join('\n');
}

const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** The targets, one row per workload and state. */
export const TARGETS = {
  /** P95 (a) / (b): the recommendations must matter. */
  speedup: 10,
  /** P95 (b) / (c): as fast as the hand-picked set, within 20 %. */
  p95: 1.2,
  /** Index bytes (b) / (c): no bigger than the hand-picked set, within 20 %. */
  bytes: 1.2,
  /** indexRecommendations on 500 statements, seconds (with HypoPG). */
  recommendSeconds: 10,
};

interface Ratios {
  speedup?: number;
  p95?: number;
  bytes?: number;
  throughput?: number;
  a95?: number;
}

function ratios(configurations: Configuration[]): Ratios {
  const [a, b, c] = (['a', 'b', 'c'] as const).map((key) => configurations.find((x) => x.key === key)?.result);
  return {
    speedup: a && b ? a.summary.p95Ms / b.summary.p95Ms : undefined,
    p95: b && c ? b.summary.p95Ms / c.summary.p95Ms : undefined,
    bytes: b && c && c.indexBytes > 0 ? b.indexBytes / c.indexBytes : undefined,
    throughput: b && c ? c.summary.statementsPerSecond / b.summary.statementsPerSecond : undefined,
    a95: a && c ? a.summary.p95Ms / c.summary.p95Ms : undefined,
  };
}

const measured = (value: number | undefined) => value !== undefined && Number.isFinite(value);
const verdict = (value: number | undefined, met: (v: number) => boolean) =>
  measured(value) ? (met(value!) ? 'met' : 'NOT MET') : 'not measured';

function summaryTable(runs: WorkloadRun[]): string {
  const p95 = (run: WorkloadRun, key: 'a' | 'b' | 'c') => run.configurations.find((c) => c.key === key)?.result?.summary.p95Ms ?? 'n/a';
  const rows = runs.map((run) => {
    const r = ratios(run.configurations);
    const seconds = run.timing.seconds;
    return [
      run.workload,
      run.state,
      p95(run, 'a'),
      p95(run, 'b'),
      p95(run, 'c'),
      `${ratio(r.speedup)} ${verdict(r.speedup, (v) => v >= TARGETS.speedup)}`,
      `${ratio(r.p95)} ${verdict(r.p95, (v) => v <= TARGETS.p95)}`,
      `${ratio(r.bytes)} ${verdict(r.bytes, (v) => v <= TARGETS.bytes)}`,
      seconds === undefined ? (run.timing.unavailable ?? 'n/a') : seconds,
    ];
  });
  return [
    'Summary (details per workload and state below):',
    '',
    table(
      [
        'workload',
        'counters',
        'P95 (a) ms',
        'P95 (b) ms',
        'P95 (c) ms',
        `P95 (a) / (b), target >= ${TARGETS.speedup}x`,
        `P95 (b) / (c), target <= ${TARGETS.p95}x`,
        `index bytes (b) / (c), target <= ${TARGETS.bytes}x`,
        'indexRecommendations s',
      ],
      rows,
    ),
  ].join('\n');
}

function configurationTable(configurations: Configuration[]): string {
  const rows = configurations.map((c) => {
    if (!c.result) return [c.label, c.unavailable ?? 'n/a', '', '', '', '', '', '', ''];
    const { summary, mix, indexBytes, loadAverage } = c.result;
    return [
      c.label,
      mix.statements,
      summary.statementsPerSecond,
      summary.p50Ms,
      summary.p95Ms,
      percent(summary.slowShare),
      indexBytes / MB,
      mix.errors,
      loadAverage,
    ];
  });
  return table(
    ['configuration', 'statements', 'statements/s', 'P50 ms', 'P95 ms', `over ${SLOW_MS} ms`, 'index MB (non-PK)', 'errors', 'load avg'],
    rows,
  );
}

function errorLines(configurations: Configuration[]): string[] {
  const failed = configurations.filter((c) => c.result && c.result.mix.errors > 0);
  // A configuration measured once and then failed (its second half) shows its first half and why.
  const halfMeasured = configurations.filter((c) => c.result && c.unavailable);
  return [
    ...failed.map((c) => `\n${c.label}: ${c.result!.mix.errors} statement(s) failed (not timed), first: ${c.result!.mix.firstError}`),
    ...halfMeasured.map((c) => `\n${c.label}: measured in one half only, then ${c.unavailable}`),
  ];
}

function targetTable(configurations: Configuration[]): string {
  const r = ratios(configurations);
  const row = (name: string, target: string, value: number | undefined, met?: (v: number) => boolean) =>
    measured(value) ? [name, target, ratio(value!), met ? verdict(value, met) : ''] : [name, target, 'not measured', ''];
  return table(
    ['ratio (this run)', 'target', 'measured', 'met'],
    [
      row('P95 (a) / (b)', `>= ${TARGETS.speedup}x`, r.speedup, (v) => v >= TARGETS.speedup),
      row('P95 (b) / (c)', `<= ${TARGETS.p95}x`, r.p95, (v) => v <= TARGETS.p95),
      row('index bytes (b) / (c)', `<= ${TARGETS.bytes}x`, r.bytes, (v) => v <= TARGETS.bytes),
      row('throughput (c) / (b), for reference', '', r.throughput),
      row('P95 (a) / (c), for reference', '', r.a95),
    ],
  );
}

function perStatementTable(scripts: MixScript[], configurations: Configuration[]): string {
  const rows = scripts.map((script) => [
    script.name,
    script.weight,
    ...configurations.map((c) => {
      const latencies = c.result?.mix.byScript.get(script.name);
      return latencies && latencies.length > 0 ? percentile(latencies, 95) : 'n/a';
    }),
  ]);
  return `P95 ms per statement:\n\n${table(['statement', 'weight', ...configurations.map((c) => c.label.split(' ')[0]!)], rows)}`;
}

function appliedList(b: Configuration | undefined): string {
  if (!b?.recommendations) return `(b) applied: ${b?.unavailable ?? 'nothing'}.`;
  if (b.recommendations.length === 0) return '(b) applied: indexRecommendations returned no recommendation.';
  const estimated = b.recommendations.reduce((sum, r) => sum + Number(r.sizeBytes ?? 0), 0);
  const measured = b.result ? `, ${(b.result.indexBytes / MB).toFixed(1)} MB on disk after the builds` : '';
  return [
    `(b) applied ${b.recommendations.length} recommendation(s) through applyRecommendation(dryRun: false), estimated ${(estimated / MB).toFixed(1)} MB${measured}:`,
    '',
    '```sql',
    ...b.recommendations.map((r) => `${r.sql.trim().replace(/;?$/, ';')} -- ${r.source}`),
    '```',
  ].join('\n');
}

function timingTable(timings: RecommendTiming[], hypopg: string | null): string {
  const met = (seconds: number) => (hypopg ? (seconds < TARGETS.recommendSeconds ? 'met' : 'NOT MET') : 'n/a (no HypoPG)');
  const rows = timings.map((t) =>
    t.unavailable
      ? [t.workload, t.statements ?? '', t.unavailable, '', '', '', '', '']
      : [
          t.workload,
          t.statements ?? '',
          t.seconds!,
          met(t.seconds!),
          t.recommendations?.length ?? '',
          t.sqlStatements ?? '',
          t.whatIfPlans ?? '',
          t.hypotheticalIndexes ?? '',
        ],
  );
  return [
    `indexRecommendations (all arguments default), one request each (target: under ${TARGETS.recommendSeconds} s with HypoPG for the synthetic workload's 500 statements). Statements: what pg_stat_statements held for the database; ` +
      'what-if plans and hypothetical indexes: the EXPLAIN and hypopg_create_index calls pg_stat_statements counted during the request.',
    '',
    table(
      [
        'workload',
        'statements',
        'seconds',
        'under 10 s',
        'recommendations',
        'SQL statements in the request',
        'what-if plans',
        'hypothetical indexes',
      ],
      rows,
    ),
  ].join('\n');
}
