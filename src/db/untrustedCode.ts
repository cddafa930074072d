// Everything in the database that leads to code pgscope does not trust (src/db/trust.ts), found
// once per explain or advisor run, for the statements to be checked against (planTrust.ts).
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
// for volatility (explainSafety.ts resolves names for that).
import type { Queryable } from './pool.js';
import { trustedFunctionSql, type TrustConfig } from './trust.js';

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

export type ReachKind = 'function' | 'operator' | 'type' | 'read' | 'write';

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
const rootsSql = (trusted: string) => /* SQL */ `
  WITH untrusted AS (
    SELECT
      p.oid,
      format('%s.%s(%s)', n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes)) AS function,
      r.rolname AS owner
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    JOIN pg_roles r ON r.oid = p.proowner
    WHERE p.pronamespace <> 'pg_catalog'::regnamespace
      AND NOT ${trusted}
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

const ROOTS_SQL = rootsSql(trustedFunctionSql('p.oid', 'current_user', '$1', '$2'));

const relationName = (oid: string) => /* SQL */ `(
      SELECT format('%s.%s', rn.nspname, rc.relname) FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace WHERE rc.oid = ${oid}
    )`;

// One round: the objects that use something of the frontier ($1 kinds, $2 OIDs), each with the
// frontier row it came from (origin) and a description of itself as the place that holds the call.
const STEP_SQL = /* SQL */ `
  WITH frontier AS (
    SELECT
      f.kind,
      f.oid,
      f.origin::int AS origin
    FROM unnest($1::text[], $2::oid[]) WITH ORDINALITY AS f(kind, oid, origin)
  ),
  dependent AS (
    SELECT
      f.origin,
      f.kind AS used,
      f.oid AS used_oid,
      d.classid,
      d.objid,
      d.objsubid
    FROM frontier f
    JOIN (
      VALUES
        ('function', 'pg_proc'::regclass),
        ('operator', 'pg_operator'::regclass),
        ('type', 'pg_type'::regclass),
        ('read', 'pg_class'::regclass),
        ('write', 'pg_class'::regclass)
    ) AS catalog(kind, oid) ON catalog.kind = f.kind
    JOIN pg_depend d ON d.refclassid = catalog.oid AND d.refobjid = f.oid
  ),
  -- a code dependency: a function, an operator or a type, not the table an object belongs to
  code AS (
    SELECT * FROM dependent WHERE used IN ('function', 'operator', 'type')
  )
  -- functions and aggregates: parameter defaults, SQL-standard bodies, support functions, argument types
  SELECT
    'function' AS kind,
    p.oid::text AS oid,
    d.origin,
    format(CASE WHEN p.prokind = 'a' THEN 'aggregate %s.%s(%s)' ELSE 'function %s.%s(%s)' END, n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes)) AS container
  FROM dependent d
  JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
  JOIN pg_namespace n ON n.oid = p.pronamespace
  UNION ALL
  -- operators: their function, selectivity estimators and operand types
  SELECT
    'operator',
    o.oid::text,
    d.origin,
    format('operator %s.%s', n.nspname, o.oprname)
  FROM code d
  JOIN pg_operator o ON d.classid = 'pg_operator'::regclass AND o.oid = d.objid
  JOIN pg_namespace n ON n.oid = o.oprnamespace
  UNION ALL
  -- the planner swaps in an operator's commutator (1 = x) and negator (NOT x = 1)
  SELECT
    'operator',
    o.oid::text,
    f.origin,
    format('operator %s.%s', n.nspname, o.oprname)
  FROM frontier f
  JOIN pg_operator o ON f.kind = 'operator' AND f.oid IN (o.oprcom, o.oprnegate)
  JOIN pg_namespace n ON n.oid = o.oprnamespace
  UNION ALL
  -- types: input and output functions, a range's subtype difference, a domain's base, an array's element
  SELECT
    'type',
    t.oid::text,
    d.origin,
    format('type %s', t.oid::regtype)
  FROM code d
  JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
  UNION ALL
  -- a composite type, through the columns of its relation
  SELECT
    'type',
    c.reltype::text,
    d.origin,
    format('type %s', c.reltype::regtype)
  FROM code d
  JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
  WHERE c.relkind = 'c'
  UNION ALL
  -- a cast runs when a value of its source type meets a place that expects its target type, so
  -- either side leads to it: the side its function's author owns (a cast from a user's type to text
  -- must not concern every statement that uses text), or both when neither is theirs
  SELECT
    'type',
    side.oid::text,
    d.origin,
    format('cast from %s to %s', c.castsource::regtype, c.casttarget::regtype)
  FROM dependent d
  JOIN pg_cast c ON d.classid = 'pg_cast'::regclass AND c.oid = d.objid
  JOIN pg_proc f ON f.oid = c.castfunc
  CROSS JOIN LATERAL (VALUES (c.castsource), (c.casttarget)) AS side(oid)
  JOIN pg_type t ON t.oid = side.oid
  WHERE d.used = 'function'
    AND (
      t.typowner = f.proowner
      OR NOT EXISTS (SELECT 1 FROM pg_type o WHERE o.oid IN (c.castsource, c.casttarget) AND o.typowner = f.proowner)
    )
  UNION ALL
  -- the planner const-folds a table's index expressions and predicates when it reads the table's indexes
  SELECT
    'read',
    x.indrelid::text,
    d.origin,
    format('index %s on %s', i.relname, ${relationName('x.indrelid')})
  FROM code d
  JOIN pg_index x ON d.classid = 'pg_class'::regclass AND x.indexrelid = d.objid
  JOIN pg_class i ON i.oid = x.indexrelid
  UNION ALL
  -- a table's own: a column of the type; a partition key expression, which each partition's constraint repeats
  SELECT
    'read',
    tree.oid::text,
    d.origin,
    CASE
      WHEN d.objsubid = 0 AND c.relkind = 'p' THEN format('partition key of %s', ${relationName('c.oid')})
      WHEN d.objsubid = 0 THEN format('definition of %s', ${relationName('c.oid')})
      ELSE format('column %s of %s', (SELECT attname FROM pg_attribute WHERE attrelid = c.oid AND attnum = d.objsubid), ${relationName('c.oid')})
    END
  FROM code d
  JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
  CROSS JOIN LATERAL (
    SELECT c.oid
    UNION
    SELECT relid FROM pg_partition_tree(c.oid) WHERE d.objsubid = 0 AND c.relkind = 'p'
  ) AS tree(oid)
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  UNION ALL
  -- check constraints: of a table (constraint exclusion folds them), of a domain (values coerced to it)
  SELECT
    CASE WHEN k.conrelid <> 0 THEN 'read' ELSE 'type' END,
    (CASE WHEN k.conrelid <> 0 THEN k.conrelid ELSE k.contypid END)::text,
    d.origin,
    CASE
      WHEN k.conrelid <> 0 THEN format('check constraint %s on %s', k.conname, ${relationName('k.conrelid')})
      ELSE format('check constraint %s of domain %s', k.conname, k.contypid::regtype)
    END
  FROM code d
  JOIN pg_constraint k ON d.classid = 'pg_constraint'::regclass AND k.oid = d.objid
  WHERE k.contype = 'c'
  UNION ALL
  SELECT
    'read',
    s.stxrelid::text,
    d.origin,
    format('statistics object %s on %s', s.stxname, ${relationName('s.stxrelid')})
  FROM code d
  JOIN pg_statistic_ext s ON d.classid = 'pg_statistic_ext'::regclass AND s.oid = d.objid
  UNION ALL
  -- the rewriter adds the defaults of the columns an INSERT leaves out (PostgreSQL 18's virtual
  -- generated columns are expanded wherever they are read)
  SELECT
    CASE WHEN a.attgenerated = 'v' THEN 'read' ELSE 'write' END,
    a.attrelid::text,
    d.origin,
    format(
      CASE WHEN a.attgenerated = '' THEN 'default of column %s of %s' ELSE 'generated column %s of %s' END,
      a.attname,
      ${relationName('a.attrelid')}
    )
  FROM code d
  JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
  JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
  UNION ALL
  -- row-level security policies: SELECT and ALL ones on reads, every one on writes; their
  -- subqueries read other tables
  SELECT
    kind.name,
    p.polrelid::text,
    d.origin,
    format('policy %s on %s', p.polname, ${relationName('p.polrelid')})
  FROM dependent d
  JOIN pg_policy p ON d.classid = 'pg_policy'::regclass AND p.oid = d.objid
  CROSS JOIN LATERAL (VALUES ('read'), ('write')) AS kind(name)
  WHERE d.used <> 'write'
    AND (kind.name = 'write' OR p.polcmd IN ('r', '*'))
  UNION ALL
  -- a view is its _RETURN rule (reading the view, or writing through it); other rules act on writes.
  -- Reading a materialized view does not run its query.
  SELECT
    kind.name,
    r.ev_class::text,
    d.origin,
    CASE
      WHEN r.rulename = '_RETURN' THEN format('view %s', ${relationName('r.ev_class')})
      ELSE format('rule %s on %s', r.rulename, ${relationName('r.ev_class')})
    END
  FROM dependent d
  JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
  JOIN pg_class c ON c.oid = r.ev_class
  CROSS JOIN LATERAL (VALUES ('read'), ('write')) AS kind(name)
  WHERE c.relkind <> 'm'
    AND NOT (d.used IN ('read', 'write') AND d.used_oid = r.ev_class)
    AND CASE WHEN r.rulename = '_RETURN' THEN kind.name = 'write' OR d.used <> 'write' ELSE kind.name = 'write' END
  UNION ALL
  -- reading or writing a table reaches its inheritance children and partitions
  SELECT
    f.kind,
    i.inhparent::text,
    f.origin,
    NULL
  FROM frontier f
  JOIN pg_inherits i ON f.kind IN ('read', 'write') AND i.inhrelid = f.oid
  ORDER BY
    origin,
    kind,
    oid`;

interface RootRow {
  oid: string;
  function: string;
  owner: string;
  everywhere: string | null;
}

interface StepRow {
  kind: ReachKind;
  oid: string;
  origin: number;
  container: string | null;
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
      return { objects: [...found.values()], everywhere: everywhere ?? { culprit, within: `objects that depend on it more than ${MAX_ROUNDS} levels deep` } };
    }
    const rows = await db.query<StepRow>(STEP_SQL, [frontier.map((f) => f.kind), frontier.map((f) => f.oid)]);
    const next: ReachingObject[] = [];
    for (const row of rows) {
      const from = frontier[row.origin - 1]!.reach;
      add(row.kind, row.oid, { culprit: from.culprit, within: from.within ?? row.container }, next);
    }
    frontier = next;
  }
  return { objects: [...found.values()], everywhere };
}
