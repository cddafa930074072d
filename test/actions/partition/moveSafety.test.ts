// Moving rows out of the DEFAULT partition must not look like deletes: the case (a table
// referencing the rows ON DELETE CASCADE, an AFTER DELETE audit trigger) with pgscope as the
// README's least-privilege role (refused: it may not silence them) and allowed to (GRANT SET ON
// PARAMETER, PostgreSQL 15+; a superuser before), foreign keys NO ACTION and to the DEFAULT
// partition itself, triggers and rules enabled ALWAYS, rules, publications. Each refusal changes nothing.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { executePartitionPlan } from '../../../src/actions/partition/create.js';
import { planPartitions } from '../../../src/actions/partition/plan.js';
import { detectCapabilities, type Capabilities } from '../../../src/db/capabilities.js';
import { Database, queryOnce } from '../../../src/db/pool.js';
import { isPgscopeError } from '../../../src/errors.js';
import { adminUrl, createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';
import { createRole, type TestRole } from '../../harness/roles.js';
import { quoteIdent } from '../../../src/sql/quote.js';

const GRANT_SET_ON_PARAMETER = inject('pgMajorVersion') >= 15;
const NOW = new Date('2024-01-15T00:00:00Z');

let target: TestDatabase;
let superuser: Database;
let owner: TestRole;
let pgscope: TestRole;
let asPgscope: Database;
let caps: Capabilities;

/**
 * Schema `name`: events partitioned by month (January 2024 and a DEFAULT partition holding 500 rows
 * of February), event_notes referencing each of them ON DELETE `onDelete`, and an audit table filled
 * by an AFTER DELETE row trigger on events. Owned by the owner role, as an application's tables are;
 * `extra` runs after, as the superuser.
 */
function scenario(name: string, onDelete = 'CASCADE', extra = ''): string {
  return /* SQL */ `
    CREATE SCHEMA ${name} AUTHORIZATION ${quoteIdent(owner.name)};
    SET ROLE ${quoteIdent(owner.name)};
    CREATE TABLE ${name}.events (id bigint NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
    CREATE TABLE ${name}.events_2024_01 PARTITION OF ${name}.events FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-02-01 00:00+00');
    CREATE TABLE ${name}.events_default PARTITION OF ${name}.events DEFAULT;
    CREATE TABLE ${name}.event_notes (event_id bigint, event_at timestamptz, body text,
      FOREIGN KEY (event_id, event_at) REFERENCES ${name}.events ON DELETE ${onDelete});
    CREATE TABLE ${name}.audit (op text, id bigint);
    CREATE FUNCTION ${name}.audit_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO ${name}.audit VALUES (TG_OP, OLD.id); RETURN OLD; END $$;
    CREATE TRIGGER events_audit AFTER DELETE ON ${name}.events FOR EACH ROW EXECUTE FUNCTION ${name}.audit_delete();
    INSERT INTO ${name}.events SELECT g, '2024-02-01 00:00+00'::timestamptz + g * interval '1 hour' FROM generate_series(1, 500) g;
    INSERT INTO ${name}.event_notes SELECT id, at, 'note ' || id FROM ${name}.events;
    RESET ROLE;
    ${extra}`;
}

interface State {
  february: string | null;
  waiting: number;
  notes: number;
  audited: number;
}

/** What a refused or a finished move left: the new partition (if any), rows of February in the default, notes, audit rows. */
async function state(name: string): Promise<State> {
  const [row] = await target.sql<State>(/* SQL */ `
    SELECT
      to_regclass('${name}.events_2024_02')::text AS february,
      (SELECT count(*)::int FROM ${name}.events_default WHERE at >= '2024-02-01 00:00+00') AS waiting,
      (SELECT count(*)::int FROM ${name}.event_notes) AS notes,
      (SELECT count(*)::int FROM ${name}.audit) AS audited`);
  return row!;
}

async function createPartitions(db: Database, schema: string) {
  return db.withClient(
    async (s) => executePartitionPlan(s, await planPartitions(s, caps, { schema, table: 'events', ahead: 1 }, { now: NOW })),
    {
      statementTimeoutMs: 0,
    },
  );
}

const refusal = (db: Database, schema: string) =>
  createPartitions(db, schema).then(
    () => null,
    (error: unknown) => error,
  );

beforeAll(async () => {
  target = await createTestDatabase('partition_move_safety');
  owner = await createRole('app_owner');
  pgscope = await createRole('pgscope', ['pg_monitor']);
  await target.sql(`GRANT ${quoteIdent(owner.name)} TO ${quoteIdent(pgscope.name)}`);
  superuser = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  asPgscope = new Database(pgscope.url(target.name), { applicationName: 'pgscope-test', pool: testConfig().pool });
  caps = await detectCapabilities(superuser);
});

afterAll(async () => {
  await Promise.all([superuser.end(), asPgscope.end()]);
  await target.drop();
  if (GRANT_SET_ON_PARAMETER)
    await queryOnce(adminUrl(), `REVOKE SET ON PARAMETER session_replication_role FROM ${quoteIdent(pgscope.name)}`);
  // one after the other: concurrent DROP ROLEs of members of one another fail ("tuple concurrently deleted")
  await pgscope.drop();
  await owner.drop();
});

describe('a foreign key ON DELETE CASCADE and an AFTER DELETE audit trigger on the moved rows', () => {
  it('refuses the least-privilege role (UNSAFE_ROW_MOVE, CANNOT_SUPPRESS) with the grant that allows it, and changes nothing', async () => {
    await target.sql(scenario('cascade'));
    const error = await refusal(asPgscope, 'cascade');
    expect(isPgscopeError(error, 'UNSAFE_ROW_MOVE') && error.extensions).toMatchObject({
      reason: 'CANNOT_SUPPRESS',
      reasons: ['CANNOT_SUPPRESS'],
    });
    const message = (error as Error).message;
    expect(message).toContain('Rows of [2024-02-01 00:00:00+00, 2024-03-01 00:00:00+00) wait in the DEFAULT partition of cascade.events');
    expect(message).toContain('foreign key event_notes_event_id_event_at_fkey of cascade.event_notes (ON DELETE CASCADE)');
    expect(message).toContain('row trigger events_audit on cascade.events_default (AFTER DELETE)');
    expect(message).toContain(
      GRANT_SET_ON_PARAMETER
        ? `GRANT SET ON PARAMETER session_replication_role TO ${quoteIdent(pgscope.name)};`
        : 'before PostgreSQL 15 only superusers may set session_replication_role',
    );
    expect(await state('cascade')).toEqual({ february: null, waiting: 500, notes: 500, audited: 0 });
  });

  it('moves the rows without firing either once the role may set session_replication_role (a superuser before PostgreSQL 15)', async () => {
    if (GRANT_SET_ON_PARAMETER)
      await queryOnce(adminUrl(), `GRANT SET ON PARAMETER session_replication_role TO ${quoteIdent(pgscope.name)}`);
    const db = GRANT_SET_ON_PARAMETER ? asPgscope : superuser;
    const planned = await db.withClient((s) => planPartitions(s, caps, { schema: 'cascade', table: 'events', ahead: 1 }, { now: NOW }));
    expect(planned.move!.safety).toEqual({
      suppress: true,
      suppressed: [
        'foreign key event_notes_event_id_event_at_fkey of cascade.event_notes (ON DELETE CASCADE)',
        'row trigger events_audit on cascade.events_default (AFTER DELETE)',
      ],
      refusal: null,
    });
    expect(planned.warnings.join('\n')).toContain(
      'The deletes from the DEFAULT partition do not act on foreign key event_notes_event_id_event_at_fkey of cascade.event_notes (ON DELETE CASCADE), ' +
        'row trigger events_audit on cascade.events_default (AFTER DELETE) (session_replication_role = replica in that transaction).',
    );
    const result = await createPartitions(db, 'cascade');
    expect(result.created.map((c) => [c.name, c.rowsMoved])).toEqual([['events_2024_02', 500]]);
    expect(result.sql).toContain('SET LOCAL session_replication_role = replica');
    expect(await state('cascade')).toEqual({ february: 'cascade.events_2024_02', waiting: 0, notes: 500, audited: 0 });
    // the notes still reference their events, now in the new partition; the trigger still works for real deletes
    const [joined] = await target.sql<{ n: number }>(
      'SELECT count(*)::int AS n FROM cascade.event_notes n JOIN cascade.events_2024_02 e ON e.id = n.event_id AND e.at = n.event_at',
    );
    expect(joined!.n).toBe(500);
    await target.sql('DELETE FROM cascade.events WHERE id = 1');
    expect(await state('cascade')).toEqual({ february: 'cascade.events_2024_02', waiting: 0, notes: 499, audited: 1 });
  });
});

describe('as a superuser (suppression allowed)', () => {
  it('moves rows a NO ACTION foreign key references (the delete would fail the move otherwise)', async () => {
    await target.sql(scenario('noaction', 'NO ACTION'));
    const result = await createPartitions(superuser, 'noaction');
    expect(result.created.map((c) => [c.name, c.rowsMoved])).toEqual([['events_2024_02', 500]]);
    expect(await state('noaction')).toEqual({ february: 'noaction.events_2024_02', waiting: 0, notes: 500, audited: 0 });
  });

  it('keeps a DO ALSO rule of the DEFAULT partition from running', async () => {
    await target.sql(
      scenario(
        'ruled',
        'CASCADE',
        "CREATE RULE audit_rule AS ON DELETE TO ruled.events_default DO ALSO INSERT INTO ruled.audit VALUES ('rule', old.id)",
      ),
    );
    const result = await createPartitions(superuser, 'ruled');
    expect(result.created.map((c) => c.rowsMoved)).toEqual([500]);
    expect(await state('ruled')).toEqual({ february: 'ruled.events_2024_02', waiting: 0, notes: 500, audited: 0 });
  });

  it.each([
    [
      'always_trigger',
      'TRIGGER',
      'ALTER TABLE always_trigger.events ENABLE ALWAYS TRIGGER events_audit',
      'row trigger events_audit on always_trigger.events_default (AFTER DELETE) is enabled ALWAYS',
    ],
    [
      'replica_trigger',
      'TRIGGER',
      'ALTER TABLE replica_trigger.events_default ENABLE REPLICA TRIGGER events_audit',
      'row trigger events_audit on replica_trigger.events_default (AFTER DELETE) is enabled REPLICA',
    ],
    [
      'always_rule',
      'RULE',
      "CREATE RULE audit_rule AS ON DELETE TO always_rule.events_default DO ALSO INSERT INTO always_rule.audit VALUES ('rule', old.id); " +
        'ALTER TABLE always_rule.events_default ENABLE ALWAYS RULE audit_rule',
      'rule audit_rule on always_rule.events_default (ON DELETE DO ALSO) is enabled ALWAYS',
    ],
    [
      'published',
      'PUBLICATION',
      'CREATE PUBLICATION published_events FOR TABLE published.events',
      'publication published_events publishes deletes of published.events: its subscribers would delete the moved rows',
    ],
  ])('refuses %s: it would act even in replica mode (%s), and changes nothing', async (schema, reason, extra, problem) => {
    await target.sql(scenario(schema, 'CASCADE', extra));
    const error = await refusal(superuser, schema);
    expect(isPgscopeError(error, 'UNSAFE_ROW_MOVE') && error.extensions.reason).toBe(reason);
    expect((error as Error).message).toContain(problem);
    expect(await state(schema)).toEqual({ february: null, waiting: 500, notes: 500, audited: 0 });
  });

  it('moves rows of a table whose publication does not publish deletes', async () => {
    await target.sql(
      scenario('inserts_only', 'CASCADE', "CREATE PUBLICATION inserts_only_events FOR TABLE inserts_only.events WITH (publish = 'insert')"),
    );
    const result = await createPartitions(superuser, 'inserts_only');
    expect(result.created.map((c) => c.rowsMoved)).toEqual([500]);
  });

  it('refuses a foreign key to the DEFAULT partition itself: the moved rows would leave what it references', async () => {
    await target.sql(
      scenario(
        'direct',
        'CASCADE',
        'CREATE TABLE direct.default_notes (event_id bigint, event_at timestamptz, FOREIGN KEY (event_id, event_at) REFERENCES direct.events_default)',
      ),
    );
    const error = await refusal(superuser, 'direct');
    expect(isPgscopeError(error, 'UNSAFE_ROW_MOVE') && error.extensions.reason).toBe('FOREIGN_KEY');
    expect((error as Error).message).toContain(
      'foreign key default_notes_event_id_event_at_fkey of direct.default_notes (ON DELETE NO ACTION) references the DEFAULT partition itself',
    );
    expect(await state('direct')).toEqual({ february: null, waiting: 500, notes: 500, audited: 0 });
  });

  it('leaves ranges without waiting rows alone: a trigger enabled ALWAYS does not stop them', async () => {
    await target.sql(
      scenario(
        'empty_range',
        'CASCADE',
        'ALTER TABLE empty_range.events ENABLE ALWAYS TRIGGER events_audit; DELETE FROM empty_range.events',
      ),
    );
    const result = await createPartitions(superuser, 'empty_range');
    expect(result.created.map((c) => [c.name, c.rowsMoved])).toEqual([['events_2024_02', 0]]);
  });
});
