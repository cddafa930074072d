// The catalog reads behind planIndex: every name a client gives is looked up here, with bind
// parameters, before any SQL is built from it. Plain SELECTs on pg_catalog only.
import type { Queryable } from '../../db/pool.js';

export interface TableLookupRow {
  schema_oid: string;
  /** Null when the schema exists but holds no relation of that name. */
  table_oid: string | null;
  relkind: string | null;
}

export const lookupTable = (db: Queryable, schema: string, table: string) =>
  db.query<TableLookupRow>(
    /* SQL */ `
    SELECT
      n.oid::text AS schema_oid,
      c.oid::text AS table_oid,
      c.relkind::text AS relkind
    FROM pg_namespace n
    LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = $2
    WHERE n.nspname = $1`,
    [schema, table],
  );

export interface ColumnTypeRow {
  name: string;
  /** The column's type, or a domain's base type (operator classes are declared for those). */
  type_oid: string;
  type: string;
}

/** User columns in order; dropped and system columns are not among them. */
export const loadColumns = (db: Queryable, tableOid: string) =>
  db.query<ColumnTypeRow>(
    /* SQL */ `
    SELECT
      a.attname AS name,
      COALESCE(NULLIF(t.typbasetype, 0), a.atttypid)::text AS type_oid,
      format_type(a.atttypid, a.atttypmod) AS type
    FROM pg_attribute a
    JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = $1::oid
      AND a.attnum > 0
      AND NOT a.attisdropped
    ORDER BY
      a.attnum`,
    [tableOid],
  );

export interface MethodRow {
  name: string;
  can_order: boolean;
  can_unique: boolean;
  can_multi_col: boolean;
  can_include: boolean;
}

// pg_am lost its amcan* columns in 9.6: the properties are read through pg_indexam_has_property.
export const findMethod = (db: Queryable, method: string) =>
  db.query<MethodRow>(
    /* SQL */ `
    SELECT
      a.amname AS name,
      pg_indexam_has_property(a.oid, 'can_order') AS can_order,
      pg_indexam_has_property(a.oid, 'can_unique') AS can_unique,
      pg_indexam_has_property(a.oid, 'can_multi_col') AS can_multi_col,
      COALESCE(pg_indexam_has_property(a.oid, 'can_include'), false) AS can_include
    FROM pg_am a
    WHERE a.amname = $1
      AND a.amtype = 'i'`,
    [method],
  );

export interface OpclassRow {
  position: number;
  /** The named operator class, or the type's default one when none was named; null: none found. */
  opclass: string | null;
  /** Its schema (pg_catalog for PostgreSQL's own). */
  opclass_schema: string | null;
  is_default: boolean | null;
  /** The key's type (null for an expression: unknown before the server analyzes it) fits the class. */
  type_fits: boolean | null;
}

// Whether values of type k.type_oid can go into an operator class for o.opcintype without a
// conversion: the same type, a binary-coercible one (varchar into text_ops), or a polymorphic
// class whose pseudo-type accepts it.
const TYPE_FITS = /* SQL */ `(
        k.type_oid IS NULL
        OR o.opcintype = k.type_oid
        OR EXISTS (SELECT 1 FROM pg_cast c WHERE c.castsource = k.type_oid AND c.casttarget = o.opcintype AND c.castmethod = 'b')
        OR o.opcintype = 'anyelement'::regtype
        OR (o.opcintype = 'anyarray'::regtype AND t.typcategory = 'A')
        OR (o.opcintype = 'anyenum'::regtype AND t.typtype = 'e')
        OR (o.opcintype = 'anyrange'::regtype AND t.typtype = 'r')
        OR (o.opcintype = to_regtype('anymultirange') AND t.typtype = 'm')
      )`;

