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
