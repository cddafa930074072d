// The index advisor's vocabulary, shared by its steps (one per file in src/advisor/):
// workload -> predicates (per table, from the parse tree) -> candidates -> coverage by existing
// indexes -> costing (HypoPG what-if, or the pg_stats fallback) -> selection -> recommendations.
// A candidate is shaped like applyIndex's input, so that a recommendation is applied by the same
// planner and executor as a hand-written index (src/actions/index/definition.ts, actions/index/build.ts).

/** One statement of the workload, from pg_stat_statements. */
export interface WorkloadStatement {
  queryId: string;
  /**
   * The text costed: as pg_stat_statements stores it ($1, $2 ... for constants), with the constants
   * the analysis put back where it knows them (analysis/specialize.ts, analysis/pageSize.ts).
   */
  query: string;
  /** The text as pg_stat_statements stores it, where `query` has constants put back. */
  keptQuery?: string;
  calls: number;
  totalTimeMs: number;
  meanTimeMs: number;
  rows: number;
  /** Where a `column = $n` is on a skewed column (analysis/skew.ts): the statement at a heavy value, costed beside the generic plan. */
  heavy?: HeavyVariant;
}

/** A skewed column's heavy values, as costing weighs them (analysis/skew.ts). */
export interface HeavyVariant {
  /** The statement with a heavy value in place of its $n (other $n renumbered): planned, never shown. */
  query: string;
  /** The heavy values' share of the rows, 0..1: the variant's weight in the statement's cost. */
  weight: number;
  /** The column, as "schema.table.column". */
  column: string;
  /** The value in place of the $n, as pg_stats prints it (the estimate looks it up there): never shown. */
  value: string;
  /** The share of the rows of the value the variant uses. */
  share: number;
  /** The average value's share of the rows (1 / distinct values). */
  averageShare: number;
}

/**
 * The window the advisor's reads (calls per statement) and writes (rows per table) are both counted
 * over: the entries of pg_stat_statements, since it was last reset as a whole when it says so.
 */
export interface WorkloadWindow {
  source: 'PG_STAT_STATEMENTS';
  /** pg_stat_statements_info.stats_reset (extension 1.9, PostgreSQL 14+); null before. */
  since: Date | null;
  /** The window in a sentence. */
  sentence: string;
}

/** How a statement uses one key (a column or an expression) of a table. */
export type KeyUse =
  | 'EQUALITY' // col = $1, col IN (...), col = ANY ($1), join key on the inner side
  | 'RANGE' // <, <=, >, >=, BETWEEN
  | 'IS_NULL' // col IS NULL
  | 'SORT' // ORDER BY (with direction): an index read in order spares the sort, and stops early under a LIMIT
  | 'JSONB_CONTAINS' // col @> $1
  | 'JSONB_EXISTS' // col ? $1, ?|, ?&
  | 'ARRAY_CONTAINS' // array col @> $1, $1 <@ col, col && $1 (GIN, array_ops)
  | 'ARRAY_ANY' // $1 = ANY (array col): no index serves it as written (col @> ARRAY[$1] is the same test, and GIN serves that)
  | 'PATTERN_PREFIX' // col LIKE 'abc%', col LIKE $1 (taken for a prefix pattern: see conditions.ts)
  | 'PATTERN_INFIX'; // col ILIKE $1, col LIKE '%abc%' (trigram GIN, pg_trgm)

/** A key of a table as a statement uses it: a plain column, or an expression over the table's columns. */
export interface KeyRef {
  /** Column name, exactly as in the catalog; null for an expression. */
  column: string | null;
  /**
   * An expression over the table's columns, SQL text as applyIndex's deparser writes it (so that
   * planIndex reads it back unchanged): `"lower"("email")`, `("details" ->> 'page')`.
   */
  expression: string | null;
}

