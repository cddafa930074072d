// Calendar arithmetic for time-range partitions, done by PostgreSQL: `timestamp + interval '1 month'`
// is calendar arithmetic (Jan 1 -> Feb 1 -> Mar 1, leap years included), never "30 days". Bounds are
// handled as local timestamps (timestamp without time zone) in the zone the existing partitions are
// aligned to, so a month stays a month across daylight-saving changes; they go back into the key's
// type only when written as bound literals.
import { badInput } from '../../errors.js';
import type { Queryable } from '../../db/pool.js';

export type PartitionInterval = 'DAY' | 'WEEK' | 'MONTH' | 'YEAR';

/** The partition key types pgscope plans partitions for, as PostgreSQL spells them in casts. */
export type TimeKeyType = 'date' | 'timestamp' | 'timestamptz';

/** date_trunc unit and step of each interval (date_trunc('week') starts weeks on Monday, ISO 8601). */
export const INTERVAL_STEPS: Record<PartitionInterval, { unit: string; step: string }> = {
  DAY: { unit: 'day', step: '1 day' },
  WEEK: { unit: 'week', step: '7 days' },
  MONTH: { unit: 'month', step: '1 month' },
  YEAR: { unit: 'year', step: '1 year' },
};

/** An existing partition's range as local timestamps ('YYYY-MM-DD HH24:MI:SS'); null for MINVALUE/MAXVALUE. */
export interface LocalRange {
  lo: string | null;
  hi: string | null;
  /** to_char(lo, 'YYYY MM DD IYYY IW'), null for MINVALUE. */
  parts: string | null;
}

/** A range to create: local timestamps, the bound literals in the key's type, and date parts for names. */
export interface CandidateRange {
  lo: string;
  hi: string;
  from_literal: string;
  to_literal: string;
  /** to_char(lo, 'YYYY MM DD IYYY IW'): the parts partition names are made of. */
  parts: string;
}

/** A bound literal of the key type (single time column) into a local timestamp: fixed fragments per type. */
function toLocal(type: TimeKeyType, value: string, zone: string): string {
  return type === 'timestamptz' ? `((${value})::timestamptz AT TIME ZONE ${zone})` : `(${value})::timestamp`;
}

/** A local timestamp back into a bound literal PostgreSQL reads the same in any session TimeZone. */
function toLiteral(type: TimeKeyType, value: string, zone: string): string {
  if (type === 'date') return `to_char(${value}, 'YYYY-MM-DD')`;
  if (type === 'timestamp') return `to_char(${value}, 'YYYY-MM-DD HH24:MI:SS')`;
  return `to_char((${value} AT TIME ZONE ${zone}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'`;
}

/**
 * The zone whose midnights the existing bounds fall on: the session's TimeZone (PostgreSQL prints
 * timestamptz bounds in it), else UTC; with no bound to judge by, the session's. Only timestamptz keys
 * have a zone; date and timestamp bounds are local already.
 */
export async function alignmentZone(session: Queryable, type: TimeKeyType, bounds: string[]): Promise<string> {
  if (type !== 'timestamptz') {
    const [row] = await session.query<{ zone: string }>(/* SQL */ `SELECT current_setting('TimeZone') AS zone`);
    return row!.zone;
  }
  const [row] = await session.query<{ zone: string }>(
    /* SQL */ `
    SELECT
      coalesce(
        (
          SELECT z.zone
          FROM unnest(ARRAY[current_setting('TimeZone'), 'UTC']) WITH ORDINALITY z(zone, rank)
          WHERE (
            SELECT coalesce(bool_and((b::timestamptz AT TIME ZONE z.zone)::time = '00:00'), true)
            FROM unnest($1::text[]) b
          )
          ORDER BY z.rank
          LIMIT 1
        ),
        current_setting('TimeZone')
      ) AS zone`,
    [bounds],
  );
  return row!.zone;
}

/** Existing bound literals (unquoted) as local timestamps in `zone`. */
export async function localRanges(
  session: Queryable,
  type: TimeKeyType,
  zone: string,
  ranges: Array<{ from: string | null; to: string | null }>,
): Promise<LocalRange[]> {
  return session.query<LocalRange>(
    /* SQL */ `
    SELECT
      to_char(${toLocal(type, 'r.lo', '$3')}, 'YYYY-MM-DD HH24:MI:SS') AS lo,
      to_char(${toLocal(type, 'r.hi', '$3')}, 'YYYY-MM-DD HH24:MI:SS') AS hi,
      to_char(${toLocal(type, 'r.lo', '$3')}, 'YYYY MM DD IYYY IW') AS parts
    FROM unnest($1::text[], $2::text[]) WITH ORDINALITY r(lo, hi, n)
    ORDER BY r.n`,
    // the zone ($3) is a parameter of timestamptz keys only
    [ranges.map((r) => r.from), ranges.map((r) => r.to), ...(type === 'timestamptz' ? [zone] : [])],
  );
}

/**
 * The interval most existing partitions span, calendar-aligned (a month from the 1st, a year from
 * Jan 1; weeks and days of 7 and 1 days). Ties go to the interval of the latest partition.
 */
