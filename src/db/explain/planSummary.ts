// What a person reads first in a plan: sequential scans of large tables, row estimates that were
// far off (when analyzed), and notes on generic plans whose NULL parameters make them meaningless.
// Reads EXPLAIN (FORMAT JSON) documents; sizes every scanned table in one statement.
import { relationsByName } from '../fragments.js';
import type { Queryable } from '../pool.js';

/** One node of EXPLAIN (FORMAT JSON)'s tree: the keys pgscope reads (PostgreSQL prints more). */
interface PlanNode {
  'Node Type': string;
  /** With VERBOSE, on scans. */
  Schema?: string;
  'Relation Name'?: string;
  Alias?: string;
  'Total Cost': number;
  /** Estimated rows per loop. */
  'Plan Rows': number;
  /** Average rows per loop (ANALYZE only). */
  'Actual Rows'?: number;
  /** 0 when the node never ran (ANALYZE only). */
  'Actual Loops'?: number;
  Filter?: string;
  /** Partitions pruned when the executor started (from parameter values). */
  'Subplans Removed'?: number;
  'One-Time Filter'?: string;
  Plans?: PlanNode[];
}

/** EXPLAIN (FORMAT JSON)'s document: an array with one entry per statement (here always one). */
export type ExplainDocument = [{ Plan: PlanNode; 'Planning Time'?: number; 'Execution Time'?: number; [key: string]: unknown }];

/** direct: planned for the given values; generic: EXPLAIN (GENERIC_PLAN); prepared: PREPARE + EXECUTE with NULLs. */
export type PlanMode = 'direct' | 'generic' | 'prepared';

export interface SequentialScan {
  schema: string | null;
  table: string;
  alias: string | null;
  filter: string | null;
  estimatedRows: number;
  actualRows: number | null;
  loops: number | null;
  tableRowEstimate: number | null;
  tableSizeBytes: bigint | null;
  large: boolean;
}

export interface RowMisestimate {
  nodeType: string;
  schema: string | null;
  table: string | null;
  estimatedRows: number;
  actualRows: number;
  loops: number;
  factor: number;
  underestimated: boolean;
}

export interface ExplainSummary {
  sequentialScans: SequentialScan[];
  misestimates: RowMisestimate[];
  notes: string[];
}

// The thresholds. 8 MB is also min_parallel_table_scan_size's default: from there on,
// PostgreSQL itself thinks a scan is big enough to share between workers.
const SEQ_SCAN_NOTE_MIN_ROWS = 10_000;
const SEQ_SCAN_NOTE_MIN_BYTES = 8 * 1024 * 1024;
const MISESTIMATE_FACTOR = 10;

interface TableSizeRow {
  schema: string;
  table_name: string;
  /** Null when the table was never vacuumed or analyzed (PostgreSQL 14+ says -1; 13 says 0). */
  row_estimate: number | null;
  size_bytes: bigint;
}

// The heap's size (main fork): what a sequential scan reads.
const TABLE_SIZES_SQL = /* SQL */ `
  SELECT
    n.nspname AS schema,
    t.relname AS table_name,
    CASE WHEN t.reltuples >= 0 THEN t.reltuples::float8 END AS row_estimate,
    pg_relation_size(t.oid) AS size_bytes
  FROM ${relationsByName('$1', '$2')}
  ORDER BY
    n.nspname,
    t.relname`;

/** Sequential scans with their tables' sizes (one extra statement), misestimates and notes. */
export async function summarizePlan(
  db: Queryable,
  plan: ExplainDocument,
  how: { mode: PlanMode; analyzed: boolean },
): Promise<ExplainSummary> {
  const nodes = [...planNodes(plan[0].Plan)];
  const scans = nodes.filter((node) => node['Node Type'] === 'Seq Scan' && node['Relation Name'] !== undefined);
  const sizes = await tableSizes(db, scans);
  return {
    sequentialScans: scans.map((node) => sequentialScan(node, sizes.get(tableKey(node.Schema, node['Relation Name'])))),
    misestimates: how.analyzed ? nodes.flatMap(misestimate) : [],
    notes: planNotes(nodes, how.mode),
  };
}

/** Depth first, parents before children: the order of EXPLAIN's text output. */
function* planNodes(node: PlanNode): Generator<PlanNode> {
  yield node;
  for (const child of node.Plans ?? []) yield* planNodes(child);
}

