// A new partition must look to the application like the partitions its owner makes: PostgreSQL
// gives a new table to the role that creates it (pgscope's), and copies neither the parent's grants,
// its row-level security nor its replica identity to a partition. Left so, the owner's next
// `ALTER TABLE parent ADD COLUMN` fails ("must be owner of table ..."), a role granted SELECT on the
// parent cannot read the partition directly, and logical replication of its UPDATEs and DELETEs
// behaves differently from its siblings'. So each new partition gets, before it becomes visible:
// the parent's owner (its indexes follow), the parent's grants (grants.ts: the privileges
// the owner granted, to the same grantees, grant options included), RLS enabled and forced as on the
// parent with the parent's policies (re-created from their deparsed text and checked to deparse the
// same), and the parent's replica identity (USING INDEX: the partition's index attached to the
// parent's replica-identity index).
import type { Capabilities } from '../../db/capabilities.js';
import type { Queryable } from '../../db/pool.js';
import { ErrorCode, PgscopeError } from '../../errors.js';
import { makeObjectName } from '../index/names.js';
import type { PlannedStatement } from '../plan.js';
import { quoteIdent } from '../../sql/quote.js';

export interface ParentDress {
  parentOid: number;
  owner: string;
  /** pgscope's role is not the owner: the new table is given to the owner. */
  changeOwner: boolean;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  /** pg_class.relreplident: d default, f full, n nothing, i index. */
  replicaIdentity: 'd' | 'f' | 'n' | 'i';
  /** For replica identity USING INDEX: the parent's index, and what names the partition's index of it. */
  replicaIndex: { oid: number; columns: string[]; label: string } | null;
  policies: PolicyRow[];
  /** What is not copied (grants made by other roles than the owner, column privileges). */
  warnings: string[];
}

interface PolicyRow {
  name: string;
  permissive: boolean;
  command: 'r' | 'a' | 'w' | 'd' | '*';
  roles: string[];
  using_expr: string | null;
  check_expr: string | null;
}

interface DressRow {
  owner: string;
  change_owner: boolean;
  superuser: boolean;
  may_become_owner: boolean;
  owner_may_create: boolean;
  row_security: boolean;
  force_row_security: boolean;
  replica_identity: ParentDress['replicaIdentity'];
  replica_index_oid: number | null;
  replica_index_columns: string[] | null;
  replica_index_label: string | null;
  other_grantors: string[];
  column_privileges: boolean;
}

/** SET ROLE to the owner (what ALTER ... OWNER TO needs) is its own membership option from PostgreSQL 16. */
const membership = (caps: Capabilities) => (caps.serverVersionNum >= 160000 ? 'SET' : 'MEMBER');

const dressSql = (caps: Capabilities) => /* SQL */ `
  SELECT
    pg_get_userbyid(c.relowner) AS owner,
    pg_get_userbyid(c.relowner) <> current_user AS change_owner,
    (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) AS superuser,
    pg_has_role(current_user, c.relowner, '${membership(caps)}') AS may_become_owner,
    has_schema_privilege(c.relowner, $2::text, 'CREATE') AS owner_may_create,
    c.relrowsecurity AS row_security,
    c.relforcerowsecurity AS force_row_security,
    c.relreplident::text AS replica_identity,
    ri.indexrelid::int AS replica_index_oid,
    ARRAY(
      SELECT a.attname::text
      FROM pg_attribute a
      WHERE a.attrelid = ri.indexrelid
        AND a.attnum > 0
      ORDER BY a.attnum
    ) AS replica_index_columns,
    -- the suffix PostgreSQL's ChooseIndexName gives a partition's copy of the index
    CASE
      WHEN ri.indisprimary THEN 'pkey'
      WHEN ri_constraint.oid IS NOT NULL THEN 'key'
      ELSE 'idx'
    END AS replica_index_label,
    ARRAY(
      SELECT DISTINCT pg_get_userbyid(g.grantor)::text
      FROM aclexplode(c.relacl) g
      WHERE g.grantor <> c.relowner
      ORDER BY 1
    ) AS other_grantors,
    EXISTS (
      SELECT
      FROM pg_attribute a
      WHERE a.attrelid = c.oid
        AND a.attnum > 0
        AND NOT a.attisdropped
        AND a.attacl IS NOT NULL
    ) AS column_privileges
  FROM pg_class c
  LEFT JOIN pg_index ri
    ON ri.indrelid = c.oid
    AND ri.indisreplident
  LEFT JOIN pg_constraint ri_constraint
    ON ri_constraint.conindid = ri.indexrelid
    AND ri_constraint.conrelid = c.oid
  WHERE c.oid = $1`;

