// Catalog checks of what an index's keys and expressions use: operator classes (they exist for the
// access method and fit the column's type) and the functions and operators of expressions and
// predicates (they exist, and are IMMUTABLE: an index stores their results for good).
import { badInput } from '../../errors.js';
import type { Queryable } from '../../db/pool.js';
import { checkRoutines, resolveOpclasses, type ColumnTypeRow } from './catalog.js';
import type { ParsedExpression } from '../../sql/indexExpression.js';
import { displayName, lookAlikeHint } from './names.js';
import type { IndexKey } from './types.js';

/**
 * BAD_USER_INPUT unless each named operator class exists for `method` and fits its column, and each
 * plain column's type has a default one. Returns the keys with the schema of each named operator
 * class (the DDL session finds only pg_catalog's without it), and the operator classes that are
 * their type's default (naming one is the same as naming none, for the identity check), named as
 * the identity check reads them: pg_catalog's without their schema.
 */
export async function resolveKeyOpclasses(
  db: Queryable,
  method: string,
  keys: IndexKey[],
  columns: ColumnTypeRow[],
): Promise<{ keys: IndexKey[]; defaultOpclasses: Set<string> }> {
  const typeOf = new Map(columns.map((column) => [column.name, column]));
  const rows = await resolveOpclasses(
    db,
    method,
    keys.map((key) => key.opclass),
    keys.map((key) => (key.column !== null ? typeOf.get(key.column)!.type_oid : null)),
  );
  const defaults = new Set<string>();
  const resolved = [...keys];
  for (const row of rows) {
    const key = keys[row.position - 1]!;
    const column = key.column !== null ? typeOf.get(key.column)! : null;
    if (key.opclass !== null && row.opclass === null) {
      const hint = lookAlikeHint(key.opclass);
      throw badInput(`Operator class ${displayName(key.opclass)} does not exist for access method ${method}${hint}.`, {
        opclass: key.opclass,
      });
    }
    if (key.opclass !== null && row.type_fits === false) {
      const which = `column ${displayName(column!.name)} of type ${column!.type}`;
      throw badInput(`Operator class ${displayName(key.opclass)} does not accept ${which}.`, { opclass: key.opclass });
    }
    if (key.opclass === null && column !== null && (row.opclass === null || row.type_fits === false)) {
      const which = `Column ${displayName(column.name)} of type ${column.type}`;
      throw badInput(`${which} has no default operator class for access method ${method}; name one.`);
    }
    const schema = row.opclass_schema === 'pg_catalog' ? null : row.opclass_schema;
    if (key.opclass !== null) resolved[row.position - 1] = { ...key, opclassSchema: schema };
    if (row.is_default && row.opclass !== null) defaults.add(schema === null ? row.opclass : `${schema}.${row.opclass}`);
  }
  return { keys: resolved, defaultOpclasses: defaults };
}

/**
 * BAD_USER_INPUT when a function or operator the expressions use does not exist, is an aggregate
 * or window function, or has no IMMUTABLE variant. A name with both kinds of variants is let
 * through with a warning: which one applies depends on argument types only the server knows,
 * and it refuses a non-immutable one (42P17) before building anything.
 */
export async function checkExpressionRoutines(db: Queryable, expressions: ParsedExpression[]): Promise<string[]> {
  const functions = expressions.flatMap((expression) => expression.functions);
  const operators = expressions.flatMap((expression) => expression.operators);
  if (functions.length === 0 && operators.length === 0) return [];
  const warnings = new Set<string>();
  for (const row of await checkRoutines(db, functions, operators)) {
    const routine = row.kind === 'function' ? functions[row.position - 1]! : operators[row.position - 1]!;
    const label = row.kind === 'function' ? `function ${displayName(...qualifiedParts(routine))}` : `operator ${routine.name}`;
    const args = 'args' in routine ? ` with ${routine.args} argument${routine.args === 1 ? '' : 's'}` : '';
    if (row.candidates === 0 && routine.schema === null && row.elsewhere) {
      const [schema] = row.elsewhere;
      const spelled = row.kind === 'function' ? `${schema}.${routine.name}` : `OPERATOR(${schema}.${routine.name})`;
      const where = row.elsewhere.length === 1 ? `schema ${schema}` : `schemas ${row.elsewhere.join(', ')}`;
      throw badInput(
        `The ${label}${args} does not exist in pg_catalog, where names without a schema are looked up; it exists in ${where}: write ${spelled}.`,
      );
    }
    if (row.candidates === 0) throw badInput(`The ${label}${args} does not exist${lookAlikeHint(routine.name)}.`);
    if (row.aggregate) throw badInput(`The ${label} is an aggregate or window function; an index expression is computed from one row.`);
    if (row.immutable === 0) {
      throw badInput(
        `The ${label} is not IMMUTABLE: an index stores its results, so it must always give the same result for the same row ` +
          '(now(), random() and the like cannot be used).',
      );
    }
    // operators are left out: = and < have a STABLE cross-type variant (date < timestamptz) and would always warn
    if (row.kind === 'function' && row.immutable < row.candidates) {
      warnings.add(
        `Some variants of the ${label} are not IMMUTABLE; PostgreSQL refuses the index (before building anything) ` +
          'if the one its argument types select is one of them.',
      );
    }
  }
  return [...warnings];
}

function qualifiedParts(name: { schema: string | null; name: string }): string[] {
  return name.schema === null ? [name.name] : [name.schema, name.name];
}
