// applyIndex's planner: from a client's index request to the statements that build it, nothing
// executed. Every name is looked up in the catalog (bind parameters only) and quoted; expressions
// and predicates are parsed and rebuilt from their parse trees, every function and operator
// schema-qualified (sql/indexExpression.ts), then analyzed by the server in a rolled-back transaction
// with the DDL session's search_path, and the code they run checked trusted (resolution.ts);
// an identical valid index makes the plan a no-op, an identical INVALID one is dropped and built
// again (sql/indexIdentity.ts). Any refusal is a typed error thrown before anything but catalog
// SELECTs and that rolled-back analysis (a temporary view, table and index) has reached the server.
import { ErrorCode, PgscopeError, badInput } from '../../errors.js';
import type { Db, Queryable } from '../../db/pool.js';
import type { IndexPlan } from '../plan.js';
import { findMethod, lookupTable, loadColumns, longTransactions, takenNames } from './catalog.js';
import type { ColumnTypeRow, MethodRow } from './catalog.js';
import { parseExpression, type ParsedExpression } from '../../sql/indexExpression.js';
import type { BuildSql, IndexKey } from './types.js';
import { indexShape } from '../../sql/indexIdentity.js';
import { checkGivenName, chooseIndexName, displayName, indexColumnNames, lookAlikeHint } from './names.js';
import { checkExpressionRoutines, resolveKeyOpclasses } from './checks.js';
import { partitionedStatements } from './partitions.js';
import { findIdentical, replaceInvalid, resolveDefinition } from './resolution.js';
import { NO_EXTRA_TRUST, type TrustConfig } from '../../config.js';
import { quoteIdent } from '../../sql/quote.js';

export interface IndexColumnInput {
  column?: string | null;
  expression?: string | null;
  direction?: 'ASC' | 'DESC' | null;
  nulls?: 'FIRST' | 'LAST' | null;
  opclass?: string | null;
}

export interface IndexInput {
  schema?: string | null;
  table: string;
  columns: IndexColumnInput[];
  /** btree (default), hash, gin, gist, brin, spgist, or another index access method of pg_am. */
  method?: string | null;
  /** Partial index predicate. */
  where?: string | null;
  include?: string[] | null;
  unique?: boolean | null;
  name?: string | null;
}

/** INDEX_MAX_KEYS: key and INCLUDE columns together. */
const MAX_KEYS = 32;

/** Transactions open longer than this get a warning: CREATE INDEX CONCURRENTLY waits for them. */
export const LONG_TRANSACTION_SECONDS = 60;

export interface IndexPlanOptions {
  /**
   * Warn about transactions open longer than this, seconds (default LONG_TRANSACTION_SECONDS);
   * null: no look at the open transactions, for a caller that shows no warnings (costing).
   */
  longTransactionSeconds?: number | null;
  /** Whose functions an index may run besides those db/trust/rule.ts trusts by rule (Config.trust). Default: none. */
  trust?: TrustConfig;
  /**
   * Answers to the lookups of the table, its columns, the access method and the operator classes,
   * kept from earlier plans of the same caller (keyed by their SQL and parameters), for a caller
   * that plans hundreds of indexes within seconds: the advisor's costing. Absent: every plan looks.
   */
  lookups?: Map<string, Promise<unknown[]>>;
}

/**
 * The plan for `input`: validated, SQL built, nothing executed. Refusals: BAD_USER_INPUT (with the
 * reason), ALREADY_EXISTS (the name is taken by something else, or another session builds the
 * identical index), UNTRUSTED_CODE, UNSUPPORTED (PostgreSQL 14.0-14.3). An identical valid index
 * gives a plan with `existing` set and no statements; an identical INVALID one, `replaces`.
 */
