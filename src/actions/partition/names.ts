// Names of new partitions, consistent with their siblings: the pattern is read off the existing
// names (activity_logs_2026_01, events_y2026m01, logs_20260101, metrics_p2026w01, events_w2026_50 ...)
// and applied to the new ranges; with no sibling to learn from, or none whose pattern can be read,
// `<table>_<yyyy>_<mm>` and its kin (the plan then says which names it could not read).
import type { PartitionInterval } from './ranges.js';

/** PostgreSQL truncates longer identifiers (NAMEDATALEN - 1 bytes), which could make two names one. */
export const MAX_IDENTIFIER_BYTES = 63;

interface DateParts {
  yyyy: string;
  mm: string;
  dd: string;
  iyyy: string;
  iw: string;
}

type Granularity = 'day' | 'week' | 'month' | 'year';

/**
 * Date formats found in partition names, most specific first (yyyy_mm would also match yyyy_mm_dd).
 * Letters before the date (p2026_01, w2026_50, events_m2026_01) are learned as part of the prefix.
 */
const FORMATS: Array<{ granularity: Granularity; format: (p: DateParts) => string }> = [
  { granularity: 'day', format: (p) => `${p.yyyy}_${p.mm}_${p.dd}` },
  { granularity: 'day', format: (p) => `${p.yyyy}${p.mm}${p.dd}` },
  { granularity: 'day', format: (p) => `y${p.yyyy}m${p.mm}d${p.dd}` },
  // ISO 8601 weeks: the year is the ISO year (2024-12-30 starts week 1 of 2025)
  { granularity: 'week', format: (p) => `${p.iyyy}_w${p.iw}` },
  { granularity: 'week', format: (p) => `${p.iyyy}w${p.iw}` },
  { granularity: 'week', format: (p) => `${p.iyyy}_${p.iw}` },
  { granularity: 'week', format: (p) => `${p.iyyy}${p.iw}` },
  { granularity: 'month', format: (p) => `${p.yyyy}_${p.mm}` },
  { granularity: 'month', format: (p) => `${p.yyyy}${p.mm}` },
  { granularity: 'month', format: (p) => `y${p.yyyy}m${p.mm}` },
  { granularity: 'year', format: (p) => `${p.yyyy}` },
];

/**
 * The formats that tell an interval's ranges apart: its own, and the day its range starts on. A
 * weekly table is never named by month (two weeks would get one name, and week 1 of 2024 reads
 * "2024_01" as ISO week and as month alike), a monthly one never by ISO week.
 */
const FITS: Record<PartitionInterval, Granularity[]> = {
  DAY: ['day'],
  WEEK: ['day', 'week'],
  MONTH: ['day', 'month'],
  YEAR: ['day', 'month', 'year'],
};
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
  /** The latest siblings' names when they follow no pattern pgscope reads (the fallback is used instead). */
  unreadable: string[];
}

/** Parses to_char(lo, 'YYYY MM DD IYYY IW'). */
export function dateParts(parts: string): DateParts {
  const [yyyy, mm, dd, iyyy, iw] = parts.split(' ') as [string, string, string, string, string];
  return { yyyy, mm, dd, iyyy, iw };
}

/** The pattern every one of the latest siblings follows, or the fallback for `table` and `interval`. */
export function namePattern(table: string, interval: PartitionInterval, siblings: Array<{ name: string; parts: string }>): NamePattern {
  const latest = siblings.slice(-SIBLINGS_CONSULTED);
  for (const { format } of FORMATS.filter((f) => FITS[interval].includes(f.granularity))) {
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
    if (agreed) return { ...agreed, format, learned: true, unreadable: [] };
  }
  return { prefix: `${table}_`, suffix: '', format: FALLBACK[interval], learned: false, unreadable: latest.map((s) => s.name) };
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

/** Names that could not be read say so, with the names used instead. */
export function namingWarnings(pattern: NamePattern, example: string): string[] {
  if (pattern.unreadable.length === 0) return [];
  const shown = pattern.unreadable.slice(-3).join(', ');
  return [
    `The names of the latest partitions (${shown}) follow no pattern pgscope reads (dates as 2026_12_07, 20261207 or y2026m12d07; ISO weeks as ` +
      `2026_w50, 2026w50, 2026_50 or w2026_50; months as 2026_12, 202612 or y2026m12; years as 2026, each with any prefix): new partitions are named like ${example}.`,
  ];
}
