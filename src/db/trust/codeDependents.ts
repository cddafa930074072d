// One round of the search for untrusted code (untrustedCode.ts): the objects that use something
// of the frontier, as pg_depend records it (by OID, as resolved when they were created), each with
// the place it gives as the holder of the call. What uses a function, an operator or a type: a
// function or aggregate (parameter defaults, SQL-standard bodies, support functions, argument
// types), an operator, a type, a cast, an index, a table's own definition, a check constraint, a
// statistics object, a column default, a policy, a rule or view. What uses a table: a policy or a
// view or rule that reads it, a function whose SQL-standard body does, its inheritance parent.
import type { Queryable } from '../pool.js';

/** A function, an operator, a type, or a table as read or as written (writing covers reading). */
export type ReachKind = 'function' | 'operator' | 'type' | 'read' | 'write';

export interface Dependent {
  kind: ReachKind;
  oid: string;
  /** 1-based position of the frontier object it uses. */
  origin: number;
  /** The object, as the place that holds the call ("index i on s.t"); null when it only passes it on (a parent table). */
  container: string | null;
}

const relationName = (oid: string) => /* SQL */ `(
      SELECT format('%s.%s', rn.nspname, rc.relname) FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace WHERE rc.oid = ${oid}
    )`;

// $1 kinds, $2 OIDs of the frontier
const DEPENDENTS_SQL = /* SQL */ `
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

/** The objects that use the frontier's, in frontier order. */
export function dependentsOf(db: Queryable, frontier: ReadonlyArray<{ kind: ReachKind; oid: string }>): Promise<Dependent[]> {
  return db.query<Dependent>(DEPENDENTS_SQL, [frontier.map((f) => f.kind), frontier.map((f) => f.oid)]);
}
