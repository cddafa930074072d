// Index findings, each with a kind, a stable reason code, its evidence and the SQL that fixes it:
// unused, duplicate, redundant and invalid indexes, and foreign keys without a supporting index.
// All kinds come from one statement over one set of facts per index, computed from pg_index's
// arrays (key columns and expressions, operator classes, collations, ordering, INCLUDE, predicate,
// access method); partitioned indexes are judged once, on the parent, with leaf usage summed.
// The sentences a person reads are written in src/review/indexFindings.ts.
import { type Capabilities, perServerVersion } from './capabilities.js';
import { leavesOf } from './fragments.js';
import { indexFactsCtes, indexScopeParams } from './indexes.js';
import type { Queryable } from './pool.js';

export const IndexFindingKinds = ['INVALID', 'UNUSED', 'DUPLICATE', 'REDUNDANT', 'MISSING_FK_INDEX'] as const;
export type IndexFindingKind = (typeof IndexFindingKinds)[number];

export const IndexFindingReasons = [
  'BUILD_IN_PROGRESS',
  'BUILD_FAILED',
  'PARTITIONS_NOT_ATTACHED',
  'NO_SCANS',
  'IDENTICAL_DEFINITION',
  'SAME_KEYS_AS_UNIQUE_INDEX',
  'SAME_KEYS_REVERSED',
  'LEADING_PREFIX_OF_OTHER',
  'FEWER_INCLUDED_COLUMNS',
  'NO_LEADING_INDEX',
] as const;
export type IndexFindingReason = (typeof IndexFindingReasons)[number];

export interface IndexFindingRow {
  kind: IndexFindingKind;
  reason_code: IndexFindingReason;
  schema: string;
  table: string;
  index_oid: number | null;
  index_name: string | null;
  /** DUPLICATE/REDUNDANT: the index that stays and serves the same queries. */
  covering_index_oid: number | null;
  covering_index_name: string | null;
  is_partitioned: boolean;
  has_expressions: boolean;
  /** The constraint the index backs (it is then dropped with ALTER TABLE ... DROP CONSTRAINT). */
  constraint_name: string | null;
  /** MISSING_FK_INDEX: the foreign key, its referencing columns and the table it references. */
  foreign_key_name: string | null;
  foreign_key_columns: string[] | null;
  referenced_schema: string | null;
  referenced_table: string | null;
  /** Summed over leaf indexes for a partitioned index; null for MISSING_FK_INDEX. */
  scans: bigint | null;
  /** The index's size; for MISSING_FK_INDEX the referencing table's total size. */
  size_bytes: bigint;
  size_pretty: string;
  last_scan_at: Date | null;
  table_seq_scans: bigint | null;
  /** pg_stat_database.stats_reset of this database; null when its statistics were never reset. */
  stats_reset_at: Date | null;
  stats_age_days: number | null;
  build_pid: number | null;
  build_command: string | null;
  build_phase: string | null;
  suggested_sql: string | null;
}

export interface FindingScope {
  tableOids: readonly number[] | null;
  schema: string | null;
  includePartitions: boolean;
  kinds: readonly IndexFindingKind[];
}