/** For each key (opclass name or null, type oid or null for an expression): the operator class it gets. */
export const resolveOpclasses = (db: Queryable, method: string, opclasses: Array<string | null>, typeOids: Array<string | null>) =>
  db.query<OpclassRow>(
    /* SQL */ `
    SELECT
      k.position::int AS position,
      m.opcname AS opclass,
      m.nspname AS opclass_schema,
      m.opcdefault AS is_default,
      m.type_fits
    FROM unnest($2::text[], $3::oid[]) WITH ORDINALITY AS k(opclass, type_oid, position)
    LEFT JOIN pg_type t ON t.oid = k.type_oid
    LEFT JOIN LATERAL (
      SELECT
        o.opcname,
        n.nspname,
        o.opcdefault,
        ${TYPE_FITS} AS type_fits
      FROM pg_opclass o
      JOIN pg_namespace n ON n.oid = o.opcnamespace
      JOIN pg_am a ON a.oid = o.opcmethod
      WHERE a.amname = $1
        AND pg_opclass_is_visible(o.oid)
        AND (o.opcname = k.opclass OR (k.opclass IS NULL AND o.opcdefault AND k.type_oid IS NOT NULL))
      ORDER BY
        ${TYPE_FITS} DESC,
        o.opcintype = k.type_oid DESC,
        o.opcname
      LIMIT 1
    ) m ON true
    ORDER BY
      k.position`,
    [method, opclasses, typeOids],
  );

export interface RoutineRow {
  position: number;
  kind: 'function' | 'operator';
  candidates: number;
  immutable: number;
  aggregate: boolean;
  /** For a name given without a schema: the other schemas that have a routine of that name. */
  elsewhere: string[] | null;
}

// Every candidate a name could resolve to (a function's argument count allowing defaults and
// VARIADIC): the server picks one by argument types, which are not known before it analyzes the
// expression. A name without a schema is looked up in pg_catalog alone, as on the DDL session.
export const checkRoutines = (
  db: Queryable,
  functions: Array<{ schema: string | null; name: string; args: number }>,
  operators: Array<{ schema: string | null; name: string }>,
) =>
  db.query<RoutineRow>(
    /* SQL */ `
    SELECT
      w.position::int AS position,
      'function' AS kind,
      count(p.oid)::int AS candidates,
      count(p.oid) FILTER (WHERE p.provolatile = 'i')::int AS immutable,
      COALESCE(bool_or(p.prokind IN ('a', 'w')), false) AS aggregate,
      (
        SELECT array_agg(DISTINCT n.nspname::text ORDER BY n.nspname::text)
        FROM pg_proc o
        JOIN pg_namespace n ON n.oid = o.pronamespace
        WHERE w.schema_name IS NULL
          AND o.proname = w.name
          AND n.nspname <> 'pg_catalog'
      ) AS elsewhere
    FROM unnest($1::text[], $2::text[], $3::int[]) WITH ORDINALITY AS w(schema_name, name, args, position)
    LEFT JOIN pg_proc p
      ON p.proname = w.name
      AND p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = COALESCE(w.schema_name, 'pg_catalog'))
      AND (p.pronargs = w.args OR (p.pronargs > w.args AND p.pronargs - p.pronargdefaults <= w.args) OR p.provariadic <> 0)
    GROUP BY
      w.position,
      w.schema_name,
      w.name
    UNION ALL
    SELECT
      w.position::int,
      'operator',
      count(o.oid)::int,
      count(o.oid) FILTER (WHERE p.provolatile = 'i')::int,
      false,
      (
        SELECT array_agg(DISTINCT n.nspname::text ORDER BY n.nspname::text)
        FROM pg_operator e
        JOIN pg_namespace n ON n.oid = e.oprnamespace
        WHERE w.schema_name IS NULL
          AND e.oprname = w.name
          AND n.nspname <> 'pg_catalog'
      )
    FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS w(schema_name, name, position)
    LEFT JOIN pg_operator o
      ON o.oprname = w.name
      AND o.oprnamespace = (SELECT oid FROM pg_namespace WHERE nspname = COALESCE(w.schema_name, 'pg_catalog'))
    LEFT JOIN pg_proc p ON p.oid = o.oprcode
    GROUP BY
      w.position,
      w.schema_name,
      w.name
    ORDER BY
      kind,
      position`,
    [
      functions.map((f) => f.schema),
      functions.map((f) => f.name),
      functions.map((f) => f.args),
      operators.map((o) => o.schema),
      operators.map((o) => o.name),
    ],
  );

