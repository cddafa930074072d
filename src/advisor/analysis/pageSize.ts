// A LIMIT is a constant like any other to pg_stat_statements: `ORDER BY price LIMIT 24` is kept as
// `LIMIT $2`, and a generic plan takes a LIMIT $n to fetch 10% of the rows (preprocess_limit). The
// custom plans that run the calls know it is 24. Costed at 10%, an index read in ORDER BY order
// looks cheap for a filter that keeps few rows (it reads 10% of a long walk, not 24 rows of it),
// and an index that finds the rows first then sorts them looks dear: the advisor chose
// products (price) over GIN (tags) for `tags @> $1 ORDER BY price LIMIT 24`, and rare tags then
// walked the whole price index.
//
// What the calls' LIMIT is, pg_stat_statements tells without any constant: the rows it counts per
// call are the rows the top-level LIMIT let through. So a SELECT whose top-level LIMIT is a $n is
// costed with its mean rows per call, rounded up, in that place. Calls that match fewer rows than
// their LIMIT pull the mean below it; the plan then reads as if fewer rows were wanted, which for
// those calls is what happens. Left as they are: a statement that returned no rows (nothing says
// what its LIMIT is), an OFFSET $n (an unknown offset sends the planner back to 10% whatever the
// LIMIT; nothing counts how far calls page), and a LIMIT inside a subquery (its rows are not the
// statement's).
import type { Node } from 'libpg-query';
import { withLiterals } from './specialize.js';
import type { ParsedWorkloadStatement } from './workload.js';

interface TopSelect {
  limitCount?: Node;
  limitOffset?: Node;
}

/** The statements, each top-level `LIMIT $n` costed at the rows its calls returned. */
export async function withPageSizes(statements: readonly ParsedWorkloadStatement[]): Promise<ParsedWorkloadStatement[]> {
  const out: ParsedWorkloadStatement[] = [];
  for (const statement of statements) {
    const parameter = limitParameter(statement);
    const rows = pageSize(statement);
    const paged = parameter !== null && rows !== null ? await withLiterals(statement, new Map([[parameter, String(rows)]])) : null;
    out.push(paged ?? statement);
  }
  return out;
}

/** The rows the statement's calls returned, on average rounded up; null when it returned none. */
export function pageSize(statement: { calls: number; rows: number }): number | null {
  return statement.calls > 0 && statement.rows > 0 ? Math.ceil(statement.rows / statement.calls) : null;
}

/** The $n of the statement's top-level LIMIT, when that is all that is unknown about its rows. */
function limitParameter(statement: ParsedWorkloadStatement): number | null {
  const select = (statement.node as { SelectStmt?: TopSelect }).SelectStmt;
  if (!select?.limitCount) return null;
  const parameter = paramNumber(select.limitCount);
  if (parameter === null || (select.limitOffset && paramNumber(select.limitOffset) !== null)) return null;
  return parameter;
}

function paramNumber(node: Node): number | null {
  return (node as { ParamRef?: { number?: number } }).ParamRef?.number ?? null;
}
