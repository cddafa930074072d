// A candidate as an index definition, validated the way applyIndex validates a client's index
// (src/actions/index/definition.ts: every name checked against the catalog and quoted, expressions
// and predicates rebuilt from their parse trees), and as a HypoPG hypothetical index on one
// session. Both costing paths validate through here, so a candidate that could not be applied is
// never costed, and both name it as it would be built.
import { isPgscopeError } from '../../errors.js';
import type { Db, Queryable } from '../../db/pool.js';
import { planIndex } from '../../actions/index/definition.js';
import type { CandidateIndex } from '../types.js';
import type { TrustConfig } from '../../config.js';
import { quoteIdent } from '../../sql/quote.js';
import { SqlStateClass, inSqlStateClass, sqlStateOf } from '../../db/sqlState.js';

export interface CandidateDefinition {
  /** The name the index would get when built (PostgreSQL's own choice, as applyIndex derives it). */
  name: string;
  /** CREATE INDEX ON ... without CONCURRENTLY nor a name: what hypopg_create_index takes. */
  sql: string;
  /** The table is partitioned (HypoPG costs the parent's index on every leaf). */
  partitioned: boolean;
}

export type DefinitionOutcome = { ok: true; definition: CandidateDefinition } | { ok: false; reason: string };

/** planIndex's input for a candidate: the same shape, field by field. */
export const indexInput = (candidate: CandidateIndex) => ({
  schema: candidate.schema,
  table: candidate.table,
  method: candidate.method,
  columns: candidate.keys.map((key) => ({ ...key })),
  where: candidate.where,
  include: candidate.include,
});

// planIndex writes `CREATE [UNIQUE] INDEX [CONCURRENTLY] "name" ON ...` with the name quoted by
// quoteIdent: the prefix is pgscope's own text, so this anchored pattern matches it exactly.
const NAMED_PREFIX = /^CREATE (UNIQUE )?INDEX (CONCURRENTLY )?"(?:[^"]|"")*" ON /;

/**
 * The candidate's validated definition; a candidate applyIndex would refuse gives the refusal as
 * the reason. `client` is the costing run's connection, outside any transaction: planIndex's
 * analysis runs its rolled-back transaction there.
 */
export async function candidateDefinition(
  client: Queryable,
  candidate: CandidateIndex,
  versionNum: number,
  trust: TrustConfig,
  lookups?: Map<string, Promise<unknown[]>>,
): Promise<DefinitionOutcome> {
  const connection: Db = { query: (sql, params) => client.query(sql, params), withClient: (work) => work(client) };
  try {
    // no look at long transactions: they only shape warnings, which costing does not show
    const plan = await planIndex(connection, indexInput(candidate), { versionNum }, { longTransactionSeconds: null, trust, lookups });
    if (plan.existing) return { ok: false, reason: `an identical index exists already (${plan.existing.name})` };
    const sql = plan.definitionSql.replace(NAMED_PREFIX, (_match, unique: string | undefined) => `CREATE ${unique ?? ''}INDEX ON `);
    if (sql === plan.definitionSql) throw new Error(`Unexpected index definition from planIndex: ${plan.definitionSql.slice(0, 40)}`);
    return { ok: true, definition: { name: plan.name, sql, partitioned: plan.partitioned } };
  } catch (error) {
    if (!isPgscopeError(error)) throw error;
    return { ok: false, reason: `applyIndex would refuse it: ${error.message}` };
  }
}

/**
 * candidateDefinition once per candidate in one advisor run: selection's set costing creates the
 * chosen candidates again in every round (selectTogether.ts), each time as the candidate alone was.
 * The candidates share their tables, columns and operator classes: planIndex looks each up once
 * per run (IndexPlanOptions.lookups). Kept per run, not longer: a definition is the catalog as it
 * was when the run looked, and the chosen indexes are planned afresh at the end (recommend.ts).
 */
