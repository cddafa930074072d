// The database objects a statement's text names: functions, operators, types and relations, as
// written (schema-qualified or not). explain's checks resolve them against the catalog to know
// what planning (src/db/trust/statementTrust.ts) or executing (src/db/explain/safety.ts) the statement could
// run; the names stay unresolved here, since only the server knows its search_path.
import type { Node } from 'libpg-query';
import { walkTree } from './parse.js';

export interface QualifiedName {
  /** The schema written before the name, or null when unqualified (resolved through search_path). */
  schema: string | null;
  name: string;
}

export interface References {
  /** Called functions and aggregates (f(...), also the functions behind EXTRACT, TRIM...). */
  functions: QualifiedName[];
  /** Operators written in the text (a + b, OPERATOR(s.+), ANY (...), ORDER BY ... USING <). */
  operators: QualifiedName[];
  /** Types named by casts and column definitions; a function-style call may also be a cast. */
  types: QualifiedName[];
  /** Tables, views and other relations read or written (CTE names included: harmless extras). */
  relations: QualifiedName[];
  /**
   * Targets of INSERT, UPDATE, DELETE and MERGE (also in WITH): writing runs more than reading
   * (column defaults, rules), so the trust check looks at these twice.
   */
  written: QualifiedName[];
  /** Names after a dot (t.x, (row).x): a column, or a call of function x(t) in attribute notation. */
  attributeFunctions: string[];
}

// Comparisons a statement uses without writing them: IN, CASE x WHEN, BETWEEN, USING joins,
// DISTINCT, GROUP BY, ORDER BY and set operations pick the type's default =, <, > and friends.
const IMPLICIT_OPERATORS = ['=', '<>', '<', '>', '<=', '>='];

/** Every object name the statement mentions, deduplicated, plus the comparisons it may use implicitly. */
export function collectReferences(node: Node): References {
  const found = {
    functions: new Map<string, QualifiedName>(),
    operators: new Map<string, QualifiedName>(),
    types: new Map<string, QualifiedName>(),
    relations: new Map<string, QualifiedName>(),
    written: new Map<string, QualifiedName>(),
    attributeFunctions: new Set<string>(),
  };
  for (const name of IMPLICIT_OPERATORS) add(found.operators, { schema: null, name });
  walkTree(node, (key, value) => {
    const item = value as Record<string, unknown>;
    switch (key) {
      case 'FuncCall': {
        const name = qualifiedName(item.funcname);
        add(found.functions, name);
        // PostgreSQL reads mytype(x) as a cast when no function mytype exists.
        add(found.types, name);
        break;
      }
      case 'A_Expr':
        // BETWEEN's name is the keyword; its comparisons are among the implicit operators.
        if (!String(item.kind).includes('BETWEEN')) add(found.operators, qualifiedName(item.name));
        break;
      case 'SubLink':
        add(found.operators, qualifiedName(item.operName));
        break;
      case 'SortBy':
        add(found.operators, qualifiedName(item.useOp));
        break;
      case 'typeName':
      case 'TypeName':
        add(found.types, qualifiedName(item.names));
        break;
      case 'RangeVar':
        add(found.relations, relationName(item));
        break;
      // the target of a data-modifying statement is a bare RangeVar under "relation"
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt': {
        const target = item.relation as Record<string, unknown> | undefined;
        if (typeof target?.relname === 'string') {
          add(found.relations, relationName(target));
          add(found.written, relationName(target));
        }
        break;
      }
      case 'ColumnRef': {
        const fields = item.fields as unknown[] | undefined;
        if (fields && fields.length > 1) addAttribute(found.attributeFunctions, fields.at(-1));
        break;
      }
      case 'A_Indirection':
        for (const field of (item.indirection as unknown[] | undefined) ?? []) addAttribute(found.attributeFunctions, field);
        break;
    }
  });
  return {
    functions: [...found.functions.values()],
    operators: [...found.operators.values()],
    types: [...found.types.values()],
    relations: [...found.relations.values()],
    written: [...found.written.values()],
    attributeFunctions: [...found.attributeFunctions],
  };
}

/** [catalog.]schema.name as a list of String nodes; null when the list holds no name. */
function qualifiedName(list: unknown): QualifiedName | null {
  if (!Array.isArray(list)) return null;
  const parts = list
    .map((part) => (part as { String?: { sval?: string } }).String?.sval)
    .filter((part): part is string => part !== undefined);
  if (parts.length === 0) return null;
  return { schema: parts.length > 1 ? parts.at(-2)! : null, name: parts.at(-1)! };
}

function relationName(rangeVar: Record<string, unknown>): QualifiedName {
  return { schema: typeof rangeVar.schemaname === 'string' ? rangeVar.schemaname : null, name: String(rangeVar.relname) };
}

function add(into: Map<string, QualifiedName>, name: QualifiedName | null): void {
  if (name) into.set(`${name.schema ?? ''}\u0000${name.name}`, name);
}

function addAttribute(into: Set<string>, field: unknown): void {
  const name = (field as { String?: { sval?: string } }).String?.sval;
  if (name !== undefined) into.add(name);
}
