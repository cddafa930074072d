// Statement texts are data. pg_stat_statements replaces the constants of plannable statements by
// $1, $2..., but keeps utility statements as sent (PostgreSQL 15: SET app.token = '...', DECLARE
// ... WHERE card = '4111...', CREATE TABLE AS, COPY, DO bodies, CALL, ALTER SYSTEM, COMMENT,
// CREATE VIEW, NOTIFY, ALTER ROLE ... PASSWORD): in clear in the view, in pgscope's history and in
// pg_stat_activity. Live texts (pg_stat_activity) are never normalized and carry whatever the
// application sent (card numbers, e-mail addresses). So every text pgscope returns or stores has
// all its constants masked by maskLiterals, whatever the statement kind; only live texts may show
// them (PGSCOPE_SHOW_QUERY_LITERALS), and never when they mention a password.
//
// Constants are found with PostgreSQL's own lexer (libpg-query's scan), which also reads texts
// that do not parse: cut at track_activity_query_size, or with a syntax error. libpg-query's
// normalize() was the first choice but leaves the constants of some utility statements
// (COPY ... FROM '/path', ALTER SERVER ... OPTIONS (password '...')) and, for an unterminated
// string, returns the parser's message as if it were the normalized text. When even the lexer
// fails (an unterminated quote or comment), a conservative pattern masks every string and number.
import { createHash } from 'node:crypto';
import { loadModule, scanSync, type ScanToken } from 'libpg-query';

/**
 * Texts that mention a password: the statement sets or passes one (ALTER/CREATE ROLE ... PASSWORD,
 * USER MAPPING options, connection strings with password=). Their constants are masked even when
 * PGSCOPE_SHOW_QUERY_LITERALS shows the others.
 */
export const SECRET_HINT = /pass(word|wd)/i;

const CONSTANT_TOKENS = new Set(['SCONST', 'ICONST', 'FCONST', 'BCONST', 'XCONST', 'USCONST']);
/** libpg-query names bit-string, hex and Unicode-escape strings UNKNOWN: tell them by their prefix. */
const PREFIXED_STRING = /^(?:[bx]|u&)'/i;

/**
 * What every constant has: a quote (strings, B'', X'', U&''), a dollar quote ($$, $tag$: a $ not
 * starting a parameter), or a digit that no name or parameter holds. A text with none of them (a
 * normalized text: only $n) is returned as is, without the lexer (0.1 to 3 ms a text).
 */
const MAY_HOLD_CONSTANT = /'|\$(?!\d)|(?<![\p{L}\p{N}_$])\p{Nd}/u;

let loaded: Promise<void> | undefined;
/** The WASM module loads once, on first use (scanSync needs it loaded). */
const lexerReady = () => (loaded ??= loadModule());

/** A text as an application sent it (pg_stat_activity): constants masked unless asked to show them; passwords never shown. */
export async function redactLiveText(text: string, showLiterals: boolean): Promise<string> {
  return showLiterals && !SECRET_HINT.test(text) ? text : maskLiterals(text);
}

/** maskAllLiterals gives the event loop back after this long of masking (a capture's first run masks thousands of texts). */
const SLICE_MS = 20;

/** maskLiterals over many texts (a page of slowQueries, a capture's new texts) without holding the event loop for long. */
export async function maskAllLiterals(texts: readonly string[]): Promise<string[]> {
  const masked: string[] = [];
  let sliceStart = performance.now();
  for (const text of texts) {
    masked.push(await maskLiterals(text));
    if (performance.now() - sliceStart > SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  return masked;
}

/**
 * The one masking of statement texts: every constant replaced by $n, numbered after the parameters
 * the text already has, like pg_stat_statements does. Idempotent: a masked text has no constant left.
 */
export async function maskLiterals(text: string): Promise<string> {
  if (!MAY_HOLD_CONSTANT.test(text)) return text;
  const key = createHash('sha256').update(text).digest('base64');
  const known = masked.get(key);
  if (known !== undefined) return known;
  await lexerReady();
  const result = maskWithLexer(text);
  masked.set(key, result);
  return result;
}

/**
 * Texts masked lately, by the SHA-256 of the text: a dashboard asks for the same statements every
 * few seconds, and lexing a catalog query of a few kB takes 1 to 3 ms (hashing it, microseconds).
 * The digest, not the text, so that the constants masked away are not kept in memory. Bounded by
 * characters, least recently used out first; a text longer than a tenth of the budget is not kept.
 */
export class MaskedTexts {
  private readonly entries = new Map<string, string>();
  private chars = 0;

  constructor(private readonly maxChars: number) {}

  get(key: string): string | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      // most recently used last
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: string): void {
    if (value.length > this.maxChars / 10 || this.entries.has(key)) return;
    this.entries.set(key, value);
    this.chars += key.length + value.length;
    for (const [oldest, oldValue] of this.entries) {
      if (this.chars <= this.maxChars) break;
      this.entries.delete(oldest);
      this.chars -= oldest.length + oldValue.length;
    }
  }
}

/** About 8 MB of UTF-16: thousands of statements. */
const masked = new MaskedTexts(4_000_000);

function maskWithLexer(text: string): string {
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
