// `pgscope`: the command line for automation. Talks to a running pgscope over HTTP, so that CI gates
// and cron jobs fail properly: exit 0 all good, 1 a gate failed, 2 a usage error or anything that
// kept the answer from being judged (pgscope unreachable, GraphQL errors, which curl -f lets pass).
// Tokens come from the environment only: a token on the command line would show in `ps`.
import fs from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError, EXIT, graphql, type Endpoint } from './client.js';
import {
  baselineOf,
  benefitFailures,
  invalidIndexFailures,
  parseBaseline,
  parseBenefit,
  regressionFailures,
  type GateFailure,
  type InvalidFinding,
  type Recommendation,
  type StatementStats,
} from './gates.js';

const HELP = `Usage: pgscope <command> [options]

Commands:
  check        Gate a deploy: exit 1 when a gate fails (each opt-in below)
  snapshot     Capture a query-statistics snapshot (captureQueryStats; admin token)
  partitions   Create the partitions a table needs ahead (createPartitions; admin token)

Common options:
  --url <url>          pgscope's GraphQL endpoint (default $PGSCOPE_URL, else http://localhost:4000/graphql)
  --token-env <name>   Environment variable holding the token (default PGSCOPE_READ_TOKEN for check,
                       PGSCOPE_ADMIN_TOKEN for snapshot and partitions); never pass a token itself
  --timeout <seconds>  Give up on a request after this long (default 120)
  --json               Print one JSON object instead of lines
  -h, --help           This help

check:
  --fail-on-invalid-indexes   Fail on each INVALID index (indexFindings); one being built right now is only noted
  --max-benefit <N%|Nx>       Fail on each index recommendation that would save more than N% of its statements'
                              estimated cost (calls x plan cost), or make them more than N times cheaper (Nx)
  --baseline <file>           Compare each statement's mean time (slowQueries, by queryId) with this baseline...
  --max-regression <ratio>    ...and fail when it is more than ratio x the baseline's (e.g. 1.5)
  --min-calls <n>             Compare only statements with at least n calls, now and in the baseline (default 10)
  --save-baseline <file>      Write the statements' current mean times as a baseline (after the gates)

partitions:
  --table <schema.table>      The range-partitioned table (schema defaults to public)
  --ahead <n>                 Periods after the current one that must have a partition (default: pgscope's, 3)
  --idempotency-key <key>     Passed to createPartitions: a retried run returns the first one's change

Exit codes: 0 all good; 1 a gate failed (one line each: what, value, threshold);
            2 usage error, pgscope unreachable, or GraphQL errors (code and message printed).
`;

const OPTIONS = {
  url: { type: 'string' },
  'token-env': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  'fail-on-invalid-indexes': { type: 'boolean', default: false },
  'max-benefit': { type: 'string' },
  baseline: { type: 'string' },
  'max-regression': { type: 'string' },
  'min-calls': { type: 'string' },
  'save-baseline': { type: 'string' },
  table: { type: 'string' },
  ahead: { type: 'string' },
  'idempotency-key': { type: 'string' },
} satisfies ParseArgsConfig['options'];

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** The outcome of a command: what it prints, and its exit code. */
interface Result {
  exitCode: number;
  lines: string[];
  json: Record<string, unknown>;
}

const usage = (message: string) => new CliError([`pgscope: ${message}`, 'Run pgscope --help for the options.'], { code: 'USAGE' });

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...extra] = positionals;
  if (values.help || command === 'help') return { exitCode: EXIT.OK, lines: [HELP.trimEnd()], json: { help: HELP } };
  if (!command) throw usage('a command is required: check, snapshot or partitions.');
  if (extra.length) throw usage(`unexpected argument "${extra[0]}".`);
  if (command === 'check') return check(values, endpoint(values, env, 'PGSCOPE_READ_TOKEN'));
  if (command === 'snapshot') return snapshot(endpoint(values, env, 'PGSCOPE_ADMIN_TOKEN'));
  if (command === 'partitions') return partitions(values, endpoint(values, env, 'PGSCOPE_ADMIN_TOKEN'));
  throw usage(`unknown command "${command}": check, snapshot or partitions.`);
}