export class CandidateDefinitions {
  private readonly known = new Map<string, Promise<DefinitionOutcome>>();
  private readonly lookups = new Map<string, Promise<unknown[]>>();

  define(client: Queryable, candidate: CandidateIndex, versionNum: number, trust: TrustConfig): Promise<DefinitionOutcome> {
    const key = JSON.stringify([indexInput(candidate), versionNum, trust]);
    let found = this.known.get(key);
    if (!found) {
      found = candidateDefinition(client, candidate, versionNum, trust, this.lookups);
      this.known.set(key, found);
      // an unexpected failure (the connection...) is not remembered
      found.catch(() => this.known.delete(key));
    }
    return found;
  }
}

export interface HypotheticalIndex {
  indexrelid: number;
  /** HypoPG's name, as plans show it: "<13556>btree_users_email". */
  indexName: string;
  /** HypoPG's estimate of its size on disk (leaves summed for a partitioned table), read as it is created. */
  sizeBytes: number;
}

/** unsupported: HypoPG cannot simulate this kind of index (another path may cost it); else the definition was refused. */
export type HypotheticalOutcome = { ok: true; index: HypotheticalIndex } | { ok: false; reason: string; unsupported: boolean };

// HypoPG's functions are called in the extension's own schema, qualified: the session's
// search_path may not include it, and an object of the same name elsewhere must not be called.
const createSql = (schema: string) => /* SQL */ `
  SELECT
    h.indexrelid::int8 AS indexrelid,
    h.indexname AS index_name,
    ${quoteIdent(schema)}.hypopg_relation_size(h.indexrelid)::int8 AS size_bytes
  FROM ${quoteIdent(schema)}.hypopg_create_index($1) AS h`;

const dropSql = (schema: string) => /* SQL */ `
  SELECT
    ${quoteIdent(schema)}.hypopg_drop_index($1::oid) AS dropped`;

const resetSql = (schema: string) => /* SQL */ `
  SELECT
    ${quoteIdent(schema)}.hypopg_reset()`;

// What the server raises for a definition it refuses: analysis (42), an unsupported construct (0A), a constant (22).
const REFUSAL_CLASSES = [
  SqlStateClass.SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION,
  SqlStateClass.FEATURE_NOT_SUPPORTED,
  SqlStateClass.DATA_EXCEPTION,
];

/**
 * Creates the hypothetical index. HypoPG refuses some (1.3.1: GIN and GiST, "access method ... is
 * not supported"): that is an outcome, for the caller to cost the candidate another way.
 */
export async function createHypothetical(client: Queryable, schema: string, sql: string): Promise<HypotheticalOutcome> {
  try {
    const [row] = await client.query<{ indexrelid: bigint; index_name: string; size_bytes: bigint }>(createSql(schema), [sql]);
    return { ok: true, index: { indexrelid: Number(row!.indexrelid), indexName: row!.index_name, sizeBytes: Number(row!.size_bytes) } };
  } catch (error) {
    const state = sqlStateOf(error);
    const message = isPgscopeError(error) ? error.serverMessage : (error as Error).message;
    // HypoPG raises its refusals as plain errors (XX000) with "hypopg:" first; other states are the server's
    if (typeof message === 'string' && /^hypopg: /.test(message)) {
      return { ok: false, reason: `HypoPG cannot simulate it (${message.slice(8)})`, unsupported: true };
    }
    if (inSqlStateClass(state, ...REFUSAL_CLASSES)) {
      return { ok: false, reason: `HypoPG refused it (SQLSTATE ${state})`, unsupported: false };
    }
    throw error;
  }
}

export async function dropHypothetical(client: Queryable, schema: string, index: HypotheticalIndex): Promise<void> {
  await client.query(dropSql(schema), [index.indexrelid]);
}

/** Drops every hypothetical index of the session (the pool does it again before pooling the connection). */
export async function resetHypothetical(client: Queryable, schema: string): Promise<void> {
  await client.query(resetSql(schema));
}
