// Names as a statement's text writes them (src/sql/references.ts), resolved against the catalog
// the way the server could resolve them, as SQL fragments shared by explain's checks
// (db/explain/safety.ts: volatility, statementTrust.ts: trust). A function or operator name gives every
// candidate of that name on the search path (current_schemas(true): pg_catalog and the session's
// temporary schema included), whichever the server would pick by argument types: those are not
// known before the server analyzes the statement, so every candidate counts (conservative). A
// relation name gives the one relation the server would use (to_regclass follows the search path).
// Each fragment yields (position, oid): position is the name's place in the arrays given.

/** Rows (position, schema_name, name) of the written names; pg_temp.x means the session's own temporary schema, as in PostgreSQL. */
export const writtenNamesSql = (schemas: string, names: string) => /* SQL */ `
    SELECT
      w.position,
      CASE
        WHEN w.schema_name = 'pg_temp' THEN (SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema())::text
        ELSE w.schema_name
      END AS schema_name,
      w.name
    FROM unnest(${schemas}::text[], ${names}::text[]) WITH ORDINALITY AS w(schema_name, name, position)`;

/** The namespace row `n` is one the written name row `w` may resolve in: its own schema, or one on the search path. */
const resolvesIn = (n: string, w: string) =>
  /* SQL */ `(${n}.nspname = ${w}.schema_name OR (${w}.schema_name IS NULL AND ${n}.nspname = ANY (current_schemas(true))))`;

/** Functions and aggregates (not procedures, which CALL runs) of each written function name. */
export const functionsNamedSql = (written: string) => /* SQL */ `
    SELECT
      w.position,
      p.oid
    FROM ${written} w
    JOIN pg_proc p ON p.proname = w.name
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.prokind <> 'p'
      AND ${resolvesIn('n', 'w')}`;

/** t.f is also the call f(t) when f takes one row (composite or pseudo-type) argument: candidates of each name after a dot. */
export const attributeFunctionsNamedSql = (written: string) => /* SQL */ `
    SELECT
      w.position,
      p.oid
    FROM ${written} w
    JOIN pg_proc p ON p.proname = w.name
    JOIN pg_namespace n ON n.oid = p.pronamespace
    JOIN pg_type t ON t.oid = p.proargtypes[0]
    WHERE p.pronargs >= 1
      AND p.pronargs - p.pronargdefaults <= 1
      AND t.typtype IN ('c', 'p')
      AND n.nspname = ANY (current_schemas(true))`;

export const operatorsNamedSql = (written: string) => /* SQL */ `
    SELECT
      w.position,
      o.oid
    FROM ${written} w
    JOIN pg_operator o ON o.oprname = w.name
    JOIN pg_namespace n ON n.oid = o.oprnamespace
    WHERE ${resolvesIn('n', 'w')}`;

/** Types of each written type name (a function-style call may also be a cast, so function names come here too). */
export const typesNamedSql = (written: string) => /* SQL */ `
    SELECT
      w.position,
      t.oid
    FROM ${written} w
    JOIN pg_type t ON t.typname = w.name
    JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE ${resolvesIn('n', 'w')}`;

/** The relation each written relation name names; none for a name that resolves to nothing (a CTE's). */
export const relationsNamedSql = (written: string) => /* SQL */ `
    SELECT
      w.position,
      c.oid
    FROM ${written} w
    JOIN pg_namespace n ON n.nspname = w.schema_name
    JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
    UNION
    SELECT
      w.position,
      to_regclass(quote_ident(w.name))::oid
    FROM ${written} w
    WHERE w.schema_name IS NULL
      AND to_regclass(quote_ident(w.name)) IS NOT NULL`;
