// What the target database can do for pgscope, read from the catalog: server version, extensions
// and their versions, pg_stat_statements' real columns, privileges. Detected once and refreshed
// at most every minute, so a user who runs CREATE EXTENSION sees pgscope adapt without a restart.
import { ErrorCode, PgscopeError } from '../errors.js';
import type { Queryable } from './pool.js';
import { SqlState, sqlStateOf } from './sqlState.js';
import { quoteIdent } from '../sql/quote.js';

export interface ExtensionState {
  /** Installed in this database (CREATE EXTENSION done). */
  installed: boolean;
  /** Installed version, e.g. "1.10". */
  version: string | null;
  /** Schema the extension's objects live in. */
  schema: string | null;
  /** The server can install it (its files are present). */
  available: boolean;
}

export interface Capabilities {
  serverVersion: string;
  /** e.g. 150018 for 15.18. */
  serverVersionNum: number;
  database: string;
  role: string;
  isSuperuser: boolean;
  /** Member of pg_read_all_stats (directly, through pg_monitor, or as superuser). */
  canReadAllStats: boolean;
  isMonitor: boolean;
  /** May create the `pgscope` schema (CREATE on the database) or it exists already. */
  canCreateSchema: boolean;
  /** The server is a hot standby (pg_is_in_recovery()): it answers reads and refuses every write. */
  readOnlyReplica: boolean;
  /** `pg_stat_statements` is in shared_preload_libraries; null when the role cannot see the setting. */
  pgStatStatementsPreloaded: boolean | null;
  /** The view answered: the library is loaded and the extension is installed here. */
  pgStatStatementsReadable: boolean;
  pgStatStatements: ExtensionState;
  /** Column names of the pg_stat_statements view as installed (they differ by extension version). */
  pgStatStatementsColumns: ReadonlySet<string>;
  hypopg: ExtensionState;
  /** HypoPG's hide-index functions exist (absent in Debian's 1.3.1). */
  hypopgCanHideIndexes: boolean;
  /** Every extension installed in this database, by name. */
  extensions: InstalledExtension[];
}

export interface InstalledExtension {
  name: string;
  version: string;
  schema: string;
  /** A newer version is available on the server (ALTER EXTENSION ... UPDATE). */
  defaultVersion: string | null;
}

/**
 * SQL text that depends on the server version alone, built once per version: `build` runs on the
 * first call for each serverVersionNum, later calls get the same text. `build` must read nothing
 * of `caps` but serverVersionNum.
 */
export function perServerVersion(build: (caps: Capabilities) => string): (caps: Capabilities) => string {
  const built = new Map<number, string>();
  return (caps) => {
    let sql = built.get(caps.serverVersionNum);
    if (sql === undefined) {
      sql = build(caps);
      built.set(caps.serverVersionNum, sql);
    }
    return sql;
  };
}

interface BaseRow {
  server_version: string;
  server_version_num: number;
  database: string;
  role: string;
  is_superuser: boolean;
  can_read_all_stats: boolean;
  is_monitor: boolean;
  can_create_schema: boolean;
  in_recovery: boolean;
  preload_libraries: string | null;
  pgss_installed: boolean;
  pgss_version: string | null;
  pgss_schema: string | null;
  pgss_available: boolean;
  pgss_columns: string[] | null;
  hypopg_installed: boolean;
  hypopg_version: string | null;
  hypopg_schema: string | null;
  hypopg_available: boolean;
  hypopg_can_hide: boolean;
  extensions: InstalledExtension[];
}

