// Types the partition steps share (a types-only file: the steps import it, it imports no step).
import type { TimeKeyType } from './ranges.js';

/** The table as the statements need it: every name from the catalog, quoted. */
export interface PartitionedTarget {
  schema: string;
  table: string;
  oid: number;
  keyColumn: string;
  keyType: TimeKeyType;
  /** The DEFAULT partition, if any. */
  defaultPartition: { schema: string; name: string; oid: number } | null;
  /** Columns an INSERT can write (not dropped, not generated), in the parent's order. */
  insertColumns: string[];
}