export async function inferInterval(session: Queryable, ranges: LocalRange[]): Promise<PartitionInterval | null> {
  const [row] = await session.query<{ interval: PartitionInterval | null }>(
    /* SQL */ `
    WITH classified AS (
      SELECT
        r.n,
        CASE
          WHEN r.hi = r.lo + interval '1 year' AND r.lo = date_trunc('year', r.lo) THEN 'YEAR'
          WHEN r.hi = r.lo + interval '1 month' AND r.lo = date_trunc('month', r.lo) THEN 'MONTH'
          WHEN r.hi = r.lo + interval '7 days' THEN 'WEEK'
          WHEN r.hi = r.lo + interval '1 day' THEN 'DAY'
        END AS interval
      FROM unnest($1::timestamp[], $2::timestamp[]) WITH ORDINALITY r(lo, hi, n)
    )
    SELECT
      interval
    FROM classified
    WHERE interval IS NOT NULL
    GROUP BY interval
    ORDER BY
      count(*) DESC,
      max(n) DESC,
      interval
    LIMIT 1`,
    [ranges.map((r) => r.lo), ranges.map((r) => r.hi)],
  );
  return row?.interval ?? null;
}

/** More ranges than this in one plan means a table far behind, or a wrong interval: refused. */
export const MAX_PLANNED_RANGES = 400;

/**
 * The ranges to create so that partitions cover, without gaps, everything from the existing ones up
 * to the end of the period `ahead` intervals after the current one (now, in `zone`). Gaps are
 * filled when they end after the start of the current period: the table's last partition ending in
 * the past is filled up to now and beyond, while older holes are left alone (retention may have made
 * them on purpose) and reported. Each gap is walked from its start in whole calendar steps
 * (start + k * interval); a step that would overlap the next existing partition is left out and reported.
 */
export async function candidateRanges(
  session: Queryable,
  args: { type: TimeKeyType; zone: string; interval: PartitionInterval; ahead: number; now: Date | null; existing: LocalRange[] },
): Promise<{ ranges: CandidateRange[]; skippedGaps: Array<{ lo: string; hi: string }> }> {
  const { unit, step } = INTERVAL_STEPS[args.interval];
  const rows = await session.query<CandidateRange & { kind: 'range' | 'old_gap' | 'misaligned' }>(
    /* SQL */ `
    WITH existing AS (
      SELECT
        e.lo,
        e.hi
      FROM unnest($1::timestamp[], $2::timestamp[]) e(lo, hi)
    ),
    period AS (
      SELECT
        date_trunc($3, coalesce($6::timestamptz, now()) AT TIME ZONE $7) AS current_start
    ),
    horizon AS (
      SELECT
        current_start,
        current_start + ($5::int + 1) * $4::interval AS until
      FROM period
    ),
    gaps AS (
      -- an upper bound no partition continues from starts a gap, up to the next lower bound
      SELECT
        e.hi AS lo,
        (SELECT min(n.lo) FROM existing n WHERE n.lo >= e.hi) AS next_lo
      FROM existing e
      WHERE e.hi IS NOT NULL
        AND NOT EXISTS (
          SELECT
          FROM existing c
          WHERE (c.lo IS NULL OR c.lo <= e.hi)
            AND (c.hi IS NULL OR c.hi > e.hi)
        )
      UNION ALL
      SELECT
        h.current_start,
        NULL
      FROM horizon h
      WHERE NOT EXISTS (SELECT FROM existing)
    ),
    bounded AS (
      SELECT
        g.lo,
        g.next_lo,
        least(coalesce(g.next_lo, h.until), h.until) AS stop,
        h.current_start
      FROM gaps g
      CROSS JOIN horizon h
      WHERE g.lo < h.until
    ),
    steps AS (
      SELECT
        b.lo + k * $4::interval AS lo,
        b.lo + (k + 1) * $4::interval AS hi,
        b.next_lo
      FROM bounded b
      CROSS JOIN generate_series(0, $8::int) k
      WHERE b.stop > b.current_start
        AND b.lo + k * $4::interval < b.stop
    )
    SELECT
      CASE WHEN s.next_lo IS NOT NULL AND s.hi > s.next_lo THEN 'misaligned' ELSE 'range' END AS kind,
      to_char(s.lo, 'YYYY-MM-DD HH24:MI:SS') AS lo,
      to_char(s.hi, 'YYYY-MM-DD HH24:MI:SS') AS hi,
      ${toLiteral(args.type, 's.lo', '$7')} AS from_literal,
      ${toLiteral(args.type, 's.hi', '$7')} AS to_literal,
      to_char(s.lo, 'YYYY MM DD IYYY IW') AS parts
    FROM steps s
    UNION ALL
    SELECT
      'old_gap',
      to_char(b.lo, 'YYYY-MM-DD HH24:MI:SS'),
      to_char(b.stop, 'YYYY-MM-DD HH24:MI:SS'),
      NULL,
      NULL,
      NULL
    FROM bounded b
    WHERE b.stop <= b.current_start
    ORDER BY 1 DESC, 2`,
    [args.existing.map((r) => r.lo), args.existing.map((r) => r.hi), unit, step, args.ahead, args.now, args.zone, MAX_PLANNED_RANGES],
  );
  const ranges = rows.filter((r) => r.kind === 'range');
  if (ranges.length > MAX_PLANNED_RANGES) {
    throw badInput(
      `Covering the table up to ${args.ahead} ${unit}s ahead would take more than ${MAX_PLANNED_RANGES} new partitions: ` +
        'its partitions end long ago, or the interval is too short. Pass a longer interval, or create the old ranges first.',
    );
  }
  const skippedGaps = rows.filter((r) => r.kind !== 'range').map(({ lo, hi }) => ({ lo, hi }));
  return { ranges: ranges.map(({ kind: _kind, ...range }) => range), skippedGaps };
}
