// Names a client sends are looked up in the catalog before any use: a name that does not exist is a
// NOT_FOUND error, and only names the catalog returned are ever quoted into SQL text.
import { notFound } from '../errors.js';
import type { Queryable } from './pool.js';
import { quoteIdent } from '../sql/quote.js';

export interface Relation {
  oid: number;
  schema: string;
  name: string;
  /** pg_class.relkind: r table, p partitioned table, i index, I partitioned index, m matview... */
  kind: string;
  /** schema.name, each part quoted: safe to put in SQL text. */
  qualified: string;
}

const FIND_RELATION_SQL = /* SQL */ `
  SELECT
    c.oid,
    n.nspname AS schema,
    c.relname AS name,
    c.relkind::text AS kind
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relname = $1
    AND c.relkind = ANY ($3::"char"[])
    AND CASE
      WHEN $2::text IS NULL THEN pg_table_is_visible(c.oid)
      ELSE n.nspname = $2::text
    END
  ORDER BY n.nspname
  LIMIT 1`;

const TABLE_KINDS = ['r', 'p', 'm', 'f'];

/**
 * Finds a table (or partitioned table, materialized view, foreign table) by name. Without a
 * schema, the name is looked up on the role's search_path, as PostgreSQL itself would.
 */
export async function findTable(db: Queryable, schema: string | null | undefined, name: string): Promise<Relation> {
  return findRelation(db, schema, name, TABLE_KINDS, 'table');
}

async function findRelation(
  db: Queryable,
  schema: string | null | undefined,
  name: string,
  kinds: string[],
  noun: string,
): Promise<Relation> {
  const [row] = await db.query<Omit<Relation, 'qualified'>>(FIND_RELATION_SQL, [name, schema ?? null, kinds]);
  if (!row) {
    const where = schema ? `in schema "${schema}"` : 'on the search_path';
    throw notFound(`No ${noun} named "${name}" ${where}.`, { schema: schema ?? null, name });
  }
  return { ...row, qualified: `${quoteIdent(row.schema)}.${quoteIdent(row.name)}` };
}

/** Checks that a schema exists (for filters such as tables(schema:)). */
export async function assertSchemaExists(db: Queryable, schema: string): Promise<void> {
  const rows = await db.query(/* SQL */ `SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema]);
  if (rows.length === 0) throw notFound(`No schema named "${schema}".`, { schema });
}
