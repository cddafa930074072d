// Dexter's cases (ankane/dexter test/statement_test.rb, dexter_test.rb, input_test.rb, batching_test.rb).
import type { PeerGroup } from './peerCase.js';

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