const POLICIES_SQL = /* SQL */ `
  SELECT
    pol.polname AS name,
    pol.polpermissive AS permissive,
    pol.polcmd::text AS command,
    ARRAY(
      SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r.oid)) END
      FROM unnest(pol.polroles) r(oid)
      ORDER BY 1
    ) AS roles,
    pg_get_expr(pol.polqual, pol.polrelid) AS using_expr,
    pg_get_expr(pol.polwithcheck, pol.polrelid) AS check_expr
  FROM pg_policy pol
  WHERE pol.polrelid = $1
  ORDER BY pol.polname`;

/**
 * What a new partition of `parentOid` must carry, read from the parent; when `creating`, refuses
 * (INSUFFICIENT_PRIVILEGE) if pgscope could create the partition but not hand it to the owner.
 */
export async function readParentDress(
  session: Queryable,
  caps: Capabilities,
  parentOid: number,
  partitionSchema: string,
  creating = true,
): Promise<ParentDress> {
  const [row] = await session.query<DressRow>(dressSql(caps), [parentOid, partitionSchema]);
  const dress = row!;
  if (creating && dress.change_owner && !dress.superuser) {
    const [role] = await session.query<{ role: string }>(/* SQL */ `SELECT current_user AS role`);
    if (!dress.may_become_owner) {
      throw new PgscopeError(
        ErrorCode.INSUFFICIENT_PRIVILEGE,
        `pgscope's role "${role!.role}" could create the partitions but not give them to the table's owner "${dress.owner}" ` +
          `(ALTER TABLE ... OWNER TO needs SET ROLE to it): GRANT ${quoteIdent(dress.owner)} TO ${quoteIdent(role!.role)} WITH SET TRUE;`,
        { owners: [dress.owner] },
      );
    }
    if (!dress.owner_may_create) {
      throw new PgscopeError(
        ErrorCode.INSUFFICIENT_PRIVILEGE,
        `The table's owner "${dress.owner}" lacks CREATE on schema ${partitionSchema}, which a table it owns there needs: ` +
          `GRANT CREATE ON SCHEMA ${quoteIdent(partitionSchema)} TO ${quoteIdent(dress.owner)};`,
        { owners: [dress.owner], schemas: [partitionSchema] },
      );
    }
  }
  const warnings: string[] = [];
  if (dress.other_grantors.length > 0) {
    warnings.push(
      `Grants on the parent made by ${dress.other_grantors.join(', ')} (not its owner) are not copied to the new partitions: ` +
        'only those roles can make them; grant them on the new partitions as those roles if direct access needs them.',
    );
  }
  if (dress.column_privileges)
    warnings.push('Column privileges of the parent are not copied to the new partitions (only table privileges are).');
  return {
    parentOid,
    owner: dress.owner,
    changeOwner: dress.change_owner,
    rowSecurity: dress.row_security,
    forceRowSecurity: dress.force_row_security,
    replicaIdentity: dress.replica_identity,
    replicaIndex:
      dress.replica_identity === 'i' && dress.replica_index_oid !== null
        ? { oid: dress.replica_index_oid, columns: dress.replica_index_columns ?? [], label: dress.replica_index_label ?? 'idx' }
        : null,
    policies: await session.query<PolicyRow>(POLICIES_SQL, [parentOid]),
    warnings,
  };
}

const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
const step = (sql: string, purpose: string): PlannedStatement => ({ sql, purpose, outsideTransaction: false });

