// Whether planning a statement could run code pgscope does not trust: explain (plain and analyze)
// refuses such a statement with UNTRUSTED_CODE before anything is planned, the advisor skips it
// with the reason (src/advisor/analysis/analyze.ts) and plans only what was cleared (PlanClearance). The
// statement's names (src/sql/references.ts) are resolved as writtenNames.ts describes and met with
// what leads to untrusted code (untrustedCode.ts): a function or operator it names, a type it
// casts to, a relation it reads or writes. A whole workload is checked with one catalog query
// after the search for untrusted code, which is done once per check, not once per statement.
import type { Node } from 'libpg-query';
import { ErrorCode, isPgscopeError, PgscopeError } from '../../errors.js';
import { parseOneStatement } from '../../sql/parse.js';
import { collectReferences, type QualifiedName, type References } from '../../sql/references.js';
import type { Queryable } from '../pool.js';
import { trustRemedy } from './rule.js';
import { findUntrustedCode, type Reach } from './untrustedCode.js';
import {
  attributeFunctionsNamedSql,
  functionsNamedSql,
  operatorsNamedSql,
  relationsNamedSql,
  typesNamedSql,
  writtenNamesSql,
} from './writtenNames.js';
import type { TrustConfig } from '../../config.js';

// Each category of written names met with the objects of one kind that lead to untrusted code
// ($13 kinds, $14 OIDs). A row: the name's position in its category's arrays, the object's position.
const MEETINGS_SQL = /* SQL */ `
  WITH
  untrusted AS (
    SELECT
      u.kind,
      u.oid,
      u.position::int AS position
    FROM unnest($13::text[], $14::oid[]) WITH ORDINALITY AS u(kind, oid, position)
  ),
  function_name AS (${writtenNamesSql('$1', '$2')}
  ),
  attribute_name AS (${writtenNamesSql('$3', '$4')}
  ),
  operator_name AS (${writtenNamesSql('$5', '$6')}
  ),
  type_name AS (${writtenNamesSql('$7', '$8')}
  ),
  read_name AS (${writtenNamesSql('$9', '$10')}
  ),
  written_name AS (${writtenNamesSql('$11', '$12')}
  )
  SELECT 'functions' AS category, w.position::int AS name, u.position AS untrusted
  FROM (${functionsNamedSql('function_name')}
  ) w
  JOIN untrusted u ON u.kind = 'function' AND u.oid = w.oid
  UNION ALL
  SELECT 'attributeFunctions', w.position::int, u.position
  FROM (${attributeFunctionsNamedSql('attribute_name')}
  ) w
  JOIN untrusted u ON u.kind = 'function' AND u.oid = w.oid
  UNION ALL
  SELECT 'operators', w.position::int, u.position
  FROM (${operatorsNamedSql('operator_name')}
  ) w
  JOIN untrusted u ON u.kind = 'operator' AND u.oid = w.oid
  UNION ALL
  SELECT 'types', w.position::int, u.position
  FROM (${typesNamedSql('type_name')}
  ) w
  JOIN untrusted u ON u.kind = 'type' AND u.oid = w.oid
  UNION ALL
  SELECT 'relations', w.position::int, u.position
  FROM (${relationsNamedSql('read_name')}
  ) w
  JOIN untrusted u ON u.kind = 'read' AND u.oid = w.oid
  UNION ALL
  SELECT 'written', w.position::int, u.position
  FROM (${relationsNamedSql('written_name')}
  ) w
  JOIN untrusted u ON u.kind = 'write' AND u.oid = w.oid
  ORDER BY
    category,
    name,
    untrusted`;

/** The categories of References the check reads, in the order a refusal is chosen. */
const CATEGORIES = ['functions', 'attributeFunctions', 'operators', 'types', 'relations', 'written'] as const;
type Category = (typeof CATEGORIES)[number];

interface MeetingRow {
  category: Category;
  name: number;
  untrusted: number;
}

/** How planning `statement` would reach untrusted code; one entry per statement, null when it would not. */
export async function untrustedReaches(db: Queryable, trust: TrustConfig, statements: readonly Node[]): Promise<Array<Reach | null>> {
  const code = await findUntrustedCode(db, trust);
  if (code.everywhere) return statements.map(() => code.everywhere);
  if (code.objects.length === 0) return statements.map(() => null);
  const references = statements.map(collectReferences);
  const names = distinctNames(references);
  const rows = await db.query<MeetingRow>(MEETINGS_SQL, [
    ...names.arrays,
    code.objects.map((object) => object.kind),
    code.objects.map((object) => object.oid),
  ]);
  const met = new Map<string, Reach>();
  for (const row of rows) {
    const at = `${row.category}:${row.name}`;
    if (!met.has(at)) met.set(at, code.objects[row.untrusted - 1]!.reach);
  }
  return references.map((found) => {
    for (const category of CATEGORIES) {
      for (const name of namesOf(found, category)) {
        const reach = met.get(`${category}:${names.position(category, name)}`);
        if (reach) return reach;
      }
    }
    return null;
  });
}

