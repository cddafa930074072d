// The rules of the settings review: each turns one setting, plus the evidence read by
// src/db/settings.ts, into advice with its reason and source. Pure functions: no SQL here.
import { type SettingRow, type SettingsSnapshot, LARGE_TABLE_ROWS } from '../db/settings.js';

export type Severity = 'OK' | 'INFO' | 'WARNING';
export type StorageKind = 'SSD' | 'HDD';

export interface ReviewInput {
  machineMemoryBytes: number | null;
  storage: StorageKind | null;
  /** Connections the caller's own pools may open, summed; null when not given. */
  poolConnections: number | null;
  /** pgscope's own pool maximum (PGSCOPE_POOL_MAX). */
  pgscopePoolMax: number;
}

export interface SettingAdvice extends SettingRow {
  severity: Severity;
  /** Full sentences: the finding, the rule and its source. */
  reason: string;
  /** A value PostgreSQL accepts (e.g. "4GB", "1.1"); null when nothing needs to change or it cannot be computed. */
  recommended: string | null;
  recommended_bytes: bigint | null;
}

type Verdict = Pick<SettingAdvice, 'severity' | 'reason' | 'recommended' | 'recommended_bytes'>;
type Rule = (setting: SettingRow, snapshot: SettingsSnapshot, input: ReviewInput) => Verdict;

const KB = 1024;
const MB = 1024 ** 2;
const GB = 1024 ** 3;

const ok = (reason: string): Verdict => ({ severity: 'OK', reason, recommended: null, recommended_bytes: null });
const info = (reason: string, recommended?: Recommended): Verdict => advise('INFO', reason, recommended);
const warning = (reason: string, recommended?: Recommended): Verdict => advise('WARNING', reason, recommended);

interface Recommended {
  text: string;
  bytes?: number;
}

function advise(severity: Severity, reason: string, recommended?: Recommended): Verdict {
  const bytes = recommended?.bytes;
  return { severity, reason, recommended: recommended?.text ?? null, recommended_bytes: bytes === undefined ? null : BigInt(bytes) };
}

const oneDecimal = (value: number) => String(Math.round(value * 10) / 10);
const percent = (ratio: number) => `${oneDecimal(ratio * 100)}%`;
const count = (value: number | bigint) => value.toLocaleString('en-US');

/** "128 MB", "16 GB", "20.5 MB": binary units, as PostgreSQL uses them. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['TB', 1024 ** 4],
    ['GB', GB],
    ['MB', MB],
    ['kB', KB],
  ] as const) {
    if (bytes >= size) return `${oneDecimal(bytes / size)} ${unit}`;
  }
  return `${bytes} B`;
}

/** A memory value for postgresql.conf, rounded down to whole megabytes (at least 64 kB). */
export function memorySetting(bytes: number): Recommended {
  const mb = Math.floor(bytes / MB);
  if (mb === 0) {
    const kb = Math.max(64, Math.floor(bytes / KB));
    return { text: `${kb}kB`, bytes: kb * KB };
  }
  return { text: mb % 1024 === 0 ? `${mb / 1024}GB` : `${mb}MB`, bytes: mb * MB };
}

const bytesOf = (setting: SettingRow) => Number(setting.value_bytes ?? 0n);
const numberOf = (snapshot: SettingsSnapshot, name: string) => snapshot.settings.get(name)?.value_number ?? 0;
const NO_SPILLS = 'no query of this database wrote temporary files since its statistics were last reset';

function spills({ evidence }: SettingsSnapshot): string | null {
  if (evidence.temp_files === 0n) return null;
  return (
    `queries of this database wrote ${count(evidence.temp_files)} temporary files (${formatBytes(Number(evidence.temp_bytes))}) ` +
    'since its statistics were last reset: sorts and hashes that did not fit in work_mem'
  );
}

