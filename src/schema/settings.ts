import { badInput } from '../errors.js';
import { reviewSettings, type Severity, type SettingAdvice, type StorageKind } from '../review/settings.js';
import { readSettingsSnapshot } from '../db/settings.js';
import { intInRange } from './args.js';
import { builder } from './builder.js';
import { READ_CACHE } from '../db/sharedReads.js';

const SeverityEnum = builder.enumType('AdviceSeverity', {
  description: 'How much a piece of settings advice matters.',
  values: {
    OK: { description: 'The setting follows the rule; nothing to do.' },
    INFO: { description: 'Worth knowing or a mild improvement, or the rule needs an input you did not pass (the reason says which).' },
    WARNING: { description: 'The setting works against performance or stability; change it.' },
  } satisfies Record<Severity, unknown>,
});

const StorageKindEnum = builder.enumType('StorageKind', {
  description: "The kind of disk the database's data lives on (SQL cannot see it).",
  values: {
    SSD: { description: 'Solid-state or NVMe drives, and cloud block storage (EBS, Persistent Disk), which behave alike.' },
    HDD: { description: 'Spinning disks.' },
  } satisfies Record<StorageKind, unknown>,
});

const SettingAdviceRef = builder.objectRef<SettingAdvice>('SettingAdvice').implement({
  description: "One server setting as pgscope's sessions see it, with advice and the reason for it.",
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Setting name, as in pg_settings and postgresql.conf.' }),
    value: t.exposeString('value', {
      description: 'Current value in the setting\'s unit (pg_settings.setting), e.g. "16384" for 16384 x 8kB.',
    }),
    unit: t.exposeString('unit', { nullable: true, description: 'Unit of value, e.g. "8kB", "kB", "ms"; null for unitless settings.' }),
    display: t.exposeString('display', { description: 'The value as SHOW prints it, e.g. "128MB".' }),
    valueBytes: t.expose('value_bytes', {
      type: 'BigInt',
      nullable: true,
      description: 'For memory settings, the value in bytes (value x unit); null otherwise.',
    }),
    valueMs: t.exposeFloat('value_ms', { nullable: true, description: 'For time settings, the value in milliseconds; null otherwise.' }),
    source: t.exposeString('source', {
      description: 'Where the value comes from: default, configuration file, command line, database, user...',
    }),
    requiresRestart: t.exposeBoolean('requires_restart', { description: 'Changing it takes a server restart (it is read at start only).' }),
    severity: t.expose('severity', { type: SeverityEnum, description: 'How much the advice matters.' }),
    reason: t.exposeString('reason', { description: 'The finding, the rule applied and its source, in full sentences.' }),
    recommended: t.exposeString('recommended', {
      nullable: true,
      description:
        'A value to set (ready for ALTER SYSTEM or postgresql.conf, e.g. "4GB"); null when nothing needs to change or it cannot be computed.',
    }),
    recommendedBytes: t.expose('recommended_bytes', {
      type: 'BigInt',
      nullable: true,
      description: 'recommended in bytes, for memory settings; null for other settings and when recommended is null.',
    }),
  }),
});

// Bounds that catch unit mistakes (kilobytes or gigabytes passed as bytes), not real machines.
const MIN_MEMORY_BYTES = 128n * 1024n ** 2n;
const MAX_MEMORY_BYTES = 64n * 1024n ** 4n;
/** PostgreSQL's own upper limit for max_connections. */
const MAX_CONNECTIONS = 262_143;

function machineMemory(value: bigint | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const bytes = value;
  if (bytes < MIN_MEMORY_BYTES || bytes > MAX_MEMORY_BYTES) {
    throw badInput(`machineMemoryBytes must be from ${MIN_MEMORY_BYTES} (128 MB) to ${MAX_MEMORY_BYTES} (64 TB) bytes, got ${bytes}.`, {
      argument: 'machineMemoryBytes',
    });
  }
  return Number(bytes);
}

builder.queryField('settingsReview', (t) =>
  t.field({
    extensions: READ_CACHE,
    type: [SettingAdviceRef],
    description:
      'Reviews the settings that matter most for performance (memory, planner costs, connections, autovacuum, statistics), ' +
      'as the current database sees them, each with advice and its reason. Memory and storage advice needs the inputs SQL cannot see.',
    args: {
      machineMemoryBytes: t.arg({
        type: 'BigInt',
        description: "The database machine's RAM in bytes, from 128 MB to 64 TB. Without it, memory advice is INFO and says so.",
      }),
      storage: t.arg({ type: StorageKindEnum, description: 'The kind of disk holding the data. Without it, disk advice is INFO.' }),
      poolConnections: t.arg.int({
        description: "Connections your applications' pools can open, summed (pgscope's own pool is counted already), 0 to 262143.",
      }),
    },
    resolve: async (_, args, ctx) => {
      const input = {
        machineMemoryBytes: machineMemory(args.machineMemoryBytes),
        storage: args.storage ?? null,
        poolConnections: args.poolConnections == null ? null : intInRange('poolConnections', args.poolConnections, 0, MAX_CONNECTIONS),
        pgscopePoolMax: ctx.config.pool.max,
      };
      return reviewSettings(await readSettingsSnapshot(ctx.db, await ctx.capabilities()), input);
    },
  }),
);
