// The tables an advisor run (indexRecommendations, indexAdvisorReport) looks at, from its table,
// schema and excludeTables arguments, checked against the catalog before any advisor work: a name
// that does not exist is NOT_FOUND, as indexFindings says it (src/db/catalog.ts), rather than an
// empty list that reads like "nothing to index" or an exclusion that silently excludes nothing.
import type { TableName } from '../advisor/analysis/exclusions.js';
import { assertSchemaExists, findTable } from '../db/catalog.js';
import type { Queryable } from '../db/pool.js';
import { badInput } from '../errors.js';

/** excludeTables names at most: each is one catalog look-up. */
export const MAX_EXCLUDED_TABLES = 100;

export interface AdvisorScopeArgs {
  schema?: string | null;
  table?: string | null;
  excludeTables?: readonly string[] | null;
}

export interface AdvisorScope {
  schema: string | null;
  table: string | null;
  excludeTables: TableName[];
}

export async function advisorScope(db: Queryable, args: AdvisorScopeArgs): Promise<AdvisorScope> {
  const names = (args.excludeTables ?? []).map(parseTableName);
  if (names.length > MAX_EXCLUDED_TABLES)
    throw badInput(`excludeTables takes at most ${MAX_EXCLUDED_TABLES} names, got ${names.length}.`, { argument: 'excludeTables' });
  let scope: Pick<AdvisorScope, 'schema' | 'table'> = { schema: args.schema ?? null, table: null };
  if (args.table) {
    const found = await findTable(db, args.schema, args.table);
    scope = { schema: found.schema, table: found.name };
  } else if (args.schema) await assertSchemaExists(db, args.schema);
  const excludeTables: TableName[] = [];
  for (const name of names) {
    // a bare name is looked up as table: is, in schema when given, else on the search_path
    const found = await findTable(db, name.schema ?? args.schema, name.name);
    excludeTables.push({ schema: found.schema, table: found.name });
  }
  return { ...scope, excludeTables };
}

/** "schema.table" or "table", as the catalog spells them (no quotes). */
function parseTableName(text: string): { schema: string | null; name: string } {
  const parts = text.split('.');
  if (parts.length > 2 || parts.some((part) => part === ''))
    throw badInput(`excludeTables: "${text}" is not a table name; give "schema.table" or "table", as the catalog spells them.`, {
      argument: 'excludeTables',
    });
  return parts.length === 2 ? { schema: parts[0]!, name: parts[1]! } : { schema: null, name: parts[0]! };
}
