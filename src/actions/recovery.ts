// Start-up recovery: a change that was RUNNING when pgscope stopped (SIGKILL, a crash, a lost
// connection) is marked INTERRUPTED, and the indexes it was creating that stayed INVALID are
// dropped: an INVALID index is never used by queries yet is maintained on every write. What was
// done is written into the entry, so the change log says what happened.
import type { Database } from '../db/pool.js';
import { lookupIndex, dropInterruptedBuilds, type InterruptedBuild } from './indexCleanup.js';
import { markInterruptedChanges, recordRecovery, runningElsewhere, type ChangeLogRow, type CreatedObject } from './changeLog.js';

/**
 * A DDL backend whose pgscope died notices within client_connection_check_interval (1 s, set on
 * DDL sessions from PostgreSQL 14) and cancels its statement; recovery waits that long for it.
 */
const ORPHAN_GRACE_MS = 3_000;
const POLL_MS = 250;

export interface RecoveryReport {
  change: ChangeLogRow;
  builds: InterruptedBuild[];
}

export interface RecoveryOptions {
  lockTimeoutMs: number;
  graceMs?: number;
}

/** Marks the changes that died with an earlier pgscope INTERRUPTED and drops the INVALID indexes they left. */
export async function recoverInterruptedChanges(database: Database, options: RecoveryOptions): Promise<RecoveryReport[]> {
  const interrupted = await markAfterGrace(database, options.graceMs ?? ORPHAN_GRACE_MS);
  const reports: RecoveryReport[] = [];
  for (const change of interrupted) {
    const indexes = change.creates.filter((created) => created.kind === 'index');
    if (indexes.length === 0) {
      reports.push({ change, builds: [] });
      continue;
    }
    const builds = await dropLeftovers(database, indexes, options.lockTimeoutMs);
    await recordRecovery(database, change.id, describe(builds), { recovery: builds });
    reports.push({ change, builds });
  }
  return reports;
}

/** Marks what is interrupted now, then again while sessions of dead clients wind down (up to `graceMs`). */
async function markAfterGrace(database: Database, graceMs: number): Promise<ChangeLogRow[]> {
  const marked = await markInterruptedChanges(database);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (await runningElsewhere(database)) > 0) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    marked.push(...(await markInterruptedChanges(database)));
  }
  return marked;
}

/**
 * The index itself, then its partitions' indexes. A leaf index is dropped even when valid if the
 * partitioned index it was built for did not become valid (the build did not finish): left alone,
 * it would be a stray duplicate on one partition. Once the parent is valid, nothing is touched.
 */
async function dropLeftovers(database: Database, created: CreatedObject[], lockTimeoutMs: number): Promise<InterruptedBuild[]> {
  const session = await database.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs });
  try {
    const candidates = [];
    for (const object of created) {
      const parent = object.leafOf ? await lookupIndex(session, object.leafOf.schema, object.leafOf.name) : null;
      candidates.push({ schema: object.schema, name: object.name, evenIfValid: Boolean(object.leafOf) && !parent?.valid });
    }
    return await dropInterruptedBuilds(session, candidates, { lockTimeoutMs });
  } finally {
    await session.close();
  }
}

const OUTCOME_WORDS: Record<InterruptedBuild['outcome'], string> = {
  DROPPED: 'dropped',
  ABSENT: 'not there (nothing to drop)',
  VALID: 'valid (the build had finished; kept)',
  BUILDING_ELSEWHERE: 'being built by another session (left alone)',
  LOCKED: 'locked by other sessions past the lock timeout (left for the next start; drop it by hand if it stays INVALID)',
};

function describe(builds: InterruptedBuild[]): string {
  const parts = builds.map((build) => `${build.schema}.${build.name}: ${OUTCOME_WORDS[build.outcome]}`);
  return `At the next start pgscope checked the indexes it was building: ${parts.join('; ')}.`;
}
