// Configuration (b) of the advisor bench: pgscope's recommendations asked for and applied through
// the GraphQL API, as a client would, and the timing of the indexRecommendations request.
import type { Queryable } from '../src/db/pool.js';
import type { AdvisorClient, Recommendation } from './advisorApi.js';
import { nonConstraintIndexCount, statementCounts, waitForIndexBuilds } from './advisorDb.js';
import type { RecommendTiming } from './advisorReport.js';
import { sleep } from './lib.js';

/**
 * (b): on the first visit, ask pgscope for its recommendations on the mix pg_stat_statements
 * holds since (a) (timed), then apply each through applyRecommendation(dryRun: false); on the
 * second visit apply the same ids again (they are stateless). Then wait for the builds, ANALYZE.
 * Without the API fields, or when a step fails, the configuration says why instead of a number.
 */
export class ConfigurationB {
  unavailable: string | undefined;
  recommendations: Recommendation[] | undefined;
  timing: RecommendTiming;

  constructor(
    private readonly client: AdvisorClient,
    private readonly admin: Queryable,
    private readonly title: string,
    private readonly log: (line: string) => void,
  ) {
    this.timing = { workload: title, unavailable: 'not measured' };
    const missing = client.schema.recommendationsMissing;
    if (missing) {
      this.unavailable = `not available: ${missing}`;
      this.timing = { workload: title, unavailable: this.unavailable };
    }
  }

  /** Builds (b) from the primary-keys-only state; false when (b) cannot be measured. */
  async apply(): Promise<boolean> {
    if (this.unavailable) return false;
    try {
      if (!this.recommendations) {
        this.timing = await timeRecommendations(this.client, this.admin, this.title);
        this.recommendations = this.timing.recommendations ?? [];
      }
      if (this.client.schema.applyMissing) {
        this.unavailable = `not available: ${this.client.schema.applyMissing}`;
        return false;
      }
      for (const recommendation of this.recommendations) {
        this.log(`(b) applying ${recommendation.sql}`);
        this.log(`(b) applyRecommendation: ${summarizeApply(await this.client.apply(recommendation.id))}`);
      }
      await this.waitForIndexes(this.recommendations.length);
      await waitForIndexBuilds(this.admin);
      await this.admin.query('ANALYZE');
      return true;
    } catch (error) {
      this.unavailable = `failed: ${(error as Error).message}`;
      this.log(`(b) ${this.unavailable}`);
      if (this.timing.unavailable) this.timing = { workload: this.title, unavailable: this.unavailable };
      return false;
    }
  }

  /**
   * An apply that returns before its build starts (a background job) would let the measurement
   * begin without the index: wait up to a minute for `count` indexes to appear (fewer may be right
   * when a recommendation also drops an index it makes redundant, hence a log line, not an error).
   */
  private async waitForIndexes(count: number): Promise<void> {
    const deadline = Date.now() + 60_000;
    let found = await nonConstraintIndexCount(this.admin);
    while (found < count && Date.now() < deadline) {
      await sleep(500);
      found = await nonConstraintIndexCount(this.admin);
    }
    if (found < count) this.log(`(b) ${found} index(es) exist after applying ${count} recommendation(s)`);
  }
}

/** One indexRecommendations request, timed, with what pg_stat_statements saw it run. */
export async function timeRecommendations(client: AdvisorClient, admin: Queryable, workload: string): Promise<RecommendTiming> {
  const before = await statementCounts(admin);
  const started = performance.now();
  const { list, sqlStatements } = await client.recommendations();
  const seconds = (performance.now() - started) / 1000;
  const after = await statementCounts(admin);
  return {
    workload,
    statements: before.statements,
    seconds,
    recommendations: list,
    sqlStatements,
    whatIfPlans: after.explainCalls - before.explainCalls,
    hypotheticalIndexes: after.hypotheticalIndexes - before.hypotheticalIndexes,
  };
}

/** One line of what applyRecommendation answered: the change's status, the index, and which statements use it. */
function summarizeApply(answer: Record<string, unknown>): string {
  const change = answer.change as { status?: string } | undefined;
  const index = answer.index as { name?: string; valid?: boolean } | null | undefined;
  const statements = (answer.statements as Array<{ queryId: string; usesIndex: boolean }> | null | undefined) ?? [];
  const uses = statements.map((s) => `${s.queryId} ${s.usesIndex ? 'uses it' : 'does not use it'}`).join(', ');
  return `${change?.status ?? '?'}, ${index?.name ?? 'no index'}${index?.valid === false ? ' (INVALID)' : ''}${uses ? `; ${uses}` : ''}`;
}
