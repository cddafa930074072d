// What the analysis sees and cannot turn into a candidate, said in sentences rather than left
// silent: $1 = ANY (array column), which no index serves as written (col @> ARRAY[$1] asks the
// same of a non-null value, and a GIN index serves that), and ILIKE or infix LIKE when pg_trgm,
// whose operator class alone serves them, cannot be named in this database.
import type { Queryable } from '../../db/pool.js';
import type { KeyPredicate, TableAccess } from '../types.js';

export interface TrigramSupport {
  /** gin_trgm_ops can be named: installed and visible on the connection's search_path. */
  usable: boolean;
  /** The schema pg_trgm is installed in; null when it is not installed. */
  schema: string | null;
}

// pg_opclass_is_visible: applyIndex names an operator class only when the search_path finds it
const TRIGRAM_SQL = /* SQL */ `
  SELECT
    n.nspname AS schema,
    EXISTS (
      SELECT FROM pg_opclass o
      JOIN pg_am a ON a.oid = o.opcmethod
      WHERE a.amname = 'gin'
        AND o.opcname = 'gin_trgm_ops'
        AND pg_opclass_is_visible(o.oid)
    ) AS usable
  FROM pg_extension e
  JOIN pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname = 'pg_trgm'`;

export async function trigramSupport(db: Queryable): Promise<TrigramSupport> {
  const [row] = await db.query<{ schema: string; usable: boolean }>(TRIGRAM_SQL);
  return row ? { usable: row.usable, schema: row.schema } : { usable: false, schema: null };
}

/** The accesses ask something of a key (ILIKE and infix LIKE): trigram support is worth a query. */
export const asksForTrigrams = (accesses: readonly TableAccess[]) =>
  accesses.some((access) => access.predicates.some((p) => p.use === 'PATTERN_INFIX'));

/** A sentence about one table's key. */
export interface AnalysisNote {
  schema: string;
  table: string;
  sentence: string;
}

/** One sentence per key the workload asks something no candidate can give, with the statements and the remedy. */
export function patternNotes(accesses: readonly TableAccess[], trigram: TrigramSupport): AnalysisNote[] {
  const notes: AnalysisNote[] = [];
  for (const [where, queryIds] of keysUsing(accesses, 'ARRAY_ANY')) {
    notes.push({
      ...where.name,
      sentence:
        `${statementsPhrase(queryIds)} ${queryIds.length === 1 ? 'tests' : 'test'} $n = ANY (${where.column}) on ${where.table}, ` +
        `which no index serves as written: ${where.column} @> ARRAY[$n] asks the same of a non-null value, and with it ` +
        `pgscope can propose a GIN index on ${where.column}.`,
    });
  }
  if (trigram.usable) return notes;
  for (const [where, queryIds] of keysUsing(accesses, 'PATTERN_INFIX')) {
    const remedy =
      trigram.schema === null
        ? 'pg_trgm is not installed in this database (CREATE EXTENSION pg_trgm; then run the advisor again)'
        : `pg_trgm is installed in schema ${trigram.schema}, which is not on the search_path of pgscope's connections`;
    notes.push({
      ...where.name,
      sentence:
        `${statementsPhrase(queryIds)} ${queryIds.length === 1 ? 'matches' : 'match'} ${where.column} with ILIKE or a LIKE pattern ` +
        `starting with a wildcard on ${where.table}: only a trigram index (USING gin (${where.column} gin_trgm_ops)) serves that, ` +
        `and ${remedy}.`,
    });
  }
  return notes;
}

/** Statements per table key using `use`, in first-seen order. */
function keysUsing(accesses: readonly TableAccess[], use: KeyPredicate['use']) {
  type Where = { table: string; column: string; name: { schema: string; table: string } };
  const found = new Map<string, { where: Where; queryIds: string[] }>();
  for (const access of accesses) {
    for (const predicate of access.predicates.filter((p) => p.use === use)) {
      const column = predicate.column ?? predicate.expression!;
      const id = JSON.stringify([access.schema, access.table, column]);
      const name = { schema: access.schema, table: access.table };
      const entry = found.get(id) ?? { where: { table: `${access.schema}.${access.table}`, column, name }, queryIds: [] };
      if (!entry.queryIds.includes(access.queryId)) entry.queryIds.push(access.queryId);
      found.set(id, entry);
    }
  }
  return [...found.values()].map((entry) => [entry.where, entry.queryIds] as const);
}

const statementsPhrase = (queryIds: readonly string[]) =>
  queryIds.length === 1 ? `Statement ${queryIds[0]}` : `Statements ${queryIds.join(', ')}`;
