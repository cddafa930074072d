// What the operator tells the advisor to leave out, Dexter-style: statements faster on average than
// minMeanTimeMs (an index would save little on them, and their candidates crowd the costing budget),
// and tables named in excludeTables (an audit log nobody reads by key, a table owned by another
// team): statements reading nothing else are set aside with the reason, and no candidate is
// proposed on them. Tables are compared as indexes would go: a partition counts as its root.
import type { Node } from 'libpg-query';
import type { WorkloadStatement } from '../types.js';
import { rangeVarsOf, relationKey, type RelationCatalog } from './relations.js';

/** A table as the catalog spells it (validated by the caller: src/db/catalog.ts findTable). */
export interface TableName {
  schema: string;
  table: string;
}

const keyOf = (name: TableName) => JSON.stringify([name.schema, name.table]);

/** The statements at or above the minimum mean time, and how many were below it. */
export function atLeastMeanTime<S extends WorkloadStatement>(
  statements: readonly S[],
  minMeanTimeMs: number,
): { kept: S[]; below: number } {
  const kept = statements.filter((statement) => statement.meanTimeMs >= minMeanTimeMs);
  return { kept, below: statements.length - kept.length };
}

export class ExcludedTables {
  private readonly keys: ReadonlySet<string>;

  constructor(tables: readonly TableName[]) {
    this.keys = new Set(tables.map(keyOf));
  }

  has(table: TableName): boolean {
    return this.keys.has(keyOf(table));
  }

  /**
   * Why the statement is left out when every table it reads (through views too) is excluded; null
   * when it reads another one, or no table the catalog knows (nothing to say about it here).
   */
  reasonToSkip(node: Node, catalog: RelationCatalog): string | null {
    if (this.keys.size === 0) return null;
    const tables = tablesRead(node, catalog);
    if (tables.length === 0 || !tables.every((table) => this.has(table))) return null;
    return `it reads only tables excludeTables leaves out (${tables.map((t) => `${t.schema}.${t.table}`).join(', ')})`;
  }
}

/** The tables a statement reads, views expanded (as resolveRelations resolved them), deduplicated, in order. */
function tablesRead(tree: unknown, catalog: RelationCatalog, seen = new Set<string>()): TableName[] {
  const found = new Map<string, TableName>();
  for (const name of rangeVarsOf(tree)) {
    const key = relationKey(name);
    const relation = catalog.get(key);
    if (!relation || seen.has(key)) continue;
    if (relation.view) {
      seen.add(key);
      for (const table of tablesRead(relation.view, catalog, seen)) found.set(keyOf(table), table);
      continue;
    }
    const table = { schema: relation.indexSchema, table: relation.indexTable };
    found.set(keyOf(table), table);
  }
  return [...found.values()];
}
