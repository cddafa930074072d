// The peer corpus (issue 14): cases from the test suites of three public index advisors, Dexter
// (ankane/dexter: test/statement_test.rb, dexter_test.rb, input_test.rb, batching_test.rb), PgHero
// (ankane/pghero: test/best_index_test.rb, suggested_indexes_test.rb) and supabase index_advisor
// (supabase/index_advisor: test/sql/*.sql), restated in our words: the schema and data, the
// statements, the index an expert would create (or none) and why. Tests about options, input
// formats, printing and installation are left out; tests whose statement is the same once
// pg_stat_statements has replaced the constants by $n are one case here (noted in `peer`).
//
// The expert sees what pgscope sees: the statements as pg_stat_statements shows them (constants
// replaced by $n) and the data through pg_stats. Where the peer's answer is not what such an expert
// would do, `peer` says what the peer answers and `why` says why the expectation differs.
//
// Every case has its own tables (a copy of its group's seed, `{p}` in the SQL is the case's prefix),
// so that its recommendations are its own. The seeds are the peers' tables, with more distinct
// values where the peer's (5,000 users, 30 login attempt values, 10 user ids) would make a
// sequential scan win every lookup: there the question "which index" would have no answer.

/** A case: statements run on its own tables; the answer is every index recommended on them. */
export interface PeerCase {
  /** The peer's test name (Dexter's and PgHero's test_ methods, supabase's test file). */
  name: string;
  /** CREATE statements for the case's tables, `{p}` for its prefix; ANALYZE included. */
  setup: string;
  /** The workload, each statement run three times; `[text, parameters]` for bind parameters. */
  statements: Array<string | [string, unknown[]]>;
  /** The expert's indexes, as `table (key, key DESC)`, `table USING gin (key opclass)`; [] for none. */
  expected: string[];
  /** Other answers an expert would give as well (the same plans, or as good on this data). */
  alsoAccepted?: string[][];
  why: string;
  /** The peer's answer, when it is not the expert's. */
  peer?: string;
}

export interface PeerGroup {
  peer: 'Dexter' | 'PgHero' | 'supabase';
  /** Loaded once into the group's database (its name and URL given); the cases copy from it. */
  seed(database: { name: string; url: string }): string;
  cases: PeerCase[];
}

// Dexter's posts: 20,000 rows (Dexter has 100,000 with 10 user ids and 1,000 blogs; 500 user ids
// here, so that one user's posts are 0.2 % of the table and an index on user_id pays).
const postsSeed = (database: { name: string; url: string }) => /* SQL */ `
  CREATE EXTENSION IF NOT EXISTS hstore;
  ${loopbackServer(database)};
  CREATE TABLE dexter_posts AS
  SELECT n AS id, n % 1000 AS blog_id, n % 500 AS user_id, NULL::json AS json, NULL::jsonb AS jsonb,
    NULL::hstore AS hstore, n AS indexed
  FROM generate_series(1, 20000) n;
  CREATE TABLE dexter_foo AS SELECT n AS "Id" FROM generate_series(1, 20000) n;
  CREATE TABLE dexter_wide AS
  SELECT ${Array.from({ length: 100 }, (_, i) => `n AS c${String(i).padStart(2, '0')}`).join(', ')}
  FROM generate_series(1, 10000) n`;

/** A foreign server that is this database again (Dexter's foreign table points at a server of its own). */
function loopbackServer({ name, url }: { name: string; url: string }): string {
  const { hostname, port, username, password } = new URL(url);
  const option = (key: string, value: string) => (value ? [`${key} '${decodeURIComponent(value).replaceAll("'", "''")}'`] : []);
  const server = [...option('host', hostname), ...option('port', port), ...option('dbname', name)].join(', ');
  const user = [...option('user', username), ...option('password', password)].join(', ');
  return /* SQL */ `
    CREATE EXTENSION IF NOT EXISTS postgres_fdw;
    CREATE SERVER peers_loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (${server});
    CREATE USER MAPPING FOR CURRENT_USER SERVER peers_loopback${user ? ` OPTIONS (${user})` : ''}`;
}

const posts = '{p}posts';
const POSTS = `CREATE TABLE ${posts} AS TABLE dexter_posts; ANALYZE ${posts}`;

