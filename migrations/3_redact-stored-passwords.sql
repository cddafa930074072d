-- Statement texts captured before pgscope redacted passwords: pg_stat_statements keeps utility
-- statements as sent, so "ALTER ROLE app PASSWORD 'secret'" was stored in clear, readable by
-- pg_monitor and kept across pg_stat_statements resets. Captures now redact such texts before
-- they are written (src/sql/redact.ts); this scrubs what is already stored, with the same test
-- (the text mentions a password) and a coarser mask: every quoted string becomes '***', and
-- everything from a dollar quote ($$ or $tag$, not a $1 parameter) to the end becomes '***'.
UPDATE pgscope.query_stats_text
SET query = regexp_replace(
  regexp_replace(query, $re$\$([[:alpha:]_][[:alnum:]_]*)?\$.*$re$, '***'),
  $re$'(''|[^'])*('|$)$re$,
  '''***''',
  'g'
)
WHERE query ~* 'pass(word|wd)';
