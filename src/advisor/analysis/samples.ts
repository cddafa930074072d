// The constants statements really run with. pg_stat_statements replaces every constant with $n, so
// `status = 'pending'` reaches the advisor as `status = $1`, and a partial index WHERE status =
// 'pending' (a DBA's first answer to a queue table) is out of its sight. pg_stat_activity shows the
// statements as the application sent them, with their query_id (PostgreSQL 14+): sampled now and
// then, each text is aligned with the normalized one by PostgreSQL's own normalization and lexer,
// and only the counts of the literals at each $n are kept, in memory, bounded. They are never
// returned: the advisor uses a constant only when it is one of the column's most common values in
// pg_stats (specialize.ts), where any role that may read the column already sees it.
import { loadModule, normalizeSync, scanSync } from 'libpg-query';
import type { Capabilities } from '../../db/capabilities.js';
import type { Queryable } from '../../db/pool.js';

/** Statements whose constants are kept; the first sampled goes first when a new one comes. */
const MAX_STATEMENTS = 1_000;
/** Distinct literals counted per $n; later ones only count as "other". */
const MAX_VALUES_PER_PARAMETER = 20;
/** Longer literals are no category value (a partial index predicate): counted as "other". */
const MAX_LITERAL_LENGTH = 100;

/** What one statement's samples say about one of its $n. */
export interface ParameterSamples {
  /** The literal's SQL text as the application wrote it ('pending', 42, true) -> times seen. */
  values: Map<string, number>;
  /** Samples with another literal than those counted (too long, or past the first 20). */
  other: number;
}

export interface StatementSamples {
  /** The sampled text normalized as pg_stat_statements would: it must match the entry's text to be used. */
  normalized: string;
  samples: number;
  parameters: Map<number, ParameterSamples>;
}

/** The samples of every statement seen, bounded. One per pgscope process, fed by sampleActivity. */
export class ConstantSamples {
  private readonly byQueryId = new Map<string, StatementSamples>();
  /** The last execution seen of each backend (pid -> query_start): an idle session shows its last statement until it runs another. */
  private readonly seen = new Map<number, string>();

  constructor(private readonly maxStatements = MAX_STATEMENTS) {}

  /** Counts one execution of `queryId` sent as `text`; false when its constants could not be aligned. */
  add(queryId: string, text: string): boolean {
    const aligned = alignConstants(text);
    if (!aligned) return false;
    let statement = this.byQueryId.get(queryId);
    if (statement && statement.normalized !== aligned.normalized) return false;
    if (!statement) {
      if (this.byQueryId.size >= this.maxStatements) this.byQueryId.delete(this.byQueryId.keys().next().value!);
      statement = { normalized: aligned.normalized, samples: 0, parameters: new Map() };
      this.byQueryId.set(queryId, statement);
    }
    statement.samples += 1;
    for (const [position, literal] of aligned.constants) {
      const parameter = statement.parameters.get(position) ?? { values: new Map(), other: 0 };
      statement.parameters.set(position, parameter);
      const known = parameter.values.has(literal);
      if (literal.length > MAX_LITERAL_LENGTH || (!known && parameter.values.size >= MAX_VALUES_PER_PARAMETER)) parameter.other += 1;
      else parameter.values.set(literal, (parameter.values.get(literal) ?? 0) + 1);
    }
    return true;
  }

  /** Records an execution only once however many times it is sampled. */
  firstSighting(pid: number, queryStart: string): boolean {
    if (this.seen.get(pid) === queryStart) return false;
    this.seen.set(pid, queryStart);
    if (this.seen.size > 4 * this.maxStatements) this.seen.delete(this.seen.keys().next().value!);
    return true;
  }

  of(queryId: string): StatementSamples | undefined {
    return this.byQueryId.get(queryId);
  }

  get size(): number {
    return this.byQueryId.size;
  }
}

/**
 * The statements other sessions of this database run or last ran, with their query_id. pgscope's
 * own sessions are left out. Needs pg_read_all_stats (pg_monitor) to see other roles' texts.
 */
const ACTIVITY_SQL = /* SQL */ `
  SELECT
    pid,
    query_start::text AS query_start,
    query_id::text AS query_id,
    query
  FROM pg_stat_activity
  WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND backend_type = 'client backend'
    AND pid <> pg_backend_pid()
    AND query_id IS NOT NULL
    AND query_start IS NOT NULL
    AND application_name NOT LIKE 'pgscope%'`;

/** One look at pg_stat_activity into `samples`; how many executions were new. Nothing before PostgreSQL 14 (no query_id). */
export async function sampleActivity(db: Queryable, caps: Capabilities, samples: ConstantSamples): Promise<number> {
  if (caps.serverVersionNum < 140000) return 0;
  await loadModule();
  const rows = await db.query<{ pid: number; query_start: string; query_id: string; query: string }>(ACTIVITY_SQL);
  let added = 0;
  for (const row of rows) {
    if (row.query_id === '0' || !samples.firstSighting(row.pid, row.query_start)) continue;
    if (samples.add(row.query_id, row.query)) added += 1;
  }
  return added;
}

/**
 * Samples every `intervalSeconds` (0: never) until stopped; a failed look is retried at the next.
 * A look still waiting (a database that hangs) makes the next ones wait their turn: never more than
 * one of pgscope's connections for this.
 */
export function startSampling(
  db: Queryable,
  capabilities: () => Promise<Capabilities>,
  samples: ConstantSamples,
  intervalSeconds: number,
): { stop(): void } {
  if (intervalSeconds <= 0) return { stop() {} };
  let looking = false;
  const timer = setInterval(() => {
    if (looking) return;
    looking = true;
    capabilities()
      .then((caps) => sampleActivity(db, caps, samples))
      .catch(() => undefined)
      .finally(() => {
        looking = false;
      });
  }, intervalSeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * The text normalized as pg_stat_statements normalizes it, and the literal each $n replaced, read
 * by walking both texts together: they differ only where a constant became $n. Null when the text
 * does not parse (cut at track_activity_query_size) or the two cannot be walked together.
 */
export function alignConstants(text: string): { normalized: string; constants: Map<number, string> } | null {
  let normalized: string;
  let tokens: Array<{ start: number; end: number; text: string }>;
  try {
    normalized = normalizeSync(text);
    tokens = scanSync(text).tokens.map((token) => ({ start: token.start, end: token.end, text: text.slice(token.start, token.end) }));
  } catch {
    return null;
  }
  const constants = new Map<number, string>();
  let i = 0;
  let j = 0;
  while (j < normalized.length) {
    const parameter = /^\$(\d+)/.exec(normalized.slice(j));
    if (parameter && !text.startsWith(parameter[0], i)) {
      const at = tokens.findIndex((token) => token.start === i);
      if (at < 0) return null;
      // a negative number is one constant: the minus sign and the number
      const last = tokens[at]!.text === '-' ? tokens[at + 1] : tokens[at];
      if (!last) return null;
      constants.set(Number(parameter[1]), text.slice(i, last.end));
      i = last.end;
      j += parameter[0].length;
      continue;
    }
    if (text[i] !== normalized[j]) return null;
    i += 1;
    j += 1;
  }
  return i === text.length ? { normalized, constants } : null;
}