const tableKey = (schema: string | undefined, table: string | undefined) => JSON.stringify([schema, table]);

async function tableSizes(db: Queryable, scans: PlanNode[]): Promise<Map<string, TableSizeRow>> {
  const wanted = new Map(
    scans.filter((node) => node.Schema !== undefined).map((node) => [tableKey(node.Schema, node['Relation Name']), node]),
  );
  if (wanted.size === 0) return new Map();
  const nodes = [...wanted.values()];
  const rows = await db.query<TableSizeRow>(TABLE_SIZES_SQL, [
    nodes.map((node) => node.Schema),
    nodes.map((node) => node['Relation Name']),
  ]);
  return new Map(rows.map((row) => [tableKey(row.schema, row.table_name), row]));
}

function sequentialScan(node: PlanNode, size: TableSizeRow | undefined): SequentialScan {
  const rowEstimate = size?.row_estimate ?? null;
  return {
    schema: node.Schema ?? null,
    table: node['Relation Name']!,
    alias: node.Alias ?? null,
    filter: node.Filter ?? null,
    estimatedRows: node['Plan Rows'],
    actualRows: node['Actual Rows'] ?? null,
    loops: node['Actual Loops'] ?? null,
    tableRowEstimate: rowEstimate,
    tableSizeBytes: size?.size_bytes ?? null,
    large: (rowEstimate ?? 0) > SEQ_SCAN_NOTE_MIN_ROWS || (size?.size_bytes ?? 0n) > BigInt(SEQ_SCAN_NOTE_MIN_BYTES),
  };
}

/** Rows per loop estimated vs measured, when they differ by MISESTIMATE_FACTOR or more. */
function misestimate(node: PlanNode): RowMisestimate[] {
  const loops = node['Actual Loops'];
  if (!loops) return [];
  const estimated = node['Plan Rows'];
  const actual = node['Actual Rows'] ?? 0;
  // No row is as good as one: an estimate of 1 for an empty result is not a misestimate.
  const ratio = Math.max(estimated, 1) / Math.max(actual, 1);
  const factor = Math.round(Math.max(ratio, 1 / ratio) * 100) / 100;
  if (factor < MISESTIMATE_FACTOR) return [];
  return [
    {
      nodeType: node['Node Type'],
      schema: node.Schema ?? null,
      table: node['Relation Name'] ?? null,
      estimatedRows: estimated,
      actualRows: actual,
      loops,
      factor,
      underestimated: actual > estimated,
    },
  ];
}

function planNotes(nodes: PlanNode[], mode: PlanMode): string[] {
  const notes: string[] = [];
  if (mode === 'generic') {
    notes.push(
      'No params were given for the $n parameters: this is the generic plan (EXPLAIN GENERIC_PLAN), made without their values, ' +
        'as a prepared statement may use after five executions. Pass params for the plan of specific values.',
    );
  }
  if (mode === 'prepared') {
    notes.push(
      'No params were given for the $n parameters: this is the generic plan, made with PREPARE and plan_cache_mode = force_generic_plan ' +
        '(EXPLAIN GENERIC_PLAN needs PostgreSQL 16) and started with every parameter NULL. Pass params for the plan of specific values.',
    );
    for (const node of nodes) {
      const removed = node['Subplans Removed'] ?? 0;
      if (removed === 0) continue;
      const kept = node.Plans?.length ?? 0;
      notes.push(
        kept === 0
          ? `All ${removed} partitions under the ${node['Node Type']} node were pruned at executor start-up because the parameters were NULL: ` +
              'this plan does not show which partitions a real execution scans. Pass params for a meaningful plan.'
          : `${removed} of ${removed + kept} partitions under the ${node['Node Type']} node were pruned at executor start-up for NULL parameters; ` +
              'real values may scan others. Pass params for a meaningful plan.',
      );
    }
  }
  if (nodes.some((node) => node['One-Time Filter'] === 'false')) {
    notes.push(
      mode === 'prepared'
        ? 'A One-Time Filter is false: with NULL parameters PostgreSQL proved part of the statement returns no rows and skips it. Pass params for a meaningful plan.'
        : 'A One-Time Filter is false: PostgreSQL proved part of the statement returns no rows and skips it entirely.',
    );
  }
  return notes;
}
