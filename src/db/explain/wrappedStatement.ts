// pg_stat_statements before 1.9 (PostgreSQL 13) keys an entry by user, database and queryid only:
// with pg_stat_statements.track = all, a statement first seen nested under EXPLAIN or PREPARE keeps
// that whole text ("EXPLAIN (FORMAT JSON) SELECT ... $1") even when it runs at top level later.
// From 1.9 the top-level run has an entry of its own (toplevel = true). The statement inside is
// found with PostgreSQL's own scanner (libpg-query), so quoted text is never mistaken for keywords.
import { parse, scan, type ScanToken } from 'libpg-query';

/** Words that may follow EXPLAIN before the statement in the old, unparenthesized syntax. */
const EXPLAIN_FLAGS = new Set(['ANALYZE', 'ANALYSE', 'VERBOSE']);

const COMMENTS = new Set(['C_COMMENT', 'SQL_COMMENT']);

/** The statement inside `EXPLAIN [options] ...` and `PREPARE name [(types)] AS ...`; other text as is. */
export async function unwrapNestedStatement(text: string): Promise<string> {
  let tokens: ScanToken[];
  try {
    const [statement] = (await parse(text)).stmts ?? [];
    if (!statement?.stmt || !('ExplainStmt' in statement.stmt || 'PrepareStmt' in statement.stmt)) return text;
    tokens = (await scan(text)).tokens.filter((token) => !COMMENTS.has(token.tokenName));
  } catch {
    return text;
  }
  const word = (index: number) => tokens[index]?.text.toUpperCase();
  let index = 0;
  for (;;) {
    if (word(index) === 'EXPLAIN') {
      index += 1;
      if (word(index) === '(') index = afterParentheses(tokens, index);
      while (EXPLAIN_FLAGS.has(word(index) ?? '')) index += 1;
    } else if (word(index) === 'PREPARE') {
      index = afterTopLevelAs(tokens, index);
    } else {
      break;
    }
  }
  const inner = tokens[index];
  if (index === 0 || !inner) return text;
  // scanner positions are byte offsets into the UTF-8 text
  return Buffer.from(text, 'utf8').subarray(inner.start).toString('utf8').trim();
}

function afterParentheses(tokens: ScanToken[], open: number): number {
  let depth = 0;
  for (let index = open; index < tokens.length; index += 1) {
    if (tokens[index]!.text === '(') depth += 1;
    if (tokens[index]!.text === ')' && --depth === 0) return index + 1;
  }
  return tokens.length;
}

function afterTopLevelAs(tokens: ScanToken[], prepare: number): number {
  let depth = 0;
  for (let index = prepare + 1; index < tokens.length; index += 1) {
    const text = tokens[index]!.text.toUpperCase();
    if (text === '(') depth += 1;
    if (text === ')') depth -= 1;
    if (text === 'AS' && depth === 0) return index + 1;
  }
  return tokens.length;
}