/** Each category's names once, whichever statements write them: the query's arrays, and each name's 1-based place in them. */
function distinctNames(references: readonly References[]) {
  const key = (category: Category, name: QualifiedName) => `${category}\u0000${name.schema ?? ''}\u0000${name.name}`;
  const positions = new Map<string, number>();
  const arrays = CATEGORIES.flatMap((category) => {
    const schemas: Array<string | null> = [];
    const written: string[] = [];
    for (const name of references.flatMap((found) => namesOf(found, category))) {
      if (positions.has(key(category, name))) continue;
      schemas.push(name.schema);
      written.push(name.name);
      positions.set(key(category, name), written.length);
    }
    return [schemas, written];
  });
  return { arrays, position: (category: Category, name: QualifiedName) => positions.get(key(category, name)) };
}

function namesOf(found: References, category: Category): QualifiedName[] {
  if (category === 'attributeFunctions') return found.attributeFunctions.map((name) => ({ schema: null, name }));
  return found[category];
}

/** The reach as a clause: "it calls function a.f(integer), owned by role r" or "it reaches ... through index i on a.t". */
export function describeReach(reach: Reach): string {
  const { culprit, within } = reach;
  return within === null
    ? `it calls function ${culprit.function}, owned by role ${culprit.owner}`
    : `it reaches function ${culprit.function}, owned by role ${culprit.owner}, through ${within}`;
}

/** UNTRUSTED_CODE for explain, naming the function, its owner, where it was reached and the remedy. */
export function untrustedCodeError(reach: Reach): PgscopeError {
  const { culprit, within } = reach;
  return new PgscopeError(
    ErrorCode.UNTRUSTED_CODE,
    'explain plans a statement only when the code planning could run is trusted (PostgreSQL evaluates functions while planning, ' +
      `as pgscope's role); this one was not planned: ${describeReach(reach)}. ${trustRemedy(culprit.owner)}.`,
    { function: culprit.function, owner: culprit.owner, ...(within === null ? {} : { within }) },
  );
}

/** Throws UNTRUSTED_CODE when planning `node` could run code pgscope does not trust. */
export async function assertTrustedToPlan(db: Queryable, trust: TrustConfig, node: Node): Promise<void> {
  const [reach] = await untrustedReaches(db, trust, [node]);
  if (reach) throw untrustedCodeError(reach);
}

/**
 * Statements checked for planning: the advisor's costing and applyRecommendation's verification
 * plan a text only through a clearance (src/advisor/costing/planCost.ts), so nothing unchecked is planned.
 */
export interface PlanClearance {
  /** Why `sql` must not be planned (a sentence fragment), or null when it may be. A text that was not checked is refused. */
  refusal(sql: string): string | null;
}

/** Checks `statements` (their texts, parsed here when no tree is given) in one run. */
export async function clearStatements(
  db: Queryable,
  trust: TrustConfig,
  statements: ReadonlyArray<{ sql: string; node?: Node }>,
): Promise<PlanClearance> {
  const refusals = new Map<string, string | null>();
  const parsed: Array<{ sql: string; node: Node }> = [];
  for (const { sql, node } of statements) {
    if (node) {
      parsed.push({ sql, node });
      continue;
    }
    try {
      parsed.push({ sql, node: (await parseOneStatement(sql)).node });
    } catch (error) {
      if (!isPgscopeError(error)) throw error;
      refusals.set(sql, 'pgscope could not parse it as one statement');
    }
  }
  const reaches = await untrustedReaches(
    db,
    trust,
    parsed.map((statement) => statement.node),
  );
  parsed.forEach(({ sql }, index) => {
    const reach = reaches[index]!;
    refusals.set(sql, reach ? untrustedReason(reach) : null);
  });
  return {
    refusal: (sql) => (refusals.has(sql) ? refusals.get(sql)! : 'pgscope did not check what planning it would run'),
  };
}

/** The advisor's reason for not planning a statement. */
export function untrustedReason(reach: Reach): string {
  return `planning it could run code pgscope does not trust: ${describeReach(reach)} (to trust that role, add it to PGSCOPE_TRUSTED_ROLES)`;
}
