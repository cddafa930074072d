// SQL facts that many statements share, each written once: which schemas are PostgreSQL's own (and
// which a listing shows by default), the leaves that hold a relation's rows, and relations looked
// up by (schema, name) pairs. They are fixed text; the aliases and bind-parameter numbers they take
// come from pgscope's code, never from a client, whose values travel as bind parameters.

/** A bind parameter's place in the statement ('$1'): the only thing a fragment takes for a value. */
type BindParameter = `$${number}`;

/**
 * PostgreSQL's own schemas (`n` is pg_namespace): pg_catalog, pg_toast, the per-session
 * pg_temp_N / pg_toast_temp_N, and information_schema. PostgreSQL reserves the `pg_` prefix
 * (CREATE SCHEMA refuses it), so no user schema is caught by the LIKE.
 */
export const OUTSIDE_SYSTEM_SCHEMAS = /* SQL */ `(
      n.nspname NOT LIKE 'pg\\_%'
      AND n.nspname <> 'information_schema'
    )`;

/**
 * What a listing shows by default: user schemas, without pgscope's own schema `pgscope` (its change
 * log and history tables are not the user's workload). Naming schema "pgscope" still shows it.
 * One definition, so that `tables`, `indexUsage`, `indexFindings` and the settings advice agree.
 */
export const DEFAULT_LISTED_SCHEMAS = /* SQL */ `(
      ${OUTSIDE_SYSTEM_SCHEMAS}
      AND n.nspname <> 'pgscope'
    )`;

/** DEFAULT_LISTED_SCHEMAS for a schema name already in hand (the advisor reads names from statement texts). */
export function listedByDefault(schema: string): boolean {
  return !schema.startsWith('pg_') && schema !== 'information_schema' && schema !== 'pgscope';
}

/**
 * Rows (relid) of the relations that hold the rows of `relation`, the alias of a row with pg_class's
 * oid and relkind: the relation itself, or the leaves of a partitioned table or index (relkind p or
 * I), which hold nothing themselves. pg_partition_tree() gives no row for a plain table, hence the
 * first branch; it skips detach-pending partitions, which is what a total should do.
 */
export const leavesOf = (relation: string) => /* SQL */ `
      SELECT ${relation}.oid AS relid
      WHERE ${relation}.relkind NOT IN ('p', 'I')
      UNION ALL
      SELECT tree.relid
      FROM pg_partition_tree(${relation}.oid) tree
      WHERE ${relation}.relkind IN ('p', 'I')
        AND tree.isleaf`;

/**
 * FROM-clause items for the relations named by two text arrays bound in parallel, schemas and
 * names: `w` (schema, name: the pair as given), `n` (its pg_namespace row) and `t` (its pg_class
 * row). Names are matched exactly, without the search path; a pair that names nothing gives no row.
 */
export const relationsByName = (schemas: BindParameter, names: BindParameter) => /* SQL */ `
  unnest(${schemas}::text[], ${names}::text[]) AS w(schema, name)
  JOIN pg_namespace n ON n.nspname = w.schema
  JOIN pg_class t ON t.relnamespace = n.oid AND t.relname = w.name`;