export const DEXTER: PeerGroup = {
  peer: 'Dexter',
  seed: postsSeed,
  cases: [
    {
      name: 'basic_index',
      setup: POSTS,
      statements: [`SELECT * FROM ${posts} WHERE id = 1`],
      expected: ['posts (id)'],
      why: 'one row of 20,000 by an unindexed column',
    },
    {
      name: 'basic_no_index',
      setup: POSTS,
      statements: [`SELECT * FROM ${posts}`],
      expected: [],
      why: 'the whole table is read: nothing to search',
    },
    {
      name: 'multicolumn_order',
      setup: POSTS,
      statements: [`SELECT * FROM ${posts} WHERE user_id = 1 ORDER BY blog_id LIMIT 1000`],
      expected: ['posts (user_id, blog_id)'],
      alsoAccepted: [['posts (user_id)']],
      why: 'equality then the sort key: the rows come in order; one user has 40 posts, so the sort the composite spares is small',
    },
    {
      name: 'update',
      setup: POSTS,
      statements: [`UPDATE ${posts} SET user_id = 2 WHERE user_id = 1`],
      expected: ['posts (user_id)'],
      why: 'an UPDATE finds its rows as a SELECT does',
    },
    {
      name: 'delete',
      setup: POSTS,
      statements: [`DELETE FROM ${posts} WHERE user_id = 1`],
      expected: ['posts (user_id)'],
      why: 'a DELETE finds its rows as a SELECT does',
    },
    {
      name: 'view',
      setup: `${POSTS}; CREATE VIEW {p}posts_view AS SELECT id AS view_id FROM ${posts}`,
      statements: ['SELECT * FROM {p}posts_view WHERE view_id = 1'],
      expected: ['posts (id)'],
      why: "a view's renamed column is the table's column",
    },
    {
      name: 'materialized_view',
      setup: `${POSTS}; CREATE MATERIALIZED VIEW {p}posts_materialized AS SELECT * FROM ${posts}; ANALYZE {p}posts_materialized`,
      statements: ['SELECT * FROM {p}posts_materialized WHERE id = 1'],
      expected: ['posts_materialized (id)'],
      why: 'a materialized view is stored: the index goes on it',
    },
    {
      name: 'cte',
      setup: POSTS,
      statements: [`WITH cte AS (SELECT * FROM ${posts} WHERE id = 1) SELECT * FROM cte`],
      expected: ['posts (id)'],
      why: "the CTE's own WHERE",
    },
    {
      name: 'cte_fence',
      setup: POSTS,
      statements: [`WITH cte AS (SELECT * FROM ${posts}) SELECT * FROM cte WHERE id = 1`],
      expected: ['posts (id)'],
      why: 'PostgreSQL 12+ inlines a CTE referenced once: the outer WHERE reaches the table',
    },
    {
      name: 'materialized_cte',
      setup: POSTS,
      statements: [`WITH cte AS MATERIALIZED (SELECT * FROM ${posts}) SELECT * FROM cte WHERE id = 1`],
      expected: [],
      why: 'a MATERIALIZED CTE reads the whole table; the outer WHERE filters its result',
    },
    {
      name: 'not_materialized_cte',
      setup: POSTS,
      statements: [`WITH cte AS NOT MATERIALIZED (SELECT * FROM ${posts}) SELECT * FROM cte WHERE id = 1`],
      expected: ['posts (id)'],
      why: 'NOT MATERIALIZED inlines the CTE',
    },
    {
      name: 'order',
      setup: POSTS,
      statements: [`SELECT * FROM ${posts} ORDER BY user_id DESC LIMIT 10`],
      expected: ['posts (user_id)'],
      alsoAccepted: [['posts (user_id DESC)']],
      why: 'the first 10 in order: a B-tree read backwards serves DESC as well',
    },
    {
      name: 'order_multiple',
      setup: POSTS,
      statements: [`SELECT * FROM ${posts} ORDER BY user_id, blog_id LIMIT 10`],
      expected: ['posts (user_id, blog_id)'],
      why: 'both sort keys, in order, under a LIMIT',
    },
    {
      name: 'order_multiple_direction',
      setup: POSTS,
      statements: [`SELECT * FROM ${posts} ORDER BY user_id DESC, blog_id LIMIT 10`],
      expected: ['posts (user_id DESC, blog_id)'],
      alsoAccepted: [['posts (user_id, blog_id DESC)']],
      why: 'mixed directions need them in the index (or all reversed: the index read backwards)',
      peer: 'Dexter skips this test: it cannot give directions',
    },
    {
      name: 'schema',
      setup: 'CREATE SCHEMA "{p}Bar"; CREATE TABLE "{p}Bar"."Foo" AS TABLE dexter_foo; ANALYZE "{p}Bar"."Foo"',
      statements: ['SELECT * FROM "{p}Bar"."Foo" WHERE "Id" = 10000'],
      expected: ['Bar.Foo (Id)'],
      why: 'quoted mixed-case schema, table and column names',
    },
    {
      name: 'normalized',
      setup: POSTS,
      statements: [[`SELECT * FROM ${posts} WHERE id = $1`, [1]]],
      expected: ['posts (id)'],
      why: 'a bind parameter, as pg_stat_statements shows every constant',
    },
    {
      name: 'no_tables',
      setup: '',
      statements: ['SELECT 1'],
      expected: [],
      why: 'no table',
    },
    {
      name: 'indexed',
      setup: `${POSTS}; CREATE INDEX ON ${posts} (indexed)`,
      statements: [`SELECT * FROM ${posts} WHERE indexed = 1`],
      expected: [],
      why: 'an index on the column exists',
    },
    {
      name: 'foreign_table',
      setup: `${POSTS}; CREATE TABLE {p}comments_here (post_id int); CREATE FOREIGN TABLE {p}comments (post_id int) SERVER peers_loopback OPTIONS (table_name '{p}comments_here')`,
      statements: ['SELECT * FROM {p}comments WHERE post_id = 1'],
      expected: [],
      why: 'a foreign table has its indexes on the remote server',
    },
    {
      name: 'multiple_statements',
      setup: POSTS,
      statements: [`SELECT * FROM ${posts} WHERE id = 1`, `SELECT * FROM ${posts} WHERE user_id = 1`],
      expected: ['posts (id)', 'posts (user_id)'],
      why: 'two lookups by two different columns',
    },
    {
      name: 'many_columns',
      setup: 'CREATE TABLE {p}t AS TABLE dexter_wide; ANALYZE {p}t',
      statements: [`SELECT * FROM {p}t WHERE ${Array.from({ length: 100 }, (_, i) => `c${String(i).padStart(2, '0')} = 1`).join(' AND ')}`],
      expected: ['t (c00)'],
      alsoAccepted: Array.from({ length: 99 }, (_, i) => [`t (c${String(i + 1).padStart(2, '0')})`]),
      why: 'each of the 100 columns alone finds the row: one single-column index on any of them',
    },
    {
      name: 'pg_stat_statements',
      setup: `${POSTS}; CREATE MATERIALIZED VIEW {p}posts_materialized AS SELECT * FROM ${posts}`,
      statements: [`SELECT * FROM ${posts} WHERE id = 1`, 'REFRESH MATERIALIZED VIEW {p}posts_materialized'],
      expected: ['posts (id)'],
      why: 'a utility statement in the workload asks for nothing',
    },
    {
      name: 'column_resolution',
      setup: POSTS,
      statements: [`SELECT id, blog_id FROM ${posts}`],
      expected: [],
      why: 'every row is read; Dexter notes it should try no index at all',
    },
    {
      name: 'column_resolution_view',
      setup: `${POSTS}; CREATE VIEW {p}posts_view AS SELECT id AS view_id FROM ${posts}`,
      statements: ['SELECT view_id FROM {p}posts_view WHERE view_id = 1'],
      expected: ['posts (id)'],
      why: 'through the view, the one column it renames',
    },
  ],
};