export async function planIndex(
  db: Db,
  input: IndexInput,
  server: { versionNum: number },
  options: IndexPlanOptions = {},
): Promise<IndexPlan> {
  refuseBrokenConcurrentBuilds(server.versionNum);
  const schema = input.schema ?? 'public';
  const method = input.method ?? 'btree';
  const unique = Boolean(input.unique);
  // what needs no catalog first: these refusals send nothing at all to the server
  const requested = await readKeys(input);
  const predicate = input.where == null ? null : await parseExpression(input.where, 'the predicate (where)');
  if (input.name != null) checkGivenName(input.name, 'index name');

  const catalog = options.lookups ? remembering(db, options.lookups) : db;
  const table = await resolveTable(catalog, schema, input.table);
  const columns = await loadColumns(catalog, table.oid);
  const include = checkColumns(input, requested, predicate, columns);
  const am = await resolveMethod(catalog, method);
  checkMethod(am, requested, include, unique);
  const { keys, defaultOpclasses } = await resolveKeyOpclasses(catalog, method, requested, columns);
  const expressions = [...keys.flatMap((key) => key.expression ?? []), ...(predicate ? [predicate] : [])];
  const warnings = await checkExpressionRoutines(db, expressions);
  const build: BuildSql = (name, on, flags) => createIndexSql({ name, on, method, keys, include, predicate, unique, ...flags });
  const resolved = await resolveDefinition(db, {
    table: { oid: table.oid, schema, name: input.table },
    createIndex: (name, on) => build(name, on, {}),
    columns: [...keys.flatMap((key) => key.column ?? key.expression!.columns), ...include, ...(predicate?.columns ?? [])],
    expressions: keys.flatMap((key) => key.expression ?? []),
    predicate,
    trust: options.trust ?? NO_EXTRA_TRUST,
  });

  const on = { schema, table: input.table };
  const base = { schema, table: input.table, partitioned: table.relkind === 'p', warnings };
  // both sides as PostgreSQL prints them (else the request as built here), compared as parse trees
  const shape = await indexShape(resolved.printed ?? build('pgscope_candidate', on, {}), { defaultOpclasses });
  const identical = await findIdentical(db, schema, resolved.indexes, shape, { defaultOpclasses });
  if (identical?.valid) {
    const found = { schema, name: identical.index.name, valid: true };
    const definitionSql = identical.index.definition;
    return { ...base, name: found.name, leaves: [], statements: [], definitionSql, existing: found, replaces: null };
  }

  const name = identical ? identical.index.name : await chooseName(db, table, input, keys, include);
  const replacing = identical ? replaceInvalid(schema, identical.index, warnings) : { replaces: null, statements: [] };
  const longSeconds = options.longTransactionSeconds === undefined ? LONG_TRANSACTION_SECONDS : options.longTransactionSeconds;
  if (longSeconds !== null) warnings.push(...(await longTransactionWarnings(db, longSeconds)));
  const planned = { ...base, name, existing: null, replaces: replacing.replaces };
  if (table.relkind !== 'p') {
    const sql = build(name, on, { concurrently: true });
    const purpose = `build index ${displayName(schema, name)} on ${displayName(schema, input.table)} without blocking writes`;
    const statements = [...replacing.statements, { sql, purpose, outsideTransaction: true }];
    return { ...planned, leaves: [], statements, definitionSql: sql };
  }
  const request = { ...on, oid: table.oid, schemaOid: table.schemaOid, name, unique, keys, include };
  const tree = await partitionedStatements(db, { ...request, columnNames: derivedColumnNames(keys, include) }, build);
  // by hand, on a partitioned table, one would write the plain CREATE INDEX (which blocks writes)
  const statements = [...replacing.statements, ...tree.statements];
  return { ...planned, leaves: tree.leaves, statements, definitionSql: build(name, on, {}) };
}

/** `db` answering each statement once per text and parameters, from `lookups` after the first time (see IndexPlanOptions.lookups). */
function remembering(db: Queryable, lookups: Map<string, Promise<unknown[]>>): Queryable {
  return {
    query: <Row>(sql: string, params: readonly unknown[] = []) => {
      const key = JSON.stringify([sql, params]);
      let found = lookups.get(key);
      if (!found) {
        found = db.query<Row>(sql, params);
        lookups.set(key, found);
        // a failed lookup is not kept: the next plan looks again
        found.catch(() => lookups.delete(key));
      }
      return found as Promise<Row[]>;
    },
  };
}

function refuseBrokenConcurrentBuilds(versionNum: number): void {
  if (versionNum >= 140000 && versionNum < 140004) {
    throw new PgscopeError(
      ErrorCode.UNSUPPORTED,
      'PostgreSQL 14.0 to 14.3 can silently corrupt indexes built with CREATE INDEX CONCURRENTLY (fixed in 14.4); ' +
        'pgscope does not build indexes there. Upgrade to the latest 14.x minor release.',
      { versionNum },
    );
  }
}

