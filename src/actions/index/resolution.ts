// What a requested index resolves to where pgscope builds it: on the DDL session, whose
// search_path is pg_catalog, pg_temp (DDL_SEARCH_PATH). Read on one connection, in a transaction
// that is always rolled back, with that search_path set for it:
// - the code its expressions and predicate run. PostgreSQL's own analysis of them, kept in a
//   temporary view (no row read, no function run), records in pg_depend every function, operator
//   and domain they resolve to, except PostgreSQL's own (pinned). An index runs that code as the
//   table's owner on every write, so each function must be trusted to run as that role
//   (src/db/trust/rule.ts); a name that does not resolve for its argument types is refused here too;
// - the requested index as PostgreSQL prints it, and the table's indexes the same way: the index,
//   once the code it runs is trusted, is created on an empty temporary table with the columns it
//   uses (no row, so nothing is computed but constants), and pg_get_indexdef prints both sides
//   with the implicit casts, the rewritten IN and BETWEEN, the constants' types and the schemas
//   that search_path calls for. A function outside pg_catalog prints with its schema (public.lower(username)), so an
//   index built with a planted function never passes for one built with PostgreSQL's own.
// Temporary objects need the TEMPORARY privilege on the database (PUBLIC has it unless revoked)
// and a primary server. Without them, the request is compared as pgscope writes it, and a
// function or operator named with a schema other than pg_catalog cannot be checked: refused with
// the grant that allows it.
import { DDL_SEARCH_PATH, type Db, type Queryable } from '../../db/pool.js';
import { translateDefinitionError } from '../../db/pgErrors.js';
import { trustedFunctionSql, trustRemedy } from '../../db/trust/rule.js';
import { ErrorCode, PgscopeError } from '../../errors.js';
import { loadExistingIndexes, type ExistingIndexRow } from './catalog.js';
import { buildingElsewhere, dropIndexSql, lookupIndex } from './cleanup.js';
import type { ParsedExpression } from '../../sql/indexExpression.js';
import { indexOutline, indexShape, type IndexShape } from '../../sql/indexIdentity.js';
import { displayName } from './names.js';
import type { PlannedStatement } from '../plan.js';
import type { TrustConfig } from '../../config.js';
import { quoteIdent } from '../../sql/quote.js';

export interface DefinitionRequest {
  table: { oid: string; schema: string; name: string };
  /** CREATE INDEX of the request, by name, on a table (plain, not CONCURRENTLY). */
  createIndex: (name: string, on: { schema: string; table: string }) => string;
  /** The table's columns the index uses (keys, INCLUDE, expressions, predicate), checked to exist. */
  columns: string[];
  /** The keys' expressions and the predicate, as rebuilt from their parse trees (sql/indexExpression.ts). */
  expressions: ParsedExpression[];
  predicate: ParsedExpression | null;
  trust: TrustConfig;
}

export interface ResolvedDefinition {
  /**
   * The requested index as pg_get_indexdef prints it on the DDL session (its name and table are
   * placeholders); null where temporary objects cannot be created, and where no index of the
   * table has its outline (none can be identical: the comparison needs no printing).
   */
  printed: string | null;
  /** The table's indexes, printed the same way. */
  indexes: ExistingIndexRow[];
}

/**
 * Refuses code its author could not run as the table's owner (UNTRUSTED_CODE) and definitions
 * PostgreSQL refuses (BAD_USER_INPUT: no such function for these argument types, not IMMUTABLE...);
 * returns the request and the table's indexes, printed as the DDL session reads them.
 */
export async function resolveDefinition(db: Db, request: DefinitionRequest): Promise<ResolvedDefinition> {
  return underDdlSearchPath(db, async (client, session) => {
    const indexes = await loadExistingIndexes(client, request.table.oid);
    if (!session.temporary) {
      const foreign = foreignRoutines([...request.expressions, ...(request.predicate ? [request.predicate] : [])]);
      if (foreign.length > 0) throw cannotCheck(foreign, session);
      return { printed: null, indexes };
    }
    if (request.expressions.length > 0 || request.predicate !== null) {
      await createProbe(client, request);
      const [untrusted] = await untrustedRoutines(client, request.table.oid, request.trust);
      if (untrusted) throw untrustedCode(untrusted, displayName(request.table.schema, request.table.name));
    }
    const outline = await indexOutline(
      request.createIndex('pgscope_candidate', { schema: request.table.schema, table: request.table.name }),
    );
    const outlines = await Promise.all(indexes.map((index) => indexOutline(index.definition)));
    return { printed: outlines.includes(outline) ? await printTwin(client, request) : null, indexes };
  });
}

interface SessionFacts {
  /** Temporary objects can be created: the TEMPORARY privilege on the database, and a primary server. */
  temporary: boolean;
  role: string;
  database: string;
}

