// Statement texts are data. pg_stat_statements replaces the constants of plannable statements by
// $1, $2..., but keeps utility statements as sent: "ALTER ROLE app PASSWORD 'secret'" stays in
// clear in the view, in pgscope's history and in pg_stat_activity. Live texts (pg_stat_activity)
// are never normalized and carry whatever the application sent (card numbers, e-mail addresses).
//
// Constants are found with PostgreSQL's own lexer (libpg-query's scan), which also reads texts
// that do not parse: cut at track_activity_query_size, or with a syntax error. libpg-query's
// normalize() was the first choice but leaves the constants of some utility statements
// (COPY ... FROM '/path', ALTER SERVER ... OPTIONS (password '...')) and, for an unterminated
// string, returns the parser's message as if it were the normalized text. When even the lexer
// fails (an unterminated quote or comment), a conservative pattern masks every string and number.
import { loadModule, scanSync, type ScanToken } from 'libpg-query';

/**
 * Texts that mention a password: the statement sets or passes one (ALTER/CREATE ROLE ... PASSWORD,
 * USER MAPPING options, connection strings with password=). All their constants are masked, always.
 */
export const SECRET_HINT = /pass(word|wd)/i;

const CONSTANT_TOKENS = new Set(['SCONST', 'ICONST', 'FCONST', 'BCONST', 'XCONST', 'USCONST']);
/** libpg-query names bit-string, hex and Unicode-escape strings UNKNOWN: tell them by their prefix. */
const PREFIXED_STRING = /^(?:[bx]|u&)'/i;

let loaded: Promise<void> | undefined;
/** The WASM module loads once, on first use (scanSync needs it loaded). */
const lexerReady = () => (loaded ??= loadModule());

/** A text from pg_stat_statements or pgscope's history: unchanged unless it mentions a password. */
export async function redactSecrets(text: string): Promise<string> {
  return SECRET_HINT.test(text) ? maskLiterals(text) : text;
}

/** A text as an application sent it (pg_stat_activity): constants masked unless asked to show them; passwords never shown. */
export async function redactLiveText(text: string, showLiterals: boolean): Promise<string> {
  return showLiterals ? redactSecrets(text) : maskLiterals(text);
}

/** Every constant replaced by $n, numbered after the parameters the text already has, like pg_stat_statements does. */
export async function maskLiterals(text: string): Promise<string> {
  await lexerReady();
  let tokens: ScanToken[];
  try {
    tokens = scanSync(text).tokens;
  } catch {
    return maskByPattern(text);
  }
  // Token offsets count UTF-8 bytes.
  const bytes = Buffer.from(text, 'utf8');
  const source = (token: ScanToken) => bytes.subarray(token.start, token.end).toString('utf8');
  const placeholder = numbering(tokens.filter((token) => token.tokenName === 'PARAM').map(source));
  let result = '';
  let at = 0;
  for (const token of tokens) {
    if (!CONSTANT_TOKENS.has(token.tokenName) && !(token.tokenName === 'UNKNOWN' && PREFIXED_STRING.test(source(token)))) continue;
    result += bytes.subarray(at, token.start).toString('utf8') + placeholder();
    at = token.end;
  }
  return result + bytes.subarray(at).toString('utf8');
}

/**
 * For texts the lexer rejects. Left to right, quoted identifiers and comments are kept; strings
 * (with their E, B, X, N, U& prefixes), dollar-quoted strings and numbers are masked, and an
 * unterminated string or dollar quote is masked to the end of the text.
 */
const FALLBACK_PATTERN = new RegExp(
  [
    /(?<keep>"(?:[^"]|"")*"?|--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))/.source,
    /(?:\b(?:[ebxn]|u&))?'(?:[^'\\]|''|\\[\s\S])*(?:'|$)/.source,
    /\$(?<tag>[a-z_][a-z_0-9]*)?\$[\s\S]*?(?:\$\k<tag>\$|$)/.source,
    /(?<![\w$.])(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?/.source,
  ].join('|'),
  'gi',
);

export function maskByPattern(text: string): string {
  // Masked first, numbered after: a "$4111..." inside a string must not count as a parameter.
  const masked = text.replace(FALLBACK_PATTERN, (match: string, keep: string | undefined) => (keep !== undefined ? match : MASK));
  const placeholder = numbering(masked.match(/(?<![\w$])\$\d+/g) ?? []);
  return masked.replaceAll(MASK, placeholder);
}

const MASK = '\u0000';

/** Placeholders continue after the highest parameter ($n) the text already has, so none is mistaken for another. */
function numbering(parameters: string[]): () => string {
  // A parameter number is at most 65535 (the protocol's limit): anything larger is not one.
  let next = Math.max(0, ...parameters.map((parameter) => Number(parameter.slice(1))).filter((n) => n <= 65_535)) + 1;
  return () => `$${next++}`;
}