async function readKeys(input: IndexInput): Promise<IndexKey[]> {
  if (input.columns.length === 0) throw badInput('An index needs at least one column or expression.');
  const total = input.columns.length + (input.include?.length ?? 0);
  if (total > MAX_KEYS) throw badInput(`An index has at most ${MAX_KEYS} columns (key and INCLUDE together); this one has ${total}.`);
  const keys: IndexKey[] = [];
  for (const [index, column] of input.columns.entries()) {
    const given = (column.column != null ? 1 : 0) + (column.expression != null ? 1 : 0);
    if (given !== 1) throw badInput(`Column ${index + 1} of the index must give exactly one of column and expression.`);
    // GraphQL enums already restrict them; other callers may not
    if (column.direction != null && !['ASC', 'DESC'].includes(column.direction))
      throw badInput(`Column ${index + 1}: direction is ASC or DESC.`);
    if (column.nulls != null && !['FIRST', 'LAST'].includes(column.nulls)) throw badInput(`Column ${index + 1}: nulls is FIRST or LAST.`);
    let expression = column.expression == null ? null : await parseExpression(column.expression, `expression ${index + 1}`);
    if (expression && expression.columns.length === 0) {
      throw badInput(`Expression ${index + 1} refers to no column of the table: its value would be the same for every row.`);
    }
    let name = column.column ?? null;
    // PostgreSQL stores an expression that is a bare column as that column: do the same
    const bare = expression?.node as { ColumnRef?: { fields?: Array<{ String?: { sval: string } }> } } | undefined;
    if (bare?.ColumnRef) {
      name = expression!.columns[0]!;
      expression = null;
    }
    const direction = column.direction ?? null;
    keys.push({ column: name, expression, direction, nulls: column.nulls ?? null, opclass: column.opclass ?? null });
  }
  return keys;
}

interface ResolvedTable {
  oid: string;
  schemaOid: string;
  relkind: string;
}

async function resolveTable(db: Queryable, schema: string, table: string): Promise<ResolvedTable> {
  const [row] = await lookupTable(db, schema, table);
  if (!row) throw badInput(`Schema ${displayName(schema)} does not exist${lookAlikeHint(schema)}.`, { schema });
  if (!row.table_oid) throw badInput(`Table ${displayName(schema, table)} does not exist${lookAlikeHint(table)}.`, { schema, table });
  // a materialized view takes indexes as a table does (CONCURRENTLY too); a view or a foreign table takes none
  if (row.relkind !== 'r' && row.relkind !== 'p' && row.relkind !== 'm') {
    const kind = RELKIND_PHRASES[row.relkind!] ?? 'not a table';
    throw badInput(
      `${displayName(schema, table)} is ${kind}; applyIndex builds indexes on tables, partitioned tables and materialized views.`,
      {
        schema,
        table,
      },
    );
  }
  return { oid: row.table_oid, schemaOid: row.schema_oid, relkind: row.relkind };
}

const RELKIND_PHRASES: Record<string, string> = {
  v: 'a view',
  m: 'a materialized view',
  i: 'an index',
  I: 'a partitioned index',
  S: 'a sequence',
  f: 'a foreign table',
  c: 'a composite type',
  t: 'a TOAST table',
};

/** Every column the keys, INCLUDE and the predicate name exists in the table; returns INCLUDE. */
function checkColumns(input: IndexInput, keys: IndexKey[], predicate: ParsedExpression | null, columns: ColumnTypeRow[]): string[] {
  const known = new Set(columns.map((column) => column.name));
  const table = displayName(input.schema ?? 'public', input.table);
  const check = (name: string, where: string) => {
    if (known.has(name)) return;
    throw badInput(`Column ${displayName(name)} (${where}) does not exist in table ${table}${lookAlikeHint(name)}.`, { column: name });
  };
  keys.forEach((key, index) => {
    if (key.column !== null) check(key.column, `column ${index + 1}`);
    for (const name of key.expression?.columns ?? []) check(name, `in expression ${index + 1}`);
  });
  for (const name of predicate?.columns ?? []) check(name, 'in the predicate');
  const include = input.include ?? [];
  for (const name of include) check(name, 'INCLUDE');
  return include;
}

