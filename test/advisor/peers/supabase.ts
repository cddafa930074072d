// supabase index_advisor's cases (supabase/index_advisor test/sql/*.sql).
import type { PeerGroup } from './peerCase.js';

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