function endpoint(values: Values, env: NodeJS.ProcessEnv, tokenVariable: string): Endpoint {
  const url = values.url ?? env.PGSCOPE_URL ?? 'http://localhost:4000/graphql';
  if (!/^https?:\/\//.test(url)) throw usage(`--url must start with http:// or https://, got "${url}".`);
  const timeout = values.timeout === undefined ? 120 : positiveNumber('--timeout', values.timeout);
  const variable = values['token-env'] ?? tokenVariable;
  return { url, token: env[variable] || undefined, timeoutMs: timeout * 1000 };
}

function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!(text.trim() !== '' && Number.isFinite(value) && value > 0)) throw usage(`${flag} must be a number above 0, got "${text}".`);
  return value;
}

async function check(values: Values, api: Endpoint): Promise<Result> {
  const maxBenefit = values['max-benefit'] === undefined ? undefined : parseBenefit(values['max-benefit']);
  if (values['max-benefit'] !== undefined && maxBenefit === undefined) {
    throw usage(`--max-benefit must be a percentage (50%) or a cost factor (4x), got "${values['max-benefit']}".`);
  }
  if ((values.baseline === undefined) !== (values['max-regression'] === undefined)) {
    throw usage('--baseline and --max-regression go together: the file to compare with, and the ratio that fails.');
  }
  const maxRegression = values['max-regression'] === undefined ? undefined : positiveNumber('--max-regression', values['max-regression']);
  const minCalls = values['min-calls'] === undefined ? 10 : positiveNumber('--min-calls', values['min-calls']);
  const baseline = values.baseline === undefined ? undefined : readBaseline(values.baseline);
  if (!values['fail-on-invalid-indexes'] && maxBenefit === undefined && !baseline && !values['save-baseline']) {
    throw usage('check needs a gate (--fail-on-invalid-indexes, --max-benefit, --baseline) or --save-baseline.');
  }

  const failures: GateFailure[] = [];
  const notes: string[] = [];
  const checked: Record<string, number> = {};
  if (values['fail-on-invalid-indexes']) {
    const findings = await invalidIndexes(api);
    const invalid = invalidIndexFailures(findings);
    failures.push(...invalid.failures);
    notes.push(...invalid.notes);
    checked.invalidIndexes = findings.length;
  }
  if (maxBenefit !== undefined) {
    const recommendations = await indexRecommendations(api);
    failures.push(...benefitFailures(recommendations, maxBenefit));
    checked.recommendations = recommendations.length;
  }
  let current: StatementStats[] | undefined;
  if (baseline && maxRegression !== undefined) {
    current = await statementStats(api);
    failures.push(...regressionFailures(baseline, current, maxRegression, minCalls));
    checked.statementsCompared = baseline.filter((s) => current!.some((c) => c.queryId === s.queryId)).length;
  }
  const saveTo = values['save-baseline'];
  if (saveTo) {
    current ??= await statementStats(api);
    fs.writeFileSync(saveTo, `${JSON.stringify(baselineOf(current, pgscopeVersion(), new Date()), null, 2)}\n`);
    notes.push(`baseline of ${current.length} statements written to ${saveTo}`);
  }

  const summary = failures.length
    ? `pgscope check: FAILED, ${failures.length} ${failures.length === 1 ? 'failure' : 'failures'}`
    : `pgscope check: passed (${
        Object.entries(checked)
          .map(([what, n]) => `${what}: ${n}`)
          .join(', ') || 'no gate'
      })`;
  return {
    exitCode: failures.length ? EXIT.GATE_FAILED : EXIT.OK,
    lines: [...failures.map((f) => `FAIL ${f.message}`), ...notes.map((note) => `note: ${note}`), summary],
    json: { ok: failures.length === 0, failures, notes, checked },
  };
}

