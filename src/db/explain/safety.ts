// Whether EXPLAIN ANALYZE may execute a statement: nothing it runs may act outside the read-only
// transaction that explain rolls back. (Before this, every explain refuses a statement that could
// run code pgscope does not trust, whatever its volatility: db/trust/statementTrust.ts.) The read-only transaction alone does not ensure that: with a
// superuser (the demo's role), SELECT pg_create_physical_replication_slot(...), pg_terminate_backend,
// pg_reload_conf, pg_stat_statements_reset() or pg_read_file(...) all run inside one. So before
// anything executes, every function the statement can reach is resolved against the catalog:
// called directly, behind an operator, a cast, an aggregate, inside a view, a row-level security
// policy or a domain's check constraint, recursively. A VOLATILE one is refused, whatever the role.
//
// Functions declared STABLE or IMMUTABLE are trusted by their declaration: PostgreSQL runs their
// SQL read-only, but a STABLE function written in PL/pgSQL or C that calls a volatile one anyway
// would not be caught here. The read-only transaction and its rollback stay as defense in depth.
import type { Node } from 'libpg-query';
import { ErrorCode, isPgscopeError, PgscopeError } from '../../errors.js';
import { parseOneStatement } from '../../sql/parse.js';
import { collectReferences, type QualifiedName, type References } from '../../sql/references.js';
import type { Queryable } from '../pool.js';
import {
  attributeFunctionsNamedSql,
  functionsNamedSql,
  operatorsNamedSql,
  relationsNamedSql,
  typesNamedSql,
  writtenNamesSql,
} from '../trust/writtenNames.js';

/** Views inside views (and policies, domains) deeper than this are refused rather than followed. */
const MAX_NESTING = 16;