// PgHero's users: 20,000 rows (PgHero has 5,000 with 100 cities and 30 login attempt values, and one
// zip code in 40 null: at that size every such lookup reads most pages and a sequential scan wins).
// Here 500 cities (40 users each), 250 login attempt values (80 each), one zip code in 400 null;
// columns independent of each other (hashint4), created_at and updated_at falling with id.
const USERS_SEED = /* SQL */ `
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  CREATE EXTENSION IF NOT EXISTS ltree;
  CREATE TABLE pghero_users AS
  SELECT
    i AS id,
    i % 500 AS city_id,
    abs(hashint4(i)) % 250 AS login_attempts,
    'person' || i || '@example.org' AS email,
    CASE WHEN i % 400 = 0 THEN NULL ELSE '12345' END AS zip_code,
    true AS active,
    'Test ' || abs(hashint4(i + 1)) % 1000 AS country,
    ('path' || abs(hashint4(i + 2)) % 1000)::ltree AS path,
    int4range(abs(hashint4(i + 3)) % 1000, abs(hashint4(i + 3)) % 1000 + i % 5, '[]') AS range,
    to_tsvector('simple', 'person ' || i) AS ts_description,
    ('10.' || i / 65536 || '.' || i / 256 % 256 || '.' || i % 256)::inet AS last_known_ip,
    '{"favorite_color": "red"}'::jsonb AS metadata,
    timestamp '2026-01-01' - i * interval '1 second' AS created_at,
    timestamp '2026-01-01' - i * interval '1 second' AS updated_at
  FROM generate_series(1, 20000) i;
  CREATE TABLE pghero_cities AS SELECT i AS id, 'City ' || i AS name FROM generate_series(0, 499) i;
  CREATE TABLE pghero_states AS SELECT i AS id, 'State ' || i AS name FROM generate_series(0, 49) i`;

