// Prometheus metrics of one pgscope process (prom-client), served at /metrics (src/http/observe.ts)
// and protected like reads. One registry per app, not prom-client's global one: tests and two
// apps in one process do not share counters. Every label takes a bounded set of values: a client
// chooses its operation's name freely, so names are never labels; root fields (the schema's) and
// error codes (src/errors.ts, anything else counted as OTHER) are.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { backgroundJobs } from './actions/jobs.js';
import type { Database } from './db/pool.js';
import { DEFAULT_TARGET } from './config.js';
import { ERROR_CODES, GRAPHQL_CODES } from './errors.js';
import type { LiveStreams } from './live.js';

const KNOWN_CODES = new Set<string>([...Object.keys(ERROR_CODES), ...Object.keys(GRAPHQL_CODES)]);

/** Request and statement latencies: a catalog read takes milliseconds, an advisor run seconds. */
const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** 'none': refused before an operation was chosen (parsing, validation, limits, tokens). */
export type OperationType = 'query' | 'mutation' | 'subscription' | 'none';

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'type' | 'outcome'>;
  private readonly requestSeconds: Histogram<'type'>;
  private readonly fields: Counter<'field'>;
  private readonly errors: Counter<'code'>;
  private readonly statements: Counter<'outcome'>;
  private readonly statementSeconds: Histogram;
  private readonly advisorRuns: Counter<'source'>;
  private readonly advisorSeconds: Histogram<'source'>;

  /**
   * `processMetrics`: the Node.js process's own (CPU, memory, event loop lag), once per process
   * (src/index.ts). `live`: the subscriptions held open, when the app's are known.
   */
  constructor(
    databases: ReadonlyMap<string, Database> | Database,
    { processMetrics = false, live }: { processMetrics?: boolean; live?: LiveStreams } = {},
  ) {
    const registers = [this.registry];
    // by target name (PGSCOPE_TARGETS): a bounded set the operator chose
    const targets: Array<readonly [string, Database]> =
      databases instanceof Map ? [...(databases as ReadonlyMap<string, Database>)] : [[DEFAULT_TARGET, databases as Database]];
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'pgscope_' });
    this.requests = new Counter({
      name: 'pgscope_graphql_requests_total',
      help: 'GraphQL requests by operation type and outcome (ok, or the first error code).',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'pgscope_graphql_request_duration_seconds',
      help: 'Time from the request to the response, by operation type.',
      labelNames: ['type'],
      buckets: SECONDS,
      registers,
    });
    this.fields = new Counter({
      name: 'pgscope_graphql_root_fields_total',
      help: 'Root fields asked for, by name (what a request did).',
      labelNames: ['field'],
      registers,
    });
    this.errors = new Counter({
      name: 'pgscope_graphql_errors_total',
      help: 'Errors sent to clients, by extensions.code (QUERY_TIMEOUT, POOL_EXHAUSTED ...).',
      labelNames: ['code'],
      registers,
    });
    this.statements = new Counter({
      name: 'pgscope_sql_statements_total',
      help: 'SQL statements pgscope ran on its pool, by outcome (ok, error).',
      labelNames: ['outcome'],
      registers,
    });
    this.statementSeconds = new Histogram({
      name: 'pgscope_sql_statement_duration_seconds',
      help: 'Duration of each SQL statement on the pool, round trip included.',
      buckets: SECONDS,
      registers,
    });
    this.advisorRuns = new Counter({
      name: 'pgscope_advisor_runs_total',
      help: 'Index advisor runs, by how candidates were costed (HYPOPG, HEURISTIC).',
      labelNames: ['source'],
      registers,
    });
    this.advisorSeconds = new Histogram({
      name: 'pgscope_advisor_duration_seconds',
      help: 'Duration of each index advisor run.',
      labelNames: ['source'],
      buckets: SECONDS,
      registers,
    });
    new Gauge({
      name: 'pgscope_pool_connections',
      help: "pgscope's pool of each target: connections by state (idle, checked_out), and requests waiting for one (waiting).",
      labelNames: ['target', 'state'],
      registers,
      collect() {
        for (const [target, database] of targets) {
          const counters = database.counters();
          this.set({ target, state: 'idle' }, counters.idle);
          this.set({ target, state: 'checked_out' }, counters.checkedOut);
          this.set({ target, state: 'waiting' }, counters.waiting);
        }
      },
    });
    new Gauge({
      name: 'pgscope_pool_max_connections',
      help: 'The most connections the pool of each target opens (PGSCOPE_POOL_MAX).',
      labelNames: ['target'],
      registers,
      collect() {
        for (const [target, database] of targets) this.set({ target }, database.counters().max);
      },
    });
    new Gauge({
      name: 'pgscope_pool_timeouts',
      help: 'Requests that waited past PGSCOPE_POOL_CONNECTION_TIMEOUT_MS for a connection (POOL_EXHAUSTED), since start, by target.',
      labelNames: ['target'],
      registers,
      collect() {
        for (const [target, database] of targets) this.set({ target }, database.counters().timeouts);
      },
    });
    new Gauge({
      name: 'pgscope_changes_running',
      help: 'Changes (index builds and drops, partition changes) this process is running now.',
      registers,
      collect() {
        this.set(backgroundJobs.ids().length);
      },
    });
    if (live) {
      new Gauge({
        name: 'pgscope_subscriptions_open',
        help: 'Subscriptions (event streams of dashboards) held open now.',
        registers,
        collect() {
          this.set(live.open);
        },
      });
    }
    for (const [, database] of targets) {
      database.onStatement((durationMs, failed) => {
        this.statements.inc({ outcome: failed ? 'error' : 'ok' });
        this.statementSeconds.observe(durationMs / 1000);
      });
    }
  }

  /** One GraphQL request answered: its root fields, its errors' codes, how long it took. */
  request(type: OperationType, fields: readonly string[], codes: readonly string[], seconds: number): void {
    const counted = codes.map((code) => (KNOWN_CODES.has(code) ? code : 'OTHER'));
    this.requests.inc({ type, outcome: counted[0] ?? 'ok' });
    this.requestSeconds.observe({ type }, seconds);
    for (const field of fields) this.fields.inc({ field });
    for (const code of counted) this.errors.inc({ code });
  }

  advisorRun(source: string, seconds: number): void {
    this.advisorRuns.inc({ source });
    this.advisorSeconds.observe({ source }, seconds);
  }

  /** The text format Prometheus scrapes. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