// Names resolve as db/trust/writtenNames.ts describes: every candidate of a function or operator name
// counts, whichever the server would pick, so an overloaded name with one volatile variant is
// refused (conservative). Materialized views are not followed: reading one does not run its query.
// $10 adds the checks that do not depend on the statement (sorting, grouping, implicit casts, text
// input of values).
const RESOLVE_SQL = /* SQL */ `
  WITH RECURSIVE
  function_name AS (${writtenNamesSql('$1', '$2')}
  ),
  operator_name AS (${writtenNamesSql('$3', '$4')}
  ),
  attribute_name AS (${writtenNamesSql('$9', '$11')}
  ),
  function_candidate AS (
    SELECT
      p.oid,
      format('%s.%s', n.nspname, p.proname) AS object,
      p.provolatile
    FROM (${functionsNamedSql('function_name')}
      UNION${attributeFunctionsNamedSql('attribute_name')}
    ) f
    JOIN pg_proc p ON p.oid = f.oid
    JOIN pg_namespace n ON n.oid = p.pronamespace
  ),
  type_name AS (${writtenNamesSql('$5', '$6')}
  ),
  cast_target(oid) AS (
    SELECT
      t.oid
    FROM (${typesNamedSql('type_name')}
    ) t
    UNION
    -- a cast to a domain is a cast to its base type, then the domain's checks
    SELECT
      d.typbasetype
    FROM cast_target c
    JOIN pg_type d ON d.oid = c.oid
    WHERE d.typbasetype <> 0
  ),
  relation_name AS (${writtenNamesSql('$7', '$8')}
  ),
  named_relation(oid) AS (
    SELECT
      r.oid
    FROM (${relationsNamedSql('relation_name')}
    ) r
  ),
  -- a table's scan reads its inheritance children and partitions too
  scanned_relation(oid) AS (
    SELECT oid FROM named_relation
    UNION
    SELECT
      i.inhrelid
    FROM scanned_relation s
    JOIN pg_inherits i ON i.inhparent = s.oid
  ),
  unsafe(object) AS (
    SELECT
      format('volatile function %s', f.object)
    FROM function_candidate f
    WHERE f.provolatile = 'v'
    UNION
    SELECT
      format('aggregate %s (its volatile support function %s)', f.object, s.oid::regproc)
    FROM function_candidate f
    JOIN pg_aggregate a ON a.aggfnoid = f.oid
    JOIN pg_proc s ON s.oid IN (
      a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn
    )
    WHERE s.provolatile = 'v'
    UNION
    SELECT
      format('operator %s.%s (volatile function %s)', n.nspname, o.oprname, o.oprcode::regproc)
    FROM (${operatorsNamedSql('operator_name')}
    ) w
    JOIN pg_operator o ON o.oid = w.oid
    JOIN pg_namespace n ON n.oid = o.oprnamespace
    JOIN pg_proc p ON p.oid = o.oprcode
    WHERE p.provolatile = 'v'
    UNION
    SELECT
      format('cast to %s (volatile function %s)', c.casttarget::regtype, c.castfunc::regproc)
    FROM cast_target t
    JOIN pg_cast c ON c.casttarget = t.oid
    JOIN pg_proc p ON p.oid = c.castfunc
    WHERE p.provolatile = 'v'
    UNION
    -- a foreign data wrapper reaches outside the database: its effects are its own
    SELECT
      format('foreign table %s.%s', n.nspname, c.relname)
    FROM scanned_relation s
    JOIN pg_class c ON c.oid = s.oid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'f'
    UNION
    SELECT
      format('operator %s (volatile function %s), which sorting, grouping and joins use implicitly', o.oid::regoperator, o.oprcode::regproc)
    FROM pg_amop a
    JOIN pg_operator o ON o.oid = a.amopopr
    JOIN pg_proc p ON p.oid = o.oprcode
    WHERE $10 AND p.provolatile = 'v'
    UNION
    SELECT
      format('volatile function %s (an operator class support function)', p.oid::regproc)
    FROM pg_amproc a
    JOIN pg_proc p ON p.oid = a.amproc
    WHERE $10 AND p.provolatile = 'v'
    UNION
    SELECT
      format('volatile function %s (the implicit cast from %s to %s)', c.castfunc::regproc, c.castsource::regtype, c.casttarget::regtype)
    FROM pg_cast c
    JOIN pg_proc p ON p.oid = c.castfunc
    WHERE $10 AND c.castcontext IN ('i', 'a') AND p.provolatile = 'v'
    UNION
    SELECT
      format('volatile function %s (the text input or output of type %s)', p.oid::regproc, t.oid::regtype)
    FROM pg_type t
    JOIN pg_proc p ON p.oid IN (t.typinput, t.typoutput)
    WHERE $10 AND p.provolatile = 'v'
  ),
  expansion(object, definition) AS (
    SELECT
      format('view %s.%s', n.nspname, c.relname),
      pg_get_viewdef(c.oid)
    FROM named_relation r
    JOIN pg_class c ON c.oid = r.oid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'v'
    UNION
    SELECT
      format('policy %s on %s.%s', p.polname, n.nspname, c.relname),
      'SELECT ' || pg_get_expr(p.polqual, p.polrelid)
    FROM scanned_relation s
    JOIN pg_class c ON c.oid = s.oid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_policy p ON p.polrelid = c.oid
    WHERE c.relrowsecurity
      AND p.polcmd IN ('r', '*')
      AND p.polqual IS NOT NULL
    UNION
    -- any value may be coerced to a domain (function arguments, results): all of their checks
    SELECT
      format('check constraint %s of domain %s', c.conname, c.contypid::regtype),
      'SELECT ' || pg_get_expr(c.conbin, 0)
    FROM pg_constraint c
    WHERE $10
      AND c.contypid <> 0
      AND c.contype = 'c'
  )
  SELECT
    'unsafe' AS kind,
    object,
    NULL AS definition
  FROM unsafe
  UNION ALL
  SELECT
    'expand',
    object,
    definition
  FROM expansion
  ORDER BY
    kind DESC,
    object`;

