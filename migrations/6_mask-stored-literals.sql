-- Statement texts stored before pgscope masked every constant: pg_stat_statements keeps utility
-- statements as sent (SET app.token = '...', DECLARE ... WHERE card = '4111...', CREATE TABLE AS,
-- COPY ... TO '/path', DO bodies, CALL, ALTER SYSTEM), and migration 3 scrubbed only texts that
-- mention a password. Captures now mask every text before it is written (src/sql/redact.ts), and
-- pgscope masks texts again when it reads them; this scrubs what is stored, for those who read the
-- table directly (pg_monitor). A coarser mask than the lexer's, erring towards masking more: from a
-- dollar quote ($$ or $tag$, not a $1 parameter) to the end, then every quoted string (E'' with its
-- backslash escapes), then every number that no name or parameter holds, each becomes '***'.
UPDATE pgscope.query_stats_text
SET query = regexp_replace(
  regexp_replace(
    regexp_replace(query, $re$\$([[:alpha:]_][[:alnum:]_]*)?\$.*$re$, $$'***'$$),
    $re$\m[eE]'(\\.|''|[^'\\])*('|$)|'(''|[^'])*('|$)$re$,
    $$'***'$$,
    'g'
  ),
  $re$(?<![[:alnum:]_$])\.?[0-9][0-9.]*([eE][+-]?[0-9]+)?$re$,
  $$'***'$$,
  'g'
)
WHERE query ~ $re$['$0-9]$re$;