async function resolveMethod(db: Queryable, method: string): Promise<MethodRow> {
  const [row] = await findMethod(db, method);
  if (row) return row;
  const hint = lookAlikeHint(method);
  throw badInput(`Index access method ${displayName(method)} does not exist${hint}; use btree, hash, gin, gist, brin or spgist.`, {
    method,
  });
}

function checkMethod(am: MethodRow, keys: IndexKey[], include: string[], unique: boolean): void {
  if (unique && !am.can_unique) throw badInput(`A ${am.name} index cannot be unique; only btree indexes can.`);
  if (include.length > 0 && !am.can_include) {
    throw badInput(`A ${am.name} index cannot have INCLUDE columns; btree, gist and spgist indexes can.`);
  }
  if (keys.length > 1 && !am.can_multi_col) throw badInput(`A ${am.name} index has a single column; this one has ${keys.length}.`);
  if (!am.can_order && keys.some((key) => key.direction !== null || key.nulls !== null)) {
    throw badInput(`A ${am.name} index has no order: ASC, DESC, NULLS FIRST and NULLS LAST apply to btree indexes.`);
  }
}

/** The names PostgreSQL would derive the index name from: columns, the function of an expression, else "expr". */
function derivedColumnNames(keys: IndexKey[], include: string[]): string[] {
  return indexColumnNames([...keys.map((key) => key.column ?? key.expression!.derivedName), ...include]);
}

async function chooseName(db: Queryable, table: ResolvedTable, input: IndexInput, keys: IndexKey[], include: string[]): Promise<string> {
  if (input.name == null) return chooseIndexName(db, table.schemaOid, input.table, derivedColumnNames(keys, include), new Set());
  const [taken] = await takenNames(db, table.schemaOid, [input.name]);
  if (taken) {
    const sameTable = taken.indexed_table_oid === table.oid;
    const what = sameTable ? 'an index with another definition on this table' : (RELKIND_PHRASES[taken.relkind] ?? 'a table');
    const name = displayName(input.schema ?? 'public', input.name);
    throw new PgscopeError(ErrorCode.ALREADY_EXISTS, `${name} already exists: it is ${what}. Choose another name, or drop it first.`, {
      name: input.name,
    });
  }
  return input.name;
}

async function longTransactionWarnings(db: Queryable, seconds: number): Promise<string[]> {
  const [row] = await longTransactions(db, seconds);
  if (!row || row.transactions === 0) return [];
  const count = row.transactions === 1 ? '1 transaction has' : `${row.transactions} transactions have`;
  return [
    `${count} been open for more than ${seconds} seconds (the longest ${row.longest_seconds} s): ` +
      'CREATE INDEX CONCURRENTLY waits until they end before it can finish.',
  ];
}

export interface CreateIndexParts {
  name: string;
  on: { schema: string; table: string };
  method: string;
  keys: IndexKey[];
  include: string[];
  predicate: ParsedExpression | null;
  unique: boolean;
  only?: boolean;
  concurrently?: boolean;
}

/** CREATE INDEX from validated parts: every name quoted, expressions as rebuilt from their trees. */
export function createIndexSql(parts: CreateIndexParts): string {
  const keys = parts.keys.map((key) =>
    [
      key.column !== null ? quoteIdent(key.column) : `(${key.expression!.sql})`,
      key.opclass === null
        ? null
        : key.opclassSchema
          ? `${quoteIdent(key.opclassSchema)}.${quoteIdent(key.opclass)}`
          : quoteIdent(key.opclass),
      key.direction,
      key.nulls !== null ? `NULLS ${key.nulls}` : null,
    ]
      .filter((part) => part !== null)
      .join(' '),
  );
  return [
    `CREATE ${parts.unique ? 'UNIQUE ' : ''}INDEX ${parts.concurrently ? 'CONCURRENTLY ' : ''}${quoteIdent(parts.name)}`,
    `ON ${parts.only ? 'ONLY ' : ''}${quoteIdent(parts.on.schema)}.${quoteIdent(parts.on.table)}`,
    `USING ${quoteIdent(parts.method)} (${keys.join(', ')})`,
    ...(parts.include.length > 0 ? [`INCLUDE (${parts.include.map(quoteIdent).join(', ')})`] : []),
    ...(parts.predicate ? [`WHERE ${parts.predicate.sql}`] : []),
  ].join(' ');
}