const sharedBuffers: Rule = (setting, _, { machineMemoryBytes: ram }) => {
  const head = `shared_buffers is ${formatBytes(bytesOf(setting))}`;
  if (ram === null) {
    return info(`${head}. The usual starting point is 25% of the machine's RAM (PostgreSQL manual); pass machineMemoryBytes to compare.`);
  }
  const share = bytesOf(setting) / ram;
  if (share >= 0.2 && share <= 0.4) {
    return ok(`${head}, ${percent(share)} of ${formatBytes(ram)} of RAM: within the usual 20% to 40% (PostgreSQL manual: start at 25%).`);
  }
  const target = memorySetting(ram * 0.25);
  const tooMuch = share > 0.4 ? ', and more than 40% rarely works better' : '';
  return warning(
    `${head}; with ${formatBytes(ram)} of RAM the usual starting point is 25% (${formatBytes(target.bytes!)})${tooMuch} (PostgreSQL manual).`,
    target,
  );
};

const effectiveCacheSize: Rule = (setting, _, { machineMemoryBytes: ram }) => {
  const head = `effective_cache_size is ${formatBytes(bytesOf(setting))}`;
  const rule =
    'the usual value is 50% (conservative) to 75% of RAM, what the OS cache and shared_buffers can hold ' +
    '(PostgreSQL wiki, "Tuning Your PostgreSQL Server")';
  if (ram === null) return info(`${head}; ${rule}. Pass machineMemoryBytes to compare.`);
  const share = bytesOf(setting) / ram;
  const range = `${formatBytes(ram * 0.5)} to ${formatBytes(ram * 0.75)}`;
  if (share >= 0.5 && share <= 0.75) return ok(`${head}, ${percent(share)} of ${formatBytes(ram)} of RAM: within the usual 50% to 75%.`);
  const target = memorySetting(ram * 0.75);
  if (share < 0.5) {
    return warning(
      `${head}; with ${formatBytes(ram)} of RAM ${rule}: ${range}. Set too low, the planner underestimates caching and avoids index scans.`,
      target,
    );
  }
  if (share > 1) {
    return warning(
      `${head}, more than the machine's ${formatBytes(ram)} of RAM, so the planner overestimates caching; ${rule}: ${range}.`,
      target,
    );
  }
  return info(
    `${head}, ${percent(share)} of ${formatBytes(ram)} of RAM: above the usual 50% to 75% (${range}), fine only if little else runs on the machine.`,
    target,
  );
};

const workMem: Rule = (setting, snapshot, { machineMemoryBytes: ram }) => {
  const head = `work_mem is ${formatBytes(bytesOf(setting))}`;
  const spilled = spills(snapshot);
  const connections = numberOf(snapshot, 'max_connections');
  if (ram === null) {
    return info(
      `${head}; ${spilled ?? NO_SPILLS}. Every sort or hash of every connection may use that much, so a common ceiling is ` +
        '25% of RAM / max_connections; pass machineMemoryBytes to compute it.',
    );
  }
  const ceiling = memorySetting((ram * 0.25) / Math.max(connections, 1));
  const rule =
    `25% of ${formatBytes(ram)} of RAM shared by max_connections ${connections} ` +
    `(about ${formatBytes(ceiling.bytes!)} each, a common rule of thumb)`;
  if (bytesOf(setting) > ceiling.bytes!) {
    return warning(
      `${head}, above ${rule}: every sort or hash of every session may take work_mem, so many busy sessions could exhaust memory.`,
      ceiling,
    );
  }
  if (spilled && bytesOf(setting) < ceiling.bytes!) {
    return info(`${head}; ${spilled}. Raising it toward ${rule} keeps more of them in memory.`, ceiling);
  }
  return ok(`${head}, within ${rule}; ${spilled ?? NO_SPILLS}.`);
};

