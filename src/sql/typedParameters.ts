// pg_stat_statements replaces the string of a typed literal by a parameter: interval '30 days'
// becomes interval $2, date '2026-01-01' becomes date $3. libpg-query's parser accepts that (it is
// patched for normalized texts), PostgreSQL does not: EXPLAIN fails with a syntax error (42601).
// Written as a cast, $2::interval, the statement plans as the original did. Found with the lexer,
// so that strings, comments and quoted identifiers are never touched.
import { loadModule, scanSync, type ScanToken } from 'libpg-query';

/** Type names the grammar reserves as keywords; any other type name is an identifier. */
const TYPE_KEYWORDS = new Set([
  'interval',
  'timestamp',
  'time',
  'int',
  'integer',
  'smallint',
  'bigint',
  'numeric',
  'decimal',
  'dec',
  'real',
  'float',
  'boolean',
  'char',
  'character',
  'varchar',
  'bit',
]);

let loaded: Promise<void> | undefined;
const lexerReady = () => (loaded ??= loadModule());

/** `type $n` (a typed literal whose string became a parameter) rewritten as `$n::type`; anything else unchanged. */
export async function castTypedParameters(text: string): Promise<string> {
  if (!/\$\d/.test(text)) return text;
  await lexerReady();
  let tokens: ScanToken[];
  try {
    tokens = scanSync(text).tokens;
  } catch {
    return text;
  }
  const bytes = Buffer.from(text, 'utf8');
  const source = (token: ScanToken | undefined) => (token ? bytes.subarray(token.start, token.end).toString('utf8') : '');
  let result = '';
  let at = 0;
  tokens.forEach((token, i) => {
    if (token.tokenName !== 'PARAM') return;
    const start = typeNameStart(tokens, i, source);
    if (start === null) return;
    const type = bytes.subarray(tokens[start]!.start, tokens[i - 1]!.end).toString('utf8');
    result += `${bytes.subarray(at, tokens[start]!.start).toString('utf8')}${source(token)}::${type}`;
    at = token.end;
  });
  return at === 0 ? text : result + bytes.subarray(at).toString('utf8');
}

/** Index of the first token of the type name right before the parameter at `i`, or null. */
function typeNameStart(tokens: ScanToken[], i: number, source: (token: ScanToken | undefined) => string): number | null {
  const word = (k: number) => source(tokens[k]).toLowerCase();
  const previous = tokens[i - 1];
  if (!previous) return null;
  if (previous.tokenName === 'IDENT') {
    // a schema-qualified type: pg_catalog.date $1
    return source(tokens[i - 2]) === '.' && tokens[i - 3]?.tokenName === 'IDENT' ? i - 3 : i - 1;
  }
  if (previous.tokenName !== 'UNKNOWN') return null;
  if (TYPE_KEYWORDS.has(word(i - 1))) return i - 1;
  // timestamp with time zone $1, time without time zone $1
  if (
    word(i - 1) === 'zone' &&
    word(i - 2) === 'time' &&
    ['with', 'without'].includes(word(i - 3)) &&
    ['timestamp', 'time'].includes(word(i - 4))
  )
    return i - 4;
  return null;
}