interface ResolvedRow {
  kind: 'unsafe' | 'expand';
  object: string;
  definition: string | null;
}

/** SQL text whose names are checked: the statement itself, or a view, policy or domain check it reaches. */
interface Source {
  references: References;
  /** The view, policy or domain check this text is the definition of; null for the statement. */
  within: string | null;
}

/**
 * Throws UNSAFE_STATEMENT, naming the culprit, when executing `node` could call a volatile
 * function or read a foreign table. Runs on `client` so names resolve with the search_path the
 * statement will be executed with.
 */
export async function assertSafeToExecute(client: Queryable, node: Node): Promise<void> {
  let sources: Source[] = [{ references: collectReferences(node), within: null }];
  const followed = new Set<string>();
  for (let depth = 0; sources.length > 0; depth += 1) {
    if (depth > MAX_NESTING) throw unsafeStatement(`views, policies or domain checks nest more than ${MAX_NESTING} levels deep`);
    const rows = await resolve(client, sources, depth === 0);
    if (rows.some((row) => row.kind === 'unsafe')) throw await refusal(client, sources, rows, depth === 0);
    const next: Source[] = [];
    for (const row of rows) {
      if (followed.has(row.object)) continue;
      followed.add(row.object);
      next.push({ references: await definitionReferences(row), within: row.object });
    }
    sources = next;
  }
}

async function resolve(client: Queryable, sources: readonly Source[], global: boolean): Promise<ResolvedRow[]> {
  const all = (pick: (references: References) => readonly QualifiedName[]) => sources.flatMap((source) => pick(source.references));
  const schemas = (names: readonly QualifiedName[]) => names.map((name) => name.schema);
  const names = (list: readonly QualifiedName[]) => list.map((name) => name.name);
  const functions = all((r) => r.functions);
  const operators = all((r) => r.operators);
  const types = all((r) => r.types);
  const relations = all((r) => r.relations);
  const attributes = sources.flatMap((source) => source.references.attributeFunctions);
  return client.query<ResolvedRow>(RESOLVE_SQL, [
    schemas(functions),
    names(functions),
    schemas(operators),
    names(operators),
    schemas(types),
    names(types),
    schemas(relations),
    names(relations),
    attributes.map(() => null),
    global,
    attributes,
  ]);
}

/** The refusal, naming the first culprit and the view (policy, domain) it hides in. */
async function refusal(
  client: Queryable,
  sources: readonly Source[],
  rows: readonly ResolvedRow[],
  global: boolean,
): Promise<PgscopeError> {
  let culprit = rows.find((row) => row.kind === 'unsafe')!.object;
  let within = sources.length === 1 ? sources[0]!.within : null;
  // Several definitions were checked together: find the one that holds the culprit.
  if (sources.length > 1) {
    for (const source of sources) {
      const own = (await resolve(client, [source], global)).find((row) => row.kind === 'unsafe');
      if (own) {
        culprit = own.object;
        within = source.within;
        break;
      }
    }
  }
  return unsafeStatement(`it uses ${culprit}${within ? ` (through ${within})` : ''}`, { object: culprit, ...(within ? { within } : {}) });
}

async function definitionReferences(row: ResolvedRow): Promise<References> {
  try {
    return collectReferences((await parseOneStatement(row.definition ?? '')).node);
  } catch (error) {
    if (!isPgscopeError(error)) throw error;
    throw unsafeStatement(`pgscope could not read the definition of ${row.object} to check it`, { within: row.object });
  }
}

function unsafeStatement(reason: string, details: Record<string, unknown> = {}): PgscopeError {
  return new PgscopeError(
    ErrorCode.UNSAFE_STATEMENT,
    'analyze executes the statement, so it refuses anything that could act outside its rolled-back read-only transaction; ' +
      `this one is refused: ${reason}.`,
    details,
  );
}
