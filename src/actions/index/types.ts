// Types the index steps share (a types-only file: the steps import it, it imports no step).
import type { ParsedExpression } from '../../sql/indexExpression.js';

/** A key of the index, validated: a column of the table or a rebuilt expression. */
export interface IndexKey {
  column: string | null;
  expression: ParsedExpression | null;
  direction: 'ASC' | 'DESC' | null;
  nulls: 'FIRST' | 'LAST' | null;
  opclass: string | null;
  /** The operator class's schema when it is not pg_catalog (resolveKeyOpclasses). */
  opclassSchema?: string | null;
}

/** CREATE INDEX for this request, with a name, on a table, ONLY and CONCURRENTLY as asked. */
export type BuildSql = (name: string, on: { schema: string; table: string }, flags: { only?: boolean; concurrently?: boolean }) => string;
