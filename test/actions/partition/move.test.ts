// The move path copies the DEFAULT partition's rows before it holds writes, so what the application
// does between the copy and the lock must end up exactly once in the new partition: rows that
// arrive, rows updated or deleted after they were copied (identical rows included), over and over.
// Another connection makes those changes when the executor announces its LOCK statement (the hook
// the change log uses), so each case happens at the same point every run. Also: what the change log
// hears about the standalone table, before it exists and right after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedObject } from '../../../src/actions/changeLog.js';
import { executePartitionPlan } from '../../../src/actions/partition/create.js';
import { planPartitions } from '../../../src/actions/partition/plan.js';
import type { PartitionLog } from '../../../src/actions/partition/run.js';
import { detectCapabilities, type Capabilities } from '../../../src/db/capabilities.js';
import { Database } from '../../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../../harness/database.js';

const NOW = new Date('2024-01-15T00:00:00Z');

let target: TestDatabase;
let db: Database;
let caps: Capabilities;

/** Schema `name`: events without a key (two rows are identical), January 2024 and a DEFAULT partition holding 100 rows of February and the twins. */
const scenario = (name: string) => /* SQL */ `
  CREATE SCHEMA ${name};
  CREATE TABLE ${name}.events (id bigint NOT NULL, at timestamptz NOT NULL, note text) PARTITION BY RANGE (at);
  CREATE TABLE ${name}.events_2024_01 PARTITION OF ${name}.events FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-02-01 00:00+00');
  CREATE TABLE ${name}.events_default PARTITION OF ${name}.events DEFAULT;
  INSERT INTO ${name}.events SELECT g, '2024-02-01 00:00+00'::timestamptz + g * interval '1 hour', 'copied' FROM generate_series(1, 100) g;
  INSERT INTO ${name}.events VALUES (0, '2024-02-15 00:00+00', 'twin'), (0, '2024-02-15 00:00+00', 'twin')`;

type Content = Array<{ id: string; at: string; note: string; part: string }>;

/** Every row of the table with the partition holding it, duplicates included. */
async function content(schema: string): Promise<Content> {
  return target.sql(
    `SET TimeZone = 'UTC'; SELECT id::text, at::text, note, tableoid::regclass::text AS part FROM ${schema}.events ORDER BY id, at, note, part`,
  );
}

/**
 * Runs createPartitions on `schema`, calling `atLock(k)` (k = 1, 2, ...) when the executor is about
 * to send its k-th LOCK, and `atCopy()` before its first copy.
 */
async function moveWith(
  schema: string,
  atLock: (attempt: number) => Promise<void>,
  events: Array<[string, unknown]> = [],
  atCopy = async () => {},
) {
  let locks = 0;
  let copies = 0;
  const log: PartitionLog = {
    async executed(sql) {
      events.push(['executed', sql]);
      if (sql.startsWith('LOCK TABLE')) await atLock((locks += 1));
      if (sql.startsWith('WITH source AS MATERIALIZED') && (copies += 1) === 1) await atCopy();
    },
    async created(object: CreatedObject) {
      events.push(['created', object]);
    },
  };
  return db.withClient(
    async (s) =>
      executePartitionPlan(s, await planPartitions(s, caps, { schema, table: 'events', ahead: 1 }, { now: NOW }), undefined, log),
    { statementTimeoutMs: 0 },
  );
}

/** The rows as they should be after the move: what the table held when the move locked it, all of February in the new partition. */
const moved = (rows: Content, schema: string) =>
  rows.map((row) => ({ ...row, part: row.at >= '2024-02-01' && row.at < '2024-03-01' ? `${schema}.events_2024_02` : row.part }));

beforeAll(async () => {
  target = await createTestDatabase('partition_move');
  db = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig({ PGSCOPE_STATEMENT_TIMEOUT_MS: '600000' }).pool });
  caps = await detectCapabilities(db);
});

afterAll(async () => {
  await db.end();
  await target.drop();
});

