// Builds the HTTP application (no port: src/index.ts listens; tests call app.fetch directly).
import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import { createYoga, isAsyncIterable, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { DEFAULT_TARGET } from './config.js';
import { createContext, type AppDeps, type AppServices, type Context, type TargetDeps, type TargetServices } from './context.js';
import { SharedReads } from './db/sharedReads.js';
import { useAccessControl } from './http/access.js';
import { useGraphiQLPage } from './http/graphiql.js';
import { limitPlugins } from './http/limits.js';
import { useNulGuard } from './http/nulGuard.js';
import { useReadSharing } from './http/readSharing.js';
import { useProbes } from './http/probes.js';
import { useTargets } from './http/targets.js';
import { useObservability } from './http/observe.js';
import { RequestLog } from './http/requestLog.js';
import { LiveStreams } from './live.js';
import { Metrics } from './metrics.js';
import { ConstantSamples } from './advisor/analysis/samples.js';
import { schema } from './schema/index.js';

/** The operation GraphiQL opens with: it runs as is against any target. */
export const EXAMPLE_OPERATION = /* GraphQL */ `# pgscope: what is slow, what to look at, how the pool is doing.
# Press the run button (or Ctrl-Enter). Every field is documented: open the book icon on the left.
query Overview {
  capabilities {
    serverVersion
    pgStatStatementsReadable
    degraded { feature reason remedy }
  }
  slowQueries(limit: 5) {
    queryId
    query
    calls
    meanTimeMs
    shareOfTotalTime
  }
  tables(first: 5, orderBy: TOTAL_SIZE) {
    edges {
      node { schema name sizeBytes seqScans indexScans statisticsStale }
    }
  }
  indexFindings { kind reason suggestedSql }
  cacheHitRatios { heap { ratio status } index { ratio status } }
  poolStatus {
    max total idle waiting
    server { maxConnections total usageRatio }
  }
}
`;

export type App = YogaServerInstance<Record<string, never>, Context>;

export interface AppOptions {
  /** Yoga's logger; tests pass false to keep expected errors out of their output. */
  logging?: boolean;
  /** The clock of the read cache, milliseconds on a monotonic scale (tests move it by hand). Default performance.now. */
  now?: () => number;
  /** The request log; default one from config.log on standard output. */
  requestLog?: RequestLog;
}

/** The services every request's context is made from: one per target, the metrics, the live streams. */
export function appServices(deps: AppDeps, options: Pick<AppOptions, 'now'> = {}): AppServices {
  const live = deps.live ?? new LiveStreams(deps.config.subscriptions);
  const target = (name: string, each: TargetDeps): TargetServices => ({
    name,
    database: each.database,
    capabilities: each.capabilities,
    ownSchemaReady: each.ownSchemaReady,
    constantSamples: each.constantSamples ?? new ConstantSamples(),
    sharedReads: new SharedReads({ cacheMs: deps.config.reads.cacheMs, now: options.now }),
  });
  const targets = new Map([[DEFAULT_TARGET, target(DEFAULT_TARGET, deps)]]);
  for (const [name, each] of deps.targets ?? []) targets.set(name, target(name, each));
  const databases = new Map([...targets].map(([name, each]) => [name, each.database]));
  return {
    config: deps.config,
    targets,
    metrics: deps.config.metrics ? (deps.metrics ?? new Metrics(databases, { live })) : null,
    live,
  };
}

export function createApp(deps: AppDeps, options: AppOptions = {}): App {
  const services = appServices(deps, options);
  const { targets } = services;
  const [records, metricsEndpoint] = useObservability(deps.config, services.metrics, options.requestLog ?? new RequestLog(deps.config.log));
  return createYoga<Record<string, never>, Context>({
    schema,
    // Node's adapter adds the IncomingMessage (req) to yoga's context; app.fetch in tests has none.
    context: ({ request, ...server }) =>
      createContext(services, request.headers.get('authorization'), (server as { req?: IncomingMessage }).req?.socket.remoteAddress),
    graphqlEndpoint: '/graphql',
    // Yoga's health check cannot be turned off and answers every URL ending in this path, before any
    // plugin: a space ends none (HTTP ends the request target at one, and URLs encode it).
    // useProbes answers /health on its exact path.
    healthCheckEndpoint: ' ',
    landingPage: false,
    logging: options.logging ?? true,
    // Never send internals (SQL, stacks, connection strings) to clients, whatever NODE_ENV says.
    maskedErrors: { isDev: false },
    // CORS, Host and content types are checked by useAccessControl: yoga's own CORS grants any
    // origin (even "null") with credentials, and it would answer preflights before the Host check.
    cors: false,
    multipart: false,
    // limits.ts reads a body up to PGSCOPE_MAX_BODY_BYTES itself: Yoga's own limit (25 MB) would
    // pipe every body through one more stream for nothing (measured: ~0.15 ms per request)
    maxRequestBodySize: false,
    graphiql: false, // useGraphiQLPage serves it from our own dependencies (Yoga's page needs a CDN), after the Host check
    plugins: [
      // the request id and the clock first, so that every refusal is logged too
      records,
      useAccessControl(deps.config),
      metricsEndpoint,
      // Limits next: every rejection comes before parsing the rest, resolvers, or any SQL.
      ...limitPlugins(deps.config.limits),
      useProbes(targets),
      // before the target is chosen: a NUL in @target(name:) is refused as any NUL is
      useNulGuard(),
      useTargets(targets),
      useReadSharing(deps.config.reads),
      useStatementCount(),
      useGraphiQLPage({ title: 'pgscope', defaultQuery: EXAMPLE_OPERATION, endpoint: '/graphql' }),
      useNoParserInternals(),
    ],
  });
}

/**
 * Reports how many SQL statements the request ran, as `extensions.sqlStatements`; when some were
 * answered by an identical round trip already in flight or by the read cache, how many
 * (`sqlStatementsShared`); when some came from the cache, the age of the oldest (`readCacheAgeMs`).
 */
function useStatementCount(): Plugin<Context> {
  return {
    onExecute: () => ({
      onExecuteDone: ({ args, result, setResult }) => {
        if (isAsyncIterable(result)) return;
        const { stats, reads, sharedReads } = args.contextValue as Context;
        const extensions: Record<string, unknown> = { ...result.extensions, sqlStatements: stats.statements };
        if (reads.shared > 0) extensions.sqlStatementsShared = reads.shared;
        if (reads.oldestCachedAt !== undefined) extensions.readCacheAgeMs = sharedReads.ageMs(reads.oldestCachedAt);
        setResult({ ...result, extensions });
      },
    }),
  };
}

/**
 * Yoga's JSON body parser attaches its own error to a malformed body (`extensions.originalError`:
 * the JavaScript error's name and a message quoting the body). The client gets the message and
 * the code only.
 */
function useNoParserInternals(): Plugin<Context> {
  return {
    onResultProcess: ({ result, setResult }) => {
      if (isAsyncIterable(result) || Array.isArray(result) || !result.errors?.some((error) => error.extensions?.originalError)) return;
      const errors = result.errors.map((error) => {
        if (!error.extensions?.originalError) return error;
        const { originalError: _internal, ...extensions } = error.extensions;
        return new GraphQLError(error.message, { extensions });
      });
      setResult({ ...result, errors });
    },
  };
}
