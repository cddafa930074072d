// Whose code pgscope lets PostgreSQL run. Planning is not side-effect free: the planner folds
// IMMUTABLE functions with constant arguments and evaluates STABLE ones to estimate selectivity, so
// `EXPLAIN SELECT f()` runs f as pgscope's role. An index expression runs as the table's owner on
// every write. A function's volatility label is its author's claim; what makes its code safe to run
// as a role is who could have written it. Code is trusted to run as role R when:
//   - it lives in pg_catalog (PostgreSQL's own), or
//   - its owner already holds R's privileges (R itself, a superuser, a role that is a member of R
//     with INHERIT): running it as R grants its author nothing, or
//   - the operator trusts its owner (PGSCOPE_TRUSTED_ROLES) or its extension (PGSCOPE_TRUSTED_EXTENSIONS).
// Anything else (a plain user's function, wherever it lives and whatever it declares) is refused.

/**
 * SQL boolean: the function with OID `proc` may run as the role with OID `runner`. `roles` and
 * `extensions` are placeholders for text[] bind parameters holding the TrustConfig lists. Every
 * argument is an SQL expression written by pgscope (column names, placeholders), never client text.
 */
export const trustedFunctionSql = (proc: string, runner: string, roles: string, extensions: string) => /* SQL */ `(
    EXISTS (
      SELECT 1
      FROM pg_proc tp
      JOIN pg_roles towner ON towner.oid = tp.proowner
      WHERE tp.oid = ${proc}
        AND (
          tp.pronamespace = 'pg_catalog'::regnamespace
          OR towner.rolsuper
          OR pg_has_role(tp.proowner, ${runner}, 'USAGE')
          OR towner.rolname = ANY (${roles}::text[])
          OR EXISTS (
            SELECT 1
            FROM pg_depend td
            JOIN pg_extension te ON te.oid = td.refobjid
            WHERE td.classid = 'pg_proc'::regclass
              AND td.objid = tp.oid
              AND td.refclassid = 'pg_extension'::regclass
              AND td.deptype = 'e'
              AND te.extname = ANY (${extensions}::text[])
          )
        )
    )
  )`;

/** How a refusal names the remedy, in one sentence the client reads. */
export function trustRemedy(owner: string): string {
  return (
    `pgscope runs only code written by PostgreSQL, by superusers, by roles that already hold its own privileges, ` +
    `or by roles and extensions listed in PGSCOPE_TRUSTED_ROLES / PGSCOPE_TRUSTED_EXTENSIONS; ` +
    `if you trust role ${owner}, add it to PGSCOPE_TRUSTED_ROLES`
  );
}