export interface ExistingIndexRow {
  name: string;
  definition: string;
  valid: boolean;
  /** An index of a partitioned table (relkind I): dropped without CONCURRENTLY. */
  partitioned: boolean;
}

export const loadExistingIndexes = (db: Queryable, tableOid: string) =>
  db.query<ExistingIndexRow>(
    /* SQL */ `
    SELECT
      i.relname AS name,
      pg_get_indexdef(i.oid) AS definition,
      x.indisvalid AS valid,
      i.relkind = 'I' AS partitioned
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    WHERE x.indrelid = $1::oid
    ORDER BY
      i.relname`,
    [tableOid],
  );

export interface TakenNameRow {
  name: string;
  relkind: string;
  /** The table the relation indexes, when it is an index. */
  indexed_table_oid: string | null;
}

/** Which of `names` are taken by a relation (table, index, sequence, view...) of the schema. */
export const takenNames = (db: Queryable, schemaOid: string, names: readonly string[]) =>
  db.query<TakenNameRow>(
    /* SQL */ `
    SELECT
      c.relname AS name,
      c.relkind::text AS relkind,
      x.indrelid::text AS indexed_table_oid
    FROM pg_class c
    LEFT JOIN pg_index x ON x.indexrelid = c.oid
    WHERE c.relnamespace = $1::oid
      AND c.relname = ANY ($2::text[])
    ORDER BY
      c.relname`,
    [schemaOid, names],
  );

export interface PartitionTreeRow {
  oid: string;
  parent_oid: string;
  level: number;
  relkind: string;
  schema_oid: string;
  schema: string;
  table: string;
}

/** The partitions below a partitioned table, level by level (parents before their children). */
export const loadPartitionTree = (db: Queryable, tableOid: string) =>
  db.query<PartitionTreeRow>(
    /* SQL */ `
    SELECT
      t.relid::oid::text AS oid,
      t.parentrelid::oid::text AS parent_oid,
      t.level,
      c.relkind::text AS relkind,
      n.oid::text AS schema_oid,
      n.nspname AS schema,
      c.relname AS table
    FROM pg_partition_tree($1::oid::regclass) t
    JOIN pg_class c ON c.oid = t.relid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE t.level > 0
    ORDER BY
      t.level,
      n.nspname,
      c.relname`,
    [tableOid],
  );

export interface PartitionKeyRow {
  table: string;
  /** Null for a key expression. */
  column: string | null;
}

export const loadPartitionKeys = (db: Queryable, tableOids: readonly string[]) =>
  db.query<PartitionKeyRow>(
    /* SQL */ `
    SELECT
      c.relname AS table,
      a.attname AS column
    FROM pg_partitioned_table p
    JOIN pg_class c ON c.oid = p.partrelid
    CROSS JOIN LATERAL unnest(p.partattrs::int2[]) WITH ORDINALITY AS k(attnum, position)
    LEFT JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.attnum AND k.attnum > 0
    WHERE p.partrelid = ANY ($1::oid[])
    ORDER BY
      c.relname,
      k.position`,
    [tableOids],
  );

export interface LongTransactionRow {
  transactions: number;
  longest_seconds: number;
}

// CREATE INDEX CONCURRENTLY waits, in each of its phases, for every transaction of this database
// older than the phase: an idle-in-transaction session holds it up for as long as it stays open.
export const longTransactions = (db: Queryable, olderThanSeconds: number) =>
  db.query<LongTransactionRow>(
    /* SQL */ `
    SELECT
      count(*)::int AS transactions,
      COALESCE(floor(max(extract(epoch FROM now() - xact_start))), 0)::int AS longest_seconds
    FROM pg_stat_activity
    WHERE datname = current_database()
      AND pid <> pg_backend_pid()
      AND xact_start < now() - make_interval(secs => $1)`,
    [olderThanSeconds],
  );
