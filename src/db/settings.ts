// Settings review: the server settings that matter most for performance, read from pg_settings as
// pgscope's own sessions see them (database and role overrides included), with the evidence the
// advice needs (temporary files, connections, large tables, pg_stat_statements evictions), and the
// rules in src/review/settings.ts turn them into advice. SQL cannot see the machine's memory or
// disks, so the caller may pass them. pgscope's sessions SET only timeouts, none of the settings reviewed.
import type { Capabilities } from './capabilities.js';
import type { Queryable } from './pool.js';
import { OUTSIDE_SYSTEM_SCHEMAS } from './fragments.js';
import { quoteIdent } from '../sql/quote.js';

export const REVIEWED_SETTINGS = [
  'shared_buffers',
  'effective_cache_size',
  'work_mem',
  'maintenance_work_mem',
  'random_page_cost',
  'effective_io_concurrency',
  'max_connections',
  'superuser_reserved_connections',
  'reserved_connections',
  'autovacuum',
  'track_counts',
  'autovacuum_vacuum_scale_factor',
  'track_io_timing',
  'pg_stat_statements.max',
] as const;

/** A table with at least this many rows waits for 200,000 dead rows under the default scale factor 0.2. */
export const LARGE_TABLE_ROWS = 1_000_000;

export interface SettingRow {
  name: string;
  /** pg_settings.setting: the value in `unit` (e.g. "16384" with unit "8kB"). */
  value: string;
  unit: string | null;
  /** The value as SHOW prints it, e.g. "128MB". For people only: never parsed. */
  display: string;
  /** Where the value comes from: default, configuration file, database, user, command line... */
  source: string;
  /** Changing it needs a server restart (context postmaster). */
  requires_restart: boolean;
  /** setting x unit size, for memory settings; null for others or special negative values. */
  value_bytes: bigint | null;
  /** setting x unit length in milliseconds, for time settings. */
  value_ms: number | null;
  /** The value as a number, for integer and real settings. */
  value_number: number | null;
}

export interface SettingsEvidence {
  /** Temporary files written by queries of this database since its statistics reset. */
  temp_files: bigint;
  temp_bytes: bigint;
  /** Client connections open on the whole server now. */
  client_connections: number;
}

export interface LargeTableRow {
  schema: string;
  table: string;
  /** schema.table, quoted where SQL needs it (quote_ident), ready to paste into ALTER TABLE. */
  qualified_name: string;
  row_estimate: bigint;
  /** How many large tables lack an override in all (only the first few rows are returned). */
  total: number;
}

export interface SettingsSnapshot {
  settings: Map<string, SettingRow>;
  evidence: SettingsEvidence;
  /** Large tables that use the global autovacuum_vacuum_scale_factor, largest first. */
  largeTables: LargeTableRow[];
  /** pg_stat_statements_info.dealloc, or why it cannot be read. */
  statementsDeallocated: bigint | 'NOT_INSTALLED' | 'BEFORE_1_9';
}

// Sizes come from setting x unit ("16384" x "8kB"), never from the display string; the unit may
// carry a multiplier, and a negative setting means "use another setting" (e.g. autovacuum_work_mem).
const SETTINGS_SQL = /* SQL */ `
  SELECT
    name,
    setting AS value,
    unit,
    current_setting(name) AS display,
    source,
    context = 'postmaster' AS requires_restart,
    CASE
      WHEN vartype = 'integer' AND unit ~ '^[0-9]*(B|kB|MB|GB|TB)$' THEN
        CASE
          WHEN setting::int8 >= 0 THEN
            (setting::numeric
              * coalesce(nullif(substring(unit FROM '^[0-9]+'), '')::numeric, 1)
              * CASE substring(unit FROM '[A-Za-z]+$')
                  WHEN 'B' THEN 1
                  WHEN 'kB' THEN 1024
                  WHEN 'MB' THEN 1048576
                  WHEN 'GB' THEN 1073741824
                  WHEN 'TB' THEN 1099511627776
                END)::int8
        END
    END AS value_bytes,
    CASE
      WHEN vartype IN ('integer', 'real') THEN
        setting::float8 * CASE unit
          WHEN 'us' THEN 0.001
          WHEN 'ms' THEN 1
          WHEN 's' THEN 1000
          WHEN 'min' THEN 60000
          WHEN 'h' THEN 3600000
          WHEN 'd' THEN 86400000
        END
    END AS value_ms,
    CASE
      WHEN vartype IN ('integer', 'real') THEN setting::float8
    END AS value_number
  FROM pg_settings
  WHERE name = ANY ($1::text[])
  ORDER BY name`;

const EVIDENCE_SQL = /* SQL */ `
  SELECT
    d.temp_files,
    d.temp_bytes,
    (
      SELECT count(*)::int
      FROM pg_stat_activity
      WHERE backend_type = 'client backend'
    ) AS client_connections
  FROM pg_stat_database d
  WHERE d.datname = current_database()`;

// Autovacuum works on plain tables and materialized views (partitioned parents hold no rows).
// reloptions lists a per-table override as 'autovacuum_vacuum_scale_factor=0.01'.
const LARGE_TABLES_SQL = /* SQL */ `
  SELECT
    n.nspname AS schema,
    c.relname AS table,
    format('%I.%I', n.nspname, c.relname) AS qualified_name,
    c.reltuples::int8 AS row_estimate,
    count(*) OVER ()::int AS total
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'm')
    AND c.reltuples >= $1
    -- pgscope's own tables count here: autovacuum treats its history like any other large table
    AND ${OUTSIDE_SYSTEM_SCHEMAS}
    AND NOT EXISTS (
      SELECT
      FROM unnest(c.reloptions) AS option
      WHERE option LIKE 'autovacuum\\_vacuum\\_scale\\_factor=%'
    )
  ORDER BY
    c.reltuples DESC,
    n.nspname,
    c.relname
  LIMIT $2`;

/** How many large tables the advice names (the rest are counted). */
const NAMED_TABLES = 5;

export async function readSettingsSnapshot(db: Queryable, caps: Capabilities): Promise<SettingsSnapshot> {
  const [settings, [evidence], largeTables, statementsDeallocated] = await Promise.all([
    db.query<SettingRow>(SETTINGS_SQL, [REVIEWED_SETTINGS]),
    db.query<SettingsEvidence>(EVIDENCE_SQL),
    db.query<LargeTableRow>(LARGE_TABLES_SQL, [LARGE_TABLE_ROWS, NAMED_TABLES]),
    statementDeallocations(db, caps),
  ]);
  return {
    settings: new Map(settings.map((row) => [row.name, row])),
    evidence: evidence!,
    largeTables,
    statementsDeallocated,
  };
}

/** pg_stat_statements_info exists from extension 1.9 (PostgreSQL 14). */
async function statementDeallocations(db: Queryable, caps: Capabilities): Promise<SettingsSnapshot['statementsDeallocated']> {
  const ext = caps.pgStatStatements;
  if (!caps.pgStatStatementsReadable) return 'NOT_INSTALLED';
  const [major = 0, minor = 0] = (ext.version ?? '0').split('.').map(Number);
  if (major * 100 + minor < 109) return 'BEFORE_1_9';
  try {
    const [row] = await db.query<{ dealloc: bigint }>(/* SQL */ `SELECT dealloc FROM ${quoteIdent(ext.schema!)}.pg_stat_statements_info`);
    return row!.dealloc;
  } catch {
    // Dropped or unloaded since detection: the review still answers, without this evidence.
    return 'NOT_INSTALLED';
  }
}
