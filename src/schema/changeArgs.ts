// What every mutation shares: the dryRun and wait arguments (one meaning, one default) and the
// ChangePlan statements as GraphQL. Its payload is built in changePayload.ts.
import type { PlannedStatement } from '../actions/plan.js';
import { IDEMPOTENCY_KEY_HOURS } from '../actions/changeLog.js';
import { badInput } from '../errors.js';
import { builder } from './builder.js';

export const DRY_RUN_DESCRIPTION =
  'Default true: validate against the catalog and record the SQL it would run (status PLANNED), executing nothing. ' +
  'Pass dryRun: false to make the change.';

export const WAIT_DESCRIPTION =
  'false: return at once with the entry RUNNING and let the change finish in the background (a client that goes away ' +
  'does not cancel it); poll changeLogEntry(id) for its status. Default true.';

export const IDEMPOTENCY_KEY_DESCRIPTION =
  `Optional: the same key with the same arguments within ${IDEMPOTENCY_KEY_HOURS} hours returns the first request's change ` +
  '(waiting for it while it runs) instead of making it again, across pgscope replicas; with other arguments it is ' +
  'IDEMPOTENCY_KEY_REUSED. 1 to 128 letters, digits and . _ : -. Ignored by a dry run.';

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

/** A client's idempotency key, checked (it is stored and echoed, never spliced into SQL). */
export function idempotencyKeyArgument(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(value)) {
    throw badInput('idempotencyKey must be 1 to 128 letters, digits and . _ : - (a UUID fits).', { argument: 'idempotencyKey' });
  }
  return value;
}

export const PlannedStatementType = builder.objectRef<PlannedStatement>('PlannedStatement').implement({
  description: 'One statement a change runs, in order, with why.',
  fields: (t) => ({
    sql: t.exposeString('sql', { description: 'The SQL, every identifier checked against the catalog and quoted.' }),
    purpose: t.exposeString('purpose', { description: 'What it does, for a person.' }),
    outsideTransaction: t.exposeBoolean('outsideTransaction', {
      description: 'Runs outside any transaction block (CREATE/DROP INDEX CONCURRENTLY, DETACH ... CONCURRENTLY).',
    }),
  }),
});
