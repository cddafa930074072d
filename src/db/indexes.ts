// Index usage: every index with its definition, flags, size and scan counters. A partitioned index
// (relkind 'I') has no statistics of its own (it is absent from pg_stat_all_indexes): its counters
// and size are summed over the leaf indexes of its partitions. The same facts feed indexFindings.
import { type Capabilities, perServerVersion } from './capabilities.js';
import type { Queryable } from './pool.js';
import { DEFAULT_LISTED_SCHEMAS, leavesOf } from './fragments.js';

export type IndexConstraintType = 'PRIMARY_KEY' | 'UNIQUE' | 'EXCLUSION';

export interface IndexRow {
  oid: number;
  table_oid: number;
  schema: string;
  table: string;
  index_name: string;
  access_method: string;
  definition: string;
  is_unique: boolean;
  is_primary: boolean;
  is_valid: boolean;
  /** False while CREATE INDEX CONCURRENTLY has not reached its second phase (writes skip it). */
  is_ready: boolean;
  is_partitioned: boolean;
  predicate: string | null;
  /** Key columns and expressions, with DESC / NULLS FIRST / NULLS LAST where not the default. */
  key_columns: string[];
  include_columns: string[];
  constraint_name: string | null;
  constraint_type: IndexConstraintType | null;
  /** Foreign keys of the table whose referencing columns are this index's leading key columns. */
  foreign_keys: string[];
  /** The partitioned index this index is attached to (an index of a partition). */
  parent_index_name: string | null;
  scans: bigint;
  tuples_read: bigint;
  tuples_fetched: bigint;
  /** Null only from loadIndexesWithoutSizes. */
  size_bytes: bigint | null;
  /** Null before PostgreSQL 16 and for an index never scanned. */
  last_scan_at: Date | null;
  cache_hit_ratio: number | null;
}

/**
 * Which indexes: those of the tables in `tableOids`, or those in `indexOids`, or those of a
 * schema's tables, or (no filter) those of every user schema. Bound as $1 to $4.
 */
export interface IndexScope {
  tableOids?: readonly number[] | null;
  indexOids?: readonly number[] | null;
  schema?: string | null;
  /** With a schema or no filter: also the tables that are partitions. */
  includePartitions?: boolean;
}

export function indexScopeParams(scope: IndexScope): unknown[] {
  return [scope.tableOids ?? null, scope.indexOids ?? null, scope.schema ?? null, scope.includePartitions ?? false];
}

/**
 * Whether index `i` (pg_index, with `am` its pg_am row) serves foreign key `fk` as PostgreSQL plans
 * the key's check on the referencing side (ri_triggers.c, on DELETE or key UPDATE of a referenced
 * row): `SELECT 1 FROM child x WHERE $1 = fkcol1 [AND $2 = fkcol2 ...] FOR KEY SHARE OF x`.
 * - The index is usable: valid, ready and live (an index being built, or whose build failed, is not).
 * - Its leading key columns are the key's columns, in any order (expression keys are attnum 0 in
 *   indkey, so they never match), and each one's operator family holds the commutator of the key's
 *   PK = FK operator (conpfeqop) as a search operator: the planner turns `$1 = col` into `col = $1`.
 *   Any access method with such an operator family qualifies (btree, hash, btree_gist...).
 * - No predicate, or one the check implies: the check's strict `=` implies `col IS NOT NULL`, so a
 *   predicate made only of `col IS NOT NULL` over the key's columns is implied; anything else is
 *   not. The predicate is compared as PostgreSQL prints it (conjuncts "(col IS NOT NULL)" joined by
 *   " AND "); a form that does not print that way counts as not implied.
 */
const SERVES_FOREIGN_KEY = /* SQL */ `(
            i.indisvalid
            AND i.indisready
            AND i.indislive
            AND cardinality(fk.conkey) <= i.indnkeyatts
            AND NOT EXISTS (
              SELECT
              FROM unnest(fk.conkey, fk.conpfeqop) AS key(attnum, pf_eq_op)
              WHERE NOT EXISTS (
                SELECT
                FROM generate_series(0, cardinality(fk.conkey) - 1) position
                JOIN pg_opclass opc ON opc.oid = i.indclass[position]
                JOIN pg_operator eq ON eq.oid = key.pf_eq_op
                JOIN pg_amop amop
                  ON amop.amopfamily = opc.opcfamily
                  AND amop.amopopr = eq.oprcom
                  AND amop.amoppurpose = 's'
                WHERE i.indkey[position] = key.attnum
              )
            )
            AND (
              i.indpred IS NULL
              OR (
                SELECT
                  CASE
                    WHEN i.indpred::text LIKE '{BOOLEXPR :boolop and %'
                      THEN string_to_array(substr(pred.text, 2, length(pred.text) - 2), ' AND ')
                    ELSE ARRAY[pred.text]
                  END
                FROM (SELECT pg_get_expr(i.indpred, i.indrelid) AS text) pred
              ) <@ ARRAY(
                SELECT format('(%s IS NOT NULL)', quote_ident(a.attname))
                FROM pg_attribute a
                WHERE a.attrelid = fk.conrelid
                  AND a.attnum = ANY (fk.conkey)
              )
            )
          )`;

