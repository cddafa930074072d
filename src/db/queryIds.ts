// pg_stat_statements' queryid is a signed 64-bit integer (int8). Ids come from clients (explain's
// and queryStatsHistory's queryId, applyIndex's forQueryIds, the ids inside a recommendation id)
// and from pgscope's own stored rows (change_log.helps_query_ids). One outside int8 (a forged
// recommendation id carrying 99999999999999999999) built the index, was recorded, and from then on
// made every read of the change log's effect fail on `$1::bigint[]`. Clients' ids are checked
// where they enter; stored ones are checked again where they are read.
import { badInput } from '../errors.js';

const SMALLEST = -(2n ** 63n);
const LARGEST = 2n ** 63n - 1n;

/** A queryid as pg_stat_statements shows it: a decimal int8 (an optional minus, then digits). */
export function isQueryId(value: string): boolean {
  if (!/^-?\d{1,20}$/.test(value)) return false;
  const id = BigInt(value);
  return id >= SMALLEST && id <= LARGEST;
}

/** `value` as a queryid in its canonical form ("007" is 7), or BAD_USER_INPUT naming `argument`. */
export function queryIdArgument(argument: string, value: string | number): string {
  const text = String(value);
  if (!isQueryId(text)) {
    throw badInput(`${argument} must be a pg_stat_statements queryid (a 64-bit integer such as -1234567890123456789), got "${text}".`, {
      argument,
    });
  }
  return BigInt(text).toString();
}

/** Each of `values` as a queryid (see queryIdArgument), duplicates dropped. */
export function queryIdsArgument(argument: string, values: ReadonlyArray<string | number> | null | undefined): string[] {
  return [...new Set((values ?? []).map((value) => queryIdArgument(argument, value)))];
}
