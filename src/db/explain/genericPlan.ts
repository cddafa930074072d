import { SqlState } from '../sqlState.js';
// Below PostgreSQL 16 (no EXPLAIN (GENERIC_PLAN)), the generic plan of a statement with $n
// parameters comes from PREPARE, then EXPLAIN EXECUTE with NULLs under plan_cache_mode =
// force_generic_plan. The statements of that path, shared by explain (db/explain.ts) and the
// advisor's costing (advisor/planCost.ts), which differ only in the EXPLAIN options they ask for.

/** SQLSTATE of PREPARE when a parameter's type cannot be inferred (jsonb_build_object($1, $2) takes "any"). */
export const UNTYPED_PARAMETER = SqlState.INDETERMINATE_DATATYPE;

export function genericPlanStatements(name: string, parameters: number, explainOptions: string) {
  const each = (value: string) => Array.from({ length: parameters }, () => value).join(', ');
  return {
    prepare: /* SQL */ `PREPARE ${name} AS `,
    /** The retry after UNTYPED_PARAMETER: every parameter declared text, as GENERIC_PLAN assumes. */
    prepareTyped: /* SQL */ `PREPARE ${name}(${each('text')}) AS `,
    explainExecute: /* SQL */ `EXPLAIN (${explainOptions}) EXECUTE ${name}(${each('NULL')})`,
    // PREPARE is not transactional: the statement outlives the rollback and is deallocated by name
    deallocate: /* SQL */ `DEALLOCATE ${name}`,
  };
}
