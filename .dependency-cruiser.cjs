// The floors of src/ (see README, "Architecture"), checked in .ci/run by `npm run lint:deps`.
// Data flows one way: http/ -> schema/ -> advisor/, actions/ -> review/ -> db/ -> sql/. A lower
// floor never imports a higher one, and no two files import each other, even for types: types
// two folders share live in a types-only file of the lower one.

/** A rule that forbids `from` to import anything under `to`. */
const floor = (name, from, to, comment) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to } });

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle, even through types, means two modules are one: split out what both need.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    floor(
      'sql-imports-only-errors',
      '^src/sql/',
      '^src/(?!sql/|errors\\.ts$)',
      'sql/ reads and writes SQL text: it knows nothing of pgscope but its errors.',
    ),
    floor(
      'db-below-the-rest',
      '^src/db/',
      '^src/(http|schema|advisor|actions|review|embedded|demo)/',
      'db/ reads the catalog and statistics; it never reaches up.',
    ),
    floor(
      'review-below-advisor-and-actions',
      '^src/review/',
      '^src/(http|schema|advisor|actions|embedded|demo)/',
      'review/ turns rows into findings and sentences.',
    ),
    floor(
      'advisor-below-schema',
      '^src/advisor/',
      '^src/(http|schema|embedded|demo)/',
      'The advisor is called by resolvers and applied through actions/.',
    ),
    floor(
      'actions-below-schema',
      '^src/actions/',
      '^src/(http|schema|advisor|embedded|demo)/',
      'actions/ changes the database; the advisor uses its planner, not the reverse.',
    ),
    floor('schema-below-http', '^src/schema/', '^src/(http|embedded|demo)/', 'Resolvers never know how the request arrived.'),
    floor(
      'config-is-a-floor',
      '^src/(config|errors|progress)\\.ts$',
      '^src/(?!config\\.ts$|errors\\.ts$|progress\\.ts$)',
      'Everything reads config, errors and progress; they read nothing of ours but each other.',
    ),
    floor(
      'only-pool-imports-pg',
      '^src/(?!db/pool\\.ts$)',
      '^node_modules/pg/',
      'One tuned pool: src/db/pool.ts is the only importer of pg.',
    ),
    floor(
      'cli-is-a-client',
      '^src/cli/',
      '^src/(?!cli/)',
      'The pgscope CLI talks to a running pgscope over HTTP only: it shares no module with the server.',
    ),
    floor('server-never-imports-cli', '^src/(?!cli/)', '^src/cli/', 'The server does not depend on its command line.'),
    floor('src-never-imports-tests', '^src/', '^(test|bench|scripts)/', 'The server ships without its tests and benchmarks.'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
