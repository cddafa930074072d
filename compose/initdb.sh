#!/bin/sh
# Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d): the
# reference workload's tables and data (demo/, at DEMO_SCALE), pg_stat_statements, and the role
# pgscope connects as, with the privileges the README asks for ("Point it at your own database").
set -eu
run() { psql -v ON_ERROR_STOP=1 --no-psqlrc -U "$POSTGRES_USER" -d "$POSTGRES_DB" "$@"; }

run -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'
# the application's tables belong to app_owner, as an application's would
run -c 'CREATE ROLE app_owner NOLOGIN' -c 'GRANT CREATE ON SCHEMA public TO app_owner'
# (data.sql's VACUUM warns about every catalog app_owner does not own: only errors are shown)
run -q -v scale="${DEMO_SCALE:-0.1}" -c 'SET client_min_messages = error' -c 'SET ROLE app_owner' \
  -f /demo/schema.sql -f /demo/data.sql -f /demo/planted_index_problems.sql
run -c 'VACUUM ANALYZE'
run -v password="${PGSCOPE_PASSWORD:?}" -v database="$POSTGRES_DB" <<'SQL'
CREATE ROLE pgscope LOGIN PASSWORD :'password';
GRANT pg_monitor, pg_read_all_data TO pgscope;
GRANT CREATE ON DATABASE :"database" TO pgscope;
-- the index and partition mutations act as the tables' owner
GRANT app_owner TO pgscope;
SQL