describe('the move path copies before it holds writes', () => {
  it('moves only the rows that arrived after the copy while writes wait', async () => {
    await target.sql(scenario('arrive'));
    let before: Content = [];
    const result = await moveWith('arrive', async () => {
      await target.sql(
        "INSERT INTO arrive.events VALUES (101, '2024-02-20 00:00+00', 'arrived'), (102, '2024-02-21 00:00+00', 'arrived'), (0, '2024-02-15 00:00+00', 'twin')",
      );
      before = await content('arrive');
    });
    expect(result.created.map((c) => [c.name, c.rowsMoved, c.rowsMovedUnderLock])).toEqual([['events_2024_02', 105, 3]]);
    expect(result.sql.filter((sql) => sql.startsWith('WITH source AS MATERIALIZED'))).toHaveLength(1);
    expect(await content('arrive')).toEqual(moved(before, 'arrive'));
  });

  it('redoes the copy when copied rows were updated or deleted before the lock: one twin goes, the other stays', async () => {
    await target.sql(scenario('change'));
    let before: Content = [];
    const result = await moveWith('change', async (attempt) => {
      if (attempt === 1)
        await target.sql(
          "UPDATE change.events SET note = 'updated' WHERE id = 5; DELETE FROM change.events WHERE ctid = (SELECT min(ctid) FROM change.events_default WHERE id = 0)",
        );
      before = await content('change');
    });
    expect(result.created.map((c) => [c.rowsMoved, c.rowsMovedUnderLock])).toEqual([[101, 0]]);
    expect(result.sql.filter((sql) => sql.startsWith('WITH source AS MATERIALIZED'))).toHaveLength(2);
    expect(result.sql).toContain('ROLLBACK');
    expect(before.filter((row) => row.id === '0' || row.id === '5').map((row) => row.note)).toEqual(['twin', 'updated']);
    expect(await content('change')).toEqual(moved(before, 'change'));
  });

  it('tells apart the rows of transactions still open during the copy: an insert committed after it arrives, a delete committed after it redoes the copy', async () => {
    await target.sql(scenario('open'));
    const other = new Database(target.url, { applicationName: 'pgscope-test-open', pool: testConfig().pool });
    let before: Content = [];
    try {
      const result = await other.withClient(async (open) => {
        const moving = moveWith(
          'open',
          async (attempt) => {
            if (attempt === 1) await open.query('COMMIT');
            before = await content('open');
          },
          [],
          async () => {
            await open.query('BEGIN');
            await open.query("INSERT INTO open.events VALUES (200, '2024-02-25 00:00+00', 'open insert')");
            await open.query('DELETE FROM open.events WHERE id = 7');
          },
        );
        return moving;
      });
      expect(result.created.map((c) => [c.rowsMoved, c.rowsMovedUnderLock])).toEqual([[102, 0]]);
      expect(result.sql.filter((sql) => sql.startsWith('WITH source AS MATERIALIZED'))).toHaveLength(2);
      expect(before.some((row) => row.id === '200') && !before.some((row) => row.id === '7')).toBe(true);
      expect(await content('open')).toEqual(moved(before, 'open'));
    } finally {
      await other.end();
    }
  });

  it('adds a row of a transaction still open during the copy, committed before the lock, under the lock', async () => {
    await target.sql(scenario('late'));
    const other = new Database(target.url, { applicationName: 'pgscope-test-late', pool: testConfig().pool });
    let before: Content = [];
    try {
      const result = await other.withClient(async (open) =>
        moveWith(
          'late',
          async (attempt) => {
            if (attempt === 1) await open.query('COMMIT');
            before = await content('late');
          },
          [],
          async () => {
            await open.query('BEGIN');
            await open.query("INSERT INTO late.events VALUES (300, '2024-02-26 00:00+00', 'late insert')");
          },
        ),
      );
      expect(result.created.map((c) => [c.rowsMoved, c.rowsMovedUnderLock])).toEqual([[103, 1]]);
      expect(await content('late')).toEqual(moved(before, 'late'));
    } finally {
      await other.end();
    }
  });

  it('moves every row while writes wait when copied rows keep changing, and still moves each once', async () => {
    await target.sql(scenario('churn'));
    let before: Content = [];
    const result = await moveWith('churn', async (attempt) => {
      if (attempt <= 2) await target.sql(`UPDATE churn.events SET note = 'churn ${attempt}' WHERE id = ${attempt}`);
      before = await content('churn');
    });
    expect(result.created.map((c) => [c.rowsMoved, c.rowsMovedUnderLock])).toEqual([[102, 102]]);
    expect(await content('churn')).toEqual(moved(before, 'churn'));
  });

  it("plans the copy, the parent's foreign keys and the short transaction, in order, with the expected write wait", async () => {
    await target.sql(
      scenario('planned') +
        `;
      CREATE TABLE planned.kinds (id bigint PRIMARY KEY);
      INSERT INTO planned.kinds SELECT generate_series(0, 100);
      ALTER TABLE planned.events ADD CONSTRAINT events_kind_fkey FOREIGN KEY (id) REFERENCES planned.kinds;
      CREATE INDEX events_recent_notes ON planned.events (at DESC, note) WHERE note IS NOT NULL`,
    );
    const p = await db.withClient((s) => planPartitions(s, caps, { schema: 'planned', table: 'events', ahead: 1 }, { now: NOW }));
    const [february] = p.partitions;
    // WRITE_WAIT_MODEL: 30 ms + 102 rows x 0.0035 ms
    expect(february!.writeWaitEstimateMs).toBe(30);
    const range = `"at" >= '2024-02-01 00:00:00+00'::timestamptz AND "at" < '2024-03-01 00:00:00+00'::timestamptz`;
    const aliased = range.replaceAll('"at"', 'd."at"');
    expect(february!.statements.map((s) => s.sql)).toEqual([
      'CREATE TABLE "planned"."events_2024_02" (LIKE "planned"."events" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING GENERATED)',
      `ALTER TABLE "planned"."events_2024_02" ADD CONSTRAINT "pgscope_partition_bounds" CHECK ("at" IS NOT NULL AND ${range})`,
      'CREATE TEMPORARY TABLE IF NOT EXISTS "pgscope_copied_versions" (copied_xmin xid NOT NULL)',
      'TRUNCATE "planned"."events_2024_02", pg_temp."pgscope_copied_versions"',
      `WITH source AS MATERIALIZED (SELECT d.xmin AS pgscope_xmin, d."id", d."at", d."note" FROM ONLY "planned"."events_default" d WHERE ${aliased}), ` +
        'copied AS (INSERT INTO "planned"."events_2024_02" ("id", "at", "note") SELECT s."id", s."at", s."note" FROM source s RETURNING 1), ' +
        'versions AS (INSERT INTO pg_temp."pgscope_copied_versions" (copied_xmin) SELECT DISTINCT s.pgscope_xmin FROM source s) ' +
        'SELECT count(*)::int8 AS rows_copied FROM copied',
      'ANALYZE pg_temp."pgscope_copied_versions"',
      'CREATE INDEX "events_2024_02_at_note_idx" ON "planned"."events_2024_02" USING btree (at DESC, note) WHERE (note IS NOT NULL)',
      'ALTER TABLE "planned"."events_2024_02" ADD CONSTRAINT "events_kind_fkey" FOREIGN KEY (id) REFERENCES planned.kinds(id) NOT VALID',
      'ALTER TABLE "planned"."events_2024_02" VALIDATE CONSTRAINT "events_kind_fkey"',
      'BEGIN',
      'LOCK TABLE "planned"."events" IN SHARE ROW EXCLUSIVE MODE',
      'WITH arrived AS (INSERT INTO "planned"."events_2024_02" ("id", "at", "note") SELECT d."id", d."at", d."note" FROM ONLY "planned"."events_default" d ' +
        `WHERE ${aliased} AND NOT EXISTS (SELECT FROM pg_temp."pgscope_copied_versions" c WHERE c.copied_xmin = d.xmin) RETURNING 1) ` +
        'SELECT (SELECT count(*) FROM arrived)::int8 AS rows_arrived, ' +
        `(SELECT count(*) FROM ONLY "planned"."events_default" d WHERE ${aliased} AND EXISTS (SELECT FROM pg_temp."pgscope_copied_versions" c WHERE c.copied_xmin = d.xmin))::int8 AS rows_still_copied`,
      `DELETE FROM ONLY "planned"."events_default" d WHERE ${aliased}`,
      `ALTER TABLE "planned"."events" ATTACH PARTITION "planned"."events_2024_02" FOR VALUES FROM ('2024-02-01 00:00:00+00') TO ('2024-03-01 00:00:00+00')`,
      'COMMIT',
      'ALTER TABLE "planned"."events_2024_02" DROP CONSTRAINT IF EXISTS "pgscope_partition_bounds"',
      'DROP TABLE IF EXISTS pg_temp."pgscope_copied_versions"',
    ]);
    // ATTACH adopts the foreign key validated and the index built before the lock: the partition has each once, as the parent's
    await db.withClient((s) => executePartitionPlan(s, p));
    const adopted = await target.sql<{ name: string; parent: string }>(/* SQL */ `
      SELECT conname::text AS name, (SELECT conname FROM pg_constraint WHERE oid = c.conparentid)::text AS parent
      FROM pg_constraint c WHERE conrelid = 'planned.events_2024_02'::regclass AND contype = 'f'
      UNION ALL
      SELECT x.indexrelid::regclass::text, (SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = x.indexrelid)
      FROM pg_index x WHERE x.indrelid = 'planned.events_2024_02'::regclass`);
    expect(adopted).toEqual([
      { name: 'events_kind_fkey', parent: 'events_kind_fkey' },
      { name: 'planned.events_2024_02_at_note_idx', parent: 'planned.events_recent_notes' },
    ]);
  });

  it('records the standalone table in the change log before creating it, and its oid right after', async () => {
    await target.sql(scenario('logged'));
    const events: Array<[string, unknown]> = [];
    await moveWith('logged', async () => undefined, events);
    const create = events.findIndex(
      ([kind, sql]) => kind === 'executed' && String(sql).startsWith('CREATE TABLE "logged"."events_2024_02"'),
    );
    const [oid] = await target.sql<{ oid: number }>("SELECT 'logged.events_2024_02'::regclass::oid::int AS oid");
    expect(events.slice(create - 1, create + 2)).toEqual([
      ['created', { kind: 'table', schema: 'logged', name: 'events_2024_02' }],
      ['executed', events[create]![1]],
      ['created', { kind: 'table', schema: 'logged', name: 'events_2024_02', oid: oid!.oid }],
    ]);
  });
});
