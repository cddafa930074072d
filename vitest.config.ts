import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS (main) and ESM (module). Node, and so graphql-yoga, load the
    // CommonJS build; Vite would give our sources the ESM one, and two GraphQLError classes
    // would make every typed error look unexpected. Resolve both to the one Node uses.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
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
