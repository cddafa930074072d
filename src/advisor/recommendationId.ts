// A recommendation's id is its definition, encoded: no state on the server, so an id stays valid
// across restarts and after other recommendations were applied. Decoding trusts nothing: the id
// comes back from a client, so its shape is checked here and every name and expression is checked
// again against the catalog by applyIndex's planner (src/actions/index/definition.ts) on apply.
import { badInput } from '../errors.js';
import { isQueryId } from '../db/queryIds.js';
import type { CandidateIndex, CandidateKey } from './types.js';

const PREFIX = 'rec1:';
/** Longer ids are not ones pgscope wrote (32 keys of long expressions stay well below). */
const MAX_ID_LENGTH = 8_192;
const METHODS = new Set(['btree', 'gin', 'gist', 'hash', 'brin']);
const MAX_QUERY_IDS = 20;

/** What an id carries: the index, and the statements it was recommended for (their effect is measured). */
export interface RecommendedIndex {
  schema: string;
  table: string;
  method: CandidateIndex['method'];
  keys: CandidateKey[];
  where: string | null;
  include: string[];
  forQueryIds: string[];
}

/** Short field names keep ids short; the order of keys is the JSON's, so equal definitions give equal ids. */
interface Encoded {
  s: string;
  t: string;
  m: string;
  k: Array<[string | null, string | null, 'ASC' | 'DESC' | null, 'FIRST' | 'LAST' | null, string | null]>;
  w: string | null;
  i: string[];
  q: string[];
}

export function encodeRecommendationId(index: RecommendedIndex): string {
  const encoded: Encoded = {
    s: index.schema,
    t: index.table,
    m: index.method,
    k: index.keys.map((key) => [key.column, key.expression, key.direction, key.nulls, key.opclass]),
    w: index.where,
    i: index.include,
    q: [...index.forQueryIds].sort().slice(0, MAX_QUERY_IDS),
  };
  return PREFIX + Buffer.from(JSON.stringify(encoded), 'utf8').toString('base64url');
}

/** The definition an id names; BAD_USER_INPUT for anything pgscope did not write. */
export function decodeRecommendationId(id: string): RecommendedIndex {
  if (id.length > MAX_ID_LENGTH || !id.startsWith(PREFIX)) throw notAnId();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(id.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw notAnId();
  }
  if (!isEncoded(value)) throw notAnId();
  return {
    schema: value.s,
    table: value.t,
    method: value.m as CandidateIndex['method'],
    keys: value.k.map(([column, expression, direction, nulls, opclass]) => ({ column, expression, direction, nulls, opclass })),
    where: value.w,
    include: value.i,
    forQueryIds: value.q,
  };
}

function notAnId() {
  return badInput('id is not an index recommendation id: pass the id of an indexRecommendations result.', { argument: 'id' });
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isNullableString = (value: unknown): value is string | null => value === null || isString(value);

function isKey(value: unknown): boolean {
  if (!Array.isArray(value) || value.length !== 5) return false;
  const [column, expression, direction, nulls, opclass] = value as unknown[];
  return (
    isNullableString(column) &&
    isNullableString(expression) &&
    (column === null) !== (expression === null) &&
    (direction === null || direction === 'ASC' || direction === 'DESC') &&
    (nulls === null || nulls === 'FIRST' || nulls === 'LAST') &&
    isNullableString(opclass)
  );
}

function isEncoded(value: unknown): value is Encoded {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    isString(v.s) &&
    isString(v.t) &&
    isString(v.m) &&
    METHODS.has(v.m) &&
    Array.isArray(v.k) &&
    v.k.length > 0 &&
    v.k.every(isKey) &&
    isNullableString(v.w) &&
    Array.isArray(v.i) &&
    v.i.every(isString) &&
    Array.isArray(v.q) &&
    v.q.length <= MAX_QUERY_IDS &&
    v.q.every((q) => isString(q) && isQueryId(q))
  );
}