/** One CTE per kind, each naming the index (or foreign key) and why; $5 lists the kinds asked for. */
const FINDINGS_BY_KIND = /* SQL */ `
  invalid AS (
    SELECT
      'INVALID' AS kind,
      CASE
        WHEN build.pid IS NOT NULL THEN 'BUILD_IN_PROGRESS'
        WHEN f.is_partitioned THEN 'PARTITIONS_NOT_ATTACHED'
        ELSE 'BUILD_FAILED'
      END AS reason_code,
      f.oid AS index_oid,
      NULL::oid AS covering_index_oid,
      NULL::oid AS foreign_key_oid,
      build.pid AS build_pid,
      build.command AS build_command,
      build.phase AS build_phase
    FROM facts f
    LEFT JOIN LATERAL (
      -- Any index build on the table counts: REINDEX CONCURRENTLY reports the old index's OID
      -- while its invalid "_ccnew" copy is the one being built.
      SELECT
        p.pid,
        p.command,
        p.phase
      FROM pg_stat_progress_create_index p
      WHERE p.datname = current_database()
        AND (p.index_relid = f.oid OR p.relid = f.table_oid)
      ORDER BY p.pid
      LIMIT 1
    ) build ON true
    WHERE 'INVALID' = ANY ($5::text[])
      AND NOT f.is_valid
  ),
  unused AS (
    SELECT
      'UNUSED' AS kind,
      'NO_SCANS' AS reason_code,
      f.oid AS index_oid,
      NULL::oid AS covering_index_oid,
      NULL::oid AS foreign_key_oid,
      NULL::int AS build_pid,
      NULL::text AS build_command,
      NULL::text AS build_phase
    FROM facts f
    WHERE 'UNUSED' = ANY ($5::text[])
      AND f.scans = 0
      AND f.is_valid
      AND NOT f.is_unique
      AND f.constraint_name IS NULL
      AND NOT f.is_attached
      -- an index that serves a foreign key's check is used by every DELETE of a referenced row,
      -- which index scan counters may not show for months
      AND cardinality(f.foreign_keys) = 0
  ),
  duplicate AS (
    SELECT DISTINCT ON (d.oid)
      'DUPLICATE' AS kind,
      CASE
        WHEN k.key_signature <> d.key_signature THEN 'SAME_KEYS_REVERSED'
        WHEN d.is_unique = k.is_unique THEN 'IDENTICAL_DEFINITION'
        ELSE 'SAME_KEYS_AS_UNIQUE_INDEX'
      END AS reason_code,
      d.oid AS index_oid,
      k.oid AS covering_index_oid,
      NULL::oid AS foreign_key_oid,
      NULL::int AS build_pid,
      NULL::text AS build_command,
      NULL::text AS build_phase
    FROM facts d
    JOIN facts k
      ON k.table_oid = d.table_oid
      AND k.oid <> d.oid
      AND k.access_method = d.access_method
      AND (k.key_signature = d.key_signature OR (d.access_method = 'btree' AND k.reversed_signature = d.key_signature))
      AND k.predicate IS NOT DISTINCT FROM d.predicate
      AND k.include_columns @> d.include_columns
      AND k.include_columns <@ d.include_columns
    WHERE 'DUPLICATE' = ANY ($5::text[])
      AND d.is_valid
      AND k.is_valid
      AND NOT d.is_attached
      -- k stays if it ranks higher: unique, primary key, backing a constraint, attached to a
      -- partitioned index (it cannot be dropped alone), more scans, older
      AND (k.is_unique, k.is_primary, k.constraint_name IS NOT NULL, k.is_attached, k.scans, d.oid)
        > (d.is_unique, d.is_primary, d.constraint_name IS NOT NULL, d.is_attached, d.scans, k.oid)
    ORDER BY
      d.oid,
      k.is_unique DESC,
      k.is_primary DESC,
      k.constraint_name IS NOT NULL DESC,
      k.is_attached DESC,
      k.scans DESC,
      k.oid
  ),
  redundant AS (
    SELECT DISTINCT ON (d.oid)
      'REDUNDANT' AS kind,
      CASE
        WHEN cardinality(k.key_signature) = cardinality(d.key_signature) THEN 'FEWER_INCLUDED_COLUMNS'
        ELSE 'LEADING_PREFIX_OF_OTHER'
      END AS reason_code,
      d.oid AS index_oid,
      k.oid AS covering_index_oid,
      NULL::oid AS foreign_key_oid,
      NULL::int AS build_pid,
      NULL::text AS build_command,
      NULL::text AS build_phase
    FROM facts d
    JOIN facts k
      ON k.table_oid = d.table_oid
      AND k.oid <> d.oid
      -- only a btree serves every query on a leading prefix of its key
      AND k.access_method = 'btree'
      AND d.access_method = 'btree'
      -- a partial index is covered only by one with the same predicate, never by a full one
      AND k.predicate IS NOT DISTINCT FROM d.predicate
      AND cardinality(d.key_signature) <= cardinality(k.key_signature)
      AND d.key_signature IN (k.key_signature[1:cardinality(d.key_signature)], k.reversed_signature[1:cardinality(d.key_signature)])
      AND d.include_columns <@ (k.key_expressions || k.include_columns)
      -- the same key and the same INCLUDE set is a DUPLICATE
      AND NOT (d.key_signature IN (k.key_signature, k.reversed_signature) AND k.include_columns <@ d.include_columns)
    WHERE 'REDUNDANT' = ANY ($5::text[])
      AND d.is_valid
      AND k.is_valid
      AND NOT d.is_unique
      AND d.constraint_name IS NULL
      AND NOT d.is_attached
      -- an exact duplicate is reported as that, once
      AND NOT EXISTS (SELECT FROM duplicate dup WHERE dup.index_oid = d.oid)
    ORDER BY
      d.oid,
      cardinality(k.key_signature) DESC,
      cardinality(k.include_columns) DESC,
      k.oid
  ),
  missing_fk AS (
    SELECT
      'MISSING_FK_INDEX' AS kind,
      'NO_LEADING_INDEX' AS reason_code,
      NULL::oid AS index_oid,
      NULL::oid AS covering_index_oid,
      con.oid AS foreign_key_oid,
      NULL::int AS build_pid,
      NULL::text AS build_command,
      NULL::text AS build_phase
    FROM pg_constraint con
    JOIN scoped_tables st ON st.oid = con.conrelid
    WHERE 'MISSING_FK_INDEX' = ANY ($5::text[])
      AND con.contype = 'f'
      -- the constraint as declared, not its clones on each partition
      AND con.conparentid = 0
      AND NOT EXISTS (
        SELECT
        FROM facts f
        WHERE f.table_oid = con.conrelid
          AND f.is_valid
          AND con.conname = ANY (f.foreign_keys)
      )
  ),
  findings AS (
    SELECT * FROM invalid
    UNION ALL
    SELECT * FROM unused
    UNION ALL
    SELECT * FROM duplicate
    UNION ALL
    SELECT * FROM redundant
    UNION ALL
    SELECT * FROM missing_fk
  )`;

