// A statement the samples show running with one constant most of the time, on a category column,
// is analyzed and costed as it mostly runs: `WHERE status = $1` becomes `WHERE status = 'pending'`,
// and the analysis then offers a partial index WHERE status = 'pending' beside the plain ones, which
// costing weighs like any other. Only when all of these hold:
//  - at least MIN_SAMPLES executions sampled, and one literal in at least DOMINANT_SHARE of them;
//  - the $n is compared with `=` to a column of a table the statement reads;
//  - pg_stats says the column is a category (its most common values cover CATEGORY_COVERAGE of
//    the rows) and the literal is one of them, on at most MAX_VALUE_SHARE of the rows: a partial
//    index on a hot customer or tenant id would serve one customer, and one on the value most rows
//    hold would spare little.
// A $n that names a jsonb key (payload ->> $2: pg_stat_statements normalizes 'order_id' too) is
// part of the key's expression, not a value: with one literal in DOMINANT_SHARE of the samples it
// is put back, and the analysis can offer the expression index ((payload ->> 'order_id')).
// The statement keeps its queryId and its text as pg_stat_statements has it: only the analysis and
// the costing see the literals.
import { type Node, scanSync } from 'libpg-query';
import type { Queryable } from '../../db/pool.js';
import { parseStatements, walkTree } from '../../sql/parse.js';
import { quoteIdent } from '../../sql/quote.js';
import type { ParsedWorkloadStatement } from './workload.js';
import type { ConstantSamples, StatementSamples } from './samples.js';

const MIN_SAMPLES = 5;
const DOMINANT_SHARE = 0.8;
const CATEGORY_COVERAGE = 0.9;
const MAX_VALUE_SHARE = 0.5;

/** A $n compared with `=` to a column, and the tables the column may belong to. */
export interface Comparison {
  parameter: number;
  column: string;
  /** `schema.table` or `table` as written, for to_regclass; the column's qualifier narrows them. */
  relations: string[];
}

/** The workload's statements, those the samples and pg_stats allow with their dominant constants in. */
export async function specializeStatements(
  db: Queryable,
  statements: readonly ParsedWorkloadStatement[],
  samples: ConstantSamples | undefined,
): Promise<ParsedWorkloadStatement[]> {
  if (!samples || samples.size === 0) return [...statements];
  const wanted = new Map<ParsedWorkloadStatement, Array<Comparison & { literal: string }>>();
  const jsonKeys = new Map<ParsedWorkloadStatement, Map<number, string>>();
  for (const statement of statements) {
    const sampled = samples.of(statement.queryId);
    if (!sampled || sampled.samples < MIN_SAMPLES || !sameText(sampled.normalized, statement.query)) continue;
    const comparisons = equalityComparisons(statement.node).flatMap((comparison) => {
      const literal = dominantLiteral(sampled, comparison.parameter);
      return literal === null ? [] : [{ ...comparison, literal }];
    });
    if (comparisons.length > 0) wanted.set(statement, comparisons);
    const keys = new Map(
      jsonKeyParameters(statement.node).flatMap((parameter) => {
        const literal = dominantLiteral(sampled, parameter);
        return literal !== null && /^'[^']*'$/.test(literal) ? [[parameter, literal] as const] : [];
      }),
    );
    if (keys.size > 0) jsonKeys.set(statement, keys);
  }
  if (wanted.size === 0 && jsonKeys.size === 0) return [...statements];
  const categories = await loadMostCommon(
    db,
    [...wanted.values()].flat().flatMap((c) => c.relations.map((relation) => ({ relation, column: c.column }))),
  );
  const out: ParsedWorkloadStatement[] = [];
  for (const statement of statements) {
    const literals = new Map<number, string>(jsonKeys.get(statement));
    for (const comparison of wanted.get(statement) ?? []) {
      const category = comparison.relations.map((relation) => categories.get(`${relation}\u0000${comparison.column}`)).find(Boolean);
      if (category && isSelectiveCategory(category, comparison.literal)) literals.set(comparison.parameter, comparison.literal);
    }
    out.push(literals.size === 0 ? statement : ((await withLiterals(statement, literals)) ?? statement));
  }
  return out;
}

/** pg_stat_statements keeps the text as sent; the sample was normalized from the same bytes. */
const sameText = (a: string, b: string) => a.trim().replace(/;$/, '') === b.trim().replace(/;$/, '');

function dominantLiteral(sampled: StatementSamples, parameter: number): string | null {
  const counts = sampled.parameters.get(parameter);
  if (!counts) return null;
  const [literal, times] = [...counts.values].reduce((best, each) => (each[1] > best[1] ? each : best), ['', 0]);
  return times >= MIN_SAMPLES && times / sampled.samples >= DOMINANT_SHARE ? literal : null;
}

const JSON_KEY_OPERATORS = new Set(['->', '->>', '#>', '#>>']);

/** The $n on the right of a jsonb key operator whose left side is a column (payload ->> $2). */
function jsonKeyParameters(node: Node): number[] {
  const parameters: number[] = [];
  walkTree(node, (key, value) => {
    if (key !== 'A_Expr') return;
    const expr = value as { kind?: string; name?: Array<{ String?: { sval?: string } }>; lexpr?: Node; rexpr?: Node };
    const operator = expr.name?.length === 1 ? expr.name[0]?.String?.sval : undefined;
    if (expr.kind !== 'AEXPR_OP' || !operator || !JSON_KEY_OPERATORS.has(operator)) return;
    const parameter = (expr.rexpr as { ParamRef?: { number?: number } } | undefined)?.ParamRef?.number;
    if (parameter !== undefined && (expr.lexpr as { ColumnRef?: unknown } | undefined)?.ColumnRef) parameters.push(parameter);
  });
  return parameters;
}