async function underDdlSearchPath<T>(db: Db, work: (client: Queryable, session: SessionFacts) => Promise<T>): Promise<T> {
  return db.withClient(async (client) => {
    await client.query('BEGIN');
    try {
      const [session] = await client.query<SessionFacts>(
        /* SQL */ `
        SELECT
          set_config('search_path', $1, true) IS NOT NULL AS path_set,
          has_database_privilege(current_database(), 'TEMPORARY') AND NOT pg_is_in_recovery() AS temporary,
          current_user AS role,
          current_database() AS database`,
        [DDL_SEARCH_PATH],
      );
      return await work(client, session!);
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

const PROBE = 'pgscope_index_probe';

/** The expressions and predicate over the table, analyzed and kept as a view (rolled back with the transaction). */
async function createProbe(client: Queryable, request: DefinitionRequest): Promise<void> {
  const keys = request.expressions.map((expression, position) => `(${expression.sql}) AS k${position + 1}`);
  const sql = [
    `CREATE TEMP VIEW ${PROBE} AS SELECT ${keys.length > 0 ? keys.join(', ') : 'true AS k0'}`,
    `FROM ${quoteIdent(request.table.schema)}.${quoteIdent(request.table.name)}`,
    ...(request.predicate !== null ? [`WHERE ${request.predicate.sql}`] : []),
  ].join(' ');
  try {
    await client.query(sql);
  } catch (error) {
    throw translateDefinitionError(error, "The index's expressions or predicate") ?? error;
  }
}

const TWIN = 'pgscope_index_twin';

// The columns as the catalog writes them (format_type and quote_ident quote what needs it), with
// their collation. Not CREATE TABLE ... (LIKE table): that needs SELECT on the table, which the
// advisor's role may lack.
const twinColumns = (client: Queryable, tableOid: string, columns: string[]) =>
  client.query<{ column_sql: string }>(
    /* SQL */ `
    SELECT
      quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
        || CASE
          WHEN a.attcollation <> 0 THEN ' COLLATE ' || quote_ident(n.nspname) || '.' || quote_ident(c.collname)
          ELSE ''
        END AS column_sql
    FROM pg_attribute a
    LEFT JOIN pg_collation c ON c.oid = a.attcollation
    LEFT JOIN pg_namespace n ON n.oid = c.collnamespace
    WHERE a.attrelid = $1::oid
      AND a.attname = ANY ($2::text[])
      AND a.attnum > 0
      AND NOT a.attisdropped
    ORDER BY
      a.attnum`,
    [tableOid, columns],
  );

/** The requested index, created on an empty temporary table with the columns it uses, and printed back. */
async function printTwin(client: Queryable, request: DefinitionRequest): Promise<string> {
  const columns = await twinColumns(client, request.table.oid, [...new Set(request.columns)]);
  try {
    await client.query(`CREATE TEMP TABLE ${TWIN} (${columns.map((column) => column.column_sql).join(', ')})`);
    await client.query(request.createIndex(`${TWIN}_idx`, { schema: 'pg_temp', table: TWIN }));
  } catch (error) {
    throw translateDefinitionError(error, 'The index') ?? error;
  }
  const [row] = await client.query<{ definition: string }>(
    /* SQL */ `SELECT pg_get_indexdef('pg_temp.${TWIN}_idx'::regclass) AS definition`,
  );
  return row!.definition;
}

interface UntrustedRow {
  routine: string;
  author: string;
  runner: string;
}

// The functions the probe's rule depends on, those behind its operators, and those the CHECK
// constraints of the domains it casts to call (domains over domains followed down); each against
// every role it would run as: the owner of the table and of each of its partitions.
const untrustedRoutines = (client: Queryable, tableOid: string, trust: TrustConfig) =>
  client.query<UntrustedRow>(
    /* SQL */ `
    WITH RECURSIVE probe AS (
      SELECT
        d.refclassid,
        d.refobjid
      FROM pg_depend d
      JOIN pg_rewrite r ON r.oid = d.objid
      WHERE d.classid = 'pg_rewrite'::regclass
        AND r.ev_class = 'pg_temp.${PROBE}'::regclass
    ),
    domains AS (
      SELECT refobjid AS type_oid FROM probe WHERE refclassid = 'pg_type'::regclass
      UNION
      SELECT t.typbasetype FROM domains s JOIN pg_type t ON t.oid = s.type_oid WHERE t.typtype = 'd'
    ),
    used AS (
      SELECT refclassid, refobjid FROM probe
      UNION
      SELECT
        d.refclassid,
        d.refobjid
      FROM pg_constraint c
      JOIN pg_depend d ON d.classid = 'pg_constraint'::regclass AND d.objid = c.oid
      WHERE c.contypid IN (SELECT type_oid FROM domains)
    ),
    routines AS (
      SELECT refobjid AS proc FROM used WHERE refclassid = 'pg_proc'::regclass
      UNION
      SELECT o.oprcode FROM used u JOIN pg_operator o ON o.oid = u.refobjid WHERE u.refclassid = 'pg_operator'::regclass
    ),
    runners AS (
      SELECT DISTINCT
        c.relowner AS runner
      FROM pg_class c
      WHERE c.oid = $1::oid
        OR c.oid IN (SELECT relid FROM pg_partition_tree($1::oid::regclass))
    )
    SELECT
      n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS routine,
      pg_get_userbyid(p.proowner) AS author,
      pg_get_userbyid(w.runner) AS runner
    FROM routines x
    JOIN pg_proc p ON p.oid = x.proc
    JOIN pg_namespace n ON n.oid = p.pronamespace
    CROSS JOIN runners w
    WHERE NOT ${trustedFunctionSql('p.oid', 'w.runner', '$2', '$3')}
    ORDER BY
      routine,
      runner`,
    [tableOid, trust.roles, trust.extensions],
  );

/** Functions and operators the client named with a schema other than pg_catalog: app.normalize, OPERATOR(app.===). */
function foreignRoutines(expressions: ParsedExpression[]): string[] {
  const named = expressions.flatMap((expression) => [
    ...expression.functions.flatMap((f) => (f.schema !== null && f.schema !== 'pg_catalog' ? [`${f.schema}.${f.name}`] : [])),
    ...expression.operators.flatMap((o) => (o.schema !== null && o.schema !== 'pg_catalog' ? [`OPERATOR(${o.schema}.${o.name})`] : [])),
  ]);
  return [...new Set(named)];
}

function cannotCheck(routines: string[], where: SessionFacts): PgscopeError {
  return new PgscopeError(
    ErrorCode.INSUFFICIENT_PRIVILEGE,
    `pgscope cannot check who wrote ${routines.join(', ')}: it has PostgreSQL analyze the definition in a temporary view, ` +
      `which role ${where.role} may not create in database ${where.database} (or the server is a standby). ` +
      `To allow it: GRANT TEMPORARY ON DATABASE ${quoteIdent(where.database)} TO ${quoteIdent(where.role)};`,
    { routines },
  );
}

function untrustedCode(row: UntrustedRow, table: string): PgscopeError {
  return new PgscopeError(
    ErrorCode.UNTRUSTED_CODE,
    `The function ${row.routine} belongs to role ${row.author}; an index runs it as the owner of ${table} (role ${row.runner}) ` +
      `on every write. ${trustRemedy(row.author)}.`,
    { routine: row.routine, owner: row.author },
  );
}

/** An existing index identical to the request: valid, or INVALID (left by a failed or interrupted build) and to be built again. */
export type IdenticalIndex = { valid: true; index: ExistingIndexRow } | { valid: false; index: ExistingIndexRow };

/**
 * The table's index identical to `shape` (a valid one first), or null. An INVALID one that another
 * session is building right now is refused (ALREADY_EXISTS, reason BEING_BUILT): pgscope never
 * touches a build in progress, and cannot tell yet whether it will succeed.
 */
export async function findIdentical(
  db: Queryable,
  schema: string,
  indexes: ExistingIndexRow[],
  shape: string,
  options: IndexShape,
): Promise<IdenticalIndex | null> {
  const identical: ExistingIndexRow[] = [];
  for (const index of indexes) {
    if ((await indexShape(index.definition, options)) === shape) identical.push(index);
  }
  const valid = identical.find((index) => index.valid);
  if (valid) return { valid: true, index: valid };
  const invalid = identical[0];
  if (!invalid) return null;
  const state = await lookupIndex(db, schema, invalid.name);
  if (state && (await buildingElsewhere(db, state, null))) {
    throw new PgscopeError(
      ErrorCode.ALREADY_EXISTS,
      `An index identical to this one, ${displayName(schema, invalid.name)}, is being built by another session right now; ` +
        'wait until that build ends, then apply again.',
      { reason: 'BEING_BUILT', schema, name: invalid.name },
    );
  }
  return { valid: false, index: invalid };
}

/** The statement that drops an identical INVALID index before it is built again, and the warning that says so. */
export function replaceInvalid(schema: string, index: ExistingIndexRow, warnings: string[]) {
  const name = displayName(schema, index.name);
  warnings.push(
    `An index identical to this one, ${name}, exists but is INVALID (a failed or interrupted build left it): ` +
      'queries do not use it, yet every write maintains it. It is dropped and built again.',
  );
  const drop: PlannedStatement = {
    sql: dropIndexSql(schema, index.name, index.partitioned),
    purpose: `drop the INVALID index ${name}, to build it again`,
    outsideTransaction: !index.partitioned,
  };
  return { replaces: { schema, name: index.name, partitioned: index.partitioned }, statements: [drop] };
}
