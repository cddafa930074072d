// PgHero's cases (ankane/pghero test/best_index_test.rb, suggested_indexes_test.rb).
import type { PeerGroup } from './peerCase.js';

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
