// Moving rows out of the DEFAULT partition deletes them there: to PostgreSQL, and to everything
// that listens for deletes, that is a delete like any other. Referencing foreign keys act on it
// (CASCADE deletes the children, SET NULL orphans them, NO ACTION fails the move), DELETE triggers
// and rules run (an audit trigger records rows nobody deleted), and logical replication ships it
// (a subscriber would lose the rows). This module reads what would act on the move before anything
// runs, and decides: nothing acts, or everything that acts can be kept from acting with
// `SET LOCAL session_replication_role = replica` in the move transaction (ORIGIN-enabled triggers
// and rules, the foreign keys' internal triggers included, stay silent there), or the move is refused.
// Replica mode does not stop logical decoding, and triggers or rules enabled ALWAYS (or REPLICA,
// which fire only in replica mode) fire anyway: those are refused. Rows go into the new table
// before it is attached, where no trigger, rule or foreign key of the parent exists yet, so the
// insert side fires nothing.
import type { Capabilities } from '../../db/capabilities.js';
import type { Queryable } from '../../db/pool.js';
import { ErrorCode, PgscopeError } from '../../errors.js';
import { quoteIdent } from '../../sql/quote.js';

export type MoveRefusalReason = 'FOREIGN_KEY' | 'TRIGGER' | 'RULE' | 'PUBLICATION' | 'REPLICATION_SLOT' | 'CANNOT_SUPPRESS';

export interface RowMoveSafety {
  /** `SET LOCAL session_replication_role = replica` in the move transaction. */
  suppress: boolean;
  /** What the move keeps from acting on the moved rows, in words; empty when nothing would act. */
  suppressed: string[];
  /** Why rows cannot move safely; null when they can. */
  refusal: { reasons: MoveRefusalReason[]; problems: string[]; remedies: string[] } | null;
}

interface ActorRow {
  kind: 'FOREIGN_KEY' | 'TRIGGER' | 'RULE';
  /** 'O' origin (the default), 'A' always, 'R' replica only, 'D' disabled (pg_trigger.tgenabled, pg_rewrite.ev_enabled). */
  enabled: 'O' | 'A' | 'R' | 'D';
  description: string;
  /** A foreign key that references the DEFAULT partition itself, not the parent: the moved rows leave what it references. */
  references_default_itself: boolean;
}

/**
 * Everything on the DEFAULT partition that a DELETE sets off: its DELETE triggers (row and
 * statement level, the parent's row triggers cloned onto it included; foreign keys' action triggers
 * named after their constraint) and its DELETE rules. Rules and statement triggers of the parent do
 * not run for a DELETE on the partition.
 */
const ACTORS_SQL = /* SQL */ `
  SELECT
    CASE WHEN fk.oid IS NOT NULL THEN 'FOREIGN_KEY' ELSE 'TRIGGER' END AS kind,
    t.tgenabled::text AS enabled,
    CASE
      WHEN fk.oid IS NOT NULL THEN
        format(
          'foreign key %s of %s (ON DELETE %s)',
          -- a partition's clone of the parent's foreign key is named after it, but not always the same
          quote_ident(coalesce(declared.conname, fk.conname)),
          fk.conrelid::regclass::text,
          CASE fk.confdeltype
            WHEN 'a' THEN 'NO ACTION'
            WHEN 'r' THEN 'RESTRICT'
            WHEN 'c' THEN 'CASCADE'
            WHEN 'n' THEN 'SET NULL'
            WHEN 'd' THEN 'SET DEFAULT'
          END
        )
      ELSE
        format(
          '%s trigger %s on %s (%s %s)',
          CASE WHEN t.tgtype & 1 = 1 THEN 'row' ELSE 'statement' END,
          quote_ident(t.tgname),
          t.tgrelid::regclass::text,
          CASE WHEN t.tgtype & 2 = 2 THEN 'BEFORE' WHEN t.tgtype & 64 = 64 THEN 'INSTEAD OF' ELSE 'AFTER' END,
          'DELETE'
        )
    END AS description,
    coalesce(fk.confrelid = t.tgrelid AND fk.conparentid = 0, false) AS references_default_itself
  FROM pg_trigger t
  LEFT JOIN pg_constraint fk
    ON fk.oid = t.tgconstraint
    AND fk.contype = 'f'
  LEFT JOIN pg_constraint declared
    ON declared.oid = fk.conparentid
  -- tgtype bit 3 (8): fires on DELETE
  WHERE t.tgrelid = $1
    AND t.tgtype & 8 = 8
  UNION ALL
  SELECT
    'RULE',
    r.ev_enabled::text,
    format('rule %s on %s (ON DELETE %s)', quote_ident(r.rulename), r.ev_class::regclass::text, CASE WHEN r.is_instead THEN 'DO INSTEAD' ELSE 'DO ALSO' END),
    false
  FROM pg_rewrite r
  -- ev_type '4': ON DELETE
  WHERE r.ev_class = $1
    AND r.ev_type = '4'
  ORDER BY 1, 3`;

/** Publications that publish deletes of the parent or of the DEFAULT partition (FOR ALL TABLES and FOR TABLES IN SCHEMA included). */
const PUBLICATIONS_SQL = /* SQL */ `
  SELECT
    p.pubname AS name
  FROM pg_publication p
  WHERE p.pubdelete
    AND (
      p.puballtables
      OR EXISTS (
        SELECT
        FROM pg_publication_tables pt
        WHERE pt.pubname = p.pubname
          AND (pt.schemaname, pt.tablename) IN (($1::name, $2::name), ($3::name, $4::name))
      )
    )
  ORDER BY p.pubname`;