/**
 * Two CTEs, `scoped_tables` and `facts` (one row per index in scope), for statements that bind
 * IndexScope as $1 to $4. Key columns, operator classes, collations and ordering come from
 * pg_index's arrays, so that indexes can be compared exactly (see indexFindings).
 */
/**
 * `withSizes`: false leaves size_bytes null (the caller measures sizes apart). `comparison`: false
 * leaves key_expressions, key_signature and reversed_signature null: only indexFindings compares
 * indexes, and the CTE is materialized (pg_partition_tree is volatile), so every column costs.
 */
export function indexFactsCtes(caps: Capabilities, withSizes = true, comparison = true): string {
  // pg_stat_all_indexes.last_idx_scan (pg_stat_get_lastscan) exists from PostgreSQL 16.
  const lastScan = caps.serverVersionNum >= 160000 ? 'max(pg_stat_get_lastscan(leaf.relid))' : 'NULL::timestamptz';
  return /* SQL */ `
    scoped_tables AS (
      SELECT
        t.oid,
        n.nspname,
        t.relname,
        t.relkind
      FROM pg_class t
      JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE t.relkind IN ('r', 'p', 'm')
        AND ($1::oid[] IS NULL OR t.oid = ANY ($1::oid[]))
        AND ($3::text IS NULL OR n.nspname = $3::text)
        AND ($1::oid[] IS NOT NULL OR $2::oid[] IS NOT NULL OR $3::text IS NOT NULL OR ${DEFAULT_LISTED_SCHEMAS})
        AND ($1::oid[] IS NOT NULL OR $2::oid[] IS NOT NULL OR $4::bool OR NOT t.relispartition)
    ),
    facts AS (
      SELECT
        ic.oid,
        st.oid AS table_oid,
        st.nspname AS schema,
        st.relname AS table_name,
        ic.relname AS index_name,
        am.amname AS access_method,
        pg_get_indexdef(ic.oid) AS definition,
        i.indisunique AS is_unique,
        i.indisprimary AS is_primary,
        i.indisvalid AS is_valid,
        i.indisready AS is_ready,
        ic.relkind = 'I' AS is_partitioned,
        i.indexprs IS NOT NULL AS has_expressions,
        pg_get_expr(i.indpred, i.indrelid) AS predicate,
        ${
          comparison
            ? `ARRAY(
          SELECT pg_get_indexdef(ic.oid, k, true)
          FROM generate_series(1, i.indnkeyatts) k
          ORDER BY k
        )`
            : 'NULL::text[]'
        } AS key_expressions,
        -- indoption bit 1 is DESC, bit 2 NULLS FIRST (the default with DESC)
        ARRAY(
          SELECT pg_get_indexdef(ic.oid, k, true)
            || CASE
              WHEN i.indoption[k - 1] & 1 = 1 AND i.indoption[k - 1] & 2 = 0 THEN ' DESC NULLS LAST'
              WHEN i.indoption[k - 1] & 1 = 1 THEN ' DESC'
              WHEN i.indoption[k - 1] & 2 = 2 THEN ' NULLS FIRST'
              ELSE ''
            END
          FROM generate_series(1, i.indnkeyatts) k
          ORDER BY k
        ) AS key_columns,
        ARRAY(
          SELECT pg_get_indexdef(ic.oid, k, true)
          FROM generate_series(i.indnkeyatts + 1, i.indnatts) k
          ORDER BY k
        ) AS include_columns,
        -- per key position: column or expression, operator class, collation, ASC/DESC and NULLS order
        ${
          comparison
            ? `ARRAY(
          SELECT format('%s|%s|%s|%s', pg_get_indexdef(ic.oid, k, true), i.indclass[k - 1], i.indcollation[k - 1], i.indoption[k - 1])
          FROM generate_series(1, i.indnkeyatts) k
          ORDER BY k
        )`
            : 'NULL::text[]'
        } AS key_signature,
        -- the same read backwards (DESC and NULLS FIRST flipped): what a backward btree scan serves
        ${
          comparison
            ? `ARRAY(
          SELECT format('%s|%s|%s|%s', pg_get_indexdef(ic.oid, k, true), i.indclass[k - 1], i.indcollation[k - 1], i.indoption[k - 1] # 3)
          FROM generate_series(1, i.indnkeyatts) k
          ORDER BY k
        )`
            : 'NULL::text[]'
        } AS reversed_signature,
        con.conname AS constraint_name,
        CASE con.contype
          WHEN 'p' THEN 'PRIMARY_KEY'
          WHEN 'u' THEN 'UNIQUE'
          WHEN 'x' THEN 'EXCLUSION'
        END AS constraint_type,
        ARRAY(
          SELECT fk.conname::text
          FROM pg_constraint fk
          WHERE fk.contype = 'f'
            AND fk.conrelid = i.indrelid
            AND ${SERVES_FOREIGN_KEY}
          ORDER BY fk.conname
        ) AS foreign_keys,
        attached.inhparent IS NOT NULL AS is_attached,
        parent_index.relname AS parent_index_name,
        coalesce(usage.scans, 0) AS scans,
        coalesce(usage.tuples_read, 0) AS tuples_read,
        coalesce(usage.tuples_fetched, 0) AS tuples_fetched,
        ${withSizes ? 'coalesce(usage.size_bytes, 0)' : 'NULL::int8'} AS size_bytes,
        usage.last_scan_at,
        usage.cache_hit_ratio
      FROM scoped_tables st
      JOIN pg_index i ON i.indrelid = st.oid
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_am am ON am.oid = ic.relam
      LEFT JOIN pg_constraint con
        ON con.conindid = i.indexrelid
        AND con.conrelid = i.indrelid
        AND con.contype IN ('p', 'u', 'x')
      LEFT JOIN pg_inherits attached ON attached.inhrelid = i.indexrelid
      LEFT JOIN pg_class parent_index ON parent_index.oid = attached.inhparent
      LEFT JOIN LATERAL (
        -- the functions behind pg_stat_all_indexes and pg_statio_all_indexes, called on each leaf
        -- index directly: the views would join pg_class and pg_index again for every one
        SELECT
          sum(pg_stat_get_numscans(leaf.relid))::int8 AS scans,
          sum(pg_stat_get_tuples_returned(leaf.relid))::int8 AS tuples_read,
          sum(pg_stat_get_tuples_fetched(leaf.relid))::int8 AS tuples_fetched,
          ${withSizes ? 'sum(pg_relation_size(leaf.relid))::int8' : 'NULL::int8'} AS size_bytes,
          ${lastScan} AS last_scan_at,
          sum(pg_stat_get_blocks_hit(leaf.relid))::float8 / nullif(sum(pg_stat_get_blocks_fetched(leaf.relid)), 0) AS cache_hit_ratio
        FROM (${leavesOf('ic')}
        ) leaf
      ) usage ON true
      WHERE $2::oid[] IS NULL
        OR i.indexrelid = ANY ($2::oid[])
    )`;
}

export const indexesSql = perServerVersion((caps) => buildIndexesSql(caps, true, false));
/**
 * Without sizes, by table: Table.indexes, whose sizes come from the request's size loader (one
 * measure per relation), and which groups them by table. Sorted by table OID first, names are
 * compared (in the database's collation, costly) only within a table.
 */
export const indexesWithoutSizesSql = perServerVersion((caps) => buildIndexesSql(caps, false, true));

const buildIndexesSql = (caps: Capabilities, withSizes: boolean, byTable: boolean) => /* SQL */ `
    WITH ${indexFactsCtes(caps, withSizes, false)}
    SELECT
      f.oid,
      f.table_oid,
      f.schema,
      f.table_name AS table,
      f.index_name,
      f.access_method,
      f.definition,
      f.is_unique,
      f.is_primary,
      f.is_valid,
      f.is_ready,
      f.is_partitioned,
      f.predicate,
      f.key_columns,
      f.include_columns,
      f.constraint_name,
      f.constraint_type,
      f.foreign_keys,
      f.parent_index_name,
      f.scans,
      f.tuples_read,
      f.tuples_fetched,
      f.size_bytes,
      f.last_scan_at,
      f.cache_hit_ratio
    FROM facts f
    ORDER BY
      ${byTable ? 'f.table_oid' : 'f.schema, f.table_name'},
      f.index_name,
      f.oid`;

export async function loadIndexes(db: Queryable, caps: Capabilities, scope: IndexScope): Promise<IndexRow[]> {
  return db.query<IndexRow>(indexesSql(caps), indexScopeParams(scope));
}

/** loadIndexes with size_bytes null: the caller measures sizes apart (see loadTableSizes). */
export async function loadIndexesWithoutSizes(db: Queryable, caps: Capabilities, scope: IndexScope): Promise<IndexRow[]> {
  return db.query<IndexRow>(indexesWithoutSizesSql(caps), indexScopeParams(scope));
}
