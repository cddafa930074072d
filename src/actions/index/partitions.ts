// An index on a partitioned table without blocking writes: CREATE INDEX CONCURRENTLY refuses a
// partitioned table, and a plain CREATE INDEX on it locks every partition against writes for the
// whole build. So: the index on the parent alone (ON ONLY: catalog only, invalid until every
// partition has its index attached), the same for each sub-partitioned table below it, then each
// leaf's index built concurrently and attached to its parent's index, then the sub-partitioned
// tables' indexes attached, deepest first. PostgreSQL marks each partitioned index valid once all
// its partitions have a valid index attached.
import { ErrorCode, PgscopeError, badInput } from '../../errors.js';
import type { Queryable } from '../../db/pool.js';
import type { PlannedStatement } from '../plan.js';
import { loadPartitionKeys, loadPartitionTree, type PartitionTreeRow } from './catalog.js';
import { chooseIndexName, displayName } from './names.js';
import { quoteIdent } from '../../sql/quote.js';
import type { BuildSql, IndexKey } from './types.js';

export interface PartitionedRequest {
  schema: string;
  table: string;
  oid: string;
  schemaOid: string;
  /** The parent index's name (already checked free). */
  name: string;
  unique: boolean;
  keys: IndexKey[];
  include: string[];
  /** The column names derived index names are made of. */
  columnNames: string[];
}

/**
 * The statements for a partitioned table, in order, and its leaves with their index names.
 * Sub-partitioned tables are refused unless `subpartitions` is set: the executor (build.ts)
 * pairs the k-th concurrent build and the k-th ATTACH with leaves[k] and takes the one plain
 * CREATE INDEX for the parent's, which holds for one level only. The statements for more levels
 * are built and tested here, ready for an executor that follows them.
 */
export async function partitionedStatements(db: Queryable, request: PartitionedRequest, build: BuildSql, subpartitions = false) {
  const tree = await loadPartitionTree(db, request.oid);
  const nested = tree.find((row) => row.relkind === 'p');
  if (nested && !subpartitions) {
    throw new PgscopeError(
      ErrorCode.UNSUPPORTED,
      `Partition ${displayName(nested.schema, nested.table)} of ${displayName(request.schema, request.table)} is itself partitioned; ` +
        'applyIndex builds indexes on partitioned tables with one level of partitions only. Index each sub-partitioned partition on its own.',
      { schema: nested.schema, table: nested.table },
    );
  }
  const foreign = tree.find((row) => row.relkind === 'f');
  if (foreign) {
    throw badInput(
      `Partition ${displayName(foreign.schema, foreign.table)} is a foreign table, which cannot be indexed: ` +
        `the index on ${displayName(request.schema, request.table)} could never become valid.`,
    );
  }
  if (request.unique) await checkUniqueKeys(db, request, tree);

  // Index names per relation: the parent's is given; the others derived, unique within their schema
  const indexOf = new Map<string, { schema: string; name: string }>([[request.oid, { schema: request.schema, name: request.name }]]);
  const reserved = new Map<string, Set<string>>([[request.schemaOid, new Set([request.name])]]);
  for (const row of tree) {
    const planned = reserved.get(row.schema_oid) ?? new Set<string>();
    const name = await chooseIndexName(db, row.schema_oid, row.table, request.columnNames, planned);
    planned.add(name);
    reserved.set(row.schema_oid, planned);
    indexOf.set(row.oid, { schema: row.schema, name });
  }

  const target = (row: { schema: string; table: string }) => displayName(row.schema, row.table);
  const attach = (row: PartitionTreeRow): PlannedStatement => {
    const parent = indexOf.get(row.parent_oid)!;
    const child = indexOf.get(row.oid)!;
    return {
      sql: `ALTER INDEX ${qualifiedSql(parent)} ATTACH PARTITION ${qualifiedSql(child)}`,
      purpose: `attach the index of partition ${target(row)} to ${displayName(parent.schema, parent.name)}`,
      outsideTransaction: false,
    };
  };
  const middles = tree.filter((row) => row.relkind === 'p');
  const leaves = tree.filter((row) => row.relkind === 'r');
  const statements: PlannedStatement[] = [
    {
      sql: build(request.name, request, { only: true }),
      purpose: `create the index on ${target(request)} alone (catalog only, invalid until every partition's index is attached)`,
      outsideTransaction: false,
    },
    ...middles.map((row) => ({
      sql: build(indexOf.get(row.oid)!.name, row, { only: true }),
      purpose: `create the index on sub-partitioned ${target(row)} alone`,
      outsideTransaction: false,
    })),
    ...leaves.flatMap((row) => [
      {
        sql: build(indexOf.get(row.oid)!.name, row, { concurrently: true }),
        purpose: `build the index on partition ${target(row)} without blocking writes`,
        outsideTransaction: true,
      },
      attach(row),
    ]),
    ...[...middles].sort((a, b) => b.level - a.level).map(attach),
  ];
  return {
    statements,
    leaves: leaves.map((row) => ({ schema: row.schema, table: row.table, indexName: indexOf.get(row.oid)!.name })),
  };
}

const qualifiedSql = (index: { schema: string; name: string }) => `${quoteIdent(index.schema)}.${quoteIdent(index.name)}`;

/** PostgreSQL requires a unique index on a partitioned table to contain every partition key column. */
async function checkUniqueKeys(db: Queryable, request: PartitionedRequest, tree: PartitionTreeRow[]): Promise<void> {
  const oids = [request.oid, ...tree.filter((row) => row.relkind === 'p').map((row) => row.oid)];
  const keyColumns = new Set(request.keys.flatMap((key) => key.column ?? []));
  for (const row of await loadPartitionKeys(db, oids)) {
    if (row.column === null) {
      const table = displayName(request.schema, request.table);
      throw badInput(`A unique index on ${table} is not possible: ${displayName(row.table)} is partitioned by an expression.`);
    }
    if (!keyColumns.has(row.column)) {
      throw badInput(
        `A unique index on partitioned table ${displayName(request.schema, request.table)} must include the partition key column ` +
          `${displayName(row.column)} among its key columns (PostgreSQL enforces uniqueness within each partition only).`,
        { column: row.column },
      );
    }
  }
}
