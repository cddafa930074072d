import { describe, expect, it } from 'vitest';
import {
  isSingleSelect,
  paramCount,
  parseOneStatement,
  parseStatements,
  readOnlySelectProblem,
  statementName,
  statementPhrase,
  walkTree,
} from '../../src/sql/parse.js';
import { isPgscopeError, type PgscopeError } from '../../src/errors.js';

async function parseError(sql: string): Promise<PgscopeError> {
  const error = await parseOneStatement(sql).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isPgscopeError(error)) throw new Error(`expected a PgscopeError for ${JSON.stringify(sql)}, got ${String(error)}`);
  return error;
}

describe('parseStatements', () => {
  it('splits statements and gives each its own text, without the semicolon', async () => {
    const statements = await parseStatements("SELECT 'é;' AS x;\n  UPDATE orders SET status = 'paid' WHERE id = $1 ;");
    expect(statements.map((statement) => [statement.kind, statement.text])).toEqual([
      ['SelectStmt', "SELECT 'é;' AS x"],
      ['UpdateStmt', "UPDATE orders SET status = 'paid' WHERE id = $1"],
    ]);
  });

  it('finds no statement in blanks, comments and semicolons', async () => {
    expect(await parseStatements('')).toEqual([]);
    expect(await parseStatements('  \n ')).toEqual([]);
    expect(await parseStatements('-- nothing here\n;;')).toEqual([]);
  });

  it('reports unparsable SQL as BAD_USER_INPUT with the parser message and 1-based character position', async () => {
    const error = await parseError("SELECT 'ééé' FROM WHERE");
    expect(error.code).toBe('BAD_USER_INPUT');
    // Characters, not bytes: "WHERE" is the 19th character (the é are two bytes each).
    expect(error.message).toBe('The SQL could not be parsed: syntax error at or near "WHERE" (at character 19).');
    expect(error.extensions.position).toBe(19);
    const unterminated = await parseError("SELECT 'open");
    expect(unterminated.message).toBe(`The SQL could not be parsed: unterminated quoted string at or near "'open" (at character 8).`);
  });

  it.each([
    ['that pgscope would walk too deep', 2_000],
    ['that the parser itself overflows on', 45_000],
  ])('reports an expression nested %s as BAD_USER_INPUT', async (_, terms) => {
    const error = await parseError(`SELECT ${Array.from({ length: terms }, () => '1').join('+')}`);
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toBe('The statement is too complex: its expressions nest too deeply to parse. Simplify it, or split it.');
  });

  it('parses a long but reasonable expression', async () => {
    const [statement] = await parseStatements(`SELECT ${Array.from({ length: 1_000 }, () => '1').join('+')}`);
    expect(statement!.kind).toBe('SelectStmt');
  });
});

describe('parseOneStatement', () => {
  it('returns the single statement', async () => {
    const statement = await parseOneStatement('SELECT 1;');
    expect(statement.kind).toBe('SelectStmt');
    expect(statement.text).toBe('SELECT 1');
  });

  it('refuses none or several statements', async () => {
    expect((await parseError('-- only a comment')).message).toBe('The SQL contains no statement.');
    const two = await parseError('SELECT 1; DELETE FROM orders');
    expect(two.code).toBe('BAD_USER_INPUT');
    expect(two.message).toBe('The SQL contains 2 statements; send exactly one.');
  });
});

describe('paramCount', () => {
  it.each([
    ['SELECT 1', 0],
    ['SELECT * FROM orders WHERE id = $1', 1],
    ['SELECT * FROM orders WHERE id = $1 AND customer_id = $3', 3],
    ['SELECT * FROM orders WHERE id IN (SELECT order_id FROM items WHERE sku = $4) LIMIT $2', 4],
    ['WITH recent AS (SELECT * FROM orders WHERE created_at > $2) SELECT * FROM recent', 2],
    ['UPDATE orders SET status = $1 WHERE id = $2', 2],
    ["SELECT '$5' AS literal, $1 AS value", 1],
  ])('%s has %i', async (sql, expected) => {
    expect(paramCount((await parseOneStatement(sql)).node)).toBe(expected);
  });
});

describe('readOnlySelectProblem and isSingleSelect', () => {
  it.each([
    'SELECT * FROM orders WHERE id = $1',
    'VALUES (1), (2)',
    'TABLE orders',
    'SELECT id FROM orders UNION ALL SELECT id FROM archived_orders',
    'WITH recent AS (SELECT * FROM orders) SELECT count(*) FROM recent',
  ])('accepts %s', async (sql) => {
    const statement = await parseOneStatement(sql);
    expect(readOnlySelectProblem(statement)).toBeNull();
    expect(isSingleSelect([statement])).toBe(true);
  });

  it.each([
    ["UPDATE orders SET status = 'paid'", 'it is an UPDATE statement, not a SELECT'],
    ['DELETE FROM orders', 'it is a DELETE statement, not a SELECT'],
    ['CREATE TABLE copy (id int)', 'it is a CREATE TABLE statement, not a SELECT'],
    ['EXPLAIN SELECT 1', 'it is an EXPLAIN statement, not a SELECT'],
    ['WITH gone AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM gone', 'it contains a data-modifying DELETE in a WITH query'],
    [
      "WITH x AS (SELECT 1), moved AS (INSERT INTO log SELECT 'x' RETURNING *) SELECT * FROM x",
      'it contains a data-modifying INSERT in a WITH query',
    ],
    ['SELECT * INTO orders_copy FROM orders', 'SELECT INTO creates a table'],
    ['SELECT * FROM orders FOR UPDATE', 'FOR UPDATE/SHARE locks rows'],
    ['SELECT id FROM orders UNION SELECT id FROM (SELECT id FROM archived_orders FOR SHARE) a', 'FOR UPDATE/SHARE locks rows'],
  ])('refuses %s: %s', async (sql, problem) => {
    const statement = await parseOneStatement(sql);
    expect(readOnlySelectProblem(statement)).toBe(problem);
    expect(isSingleSelect([statement])).toBe(false);
  });

  it('is false for two SELECTs', async () => {
    expect(isSingleSelect(await parseStatements('SELECT 1; SELECT 2'))).toBe(false);
  });
});

describe('statement names', () => {
  it.each([
    ['SelectStmt', 'SELECT', 'a SELECT statement'],
    ['UpdateStmt', 'UPDATE', 'an UPDATE statement'],
    ['CreateTableAsStmt', 'CREATE TABLE AS', 'a CREATE TABLE AS statement'],
    ['CreateStmt', 'CREATE TABLE', 'a CREATE TABLE statement'],
    ['VariableSetStmt', 'SET', 'a SET statement'],
    ['TransactionStmt', 'transaction control', 'a transaction control statement'],
  ])('%s reads as %s', (kind, name, phrase) => {
    expect(statementName(kind)).toBe(name);
    expect(statementPhrase(kind)).toBe(phrase);
  });
});

describe('walkTree', () => {
  it('visits node wrappers and structural fields, depth first', async () => {
    const statement = await parseOneStatement('SELECT a FROM t WHERE b = $1');
    const keys: string[] = [];
    walkTree(statement.node, (key) => keys.push(key));
    expect(keys).toContain('SelectStmt');
    expect(keys).toContain('whereClause');
    expect(keys).toContain('RangeVar');
    expect(keys.indexOf('SelectStmt')).toBeLessThan(keys.indexOf('whereClause'));
    expect(keys.indexOf('whereClause')).toBeLessThan(keys.indexOf('ParamRef'));
  });
});
