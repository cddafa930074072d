import { createRequire } from 'node:module';
import { configDefaults, defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/**
 * Files whose outcome cannot depend on the PostgreSQL server under test: they test the pgscope
 * process, HTTP, the CLI, the embedded PostgreSQL 18 (whatever the server under test) or need no
 * PostgreSQL. PGSCOPE_TEST_SCOPE=server leaves them out: CI runs the whole suite on PostgreSQL 18
 * and 15, then the rest on 13, 14, 16 and 17 (.ci/run), in half the time.
 */
const SERVER_INDEPENDENT = [
  'test/startup.test.ts',
  'test/embedded/**',
  'test/cli/**',
  'test/replicas.test.ts',
  'test/http/**',
  'test/typedClient.test.ts',
  'test/readme.test.ts',
  'test/config.test.ts',
  'test/schema/print.test.ts',
  'test/bench/**',
  'test/sql/**',
];

const scope = process.env.PGSCOPE_TEST_SCOPE ?? 'all';
if (scope !== 'all' && scope !== 'server') throw new Error(`PGSCOPE_TEST_SCOPE must be all or server, not ${JSON.stringify(scope)}`);

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS (main) and ESM (module). Node, and so graphql-yoga, load the
    // CommonJS build; Vite would give our sources the ESM one, and two GraphQLError classes
    // would make every typed error look unexpected. Resolve both to the one Node uses.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: scope === 'server' ? [...configDefaults.exclude, ...SERVER_INDEPENDENT] : configDefaults.exclude,
    // One throwaway PostgreSQL per run (embedded PG 18, PGSCOPE_TEST_PG_BINDIR or TEST_DATABASE_URL).
    globalSetup: ['test/harness/globalSetup.ts'],
    pool: 'forks',
    // Vitest's default is one worker less than the cores: one, on a 2-core machine. The files spend
    // most of their time waiting for PostgreSQL (each has its own database), so three run side by
    // side in about two thirds of the time (measured on 2 cores: 256 s -> 170 s on PostgreSQL 18).
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