const maintenanceWorkMem: Rule = (setting, _, { machineMemoryBytes: ram }) => {
  const head = `maintenance_work_mem is ${formatBytes(bytesOf(setting))}`;
  const rule = 'VACUUM and CREATE INDEX run faster with more, and a common rule (PGTune) is RAM / 16, at most 2 GB';
  if (ram === null) return info(`${head}: ${rule}. Pass machineMemoryBytes to compute it.`);
  const target = memorySetting(Math.min(ram / 16, 2 * GB));
  if (bytesOf(setting) < target.bytes! / 2) {
    return info(`${head}: ${rule}, so ${formatBytes(target.bytes!)} with ${formatBytes(ram)} of RAM.`, target);
  }
  return ok(`${head}: at least half of RAM / 16, at most 2 GB (${formatBytes(target.bytes!)}), a common rule (PGTune).`);
};

const randomPageCost: Rule = (setting, _, { storage }) => {
  const head = `random_page_cost is ${setting.value}`;
  const cost = setting.value_number ?? 4;
  if (storage === null) {
    return info(`${head}. The default 4 models spinning disks; on SSDs and cloud block storage 1.1 is usual. Pass storage to compare.`);
  }
  if (storage === 'SSD') {
    if (cost <= 2) return ok(`${head}: suits SSD storage (1.1 is usual).`);
    return warning(
      `${head}, a value for spinning disks: on SSD a random read costs little more than a sequential one, and 1.1 is usual. ` +
        'Set too high, the planner avoids index scans that would pay off.',
      { text: '1.1' },
    );
  }
  if (cost >= 2) return ok(`${head}: suits spinning disks (PostgreSQL's default 4 models them).`);
  return warning(
    `${head}, but on spinning disks random reads are much slower than sequential ones, as PostgreSQL's default 4 assumes. ` +
      'Set too low, the planner picks index scans that read the disk at random.',
    { text: '4' },
  );
};

const effectiveIoConcurrency: Rule = (setting, _, { storage }) => {
  const head = `effective_io_concurrency is ${setting.value}`;
  const ssd = 'SSDs serve many reads at once, and the PostgreSQL manual suggests values in the hundreds for them';
  if (storage === null) return info(`${head}. ${ssd}; for spinning disks, about the number of drives. Pass storage to compare.`);
  if (storage === 'HDD') return ok(`${head}: for spinning disks, about the number of drives in the array is right.`);
  if ((setting.value_number ?? 0) >= 100) return ok(`${head}: suits SSD storage (${ssd}).`);
  return info(`${head}; ${ssd}: 200 is common. Prefetching speeds up bitmap heap scans.`, { text: '200' });
};

const maxConnections: Rule = (setting, snapshot, { poolConnections, pgscopePoolMax }) => {
  const max = setting.value_number ?? 0;
  const reserved = numberOf(snapshot, 'superuser_reserved_connections') + numberOf(snapshot, 'reserved_connections');
  const usable = max - reserved;
  const pools = pgscopePoolMax + (poolConnections ?? 0);
  const head = `max_connections is ${max} (${usable} usable, ${reserved} reserved)`;
  const poolText =
    poolConnections === null
      ? `pgscope's pool opens at most ${pgscopePoolMax}`
      : `pgscope's pool (${pgscopePoolMax}) and yours (${poolConnections}) open at most ${pools}`;
  if (pools > usable) {
    const raiseTo = pools + reserved + 10;
    return warning(
      `${head}, but ${poolText}: connections would be refused under load. Raise max_connections to ${raiseTo} ` +
        '(pools + reserved + 10 for administration), or shrink the pools, or put PgBouncer in front.',
      { text: String(raiseTo) },
    );
  }
  const open = snapshot.evidence.client_connections;
  if (open / Math.max(usable, 1) > 0.8) {
    return warning(
      `${head}, and ${open} client connections are open now (${percent(open / usable)}): new ones may soon be refused; ${poolText}.`,
    );
  }
  if (poolConnections === null) {
    return info(`${head}; ${poolText}. Pass poolConnections (your applications' pool sizes, summed) to check them against it.`);
  }
  return ok(`${head}; ${poolText}, which fits.`);
};

