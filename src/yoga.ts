// Builds the HTTP application (no port: src/index.ts listens; tests call app.fetch directly).
import { createYoga, isAsyncIterable, useReadinessCheck, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { createContext, type AppDeps, type Context } from './context.js';
import { limitPlugins } from './limits.js';
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
}

export function createApp(deps: AppDeps, options: AppOptions = {}): App {
  return createYoga<Record<string, never>, Context>({
    schema,
    context: ({ request }) => createContext(deps, request),
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    logging: options.logging ?? true,
    // Never send internals (SQL, stacks, connection strings) to clients, whatever NODE_ENV says.
    maskedErrors: { isDev: false },
    graphiql: { title: 'pgscope', defaultQuery: EXAMPLE_OPERATION },
    plugins: [
      useReadinessCheck({
        endpoint: '/ready',
        check: async () => {
          const ready = await deps.database.ping();
          return Response.json({ ready, database: ready ? 'reachable' : 'unreachable' }, { status: ready ? 200 : 503 });
        },
      }),
      useStatementCount(),
      ...limitPlugins(deps.config.limits),
    ],
  });
}

/** Reports how many SQL statements the request ran, as `extensions.sqlStatements`. */
function useStatementCount(): Plugin<Context> {
  return {
    onExecute: () => ({
      onExecuteDone: ({ args, result, setResult }) => {
        if (isAsyncIterable(result)) return;
        const { stats } = args.contextValue as Context;
        setResult({ ...result, extensions: { ...result.extensions, sqlStatements: stats.statements } });
      },
    }),
  };
}
