// Index usage: every index with its definition, flags, size and scan counters. A partitioned index
// (relkind 'I') has no statistics of its own (it is absent from pg_stat_all_indexes): its counters
// and size are summed over the leaf indexes of its partitions. The same facts feed indexFindings.
import { type Capabilities, perServerVersion } from './capabilities.js';
import type { Queryable } from './pool.js';
import { DEFAULT_LISTED_SCHEMAS } from './fragments.js';

export type IndexConstraintType = 'PRIMARY_KEY' | 'UNIQUE' | 'EXCLUSION';

/** What every statement reads of an index: pg_index's and pg_class's own columns. */
interface IndexBaseRow {
  oid: number;
  table_oid: number;
  schema: string;
  table: string;
  index_name: string;
  access_method: string;
  is_unique: boolean;
  is_primary: boolean;
  is_valid: boolean;
  /** False while CREATE INDEX CONCURRENTLY has not reached its second phase (writes skip it). */
  is_ready: boolean;
  is_partitioned: boolean;
  /** Null when the statement did not measure sizes (loadIndexesWithoutSizes). */
  size_bytes: bigint | null;
}

/**
 * The facts a statement computes only when asked for (see IndexParts): each costs a function call,
 * a deparse or a catalog probe per index, and a list of 10,000 indexes that asks for a few of them
 * should not pay for all.
 */
export interface IndexPartColumns {
  definition: { definition: string };
  predicate: { predicate: string | null };
  columns: {
    /** Key columns and expressions, with DESC / NULLS FIRST / NULLS LAST where not the default. */
    key_columns: string[];
    include_columns: string[];
  };
  constraint: { constraint_name: string | null; constraint_type: IndexConstraintType | null };
  /** Foreign keys of the table whose referencing columns are this index's leading key columns. */
  foreignKeys: { foreign_keys: string[] };
  /** The partitioned index this index is attached to (an index of a partition). */
  parent: { parent_index_name: string | null };
  usage: {
    scans: bigint;
    tuples_read: bigint;
    tuples_fetched: bigint;
    /** Null before PostgreSQL 16 and for an index never scanned. */
    last_scan_at: Date | null;
    cache_hit_ratio: number | null;
  };
}

export type IndexPart = keyof IndexPartColumns;
export type IndexParts = ReadonlySet<IndexPart>;

const INDEX_PARTS: readonly IndexPart[] = ['definition', 'predicate', 'columns', 'constraint', 'foreignKeys', 'parent', 'usage'];
export const ALL_INDEX_PARTS: IndexParts = new Set(INDEX_PARTS);

/** The columns each part adds to a row, as the statements name them. */
const PART_COLUMNS: { [P in IndexPart]: ReadonlyArray<keyof IndexPartColumns[P]> } = {
  definition: ['definition'],
  predicate: ['predicate'],
  columns: ['key_columns', 'include_columns'],
  constraint: ['constraint_name', 'constraint_type'],
  foreignKeys: ['foreign_keys'],
  parent: ['parent_index_name'],
  usage: ['scans', 'tuples_read', 'tuples_fetched', 'last_scan_at', 'cache_hit_ratio'],
};

type AllParts = IndexPartColumns[IndexPart];
type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** An index with every part. */
export type IndexRow = IndexBaseRow & Intersection<AllParts>;
/** An index with the parts its statement was asked for: a part not asked for is absent (undefined). */
export type PartialIndexRow = IndexBaseRow & Partial<Intersection<AllParts>>;

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
 * CTEs ending in `facts` (one row per index in scope), for statements that bind IndexScope as $1
 * to $4. Key columns, operator classes, collations and ordering come from pg_index's arrays, so
 * that indexes can be compared exactly (see indexFindings).
 * - `withSizes`: false leaves size_bytes null (the caller measures sizes apart).
 * - `comparison`: false leaves key_expressions, key_signature and reversed_signature null. Only
 *   indexFindings compares indexes, reading `facts` several times (so materialized: every column
 *   costs, read or not).
 * - `parts`: the facts beyond pg_index's own columns to compute (IndexParts); the others are null.
 */