const autovacuum: Rule = (setting, snapshot) => {
  if (setting.value !== 'on') {
    return warning(
      'autovacuum is off: dead rows pile up, statistics go stale, and only manual VACUUM protects against transaction ID wraparound.',
      { text: 'on' },
    );
  }
  if (snapshot.settings.get('track_counts')?.value === 'off') {
    return warning('autovacuum is on but track_counts is off, so it cannot tell which tables need work: turn track_counts on.');
  }
  return ok('autovacuum is on, with track_counts (which it needs).');
};

const vacuumScaleFactor: Rule = (setting, { largeTables }) => {
  const head = `autovacuum_vacuum_scale_factor is ${setting.value}`;
  const total = largeTables[0]?.total ?? 0;
  if (total === 0) return ok(`${head}; no table of ${count(LARGE_TABLE_ROWS)} rows or more uses it (none, or each has its own).`);
  if ((setting.value_number ?? 0) <= 0.05) return ok(`${head}: low enough for large tables too.`);
  const names = largeTables.map((table) => table.qualified_name);
  const more = total > names.length ? ` and ${total - names.length} more` : '';
  return warning(
    `${head}: autovacuum waits until ${percent(setting.value_number ?? 0)} of a table's rows are dead. ` +
      `${total} table${total === 1 ? '' : 's'} of ${count(LARGE_TABLE_ROWS)} rows or more use${total === 1 ? 's' : ''} this global value ` +
      `(${names.join(', ')}${more}); give such tables their own, e.g. ALTER TABLE ${names[0]} SET (autovacuum_vacuum_scale_factor = 0.01).`,
    { text: '0.01' },
  );
};

const trackIoTiming: Rule = (setting) => {
  if (setting.value === 'on') return ok('track_io_timing is on: statements report the time spent reading and writing blocks.');
  return info(
    'track_io_timing is off, so the time statements spend reading blocks is not measured (slowQueries.blockReadTimeMs stays null). ' +
      'Its overhead is small where the clock is fast: check with pg_test_timing.',
    { text: 'on' },
  );
};

const statementsMax: Rule = (setting, { statementsDeallocated: evicted }) => {
  const head = `pg_stat_statements.max is ${setting.value}`;
  if (evicted === 'NOT_INSTALLED') {
    return info(`${head}. pg_stat_statements is not installed in this database, so pgscope cannot tell whether entries were evicted.`);
  }
  if (evicted === 'BEFORE_1_9') {
    return info(
      `${head}. Evictions are counted from pg_stat_statements 1.9 (PostgreSQL 14) on, so pgscope cannot tell whether statistics were lost.`,
    );
  }
  if (evicted === 0n) return ok(`${head} and no entry was evicted since its statistics were reset.`);
  const raiseTo = String(2 * (setting.value_number ?? 5000));
  return warning(
    `${head} and the least-used entries were evicted ${count(evicted)} times since its statistics were reset, losing their statistics. ` +
      `Raise it, e.g. to ${raiseTo} (needs a restart).`,
    { text: raiseTo },
  );
};

/** In the order the review lists them. Settings the server does not have are skipped. */
const RULES: ReadonlyArray<[string, Rule]> = [
  ['shared_buffers', sharedBuffers],
  ['effective_cache_size', effectiveCacheSize],
  ['work_mem', workMem],
  ['maintenance_work_mem', maintenanceWorkMem],
  ['random_page_cost', randomPageCost],
  ['effective_io_concurrency', effectiveIoConcurrency],
  ['max_connections', maxConnections],
  ['autovacuum', autovacuum],
  ['autovacuum_vacuum_scale_factor', vacuumScaleFactor],
  ['track_io_timing', trackIoTiming],
  ['pg_stat_statements.max', statementsMax],
];

export function reviewSettings(snapshot: SettingsSnapshot, input: ReviewInput): SettingAdvice[] {
  return RULES.flatMap(([name, rule]) => {
    const setting = snapshot.settings.get(name);
    return setting ? [{ ...setting, ...rule(setting, snapshot, input) }] : [];
  });
}