const DETECT_SQL = /* SQL */ `
  WITH ext AS (
    SELECT
      e.extname,
      e.extversion,
      n.nspname
    FROM pg_extension e
    JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname IN ('pg_stat_statements', 'hypopg')
  )
  SELECT
    current_setting('server_version') AS server_version,
    current_setting('server_version_num')::int AS server_version_num,
    current_database() AS database,
    current_user AS role,
    r.rolsuper AS is_superuser,
    pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS can_read_all_stats,
    pg_has_role(current_user, 'pg_monitor', 'USAGE') AS is_monitor,
    has_database_privilege(current_database(), 'CREATE')
      OR has_schema_privilege(current_user, coalesce(to_regnamespace('pgscope')::oid, 0), 'USAGE')
      AS can_create_schema,
    pg_is_in_recovery() AS in_recovery,
    (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries') AS preload_libraries,
    EXISTS (SELECT FROM ext WHERE extname = 'pg_stat_statements') AS pgss_installed,
    (SELECT extversion FROM ext WHERE extname = 'pg_stat_statements') AS pgss_version,
    (SELECT nspname FROM ext WHERE extname = 'pg_stat_statements') AS pgss_schema,
    EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS pgss_available,
    (
      SELECT array_agg(a.attname::text ORDER BY a.attnum)
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = 'pg_stat_statements'
        AND n.nspname = (SELECT nspname FROM ext WHERE extname = 'pg_stat_statements')
        AND a.attnum > 0
        AND NOT a.attisdropped
    ) AS pgss_columns,
    EXISTS (SELECT FROM ext WHERE extname = 'hypopg') AS hypopg_installed,
    (SELECT extversion FROM ext WHERE extname = 'hypopg') AS hypopg_version,
    (SELECT nspname FROM ext WHERE extname = 'hypopg') AS hypopg_schema,
    EXISTS (SELECT FROM pg_available_extensions WHERE name = 'hypopg') AS hypopg_available,
    EXISTS (SELECT FROM pg_proc WHERE proname = 'hypopg_hide_index') AS hypopg_can_hide,
    (
      SELECT coalesce(json_agg(json_build_object(
        'name', e.extname,
        'version', e.extversion,
        'schema', n.nspname,
        'defaultVersion', a.default_version
      ) ORDER BY e.extname), '[]')
      FROM pg_extension e
      JOIN pg_namespace n ON n.oid = e.extnamespace
      LEFT JOIN pg_available_extensions a ON a.name = e.extname
    ) AS extensions
  FROM pg_roles r
  WHERE r.rolname = current_user`;