/** Binds IndexScope as $1 to $4 (see indexFactsCtes) and the kinds asked for as $5. */
export const indexFindingsSql = perServerVersion(
  (caps) => /* SQL */ `
    WITH ${indexFactsCtes(caps)},
    ${FINDINGS_BY_KIND},
    stats AS (
      SELECT
        stats_reset AS reset_at,
        extract(epoch FROM now() - stats_reset)::float8 / 86400 AS age_days
      FROM pg_stat_database
      WHERE datname = current_database()
    )
    SELECT
      fi.kind,
      fi.reason_code,
      coalesce(f.schema, fk_table.nspname) AS schema,
      coalesce(f.table_name, fk_table.relname) AS table,
      fi.index_oid,
      f.index_name,
      fi.covering_index_oid,
      k.index_name AS covering_index_name,
      coalesce(f.is_partitioned, fk_table.relkind = 'p') AS is_partitioned,
      coalesce(f.has_expressions, false) AS has_expressions,
      f.constraint_name,
      fk.conname AS foreign_key_name,
      fk_columns.names AS foreign_key_columns,
      rn.nspname AS referenced_schema,
      rt.relname AS referenced_table,
      f.scans,
      coalesce(f.size_bytes, fk_table.size_bytes) AS size_bytes,
      pg_size_pretty(coalesce(f.size_bytes, fk_table.size_bytes)) AS size_pretty,
      f.last_scan_at,
      fk_table.seq_scans AS table_seq_scans,
      stats.reset_at AS stats_reset_at,
      stats.age_days AS stats_age_days,
      fi.build_pid,
      fi.build_command,
      fi.build_phase,
      CASE
        WHEN fi.reason_code IN ('BUILD_IN_PROGRESS', 'PARTITIONS_NOT_ATTACHED') THEN NULL
        -- CREATE INDEX CONCURRENTLY fails on a partitioned table
        WHEN fi.kind = 'MISSING_FK_INDEX' THEN format(
          CASE WHEN fk_table.relkind = 'p' THEN 'CREATE INDEX ON %I.%I (%s);' ELSE 'CREATE INDEX CONCURRENTLY ON %I.%I (%s);' END,
          fk_table.nspname,
          fk_table.relname,
          fk_columns.quoted
        )
        -- an index attached to a partitioned index cannot be dropped on its own
        WHEN f.is_attached THEN format('REINDEX INDEX CONCURRENTLY %I.%I;', f.schema, f.index_name)
        WHEN f.constraint_name IS NOT NULL THEN format('ALTER TABLE %I.%I DROP CONSTRAINT %I;', f.schema, f.table_name, f.constraint_name)
        -- DROP INDEX CONCURRENTLY fails on a partitioned index
        WHEN f.is_partitioned THEN format('DROP INDEX %I.%I;', f.schema, f.index_name)
        ELSE format('DROP INDEX CONCURRENTLY %I.%I;', f.schema, f.index_name)
      END AS suggested_sql
    FROM findings fi
    LEFT JOIN stats ON true
    LEFT JOIN facts f ON f.oid = fi.index_oid
    LEFT JOIN facts k ON k.oid = fi.covering_index_oid
    LEFT JOIN pg_constraint fk ON fk.oid = fi.foreign_key_oid
    LEFT JOIN pg_class rt ON rt.oid = fk.confrelid
    LEFT JOIN pg_namespace rn ON rn.oid = rt.relnamespace
    LEFT JOIN LATERAL (
      SELECT
        array_agg(a.attname::text ORDER BY key.pos) AS names,
        string_agg(quote_ident(a.attname), ', ' ORDER BY key.pos) AS quoted
      FROM unnest(fk.conkey) WITH ORDINALITY key(attnum, pos)
      JOIN pg_attribute a ON a.attrelid = fk.conrelid AND a.attnum = key.attnum
    ) fk_columns ON fk.oid IS NOT NULL
    LEFT JOIN LATERAL (
      SELECT
        st.nspname,
        st.relname,
        st.relkind,
        coalesce(sum(pg_total_relation_size(leaf.relid)), 0)::int8 AS size_bytes,
        coalesce(sum(s.seq_scan), 0)::int8 AS seq_scans
      FROM scoped_tables st
      CROSS JOIN LATERAL (${leavesOf('st')}
      ) leaf
      LEFT JOIN pg_stat_all_tables s ON s.relid = leaf.relid
      WHERE st.oid = fk.conrelid
      GROUP BY st.nspname, st.relname, st.relkind
    ) fk_table ON fk.oid IS NOT NULL
    ORDER BY
      coalesce(f.schema, fk_table.nspname),
      coalesce(f.table_name, fk_table.relname),
      array_position(ARRAY['INVALID', 'UNUSED', 'DUPLICATE', 'REDUNDANT', 'MISSING_FK_INDEX'], fi.kind),
      f.index_name,
      fk.conname,
      coalesce(fi.index_oid, fi.foreign_key_oid)`,
);

/** The findings in scope, as rows (src/review/indexFindings.ts adds the sentence). */
export async function indexFindingRows(db: Queryable, caps: Capabilities, scope: FindingScope): Promise<IndexFindingRow[]> {
  const params = indexScopeParams({ tableOids: scope.tableOids, schema: scope.schema, includePartitions: scope.includePartitions });
  return db.query<IndexFindingRow>(indexFindingsSql(caps), [...params, scope.kinds]);
}