export interface KeyPredicate extends KeyRef {
  use: KeyUse;
  /** For SORT: the direction asked for. */
  direction?: 'ASC' | 'DESC';
  nulls?: 'FIRST' | 'LAST';
  /**
   * The predicate compares the key with a constant kept in the text (status = 'pending') or is
   * an IS NULL: it is part of the access's partialPredicate, so a partial index may drop it as a key.
   */
  inPartialPredicate?: boolean;
  /**
   * For EQUALITY and RANGE: the constant compared with, as text, when the statement's text keeps
   * one (not a $n); the pg_stats estimate looks it up among the most common values (EQUALITY) or
   * places it in the histogram (RANGE). For PATTERN_PREFIX and PATTERN_INFIX: the pattern; for
   * ARRAY_CONTAINS: the array literal ('{a,b}'). Absent: a parameter.
   */
  constant?: string | null;
  /** For RANGE: the comparison, key on the left (BETWEEN gives a '>=' and a '<=' predicate). */
  operator?: '<' | '<=' | '>' | '>=';
  /**
   * For PATTERN_PREFIX: the B-tree operator class that serves LIKE on the key under its collation
   * (text_pattern_ops, varchar_pattern_ops, bpchar_pattern_ops); null under the C collation,
   * where the default operator class does.
   */
  patternOpclass?: string | null;
  /** For ARRAY_CONTAINS: the elements asked for, when the statement writes them as constants. */
  elements?: string[];
  /** For ARRAY_CONTAINS: && (any element in common) rather than containment. */
  overlap?: boolean;
}

/** What one statement asks of one table (one per table occurrence; OR branches give one each). */
export interface TableAccess {
  queryId: string;
  schema: string;
  table: string;
  /** AND-ed predicates on the table's keys; equality first is the candidates' business, not this list's. */
  predicates: KeyPredicate[];
  /** ORDER BY keys, in order, when the whole ORDER BY is on this table. */
  sort: KeyPredicate[];
  /** LIMIT given as a constant or parameter; null without a LIMIT. */
  limit: number | 'PARAM' | null;
  /**
   * Constant predicates selective enough for a partial index ("status = 'pending'"), as SQL text
   * over the table's columns with constants kept (pg_stat_statements turns constants into $n, so
   * this is filled only when the normalized text still holds a constant, e.g. a boolean or a literal
   * kept by the application's prepared statements).
   */
  partialPredicate: string | null;
  /** Columns the statement reads from the table (for INCLUDE / index-only scans); null when it reads *. */
  readColumns: string[] | null;
}

/** One key of a candidate index, as applyIndex takes it. */
export interface CandidateKey extends KeyRef {
  direction: 'ASC' | 'DESC' | null;
  nulls: 'FIRST' | 'LAST' | null;
  /** Operator class, when not the type's default ("jsonb_path_ops"). */
  opclass: string | null;
}

/** A possible index, before costing. Fields mirror src/actions/index/definition.ts IndexInput. */
export interface CandidateIndex {
  schema: string;
  table: string;
  method: 'btree' | 'gin' | 'gist' | 'hash' | 'brin';
  keys: CandidateKey[];
  /** Partial index predicate (SQL text over the table's columns), or null. */
  where: string | null;
  include: string[];
  /** queryIds of the statements it was generated for. */
  forQueryIds: string[];
}

/** Why a candidate was not recommended (shown as the rejected candidates, for trust). */
export type RejectionReason =
  | 'COVERED_BY_EXISTING' // an existing index of a compatible method has these leading keys
  | 'TABLE_TOO_SMALL'
  | 'NOT_USED_BY_PLANNER' // with the hypothetical index the plan does not use it
  | 'IMPROVEMENT_TOO_SMALL' // below minImprovement
  | 'WRITE_OVERHEAD' // the write rate costs more than the reads gain
  | 'DOMINATED'; // another selected candidate serves the same statements better

/** A candidate set aside before costing, with the reason (and the covering index, if any). */
export interface RejectedCandidate {
  candidate: CandidateIndex;
  reason: RejectionReason;
  /** For COVERED_BY_EXISTING: the existing index (schema-qualified by candidate.schema). */
  coveredBy: string | null;
}

/** A plan's cost and top node, as EXPLAIN (FORMAT JSON) gives them. */
export interface PlanCost {
  totalCost: number;
  /** "Seq Scan on users", "Index Scan using <hypothetical> on users" ... */
  topNode: string;
  /** The plan uses the candidate (for a hypothetical index, its name appears in the plan). */
  usesCandidate: boolean;
}

/** The estimated effect of one candidate on one statement. */
export interface StatementCost {
  queryId: string;
  before: PlanCost;
  after: PlanCost;
}

/** What costing says about one candidate over the statements it was generated for. */
export interface CostedCandidate {
  candidate: CandidateIndex;
  source: 'HYPOPG' | 'HEURISTIC';
  /** Estimated on-disk size, bytes. */
  sizeBytes: number;
  perStatement: StatementCost[];
  /** What the costing could not do as usual, in sentences ("HypoPG cannot simulate GIN indexes: ..."). */
  notes?: string[];
}