/** Logical slots of this database whose plugin is not pgoutput: they decode every table, publications or not. */
const DECODING_SLOTS_SQL = /* SQL */ `
  SELECT
    s.slot_name AS name,
    s.plugin
  FROM pg_replication_slots s
  WHERE s.slot_type = 'logical'
    AND s.database = current_database()
    AND s.plugin <> 'pgoutput'
  ORDER BY s.slot_name`;

/** Whether this role may SET session_replication_role: superuser, or (PostgreSQL 15+) GRANT SET ON PARAMETER. */
function canSuppressSql(caps: Capabilities): string {
  const granted = caps.serverVersionNum >= 150000 ? `has_parameter_privilege('session_replication_role', 'SET')` : 'false';
  return /* SQL */ `
    SELECT
      current_user AS role,
      (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) OR ${granted} AS allowed`;
}

export interface MoveEnds {
  parent: { schema: string; name: string };
  defaultPartition: { schema: string; name: string; oid: number };
}

/** Reads what would act on rows deleted from the DEFAULT partition and decides how (or whether) they may move. */
export async function assessRowMove(session: Queryable, caps: Capabilities, ends: MoveEnds): Promise<RowMoveSafety> {
  const { parent, defaultPartition: fallback } = ends;
  const actors = await session.query<ActorRow>(ACTORS_SQL, [fallback.oid]);
  const publications = await session.query<{ name: string }>(PUBLICATIONS_SQL, [
    parent.schema,
    parent.name,
    fallback.schema,
    fallback.name,
  ]);
  const slots = await session.query<{ name: string; plugin: string }>(DECODING_SLOTS_SQL);
  const [privilege] = await session.query<{ role: string; allowed: boolean }>(canSuppressSql(caps));

  const active = actors.filter((a) => a.enabled !== 'D');
  const suppressible = active.filter((a) => a.enabled === 'O' && !a.references_default_itself);
  const suppress = suppressible.length > 0;
  const problems: Array<{ reason: MoveRefusalReason; text: string; remedy: string }> = [];
  for (const actor of active) {
    if (actor.references_default_itself) {
      problems.push({
        reason: 'FOREIGN_KEY',
        text: `${actor.description} references the DEFAULT partition itself: the moved rows would leave the table it points to`,
        remedy: 'make that foreign key reference the partitioned table instead',
      });
    } else if (actor.enabled === 'A' || (actor.enabled === 'R' && suppress)) {
      const when =
        actor.enabled === 'A' ? 'enabled ALWAYS' : 'enabled REPLICA (it fires in the replica mode that would keep the others quiet)';
      problems.push({
        reason: actor.kind,
        text: `${actor.description} is ${when}: it would act on every moved row`,
        remedy: 'let it fire in origin mode only (ALTER TABLE ... ENABLE TRIGGER / ENABLE RULE), or move the rows by hand',
      });
    }
  }
  for (const publication of publications) {
    problems.push({
      reason: 'PUBLICATION',
      text: `publication ${publication.name} publishes deletes of ${parent.schema}.${parent.name}: its subscribers would delete the moved rows`,
      remedy: 'move the rows with the subscribers in mind (by hand)',
    });
  }
  for (const slot of slots) {
    problems.push({
      reason: 'REPLICATION_SLOT',
      text: `logical replication slot ${slot.name} (${slot.plugin}) decodes every change of this database: its consumer would see the moved rows deleted`,
      remedy: 'move the rows with that consumer in mind (by hand)',
    });
  }
  if (suppress && !privilege!.allowed) {
    problems.push({
      reason: 'CANNOT_SUPPRESS',
      text: `pgscope's role "${privilege!.role}" may not SET session_replication_role, which keeps ${suppressible.map((a) => a.description).join(', ')} from acting on the moved rows`,
      remedy:
        caps.serverVersionNum >= 150000
          ? `as a superuser: GRANT SET ON PARAMETER session_replication_role TO ${quoteIdent(privilege!.role)}; (it lets that role silence triggers and foreign keys in its own sessions)`
          : 'run it with a superuser connection (before PostgreSQL 15 only superusers may set session_replication_role)',
    });
  }
  return {
    suppress,
    suppressed: [...new Set(suppressible.map((a) => a.description))],
    refusal:
      problems.length === 0
        ? null
        : {
            reasons: [...new Set(problems.map((p) => p.reason))],
            problems: problems.map((p) => p.text),
            remedies: [...new Set(problems.map((p) => p.remedy))],
          },
  };
}

/** UNSAFE_ROW_MOVE for `ranges` of `table`, saying what would act on the moved rows and what to do. */
export function unsafeRowMove(table: string, ranges: string[], refusal: NonNullable<RowMoveSafety['refusal']>): PgscopeError {
  return new PgscopeError(
    ErrorCode.UNSAFE_ROW_MOVE,
    `Rows of ${ranges.join(', ')} wait in the DEFAULT partition of ${table}, and moving them would look like deletes: ` +
      `${refusal.problems.join('; ')}. Nothing was changed. To go on: ${refusal.remedies.join('; or ')}.`,
    { reason: refusal.reasons[0], reasons: refusal.reasons },
  );
}
