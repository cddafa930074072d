// What the DDL mutations agree on: a change is first planned (validated against the catalog, SQL
// built with quoted identifiers, nothing executed), then executed on a dedicated DDL session. A dry
// run returns the plan. The planners (actions/index/definition.ts, actions/partition/plan.ts) and the executors
// (actions/index/build.ts, actions/partition/create.ts) meet here; the change log records both.

/** One statement a change runs, in order, and why (shown in dry runs and the change log). */
export interface PlannedStatement {
  sql: string;
  /** What the statement does, for a person: "build the index on partition public.logs_2026_01". */
  purpose: string;
  /** CREATE/DROP INDEX CONCURRENTLY and DETACH ... CONCURRENTLY cannot run in a transaction block. */
  outsideTransaction: boolean;
}

/** A validated index: every name checked against the catalog, quoted in `statements`. */
export interface IndexPlan {
  schema: string;
  table: string;
  /** Name of the index to build (given, or derived like PostgreSQL's own choice). */
  name: string;
  /** The table is partitioned: ON ONLY parent, one concurrent build per leaf, then ATTACH. */
  partitioned: boolean;
  /** For a partitioned table: each leaf and the name of its index, in the order they are built. */
  leaves: Array<{ schema: string; table: string; indexName: string }>;
  /** The statements that build it, in order. */
  statements: PlannedStatement[];
  /** The single statement a person would run by hand on a plain table: CREATE INDEX CONCURRENTLY ... */
  definitionSql: string;
  /** An identical valid index already exists: nothing to build (idempotent apply). */
  existing: { schema: string; name: string; valid: boolean } | null;
  /**
   * An identical index exists but is INVALID: the first statement drops it (unless another
   * session builds it by then), the others build it anew under its name.
   */
  replaces: { schema: string; name: string; partitioned: boolean } | null;
  /** Things to know before running it (long-running transactions that CIC will wait for ...). */
  warnings: string[];
}
