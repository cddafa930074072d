// Names of new partitions, consistent with their siblings: the pattern is read off the existing
// names (activity_logs_2026_01, events_y2026m01, logs_20260101, metrics_p2026w01 ...) and applied to
// the new ranges; with no sibling to learn from, `<table>_<yyyy>_<mm>` and its kin.
import type { PartitionInterval } from './partitionRanges.js';

/** PostgreSQL truncates longer identifiers (NAMEDATALEN - 1 bytes), which could make two names one. */
export const MAX_IDENTIFIER_BYTES = 63;

interface DateParts {
  yyyy: string;
  mm: string;
  dd: string;
  iyyy: string;
  iw: string;
}

/** Date formats found in partition names, most specific first (yyyy_mm would also match yyyy_mm_dd). */
const FORMATS: Array<(p: DateParts) => string> = [
  (p) => `${p.yyyy}_${p.mm}_${p.dd}`,
  (p) => `${p.yyyy}${p.mm}${p.dd}`,
  (p) => `y${p.yyyy}m${p.mm}d${p.dd}`,
  (p) => `${p.iyyy}_w${p.iw}`,
  (p) => `${p.iyyy}w${p.iw}`,
  (p) => `${p.yyyy}_${p.mm}`,
  (p) => `${p.yyyy}${p.mm}`,
  (p) => `y${p.yyyy}m${p.mm}`,
  (p) => `${p.yyyy}`,
];

const FALLBACK: Record<PartitionInterval, (p: DateParts) => string> = {
  YEAR: (p) => p.yyyy,
  MONTH: (p) => `${p.yyyy}_${p.mm}`,
  WEEK: (p) => `${p.yyyy}_${p.mm}_${p.dd}`,
  DAY: (p) => `${p.yyyy}_${p.mm}_${p.dd}`,
};

/** Siblings consulted: the latest ones, so an old naming scheme does not outvote the current one. */
const SIBLINGS_CONSULTED = 12;

export interface NamePattern {
  prefix: string;
  suffix: string;
  format: (p: DateParts) => string;
  /** True when read off existing partitions, false for the fallback. */
  learned: boolean;
}

/** Parses to_char(lo, 'YYYY MM DD IYYY IW'). */
export function dateParts(parts: string): DateParts {
  const [yyyy, mm, dd, iyyy, iw] = parts.split(' ') as [string, string, string, string, string];
  return { yyyy, mm, dd, iyyy, iw };
}

/** The pattern every one of the latest siblings follows, or the fallback for `table` and `interval`. */
export function namePattern(table: string, interval: PartitionInterval, siblings: Array<{ name: string; parts: string }>): NamePattern {
  const latest = siblings.slice(-SIBLINGS_CONSULTED);
  for (const format of FORMATS) {
    let agreed: { prefix: string; suffix: string } | null = null;
    for (const sibling of latest) {
      const text = format(dateParts(sibling.parts));
      const at = sibling.name.lastIndexOf(text);
      const found = at < 0 ? null : { prefix: sibling.name.slice(0, at), suffix: sibling.name.slice(at + text.length) };
      if (!found || (agreed && (agreed.prefix !== found.prefix || agreed.suffix !== found.suffix))) {
        agreed = null;
        break;
      }
      agreed = found;
    }
    if (agreed) return { ...agreed, format, learned: true };
  }
  return { prefix: `${table}_`, suffix: '', format: FALLBACK[interval], learned: false };
}

/** The name for a range starting at `parts`; the prefix is shortened (by whole characters) to fit 63 bytes. */
export function partitionName(pattern: NamePattern, parts: string): string {
  const tail = pattern.format(dateParts(parts)) + pattern.suffix;
  let prefix = pattern.prefix;
  while (Buffer.byteLength(prefix + tail) > MAX_IDENTIFIER_BYTES && prefix.length > 0) {
    prefix = Array.from(prefix).slice(0, -1).join('');
  }
  return prefix + tail;
}