export function indexFactsCtes(caps: Capabilities, withSizes = true, comparison = true, parts: IndexParts = ALL_INDEX_PARTS): string {
  const part = (name: IndexPart, sql: string, otherwise: string) => (parts.has(name) ? sql : otherwise);
  const leaves = withSizes || parts.has('usage');
  // pg_stat_all_indexes.last_idx_scan (pg_stat_get_lastscan) exists from PostgreSQL 16.
  const lastScan = (relid: string) => (caps.serverVersionNum >= 160000 ? `pg_stat_get_lastscan(${relid})` : 'NULL::timestamptz');
  // An index's counters and size come from the functions behind pg_stat_all_indexes and
  // pg_statio_all_indexes, called on it directly (the views would join pg_class and pg_index again
  // for every index); a partitioned index's are summed over its leaves, in partitioned_usage.
  const usage = (sql: (relid: string) => string, summed: string) => `CASE WHEN ic.relkind = 'I' THEN ${summed} ELSE ${sql('ic.oid')} END`;
  const hitRatio = (relid: string) => `pg_stat_get_blocks_hit(${relid})::float8 / nullif(pg_stat_get_blocks_fetched(${relid}), 0)`;
  // each branch of scoped_tables: the tables (of schema $3, when given) and what the branch adds
  const scopedTables = /* SQL */ `SELECT
        t.oid,
        n.nspname,
        t.relname,
        t.relkind
      FROM pg_class t
      JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE t.relkind IN ('r', 'p', 'm')
        AND ($3::text IS NULL OR n.nspname = $3::text)`;
  return /* SQL */ `
    -- Two branches, one of which a plan's one-time filter skips: statements are prepared with
    -- generic plans (pool.ts), and a generic plan cannot hash \`oid = ANY ($1)\` over a scan of
    -- pg_class (5,000 OIDs: 25,000 rows times 5,000 comparisons), while it can probe the index.
    scoped_tables AS (
      ${scopedTables}
        AND $1::oid[] IS NOT NULL
        AND t.oid = ANY ($1::oid[])
      UNION ALL
      ${scopedTables}
        AND $1::oid[] IS NULL
        AND ($2::oid[] IS NOT NULL OR $3::text IS NOT NULL OR ${DEFAULT_LISTED_SCHEMAS})
        AND ($2::oid[] IS NOT NULL OR $4::bool OR NOT t.relispartition)
    ),
${
  leaves
    ? `    partitioned_usage AS (
      SELECT
        pic.oid,
        sum(pg_stat_get_numscans(leaf.relid))::int8 AS scans,
        sum(pg_stat_get_tuples_returned(leaf.relid))::int8 AS tuples_read,
        sum(pg_stat_get_tuples_fetched(leaf.relid))::int8 AS tuples_fetched,
        ${withSizes ? 'sum(pg_relation_size(leaf.relid))::int8' : 'NULL::int8'} AS size_bytes,
        max(${lastScan('leaf.relid')}) AS last_scan_at,
        sum(pg_stat_get_blocks_hit(leaf.relid))::float8 / nullif(sum(pg_stat_get_blocks_fetched(leaf.relid)), 0) AS cache_hit_ratio
      FROM scoped_tables st
      JOIN pg_index pi ON pi.indrelid = st.oid
      JOIN pg_class pic ON pic.oid = pi.indexrelid
      CROSS JOIN LATERAL pg_partition_tree(pic.oid) leaf
      WHERE pic.relkind = 'I'
        AND leaf.isleaf
      GROUP BY pic.oid
    ),`
    : ''
}
    facts AS (
      SELECT
        ic.oid,
        st.oid AS table_oid,
        st.nspname AS schema,
        st.relname AS table_name,
        ic.relname AS index_name,
        am.amname AS access_method,
        ${part('definition', 'pg_get_indexdef(ic.oid)', 'NULL::text')} AS definition,
        i.indisunique AS is_unique,
        i.indisprimary AS is_primary,
        i.indisvalid AS is_valid,
        i.indisready AS is_ready,
        ic.relkind = 'I' AS is_partitioned,
        i.indexprs IS NOT NULL AS has_expressions,
        ${part('predicate', 'pg_get_expr(i.indpred, i.indrelid)', 'NULL::text')} AS predicate,
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
        ${
          parts.has('columns')
            ? `ARRAY(
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
        ) AS include_columns`
            : 'NULL::text[] AS key_columns, NULL::text[] AS include_columns'
        },
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
        ${part('constraint', 'con.conname', 'NULL::name')} AS constraint_name,
        ${part('constraint', "CASE con.contype WHEN 'p' THEN 'PRIMARY_KEY' WHEN 'u' THEN 'UNIQUE' WHEN 'x' THEN 'EXCLUSION' END", 'NULL::text')} AS constraint_type,
        ${part(
          'foreignKeys',
          `ARRAY(
          SELECT fk.conname::text
          FROM pg_constraint fk
          WHERE fk.contype = 'f'
            AND fk.conrelid = i.indrelid
            AND ${SERVES_FOREIGN_KEY}
          ORDER BY fk.conname
        )`,
          'NULL::text[]',
        )} AS foreign_keys,
        ${part('parent', 'attached.inhparent IS NOT NULL', 'NULL::bool')} AS is_attached,
        ${part('parent', 'parent_index.relname', 'NULL::name')} AS parent_index_name,
        ${part(
          'usage',
          usage((relid) => `pg_stat_get_numscans(${relid})`, 'coalesce(pu.scans, 0)'),
          'NULL::int8',
        )} AS scans,
        ${part(
          'usage',
          usage((relid) => `pg_stat_get_tuples_returned(${relid})`, 'coalesce(pu.tuples_read, 0)'),
          'NULL::int8',
        )} AS tuples_read,
        ${part(
          'usage',
          usage((relid) => `pg_stat_get_tuples_fetched(${relid})`, 'coalesce(pu.tuples_fetched, 0)'),
          'NULL::int8',
        )} AS tuples_fetched,
        ${withSizes ? usage((relid) => `pg_relation_size(${relid})`, 'coalesce(pu.size_bytes, 0)') : 'NULL::int8'} AS size_bytes,
        ${part('usage', usage(lastScan, 'pu.last_scan_at'), 'NULL::timestamptz')} AS last_scan_at,
        ${part('usage', usage(hitRatio, 'pu.cache_hit_ratio'), 'NULL::float8')} AS cache_hit_ratio
      FROM scoped_tables st
      JOIN pg_index i ON i.indrelid = st.oid
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_am am ON am.oid = ic.relam
${part(
  'constraint',
  `      LEFT JOIN pg_constraint con
        ON con.conindid = i.indexrelid
        AND con.conrelid = i.indrelid
        AND con.contype IN ('p', 'u', 'x')`,
  '',
)}
${part(
  'parent',
  `      LEFT JOIN pg_inherits attached ON attached.inhrelid = i.indexrelid
      LEFT JOIN pg_class parent_index ON parent_index.oid = attached.inhparent`,
  '',
)}
${leaves ? '      LEFT JOIN partitioned_usage pu ON pu.oid = ic.oid' : ''}
      WHERE $2::oid[] IS NULL
        OR i.indexrelid = ANY ($2::oid[])
    )`;
}