export function ownerStatement(dress: ParentDress, table: { schema: string; name: string }): PlannedStatement[] {
  if (!dress.changeOwner) return [];
  return [
    step(
      `ALTER TABLE ${qualified(table)} OWNER TO ${quoteIdent(dress.owner)}`,
      `give ${table.schema}.${table.name} (and its indexes) to the parent's owner`,
    ),
  ];
}

const COMMANDS: Record<PolicyRow['command'], string> = { r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', '*': 'ALL' };

/** RLS switches and policies, as on the parent: run once the rows are in (FORCE would filter pgscope's own copy). */
export function rowSecurityStatements(dress: ParentDress, table: { schema: string; name: string }): PlannedStatement[] {
  const name = qualified(table);
  const statements: PlannedStatement[] = [];
  if (dress.rowSecurity) statements.push(step(`ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY`, 'row-level security, as on the parent'));
  if (dress.forceRowSecurity)
    statements.push(step(`ALTER TABLE ${name} FORCE ROW LEVEL SECURITY`, 'row-level security for the owner too, as on the parent'));
  for (const policy of dress.policies) {
    const using = policy.using_expr === null ? '' : ` USING (${policy.using_expr})`;
    const check = policy.check_expr === null ? '' : ` WITH CHECK (${policy.check_expr})`;
    statements.push(
      step(
        `CREATE POLICY ${quoteIdent(policy.name)} ON ${name} AS ${policy.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} ` +
          `FOR ${COMMANDS[policy.command]} TO ${policy.roles.join(', ')}${using}${check}`,
        `the parent's policy ${policy.name}`,
      ),
    );
  }
  return statements;
}

/** The replica identity statement; for USING INDEX, `indexName` is the partition's index of the parent's (predicted while planning). */
export function replicaIdentityStatement(
  dress: ParentDress,
  table: { schema: string; name: string },
  indexName?: string,
): PlannedStatement[] {
  const name = qualified(table);
  const purpose = "the parent's replica identity (logical replication of its UPDATEs and DELETEs)";
  switch (dress.replicaIdentity) {
    case 'f':
      return [step(`ALTER TABLE ${name} REPLICA IDENTITY FULL`, purpose)];
    case 'n':
      return [step(`ALTER TABLE ${name} REPLICA IDENTITY NOTHING`, purpose)];
    case 'i': {
      const index = indexName ?? makeObjectName(table.name, dress.replicaIndex?.columns ?? [], dress.replicaIndex?.label ?? 'idx');
      return [
        step(
          `ALTER TABLE ${name} REPLICA IDENTITY USING INDEX ${quoteIdent(index)}`,
          `${purpose}: the partition's index of the parent's replica-identity index`,
        ),
      ];
    }
    default:
      return [];
  }
}

/** The name of the partition's index attached to the parent's replica-identity index (after CREATE ... PARTITION OF or ATTACH). */
export async function attachedReplicaIndex(session: Queryable, dress: ParentDress, tableOid: number): Promise<string> {
  const [row] = await session.query<{ name: string }>(
    /* SQL */ `
    SELECT
      c.relname AS name
    FROM pg_inherits i
    JOIN pg_index x ON x.indexrelid = i.inhrelid
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = $1
      AND x.indrelid = $2`,
    [dress.replicaIndex!.oid, tableOid],
  );
  return row!.name;
}

/**
 * The copied policies deparse exactly as the parent's (same names, commands, roles, expressions):
 * otherwise the copy means something else, and the transaction is rolled back.
 */
export async function verifyPolicies(
  session: Queryable,
  dress: ParentDress,
  table: { schema: string; name: string },
  tableOid: number,
): Promise<void> {
  if (dress.policies.length === 0) return;
  const copied = await session.query<PolicyRow>(POLICIES_SQL, [tableOid]);
  if (JSON.stringify(copied) === JSON.stringify(dress.policies)) return;
  throw new PgscopeError(
    ErrorCode.UNSUPPORTED,
    `The parent's row-level security policies could not be copied exactly onto ${table.schema}.${table.name} (a policy reads differently there); ` +
      'nothing was changed. Create that partition by hand, then its policies.',
  );
}
