// The gates of `pgscope check`: each reads what pgscope answered and says which objects fail it, in
// one line each (which index or statement, the value and the threshold). Pure functions over the
// GraphQL answers and the baseline file, so each rule reads on one screen.

export type GateName = 'INVALID_INDEX' | 'RECOMMENDATION_BENEFIT' | 'MEAN_TIME_REGRESSION';

export interface GateFailure {
  gate: GateName;
  /** The index, recommendation or statement at fault. */
  subject: string;
  value: number | string;
  threshold: number | string | null;
  message: string;
}

export interface InvalidFinding {
  schema: string;
  table: string;
  indexName: string | null;
  reasonCode: string;
  reason: string;
}

/** INVALID indexes fail, except one being built right now (a concurrent build is INVALID until it ends). */
export function invalidIndexFailures(findings: InvalidFinding[]): { failures: GateFailure[]; notes: string[] } {
  const failures: GateFailure[] = [];
  const notes: string[] = [];
  for (const finding of findings) {
    const subject = `${finding.schema}.${finding.indexName ?? '?'}`;
    if (finding.reasonCode === 'BUILD_IN_PROGRESS') {
      notes.push(`index ${subject} on ${finding.schema}.${finding.table} is INVALID while a build runs (not failed)`);
      continue;
    }
    failures.push({
      gate: 'INVALID_INDEX',
      subject,
      value: finding.reasonCode,
      threshold: null,
      message: `INVALID index ${subject} on ${finding.schema}.${finding.table} (${finding.reasonCode}): ${finding.reason}`,
    });
  }
  return { failures, notes };
}

export interface Recommendation {
  id: string;
  schema: string;
  table: string;
  name: string;
  sql: string;
  statements: Array<{ queryId: string; calls: number | string; costBefore: number; costAfter: number }>;
}

/**
 * `--max-benefit`: the share of its statements' estimated cost (calls x plan cost) a recommended
 * index would save, written as a percentage ("50%") or as a cost factor ("4x": 4 times cheaper,
 * which is 75% saved). A bare number is refused: which of the two it meant would be a guess.
 */
export function parseBenefit(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(%|x)$/i.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]);
  if (match[2] === '%') return value >= 0 && value <= 100 ? value / 100 : undefined;
  return value >= 1 ? 1 - 1 / value : undefined;
}

/** Saved share of a recommendation's statements' estimated cost, weighted by their calls. */
export function savedShare(recommendation: Recommendation): number {
  let before = 0;
  let after = 0;
  for (const statement of recommendation.statements) {
    const calls = Number(statement.calls);
    before += calls * statement.costBefore;
    after += calls * statement.costAfter;
  }
  return before > 0 ? Math.max(0, (before - after) / before) : 0;
}

const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
const factor = (share: number) => (share >= 1 ? 'inf' : `${(1 / (1 - share)).toFixed(1)}x`);

export function benefitFailures(recommendations: Recommendation[], maxShare: number): GateFailure[] {
  return recommendations
    .map((recommendation) => ({ recommendation, share: savedShare(recommendation) }))
    .filter(({ share }) => share > maxShare)
    .map(({ recommendation, share }) => ({
      gate: 'RECOMMENDATION_BENEFIT' as const,
      subject: `${recommendation.schema}.${recommendation.table} ${recommendation.name}`,
      value: Number(share.toFixed(4)),
      threshold: maxShare,
      message:
        `recommended index ${recommendation.name} on ${recommendation.schema}.${recommendation.table} would save ` +
        `${percent(share)} of its statements' estimated cost (${factor(share)} cheaper), above --max-benefit ${percent(maxShare)}: ${recommendation.sql}`,
    }));
}

export interface StatementStats {
  queryId: string;
  query: string;
  calls: number;
  meanTimeMs: number;
}

/** The file `--save-baseline` writes and `--baseline` reads. */
export interface Baseline {
  pgscopeVersion: string;
  savedAt: string;
  statements: StatementStats[];
}

export function baselineOf(statements: StatementStats[], pgscopeVersion: string, now: Date): Baseline {
  return { pgscopeVersion, savedAt: now.toISOString(), statements };
}

/** A baseline file's statements, or why it cannot be read as one. */
export function parseBaseline(text: string): StatementStats[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  const statements = (parsed as Partial<Baseline> | null)?.statements;
  if (!Array.isArray(statements)) return 'no "statements" array (write one with --save-baseline)';
  const valid = statements.every(
    (s) => typeof s?.queryId === 'string' && Number.isFinite(Number(s?.calls)) && typeof s?.meanTimeMs === 'number' && s.meanTimeMs >= 0,
  );
  if (!valid) return 'each statement needs queryId (string), calls and meanTimeMs (numbers)';
  return statements.map((s: StatementStats) => ({
    queryId: s.queryId,
    query: String(s.query ?? ''),
    calls: Number(s.calls),
    meanTimeMs: s.meanTimeMs,
  }));
}

const shorten = (query: string) => {
  const line = query.replace(/\s+/g, ' ').trim();
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
};

/**
 * A statement regressed when its mean time is above `maxRatio` x its baseline mean; both must have
 * run at least `minCalls` times, so that a statement seen twice does not fail a deploy.
 */
export function regressionFailures(
  baseline: StatementStats[],
  current: StatementStats[],
  maxRatio: number,
  minCalls: number,
): GateFailure[] {
  const now = new Map(current.map((statement) => [statement.queryId, statement]));
  const failures: GateFailure[] = [];
  for (const before of baseline) {
    const after = now.get(before.queryId);
    if (!after || after.calls < minCalls || before.calls < minCalls || before.meanTimeMs <= 0) continue;
    const ratio = after.meanTimeMs / before.meanTimeMs;
    if (ratio <= maxRatio) continue;
    failures.push({
      gate: 'MEAN_TIME_REGRESSION',
      subject: before.queryId,
      value: Number(ratio.toFixed(3)),
      threshold: maxRatio,
      message:
        `statement ${before.queryId} mean time ${after.meanTimeMs.toFixed(2)} ms is ${ratio.toFixed(2)}x its baseline ` +
        `${before.meanTimeMs.toFixed(2)} ms, above --max-regression ${maxRatio} (${after.calls} calls): ${shorten(after.query || before.query)}`,
    });
  }
  return failures;
}