/** `column = $n` (either side) anywhere in the statement, with the relations the column may be from. */
export function equalityComparisons(node: Node): Comparison[] {
  const relations = new Map<string, string>(); // alias or name -> relation as written
  walkTree(node, (key, value) => {
    if (key !== 'RangeVar') return;
    const range = value as { schemaname?: string; relname?: string; alias?: { aliasname?: string } };
    if (!range.relname) return;
    const written = range.schemaname ? `${quoteIdent(range.schemaname)}.${quoteIdent(range.relname)}` : quoteIdent(range.relname);
    relations.set(range.alias?.aliasname ?? range.relname, written);
  });
  const comparisons: Comparison[] = [];
  walkTree(node, (key, value) => {
    if (key !== 'A_Expr') return;
    const expr = value as { kind?: string; name?: Array<{ String?: { sval?: string } }>; lexpr?: Node; rexpr?: Node };
    if (expr.kind !== 'AEXPR_OP' || expr.name?.length !== 1 || expr.name[0]?.String?.sval !== '=') return;
    for (const [side, other] of [
      [expr.lexpr, expr.rexpr],
      [expr.rexpr, expr.lexpr],
    ] as const) {
      const parameter = (other as { ParamRef?: { number?: number } } | undefined)?.ParamRef?.number;
      const fields = (side as { ColumnRef?: { fields?: Array<{ String?: { sval?: string } }> } } | undefined)?.ColumnRef?.fields;
      const names = fields?.map((field) => field.String?.sval);
      if (parameter === undefined || !names || names.some((name) => name === undefined) || names.length > 2) continue;
      const column = names.at(-1)!;
      const qualifier = names.length === 2 ? relations.get(names[0]!) : undefined;
      comparisons.push({ parameter, column, relations: qualifier ? [qualifier] : [...new Set(relations.values())] });
    }
  });
  return comparisons;
}

/** pg_stats' most common values of a column, and its distinct values (a count, as n_distinct gives rows). */
export interface MostCommon {
  /** The column, as "schema.table.column". */
  column: string;
  values: string[];
  freqs: number[];
  distinctValues: number;
}

/**
 * pg_stats' most common values of each (relation, column), by `relation\0column` (the relation as
 * the statement wrote it, resolved by to_regclass); a partitioned table's own statistics first.
 */
export async function loadMostCommon(
  db: Queryable,
  columns: Array<{ relation: string; column: string }>,
): Promise<Map<string, MostCommon>> {
  const rows = await db.query<{
    relation: string;
    column_name: string;
    qualified: string;
    vals: string[] | null;
    freqs: number[] | null;
    distinct_values: number;
  }>(
    /* SQL */ `
    SELECT DISTINCT ON (w.relation, w.column_name)
      w.relation,
      w.column_name,
      format('%s.%s.%s', n.nspname, c.relname, s.attname) AS qualified,
      s.most_common_vals::text::text[] AS vals,
      s.most_common_freqs::float8[] AS freqs,
      CASE
        WHEN s.n_distinct >= 0 THEN s.n_distinct
        ELSE -s.n_distinct * greatest(c.reltuples, 0)
      END::float8 AS distinct_values
    FROM unnest($1::text[], $2::text[]) AS w(relation, column_name)
    JOIN pg_class c ON c.oid = to_regclass(w.relation)
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = w.column_name
    ORDER BY
      w.relation,
      w.column_name,
      s.inherited DESC`,
    [columns.map((c) => c.relation), columns.map((c) => c.column)],
  );
  return new Map(
    rows.flatMap((row) =>
      row.vals && row.freqs
        ? [
            [
              `${row.relation}\u0000${row.column_name}`,
              { column: row.qualified, values: row.vals, freqs: row.freqs, distinctValues: row.distinct_values },
            ],
          ]
        : [],
    ),
  );
}

function isSelectiveCategory(category: MostCommon, literal: string): boolean {
  const coverage = category.freqs.reduce((sum, freq) => sum + freq, 0);
  const at = category.values.indexOf(statsValue(literal));
  return coverage >= CATEGORY_COVERAGE && at >= 0 && category.freqs[at]! <= MAX_VALUE_SHARE;
}

/** A literal's value as pg_stats prints it: 'it''s' -> it's, true -> t. */
function statsValue(literal: string): string {
  if (literal.startsWith("'") && literal.endsWith("'")) return literal.slice(1, -1).replaceAll("''", "'");
  if (/^true$/i.test(literal)) return 't';
  if (/^false$/i.test(literal)) return 'f';
  return literal;
}

/** The statement with literals in place of those $n, the other $n renumbered from $1 (PREPARE needs every $n used). */
export async function withLiterals(
  statement: ParsedWorkloadStatement,
  literals: ReadonlyMap<number, string>,
): Promise<ParsedWorkloadStatement | null> {
  const text = statement.query;
  const kept = new Map<number, number>();
  let out = '';
  let at = 0;
  for (const token of scanSync(text).tokens) {
    if (token.tokenName !== 'PARAM') continue;
    const number = Number(text.slice(token.start + 1, token.end));
    const literal = literals.get(number);
    if (!kept.has(number) && literal === undefined) kept.set(number, kept.size + 1);
    out += text.slice(at, token.start) + (literal ?? `$${kept.get(number)}`);
    at = token.end;
  }
  out += text.slice(at);
  try {
    const [parsed] = await parseStatements(out);
    return parsed ? { ...statement, query: out, keptQuery: statement.keptQuery ?? statement.query, node: parsed.node } : null;
  } catch {
    return null;
  }
}