function readBaseline(file: string): StatementStats[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw usage(`cannot read --baseline ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
  const parsed = parseBaseline(text);
  if (typeof parsed === 'string') throw usage(`--baseline ${file} is not a pgscope baseline: ${parsed}.`);
  return parsed;
}

/** The version of this clone's pgscope, recorded in a baseline (a later reader knows what wrote it). */
function pgscopeVersion(): string {
  const manifest = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

async function invalidIndexes(api: Endpoint): Promise<InvalidFinding[]> {
  const query = 'query CheckInvalidIndexes { indexFindings(kinds: [INVALID]) { schema table indexName reasonCode reason } }';
  return (await graphql<{ indexFindings: InvalidFinding[] }>(api, query)).indexFindings;
}

async function indexRecommendations(api: Endpoint): Promise<Recommendation[]> {
  const query =
    'query CheckRecommendations { indexRecommendations(limit: 100) { id schema table name sql statements { queryId calls costBefore costAfter } } }';
  return (await graphql<{ indexRecommendations: Recommendation[] }>(api, query)).indexRecommendations;
}

/** The statements' mean times since pg_stat_statements last reset: the top 1000 by total time. */
async function statementStats(api: Endpoint): Promise<StatementStats[]> {
  const query =
    'query CheckStatements { slowQueries(minMeanTimeMs: 0, minCalls: 1, orderBy: TOTAL_TIME, limit: 1000) { queryId query calls meanTimeMs } }';
  const rows = (await graphql<{ slowQueries: Array<StatementStats & { calls: number | string }> }>(api, query)).slowQueries;
  return rows.map((row) => ({ queryId: row.queryId, query: row.query, calls: Number(row.calls), meanTimeMs: row.meanTimeMs }));
}

async function snapshot(api: Endpoint): Promise<Result> {
  const query = 'mutation Snapshot { captureQueryStats { id capturedAt statements deletedSnapshots } }';
  const { captureQueryStats: taken } = await graphql<{
    captureQueryStats: { id: string; capturedAt: string; statements: number; deletedSnapshots: number };
  }>(api, query);
  return {
    exitCode: EXIT.OK,
    lines: [
      `pgscope snapshot: ${taken.id} captured at ${taken.capturedAt}, ${taken.statements} statements; ${taken.deletedSnapshots} old snapshots deleted`,
    ],
    json: { ok: true, snapshot: taken },
  };
}

async function partitions(values: Values, api: Endpoint): Promise<Result> {
  if (!values.table) throw usage('partitions needs --table <schema.table>.');
  const parts = values.table.split('.');
  if (parts.length > 2 || parts.some((part) => part === '')) throw usage(`--table must be table or schema.table, got "${values.table}".`);
  const [schema, table] = parts.length === 2 ? parts : ['public', parts[0]];
  const ahead = values.ahead === undefined ? undefined : Number(values.ahead);
  if (ahead !== undefined && !(Number.isInteger(ahead) && ahead >= 0))
    throw usage(`--ahead must be a whole number, got "${values.ahead}".`);
  const query = `mutation KeepPartitionsAhead($input: CreatePartitionsInput!) {
    createPartitions(input: $input) { change { id status } created { schema name from to rowsMoved } }
  }`;
  const input = { schema, table, ahead, dryRun: false, idempotencyKey: values['idempotency-key'] };
  const { createPartitions: done } = await graphql<{
    createPartitions: {
      change: { id: string; status: string };
      created: Array<{ schema: string; name: string; from: string; to: string; rowsMoved: number }> | null;
    };
  }>(api, query, { input });
  const created = done.created ?? [];
  const lines = created.map(
    (p) => `created ${p.schema}.${p.name} [${p.from}, ${p.to}), ${p.rowsMoved} rows moved from the DEFAULT partition`,
  );
  lines.push(
    `pgscope partitions: ${schema}.${table} ${created.length ? `${created.length} created` : 'already covered'} (change ${done.change.id}, ${done.change.status})`,
  );
  return { exitCode: EXIT.OK, lines, json: { ok: true, change: done.change, created } };
}

/** Runs the CLI as a process: prints, and exits with its code. */
export async function run(argv: string[]): Promise<never> {
  const json = argv.includes('--json');
  try {
    const result = await main(argv);
    console.log(json ? JSON.stringify(result.json) : result.lines.join('\n'));
    process.exit(result.exitCode);
  } catch (error) {
    const failure =
      error instanceof CliError ? error : new CliError([`pgscope: unexpected error: ${(error as Error)?.message ?? String(error)}`]);
    if (json) console.log(JSON.stringify({ ok: false, error: { message: failure.lines.join('\n'), ...failure.details } }));
    else console.error(failure.lines.join('\n'));
    process.exit(EXIT.ERROR);
  }
}