export async function detectCapabilities(db: Queryable): Promise<Capabilities> {
  const [row] = await db.query<BaseRow>(DETECT_SQL);
  if (!row) throw new Error('The current role is missing from pg_roles.');
  const extension = (prefix: 'pgss' | 'hypopg'): ExtensionState => ({
    installed: row[`${prefix}_installed`],
    version: row[`${prefix}_version`],
    schema: row[`${prefix}_schema`],
    available: row[`${prefix}_available`],
  });
  const pgStatStatements = extension('pgss');
  return {
    serverVersion: row.server_version,
    serverVersionNum: row.server_version_num,
    database: row.database,
    role: row.role,
    isSuperuser: row.is_superuser,
    canReadAllStats: row.is_superuser || row.can_read_all_stats,
    isMonitor: row.is_superuser || row.is_monitor,
    canCreateSchema: row.can_create_schema,
    readOnlyReplica: row.in_recovery,
    pgStatStatementsPreloaded:
      row.preload_libraries === null
        ? null
        : row.preload_libraries
            .split(',')
            .map((name) => name.trim().replace(/"/g, ''))
            .includes('pg_stat_statements'),
    pgStatStatementsReadable: pgStatStatements.installed && (await viewAnswers(db, pgStatStatements.schema!)),
    pgStatStatements,
    pgStatStatementsColumns: new Set(row.pgss_columns ?? []),
    hypopg: extension('hypopg'),
    hypopgCanHideIndexes: row.hypopg_can_hide,
    extensions: row.extensions,
  };
}

/**
 * The errors that say the view cannot be read: 55000 when the library is not in
 * shared_preload_libraries, 42501 without EXECUTE on its function, 42P01/42883 when it is gone.
 */
const UNREADABLE: ReadonlySet<string> = new Set([
  SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE,
  SqlState.INSUFFICIENT_PRIVILEGE,
  SqlState.UNDEFINED_TABLE,
  SqlState.UNDEFINED_FUNCTION,
]);

/**
 * Whether the view answers. Any other failure (no free connection, a timeout, the database gone)
 * fails the detection, which the cache does not keep: taken for "unreadable", it made every
 * slowQueries answer EXTENSION_NOT_LOADED for a minute after one busy moment.
 */
async function viewAnswers(db: Queryable, schema: string): Promise<boolean> {
  try {
    await db.query(`SELECT 1 FROM ${quoteIdent(schema)}.pg_stat_statements(false) LIMIT 1`);
    return true;
  } catch (error) {
    if (UNREADABLE.has(sqlStateOf(error) ?? '')) return false;
    throw error;
  }
}

/** Caches detection for `maxAgeMs`; concurrent callers share one detection. */
export class CapabilitiesCache {
  private pending: Promise<Capabilities> | undefined;
  private detectedAt = 0;

  constructor(
    private readonly db: Queryable,
    private readonly maxAgeMs = 60_000,
  ) {}

  get(): Promise<Capabilities> {
    if (!this.pending || Date.now() - this.detectedAt > this.maxAgeMs) {
      this.detectedAt = Date.now();
      this.pending = detectCapabilities(this.db).catch((error: unknown) => {
        this.pending = undefined;
        throw error;
      });
    }
    return this.pending;
  }

  /** Forget what was detected (after CREATE EXTENSION, or when a field found it stale). */
  invalidate(): void {
    this.pending = undefined;
  }
}

export interface DegradedFeature {
  /** Stable name of the API feature (a field name or a feature of one). */
  feature: string;
  reason: string;
  remedy: string;
}

/**
 * Every write pgscope would make (a change, its change log, a history capture) is refused by a hot
 * standby with "cannot execute ... in a read-only transaction": said once, in words, for all of them.
 */
export function readOnlyReplicaRefusal(caps: Capabilities): PgscopeError {
  return new PgscopeError(
    ErrorCode.FORBIDDEN,
    `Database "${caps.database}" is on a read-only replica (a hot standby): it accepts no writes, so pgscope makes no changes ` +
      'and keeps no change log or query-statistics history there. Point DATABASE_URL at the primary to make changes; reads work here.',
    { reason: 'READ_ONLY_REPLICA' },
  );
}

/** Features that answer with less than full data (or an error) on this target, and why. */
export function degradedFeatures(caps: Capabilities, app: { mutationsEnabled: boolean; ownSchemaReady: boolean }): DegradedFeature[] {
  const degraded: DegradedFeature[] = [];
  if (!caps.pgStatStatementsReadable) {
    degraded.push({
      feature: 'slowQueries',
      reason: caps.pgStatStatements.installed
        ? 'pg_stat_statements is installed but its library is not loaded.'
        : 'pg_stat_statements is not installed in this database.',
      remedy: 'Add pg_stat_statements to shared_preload_libraries, restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements.',
    });
  }
  if (!caps.canReadAllStats) {
    degraded.push({
      feature: 'slowQueries.otherRoles',
      reason: `Role "${caps.role}" cannot read other roles' statements, query texts or activity.`,
      remedy: `GRANT pg_read_all_stats TO ${caps.role}; (or pg_monitor, which includes it).`,
    });
  }
  if (!caps.hypopg.installed) {
    degraded.push({
      feature: 'indexRecommendations.whatIf',
      reason: caps.hypopg.available ? 'HypoPG is available but not installed in this database.' : 'HypoPG is not available on this server.',
      remedy: caps.hypopg.available
        ? 'Run CREATE EXTENSION hypopg; recommendations then use hypothetical indexes instead of statistics estimates.'
        : 'Install HypoPG (for example the postgresql-<version>-hypopg package), then CREATE EXTENSION hypopg.',
    });
  }
  if (caps.readOnlyReplica) {
    const reason = 'The target is a read-only replica (a hot standby): it accepts no writes.';
    const remedy = 'Point DATABASE_URL at the primary to make changes and keep history; every read works on the replica.';
    degraded.push({ feature: 'mutations', reason: `${reason} pgscope makes no changes there.`, remedy });
    degraded.push({ feature: 'history', reason: `${reason} Query-statistics snapshots cannot be written.`, remedy });
  } else if (!app.mutationsEnabled) {
    degraded.push({
      feature: 'mutations',
      reason: 'No admin token is configured.',
      remedy: 'Set PGSCOPE_ADMIN_TOKEN (16 characters or more) and restart pgscope.',
    });
    degraded.push({
      feature: 'history',
      reason: "Query-statistics history lives in pgscope's own schema, which is created only when mutations are enabled.",
      remedy: 'Set PGSCOPE_ADMIN_TOKEN and restart pgscope; snapshots come from captureQueryStats or PGSCOPE_CAPTURE_INTERVAL_S.',
    });
  } else if (!app.ownSchemaReady) {
    const reason = caps.canCreateSchema
      ? "pgscope's schema could not be migrated; see the server log."
      : `Role "${caps.role}" may not create the pgscope schema.`;
    const remedy = `GRANT CREATE ON DATABASE ${caps.database} TO ${caps.role}; then restart pgscope.`;
    degraded.push({ feature: 'changeLog', reason, remedy });
    degraded.push({ feature: 'history', reason: `${reason} captureQueryStats, queryStatsWindow and queryStatsHistory need it.`, remedy });
  }
  return degraded;
}
