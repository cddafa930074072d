// Everything in the database that leads to code pgscope does not trust (src/db/trust/rule.ts), found
// once per explain or advisor run, for the statements to be checked against (statementTrust.ts).
// Planning runs more than the functions a statement names: it folds immutable functions with
// constant arguments wherever they sit, in the statement, in the views and row-level security
// policies the rewriter brings in, in the column defaults of an INSERT, and in what the planner
// reads about each table it touches (index expressions and predicates, extended statistics
// expressions, partition keys, check constraints), and it calls operators' functions and their
// selectivity estimators, casts and type input functions. Executing (explain's analyze) runs
// aggregates' support functions and domains' checks too.
//
// The search starts from the untrusted functions and walks pg_depend backwards, from what is used
// to what uses it, round by round: PostgreSQL records there (by OID, as resolved when they were
// created) what a view, a policy, an index, a default, a constraint, a statistics object, a rule,
// an operator, a cast, a type or a function's defaults and SQL-standard body use. A table is
// "read" when planning a read of it would run the code, "write" when only writing it would (a
// column default, a rule): writing covers reading. Dependencies on PostgreSQL's own pinned objects
// are not recorded, which is why this walk is for trust (untrusted code is never pinned) and not
// for volatility (db/explain/safety.ts resolves names for that).
import { dependentsOf, type ReachKind } from './codeDependents.js';
import type { Queryable } from '../pool.js';
import { trustedFunctionSql } from './rule.js';
import type { TrustConfig } from '../../config.js';

/** An untrusted function, as a refusal names it. */
export interface UntrustedFunction {
  /** schema.name(argument types) */
  function: string;
  /** The role that owns it. */
  owner: string;
}

/** How an object leads to an untrusted function. */
export interface Reach {
  culprit: UntrustedFunction;
  /** The object that calls it (an index, a view, a policy, an operator...); null for the function itself. */
  within: string | null;
}

/** An object that leads to untrusted code: a function, an operator, a type, a table read or written. */
export interface ReachingObject {
  kind: ReachKind;
  oid: string;
  reach: Reach;
}

export interface UntrustedCode {
  /** Objects that lead to untrusted code, each once (the first way found); empty when every function is trusted. */
  objects: ReachingObject[];
  /** Untrusted code any statement may run (an operator class's operators and support functions); null when none. */
  everywhere: Reach | null;
}

/** Beyond this many rounds the walk stops and every statement is refused (an adversarial chain of views). */
const MAX_ROUNDS = 100;

// Sorting, grouping, joins and index scans use operator classes' operators and support functions
// for any type, without naming them: an untrusted one there concerns every statement. Only a
// superuser can create operator classes, so in practice these rows appear only by a superuser's choice.
const ROOTS_SQL = /* SQL */ `
  WITH untrusted AS (
    SELECT
      p.oid,
      format('%s.%s(%s)', n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes)) AS function,
      r.rolname AS owner
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    JOIN pg_roles r ON r.oid = p.proowner
    WHERE p.pronamespace <> 'pg_catalog'::regnamespace
      AND NOT ${trustedFunctionSql('p.oid', 'current_user', '$1', '$2')}
  )
  SELECT
    u.oid::text AS oid,
    u.function,
    u.owner,
    NULL AS everywhere
  FROM untrusted u
  UNION ALL
  SELECT
    u.oid::text,
    u.function,
    u.owner,
    format('operator family %s.%s (%s), which sorting, grouping, joins and index scans use implicitly', n.nspname, f.opfname, m.amname)
  FROM pg_amop a
  JOIN pg_operator o ON o.oid = a.amopopr
  JOIN untrusted u ON u.oid IN (o.oprcode, o.oprrest, o.oprjoin)
  JOIN pg_opfamily f ON f.oid = a.amopfamily
  JOIN pg_namespace n ON n.oid = f.opfnamespace
  JOIN pg_am m ON m.oid = f.opfmethod
  UNION ALL
  SELECT
    u.oid::text,
    u.function,
    u.owner,
    format('operator family %s.%s (%s), which sorting, grouping, joins and index scans use implicitly', n.nspname, f.opfname, m.amname)
  FROM pg_amproc a
  JOIN untrusted u ON u.oid = a.amproc
  JOIN pg_opfamily f ON f.oid = a.amprocfamily
  JOIN pg_namespace n ON n.oid = f.opfnamespace
  JOIN pg_am m ON m.oid = f.opfmethod
  ORDER BY
    everywhere NULLS FIRST,
    function`;

interface RootRow {
  oid: string;
  function: string;
  owner: string;
  everywhere: string | null;
}

/** What leads to untrusted code, for the role `db` is connected as and the operator's trust. */
export async function findUntrustedCode(db: Queryable, trust: TrustConfig): Promise<UntrustedCode> {
  const roots = await db.query<RootRow>(ROOTS_SQL, [trust.roles, trust.extensions]);
  const found = new Map<string, ReachingObject>();
  let everywhere: Reach | null = null;
  let frontier: ReachingObject[] = [];
  const add = (kind: ReachKind, oid: string, reached: Reach, into: ReachingObject[]) => {
    // writing a table also plans what reading it does
    for (const each of kind === 'read' ? (['read', 'write'] as const) : [kind]) {
      if (found.has(`${each}:${oid}`)) continue;
      const object = { kind: each, oid, reach: reached };
      found.set(`${each}:${oid}`, object);
      into.push(object);
    }
  };
  for (const root of roots) {
    const culprit = { function: root.function, owner: root.owner };
    if (root.everywhere !== null) everywhere ??= { culprit, within: root.everywhere };
    else add('function', root.oid, { culprit, within: null }, frontier);
  }
  for (let round = 0; frontier.length > 0; round += 1) {
    if (round === MAX_ROUNDS) {
      const { culprit } = frontier[0]!.reach;
      return {
        objects: [...found.values()],
        everywhere: everywhere ?? { culprit, within: `objects that depend on it more than ${MAX_ROUNDS} levels deep` },
      };
    }
    const rows = await dependentsOf(db, frontier);
    const next: ReachingObject[] = [];
    for (const row of rows) {
      const from = frontier[row.origin - 1]!.reach;
      add(row.kind, row.oid, { culprit: from.culprit, within: from.within ?? row.container }, next);
    }
    frontier = next;
  }
  return { objects: [...found.values()], everywhere };
}