const users = '{p}users';
const CORE_COLUMNS = 'id, city_id, login_attempts, email, zip_code, active, country, created_at, updated_at';
/** The users table with PgHero's columns the case reads, one of PgHero's existing indexes if given. */
const usersWith = (index: string | null, column: string | null = null) => /* SQL */ `
  CREATE TABLE ${users} AS SELECT ${CORE_COLUMNS}${column ? `, ${column}` : ''} FROM pghero_users;
  ALTER TABLE ${users} ADD PRIMARY KEY (id);
  ${index ? `CREATE INDEX ON ${users} ${index};` : ''}
  ANALYZE ${users}`;
const USERS = usersWith(null);
const TRIGRAM = 'users USING gin (email gin_trgm_ops)';
const PATTERN_ANSWERS = [[TRIGRAM], ['users (email text_pattern_ops)'], ['users (email)']];

export const PGHERO: PeerGroup = {
  peer: 'PgHero',
  seed: () => USERS_SEED,
  cases: [
    {
      name: 'where (and where_normalized)',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE city_id = 1`],
      expected: ['users (city_id)'],
      why: "one city's 40 users",
    },
    {
      name: 'where_multiple_columns',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE city_id = 1 and login_attempts = 2`],
      expected: ['users (city_id, login_attempts)'],
      alsoAccepted: [['users (login_attempts, city_id)']],
      why: 'two equalities: both in the index leave no row to filter',
    },
    {
      name: 'where_unique',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE city_id = 1 AND email = 'person2@example.org'`],
      expected: ['users (email)'],
      why: 'the email alone finds the one row: the city adds nothing',
    },
    {
      name: 'order',
      setup: usersWith('USING brin (created_at)'),
      statements: [`SELECT * FROM ${users} ORDER BY created_at`],
      expected: ['users (created_at)'],
      why: 'created_at follows the physical order (correlation -1): reading it in index order costs about a sequential scan and spares the sort; BRIN gives no order',
    },
    {
      name: 'order_multiple',
      setup: USERS,
      statements: [`SELECT * FROM ${users} ORDER BY login_attempts, created_at`],
      expected: [],
      why: 'every row in an order unrelated to where they lie: a page read per row, sorting is cheaper',
      peer: 'users (login_attempts, created_at)',
    },
    {
      name: 'order_multiple_direction',
      setup: USERS,
      statements: [`SELECT * FROM ${users} ORDER BY login_attempts DESC, created_at`],
      expected: [],
      why: 'every row in an order unrelated to where they lie: sorting is cheaper',
      peer: 'users (login_attempts)',
    },
    {
      name: 'order_multiple_unique',
      setup: USERS,
      statements: [`SELECT * FROM ${users} ORDER BY id, created_at`],
      expected: [],
      why: 'the primary key gives the order (PgHero names id, which is the primary key)',
    },
    {
      name: 'where_unique_order',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE email = 'person2@example.org' ORDER BY created_at`],
      expected: ['users (email)'],
      why: 'one row: nothing to sort',
    },
    {
      name: 'where_order (and all_values)',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE login_attempts = 1 ORDER BY created_at`],
      expected: ['users (login_attempts, created_at)'],
      alsoAccepted: [['users (login_attempts)']],
      why: 'equality then the sort key; sorting 80 rows costs little, so the equality alone is as good',
    },
    {
      name: 'where_order_unknown',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE login_attempts = 1 ORDER BY NOW()`],
      expected: ['users (login_attempts)'],
      why: 'ORDER BY a constant expression orders nothing',
    },
    {
      name: 'where_in',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE city_id IN (1, 2)`],
      expected: ['users (city_id)'],
      why: 'IN is several equalities',
    },
    {
      name: 'like',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE email LIKE 'person12%'`],
      expected: [TRIGRAM],
      alsoAccepted: PATTERN_ANSWERS,
      why: 'LIKE $1: the pattern is unknown; a trigram GIN serves any, a pattern B-tree serves prefixes',
    },
    {
      name: 'like_where',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE city_id = 1 AND email LIKE 'person1%'`],
      expected: ['users (city_id)'],
      why: 'the city finds 40 rows; the pattern filters them',
    },
    {
      name: 'like_where2',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE email LIKE 'person12%' AND active = true`],
      expected: [TRIGRAM],
      alsoAccepted: PATTERN_ANSWERS,
      why: 'every user is active: only the pattern selects',
    },
    {
      name: 'ilike',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE email ILIKE '%ERSON12%'`],
      expected: [TRIGRAM],
      why: 'ILIKE: no B-tree serves it, a trigram GIN does',
    },
    {
      name: 'not_equals',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE city_id != 1 and login_attempts = 2`],
      expected: ['users (login_attempts)'],
      why: '<> selects nearly everything: only the equality searches',
    },
    {
      name: 'not_in',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE city_id NOT IN (1) and login_attempts = 2`],
      expected: ['users (login_attempts)'],
      why: 'NOT IN selects nearly everything: only the equality searches',
    },
    {
      name: 'between',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE city_id BETWEEN 1 AND 2`],
      expected: ['users (city_id)'],
      why: 'BETWEEN is two bounds of one range',
    },
    {
      name: 'multiple_range',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE city_id > 490 and login_attempts > 240`],
      expected: [],
      why: 'two ranges of unknown width ($1, $2): a third of the table each, as far as anyone can tell from the statement',
      peer: 'users (city_id)',
    },
    {
      name: 'where_prepared',
      setup: USERS,
      statements: [[`SELECT * FROM ${users} WHERE city_id = $1`, [1]]],
      expected: ['users (city_id)'],
      why: 'a bind parameter',
    },
    {
      name: 'is_null',
      setup: usersWith('USING hash (zip_code)'),
      statements: [`SELECT * FROM ${users} WHERE zip_code IS NULL`],
      expected: ['users (zip_code)'],
      alsoAccepted: [['users (zip_code) WHERE zip_code IS NULL'], ['users (id) WHERE zip_code IS NULL']],
      why: '50 null zip codes; the hash index cannot find nulls',
    },
    {
      name: 'is_null_equal',
      setup: usersWith('USING hash (zip_code)'),
      statements: [`SELECT * FROM ${users} WHERE zip_code IS NULL AND login_attempts = 1`],
      expected: ['users (zip_code, login_attempts)'],
      alsoAccepted: [['users (login_attempts, zip_code)'], ['users (login_attempts)'], ['users (login_attempts) WHERE zip_code IS NULL']],
      why: 'both conditions are searchable; the equality alone already leaves 80 rows',
    },
    {
      name: 'is_not_null',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE zip_code IS NOT NULL AND login_attempts = 2`],
      expected: ['users (login_attempts)'],
      why: 'IS NOT NULL is nearly every row: only the equality searches',
    },
    {
      name: 'update',
      setup: USERS,
      statements: [`UPDATE ${users} SET email = 'test' WHERE city_id = 1`],
      expected: ['users (city_id)'],
      why: 'an UPDATE finds its rows as a SELECT does',
    },
    {
      name: 'delete',
      setup: USERS,
      statements: [`DELETE FROM ${users} WHERE city_id = 1`],
      expected: ['users (city_id)'],
      why: 'a DELETE finds its rows as a SELECT does',
    },
    {
      name: 'unknown_structure',
      setup: '',
      statements: ['SELECT NOW()'],
      expected: [],
      why: 'no table',
    },
    {
      name: 'where_or',
      setup: USERS,
      statements: [`SELECT FROM ${users} WHERE login_attempts = 0 OR login_attempts = 1`],
      expected: ['users (login_attempts)'],
      why: 'both branches search one column: one index serves the OR (a BitmapOr, or = ANY on PostgreSQL 18)',
      peer: 'no index (PgHero does not read OR)',
    },
    {
      name: 'where_nested_or',
      setup: USERS,
      statements: [`SELECT FROM ${users} WHERE city_id = 1 AND (login_attempts = 0 OR login_attempts = 1)`],
      expected: ['users (city_id)'],
      alsoAccepted: [['users (city_id, login_attempts)']],
      why: 'the city equality alone finds 40 rows; the OR filters them (or, as = ANY, searches the second key of a composite)',
      peer: 'no index (PgHero does not read OR)',
    },
    {
      name: 'multiple_tables',
      setup: `${USERS}; CREATE TABLE {p}cities AS TABLE pghero_cities; ALTER TABLE {p}cities ADD PRIMARY KEY (id); ANALYZE {p}cities`,
      statements: [`SELECT * FROM ${users} INNER JOIN {p}cities ON {p}cities.id = ${users}.city_id`],
      expected: [],
      why: 'every user with their city: a hash join of both tables, no index shortens it',
    },
    {
      name: 'no_columns',
      setup: USERS,
      statements: [`SELECT * FROM ${users}`],
      expected: [],
      why: 'the whole table',
    },
    {
      name: 'small_table',
      setup: 'CREATE TABLE {p}states AS TABLE pghero_states; ANALYZE {p}states',
      statements: ["SELECT * FROM {p}states WHERE name = 'State 1'"],
      expected: [],
      why: '50 rows on one page: a sequential scan is as fast',
    },
    {
      name: 'system_table',
      setup: '',
      statements: ["SELECT COUNT(*) AS count FROM pg_extension WHERE extname = 'plpgsql'"],
      expected: [],
      why: 'system catalogs are not ours to index',
    },
    {
      name: 'insert',
      setup: `${USERS}; CREATE SEQUENCE {p}user_ids START 100001`,
      statements: [`INSERT INTO ${users} (id, login_attempts) VALUES (nextval('{p}user_ids'), 1)`],
      expected: [],
      why: 'an INSERT searches nothing',
    },
    {
      name: 'set',
      setup: '',
      statements: ["set client_encoding to 'UTF8'"],
      expected: [],
      why: 'a utility statement',
    },
    // suggested_indexes_test.rb: whether an existing index already serves the statement
    {
      name: 'basic (suggested_indexes)',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE email = 'person1@example.org' LIMIT 1`],
      expected: ['users (email)'],
      why: 'one row by an unindexed column',
    },
    {
      name: 'existing_index',
      setup: usersWith('(updated_at)'),
      statements: [`SELECT * FROM ${users} WHERE updated_at > now()`],
      expected: [],
      why: 'the B-tree on updated_at serves the range',
    },
    {
      name: 'suggested_index_for_primary_key_equality',
      setup: USERS,
      statements: [`SELECT * FROM ${users} WHERE id = 1`],
      expected: [],
      why: 'the primary key serves it',
    },
    {
      name: 'suggested_index_for_hash_index_equality',
      setup: usersWith('USING hash (zip_code)'),
      statements: [`SELECT * FROM ${users} WHERE zip_code = '90210'`],
      expected: [],
      why: 'a hash index serves =',
    },
    {
      name: 'suggested_index_for_hash_index_equality_multiple_values',
      setup: usersWith('USING hash (zip_code)'),
      statements: [`SELECT * FROM ${users} WHERE zip_code IN ('90210', '99999')`],
      expected: [],
      why: 'a hash index serves = ANY through a bitmap scan',
    },
    {
      name: 'suggested_index_for_hash_index_gt',
      setup: usersWith('USING hash (zip_code)'),
      statements: [`SELECT * FROM ${users} WHERE zip_code > '12345'`],
      expected: [],
      why: 'the hash index cannot serve >, but a range of unknown width over a two-value column is no case for a B-tree either',
    },
    {
      name: 'suggested_index_for_gist_trgm_index_equality',
      setup: usersWith('USING gist (country gist_trgm_ops)'),
      statements: [`SELECT * FROM ${users} WHERE country = 'Test 1'`],
      expected: ['users (country)'],
      why: '20 users per country; the trigram GiST answers = (pg_trgm 1.6) only by rechecking every trigram match, a B-tree goes to them',
    },
    {
      name: 'suggested_index_for_gist_ltree_index_equality',
      setup: usersWith('USING gist (path)', 'path'),
      statements: [`SELECT * FROM ${users} WHERE path = 'path1'`],
      expected: [],
      why: "ltree's GiST operator class serves =",
    },
    {
      name: 'suggested_index_for_gist_range_index_equality',
      setup: usersWith('USING gist (range)', 'range'),
      statements: [`SELECT * FROM ${users} WHERE range = '[1, 3]'`],
      expected: [],
      why: 'the range GiST operator class serves =',
    },
    {
      name: 'suggested_index_for_gist_range_index_at_gt',
      setup: usersWith('USING gist (range)', 'range'),
      statements: [`SELECT * FROM ${users} WHERE range @> '[1, 1]'::int4range`],
      expected: [],
      why: 'the range GiST operator class serves @> as well',
      peer: 'the GiST index does not cover @> (it does: range_ops has it)',
    },
    {
      name: 'suggested_index_for_gist_tsvector_index_equality',
      setup: usersWith('USING gist (ts_description)', 'ts_description'),
      statements: [`SELECT * FROM ${users} WHERE ts_description = strip(ts_description)`],
      expected: [],
      why: 'the column against a function of itself: no index searches that',
    },
    {
      name: 'suggested_index_for_gist_inet_index_equality',
      setup: usersWith('USING gist (last_known_ip inet_ops)', 'last_known_ip'),
      statements: [`SELECT * FROM ${users} WHERE last_known_ip = '10.0.0.1'::inet`],
      expected: [],
      why: 'inet_ops GiST serves =',
    },
    {
      name: 'suggested_index_for_gist_inet_index_gt',
      setup: usersWith('USING gist (last_known_ip inet_ops)', 'last_known_ip'),
      statements: [`SELECT * FROM ${users} WHERE last_known_ip > '10.0.70.0'::inet`],
      expected: [],
      why: 'inet_ops GiST serves > (and the range is of unknown width)',
    },
    {
      name: 'suggested_index_for_brin_index_equality',
      setup: usersWith('USING brin (created_at)'),
      statements: [`SELECT * FROM ${users} WHERE created_at = NOW()`],
      expected: ['users (created_at)'],
      why: 'the BRIN index serves = only a block range at a time: 128 pages, half of this table, where a B-tree reads three',
      peer: 'no index: the BRIN index covers =',
    },
    {
      name: 'suggested_index_for_gin_index_equality',
      setup: usersWith('USING gin (metadata)', 'metadata'),
      statements: [`SELECT * FROM ${users} WHERE metadata = '{}'::jsonb`],
      expected: [],
      why: 'every user has the same metadata: = $1 is every row or none, and no index helps the first',
    },
  ],
};

// supabase's tests run on empty tables (HypoPG on an estimated 0 rows); here each table has rows.
const BOOKS_SEED = /* SQL */ `
  CREATE TABLE supabase_book AS
  SELECT i AS id, 'Title ' || i || ' ' || md5(i::text) AS title, 1 + i % 1000 AS author_id, 1 + abs(hashint4(i)) % 50 AS publisher_id
  FROM generate_series(1, 20000) i;
  CREATE TABLE supabase_review AS
  SELECT i AS id, 1 + abs(hashint4(i)) % 20000 AS book_id, 'review ' || md5(i::text) AS body FROM generate_series(1, 40000) i`;

const book = '{p}book';
const BOOK = `CREATE TABLE ${book} AS SELECT id, title AS name FROM supabase_book; ANALYZE ${book}`;

export const SUPABASE: PeerGroup = {
  peer: 'supabase',
  seed: () => BOOKS_SEED,
  cases: [
    {
      name: 'integration',
      setup: BOOK,
      statements: [[`select * from ${book} where id = $1`, [7]]],
      expected: ['book (id)'],
      why: 'one row by an unindexed column',
    },
    {
      name: 'issue_1',
      setup: `CREATE TABLE ${book} AS SELECT id, json_build_object('id', id) AS meta FROM supabase_book; ANALYZE ${book}`,
      statements: [[`select * from ${book} where id = $1`, [7]]],
      expected: ['book (id)'],
      why: 'a json column (no B-tree operator class) must not stop the advice on another column',
    },
    {
      name: 'multi_index',
      setup: /* SQL */ `
        CREATE TABLE {p}author (id int PRIMARY KEY, name text NOT NULL);
        INSERT INTO {p}author SELECT i, 'Author ' || i FROM generate_series(1, 1000) i;
        CREATE TABLE {p}publisher (id int PRIMARY KEY, name text NOT NULL, corporate_address text);
        INSERT INTO {p}publisher SELECT i, 'Publisher ' || i, NULL FROM generate_series(1, 50) i;
        CREATE TABLE ${book} (
          id int PRIMARY KEY, author_id int NOT NULL REFERENCES {p}author (id),
          publisher_id int NOT NULL REFERENCES {p}publisher (id), title text);
        INSERT INTO ${book} SELECT id, author_id, publisher_id, title FROM supabase_book;
        CREATE TABLE {p}review (id int PRIMARY KEY, book_id int REFERENCES ${book} (id), body text NOT NULL);
        INSERT INTO {p}review SELECT * FROM supabase_review;
        ANALYZE {p}author; ANALYZE {p}publisher; ANALYZE ${book}; ANALYZE {p}review`,
      statements: [
        /* SQL */ `select ${book}.id, ${book}.title, {p}publisher.name as publisher_name, {p}author.name as author_name, {p}review.body review_body
        from ${book}
          join {p}publisher on ${book}.publisher_id = {p}publisher.id
          join {p}author on ${book}.author_id = {p}author.id
          join {p}review on ${book}.id = {p}review.book_id
        where {p}author.id = 7 and {p}publisher.id = 3`,
      ],
      expected: ['book (author_id)', 'review (book_id)'],
      alsoAccepted: [
        ['book (author_id, publisher_id)', 'review (book_id)'],
        ['book (publisher_id, author_id)', 'review (book_id)'],
      ],
      why: "the author's 20 books (author_id = $1 through the join), then their reviews by book_id; the publisher narrows 20 books, an index of its own is not worth it",
      peer: 'book (author_id), book (publisher_id), review (book_id)',
    },
    {
      name: 'postgrest_query',
      setup: "CREATE FUNCTION {p}get_info(x int) RETURNS text LANGUAGE sql AS $$ SELECT 'foo' $$",
      statements: [
        /* SQL */ `WITH pgrst_source AS (SELECT {p}get_info(1) AS pgrst_scalar)
        SELECT pg_catalog.count(_postgrest_t) AS page_total, coalesce(json_agg(_postgrest_t.pgrst_scalar)::text, '[]') AS body
        FROM (SELECT * FROM pgrst_source LIMIT 10 OFFSET 0) _postgrest_t`,
      ],
      expected: [],
      why: 'a PostgREST call of a function reads no table',
    },
    {
      name: 'unknown_parameter_type',
      setup: '',
      statements: ["SELECT concat(schemaname, '.', tablename, '.', policyname) AS policy FROM pg_policies ORDER BY 1 DESC"],
      expected: [],
      why: 'a system view: catalogs are not ours to index',
    },
    {
      name: 'multiple_block_comments',
      setup: BOOK,
      statements: [`select /* first comment */ id /* second comment */ from ${book} where id = 7`],
      expected: ['book (id)'],
      why: 'comments between the words change nothing',
    },
    {
      name: 'semicolon_in_comment_query',
      setup: BOOK,
      statements: [`-- some comment with a semicolon;\nselect * from ${book} where id = 7`],
      expected: ['book (id)'],
      why: 'a semicolon in a comment ends no statement',
    },
    {
      name: 'README',
      setup: `CREATE TABLE ${book} (id int PRIMARY KEY, title text NOT NULL); INSERT INTO ${book} SELECT id, title FROM supabase_book; ANALYZE ${book}`,
      statements: [`select ${book}.id from ${book} where title = 'Title 7'`],
      expected: ['book (title)'],
      alsoAccepted: [['book (title) INCLUDE (id)']],
      why: 'one row by title (INCLUDE (id) makes it an index-only scan, as good)',
    },
  ],
};

export const PEER_GROUPS = [DEXTER, PGHERO, SUPABASE];
