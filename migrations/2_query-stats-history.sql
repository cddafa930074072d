-- Query-statistics history: snapshots of pg_stat_statements' cumulative counters, diffed when
-- read. Capturing never resets the view (PgHero's capture does, and its users lose their totals).

-- One row per capture. stats_reset and deallocations come from pg_stat_statements_info
-- (extension 1.9, PostgreSQL 14+; NULL before): a later stats_reset means every entry restarted.
CREATE TABLE pgscope.query_stats_snapshot (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  captured_at timestamptz NOT NULL,
  -- A restored or recreated database gets a new oid and new queryids: its snapshots never mix.
  dbid oid NOT NULL,
  database_name text NOT NULL,
  stats_reset timestamptz,
  deallocations bigint,
  statements integer NOT NULL,
  -- Entries of other roles whose queryid the capturing role could not see (no pg_read_all_stats).
  hidden_statements integer NOT NULL
);

CREATE INDEX query_stats_snapshot_captured_at_idx
  ON pgscope.query_stats_snapshot (dbid, captured_at DESC, id DESC);

-- The counters of every pg_stat_statements entry (statement x role x nesting level) of the
-- database at one snapshot. min/max/stddev are left out: they cannot be differenced.
-- Fixed-width columns first, narrow ones last, to avoid alignment padding on millions of rows.
-- No foreign key: its check would run once per sample (thousands per capture, each one tracked
-- by pg_stat_statements.track = all); the capture writes a snapshot and its samples in one
-- statement, and retention deletes both.
CREATE TABLE pgscope.query_stats_sample (
  snapshot_id bigint NOT NULL,
  queryid bigint NOT NULL,
  calls bigint NOT NULL,
  total_time_ms float8 NOT NULL,
  rows bigint NOT NULL,
  shared_blocks_hit bigint NOT NULL,
  shared_blocks_read bigint NOT NULL,
  temp_blocks_read bigint NOT NULL,
  temp_blocks_written bigint NOT NULL,
  -- NULL while pg_stat_statements.track_planning (resp. track_io_timing) is off.
  planning_time_ms float8,
  block_read_time_ms float8,
  -- Extension 1.11 (PostgreSQL 17+): when this entry started counting.
  stats_since timestamptz,
  userid oid NOT NULL,
  -- Extension 1.9 (PostgreSQL 14+); NULL before, where one entry holds both levels.
  toplevel boolean
);

CREATE INDEX query_stats_sample_snapshot_idx
  ON pgscope.query_stats_sample (snapshot_id, queryid);

-- Each statement's text once, not once per sample. last_seen_at is refreshed at most daily (to
-- spare an update of every row at every capture), so texts outlive retention by up to a day.
CREATE TABLE pgscope.query_stats_text (
  dbid oid NOT NULL,
  queryid bigint NOT NULL,
  query text NOT NULL,
  last_seen_at timestamptz NOT NULL,
  PRIMARY KEY (dbid, queryid)
);

-- pg_monitor members already read every statement and its counters in pg_stat_statements:
-- they may read the history too, so pgscope can serve it through a least-privilege role.
GRANT USAGE ON SCHEMA pgscope TO pg_monitor;
GRANT SELECT ON pgscope.query_stats_snapshot, pgscope.query_stats_sample, pgscope.query_stats_text TO pg_monitor;
