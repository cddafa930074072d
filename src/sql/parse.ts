// SQL from users and from pg_stat_statements, read with PostgreSQL's own parser (libpg-query: the
// PostgreSQL 18 grammar compiled to WASM), so pgscope never guesses at statement boundaries,
// parameters or statement kinds with regular expressions. Used by explain and the index advisor
// (it lives below both: db/ must not import advisor/).
import { parse, SqlError, type Node } from 'libpg-query';
import { badInput } from '../errors.js';

export interface ParsedStatement {
  /** The statement's parse tree: one key naming the node type, e.g. { SelectStmt: {...} }. */
  node: Node;
  /** The node type, e.g. "SelectStmt", "UpdateStmt". */
  kind: string;
  /** This statement's own text within the input, without the semicolon that ends it. */
  text: string;
}

/**
 * Parses `sql` into its statements (an empty list for a string of comments and semicolons).
 * Unparsable SQL is BAD_USER_INPUT with the parser's message and the 1-based character position,
 * counted as PostgreSQL counts it in its own errors.
 */
export async function parseStatements(sql: string): Promise<ParsedStatement[]> {
  if (sql.trim() === '') return [];
  let tree: Awaited<ReturnType<typeof parse>>;
  try {
    // parse() waits for the WASM module itself: no loadModule() call is needed first.
    tree = await parse(sql);
  } catch (error) {
    // The WASM parser recurses per nesting level and runs out of stack on very deep expressions.
    if (error instanceof RangeError) throw tooComplex();
    if (!(error instanceof SqlError)) throw error;
    const position = (error.sqlDetails?.cursorPosition ?? -1) + 1;
    const where = position > 0 ? ` (at character ${position})` : '';
    throw badInput(`The SQL could not be parsed: ${error.message}${where}.`, position > 0 ? { position } : {});
  }
  // walkTree and the advisor recurse over the tree: bound its depth before anyone walks it.
  if (treeDepth(tree) > MAX_TREE_DEPTH) throw tooComplex();
  // Statement locations are byte offsets into the UTF-8 text; a missing length means "to the end".
  const bytes = Buffer.from(sql, 'utf8');
  return (tree.stmts ?? []).map((raw) => {
    const node = raw.stmt!;
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
    return { node, kind: Object.keys(node)[0]!, text: bytes.subarray(start, end).toString('utf8').trim() };
  });
}

/**
 * Nesting levels of a parse tree's JSON that pgscope walks. `SELECT 1+1+...` takes two levels per
 * `+`, so this admits about 1,500 chained operators; recursion overflowed past about 3,000.
 */
const MAX_TREE_DEPTH = 3_000;

const tooComplex = () => badInput('The statement is too complex: its expressions nest too deeply to parse. Simplify it, or split it.');

/** Deepest nesting of objects and arrays, counted without recursion (the tree may be deeper than the stack). */
function treeDepth(tree: unknown): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[tree, 1]];
  while (pending.length > 0) {
    const [value, depth] = pending.pop()!;
    if (value === null || typeof value !== 'object') continue;
    deepest = Math.max(deepest, depth);
    for (const child of Object.values(value)) pending.push([child, depth + 1]);
  }
  return deepest;
}

/** The one statement in `sql`; none or several is BAD_USER_INPUT. */
export async function parseOneStatement(sql: string): Promise<ParsedStatement> {
  const statements = await parseStatements(sql);
  if (statements.length === 0) throw badInput('The SQL contains no statement.');
  if (statements.length > 1) {
    throw badInput(`The SQL contains ${statements.length} statements; send exactly one.`, { statements: statements.length });
  }
  return statements[0]!;
}

/**
 * Visits every field of a parse tree whose value is an object or an array, depth first: node
 * wrappers (key "SelectStmt", "ParamRef"...) and structural fields ("whereClause", "lockingClause").
 */
export function walkTree(tree: unknown, visit: (key: string, value: unknown) => void): void {
  if (Array.isArray(tree)) {
    for (const item of tree) walkTree(item, visit);
    return;
  }
  if (tree === null || typeof tree !== 'object') return;
  for (const [key, value] of Object.entries(tree)) {
    if (value === null || typeof value !== 'object') continue;
    visit(key, value);
    walkTree(value, visit);
  }
}

/** The highest $n the statement refers to (0 without parameters), as PostgreSQL counts them. */
export function paramCount(node: Node): number {
  let highest = 0;
  walkTree(node, (key, value) => {
    if (key === 'ParamRef') highest = Math.max(highest, (value as { number?: number }).number ?? 0);
  });
  return highest;
}

const DATA_MODIFYING = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/**
 * Why the statement is not a plain read-only SELECT (null when it is one). Refused: any other
 * statement kind, a data-modifying WITH query, SELECT INTO (creates a table) and FOR UPDATE/SHARE
 * (takes row locks), wherever they appear in the tree.
 */
export function readOnlySelectProblem(statement: ParsedStatement): string | null {
  if (statement.kind !== 'SelectStmt') return `it is ${statementPhrase(statement.kind)}, not a SELECT`;
  let problem: string | null = null;
  walkTree(statement.node, (key, value) => {
    if (problem) return;
    if (DATA_MODIFYING.has(key)) problem = `it contains a data-modifying ${statementName(key)} in a WITH query`;
    else if (key === 'intoClause') problem = 'SELECT INTO creates a table';
    else if (key === 'lockingClause' && Array.isArray(value) && value.length > 0) problem = 'FOR UPDATE/SHARE locks rows';
  });
  return problem;
}

/** True when `statements` is exactly one plain read-only SELECT (see readOnlySelectProblem). */
export function isSingleSelect(statements: readonly ParsedStatement[]): boolean {
  return statements.length === 1 && readOnlySelectProblem(statements[0]!) === null;
}

// Node types whose SQL name is not their words: the others read well as "CreateTableAs" -> "CREATE TABLE AS".
const STATEMENT_NAMES: Record<string, string> = {
  CreateStmt: 'CREATE TABLE',
  IndexStmt: 'CREATE INDEX',
  ViewStmt: 'CREATE VIEW',
  CreateFunctionStmt: 'CREATE FUNCTION',
  VariableSetStmt: 'SET',
  VariableShowStmt: 'SHOW',
  TransactionStmt: 'transaction control',
  CopyStmt: 'COPY',
  VacuumStmt: 'VACUUM or ANALYZE',
  DropStmt: 'DROP',
};

/** A readable SQL name for a statement node type: "UpdateStmt" -> "UPDATE". */
export function statementName(kind: string): string {
  return (
    STATEMENT_NAMES[kind] ??
    kind
      .replace(/Stmt$/, '')
      .replace(/([a-z])([A-Z])/g, '$1 $2')
      .toUpperCase()
  );
}

/** "an UPDATE statement", "a CREATE TABLE statement": for messages. */
export function statementPhrase(kind: string): string {
  const name = statementName(kind);
  return `${/^[AEIOU]/i.test(name) ? 'an' : 'a'} ${name} statement`;
}