export const indexesSql = perServerVersion((caps) => buildIndexesSql(caps, true, false, ALL_INDEX_PARTS));

/** The parts in a fixed order, as a key: "definition,usage". */
export const indexPartsKey = (parts: IndexParts): string => INDEX_PARTS.filter((part) => parts.has(part)).join(',');

const withoutSizesBuilt = new Map<string, string>();

/**
 * Without sizes, by table: Table.indexes, whose sizes come from the request's size loader (one
 * measure per relation), and which groups them by table. Sorted by table OID first, names are
 * compared (in the database's collation, costly) only within a table. Only `parts` are computed.
 */
export function indexesWithoutSizesSql(caps: Capabilities, parts: IndexParts = ALL_INDEX_PARTS): string {
  const key = `${caps.serverVersionNum}:${indexPartsKey(parts)}`;
  let sql = withoutSizesBuilt.get(key);
  if (sql === undefined) {
    sql = buildIndexesSql(caps, false, true, parts);
    withoutSizesBuilt.set(key, sql);
  }
  return sql;
}

function buildIndexesSql(caps: Capabilities, withSizes: boolean, byTable: boolean, parts: IndexParts): string {
  const partColumns = INDEX_PARTS.filter((part) => parts.has(part)).flatMap((part) => PART_COLUMNS[part] as readonly string[]);
  return /* SQL */ `
    WITH ${indexFactsCtes(caps, withSizes, false, parts)}
    SELECT
      f.oid,
      f.table_oid,
      f.schema,
      f.table_name AS table,
      f.index_name,
      f.access_method,
      f.is_unique,
      f.is_primary,
      f.is_valid,
      f.is_ready,
      f.is_partitioned,
      ${partColumns.map((column) => `f.${column},`).join('\n      ')}
      f.size_bytes
    FROM facts f
    ORDER BY
      ${byTable ? 'f.table_oid' : 'f.schema, f.table_name'},
      f.index_name,
      f.oid`;
}

export async function loadIndexes(db: Queryable, caps: Capabilities, scope: IndexScope): Promise<IndexRow[]> {
  return db.query<IndexRow>(indexesSql(caps), indexScopeParams(scope));
}

/**
 * loadIndexes with size_bytes null (the caller measures sizes apart, see loadTableSizes) and only
 * `parts` of the facts beyond pg_index's own columns.
 */
export async function loadIndexesWithoutSizes(
  db: Queryable,
  caps: Capabilities,
  scope: IndexScope,
  parts: IndexParts = ALL_INDEX_PARTS,
): Promise<PartialIndexRow[]> {
  return db.query<PartialIndexRow>(indexesWithoutSizesSql(caps, parts), indexScopeParams(scope));
}
