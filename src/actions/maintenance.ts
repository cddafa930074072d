// The two simplest changes, and the first users of recordChange: ANALYZE one table, and reset
// pg_stat_statements. Both are planned on the read pool (catalog checks, privileges) and run on
// the DDL session.
import { findTable } from '../db/catalog.js';
import type { Queryable } from '../db/pool.js';
import { ErrorCode, PgscopeError } from '../errors.js';
import type { ChangeLogger, ChangePlan, ChangeSteps } from './changeLog.js';
import { requireOwnership } from './privileges.js';
import { quoteIdent } from '../sql/quote.js';

/** Kinds ANALYZE accepts: tables, partitioned tables, materialized views, foreign tables. */
const ANALYZABLE: Record<string, string> = { r: 'table', p: 'partitioned table', m: 'materialized view', f: 'foreign table' };

export interface AnalyzePlan extends ChangePlan {
  target: { schema: string; name: string };
  kind: string;
}

export interface AnalyzeOutcome {
  schema: string;
  table: string;
  kind: string;
}

/**
 * ANALYZE of one table. On a partitioned parent it samples all partitions for the parent's own
 * statistics (autovacuum never analyzes a parent: "never analyzed" parents plan badly) and
 * analyzes each partition too.
 */
export function analyzeTableSteps(schema: string | null, table: string): ChangeSteps<AnalyzePlan> {
  return {
    async plan(db) {
      const relation = await findTable(db, schema, table);
      await requireOwnership(db, [{ schema: relation.schema, name: relation.name }], `analyze ${relation.schema}.${relation.name}`, true);
      const sql = `ANALYZE ${relation.qualified}`;
      const purpose = `refresh the planner statistics of ${ANALYZABLE[relation.kind]} ${relation.schema}.${relation.name}`;
      return {
        target: { schema: relation.schema, name: relation.name },
        kind: ANALYZABLE[relation.kind]!,
        statements: [{ sql, purpose, outsideTransaction: false }],
      };
    },
    async execute(session, plan, log): Promise<AnalyzeOutcome> {
      await runInOrder(session, plan, log);
      return { schema: plan.target.schema, table: plan.target.name, kind: plan.kind };
    },
  };
}

interface ResetFunction {
  schema: string;
  role: string;
  allowed: boolean;
}

/** pg_stat_statements_reset of the installed extension, and whether this role may run it (superusers only, unless granted). */
const RESET_FUNCTION_SQL = /* SQL */ `
  SELECT
    n.nspname AS schema,
    current_user AS role,
    has_function_privilege(p.oid, 'EXECUTE') AS allowed
  FROM pg_extension e
  JOIN pg_depend d
    ON d.refobjid = e.oid
    AND d.refclassid = 'pg_extension'::regclass
    AND d.classid = 'pg_proc'::regclass
    AND d.deptype = 'e'
  JOIN pg_proc p ON p.oid = d.objid
  JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE e.extname = 'pg_stat_statements'
    AND p.proname = 'pg_stat_statements_reset'
  ORDER BY p.pronargs DESC
  LIMIT 1`;

/** pg_stat_statements_reset for the current database: every statement and user of it. */
export function resetQueryStatsSteps(): ChangeSteps<ChangePlan> {
  return {
    async plan(db: Queryable) {
      const [reset] = await db.query<ResetFunction>(RESET_FUNCTION_SQL);
      if (!reset) {
        throw new PgscopeError(
          ErrorCode.EXTENSION_NOT_LOADED,
          'pg_stat_statements is not installed in this database: run CREATE EXTENSION pg_stat_statements (it must also be in shared_preload_libraries).',
        );
      }
      if (!reset.allowed) {
        throw new PgscopeError(
          ErrorCode.INSUFFICIENT_PRIVILEGE,
          "pgscope's database role may not reset pg_stat_statements (only superusers may, by default). To allow it: " +
            `GRANT EXECUTE ON FUNCTION ${quoteIdent(reset.schema)}.pg_stat_statements_reset TO ${quoteIdent(reset.role)};`,
        );
      }
      // userid 0 and queryid 0: every user and statement, of this database only (reads are scoped to it; other databases keep theirs)
      const sql = `SELECT ${quoteIdent(reset.schema)}.pg_stat_statements_reset(0, d.oid, 0) FROM pg_database d WHERE d.datname = current_database()`;
      const purpose = 'discard the pg_stat_statements statistics of every statement of this database';
      return { statements: [{ sql, purpose, outsideTransaction: false }] };
    },
    async execute(session, plan, log) {
      await runInOrder(session, plan, log);
      return {};
    },
  };
}

/** The plan's statements one after the other, each recorded in the change log as it starts. */
async function runInOrder(session: Queryable, plan: ChangePlan, log: ChangeLogger): Promise<void> {
  for (const statement of plan.statements) {
    await log.executed(statement.sql);
    await session.query(statement.sql);
  }
}
