// What every mutation shares: the dryRun and wait arguments (one meaning, one default) and the
// ChangePlan statements as GraphQL. Its payload is built in changePayload.ts.
import type { PlannedStatement } from '../actions/plan.js';
import { builder } from './builder.js';

export const DRY_RUN_DESCRIPTION =
  'Default true: validate against the catalog and record the SQL it would run (status PLANNED), executing nothing. ' +
  'Pass dryRun: false to make the change.';

export const WAIT_DESCRIPTION =
  'false: return at once with the entry RUNNING and let the change finish in the background (a client that goes away ' +
  'does not cancel it); poll changeLogEntry(id) for its status. Default true.';

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
