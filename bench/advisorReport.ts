// The advisor section's markdown: configurations side by side, the targets as ratios
// measured in this run, P95 per statement, what (b) applied, and the timing of indexRecommendations.
import type { Script } from '../src/demo/workload.js';
import type { Recommendation } from './advisorApi.js';
import { percentile, table } from './lib.js';
import { SLOW_MS, type MixResult, type MixSummary } from './mix.js';

/** How the advisor bench was run (bench/advisor.ts reads it from the environment). */
export interface AdvisorSettings {
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

interface ReportInput {
  settings: AdvisorSettings;
  hypopg: string | null;
  scripts: Script[];
  configurations: Configuration[];
  timings: RecommendTiming[];
}

const MB = 1024 * 1024;
const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(value >= 10 ? 1 : 2)}x` : 'n/a');
const percent = (share: number) => (Number.isFinite(share) ? `${(share * 100).toFixed(1)} %` : 'n/a');

export function advisorReport(input: ReportInput): string {
  const { settings } = input;
  const mixText = input.scripts.map((s) => `${s.name} ${s.weight}`).join(', ');
  const missing = [...input.configurations, ...input.timings].find((c) => c.unavailable)?.unavailable;
  return [
    `### advisor: the reference workload at scale ${settings.scale}, (a) primary keys only, (b) pgscope's recommendations, (c) the guide's set`,
    '',
    ...(missing ? [`**Partial run: only what could be measured is shown (${missing}).**`, ''] : []),
    `${settings.quick ? '**Quick mode (BENCH_ADVISOR_QUICK=1): not the reference measurement.** ' : ''}` +
      `Query mix of demo/queries with the guide's weights (${mixText}), ${settings.clients} clients, ${settings.seconds} s per configuration after a warm-up, ` +
      `bind parameters from a seeded generator (every configuration replays the same draws). Each configuration is measured in two halves, in the order a b c c b a, ` +
      `so that a machine growing busier or quieter favours none (load avg: the 1-minute load average after each half, averaged). ` +
      `Before every half, every index that backs no constraint is dropped and the configuration's indexes are built afresh ((b) and (c) then ANALYZE), then CHECKPOINT. ` +
      `HypoPG: ${input.hypopg ?? 'not available on this server'}. Index bytes: every index of the four tables that backs no constraint, partitions' included.`,
    '',
    configurationTable(input.configurations),
    ...errorLines(input.configurations),
    '',
    targetTable(input.configurations),
    '',
    perStatementTable(input.scripts, input.configurations),
    '',
    appliedList(input.configurations.find((c) => c.key === 'b')),
    '',
    timingTable(input.timings, input.hypopg),
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
  const [a, b, c] = (['a', 'b', 'c'] as const).map((key) => configurations.find((x) => x.key === key)?.result);
  const row = (name: string, target: string, value: number | undefined, met?: (v: number) => boolean, show = ratio) =>
    value === undefined || !Number.isFinite(value)
      ? [name, target, 'not measured', '']
      : [name, target, show(value), met ? (met(value) ? 'yes' : 'NO') : ''];
  const bytes = (v: number) => `${(v * 100).toFixed(0)} % of (c)`;
  return table(
    ['ratio (this run)', 'target', 'measured', 'met'],
    [
      row('P95 (a) / (b)', '>= 10x', a && b ? a.summary.p95Ms / b.summary.p95Ms : undefined, (v) => v >= 10),
      row('P95 (b) / (c)', '<= 1.2x', b && c ? b.summary.p95Ms / c.summary.p95Ms : undefined, (v) => v <= 1.2),
      row(
        'throughput (c) / (b)',
        '<= 1.2x',
        b && c ? c.summary.statementsPerSecond / b.summary.statementsPerSecond : undefined,
        (v) => v <= 1.2,
      ),
      row('index bytes (b) / (c)', '<= 100 %', b && c ? b.indexBytes / c.indexBytes : undefined, (v) => v <= 1, bytes),
      row('P95 (a) / (c), for reference', 'the guide: about 200x', a && c ? a.summary.p95Ms / c.summary.p95Ms : undefined),
    ],
  );
}

function perStatementTable(scripts: Script[], configurations: Configuration[]): string {
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
  const met = (seconds: number) => (hypopg ? (seconds < 10 ? 'yes' : 'NO') : 'n/a (no HypoPG)');
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
    'indexRecommendations (all arguments default), one request each (target: under 10 s with HypoPG). Statements: what pg_stat_statements held for the database; ' +
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
