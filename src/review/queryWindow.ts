// What limits a query-statistics window's comparison (src/db/history/deltas.ts), in plain words:
// snapshots missing at the start, resets, evictions, entries of other roles pgscope could not see.
import type { Capabilities } from '../db/capabilities.js';
import type { QueryStatsWindowResult } from '../db/history/deltas.js';

const plural = (count: number | bigint, one: string, many = `${one}s`) => `${count} ${count === 1 || count === 1n ? one : many}`;

/** What limits a window's comparison, in plain words. */
export function windowNotes(window: QueryStatsWindowResult, caps: Capabilities): string[] {
  const at = (date: Date) => date.toISOString();
  const notes: string[] = [];
  if (window.from_time > window.since) {
    notes.push(`No snapshot is as old as ${at(window.since)}: the window starts at the oldest one, ${at(window.from_time)}.`);
  }
  if (window.everything_reset) {
    notes.push(
      `pg_stat_statements was reset as a whole at ${at(window.stats_reset!)} (pg_stat_statements_reset() or a server crash): ` +
        `every statement counts from then only.`,
    );
  } else {
    if (window.restarted_statements > 0) {
      notes.push(
        `${plural(window.restarted_statements, 'statement')} restarted counting inside the window (reset one by one, or evicted and seen again): ` +
          'they count from their restart (restarted: true).',
      );
    }
    if (window.evicted_statements > 0) {
      notes.push(
        `${plural(window.evicted_statements, 'statement')} present at the start ${window.evicted_statements === 1 ? 'is' : 'are'} gone at the end ` +
          '(evicted, or reset): their calls inside the window are not counted.',
      );
    }
  }
  if (window.deallocations !== null && window.deallocations > 0n) {
    notes.push(
      `pg_stat_statements evicted its least-used entries ${plural(window.deallocations, 'time')} inside the window (server-wide): ` +
        'more distinct statements ran than pg_stat_statements.max holds. Raise pg_stat_statements.max to keep more.',
    );
  }
  if (window.stats_reset === null) {
    notes.push(
      'This pg_stat_statements version has no pg_stat_statements_info (extension 1.9, PostgreSQL 14): ' +
        'a reset of everything is noticed only for statements whose calls went down.',
    );
  }
  if ((window.from_hidden_statements ?? 0) > 0) {
    notes.push(
      `The starting snapshot could not see ${plural(window.from_hidden_statements!, 'entry', 'entries')} of other roles (the capturing role lacked ` +
        'pg_read_all_stats): those visible now count in full.',
    );
  }
  if (window.to_snapshot_id === null && (window.to_hidden_statements ?? 0) > 0) {
    notes.push(
      `${plural(window.to_hidden_statements!, 'entry', 'entries')} of other roles ${window.to_hidden_statements === 1 ? 'is' : 'are'} hidden from role "${caps.role}": ` +
        `GRANT pg_read_all_stats TO ${caps.role}; (or pg_monitor) to see them.`,
    );
  }
  return notes;
}
